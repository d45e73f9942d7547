//! Key-phrase candidates of ASCII text, exactly as `rem.understand.text.phrases` and
//! `rem.understand.keyphrases.candidates` compute them in Python (the understanding's
//! largest share on chat; Python keeps every other script).
//!
//! A text is scanned once for clause ends (`, ; : ( ) [ ] { } " ! ?`, a full stop before
//! whitespace or the end, ` - `) and tokens (an optional `#`/`@`, a letter or digit, then
//! letters, digits, `_`, or one of `. / + - #` followed by a letter or digit). A run of
//! content tokens (not a stopword, 2–40 characters, not a number, holding a letter; an
//! `@mention` ends a run) inside a clause gives every phrase of one to three tokens: its key
//! (folded: lower case, `#@.-/+` stripped from the ends, a light English plural removed)
//! and its surface as written.
//!
//! Only ASCII text is read here, with the punctuation and pictographs chat adds to it (curly
//! quotes, dashes, an ellipsis, emoji: [`readable`]); [`PhraseReader::candidates`] returns `None`
//! for any other text. Every token is then ASCII, and for ASCII Python's `\w`, `str.casefold`,
//! NFKC and `isspace` have the plain meanings this module gives them; the characters allowed
//! besides are neither word characters nor whitespace for Python (Unicode 14: checked when this
//! list was written), so a scan skips them as Python's does. Both paths agree byte for byte (a
//! property test in `tests/test_understand.py` compares them).

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// The phrase keys' stopwords, given once.
pub struct PhraseReader {
    stop: HashSet<String>,
}

/// A segment's candidates, in the order Python's dicts hold them (first occurrence).
#[derive(Debug, Default, PartialEq)]
pub struct Candidates {
    /// Every phrase key.
    pub keys: Vec<String>,
    /// Each key's summed weight of the texts holding it.
    pub support: Vec<f64>,
    /// Each key's most frequent surface (the first written of the most frequent).
    pub top: Vec<String>,
    /// The spelling to show for each word (lower case) and for its stem key (`keyphrases._casing`).
    pub casing: Vec<(String, String)>,
}

enum Piece {
    End,
    Token(usize, usize),
}

fn alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// Python's `str.isspace` on an ASCII character (the separators `\x1c`–`\x1f` included).
fn space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f)
}

/// Text this module reads exactly as Python does: ASCII, and characters that are neither word
/// characters nor whitespace (nor joiners) for Python — typographic punctuation and pictographs.
pub fn readable(text: &str) -> bool {
    text.is_ascii()
        || text.chars().all(|c| {
            c.is_ascii()
                || matches!(c, '\u{2018}' | '\u{2019}' | '\u{201C}' | '\u{201D}' | '\u{2013}' | '\u{2014}' | '\u{2026}'
                    | '\u{2022}' | '\u{00B7}' | '\u{00BF}' | '\u{00A1}' | '\u{FE0F}' | '\u{2764}'
                    | '\u{2600}'..='\u{26FF}' | '\u{1F300}'..='\u{1FAFF}')
        })
}

const LEFT_QUOTE: &[u8] = "\u{201C}".as_bytes();
const RIGHT_QUOTE: &[u8] = "\u{201D}".as_bytes();
const SPACED_DASH: &[u8] = " \u{2014} ".as_bytes();

fn scan(text: &str, out: &mut Vec<Piece>) {
    let b = text.as_bytes();
    let n = b.len();
    let mut i = 0;
    while i < n {
        let c = b[i];
        if matches!(c, b',' | b';' | b':' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'"' | b'!' | b'?') {
            out.push(Piece::End);
            i += 1;
            continue;
        }
        if c == b'.' && (i + 1 == n || space(b[i + 1])) {
            out.push(Piece::End);
            i += if i + 1 == n { 1 } else { 2 };
            continue;
        }
        if c == b' ' && i + 2 < n && b[i + 1] == b'-' && b[i + 2] == b' ' {
            out.push(Piece::End);
            i += 3;
            continue;
        }
        // “ ” and a spaced em dash end a clause too; any other byte of a character that is not ASCII
        // (never a word character here) is passed over like Python passes the character
        if b[i..].starts_with(LEFT_QUOTE) || b[i..].starts_with(RIGHT_QUOTE) {
            out.push(Piece::End);
            i += LEFT_QUOTE.len();
            continue;
        }
        if b[i..].starts_with(SPACED_DASH) {
            out.push(Piece::End);
            i += SPACED_DASH.len();
            continue;
        }
        let mut j = if c == b'#' || c == b'@' { i + 1 } else { i };
        if j < n && alnum(b[j]) {
            j += 1;
            // a word character, or a joiner followed by a letter or digit
            while j < n
                && (alnum(b[j]) || b[j] == b'_' || (j + 1 < n && matches!(b[j], b'.' | b'/' | b'+' | b'-' | b'#') && alnum(b[j + 1])))
            {
                j += 1;
            }
            out.push(Piece::Token(i, j));
            i = j;
        } else {
            i += 1;
        }
    }
}

fn fold(token: &str) -> String {
    token.to_ascii_lowercase().trim_matches(|c| matches!(c, '#' | '@' | '.' | '-' | '/' | '+')).to_string()
}

fn stem(word: &str) -> String {
    let n = word.len();
    if n > 4 && word.bytes().all(|c| c.is_ascii_alphabetic()) {
        if word.ends_with("ies") && n > 5 {
            return format!("{}y", &word[..n - 3]);
        }
        if ["ches", "shes", "sses", "xes", "zes"].iter().any(|e| word.ends_with(e)) {
            return word[..n - 2].to_string();
        }
        if word.ends_with('s') && !["ss", "us", "is", "ous"].iter().any(|e| word.ends_with(e)) {
            return word[..n - 1].to_string();
        }
    }
    word.to_string()
}

impl PhraseReader {
    pub fn new<I: IntoIterator<Item = String>>(stopwords: I) -> Self {
        PhraseReader { stop: stopwords.into_iter().collect() }
    }

    fn content(&self, word: &str) -> bool {
        if self.stop.contains(word) || !(2..=40).contains(&word.len()) {
            return false;
        }
        let digits: Vec<u8> = word.bytes().filter(|&c| c != b'.' && c != b',').collect();
        if !digits.is_empty() && digits.iter().all(|c| c.is_ascii_digit()) {
            return false;
        }
        word.bytes().any(|c| c.is_ascii_alphabetic())
    }

    /// Every (key, surface) of an ASCII text, in the order Python yields them (a phrase of two or three words is
    /// spelled into buffers reused for the next: the caller copies what it keeps).
    fn phrases(&self, text: &str, f: &mut impl FnMut(&str, &str)) {
        let mut pieces = Vec::new();
        scan(text, &mut pieces);
        let mut run: Vec<&str> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        let (mut kbuf, mut sbuf) = (String::new(), String::new());
        let mut flush = |run: &mut Vec<&str>, keys: &mut Vec<String>, f: &mut dyn FnMut(&str, &str)| {
            let n = run.len();
            for i in 0..n {
                f(&keys[i], run[i]);
                for j in (i + 2)..=(n.min(i + 3)) {
                    kbuf.clear();
                    sbuf.clear();
                    for x in i..j {
                        if x > i {
                            kbuf.push(' ');
                            sbuf.push(' ');
                        }
                        kbuf.push_str(&keys[x]);
                        sbuf.push_str(run[x]);
                    }
                    f(&kbuf, &sbuf);
                }
            }
            run.clear();
            keys.clear();
        };
        for p in pieces {
            match p {
                Piece::Token(a, b) if text.as_bytes()[a] != b'@' => {
                    let tok = &text[a..b];
                    let folded = fold(tok);
                    if self.content(&folded) {
                        run.push(tok);
                        keys.push(stem(&folded));
                        continue;
                    }
                    flush(&mut run, &mut keys, f);
                }
                _ => flush(&mut run, &mut keys, f),
            }
        }
        flush(&mut run, &mut keys, f);
    }

    /// The distinct phrase keys of a text (a background document), or None when it is not ASCII.
    pub fn keys(&self, text: &str) -> Option<Vec<String>> {
        if !readable(text) {
            return None;
        }
        let mut seen: HashSet<String> = HashSet::default();
        self.phrases(text, &mut |k, _| {
            if !seen.contains(k) {
                seen.insert(k.to_string());
            }
        });
        Some(seen.into_iter().collect())
    }

    /// The distinct words of these texts as the understanding compares them (every token folded and its
    /// plural removed: `stem(fold(t))` for each of Python's `tokens`), or None when a text is not one this
    /// module reads.
    pub fn vocabulary(&self, texts: &[String]) -> Option<Vec<String>> {
        if !texts.iter().all(|t| readable(t)) {
            return None;
        }
        let mut seen: HashSet<String> = HashSet::default();
        let mut pieces = Vec::new();
        for text in texts {
            pieces.clear();
            scan(text, &mut pieces);
            for p in &pieces {
                if let Piece::Token(a, b) = *p {
                    seen.insert(stem(&fold(&text[a..b])));
                }
            }
        }
        Some(seen.into_iter().collect())
    }

    /// The positions of the `limit` most central of these sentences (already stripped of labels and openers, and
    /// of a summary's length), in their order, as `rem.understand.describe.central_sentences` picks them: a
    /// sentence sharing more than half its words (lower case) with one kept before it is left out; each kept
    /// sentence's content words (folded, stemmed, counted) score by how many other kept sentences hold them,
    /// over its norm and the root of the kept count, plus 1.5 for each of `key_words` it holds. None when a
    /// sentence is not one this module reads.
    pub fn central(&self, sentences: &[String], key_words: &[String], limit: usize) -> Option<Vec<usize>> {
        if !sentences.iter().all(|t| readable(t)) {
            return None;
        }
        let keys: HashSet<&str> = key_words.iter().map(String::as_str).collect();
        let mut kept: Vec<usize> = Vec::new();
        let mut kept_words: Vec<Vec<String>> = Vec::new(); // each kept sentence's words (lower case), sorted, once each
        let mut vecs: Vec<Vec<(String, u64)>> = Vec::new(); // each kept sentence's stems, in first-occurrence order
        let mut pieces = Vec::new();
        for (i, s) in sentences.iter().enumerate() {
            pieces.clear();
            scan(s, &mut pieces);
            let toks: Vec<&str> = pieces
                .iter()
                .filter_map(|p| match *p {
                    Piece::Token(a, b) => Some(&s[a..b]),
                    Piece::End => None,
                })
                .collect();
            let mut words: Vec<String> = toks.iter().map(|t| t.to_ascii_lowercase()).collect();
            words.sort_unstable();
            words.dedup();
            if kept_words.iter().any(|k| shared(&words, k) as f64 > 0.5 * words.len().min(k.len()) as f64) {
                continue;
            }
            let mut v: Vec<(String, u64)> = Vec::new(); // a sentence has few words: a scan finds one sooner than a hash
            for t in &toks {
                let f = fold(t);
                if !self.content(&f) {
                    continue;
                }
                let st = stem(&f);
                match v.iter_mut().find(|(w, _)| *w == st) {
                    Some((_, n)) => *n += 1,
                    None => v.push((st, 1)),
                }
            }
            kept.push(i);
            kept_words.push(words);
            vecs.push(v);
        }
        let mut centroid: HashMap<&str, u64> = HashMap::default();
        for v in &vecs {
            for (w, _) in v {
                *centroid.entry(w.as_str()).or_insert(0) += 1;
            }
        }
        let root = (kept.len() as f64).powf(0.5); // Python's `n ** 0.5` is C's pow, not sqrt
        let mut scored: Vec<(f64, usize)> = Vec::new();
        for (k, v) in vecs.iter().enumerate() {
            if v.is_empty() {
                continue;
            }
            let norm = (v.iter().map(|(_, x)| x * x).sum::<u64>() as f64).sqrt();
            let common: u64 = v.iter().map(|(w, x)| x * (centroid.get(w.as_str()).copied().unwrap_or(1) - 1)).sum();
            let sim = common as f64 / (norm * root);
            let keyed = v.iter().filter(|(w, _)| keys.contains(w.as_str())).count();
            scored.push((sim + 1.5 * keyed as f64, k));
        }
        // Python's sorted(reverse=True) on (score, index): the best first, a tie to the later sentence
        scored.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(b.1.cmp(&a.1)));
        let mut top: Vec<usize> = scored.into_iter().take(limit).map(|(_, k)| k).collect();
        top.sort_unstable();
        Some(top.into_iter().map(|k| kept[k]).collect())
    }

    /// The candidates of (text, weight) per item, or None when a text is not ASCII.
    pub fn candidates(&self, texts: &[String], weights: &[f64]) -> Option<Candidates> {
        if texts.len() != weights.len() || !texts.iter().all(|t| readable(t)) {
            return None;
        }
        let mut index: HashMap<String, usize> = HashMap::default();
        let mut out = Candidates::default();
        let mut surfaces: Vec<Vec<(String, u32)>> = Vec::new();
        for (text, &w) in texts.iter().zip(weights) {
            let mut seen: HashSet<usize> = HashSet::default();
            self.phrases(text, &mut |key, surface| {
                let k = match index.get(key) {
                    Some(&k) => k,
                    None => {
                        let k = out.keys.len();
                        index.insert(key.to_string(), k);
                        out.keys.push(key.to_string());
                        out.support.push(0.0);
                        surfaces.push(Vec::new());
                        k
                    }
                };
                match surfaces[k].iter_mut().find(|(s, _)| s == surface) {
                    Some((_, c)) => *c += 1,
                    None => surfaces[k].push((surface.to_string(), 1)),
                }
                if seen.insert(k) {
                    out.support[k] += w;
                }
            });
        }
        // the first of the most frequent surfaces (Counter.most_common(1))
        for s in &surfaces {
            let mut best: Option<&(String, u32)> = None;
            for x in s {
                if best.is_none_or(|b| x.1 > b.1) {
                    best = Some(x);
                }
            }
            out.top.push(best.map(|b| b.0.clone()).unwrap_or_default());
        }
        out.casing = with_stem_keys(casing(&surfaces));
        Some(out)
    }
}

/// The spellings of the words as `keyphrases._casing` returns them: each word's stem key first (in the words'
/// order; of words sharing one, the last one's spelling), then the words themselves (a word that is its own stem
/// key keeps its place) — Python's `{stem_key(w): v for w, v in casing} | dict(casing)`.
fn with_stem_keys(casing: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::with_capacity(casing.len() * 2);
    let mut at: HashMap<String, usize> = HashMap::default();
    let mut put = |out: &mut Vec<(String, String)>, k: String, v: &str| match at.get(&k) {
        Some(&i) => v.clone_into(&mut out[i].1),
        None => {
            at.insert(k.clone(), out.len());
            out.push((k, v.to_string()));
        }
    };
    for (w, v) in &casing {
        put(&mut out, stem(&fold(w)), v);
    }
    for (w, v) in casing {
        put(&mut out, w, &v);
    }
    out
}

/// How many words two sorted lists of distinct words share.
fn shared(a: &[String], b: &[String]) -> usize {
    let (mut i, mut j, mut n) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                n += 1;
                i += 1;
                j += 1;
            }
        }
    }
    n
}

/// The spelling to show for each word, as `keyphrases._casing` decides it (before its stem keys are added).
fn casing(surfaces: &[Vec<(String, u32)>]) -> Vec<(String, String)> {
    let mut order: Vec<String> = Vec::new();
    let mut seen: HashMap<String, Vec<(String, u32)>> = HashMap::default();
    for s in surfaces {
        for (surface, n) in s {
            for w in surface.split(' ') {
                let low = w.to_ascii_lowercase();
                let variants = seen.entry(low.clone()).or_insert_with(|| {
                    order.push(low);
                    Vec::new()
                });
                match variants.iter_mut().find(|(v, _)| v == w) {
                    Some((_, c)) => *c += n,
                    None => variants.push((w.to_string(), *n)),
                }
            }
        }
    }
    let upper = |c: &u8| c.is_ascii_uppercase();
    order
        .into_iter()
        .map(|low| {
            let variants = &seen[&low];
            let best = |vs: &mut dyn Iterator<Item = &(String, u32)>| {
                vs.max_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0))).map(|v| v.0.clone())
            };
            let marked: Vec<&(String, u32)> = variants
                .iter()
                .filter(|(v, _)| v.bytes().filter(upper).count() >= 2 || v.bytes().skip(1).any(|c| upper(&c)))
                .collect();
            let total: u32 = variants.iter().map(|v| v.1).sum();
            let capital: u32 = variants.iter().filter(|(v, _)| v.bytes().next().is_some_and(|c| upper(&c))).map(|v| v.1).sum();
            let chosen = if !marked.is_empty() {
                best(&mut marked.into_iter())
            } else if total >= 3 && f64::from(capital) >= 0.8 * f64::from(total) {
                best(&mut variants.iter())
            } else {
                None
            };
            let chosen = chosen.unwrap_or_else(|| low.clone());
            (low, chosen)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader() -> PhraseReader {
        PhraseReader::new(["the", "a", "to", "and", "is", "we", "of", "it", "on"].map(String::from))
    }

    #[test]
    fn runs_end_at_clauses_stopwords_and_mentions() {
        let c = reader().candidates(&["We moved the HNSW index. Vector search, @sam fixes".into()], &[1.5]).unwrap();
        // "the" ends a run, so does a full stop, a comma and a mention
        assert_eq!(c.keys, ["moved", "hnsw", "hnsw index", "index", "vector", "vector search", "search", "fix"]);
        assert!(c.support.iter().all(|&s| s == 1.5));
        assert_eq!(c.top[1], "HNSW");
        assert!(c.casing.contains(&("hnsw".to_string(), "HNSW".to_string())));
    }

    #[test]
    fn tokens_keep_identifiers_whole_and_numbers_are_not_content() {
        let c = reader().candidates(&["ef_search on src/hnsw/search.rs is 42 and 3.14 - v1.2 #123".into()], &[1.0]).unwrap();
        assert_eq!(c.keys, ["ef_search", "src/hnsw/search.rs", "v1.2"]);
    }

    #[test]
    fn support_counts_a_text_once_and_the_most_frequent_surface_wins() {
        let texts = ["Kafka kafka Kafka", "kafka", "Kafka", "Kafka runs on Kafka"].map(String::from);
        let c = reader().candidates(&texts, &[1.0, 2.0, 0.5, 1.0]).unwrap();
        let k = c.keys.iter().position(|k| k == "kafka").unwrap();
        assert_eq!(c.support[k], 4.5);
        assert_eq!(c.top[k], "Kafka");
        // capitalized in 7 of the 12 words of its phrases: under 80 %, shown in lower case
        assert!(c.casing.contains(&("kafka".to_string(), "kafka".to_string())));
    }

    #[test]
    fn curly_quotes_dashes_and_emoji_are_read_and_end_clauses_where_python_ends_them() {
        let c = reader()
            .candidates(&["I\u{2019}m fixing \u{201C}vector search\u{201D} now \u{2014} HNSW index\u{2026} \u{1F44D}\u{1F3FD} great".into()], &[1.0])
            .unwrap();
        // "I" and "m" are too short; the quotes and the spaced dash end clauses, the ellipsis and the emoji do not
        assert_eq!(c.keys, ["fixing", "vector", "vector search", "search", "now", "hnsw", "hnsw index", "hnsw index great",
                            "index", "index great", "great"]);
    }

    #[test]
    fn the_vocabulary_holds_every_token_folded_and_stemmed_once() {
        let mut v = reader().vocabulary(&["Queries on @Alice's #HNSW indexes.".into(), "the queries".into()]).unwrap();
        v.sort();
        assert_eq!(v, ["alice", "hnsw", "index", "on", "query", "s", "the"]);
        assert_eq!(reader().vocabulary(&["ok".into(), "é".into()]), None);
    }

    #[test]
    fn central_sentences_skip_near_duplicates_and_favour_shared_and_key_words() {
        let s: Vec<String> = [
            "the vector index rebuild failed on the big shard",
            "the vector index rebuild failed on the big shard again",
            "lunch was at noon with nobody in particular",
            "we moved the vector index rebuild to friday",
            "memory for the index rebuild is low",
        ]
        .map(String::from)
        .to_vec();
        let keys = ["memory".to_string()];
        // 1 repeats 0; the words of the rebuild are shared most by 3, and 4 holds the key word
        assert_eq!(reader().central(&s, &keys, 2), Some(vec![3, 4]));
        assert_eq!(reader().central(&s, &[], 1), Some(vec![3]));
        assert_eq!(reader().central(&["café au lait".into()], &keys, 1), None);
    }

    #[test]
    fn text_that_is_not_ascii_is_left_to_python() {
        assert!(reader().candidates(&["café au lait".into()], &[1.0]).is_none());
        assert!(reader().keys("naïve").is_none());
        assert!(reader().candidates(&["a".into()], &[]).is_none());
    }
}
