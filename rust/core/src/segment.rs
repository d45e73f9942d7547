//! Deterministic segmentation of activity.
//!
//! Activity is two kinds of timestamped items: resources (documents, notes,
//! commits, …), each a point in time, and messages, which belong to a
//! session. The rules, in order:
//!
//! 1. A session's messages, in time order, are cut into *runs* wherever two
//!    consecutive messages are more than `gap` apart.
//! 2. Runs and resources become *units*, sorted by start time (ties: runs
//!    before resources, then by id) — a run is never split further.
//! 3. Units are swept in that order. A unit starts a new segment when it
//!    begins more than `gap` after the current segment's end (an idle gap),
//!    or when it is a session run that begins after every run already in the
//!    segment has ended (a session boundary). Otherwise it joins the segment:
//!    overlapping chats stay together and resources touched during a chat
//!    stay with it.
//!
//! The same input always yields the same segments.
//!
//! [`refine`] then looks inside the segments at what the items say
//! ([`crate::cohesion`]): sessions running at the same time about different
//! things become segments of their own (two projects interleaved), a long
//! segment is cut where its subject changes with no idle gap, and two
//! neighbouring segments about the same thing with only a short break
//! between them are joined.

use std::cmp::Ordering;

use crate::cohesion::{shifts, Bag, ShiftOptions};


/// One timestamped item with a stable tie-breaking key (its id).
#[derive(Clone, Copy, Debug)]
pub struct Point<'a> {
    pub ts: i64,
    pub key: &'a str,
}

/// A unit of a segment: one resource row, or one run of a session's
/// messages (message rows in time order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unit {
    Resource(usize),
    Run { session: usize, messages: Vec<usize> },
}

/// A segment: its time bounds and its units in order.
#[derive(Clone, Debug)]
pub struct Segment {
    pub start: i64,
    pub end: i64,
    pub units: Vec<Unit>,
}

fn by_time(a: &Point, b: &Point) -> Ordering {
    a.ts.cmp(&b.ts).then_with(|| a.key.cmp(b.key))
}

/// Cut activity into segments.
///
/// - `resources[i]`: time and id of resource row `i`.
/// - `messages[j]`, `message_session[j]`: time, id and session index of
///   message row `j`; `session_keys[s]` is session `s`'s id.
/// - `gap_us`: the idle gap, in microseconds, that ends a run or a segment.
pub fn segment(
    resources: &[Point],
    messages: &[Point],
    message_session: &[usize],
    session_keys: &[&str],
    gap_us: i64,
) -> Vec<Segment> {
    // 1. runs per session
    let mut per_session: Vec<Vec<usize>> = vec![Vec::new(); session_keys.len()];
    for (j, &s) in message_session.iter().enumerate() {
        if let Some(v) = per_session.get_mut(s) {
            v.push(j);
        }
    }
    struct U<'a> {
        start: i64,
        end: i64,
        order: u8,
        key: &'a str,
        unit: Unit,
    }
    let mut units: Vec<U> = Vec::with_capacity(resources.len() + session_keys.len());
    for (s, msgs) in per_session.iter_mut().enumerate() {
        if msgs.is_empty() {
            continue;
        }
        msgs.sort_by(|&a, &b| by_time(&messages[a], &messages[b]));
        let mut run: Vec<usize> = Vec::new();
        let mut last_ts = i64::MIN;
        for &j in msgs.iter() {
            let ts = messages[j].ts;
            if !run.is_empty() && ts.saturating_sub(last_ts) > gap_us {
                let first = messages[run[0]].ts;
                units.push(U {
                    start: first,
                    end: last_ts,
                    order: 0,
                    key: session_keys[s],
                    unit: Unit::Run { session: s, messages: std::mem::take(&mut run) },
                });
            }
            run.push(j);
            last_ts = ts;
        }
        if !run.is_empty() {
            let first = messages[run[0]].ts;
            units.push(U {
                start: first,
                end: last_ts,
                order: 0,
                key: session_keys[s],
                unit: Unit::Run { session: s, messages: run },
            });
        }
    }
    for (i, r) in resources.iter().enumerate() {
        units.push(U { start: r.ts, end: r.ts, order: 1, key: r.key, unit: Unit::Resource(i) });
    }
    // 2. order
    units.sort_by(|a, b| {
        a.start
            .cmp(&b.start)
            .then(a.order.cmp(&b.order))
            .then_with(|| a.key.cmp(b.key))
            .then_with(|| a.end.cmp(&b.end))
    });
    // 3. sweep
    let mut out: Vec<Segment> = Vec::new();
    let mut runs_end: Option<i64> = None; // latest end of a run in the current segment
    for u in units {
        let is_run = matches!(u.unit, Unit::Run { .. });
        let join = match out.last() {
            None => false,
            Some(cur) => {
                let idle = u.start.saturating_sub(cur.end) > gap_us;
                let boundary = is_run && runs_end.is_some_and(|e| u.start >= e);
                !idle && !boundary
            }
        };
        if join {
            if let Some(cur) = out.last_mut() {
                cur.end = cur.end.max(u.end);
                cur.units.push(u.unit);
            }
            if is_run {
                runs_end = Some(runs_end.map_or(u.end, |e| e.max(u.end)));
            }
        } else {
            runs_end = if is_run { Some(u.end) } else { None };
            out.push(Segment { start: u.start, end: u.end, units: vec![u.unit] });
        }
    }
    out
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000;

    fn p(ts_min: i64, key: &str) -> Point<'_> {
        Point { ts: ts_min * MIN, key }
    }

    #[test]
    fn empty_input_has_no_segments() {
        assert!(segment(&[], &[], &[], &[], 30 * MIN).is_empty());
    }

    #[test]
    fn idle_gap_cuts_resources() {
        let r = [p(0, "a"), p(10, "b"), p(100, "c")];
        let segs = segment(&r, &[], &[], &[], 30 * MIN);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].units, vec![Unit::Resource(0), Unit::Resource(1)]);
        assert_eq!(segs[1].units, vec![Unit::Resource(2)]);
        assert_eq!(segs[0].start, 0);
        assert_eq!(segs[0].end, 10 * MIN);
    }

    #[test]
    fn gap_exactly_equal_does_not_cut() {
        let r = [p(0, "a"), p(30, "b")];
        assert_eq!(segment(&r, &[], &[], &[], 30 * MIN).len(), 1);
    }

    #[test]
    fn session_boundary_cuts_back_to_back_sessions() {
        // session 0: 0..20, session 1: 25..40 — no idle gap, but a boundary
        let m = [p(0, "m1"), p(20, "m2"), p(25, "m3"), p(40, "m4")];
        let ms = [0, 0, 1, 1];
        let segs = segment(&[], &m, &ms, &["s0", "s1"], 30 * MIN);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[0].units, vec![Unit::Run { session: 0, messages: vec![0, 1] }]);
    }

    #[test]
    fn overlapping_sessions_and_resources_stay_together() {
        let m = [p(0, "m1"), p(30, "m2"), p(10, "m3"), p(20, "m4")];
        let ms = [0, 0, 1, 1];
        let r = [p(15, "r1"), p(45, "r2")];
        let segs = segment(&r, &m, &ms, &["s0", "s1"], 30 * MIN);
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].units.len(), 4);
        assert_eq!(segs[0].end, 45 * MIN);
    }

    #[test]
    fn long_pause_splits_one_session_into_runs() {
        let m = [p(0, "m1"), p(10, "m2"), p(120, "m3")];
        let segs = segment(&[], &m, &[0, 0, 0], &["s0"], 30 * MIN);
        assert_eq!(segs.len(), 2);
        assert_eq!(segs[1].units, vec![Unit::Run { session: 0, messages: vec![2] }]);
    }

    #[test]
    fn messages_are_ordered_by_time_then_id() {
        let m = [p(5, "b"), p(5, "a"), p(1, "z")];
        let segs = segment(&[], &m, &[0, 0, 0], &["s0"], 30 * MIN);
        assert_eq!(segs[0].units, vec![Unit::Run { session: 0, messages: vec![2, 1, 0] }]);
    }

    #[test]
    fn unknown_session_index_is_ignored_not_a_panic() {
        let m = [p(0, "m1")];
        let segs = segment(&[], &m, &[7], &["s0"], 30 * MIN);
        assert!(segs.is_empty());
    }
}
