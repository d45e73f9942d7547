//! The living graph: a compressed (CSR) graph built straight from the Arrow
//! columns of the `edges` table, with decay computed when read.
//!
//! - **Decay**: effective weight = weight · 0.5^(age / half_life), age from
//!   `reinforced_at` to `now` and never negative (an edge reinforced "in the
//!   future" does not grow). A missing, zero or negative half-life means the
//!   edge type never decays.
//! - **PageRank** (entanglement): weighted by effective weight on the
//!   *symmetrized* graph (every edge counts in both directions: REM's edge
//!   directions are mostly structural, moment→resource, and centrality should
//!   not depend on them), damping 0.85, dangling mass spread uniformly,
//!   iterated until the L1 change is below `tol` (default 1e-6 / N … per node
//!   1e-6 in total) or `max_iter`.
//! - **Clustering**: the local clustering coefficient of each node on the
//!   undirected simple graph (self-loops and parallel edges ignored).
//! - **Entanglement** = PageRank · N (1.0 = average) × (1 + clustering).
//! - **Hot** = Σ over incident edges of weight · 0.5^(age / 24 h): momentum
//!   from recent reinforcement.
//! - **Traverse**: BFS from start nodes up to a depth, filtered by edge type,
//!   direction and minimum effective weight, with one shortest path per node.

use std::collections::{HashMap, VecDeque};

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::columns::{str_col, StrCol};
use crate::error::{CoreError, Result};

const US_PER_HOUR: f64 = 3_600_000_000.0;

/// Effective weight of one edge (see the module docs).
#[inline]
pub fn decay(weight: f64, reinforced_at_us: i64, now_us: i64, half_life_hours: Option<f64>) -> f64 {
    match half_life_hours {
        Some(h) if h > 0.0 && h.is_finite() => {
            let age_h = (now_us.saturating_sub(reinforced_at_us)).max(0) as f64 / US_PER_HOUR;
            weight * 0.5f64.powf(age_h / h)
        }
        _ => weight,
    }
}

/// Half-lives per edge type (hours); types not listed use `default`.
#[derive(Clone, Debug, Default)]
pub struct HalfLives {
    pub by_type: HashMap<String, Option<f64>>,
    pub default: Option<f64>,
}

impl HalfLives {
    pub fn get(&self, edge_type: &str) -> Option<f64> {
        match self.by_type.get(edge_type) {
            Some(h) => *h,
            None => self.default,
        }
    }
}

/// Directed adjacency: `out_off[v]..out_off[v+1]` index into `out_edge`
/// (edge ids); the same for in-edges.
pub struct Directed {
    pub out_off: Vec<u32>,
    pub out_edge: Vec<u32>,
    pub in_off: Vec<u32>,
    pub in_edge: Vec<u32>,
}

/// A graph in compressed sparse row form, out- and in-adjacency.
///
/// Nodes are identified by the dense integer keys the store keeps for every
/// node id (`nodes.key`, carried on edges as `source_key`/`target_key`): the
/// engine never sees, hashes or stores id strings. Keys that appear in the
/// input are renumbered 0..n in order of first appearance (a filtered load
/// holds only part of the nodes); `keys[i]` is the store key of node `i`.
pub struct Graph {
    pub keys: Vec<u32>,
    pub types: Vec<String>,
    // edges (one per input row)
    pub src: Vec<u32>,
    pub dst: Vec<u32>,
    pub etype: Vec<u16>,
    pub weight: Vec<f64>,
    /// per node: Σ incident edges' weight decayed with the short (hot) half-life
    pub node_hot: Vec<f64>,
    /// directed CSR (out and in), built on the first traversal: scoring does
    /// not need it, so a PageRank-only load neither pays for nor holds it
    directed: std::sync::OnceLock<Directed>,
    // symmetrized adjacency: every edge listed at both ends, with its weight
    // (f32: halves the bytes PageRank streams per iteration)
    pub sym_off: Vec<u64>,
    pub sym_nbr: Vec<u32>,
    pub sym_w: Vec<f32>,
    /// store key → node index (u32::MAX when absent)
    pub index: Vec<u32>,
}

fn i64_col(batch: &RecordBatch, name: &str) -> Result<Vec<i64>> {
    crate::columns::i64_values(batch, "edges", name)
}

use arrow::array::Array;

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

/// Split the nodes `0..n` into `parts` contiguous ranges holding about the
/// same number of adjacency entries (`off` is a CSR offset array), so a hub
/// does not leave one thread with most of the work.
fn balanced(off: &[u64], parts: usize) -> Vec<std::ops::Range<usize>> {
    let n = off.len().saturating_sub(1);
    let total = off.last().copied().unwrap_or(0);
    let parts = parts.max(1);
    let mut out = Vec::with_capacity(parts);
    let mut start = 0usize;
    for p in 1..=parts {
        let end = if p == parts {
            n
        } else {
            let goal = total * p as u64 / parts as u64;
            off.partition_point(|&x| x < goal).clamp(start, n)
        };
        if end > start {
            out.push(start..end);
        }
        start = end;
    }
    out
}

/// Split `0..n` into `parts` contiguous ranges.
fn ranges(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.max(1);
    let per = n.div_ceil(parts).max(1);
    (0..parts).map(|i| (i * per).min(n)..((i + 1) * per).min(n)).filter(|r| !r.is_empty()).collect()
}

fn threads_for(work: usize) -> usize {
    if work < 200_000 {
        1
    } else {
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).min(8)
    }
}

/// `-1 / half_life` in µs⁻¹ (0 = no decay), so decay is one `exp2`.
fn rate(half_life_hours: Option<f64>) -> f64 {
    match half_life_hours {
        Some(h) if h > 0.0 && h.is_finite() => -1.0 / (h * US_PER_HOUR),
        _ => 0.0,
    }
}

#[inline]
fn decay_rate(weight: f64, reinforced_at_us: i64, now_us: i64, rate: f64) -> f64 {
    if rate == 0.0 {
        return weight;
    }
    let age = (now_us.saturating_sub(reinforced_at_us)).max(0) as f64;
    weight * (age * rate).exp2()
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
            sks.push(crate::columns::u32_keys(b, "edges", "source_key")?);
            tks.push(crate::columns::u32_keys(b, "edges", "target_key")?);
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
        // edge types: a handful of distinct strings, matched against the last one seen first
        let mut types: Vec<String> = Vec::new();
        let mut etype: Vec<u16> = Vec::with_capacity(n_e);
        let mut wraw: Vec<f64> = Vec::with_capacity(n_e);
        let mut at: Vec<i64> = Vec::with_capacity(n_e);
        let mut last: u16 = 0;
        for b in batches {
            let ty: StrCol = str_col(b, "edges", "edge_type")?;
            for e in 0..b.num_rows() {
                let t = ty.get_or_empty(e);
                if !types.is_empty() && types[last as usize] == t {
                    etype.push(last);
                    continue;
                }
                let i = match types.iter().position(|x| x == t) {
                    Some(i) => i,
                    None => {
                        if types.len() >= u16::MAX as usize {
                            return Err(CoreError::InvalidOption("too many edge types (max 65535)".into()));
                        }
                        types.push(t.to_string());
                        types.len() - 1
                    }
                };
                last = i as u16;
                etype.push(last);
            }
            let w = crate::columns::f64_array(b, "edges", "weight")?;
            match w.nulls() {
                None => wraw.extend_from_slice(w.values()),
                Some(nb) => wraw.extend(w.values().iter().enumerate().map(|(i, &x)| if nb.is_null(i) { 0.0 } else { x })),
            }
            at.extend(i64_col(b, "reinforced_at")?);
        }
        let rates: Vec<f64> = types.iter().map(|t| rate(half_lives.get(t))).collect();
        let hot_rate = rate(Some(hot_half_life_hours));
        // decay, in parallel over contiguous edge ranges
        let mut weight = wraw;
        let mut hot_e = vec![0.0f32; n_e];
        let (at, etype_r) = (&at, &etype);
        let work = |r: std::ops::Range<usize>, wo: &mut [f64], ho: &mut [f32]| {
            for (k, e) in r.enumerate() {
                let raw = wo[k];
                let base = if raw.is_finite() && raw > 0.0 { raw } else { 0.0 };
                wo[k] = decay_rate(base, at[e], now_us, rates[etype_r[e] as usize]);
                ho[k] = decay_rate(base, at[e], now_us, hot_rate) as f32;
            }
        };
        let parts = ranges(n_e, threads_for(n_e));
        if parts.len() > 1 {
            std::thread::scope(|sc| {
                let (mut wr, mut hr): (&mut [f64], &mut [f32]) = (&mut weight, &mut hot_e);
                for r in parts.iter().cloned() {
                    let (wm, wt) = wr.split_at_mut(r.len());
                    let (hm, ht) = hr.split_at_mut(r.len());
                    wr = wt;
                    hr = ht;
                    sc.spawn(move || work(r, wm, hm));
                }
            });
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

    /// Weighted PageRank on the symmetrized graph. Returns (scores, iterations).
    pub fn pagerank(&self, damping: f64, tol: f64, max_iter: usize) -> (Vec<f64>, usize) {
        let n = self.n();
        if n == 0 {
            return (Vec::new(), 0);
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
                    for r in parts.iter().cloned() {
                        let (mine, tail) = rest.split_at_mut(r.len());
                        rest = tail;
                        sc.spawn(move || pull(r, mine));
                    }
                });
            } else {
                pull(0..n, &mut next);
            }
            let diff: f64 = pr.iter().zip(&next).map(|(a, b)| (a - b).abs()).sum();
            std::mem::swap(&mut pr, &mut next);
            if diff < tol {
                break;
            }
        }
        (pr, iters)
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
    pub fn clustering(&self) -> Vec<f64> {
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
            let partial: Vec<Vec<u64>> = std::thread::scope(|sc| {
                let hs: Vec<_> = parts.iter().cloned().map(|r| sc.spawn(move || count(r))).collect();
                hs.into_iter().map(|h| h.join().unwrap_or_default()).collect()
            });
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
        (0..n)
            .map(|v| {
                let d = deg(v) as f64;
                if d < 2.0 {
                    0.0
                } else {
                    2.0 * tri[v] as f64 / (d * (d - 1.0))
                }
            })
            .collect()
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

    /// Node index of a store key (None when the key has no edge in this graph).
    pub fn index_of(&self, key: u32) -> Option<u32> {
        self.index.get(key as usize).copied().filter(|&i| i != u32::MAX)
    }
}

/// Which way a traversal follows edges.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Out,
    In,
    Both,
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
    use arrow::array::StringArray;
    let m = r.node.len();
    let key: Vec<u32> = r.node.iter().map(|&v| g.keys[v as usize]).collect();
    let parent: Vec<Option<u32>> = r.parent.iter().map(|&p| (p != u32::MAX).then(|| g.keys[p as usize])).collect();
    let via_t: Vec<Option<&str>> = r
        .via
        .iter()
        .map(|&e| (e != u32::MAX).then(|| g.types[g.etype[e as usize] as usize].as_str()))
        .collect();
    let via_w: Vec<Option<f64>> = r.via.iter().map(|&e| (e != u32::MAX).then(|| g.weight[e as usize])).collect();
    debug_assert_eq!(m, via_w.len());
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

/// Scores per node as an Arrow batch: `key` (the store's node key), `pagerank`, `clustering`,
/// `weighted_degree`, `entanglement`, `hot`, `degree`.
pub fn scores(g: &Graph, damping: f64, tol: Option<f64>, max_iter: usize) -> Result<(RecordBatch, usize)> {
    let n = g.n();
    let tol = tol.unwrap_or(1e-6);
    let (pr, iters) = g.pagerank(damping, tol, max_iter);
    let cc = g.clustering();
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

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;

    #[test]
    fn decay_arithmetic() {
        assert!((decay(2.0, 0, 24 * H, Some(24.0)) - 1.0).abs() < 1e-12);
        assert!((decay(2.0, 0, 48 * H, Some(24.0)) - 0.5).abs() < 1e-12);
        // reinforced in the future: no growth
        assert_eq!(decay(2.0, 10 * H, 0, Some(24.0)), 2.0);
        // zero, negative, missing or non-finite half-life: no decay
        assert_eq!(decay(2.0, 0, 1000 * H, Some(0.0)), 2.0);
        assert_eq!(decay(2.0, 0, 1000 * H, Some(-5.0)), 2.0);
        assert_eq!(decay(2.0, 0, 1000 * H, None), 2.0);
        assert_eq!(decay(2.0, 0, 1000 * H, Some(f64::INFINITY)), 2.0);
        // extreme ages do not panic
        assert_eq!(decay(1.0, i64::MIN, i64::MAX, Some(1.0)), 0.0);
    }
}
