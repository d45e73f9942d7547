//! Refining time-gap segments by what their items say ([`crate::cohesion`]): concurrent sessions about
//! different things are separated, a long segment (or a conversation of many turns) is cut where its
//! subject changes, and neighbours about the same thing after a short break are joined.

use crate::cohesion::{shifts, Bag, ShiftOptions};

use super::{Point, Segment, Unit};

/// How [`refine`] reads the items.
#[derive(Clone, Copy, Debug)]
pub struct RefineOptions {
    /// Topic shifts inside a segment ([`crate::cohesion::shifts`]).
    pub shift: ShiftOptions,
    /// Segments at least this long (µs) are cut at a topic shift (with `shift`).
    pub min_split_us: i64,
    /// A shorter segment of one conversation (a single session's run of
    /// messages) with at least this many texts is cut too, with `conversation`:
    /// a chat of 10–40 turns without a pause changes subject as well.
    pub min_split_items: usize,
    /// Topic shifts inside such a conversation (tuned on dialogue data).
    pub conversation: ShiftOptions,
    /// Concurrent sessions whose words are at most this similar are separated.
    pub session_max_cosine: f64,
    /// … when each has at least this many messages in the segment.
    pub session_min_items: usize,
    /// Neighbours at most this far apart (µs) …
    pub join_gap_us: i64,
    /// … and at least this similar are joined (the same session resumed).
    pub join_min_cosine: f64,
}

impl Default for RefineOptions {
    fn default() -> Self {
        RefineOptions {
            shift: ShiftOptions::default(),
            min_split_us: 40 * 60_000_000,
            // chosen on SuperDialseg validation and TIAGE dev (bench/quality/tune_dialogues.py)
            min_split_items: 8,
            conversation: ShiftOptions { window: 3, min_depth: 0.8, min_items: 2, cue_weight: 1.0, cue_back: 1 },
            session_max_cosine: 0.15,
            session_min_items: 3,
            join_gap_us: 60 * 60_000_000,
            join_min_cosine: 0.6,
        }
    }
}

/// The items of a segment in time order: (ts, is_message, row).
fn items_of(seg: &Segment, resources: &[Point], messages: &[Point]) -> Vec<(i64, bool, usize)> {
    let mut out = Vec::new();
    for u in &seg.units {
        match u {
            Unit::Resource(i) => out.push((resources[*i].ts, false, *i)),
            Unit::Run { messages: ms, .. } => out.extend(ms.iter().map(|&j| (messages[j].ts, true, j))),
        }
    }
    out.sort_unstable();
    out
}

fn bounds(units: &[Unit], resources: &[Point], messages: &[Point]) -> (i64, i64) {
    let mut lo = i64::MAX;
    let mut hi = i64::MIN;
    let mut see = |t: i64| {
        lo = lo.min(t);
        hi = hi.max(t);
    };
    for u in units {
        match u {
            Unit::Resource(i) => see(resources[*i].ts),
            Unit::Run { messages: ms, .. } => ms.iter().for_each(|&j| see(messages[j].ts)),
        }
    }
    (lo, hi)
}

fn make(units: Vec<Unit>, resources: &[Point], messages: &[Point]) -> Segment {
    let (start, end) = bounds(&units, resources, messages);
    Segment { start, end, units }
}

/// Cut a segment's units at instant `t`: what happens before it, and from it on.
fn cut_at(units: &[Unit], t: i64, resources: &[Point], messages: &[Point]) -> (Vec<Unit>, Vec<Unit>) {
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for u in units {
        match u {
            Unit::Resource(i) => {
                if resources[*i].ts < t {
                    a.push(u.clone())
                } else {
                    b.push(u.clone())
                }
            }
            Unit::Run { session, messages: ms } => {
                let (x, y): (Vec<usize>, Vec<usize>) = ms.iter().partition(|&&j| messages[j].ts < t);
                if !x.is_empty() {
                    a.push(Unit::Run { session: *session, messages: x });
                }
                if !y.is_empty() {
                    b.push(Unit::Run { session: *session, messages: y });
                }
            }
        }
    }
    (a, b)
}

/// Concurrent sessions about different things → one segment each; the
/// segment's resources go with the session whose words they share most
/// (or the nearest in time). `None` when nothing separates.
fn separate_sessions(seg: &Segment, resources: &[Point], messages: &[Point], r_bags: &[Bag], m_bags: &[Bag],
                     o: &RefineOptions) -> Option<Vec<Segment>> {
    let mut sessions: Vec<usize> = Vec::new();
    let mut runs_of: Vec<Vec<usize>> = Vec::new();
    for (k, u) in seg.units.iter().enumerate() {
        if let Unit::Run { session, .. } = u {
            match sessions.iter().position(|s| s == session) {
                Some(p) => runs_of[p].push(k),
                None => {
                    sessions.push(*session);
                    runs_of.push(vec![k]);
                }
            }
        }
    }
    if sessions.len() < 2 {
        return None;
    }
    let msgs_of = |p: usize| -> Vec<usize> {
        runs_of[p].iter().flat_map(|&k| match &seg.units[k] {
            Unit::Run { messages: ms, .. } => ms.clone(),
            Unit::Resource(_) => Vec::new(),
        }).collect()
    };
    let bags: Vec<Bag> = (0..sessions.len()).map(|p| Bag::sum(msgs_of(p).iter().map(|&j| &m_bags[j]))).collect();
    let sizes: Vec<usize> = (0..sessions.len()).map(|p| msgs_of(p).len()).collect();
    // sessions that share their subject stay together (union-find on similarity)
    let mut parent: Vec<usize> = (0..sessions.len()).collect();
    fn find(p: &mut [usize], mut x: usize) -> usize {
        while p[x] != x {
            p[x] = p[p[x]];
            x = p[x];
        }
        x
    }
    // only sessions active at the same time can be interleaved: compare each with the
    // (at most 32) next ones that start before it ends
    let span = |p: usize| -> (i64, i64) {
        let ts: Vec<i64> = msgs_of(p).iter().map(|&j| messages[j].ts).collect();
        (ts.iter().copied().min().unwrap_or(0), ts.iter().copied().max().unwrap_or(0))
    };
    let spans: Vec<(i64, i64)> = (0..sessions.len()).map(span).collect();
    let mut by_start: Vec<usize> = (0..sessions.len()).collect();
    by_start.sort_by_key(|&p| spans[p]);
    let mut any_apart = false;
    for (x, &a) in by_start.iter().enumerate() {
        for &b in by_start[x + 1..].iter().take(32) {
            if spans[b].0 > spans[a].1 {
                break;
            }
            let big = sizes[a] >= o.session_min_items && sizes[b] >= o.session_min_items;
            if big && bags[a].cosine(&bags[b]) <= o.session_max_cosine {
                any_apart = true;
            } else {
                let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
                parent[ra] = rb;
            }
        }
    }
    if !any_apart {
        return None;
    }
    let roots: Vec<usize> = (0..sessions.len()).map(|p| find(&mut parent, p)).collect();
    let mut groups: Vec<usize> = roots.clone();
    groups.sort_unstable();
    groups.dedup();
    if groups.len() < 2 {
        return None;
    }
    let group_bag: Vec<Bag> = groups.iter().map(|g| Bag::sum((0..sessions.len()).filter(|&p| roots[p] == *g).map(|p| &bags[p]))).collect();
    let mut out: Vec<Vec<Unit>> = vec![Vec::new(); groups.len()];
    for u in &seg.units {
        match u {
            Unit::Run { session, .. } => {
                let p = sessions.iter().position(|s| s == session).unwrap_or(0);
                let gi = groups.iter().position(|g| *g == roots[p]).unwrap_or(0);
                out[gi].push(u.clone());
            }
            Unit::Resource(i) => {
                let sims: Vec<f64> = group_bag.iter().map(|b| b.cosine(&r_bags[*i])).collect();
                let best = sims.iter().cloned().fold(f64::MIN, f64::max);
                let gi = if best > 0.0 {
                    sims.iter().position(|&x| x == best).unwrap_or(0)
                } else {
                    // no shared words: the group active nearest in time
                    (0..groups.len())
                        .min_by_key(|&gi| {
                            let t = resources[*i].ts;
                            (0..sessions.len())
                                .filter(|&p| roots[p] == groups[gi])
                                .flat_map(&msgs_of)
                                .map(|j| (messages[j].ts - t).abs())
                                .min()
                                .unwrap_or(i64::MAX)
                        })
                        .unwrap_or(0)
                };
                out[gi].push(u.clone());
            }
        }
    }
    Some(out.into_iter().filter(|u| !u.is_empty()).map(|u| make(u, resources, messages)).collect())
}

/// Cut a long segment where its subject changes (see [`crate::cohesion::shifts`]).
fn split_topics(seg: Segment, resources: &[Point], messages: &[Point], r_bags: &[Bag], m_bags: &[Bag],
                asks_of: &[bool], o: &RefineOptions) -> Vec<Segment> {
    let long = seg.end.saturating_sub(seg.start) >= o.min_split_us;
    let one_conversation = seg.units.len() == 1 && matches!(seg.units[0], Unit::Run { .. });
    if !long && !one_conversation {
        return vec![seg];
    }
    let items: Vec<(i64, bool, usize)> = items_of(&seg, resources, messages)
        .into_iter()
        .filter(|&(_, m, k)| !(if m { &m_bags[k] } else { &r_bags[k] }).is_empty())
        .collect();
    if !long && items.len() < o.min_split_items {
        return vec![seg];
    }
    let bags: Vec<Bag> = items.iter().map(|&(_, m, k)| if m { m_bags[k].clone() } else { r_bags[k].clone() }).collect();
    let q: Vec<bool> = items.iter().map(|&(_, m, k)| m && asks_of.get(k).copied().unwrap_or(false)).collect();
    let cuts = shifts(&bags, &q, if long { &o.shift } else { &o.conversation });
    if cuts.is_empty() {
        return vec![seg];
    }
    let mut out = Vec::new();
    let mut rest = seg.units;
    for &c in cuts.iter() {
        let t = items[c].0;
        if t <= items[c - 1].0 {
            continue; // the same instant on both sides: no cut there
        }
        let (a, b) = cut_at(&rest, t, resources, messages);
        if !a.is_empty() {
            out.push(make(a, resources, messages));
        }
        rest = b;
    }
    if !rest.is_empty() {
        out.push(make(rest, resources, messages));
    }
    out
}

fn seg_bag(seg: &Segment, r_bags: &[Bag], m_bags: &[Bag]) -> Bag {
    Bag::sum(seg.units.iter().flat_map(|u| -> Vec<&Bag> {
        match u {
            Unit::Resource(i) => vec![&r_bags[*i]],
            Unit::Run { messages: ms, .. } => ms.iter().map(|&j| &m_bags[j]).collect(),
        }
    }))
}

fn sessions_of(seg: &Segment) -> Vec<usize> {
    let mut s: Vec<usize> = seg.units.iter().filter_map(|u| match u {
        Unit::Run { session, .. } => Some(*session),
        Unit::Resource(_) => None,
    }).collect();
    s.sort_unstable();
    s.dedup();
    s
}

/// Refine time-gap segments by what their items say (see the module docs).
/// `r_bags[i]` / `m_bags[j]` are the bags of terms of resource `i` and message `j`
/// (empty for texts that should not count, such as tool outputs);
/// `m_asks[j]` whether message `j` asks a question (empty: no cues).
pub fn refine(segs: Vec<Segment>, resources: &[Point], messages: &[Point], r_bags: &[Bag], m_bags: &[Bag],
              m_asks: &[bool], o: &RefineOptions) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::with_capacity(segs.len());
    for seg in segs {
        let parts = separate_sessions(&seg, resources, messages, r_bags, m_bags, o).unwrap_or_else(|| vec![seg]);
        for p in parts {
            out.extend(split_topics(p, resources, messages, r_bags, m_bags, m_asks, o));
        }
    }
    out.sort_by(|a, b| a.start.cmp(&b.start).then(a.end.cmp(&b.end)));
    // join a session resumed after a short break on the same subject
    let mut joined: Vec<Segment> = Vec::with_capacity(out.len());
    for seg in out {
        if let Some(prev) = joined.last_mut() {
            let gap = seg.start.saturating_sub(prev.end);
            let shared = sessions_of(prev).iter().any(|s| sessions_of(&seg).contains(s));
            if gap > 0 && gap <= o.join_gap_us && shared
                && seg_bag(prev, r_bags, m_bags).cosine(&seg_bag(&seg, r_bags, m_bags)) >= o.join_min_cosine
            {
                prev.end = prev.end.max(seg.end);
                prev.units.extend(seg.units);
                continue;
            }
        }
        joined.push(seg);
    }
    joined
}
