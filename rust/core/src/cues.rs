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

/// Which of a set of patterns can match a text, all asked at once (one pass of a `RegexSet`): REM's people rules
/// ask it of every sentence, relaxed (their lookarounds dropped, so each pattern matches wherever the rule can),
/// and scan a sentence only with the rules it names. ASCII text only, where Python's `\b`, `\w` and `\s` and this
/// engine's agree (Python's `\s` also takes the separators 0x1c–0x1f: a text holding one is not read either).
pub struct RuleSet {
    set: regex::RegexSet,
    all: u64,
}

impl RuleSet {
    /// Compile up to 64 `patterns` (Unicode classes, as Python reads `str` patterns; `(?i)` where the rule ignores
    /// case).
    pub fn new(patterns: &[String]) -> Result<Self> {
        if patterns.len() > 64 {
            return Err(CoreError::InvalidOption(format!("a rule set holds at most 64 patterns, not {}", patterns.len())));
        }
        let set = regex::RegexSetBuilder::new(patterns)
            .size_limit(1 << 28)
            .dfa_size_limit(1 << 26)
            .build()
            .map_err(|e| CoreError::Model(format!("the rule set: {e}")))?;
        let all = if patterns.len() == 64 { u64::MAX } else { (1u64 << patterns.len()) - 1 };
        Ok(RuleSet { set, all })
    }

    /// For each text, a bit per pattern that can match it (bit `i`: pattern `i`); every bit for a text not read
    /// here (beyond ASCII, or holding 0x1c–0x1f).
    pub fn may_match(&self, texts: &[String]) -> Vec<u64> {
        texts
            .iter()
            .map(|t| {
                if !t.is_ascii() || t.bytes().any(|b| (0x1c..=0x1f).contains(&b)) {
                    return self.all;
                }
                self.set.matches(t).iter().fold(0u64, |m, i| m | (1u64 << i))
            })
            .collect()
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
    fn a_rule_set_names_the_patterns_that_match_and_every_one_for_text_it_does_not_read() {
        let set = RuleSet::new(&[r"\b(?:with|from)\s+([A-Z][a-z]+)".to_string(), r"(?i)^(?:hi|hello)\s+\w+".to_string()]).unwrap();
        let texts = ["lunch with Kate".to_string(), "HELLO there".to_string(), "nothing".to_string(), "with Émile".to_string(),
                     "with\x1cKate".to_string()];
        assert_eq!(set.may_match(&texts), vec![0b01, 0b10, 0, 0b11, 0b11]);
        assert!(RuleSet::new(&["(".to_string()]).is_err());
    }

    #[test]
    fn a_literal_set_finds_its_words_anywhere_in_any_script() {
        let set = LiteralSet::new(&["again?!".to_string(), "ugh".to_string(), "日本".to_string()]).unwrap();
        let texts = ["laughing".to_string(), "no".to_string(), "again?! x".to_string(), "again?".to_string(), "in 日本".to_string()];
        assert_eq!(set.holds(&texts), vec![true, false, true, false, true]);
        assert_eq!(LiteralSet::new(&[]).unwrap().holds(&texts), vec![false; 5]);
    }
}
