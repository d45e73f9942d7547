//! Thin pyo3 bindings for `rem-core`, one module per family: [`error`] (core
//! errors as `rem.exceptions` classes; Arrow input imported zero-copy and
//! validated by the core), [`pack`], [`graph`] and [`search`].
//!
//! Each function imports its Arrow inputs (through the Arrow C Data
//! Interface of arrow's `pyarrow` feature), releases the GIL, calls the core
//! and converts the output back. Nothing else happens here: options are
//! checked and assembled by the core, and a core error becomes the
//! `rem.exceptions` class for its kind.

use pyo3::prelude::*;

mod error;
mod graph;
mod pack;
mod search;

#[pymodule]
fn _rem(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<graph::PyGraph>()?;
    m.add_class::<search::PyVectorIndex>()?;
    m.add_class::<search::PyStaticEmbedder>()?;
    m.add_class::<pack::PyCueCounter>()?;
    m.add_class::<pack::PyLiteralSet>()?;
    m.add_class::<pack::PyPhraseReader>()?;
    m.add_class::<pack::PyValence>()?;
    m.add_class::<pack::PyRuleSet>()?;
    m.add_class::<pack::PyEntityParser>()?;
    m.add_function(wrap_pyfunction!(graph::to_dot, m)?)?;
    m.add_function(wrap_pyfunction!(graph::merge_edges, m)?)?;
    m.add_function(wrap_pyfunction!(pack::pack_activity, m)?)?;
    m.add_function(wrap_pyfunction!(pack::estimate_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(pack::topic_shifts, m)?)?;
    m.add_function(wrap_pyfunction!(pack::rank_phrases, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
