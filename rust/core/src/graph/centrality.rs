//! How central and how hot each node is.
//!
//! - **PageRank**, weighted by effective weight on the *symmetrized* graph
//!   (every edge counts in both directions: REM's edge directions are mostly
//!   structural, moment→resource, and centrality should not depend on them),
//!   damping 0.85, dangling mass spread uniformly, iterated until the L1
//!   change of the whole score vector is below `tol` (REM uses 1e-6) or
//!   `max_iter` iterations.
//! - **Clustering**: the local clustering coefficient of each node on the
//!   undirected simple graph (self-loops and parallel edges ignored).
//! - **Entanglement** = PageRank · N (1.0 = average) × (1 + clustering).
//! - **Hot** = Σ over incident edges of weight · 0.5^(age / 24 h): momentum
//!   from recent reinforcement.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use super::Graph;
use crate::error::Result;
use crate::par::{balanced, join_all, threads_for};

impl Graph {
    /// Weighted PageRank on the symmetrized graph. Returns (scores, iterations).
    ///
    /// # Errors
    /// A worker thread failed ([`crate::CoreError::WorkerPanicked`]).
    pub fn pagerank(&self, damping: f64, tol: f64, max_iter: usize) -> Result<(Vec<f64>, usize)> {
        let n = self.n();
        if n == 0 {
            return Ok((Vec::new(), 0));
        }
        let strength: Vec<f64> = (0..n)
            .map(|v| self.sym_w[self.sym_off[v] as usize..self.sym_off[v + 1] as usize].iter().map(|&x| x as f64).sum())
            .collect();
        let inv_n = 1.0 / n as f64;
        let mut pr = vec![inv_n; n];
        let mut next = vec![0.0f64; n];
        // f32 shares: the gathered array is half the bytes (more of it stays in
        // cache); sums stay f64, so the scores keep ~1e-7 relative accuracy
        let mut share = vec![0.0f32; n];
        let parts = balanced(&self.sym_off, threads_for(self.sym_nbr.len()));
        let mut iters = 0;
        for it in 0..max_iter {
            iters = it + 1;
            let mut dangling = 0.0;
            for v in 0..n {
                if strength[v] > 0.0 {
                    share[v] = (pr[v] / strength[v]) as f32;
                } else {
                    share[v] = 0.0;
                    dangling += pr[v];
                }
            }
            let base = (1.0 - damping) * inv_n + damping * dangling * inv_n;
            let (off, nbr, w, sh) = (&self.sym_off, &self.sym_nbr, &self.sym_w, &share);
            let pull = |range: std::ops::Range<usize>, out: &mut [f64]| {
                for (k, v) in range.enumerate() {
                    let (s, e) = (off[v] as usize, off[v + 1] as usize);
                    let mut acc = 0.0f64;
                    for i in s..e {
                        acc += (sh[nbr[i] as usize] * w[i]) as f64;
                    }
                    out[k] = base + damping * acc;
                }
            };
            if parts.len() > 1 {
                std::thread::scope(|sc| {
                    let mut rest: &mut [f64] = &mut next;
                    let mut hs = Vec::with_capacity(parts.len());
                    for r in parts.iter().cloned() {
                        let (mine, tail) = rest.split_at_mut(r.len());
                        rest = tail;
                        hs.push(sc.spawn(move || pull(r, mine)));
                    }
                    join_all(hs, "PageRank")
                })?;
            } else {
                pull(0..n, &mut next);
            }
            let diff: f64 = pr.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
            std::mem::swap(&mut pr, &mut next);
            if diff < tol {
                break;
            }
        }
        Ok((pr, iters))
    }

    /// Sorted, deduplicated undirected neighbour lists (no self-loops).
    pub fn undirected_neighbors(&self) -> (Vec<u64>, Vec<u32>) {
        let n = self.n();
        let mut off = vec![0u64; n + 1];
        let mut adj: Vec<u32> = Vec::with_capacity(self.sym_nbr.len());
        let mut buf: Vec<u32> = Vec::new();
        for v in 0..n {
            buf.clear();
            buf.extend(
                self.sym_nbr[self.sym_off[v] as usize..self.sym_off[v + 1] as usize]
                    .iter()
                    .copied()
                    .filter(|&u| u as usize != v),
            );
            buf.sort_unstable();
            buf.dedup();
            adj.extend_from_slice(&buf);
            off[v + 1] = adj.len() as u64;
        }
        (off, adj)
    }

    /// Local clustering coefficient per node (undirected, unweighted), by the
    /// forward algorithm: edges oriented from lower to higher (degree, id)
    /// rank, each triangle found once at its lowest-ranked corner.
    ///
    /// # Errors
    /// A worker thread failed ([`crate::CoreError::WorkerPanicked`]).
    pub fn clustering(&self) -> Result<Vec<f64>> {
        let (off, adj) = self.undirected_neighbors();
        let n = self.n();
        let deg = |v: usize| (off[v + 1] - off[v]) as usize;
        let rank_lt = |a: u32, b: u32| (deg(a as usize), a) < (deg(b as usize), b);
        // forward lists (higher-ranked neighbours), sorted by node id
        let mut foff = vec![0u64; n + 1];
        let mut fwd: Vec<u32> = Vec::with_capacity(adj.len() / 2 + 1);
        for v in 0..n {
            fwd.extend(adj[off[v] as usize..off[v + 1] as usize].iter().copied().filter(|&u| rank_lt(v as u32, u)));
            foff[v + 1] = fwd.len() as u64;
        }
        let (foff, fwd) = (&foff, &fwd);
        let count = |range: std::ops::Range<usize>| -> Vec<u64> {
            let mut tri = vec![0u64; n];
            for u in range {
                let fu = &fwd[foff[u] as usize..foff[u + 1] as usize];
                for &v in fu {
                    let fv = &fwd[foff[v as usize] as usize..foff[v as usize + 1] as usize];
                    let (mut i, mut j) = (0usize, 0usize);
                    while i < fu.len() && j < fv.len() {
                        let (a, b) = (fu[i], fv[j]);
                        if a < b {
                            i += 1;
                        } else if b < a {
                            j += 1;
                        } else {
                            tri[u] += 1;
                            tri[v as usize] += 1;
                            tri[a as usize] += 1;
                            i += 1;
                            j += 1;
                        }
                    }
                }
            }
            tri
        };
        let parts = balanced(foff, threads_for(fwd.len()));
        let tri: Vec<u64> = if parts.len() > 1 {
            let partial = std::thread::scope(|sc| {
                let hs: Vec<_> = parts.iter().cloned().map(|r| sc.spawn(move || count(r))).collect();
                join_all(hs, "clustering")
            })?;
            let mut t = vec![0u64; n];
            for p in partial {
                for (a, b) in t.iter_mut().zip(p) {
                    *a += b;
                }
            }
            t
        } else {
            count(0..n)
        };
        Ok((0..n)
            .map(|v| {
                let d = deg(v) as f64;
                if d < 2.0 {
                    0.0
                } else {
                    2.0 * tri[v] as f64 / (d * (d - 1.0))
                }
            })
            .collect())
    }

    /// Weighted degree (sum of effective weights of incident edges) and hot
    /// score (same with the short half-life), per node.
    pub fn degree_and_hot(&self) -> (Vec<f64>, Vec<f64>) {
        let n = self.n();
        let mut deg = vec![0.0; n];
        for e in 0..self.src.len() {
            deg[self.src[e] as usize] += self.weight[e];
            deg[self.dst[e] as usize] += self.weight[e];
        }
        (deg, self.node_hot.clone())
    }

    /// Number of weakly connected components (isolated nodes do not exist:
    /// every node has an edge).
    pub fn components(&self) -> usize {
        let n = self.n();
        let mut parent: Vec<u32> = (0..n as u32).collect();
        fn find(p: &mut [u32], mut x: u32) -> u32 {
            while p[x as usize] != x {
                p[x as usize] = p[p[x as usize] as usize];
                x = p[x as usize];
            }
            x
        }
        let mut count = n;
        for e in 0..self.src.len() {
            let (a, b) = (find(&mut parent, self.src[e]), find(&mut parent, self.dst[e]));
            if a != b {
                parent[a as usize] = b;
                count -= 1;
            }
        }
        count
    }
}

/// Scores per node as an Arrow batch: `key` (the store's node key), `pagerank`, `clustering`,
/// `weighted_degree`, `entanglement`, `hot`, `degree`; and the PageRank iterations used.
pub fn scores(g: &Graph, damping: f64, tol: f64, max_iter: usize) -> Result<(RecordBatch, usize)> {
    let n = g.n();
    let (pr, iters) = g.pagerank(damping, tol, max_iter)?;
    let cc = g.clustering()?;
    let (deg, hot) = g.degree_and_hot();
    let mut plain_deg = vec![0u32; n];
    for e in 0..g.src.len() {
        plain_deg[g.src[e] as usize] += 1;
        plain_deg[g.dst[e] as usize] += 1;
    }
    let ent: Vec<f64> = (0..n).map(|v| pr[v] * n as f64 * (1.0 + cc[v])).collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("key", DataType::UInt32, false),
            Field::new("pagerank", DataType::Float64, false),
            Field::new("clustering", DataType::Float64, false),
            Field::new("weighted_degree", DataType::Float64, false),
            Field::new("entanglement", DataType::Float64, false),
            Field::new("hot", DataType::Float64, false),
            Field::new("degree", DataType::UInt32, false),
        ])),
        vec![
            Arc::new(UInt32Array::from(g.keys.clone())) as ArrayRef,
            Arc::new(Float64Array::from(pr)),
            Arc::new(Float64Array::from(cc)),
            Arc::new(Float64Array::from(deg)),
            Arc::new(Float64Array::from(ent)),
            Arc::new(Float64Array::from(hot)),
            Arc::new(UInt32Array::from(plain_deg)),
        ],
    )?;
    Ok((batch, iters))
}
