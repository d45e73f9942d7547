//! The living graph, built straight from the Arrow columns of the `edges`
//! table, with decay computed when read: a symmetrized adjacency in
//! compressed sparse row form (what PageRank and clustering stream) built
//! with the graph, and the directed out/in CSR built on the first traversal.
//!
//! - [`decay`]: effective weights from half-lives per edge type.
//! - [`centrality`]: PageRank, clustering, weighted degree, hot, components,
//!   and the per-node scores batch (entanglement = PageRank · N · (1 + clustering)).
//! - [`traverse`]: breadth-first traversal with edge-type, direction and
//!   weight filters, one shortest path per node.
//!
//! Nodes are identified by the dense integer keys the store keeps for every
//! node id (`nodes.key`, carried on edges as `source_key`/`target_key`): the
//! engine never sees, hashes or stores id strings.

pub mod centrality;
pub mod decay;
pub mod traverse;

pub use centrality::scores;
pub use decay::{decay, HalfLives};
pub use traverse::{reached_batch, traverse, Direction, Reached};

use arrow::array::Array;
use arrow::record_batch::RecordBatch;

use crate::columns::{f64_array, i64_values, str_col, u32_keys};
use crate::error::{CoreError, Result};
use crate::intern::Interner;
use crate::par::{join_all, ranges, threads_for};

/// Directed adjacency: `out_off[v]..out_off[v+1]` index into `out_edge`
/// (edge ids); the same for in-edges.
pub struct Directed {
    pub(crate) out_off: Vec<u32>,
    pub(crate) out_edge: Vec<u32>,
    pub(crate) in_off: Vec<u32>,
    pub(crate) in_edge: Vec<u32>,
}

/// A graph in compressed sparse row form, out- and in-adjacency.
///
/// Keys that appear in the input are renumbered 0..n in order of first
/// appearance (a filtered load holds only part of the nodes); `keys[i]` is
/// the store key of node `i`.
pub struct Graph {
    pub(crate) keys: Vec<u32>,
    pub(crate) types: Vec<String>,
    // edges (one per input row)
    pub(crate) src: Vec<u32>,
    pub(crate) dst: Vec<u32>,
    pub(crate) etype: Vec<u16>,
    /// effective (decayed) weight of each edge
    pub(crate) weight: Vec<f64>,
    /// per node: Σ incident edges' weight decayed with the short (hot) half-life
    pub(crate) node_hot: Vec<f64>,
    /// directed CSR (out and in), built on the first traversal: scoring does
    /// not need it, so a PageRank-only load neither pays for nor holds it
    directed: std::sync::OnceLock<Directed>,
    // symmetrized adjacency: every edge listed at both ends, with its weight
    // (f32: halves the bytes PageRank streams per iteration)
    pub(crate) sym_off: Vec<u64>,
    pub(crate) sym_nbr: Vec<u32>,
    pub(crate) sym_w: Vec<f32>,
    /// store key → node index (u32::MAX when absent)
    pub(crate) index: Vec<u32>,
}

fn csr(n: usize, keys: &[u32]) -> (Vec<u32>, Vec<u32>) {
    let mut off = vec![0u32; n + 1];
    for &k in keys {
        off[k as usize + 1] += 1;
    }
    for i in 0..n {
        off[i + 1] += off[i];
    }
    let mut pos = off.clone();
    let mut out = vec![0u32; keys.len()];
    for (e, &k) in keys.iter().enumerate() {
        let p = &mut pos[k as usize];
        out[*p as usize] = e as u32;
        *p += 1;
    }
    (off, out)
}

fn symmetric(n: usize, src: &[u32], dst: &[u32], w: &[f64]) -> (Vec<u64>, Vec<u32>, Vec<f32>) {
    let mut off = vec![0u64; n + 1];
    for e in 0..src.len() {
        off[src[e] as usize + 1] += 1;
        off[dst[e] as usize + 1] += 1;
    }
    for i in 0..n {
        off[i + 1] += off[i];
    }
    let mut pos = off.clone();
    let total = off[n] as usize;
    let mut nbr = vec![0u32; total];
    let mut ww = vec![0.0f32; total];
    for e in 0..src.len() {
        let (a, b) = (src[e] as usize, dst[e] as usize);
        let we = w[e] as f32;
        let pa = pos[a] as usize;
        nbr[pa] = dst[e];
        ww[pa] = we;
        pos[a] += 1;
        let pb = pos[b] as usize;
        nbr[pb] = src[e];
        ww[pb] = we;
        pos[b] += 1;
    }
    (off, nbr, ww)
}

impl Graph {
    /// Build from an edges batch: `source_key`, `target_key` (integer node
    /// keys), `edge_type` (string), `weight` (float64), `reinforced_at` (i64 µs
    /// or timestamp[us]).
    pub fn from_arrow(batch: &RecordBatch, half_lives: &HalfLives, now_us: i64, hot_half_life_hours: f64) -> Result<Graph> {
        Self::from_batches(std::slice::from_ref(batch), half_lives, now_us, hot_half_life_hours)
    }

    /// The same from several batches (a DuckDB result arrives in chunks of up
    /// to a million rows; reading them in place avoids copying them into one).
    pub fn from_batches(batches: &[RecordBatch], half_lives: &HalfLives, now_us: i64, hot_half_life_hours: f64) -> Result<Graph> {
        let n_e: usize = batches.iter().map(|b| b.num_rows()).sum();
        if n_e >= u32::MAX as usize {
            return Err(CoreError::InvalidOption("too many edges for one graph (max 4 billion)".into()));
        }
        let mut sks = Vec::with_capacity(batches.len());
        let mut tks = Vec::with_capacity(batches.len());
        for b in batches {
            sks.push(u32_keys(b, "edges", "source_key")?);
            tks.push(u32_keys(b, "edges", "target_key")?);
        }
        // store keys → dense node indices, in order of first appearance
        let max_key = sks.iter().chain(tks.iter()).flat_map(|c| c.iter().copied().max()).max().map_or(0, |m| m as usize + 1);
        let mut index = vec![u32::MAX; max_key];
        let mut keys: Vec<u32> = Vec::new();
        let mut src = Vec::with_capacity(n_e);
        let mut dst = Vec::with_capacity(n_e);
        for (sk, tk) in sks.iter().zip(&tks) {
            for e in 0..sk.len() {
                for (k, out) in [(sk[e], &mut src), (tk[e], &mut dst)] {
                    let slot = &mut index[k as usize];
                    if *slot == u32::MAX {
                        *slot = keys.len() as u32;
                        keys.push(k);
                    }
                    out.push(*slot);
                }
            }
        }
        drop((sks, tks));
        let mut types = Interner::new();
        let mut etype: Vec<u16> = Vec::with_capacity(n_e);
        let mut wraw: Vec<f64> = Vec::with_capacity(n_e);
        let mut at: Vec<i64> = Vec::with_capacity(n_e);
        for b in batches {
            let ty = str_col(b, "edges", "edge_type")?;
            for e in 0..b.num_rows() {
                etype.push(types.code(ty.get_or_empty(e))?);
            }
            let w = f64_array(b, "edges", "weight")?;
            match w.nulls() {
                None => wraw.extend_from_slice(w.values()),
                Some(nb) => wraw.extend(w.values().iter().enumerate().map(|(i, &x)| if nb.is_null(i) { 0.0 } else { x })),
            }
            at.extend(i64_values(b, "edges", "reinforced_at")?);
        }
        let types = types.into_names();
        let rates: Vec<f64> = types.iter().map(|t| decay::rate(half_lives.get(t))).collect();
        let hot_rate = decay::rate(Some(hot_half_life_hours));
        // decay, in parallel over contiguous edge ranges
        let mut weight = wraw;
        let mut hot_e = vec![0.0f32; n_e];
        let (at, etype_r) = (&at, &etype);
        let work = |r: std::ops::Range<usize>, wo: &mut [f64], ho: &mut [f32]| {
            for (k, e) in r.enumerate() {
                let raw = wo[k];
                let base = if raw.is_finite() && raw > 0.0 { raw } else { 0.0 };
                wo[k] = decay::decayed(base, at[e], now_us, rates[etype_r[e] as usize]);
                ho[k] = decay::decayed(base, at[e], now_us, hot_rate) as f32;
            }
        };
        let parts = ranges(n_e, threads_for(n_e));
        if parts.len() > 1 {
            std::thread::scope(|sc| {
                let (mut wr, mut hr): (&mut [f64], &mut [f32]) = (&mut weight, &mut hot_e);
                let mut hs = Vec::with_capacity(parts.len());
                for r in parts.iter().cloned() {
                    let (wm, wt) = wr.split_at_mut(r.len());
                    let (hm, ht) = hr.split_at_mut(r.len());
                    wr = wt;
                    hr = ht;
                    hs.push(sc.spawn(move || work(r, wm, hm)));
                }
                join_all(hs, "the decay step")
            })?;
        } else {
            work(0..n_e, &mut weight, &mut hot_e);
        }
        let n = keys.len();
        let mut node_hot = vec![0.0f64; n];
        for e in 0..n_e {
            node_hot[src[e] as usize] += hot_e[e] as f64;
            node_hot[dst[e] as usize] += hot_e[e] as f64;
        }
        drop(hot_e);
        let (sym_off, sym_nbr, sym_w) = symmetric(n, &src, &dst, &weight);
        Ok(Graph { keys, types, src, dst, etype, weight, node_hot, directed: std::sync::OnceLock::new(), sym_off, sym_nbr, sym_w, index })
    }

    /// Number of edges (one per input row).
    pub fn edge_count(&self) -> usize {
        self.src.len()
    }

    /// Effective (decayed) weight of every edge, in input order.
    pub fn weights(&self) -> &[f64] {
        &self.weight
    }

    /// Store keys of the nodes, in node order (`keys()[i]` is node `i`'s key).
    pub fn keys(&self) -> &[u32] {
        &self.keys
    }

    pub fn n(&self) -> usize {
        self.keys.len()
    }

    /// The directed CSR, built once on first use.
    pub fn directed(&self) -> &Directed {
        self.directed.get_or_init(|| {
            let n = self.n();
            let (out_off, out_edge) = csr(n, &self.src);
            let (in_off, in_edge) = csr(n, &self.dst);
            Directed { out_off, out_edge, in_off, in_edge }
        })
    }

    /// Node index of a store key (None when the key has no edge in this graph).
    pub fn index_of(&self, key: u32) -> Option<u32> {
        self.index.get(key as usize).copied().filter(|&i| i != u32::MAX)
    }
}
