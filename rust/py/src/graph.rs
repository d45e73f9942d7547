//! The living graph: built once from Arrow, scored and traversed in memory; the edge merge plan; DOT.

use arrow::array::Array;
use arrow::pyarrow::PyArrowType;
use pyo3::prelude::*;

use rem_core::graph::Direction;

use crate::error::{import, Batch, BindError, Unchecked};

fn half_lives(map: std::collections::HashMap<String, Option<f64>>, default: Option<f64>) -> rem_core::graph::HalfLives {
    rem_core::graph::HalfLives { by_type: map, default }
}

/// The living graph, built once from an edges batch and kept in memory for
/// repeated scoring and traversal (the symmetrized adjacency with the graph; the
/// directed out/in adjacency on the first traversal).
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
pub(crate) struct PyGraph {
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
        self.g.edge_count()
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
        PyArrowType(arrow::array::Float64Array::from(self.g.weights().to_vec()).to_data())
    }

    /// Store keys of the nodes, in node order (the order of ``pagerank()`` and ``clustering()``).
    fn keys(&self) -> PyArrowType<arrow::array::ArrayData> {
        PyArrowType(arrow::array::UInt32Array::from(self.g.keys().to_vec()).to_data())
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
pub(crate) fn merge_edges(
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
pub(crate) fn to_dot(py: Python<'_>, nodes: &Bound<'_, PyAny>, edges: &Bound<'_, PyAny>, top_n: Option<usize>, name: &str) -> PyResult<String> {
    let (n, e) = (import(nodes, "nodes")?, import(edges, "edges")?);
    Ok(py.detach(|| rem_core::dot::to_dot(n.validated()?, e.validated()?, top_n, name)).map_err(BindError::from)?)
}

