//! Thin pyo3 bindings for `rem-core`.
//!
//! Each function imports its Arrow inputs (zero-copy, through the Arrow C
//! Data Interface of arrow's `pyarrow` feature), releases the GIL, validates
//! them and calls the core, and converts the Arrow output back. The only
//! code here is conversion: options are checked by the core, and a core
//! error becomes the `rem.exceptions` class for its kind.

use arrow::array::Array;
use arrow::pyarrow::{FromPyArrowUnchecked, PyArrowType};
use arrow::record_batch::RecordBatch;
use pyo3::prelude::*;

use rem_core::graph::Direction;
use rem_core::pack::{pack, PackOptions};
use rem_core::{CoreError, ErrorKind};

pyo3::import_exception!(rem.exceptions, NativeOptionError);
pyo3::import_exception!(rem.exceptions, NativeValueError);
pyo3::import_exception!(rem.exceptions, NativeDataError);
pyo3::import_exception!(rem.exceptions, NativeInternalError);

/// The binding crate's one error type: a core error, raised as the
/// `rem.exceptions` class of its kind (all subclasses of `NativeError`).
#[derive(Debug)]
struct BindError(CoreError);

impl From<CoreError> for BindError {
    fn from(e: CoreError) -> Self {
        BindError(e)
    }
}

impl From<BindError> for PyErr {
    fn from(e: BindError) -> PyErr {
        let msg = e.0.to_string();
        match e.0.kind() {
            ErrorKind::Option => NativeOptionError::new_err(msg),
            ErrorKind::Value => NativeValueError::new_err(msg),
            ErrorKind::Data => NativeDataError::new_err(msg),
            ErrorKind::Internal => NativeInternalError::new_err(msg),
        }
    }
}

type Batch = PyArrowType<RecordBatch>;

/// A pyarrow RecordBatch imported zero-copy and not yet validated: the core's
/// fast check (structure + one UTF-8 pass per string column, instead of
/// arrow's per-value `validate_full`) runs after the GIL is released.
struct Unchecked(RecordBatch, &'static str);

fn import(value: &Bound<'_, PyAny>, table: &'static str) -> PyResult<Unchecked> {
    // SAFETY: no value is read before `Unchecked::validated` has checked the batch.
    let batch = unsafe { RecordBatch::from_pyarrow_bound_unchecked(value)? };
    Ok(Unchecked(batch, table))
}

impl Unchecked {
    fn validated(&self) -> Result<&RecordBatch, CoreError> {
        rem_core::columns::validate_batch(&self.0, self.1)?;
        Ok(&self.0)
    }
}

/// Segment and pack activity into chunks under a token budget.
///
/// :param resources: RecordBatch with ``id``, ``ts`` (int64 µs) and optional
///     ``name``, ``resource_type``, ``content``.
/// :param sessions: RecordBatch with ``id`` and optional ``name``.
/// :param messages: RecordBatch with ``id``, ``session_id``, ``ts`` and
///     optional ``role``, ``content``, ``tool_calls``.
/// :param gap_minutes: idle gap that ends a run or a segment.
/// :param max_input_tokens: token budget of one chunk (offline estimate).
/// :param max_item_chars: characters kept of one item's content.
/// :param tool_max_chars: characters kept of a tool output or tool-call arguments.
/// :param topic_window: texts compared on each side of a possible topic shift.
/// :param topic_min_depth: how deep a similarity valley must be to cut there.
/// :param conversation: ``(window, min_depth, min_items, cue_weight, cue_back, min_split_items)``
///     for cutting one conversation without a pause where its topic turns
///     (default: the values tuned on dialogue data, see ``rem_core::segment``).
/// :returns: ``(chunks, items, segments)`` as pyarrow RecordBatches.
/// :raises rem.exceptions.NativeError: on a missing or mistyped column, a null
///     id or time, or a budget too small for one item.
#[pyfunction]
#[pyo3(signature = (resources, sessions, messages, *, gap_minutes=30.0, max_input_tokens=6000, max_item_chars=1200, tool_max_chars=60, topic_segments=true, topic_window=5, topic_min_depth=0.55, conversation=None))]
#[allow(clippy::too_many_arguments)]
fn pack_activity(
    py: Python<'_>,
    resources: &Bound<'_, PyAny>,
    sessions: &Bound<'_, PyAny>,
    messages: &Bound<'_, PyAny>,
    gap_minutes: f64,
    max_input_tokens: usize,
    max_item_chars: usize,
    tool_max_chars: usize,
    topic_segments: bool,
    topic_window: usize,
    topic_min_depth: f64,
    conversation: Option<(usize, f64, usize, f64, usize, usize)>,
) -> PyResult<(Batch, Batch, Batch)> {
    let (r, s, m) = (import(resources, "resources")?, import(sessions, "sessions")?, import(messages, "messages")?);
    let out = py
        .detach(|| {
            let mut opts = PackOptions::new(gap_minutes, max_input_tokens, max_item_chars, tool_max_chars)?;
            match (&mut opts.refine, topic_segments) {
                (_, false) => opts.refine = None,
                (Some(r), true) => {
                    r.shift.window = topic_window;
                    r.shift.min_depth = topic_min_depth;
                    if let Some((window, min_depth, min_items, cue_weight, cue_back, min_split_items)) = conversation {
                        r.conversation = rem_core::cohesion::ShiftOptions { window, min_depth, min_items, cue_weight, cue_back };
                        r.min_split_items = min_split_items;
                    }
                }
                (None, true) => {}
            }
            pack(r.validated()?, s.validated()?, m.validated()?, &opts)
        })
        .map_err(BindError::from)?;
    Ok((PyArrowType(out.chunks), PyArrowType(out.items), PyArrowType(out.segments)))
}

/// Where the subject of a sequence of texts changes (lexical cohesion, the
/// segmenter dreams use inside long segments; see ``rem_core::cohesion``).
///
/// :param texts: the texts in order (turns of a conversation, items of a day).
/// :param window: texts compared on each side of a gap.
/// :param min_depth: how deep a similarity valley must be to be a shift.
/// :param min_items: texts each side of a shift keeps at least.
/// :param cue_weight: depth added at a question sharing no word with the texts before it.
/// :param cue_back: how many texts before a question are compared.
/// :returns: the indices ``i`` where a new topic starts (between text ``i-1`` and ``i``).
#[pyfunction]
#[pyo3(signature = (texts, *, window=5, min_depth=0.55, min_items=4, cue_weight=0.25, cue_back=2))]
fn topic_shifts(py: Python<'_>, texts: Vec<String>, window: usize, min_depth: f64, min_items: usize, cue_weight: f64,
                cue_back: usize) -> Vec<usize> {
    py.detach(|| {
        use rem_core::cohesion::{asks, bag, shifts, Bag, ShiftOptions};
        let bags: Vec<Bag> = texts.iter().map(|t| bag(t)).collect();
        let q: Vec<bool> = texts.iter().map(|t| asks(t)).collect();
        shifts(&bags, &q, &ShiftOptions { window, min_depth, min_items, cue_weight, cue_back })
    })
}

/// Estimated tokens of a string (see ``rem_core::tokens``: one per four ASCII
/// bytes plus one per non-ASCII character; an estimate, no vocabulary).
///
/// :param text: any string.
/// :returns: the estimate.
#[pyfunction]
fn estimate_tokens(text: &str) -> usize {
    rem_core::tokens::estimate(text)
}

fn half_lives(map: std::collections::HashMap<String, Option<f64>>, default: Option<f64>) -> rem_core::graph::HalfLives {
    rem_core::graph::HalfLives { by_type: map, default }
}

/// The living graph, built once from an edges batch and kept in memory
/// (CSR, both directions) for repeated scoring and traversal.
///
/// :param edges: RecordBatch or Table (read chunk by chunk) with ``source_key``, ``target_key`` (integer node
///     keys, ``nodes.key``), ``edge_type``, ``weight`` (float64) and
///     ``reinforced_at`` (int64 µs or timestamp[us]).
/// :param half_lives: hours per edge type; ``None`` = never decays.
/// :param default_half_life: hours for types not listed (``None`` = no decay).
/// :param now_us: the instant decay is computed at (epoch µs).
/// :param hot_half_life: hours of the short half-life behind the hot score.
/// :raises rem.exceptions.NativeError: on a missing or mistyped column.
#[pyclass(frozen, name = "Graph", module = "rem._rem")]
struct PyGraph {
    g: rem_core::graph::Graph,
}

#[pymethods]
impl PyGraph {
    #[new]
    #[pyo3(signature = (edges, half_lives, default_half_life, now_us, hot_half_life=24.0))]
    fn new(
        py: Python<'_>,
        edges: &Bound<'_, PyAny>,
        half_lives: std::collections::HashMap<String, Option<f64>>,
        default_half_life: Option<f64>,
        now_us: i64,
        hot_half_life: f64,
    ) -> PyResult<Self> {
        // a pyarrow Table is read chunk by chunk, in place (no combine_chunks copy)
        let batches: Vec<Unchecked> = if edges.hasattr("to_batches")? {
            let list = edges.call_method0("to_batches")?;
            let mut out = Vec::new();
            for b in list.try_iter()? {
                out.push(import(&b?, "edges")?);
            }
            out
        } else {
            vec![import(edges, "edges")?]
        };
        let hl = self::half_lives(half_lives, default_half_life);
        let g = py
            .detach(|| {
                let checked = batches.iter().map(|b| b.validated().cloned()).collect::<Result<Vec<_>, _>>()?;
                rem_core::graph::Graph::from_batches(&checked, &hl, now_us, hot_half_life)
            })
            .map_err(BindError::from)?;
        Ok(PyGraph { g })
    }

    /// Number of nodes.
    #[getter]
    fn node_count(&self) -> usize {
        self.g.n()
    }

    /// Number of edges.
    #[getter]
    fn edge_count(&self) -> usize {
        self.g.src.len()
    }

    /// Per-node scores: ``key``, ``pagerank``, ``clustering``, ``weighted_degree``,
    /// ``entanglement``, ``hot``, ``degree``; and the PageRank iterations used.
    ///
    /// :param damping: PageRank damping factor.
    /// :param tol: stop when the L1 change of the scores is below this.
    /// :param max_iter: iteration cap.
    #[pyo3(signature = (damping=0.85, tol=1e-6, max_iter=100))]
    fn scores(&self, py: Python<'_>, damping: f64, tol: f64, max_iter: usize) -> PyResult<(Batch, usize)> {
        let (b, it) = py
            .detach(|| rem_core::graph::scores(&self.g, damping, tol, max_iter))
            .map_err(BindError::from)?;
        Ok((PyArrowType(b), it))
    }

    /// Breadth-first traversal.
    ///
    /// :param starts: node keys to start from (keys without edges are ignored).
    /// :param depth: maximum number of hops.
    /// :param edge_types: follow only these types (all when empty).
    /// :param direction: ``"out"``, ``"in"`` or ``"both"``.
    /// :param min_weight: follow only edges whose effective weight is at least this.
    /// :returns: RecordBatch ``key``, ``depth``, ``parent_key``, ``edge_type``,
    ///     ``weight`` in BFS order (one shortest path per node via ``parent_key``).
    #[pyo3(signature = (starts, depth=2, edge_types=Vec::new(), direction="both", min_weight=0.0))]
    fn traverse(
        &self,
        py: Python<'_>,
        starts: Vec<u32>,
        depth: u32,
        edge_types: Vec<String>,
        direction: &str,
        min_weight: f64,
    ) -> PyResult<Batch> {
        let g = &self.g;
        let b = py
            .detach(|| {
                let dir = Direction::parse(direction)?;
                let st: Vec<u32> = starts.iter().filter_map(|&s| g.index_of(s)).collect();
                let r = rem_core::graph::traverse(g, &st, depth, &edge_types, dir, min_weight);
                rem_core::graph::reached_batch(g, &r)
            })
            .map_err(BindError::from)?;
        Ok(PyArrowType(b))
    }

    /// PageRank alone: (scores as a pyarrow float64 array in node order, iterations).
    #[pyo3(signature = (damping=0.85, tol=1e-6, max_iter=100))]
    fn pagerank(&self, py: Python<'_>, damping: f64, tol: f64, max_iter: usize) -> PyResult<(PyArrowType<arrow::array::ArrayData>, usize)> {
        let (pr, it) = py.detach(|| self.g.pagerank(damping, tol, max_iter)).map_err(BindError::from)?;
        Ok((PyArrowType(arrow::array::Float64Array::from(pr).to_data()), it))
    }

    /// Local clustering coefficients alone, as a pyarrow float64 array in node order.
    fn clustering(&self, py: Python<'_>) -> PyResult<PyArrowType<arrow::array::ArrayData>> {
        let cc = py.detach(|| self.g.clustering()).map_err(BindError::from)?;
        Ok(PyArrowType(arrow::array::Float64Array::from(cc).to_data()))
    }

    /// Number of weakly connected components.
    fn components(&self, py: Python<'_>) -> usize {
        py.detach(|| self.g.components())
    }

    /// Effective (decayed) weight of every edge, in input order, as a pyarrow float64 array.
    fn effective_weights(&self) -> PyArrowType<arrow::array::ArrayData> {
        PyArrowType(arrow::array::Float64Array::from(self.g.weight.clone()).to_data())
    }

    /// Store keys of the nodes, in node order (the order of ``pagerank()`` and ``clustering()``).
    fn keys(&self) -> PyArrowType<arrow::array::ArrayData> {
        PyArrowType(arrow::array::UInt32Array::from(self.g.keys.clone()).to_data())
    }
}

/// Plan an edge merge: deduplicate a batch of new edges and match it with the
/// stored edges that share its keys (see ``rem_core::merge`` for the rules).
///
/// :param batch: RecordBatch ``source_key``, ``target_key``, ``edge_type``,
///     ``weight`` (the increment) and optional ``reinforce`` (bool).
/// :param stored: RecordBatch ``rid``, ``source_key``, ``target_key``,
///     ``edge_type``, ``weight``, ``reinforced_at`` (µs), ``reinforcement_count``.
/// :param half_lives: hours per edge type; ``None`` = never decays.
/// :param default_half_life: hours for types not listed.
/// :param now_us: the instant of the merge (epoch µs).
/// :returns: ``(inserts, updates)`` RecordBatches.
/// :raises rem.exceptions.NativeError: on a missing or mistyped column, a
///     null key, or an increment that is not a finite number ≥ 0.
#[pyfunction]
fn merge_edges(
    py: Python<'_>,
    batch: &Bound<'_, PyAny>,
    stored: &Bound<'_, PyAny>,
    half_lives: std::collections::HashMap<String, Option<f64>>,
    default_half_life: Option<f64>,
    now_us: i64,
) -> PyResult<(Batch, Batch)> {
    let (b, s) = (import(batch, "batch")?, import(stored, "stored")?);
    let hl = self::half_lives(half_lives, default_half_life);
    let (i, u) = py
        .detach(|| rem_core::merge::merge(b.validated()?, s.validated()?, &hl, now_us))
        .map_err(BindError::from)?;
    Ok((PyArrowType(i), PyArrowType(u)))
}

/// Write a Graphviz DOT digraph (labels escaped, kinds styled, pen width by weight).
///
/// :param nodes: RecordBatch with ``id`` and optional ``label``, ``kind``, ``score``.
/// :param edges: RecordBatch with ``source_id``, ``target_id``, ``edge_type``, ``weight``.
/// :param top_n: keep only the N highest-score nodes and the edges among them.
/// :param name: the graph's name.
/// :returns: the DOT text.
#[pyfunction]
#[pyo3(signature = (nodes, edges, top_n=None, name="rem"))]
fn to_dot(py: Python<'_>, nodes: &Bound<'_, PyAny>, edges: &Bound<'_, PyAny>, top_n: Option<usize>, name: &str) -> PyResult<String> {
    let (n, e) = (import(nodes, "nodes")?, import(edges, "edges")?);
    Ok(py.detach(|| rem_core::dot::to_dot(n.validated()?, e.validated()?, top_n, name)).map_err(BindError::from)?)
}

/// Dense vectors for search, quantized to int8 in memory (see
/// ``rem_core::vectors``): append batches, then ask for the rows nearest a query.
///
/// :param dim: the vectors' dimension.
#[pyclass(name = "VectorIndex", module = "rem._rem")]
struct PyVectorIndex {
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

/// all-MiniLM-L6-v2 sentence embeddings on the CPU (see ``rem_core::minilm``).
///
/// :param weights: the bytes of ``model.safetensors``.
/// :param config: the text of ``config.json``.
/// :param tokenizer: the bytes of ``tokenizer.json``.
#[pyclass(frozen, name = "MiniLM", module = "rem._rem")]
struct PyMiniLm {
    m: rem_core::minilm::MiniLm,
}

#[pymethods]
impl PyMiniLm {
    #[new]
    fn new(py: Python<'_>, weights: Vec<u8>, config: String, tokenizer: Vec<u8>) -> PyResult<Self> {
        let m = py.detach(|| rem_core::minilm::MiniLm::load(weights, &config, &tokenizer)).map_err(BindError::from)?;
        Ok(PyMiniLm { m })
    }

    /// Unit-length embeddings of ``texts`` as float32 bytes, row after row (``len(texts) * dim`` values).
    fn embed<'py>(&self, py: Python<'py>, texts: Vec<String>) -> PyResult<Bound<'py, pyo3::types::PyBytes>> {
        let v = py.detach(|| self.m.embed(&texts)).map_err(BindError::from)?;
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        Ok(pyo3::types::PyBytes::new(py, &bytes))
    }

    #[getter]
    fn dim(&self) -> usize {
        self.m.dim()
    }
}

#[pymodule]
fn _rem(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGraph>()?;
    m.add_class::<PyVectorIndex>()?;
    m.add_class::<PyMiniLm>()?;
    m.add_function(wrap_pyfunction!(to_dot, m)?)?;
    m.add_function(wrap_pyfunction!(merge_edges, m)?)?;
    m.add_function(wrap_pyfunction!(pack_activity, m)?)?;
    m.add_function(wrap_pyfunction!(estimate_tokens, m)?)?;
    m.add_function(wrap_pyfunction!(topic_shifts, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
