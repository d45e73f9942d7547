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

/// A set of words, each looked for as a substring (no word boundaries, any script): which texts hold one.
/// REM's emotion lexicon asks this of every sentence the owner wrote before it matches the emotions' patterns.
pub struct LiteralSet {
    rx: Option<regex::Regex>,
}

impl LiteralSet {
    pub fn new(words: &[String]) -> Result<Self> {
        let words: Vec<String> = words.iter().filter(|w| !w.is_empty()).map(|w| regex::escape(w)).collect();
        if words.is_empty() {
            return Ok(LiteralSet { rx: None });
        }
        let rx = regex::RegexBuilder::new(&words.join("|"))
            .size_limit(1 << 26)
            .build()
            .map_err(|e| CoreError::Model(format!("the word set: {e}")))?;
        Ok(LiteralSet { rx: Some(rx) })
    }

    /// For each text, whether one of the words occurs in it.
    pub fn holds(&self, texts: &[String]) -> Vec<bool> {
        match &self.rx {
            None => vec![false; texts.len()],
            Some(rx) => texts.iter().map(|t| rx.is_match(t)).collect(),
        }
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

    #[test]
    fn a_literal_set_finds_its_words_anywhere_in_any_script() {
        let set = LiteralSet::new(&["again?!".to_string(), "ugh".to_string(), "日本".to_string()]).unwrap();
        let texts = ["laughing".to_string(), "no".to_string(), "again?! x".to_string(), "again?".to_string(), "in 日本".to_string()];
        assert_eq!(set.holds(&texts), vec![true, false, true, false, true]);
        assert_eq!(LiteralSet::new(&[]).unwrap().holds(&texts), vec![false; 5]);
    }
}
