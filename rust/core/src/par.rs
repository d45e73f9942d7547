//! Small helpers for the kernels' scoped worker threads.

use crate::error::{CoreError, Result};

/// Join scoped worker threads, in order. A panicked worker makes the whole
/// result an error ([`CoreError::WorkerPanicked`] naming `what`) instead of a
/// silently missing or default part.
pub fn join_all<T>(handles: Vec<std::thread::ScopedJoinHandle<'_, T>>, what: &'static str) -> Result<Vec<T>> {
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.join().map_err(|_| CoreError::WorkerPanicked(what))?);
    }
    Ok(out)
}

/// How many threads a job of `work` items deserves (1 below 200k items; at most 8).
pub fn threads_for(work: usize) -> usize {
    if work < 200_000 {
        1
    } else {
        std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).min(8)
    }
}

/// Split `0..n` into at most `parts` contiguous, non-empty ranges.
pub fn ranges(n: usize, parts: usize) -> Vec<std::ops::Range<usize>> {
    let parts = parts.max(1);
    let per = n.div_ceil(parts).max(1);
    (0..parts).map(|i| (i * per).min(n)..((i + 1) * per).min(n)).filter(|r| !r.is_empty()).collect()
}

/// Split the nodes `0..n` into `parts` contiguous ranges holding about the
/// same number of adjacency entries (`off` is a CSR offset array), so a hub
/// does not leave one thread with most of the work.
pub fn balanced(off: &[u64], parts: usize) -> Vec<std::ops::Range<usize>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panicking_worker_is_an_error() {
        let r: Result<Vec<u32>> = std::thread::scope(|sc| {
            let hs = vec![sc.spawn(|| 1u32), sc.spawn(|| panic!("boom"))];
            join_all(hs, "a test")
        });
        assert!(matches!(r, Err(CoreError::WorkerPanicked("a test"))));
    }

    #[test]
    fn ranges_cover_everything_once() {
        for n in [0usize, 1, 7, 100] {
            for p in 1..5 {
                let rs = ranges(n, p);
                assert_eq!(rs.iter().map(|r| r.len()).sum::<usize>(), n);
            }
        }
        let off = [0u64, 100, 101, 102, 103];
        let b = balanced(&off, 2);
        assert_eq!(b.iter().map(|r| r.len()).sum::<usize>(), 4);
    }
}
