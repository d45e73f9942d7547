//! Lexical cohesion: where does the subject of a stream of texts change?
//!
//! Every text becomes a bag of terms — lower-cased words of letters, digits
//! and `_` (any script), English function words and chat filler left out,
//! plural `s` folded, hashed to 64 bits. Between two neighbouring texts of a
//! sequence, the similarity of the `window` texts before and after the gap
//! (cosine of their summed bags) measures how much the subject carries on;
//! a gap is a topic shift where that similarity sits in a valley deeper than
//! `min_depth` (the depth score of Hearst's TextTiling: how far it drops
//! below the peaks on both sides) and both sides keep at least `min_items`
//! texts. A question that shares no word with the `cue_back` texts before
//! it ("what do you do for a living?") opens a new subject too: it adds
//! `cue_weight` to its gap's depth. The same function segments activity
//! inside a dream and the turns of a conversation without timestamps (the
//! TIAGE evaluation, where the parameters are tuned on its dev split).

use std::collections::HashSet;
use std::sync::OnceLock;

use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};

/// A bag of terms: (term hash, count), sorted by hash.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Bag(pub Vec<(u64, f32)>);

const STOP: &str = "a about above after again against all also am an and any are as at be because been before being \
below between both but by can could did do does doing down during each few for from further get got had has have \
having he her here hers herself him himself his how i if in into is it its itself just let like me more most my \
myself no nor not now of off on once only or other our ours ourselves out over own same she should so some such \
than that the their theirs them themselves then there these they this those through to too under until up very was \
we were what when where which while who whom why will with would you your yours yourself yourselves ok okay yes yeah \
hi hello hey thanks thank please sure oh well really one also still even much many lot lots thing things something \
anything good great nice cool fine right think know want need make made see look go going get getting would could \
should may might must shall im ive dont didnt doesnt cant wont isnt arent wasnt youre thats whats lets theres";

fn stopwords() -> &'static HashSet<&'static str> {
    static S: OnceLock<HashSet<&'static str>> = OnceLock::new();
    S.get_or_init(|| STOP.split_whitespace().collect())
}

fn hash(term: &str) -> u64 {
    let mut h = FxHasher::default();
    term.hash(&mut h);
    h.finish()
}

/// The bag of terms of a text (see the module docs).
pub fn bag(text: &str) -> Bag {
    let stop = stopwords();
    let mut terms: Vec<u64> = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, terms: &mut Vec<u64>| {
        if word.chars().count() >= 3 && !word.chars().all(|c| c.is_ascii_digit()) && !stop.contains(word.as_str()) {
            let w = if word.len() > 4 && word.is_ascii() && word.ends_with('s') && !word.ends_with("ss") && !word.ends_with("us") {
                &word[..word.len() - 1]
            } else {
                word.as_str()
            };
            terms.push(hash(w));
        }
        word.clear();
    };
    for ch in text.chars() {
        if ch.is_alphanumeric() || ch == '_' {
            if ch.is_ascii() {
                word.push(ch.to_ascii_lowercase());
            } else {
                word.extend(ch.to_lowercase());
            }
        } else if !word.is_empty() {
            flush(&mut word, &mut terms);
        }
    }
    if !word.is_empty() {
        flush(&mut word, &mut terms);
    }
    terms.sort_unstable();
    let mut out: Vec<(u64, f32)> = Vec::with_capacity(terms.len());
    for t in terms {
        match out.last_mut() {
            Some((last, n)) if *last == t => *n += 1.0,
            _ => out.push((t, 1.0)),
        }
    }
    Bag(out)
}

impl Bag {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sum of several bags.
    pub fn sum<'a>(bags: impl IntoIterator<Item = &'a Bag>) -> Bag {
        let mut all: Vec<(u64, f32)> = bags.into_iter().flat_map(|b| b.0.iter().copied()).collect();
        all.sort_unstable_by_key(|x| x.0);
        let mut out: Vec<(u64, f32)> = Vec::with_capacity(all.len());
        for (t, n) in all {
            match out.last_mut() {
                Some((last, m)) if *last == t => *m += n,
                _ => out.push((t, n)),
            }
        }
        Bag(out)
    }

    /// Cosine similarity (0 when either bag is empty).
    pub fn cosine(&self, other: &Bag) -> f64 {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j, mut dot) = (0usize, 0usize, 0.0f64);
        while i < a.len() && j < b.len() {
            match a[i].0.cmp(&b[j].0) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    dot += (a[i].1 * b[j].1) as f64;
                    i += 1;
                    j += 1;
                }
            }
        }
        let na: f64 = a.iter().map(|x| (x.1 * x.1) as f64).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| (x.1 * x.1) as f64).sum::<f64>().sqrt();
        if na == 0.0 || nb == 0.0 {
            0.0
        } else {
            dot / (na * nb)
        }
    }
}

/// How topic shifts are found.
#[derive(Clone, Copy, Debug)]
pub struct ShiftOptions {
    /// Texts on each side of a gap compared (the block size).
    pub window: usize,
    /// How deep a similarity valley must be to be a shift.
    pub min_depth: f64,
    /// Texts each side of a shift keeps at least.
    pub min_items: usize,
    /// Depth added at a question that shares no word with the texts before it.
    pub cue_weight: f64,
    /// How many texts before a question are looked at for shared words.
    pub cue_back: usize,
}

impl Default for ShiftOptions {
    fn default() -> Self {
        ShiftOptions { window: 5, min_depth: 0.55, min_items: 4, cue_weight: 0.25, cue_back: 2 }
    }
}

/// Does a text ask a question?
pub fn asks(text: &str) -> bool {
    text.contains('?') || text.contains('？')
}

fn shares_any(a: &Bag, b: &Bag) -> bool {
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.0.len() && j < b.0.len() {
        match a.0[i].0.cmp(&b.0[j].0) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => return true,
        }
    }
    false
}

/// Similarity across each gap `g` (between text `g-1` and `g`), for `g` in `1..n`.
pub fn gap_similarities(bags: &[Bag], window: usize) -> Vec<f64> {
    let n = bags.len();
    let w = window.max(1);
    (1..n)
        .map(|g| {
            let left = Bag::sum(&bags[g.saturating_sub(w)..g]);
            let right = Bag::sum(&bags[g..(g + w).min(n)]);
            left.cosine(&right)
        })
        .collect()
}

/// Depth of each similarity: how far it drops below the highest values
/// reached by climbing left and right while the similarity rises.
pub fn depths(sims: &[f64]) -> Vec<f64> {
    let n = sims.len();
    (0..n)
        .map(|i| {
            let (mut l, mut li) = (sims[i], i);
            while li > 0 && sims[li - 1] >= l {
                li -= 1;
                l = sims[li];
            }
            let (mut r, mut ri) = (sims[i], i);
            while ri + 1 < n && sims[ri + 1] >= r {
                ri += 1;
                r = sims[ri];
            }
            (l - sims[i]) + (r - sims[i])
        })
        .collect()
}

/// Where the subject of a sequence of texts changes: each text's bag of words and whether it asks, then
/// [`shifts`]. Returns the indices where a new topic starts.
pub fn text_shifts<S: AsRef<str>>(texts: &[S], opts: &ShiftOptions) -> Vec<usize> {
    let bags: Vec<Bag> = texts.iter().map(|t| bag(t.as_ref())).collect();
    let q: Vec<bool> = texts.iter().map(|t| asks(t.as_ref())).collect();
    shifts(&bags, &q, opts)
}

/// Indices `g` (a shift between text `g-1` and text `g`) where the subject
/// changes, deepest first accepted while both sides keep `min_items` texts.
/// `questions[g]` says whether text `g` asks a question (empty: no cues).
pub fn shifts(bags: &[Bag], questions: &[bool], opts: &ShiftOptions) -> Vec<usize> {
    let n = bags.len();
    if n < 2 * opts.min_items.max(1) {
        return Vec::new();
    }
    let sims = gap_similarities(bags, opts.window);
    let mut d = depths(&sims);
    if opts.cue_weight != 0.0 && questions.len() == n {
        for (i, depth) in d.iter_mut().enumerate() {
            let g = i + 1;
            if questions[g] && !bags[g].is_empty() {
                let before = Bag::sum(&bags[g.saturating_sub(opts.cue_back.max(1))..g]);
                if !shares_any(&bags[g], &before) {
                    *depth += opts.cue_weight;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..sims.len()).filter(|&i| d[i] >= opts.min_depth).collect();
    order.sort_by(|&a, &b| d[b].partial_cmp(&d[a]).unwrap_or(std::cmp::Ordering::Equal).then(a.cmp(&b)));
    let mut cuts: Vec<usize> = Vec::new();
    for i in order {
        let g = i + 1;
        let mut all = cuts.clone();
        all.push(g);
        all.sort_unstable();
        let mut prev = 0usize;
        let ok = all.iter().chain(std::iter::once(&n)).all(|&c| {
            let fine = c - prev >= opts.min_items;
            prev = c;
            fine
        });
        if ok {
            cuts = all;
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bags_fold_case_plural_and_filler() {
        let b = bag("The Kafka consumers lag; kafka consumer LAG!");
        let k = bag("kafka consumer lag");
        assert!((b.cosine(&k) - 1.0).abs() < 1e-9);
        assert!(bag("the and of to").is_empty());
        assert!(!bag("王伟 说 翻译完成了").is_empty());
    }

    #[test]
    fn a_clear_switch_is_found_and_nothing_else() {
        let mut texts: Vec<String> = (0..8).map(|i| format!("kafka consumer lag partition rebalance {i}")).collect();
        texts.extend((0..8).map(|i| format!("terraform state backend migration bucket {i}")));
        let bags: Vec<Bag> = texts.iter().map(|t| bag(t)).collect();
        assert_eq!(shifts(&bags, &[], &ShiftOptions::default()), vec![8]);
        let same: Vec<Bag> = (0..16).map(|i| bag(&format!("kafka consumer lag partition {i}"))).collect();
        assert!(shifts(&same, &[], &ShiftOptions::default()).is_empty());
    }

    #[test]
    fn sides_keep_their_minimum() {
        let texts = ["alpha beta", "alpha beta", "gamma delta", "gamma delta"];
        let bags: Vec<Bag> = texts.iter().map(|t| bag(t)).collect();
        let o = |m| ShiftOptions { window: 1, min_depth: 0.1, min_items: m, ..ShiftOptions::default() };
        assert!(shifts(&bags, &[], &o(3)).is_empty());
        assert_eq!(shifts(&bags, &[], &o(2)), vec![2]);
    }

    #[test]
    fn a_new_question_opens_a_subject() {
        let texts = ["i love horror movies", "horror movies scare me", "what do you do for a living?", "i am a nurse"];
        let bags: Vec<Bag> = texts.iter().map(|t| bag(t)).collect();
        let q: Vec<bool> = texts.iter().map(|t| asks(t)).collect();
        let o = ShiftOptions { window: 1, min_depth: 0.9, min_items: 1, cue_weight: 0.5, cue_back: 2 };
        assert_eq!(shifts(&bags, &q, &o), vec![2]);
        assert!(shifts(&bags, &[], &o).is_empty());
    }
}
