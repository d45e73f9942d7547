//! Cue words counted: how many times each of a set of regular expressions
//! matches an ASCII text (non-overlapping, leftmost first, as Python's
//! `re.findall` counts them). REM's moment types are read from such counts
//! (`rem.understand.describe`); Python's engine scans every position of a
//! segment's text for each pattern, this one skips to where a pattern's
//! literals are. ASCII only, where the two engines' `\b`, `\w` and `.` agree
//! (the patterns are compiled without Unicode classes); other text stays
//! with Python.

use regex::bytes::{Regex, RegexBuilder};

use crate::error::{CoreError, Result};

pub struct CueCounter {
    patterns: Vec<Regex>,
}

impl CueCounter {
    /// Compile `patterns` (Python `re` syntax that both engines read alike: groups, alternations, classes,
    /// `\b \w \d \s`, quantifiers; no lookaround, no backreferences).
    pub fn new(patterns: &[String]) -> Result<Self> {
        let patterns = patterns
            .iter()
            .map(|p| {
                RegexBuilder::new(p)
                    .unicode(false)
                    .build()
                    .map_err(|e| CoreError::Model(format!("cue pattern {p:?}: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CueCounter { patterns })
    }

    /// Each pattern's number of matches in `text`, or None when `text` is not ASCII.
    pub fn count(&self, text: &str) -> Option<Vec<usize>> {
        if !text.is_ascii() {
            return None;
        }
        let b = text.as_bytes();
        Some(self.patterns.iter().map(|rx| rx.find_iter(b).count()).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_non_overlapping_leftmost_matches_of_each_pattern() {
        let c = CueCounter::new(&[r"\b(debug\w*|fix)\b".to_string(), r"\b(plan\w*|cut .* from)\b".to_string()]).unwrap();
        assert_eq!(c.count("debugging the fix, fixed? debug. plans: cut a from b from c"), Some(vec![3, 2]));
        assert_eq!(c.count("débug"), None);
        assert!(CueCounter::new(&["(".to_string()]).is_err());
    }
}
