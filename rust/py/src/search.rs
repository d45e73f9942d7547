//! Search: the int8 vector index and WordLlama's static embeddings.

use pyo3::prelude::*;

use crate::error::{import, BindError};

/// Dense vectors for search, quantized to int8 in memory (see
/// ``rem_core::vectors``): append batches, then ask for the rows nearest a query.
///
/// :param dim: the vectors' dimension.
#[pyclass(name = "VectorIndex", module = "rem._rem")]
pub(crate) struct PyVectorIndex {
    ix: rem_core::vectors::VectorIndex,
}

#[pymethods]
impl PyVectorIndex {
    #[new]
    fn new(dim: usize) -> PyResult<Self> {
        Ok(PyVectorIndex { ix: rem_core::vectors::VectorIndex::new(dim).map_err(BindError::from)? })
    }

    /// Append the rows of a batch's ``column`` (a list of floats per row, ``dim`` each); returns how many.
    #[pyo3(signature = (batch, column="vector"))]
    fn add(&mut self, py: Python<'_>, batch: &Bound<'_, PyAny>, column: &str) -> PyResult<usize> {
        let b = import(batch, "vectors")?;
        let ix = &mut self.ix;
        Ok(py.detach(|| ix.add(b.validated()?, column)).map_err(BindError::from)?)
    }

    /// Append rows already quantized: ``codes`` (a list of ``dim`` int8 per row) times ``scale``.
    #[pyo3(signature = (batch, codes="vector", scale="scale"))]
    fn add_quantized(&mut self, py: Python<'_>, batch: &Bound<'_, PyAny>, codes: &str, scale: &str) -> PyResult<usize> {
        let b = import(batch, "vectors")?;
        let ix = &mut self.ix;
        Ok(py.detach(|| ix.add_quantized(b.validated()?, codes, scale)).map_err(BindError::from)?)
    }

    /// The ``k`` rows nearest ``query`` by cosine, best first: ``(rows, scores)``.
    /// ``allowed`` (one flag per row) skips the rows flagged false.
    #[pyo3(signature = (query, k, allowed=None))]
    fn search(&self, py: Python<'_>, query: Vec<f32>, k: usize, allowed: Option<Vec<bool>>) -> PyResult<(Vec<u32>, Vec<f32>)> {
        let ix = &self.ix;
        let hits = py.detach(|| ix.search(&query, k, allowed.as_deref())).map_err(BindError::from)?;
        Ok(hits.into_iter().unzip())
    }

    fn __len__(&self) -> usize {
        self.ix.len()
    }

    /// Bytes the quantized vectors hold.
    #[getter]
    fn memory(&self) -> usize {
        self.ix.memory()
    }

    #[getter]
    fn dim(&self) -> usize {
        self.ix.dim()
    }
}

/// Embedding rows as little-endian float32 bytes (numpy reads them with ``frombuffer(..., "<f4")``).
fn f32_bytes<'py>(py: Python<'py>, v: &[f32]) -> Bound<'py, pyo3::types::PyBytes> {
    let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
    pyo3::types::PyBytes::new(py, &bytes)
}

/// Static sentence embeddings: each text's tokens' vectors averaged, as WordLlama computes them (see
/// ``rem_core::static_embed``).
///
/// :param tokenizer: the bytes of the tokenizer's JSON.
/// :param table: the token vectors as float32 bytes, row after row.
/// :param dim: the vectors' dimension.
#[pyclass(frozen, name = "StaticEmbedder", module = "rem._rem")]
pub(crate) struct PyStaticEmbedder {
    m: rem_core::static_embed::StaticEmbedder,
}

#[pymethods]
impl PyStaticEmbedder {
    #[new]
    fn new(py: Python<'_>, tokenizer: Vec<u8>, table: Vec<u8>, dim: usize) -> PyResult<Self> {
        let m = py
            .detach(|| {
                if !table.len().is_multiple_of(4) {
                    return Err(rem_core::error::CoreError::Model("the token table is not float32 values".into()));
                }
                let values: Vec<f32> = table.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
                rem_core::static_embed::StaticEmbedder::load(&tokenizer, values, dim)
            })
            .map_err(BindError::from)?;
        Ok(PyStaticEmbedder { m })
    }

    /// The mean token vector of each text (not normalized) as float32 bytes, row after row
    /// (``len(texts) * dim`` values).
    fn embed<'py>(&self, py: Python<'py>, texts: Vec<String>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let v = py.detach(|| self.m.embed(&texts)).map_err(BindError::from)?;
        Ok(f32_bytes(py, &v))
    }

    #[getter]
    fn dim(&self) -> usize {
        self.m.dim()
    }
}

