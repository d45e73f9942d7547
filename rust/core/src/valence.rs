//! VADER's compound valence of a sentence (Hutto & Gilbert 2014; `vaderSentiment` 3.3.2, MIT), for ASCII text:
//! the same rules in the same order, over the same tables, so the same number to the last bit (the sums are
//! left to right, as CPython 3.11's `sum` adds floats). REM's emotions ask it of every sentence the owner wrote
//! (`rem.understand.emotions`); the Python package spent most of its time on lists it searched word by word.
//! The tables (the lexicon, the boosters, the negations, the special cases) are the package's own, given by
//! the caller. Text with a character beyond ASCII (VADER reads emojis as their descriptions, and Python's case
//! rules differ from Rust's there) is not read here: [`Valence::compound`] says None and the caller asks VADER.

use rustc_hash::{FxHashMap, FxHashSet};

/// The constants of `vaderSentiment` that are not tables: the emphasis of a word in capitals among words that are
/// not, and the factor of a negation.
#[derive(Clone, Copy, Debug)]
pub struct Scalars {
    pub c_incr: f64,
    pub n_scalar: f64,
}

pub struct Valence {
    lexicon: FxHashMap<String, f64>,
    boosters: FxHashMap<String, f64>,
    negate: FxHashSet<String>,
    special: FxHashMap<String, f64>,
    k: Scalars,
}

/// Python's `str.split()` separators within ASCII (`str.isspace`: the C0 separators 0x1c–0x1f too).
fn py_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1f)
}

/// Python's `str.isupper()` for ASCII: a cased character, and none in lower case.
fn is_upper(w: &str) -> bool {
    w.bytes().any(|b| b.is_ascii_uppercase()) && !w.bytes().any(|b| b.is_ascii_lowercase())
}

/// `_strip_punc_if_word`: leading and trailing punctuation off, unless that leaves two characters or fewer (an
/// emoticon such as ":)" is kept whole).
fn strip_punc_if_word(token: &str) -> &str {
    let stripped = token.trim_matches(|c: char| c.is_ascii_punctuation());
    if stripped.len() <= 2 {
        token
    } else {
        stripped
    }
}

impl Valence {
    pub fn new(
        lexicon: impl IntoIterator<Item = (String, f64)>,
        boosters: impl IntoIterator<Item = (String, f64)>,
        negate: impl IntoIterator<Item = String>,
        special: impl IntoIterator<Item = (String, f64)>,
        k: Scalars,
    ) -> Self {
        Valence {
            lexicon: lexicon.into_iter().collect(),
            boosters: boosters.into_iter().collect(),
            negate: negate.into_iter().collect(),
            special: special.into_iter().collect(),
            k,
        }
    }

    /// VADER's compound score of `text`, before its rounding to four places (`polarity_scores` rounds it), or
    /// None when `text` is not ASCII.
    pub fn compound(&self, text: &str) -> Option<f64> {
        if !text.is_ascii() {
            return None;
        }
        let words: Vec<&str> = text
            .split(|c: char| py_space(c as u8))
            .filter(|w| !w.is_empty())
            .map(strip_punc_if_word)
            .collect();
        let lower: Vec<String> = words.iter().map(|w| w.to_ascii_lowercase()).collect();
        let n_upper = words.iter().filter(|w| is_upper(w)).count();
        let cap_diff = n_upper > 0 && n_upper < words.len(); // 0 < len − upper < len
        let mut sentiments: Vec<f64> = Vec::with_capacity(words.len());
        for i in 0..words.len() {
            if self.boosters.contains_key(&lower[i]) || (i + 1 < words.len() && lower[i] == "kind" && lower[i + 1] == "of") {
                sentiments.push(0.0);
                continue;
            }
            sentiments.push(self.sentiment_valence(&words, &lower, cap_diff, i));
        }
        but_check(&lower, &mut sentiments);
        if sentiments.is_empty() {
            return Some(0.0);
        }
        let mut sum = 0.0;
        for s in &sentiments {
            sum += s;
        }
        let punct = punctuation_emphasis(text);
        if sum > 0.0 {
            sum += punct;
        } else if sum < 0.0 {
            sum -= punct;
        }
        let norm = sum / (sum * sum + 15.0).sqrt();
        Some(norm.clamp(-1.0, 1.0))
    }

    fn in_lexicon(&self, w: &str) -> bool {
        self.lexicon.contains_key(w)
    }

    fn sentiment_valence(&self, words: &[&str], lower: &[String], cap_diff: bool, i: usize) -> f64 {
        let item = &lower[i];
        let Some(&base) = self.lexicon.get(item) else {
            return 0.0;
        };
        let n = words.len();
        let mut valence = base;
        if item == "no" && i != n - 1 && self.in_lexicon(&lower[i + 1]) {
            valence = 0.0;
        }
        if (i > 0 && lower[i - 1] == "no")
            || (i > 1 && lower[i - 2] == "no")
            || (i > 2 && lower[i - 3] == "no" && (lower[i - 1] == "or" || lower[i - 1] == "nor"))
        {
            valence = base * self.k.n_scalar;
        }
        if is_upper(words[i]) && cap_diff {
            if valence > 0.0 {
                valence += self.k.c_incr;
            } else {
                valence -= self.k.c_incr;
            }
        }
        for start_i in 0..3 {
            if i > start_i && !self.in_lexicon(&lower[i - (start_i + 1)]) {
                let mut s = self.scalar_inc_dec(words[i - (start_i + 1)], &lower[i - (start_i + 1)], valence, cap_diff);
                if start_i == 1 && s != 0.0 {
                    s *= 0.95;
                }
                if start_i == 2 && s != 0.0 {
                    s *= 0.9;
                }
                valence += s;
                valence = self.negation_check(valence, lower, start_i, i);
                if start_i == 2 {
                    valence = self.special_idioms_check(valence, lower, i);
                }
            }
        }
        self.least_check(valence, lower, i)
    }

    fn scalar_inc_dec(&self, word: &str, word_lower: &str, valence: f64, cap_diff: bool) -> f64 {
        let Some(&b) = self.boosters.get(word_lower) else {
            return 0.0;
        };
        let mut scalar = b;
        if valence < 0.0 {
            scalar *= -1.0;
        }
        if is_upper(word) && cap_diff {
            if valence > 0.0 {
                scalar += self.k.c_incr;
            } else {
                scalar -= self.k.c_incr;
            }
        }
        scalar
    }

    /// `negated([word])`: a negation, or a word holding "n't".
    fn negated(&self, word_lower: &str) -> bool {
        self.negate.contains(word_lower) || word_lower.contains("n't")
    }

    fn negation_check(&self, valence: f64, w: &[String], start_i: usize, i: usize) -> f64 {
        match start_i {
            0 => {
                if self.negated(&w[i - 1]) {
                    return valence * self.k.n_scalar;
                }
            }
            1 => {
                if w[i - 2] == "never" && (w[i - 1] == "so" || w[i - 1] == "this") {
                    return valence * 1.25;
                } else if w[i - 2] == "without" && w[i - 1] == "doubt" {
                    return valence;
                } else if self.negated(&w[i - 2]) {
                    return valence * self.k.n_scalar;
                }
            }
            _ => {
                if (w[i - 3] == "never" && (w[i - 2] == "so" || w[i - 2] == "this")) || (w[i - 1] == "so" || w[i - 1] == "this") {
                    return valence * 1.25;
                } else if w[i - 3] == "without" && (w[i - 2] == "doubt" || w[i - 1] == "doubt") {
                    return valence;
                } else if self.negated(&w[i - 3]) {
                    return valence * self.k.n_scalar;
                }
            }
        }
        valence
    }

    /// Only called with `i >= 3` (the third word before the item is read).
    fn special_idioms_check(&self, mut valence: f64, w: &[String], i: usize) -> f64 {
        let onezero = format!("{} {}", w[i - 1], w[i]);
        let twoonezero = format!("{} {} {}", w[i - 2], w[i - 1], w[i]);
        let twoone = format!("{} {}", w[i - 2], w[i - 1]);
        let threetwoone = format!("{} {} {}", w[i - 3], w[i - 2], w[i - 1]);
        let threetwo = format!("{} {}", w[i - 3], w[i - 2]);
        for seq in [&onezero, &twoonezero, &twoone, &threetwoone, &threetwo] {
            if let Some(&v) = self.special.get(seq.as_str()) {
                valence = v;
                break;
            }
        }
        if w.len() - 1 > i {
            if let Some(&v) = self.special.get(format!("{} {}", w[i], w[i + 1]).as_str()) {
                valence = v;
            }
        }
        if w.len() - 1 > i + 1 {
            if let Some(&v) = self.special.get(format!("{} {} {}", w[i], w[i + 1], w[i + 2]).as_str()) {
                valence = v;
            }
        }
        for n_gram in [&threetwoone, &threetwo, &twoone] {
            if let Some(&b) = self.boosters.get(n_gram.as_str()) {
                valence += b;
            }
        }
        valence
    }

    fn least_check(&self, valence: f64, w: &[String], i: usize) -> f64 {
        if i > 1 && !self.in_lexicon(&w[i - 1]) && w[i - 1] == "least" {
            if w[i - 2] != "at" && w[i - 2] != "very" {
                return valence * self.k.n_scalar;
            }
        } else if i > 0 && !self.in_lexicon(&w[i - 1]) && w[i - 1] == "least" {
            return valence * self.k.n_scalar;
        }
        valence
    }
}

/// `_but_check`, as written: each score before the first "but" halved, each after it × 1.5 — where "each" is
/// found again by its value (`list.index`), so that of two equal scores the first is scaled twice, as VADER does.
fn but_check(lower: &[String], sentiments: &mut [f64]) {
    let Some(bi) = lower.iter().position(|w| w == "but") else {
        return;
    };
    for k in 0..sentiments.len() {
        let sentiment = sentiments[k];
        let Some(si) = sentiments.iter().position(|&s| s == sentiment) else {
            continue;
        };
        if si < bi {
            sentiments[si] = sentiment * 0.5;
        } else if si > bi {
            sentiments[si] = sentiment * 1.5;
        }
    }
}

/// `_punctuation_emphasis`: up to four "!" add 0.292 each; two or three "?" 0.18 each, more 0.96.
fn punctuation_emphasis(text: &str) -> f64 {
    let ep = text.bytes().filter(|&b| b == b'!').count().min(4) as f64 * 0.292;
    let qm_count = text.bytes().filter(|&b| b == b'?').count();
    let qm = if qm_count > 1 {
        if qm_count <= 3 {
            qm_count as f64 * 0.18
        } else {
            0.96
        }
    } else {
        0.0
    };
    ep + qm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Valence {
        let pairs = |kv: &[(&str, f64)]| kv.iter().map(|&(k, v)| (k.to_string(), v)).collect::<Vec<_>>();
        Valence::new(
            pairs(&[("good", 1.9), ("bad", -2.5), ("great", 3.1), ("no", -1.2), ("shit", -2.6)]),
            pairs(&[("very", 0.293), ("kind of", -0.293), ("slightly", -0.293)]),
            ["not", "never"].map(String::from),
            pairs(&[("the shit", 3.0)]),
            Scalars { c_incr: 0.733, n_scalar: -0.74 },
        )
    }

    #[test]
    fn a_sentence_without_a_word_of_the_lexicon_scores_zero() {
        assert_eq!(small().compound("we met at noon"), Some(0.0));
        assert_eq!(small().compound(""), Some(0.0));
    }

    #[test]
    fn negation_and_boosters_change_the_score_as_vader_says() {
        let v = small();
        let good = v.compound("The book was good.").unwrap();
        assert!((good - 1.9 / (1.9f64 * 1.9 + 15.0).sqrt()).abs() < 1e-15);
        let not_good = v.compound("The book was not good.").unwrap();
        assert!(not_good < 0.0);
        let very_good = v.compound("The book was very good.").unwrap();
        assert!(very_good > good);
        let shouted = v.compound("The book was GOOD!").unwrap();
        assert!(shouted > very_good);
    }

    #[test]
    fn text_beyond_ascii_is_left_to_the_caller() {
        assert_eq!(small().compound("good 😀"), None);
    }

    #[test]
    fn but_scales_what_comes_before_and_after() {
        let v = small();
        // "good" before "but" halved, "bad" after × 1.5: the sentence leans negative
        let s = v.compound("good but bad").unwrap();
        let sum = 1.9 * 0.5 + -2.5 * 1.5;
        assert!((s - sum / (sum * sum + 15.0f64).sqrt()).abs() < 1e-15);
    }
}
