//! Breadth-first traversal from start nodes up to a depth, filtered by edge
//! type, direction and minimum effective weight, with one shortest path per node.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::Graph;
use crate::error::{CoreError, Result};

/// Which way a traversal follows edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Out,
    In,
    Both,
}

impl Direction {
    /// `"out"`, `"in"` or `"both"`.
    ///
    /// # Errors
    /// Any other word ([`CoreError::InvalidOption`]).
    pub fn parse(s: &str) -> Result<Direction> {
        match s {
            "out" => Ok(Direction::Out),
            "in" => Ok(Direction::In),
            "both" => Ok(Direction::Both),
            other => Err(CoreError::InvalidOption(format!("direction must be out, in or both (got {other:?})"))),
        }
    }
}

/// BFS result: node, depth, parent node (u32::MAX for a start), edge used.
pub struct Reached {
    pub node: Vec<u32>,
    pub depth: Vec<u32>,
    pub parent: Vec<u32>,
    pub via: Vec<u32>,
}

/// Breadth-first traversal from `starts`, at most `max_depth` hops, following
/// only edges whose type is in `types` (all when empty) and whose effective
/// weight is at least `min_weight`.
pub fn traverse(g: &Graph, starts: &[u32], max_depth: u32, types: &[String], dir: Direction, min_weight: f64) -> Reached {
    let allowed: Vec<bool> = g.types.iter().map(|t| types.is_empty() || types.iter().any(|x| x == t)).collect();
    let dg = g.directed();
    let n = g.n();
    let mut seen = vec![false; n];
    let mut out = Reached { node: Vec::new(), depth: Vec::new(), parent: Vec::new(), via: Vec::new() };
    let mut q = VecDeque::new();
    for &s in starts {
        if (s as usize) < n && !seen[s as usize] {
            seen[s as usize] = true;
            out.node.push(s);
            out.depth.push(0);
            out.parent.push(u32::MAX);
            out.via.push(u32::MAX);
            q.push_back((s, 0u32));
        }
    }
    while let Some((v, d)) = q.pop_front() {
        if d >= max_depth {
            continue;
        }
        let mut visit = |e: u32, w: u32| {
            let ei = e as usize;
            if !allowed[g.etype[ei] as usize] || g.weight[ei] < min_weight || seen[w as usize] {
                return;
            }
            seen[w as usize] = true;
            out.node.push(w);
            out.depth.push(d + 1);
            out.parent.push(v);
            out.via.push(e);
            q.push_back((w, d + 1));
        };
        if dir != Direction::In {
            for &e in &dg.out_edge[dg.out_off[v as usize] as usize..dg.out_off[v as usize + 1] as usize] {
                visit(e, g.dst[e as usize]);
            }
        }
        if dir != Direction::Out {
            for &e in &dg.in_edge[dg.in_off[v as usize] as usize..dg.in_off[v as usize + 1] as usize] {
                visit(e, g.src[e as usize]);
            }
        }
    }
    out
}

/// A traversal result as an Arrow batch: `key`, `depth`, `parent_key` (null
/// for a start), `edge_type` and `weight` (effective weight of the edge
/// followed; null for a start), in BFS order.
pub fn reached_batch(g: &Graph, r: &Reached) -> Result<RecordBatch> {
    let key: Vec<u32> = r.node.iter().map(|&v| g.keys[v as usize]).collect();
    let parent: Vec<Option<u32>> = r.parent.iter().map(|&p| (p != u32::MAX).then(|| g.keys[p as usize])).collect();
    let via_t: Vec<Option<&str>> = r
        .via
        .iter()
        .map(|&e| (e != u32::MAX).then(|| g.types[g.etype[e as usize] as usize].as_str()))
        .collect();
    let via_w: Vec<Option<f64>> = r.via.iter().map(|&e| (e != u32::MAX).then(|| g.weight[e as usize])).collect();
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("key", DataType::UInt32, false),
            Field::new("depth", DataType::UInt32, false),
            Field::new("parent_key", DataType::UInt32, true),
            Field::new("edge_type", DataType::Utf8, true),
            Field::new("weight", DataType::Float64, true),
        ])),
        vec![
            Arc::new(UInt32Array::from(key)) as ArrayRef,
            Arc::new(UInt32Array::from(r.depth.clone())),
            Arc::new(UInt32Array::from(parent)),
            Arc::new(StringArray::from(via_t)),
            Arc::new(Float64Array::from(via_w)),
        ],
    )?)
}
