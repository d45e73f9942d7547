//! Offline token estimate.
//!
//! REM never downloads a tokenizer vocabulary, so token counts are an
//! *estimate*: one token per four ASCII bytes (rounded up) plus one token per
//! non-ASCII character. For English prose and code this lands within ~15% of
//! BPE tokenizers such as cl100k; for CJK text it errs on the high side, which
//! keeps budgets safe. The estimate is additive-safe: the estimate of a
//! concatenation never exceeds the sum of the estimates of its parts.

/// Estimated tokens of `s`.
#[inline]
pub fn estimate(s: &str) -> usize {
    if s.is_ascii() {
        return s.len().div_ceil(4);
    }
    let mut ascii = 0usize;
    let mut other = 0usize;
    for &b in s.as_bytes() {
        if b < 0x80 {
            ascii += 1;
        } else if b >= 0xC0 {
            // leading byte of a multi-byte character
            other += 1;
        }
    }
    ascii.div_ceil(4) + other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_rounds_up() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("a"), 1);
        assert_eq!(estimate("abcd"), 1);
        assert_eq!(estimate("abcde"), 2);
    }

    #[test]
    fn non_ascii_counts_per_char() {
        assert_eq!(estimate("é"), 1);
        assert_eq!(estimate("日本語"), 3);
        assert_eq!(estimate("ab日"), 2);
    }

    #[test]
    fn concatenation_is_bounded_by_parts() {
        let parts = ["abc", "de", "日本", "xyz!", "é"];
        let sum: usize = parts.iter().map(|p| estimate(p)).sum();
        assert!(estimate(&parts.concat()) <= sum);
    }
}
