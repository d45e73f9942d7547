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
//!
//! This module is the sweep; [`refine`] (in `refine.rs`) reads what the items say.

mod refine;

use std::cmp::Ordering;

pub use refine::{refine, RefineOptions};

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
