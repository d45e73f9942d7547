//! A segment's key phrases picked from its candidates (`rem.understand.keyphrases.rank`): each candidate scored
//! against the owner's history (idf), absorbed into the longer phrase that carries most of its occurrences (a
//! collocation), then picked best first without repeating a picked phrase's words. The same arithmetic in the
//! same order as the Python it replaces, so the same floats and the same picks; Python keeps which candidates
//! may be topics at all (its word lists) and spells the picked ones out.

use std::cmp::Ordering;

use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{CoreError, Result};

/// The candidates of one segment that may be topics, and how the owner's history counts them.
pub struct Candidates<'a> {
    /// phrase keys (folded words joined by one space), distinct
    pub keys: &'a [String],
    /// each key's summed item weight
    pub support: &'a [f64],
    /// whether each key is one of the owner's known topics (it counts double and absorbs nothing)
    pub known: &'a [bool],
    /// each key's document frequency in the background
    pub key_df: &'a [u64],
    /// the document frequency of each word of each key, key after key
    pub word_df: &'a [u64],
    /// the background's number of documents
    pub n: u64,
}

/// (index of the key picked, its score), best first: the tags (short recurring concepts) and the headline (the
/// most specific phrases).
pub type Picks = Vec<(usize, f64)>;

fn idf(n: u64, df: u64) -> f64 {
    ((n + 1) as f64 / (df + 1) as f64).ln() + 1.0
}

/// The tags (up to `limit`) and the headline (up to 3) of a segment's candidates; none scoring under `floor` ×
/// the best.
pub fn rank(c: &Candidates<'_>, limit: usize, floor: f64) -> Result<(Picks, Picks)> {
    let m = c.keys.len();
    if c.support.len() != m || c.known.len() != m || c.key_df.len() != m {
        return Err(CoreError::InvalidOption(format!(
            "rank: {m} keys but {} supports, {} known flags, {} document frequencies",
            c.support.len(),
            c.known.len(),
            c.key_df.len()
        )));
    }
    let words: Vec<Vec<&str>> = c.keys.iter().map(|k| k.split_whitespace().collect()).collect();
    let n_words: usize = words.iter().map(Vec::len).sum();
    if c.word_df.len() != n_words || words.iter().any(Vec::is_empty) {
        return Err(CoreError::InvalidOption(format!(
            "rank: the keys hold {n_words} words but {} word frequencies are given (or a key is empty)",
            c.word_df.len()
        )));
    }
    let index: FxHashMap<&str, usize> = c.keys.iter().enumerate().map(|(i, k)| (k.as_str(), i)).collect();
    // each phrase's longer phrases: those holding it as a run of whole words ("partial" → "partial indexes")
    let mut longer: FxHashMap<String, Vec<usize>> = FxHashMap::default();
    for (i, w) in words.iter().enumerate() {
        let mut subs: FxHashSet<String> = FxHashSet::default();
        for a in 0..w.len() {
            for b in a + 1..=w.len() {
                if b - a < w.len() {
                    subs.insert(w[a..b].join(" "));
                }
            }
        }
        for sub in subs {
            longer.entry(sub).or_default().push(i);
        }
    }
    let collocation = |i: usize, max_words: usize, share: f64| -> Option<usize> {
        let holders = longer.get(c.keys[i].as_str())?;
        if c.known[i] {
            return None;
        }
        let sup = c.support[i];
        holders
            .iter()
            .copied()
            .filter(|&h| c.support[h] >= share * sup && words[h].len() <= max_words)
            .max_by(|&a, &b| c.support[a].partial_cmp(&c.support[b]).unwrap_or(Ordering::Equal).then_with(|| c.keys[a].cmp(&c.keys[b])))
    };
    let mut tag_scored: Vec<(usize, f64)> = Vec::with_capacity(m);
    let mut head_scored: Vec<(usize, f64)> = Vec::with_capacity(m);
    let mut at = 0;
    for (i, w) in words.iter().enumerate() {
        let len = w.len();
        let mut sum = 0.0;
        for &df in &c.word_df[at..at + len] {
            sum += idf(c.n, df);
        }
        at += len;
        let word_idf = sum / len as f64;
        let boost = if c.known[i] { 2.0 } else { 1.0 };
        let score = boost * c.support[i] * word_idf * (1.0 + 0.15 * (len - 1) as f64);
        tag_scored.push((collocation(i, 2, 0.6).unwrap_or(i), score));
        let head_score = c.support[i] * idf(c.n, c.key_df[i]) * (1.0 + 0.35 * (len - 1) as f64);
        head_scored.push((collocation(i, 3, 0.5).unwrap_or(i), head_score));
    }
    let tags = pick(tag_scored, limit, floor, c.keys, &words, &index);
    let head = pick(head_scored, 3, floor, c.keys, &words, &index);
    Ok((tags, head))
}

/// Best first (score, then key), without repeats of a picked phrase's words or windows of the same longer phrase.
fn pick(
    mut scored: Vec<(usize, f64)>,
    limit: usize,
    floor: f64,
    keys: &[String],
    words: &[Vec<&str>],
    phrases: &FxHashMap<&str, usize>,
) -> Picks {
    scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(Ordering::Equal).then_with(|| keys[a.0].cmp(&keys[b.0])));
    let mut picked: Picks = Vec::new();
    let mut held: Vec<(FxHashSet<&str>, &[&str])> = Vec::new();
    for (i, score) in scored {
        if let Some(&(_, best)) = picked.first() {
            if score < floor * best {
                break;
            }
        }
        let split = words[i].as_slice();
        let set: FxHashSet<&str> = split.iter().copied().collect();
        if held.iter().any(|(qw, qs)| {
            set.is_subset(qw) || qw.is_subset(&set) || (split.len() > 1 && qs.len() > 1 && overlapping(split, qs, phrases))
        }) {
            continue;
        }
        picked.push((i, score));
        held.push((set, split));
        if picked.len() >= limit {
            break;
        }
    }
    picked
}

/// Two windows of one longer phrase ("bm25 hybrid", "hybrid ranking" of "bm25 hybrid ranking").
fn overlapping(a: &[&str], b: &[&str], phrases: &FxHashMap<&str, usize>) -> bool {
    for (x, y) in [(a, b), (b, a)] {
        for k in 1..x.len().min(y.len()) {
            if x[x.len() - k..] == y[..k] {
                let joined: Vec<&str> = x.iter().chain(&y[k..]).copied().collect();
                if phrases.contains_key(joined.join(" ").as_str()) {
                    return true;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_collocation_absorbs_its_parts_and_a_picked_phrase_s_words_are_not_picked_again() {
        let keys = owned(&["graph", "construction", "graph construction", "deadline"]);
        let support = [3.0, 3.0, 3.0, 2.0];
        let known = [false; 4];
        let key_df = [5, 5, 1, 50];
        let word_df = [5, 5, 5, 5, 50];
        let c = Candidates { keys: &keys, support: &support, known: &known, key_df: &key_df, word_df: &word_df, n: 100 };
        let (tags, head) = rank(&c, 7, 0.15).unwrap();
        let picked: Vec<&str> = tags.iter().map(|&(i, _)| keys[i].as_str()).collect();
        assert_eq!(picked, ["graph construction", "deadline"]);
        assert_eq!(keys[head[0].0], "graph construction");
    }

    #[test]
    fn inconsistent_lengths_are_an_error_not_a_panic() {
        let keys = owned(&["a b"]);
        let c = Candidates { keys: &keys, support: &[1.0], known: &[false], key_df: &[1], word_df: &[1], n: 3 };
        assert!(rank(&c, 3, 0.1).is_err());
    }
}
