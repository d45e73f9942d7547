//! Packing activity for the model: segments and chunks under a token budget, topic shifts, token estimates.

use arrow::array::ArrayData;
use arrow::pyarrow::PyArrowType;
use pyo3::prelude::*;

use rem_core::keyrank::Picks;
use rem_core::pack::{pack, PackOptions};

use crate::error::{import, Batch, BindError};

/// Segment and pack activity into chunks under a token budget.
///
/// :param resources: RecordBatch with ``id``, ``ts`` (int64 µs) and optional
///     ``name``, ``resource_type``, ``content``.
/// :param sessions: RecordBatch with ``id`` and optional ``name``.
/// :param messages: RecordBatch with ``id``, ``session_id``, ``ts`` and
///     optional ``role``, ``content``, ``tool_calls``.
/// :param gap_minutes: idle gap that ends a run or a segment.
/// :param max_input_tokens: token budget of one chunk (offline estimate).
/// :param max_item_chars: characters kept of one item's content.
/// :param tool_max_chars: characters kept of a tool output or tool-call arguments.
/// :param topic_window: texts compared on each side of a possible topic shift.
/// :param topic_min_depth: how deep a similarity valley must be to cut there.
/// :param conversation: ``(window, min_depth, min_items, cue_weight, cue_back, min_split_items)``
///     for cutting one conversation without a pause where its topic turns
///     (default: the values tuned on dialogue data, see ``rem_core::segment``).
/// :returns: ``(chunks, items, segments)`` as pyarrow RecordBatches.
/// :raises rem.exceptions.NativeError: on a missing or mistyped column, a null
///     id or time, or a budget too small for one item.
#[pyfunction]
#[pyo3(signature = (resources, sessions, messages, *, gap_minutes=30.0, max_input_tokens=6000, max_item_chars=1200, tool_max_chars=60, topic_segments=true, topic_window=5, topic_min_depth=0.55, conversation=None))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn pack_activity(
    py: Python<'_>,
    resources: &Bound<'_, PyAny>,
    sessions: &Bound<'_, PyAny>,
    messages: &Bound<'_, PyAny>,
    gap_minutes: f64,
    max_input_tokens: usize,
    max_item_chars: usize,
    tool_max_chars: usize,
    topic_segments: bool,
    topic_window: usize,
    topic_min_depth: f64,
    conversation: Option<(usize, f64, usize, f64, usize, usize)>,
) -> PyResult<(Batch, Batch, Batch)> {
    let (r, s, m) = (import(resources, "resources")?, import(sessions, "sessions")?, import(messages, "messages")?);
    let out = py
        .detach(|| {
            let opts = PackOptions::new(gap_minutes, max_input_tokens, max_item_chars, tool_max_chars)?
                .with_topics(topic_segments, topic_window, topic_min_depth, conversation);
            pack(r.validated()?, s.validated()?, m.validated()?, &opts)
        })
        .map_err(BindError::from)?;
    Ok((PyArrowType(out.chunks), PyArrowType(out.items), PyArrowType(out.segments)))
}

/// Where the subject of a sequence of texts changes (lexical cohesion, the
/// segmenter dreams use inside long segments; see ``rem_core::cohesion``).
///
/// :param texts: the texts in order (turns of a conversation, items of a day).
/// :param window: texts compared on each side of a gap.
/// :param min_depth: how deep a similarity valley must be to be a shift.
/// :param min_items: texts each side of a shift keeps at least.
/// :param cue_weight: depth added at a question sharing no word with the texts before it.
/// :param cue_back: how many texts before a question are compared.
/// :returns: the indices ``i`` where a new topic starts (between text ``i-1`` and ``i``).
#[pyfunction]
#[pyo3(signature = (texts, *, window=5, min_depth=0.55, min_items=4, cue_weight=0.25, cue_back=2))]
pub(crate) fn topic_shifts(py: Python<'_>, texts: Vec<String>, window: usize, min_depth: f64, min_items: usize, cue_weight: f64,
                cue_back: usize) -> Vec<usize> {
    let opts = rem_core::cohesion::ShiftOptions { window, min_depth, min_items, cue_weight, cue_back };
    py.detach(|| rem_core::cohesion::text_shifts(&texts, &opts))
}

/// A segment's key phrases picked from its candidates (see ``rem_core::keyrank``): the tags and the headline,
/// each as (index of the key, score), best first.
///
/// :param keys: the candidate phrase keys that may be topics, distinct.
/// :param support: each key's summed item weight.
/// :param known: whether each key is one of the owner's topics so far.
/// :param key_df: each key's document frequency in the background.
/// :param word_df: the document frequency of each word of each key, key after key.
/// :param n: the background's number of documents.
/// :param limit: how many tags at most.
/// :param floor: none scoring under ``floor`` × the best.
#[pyfunction]
#[allow(clippy::too_many_arguments)]
pub(crate) fn rank_phrases(py: Python<'_>, keys: Vec<String>, support: Vec<f64>, known: Vec<bool>, key_df: Vec<u64>,
                           word_df: Vec<u64>, n: u64, limit: usize, floor: f64) -> PyResult<(Picks, Picks)> {
    let c = rem_core::keyrank::Candidates { keys: &keys, support: &support, known: &known, key_df: &key_df, word_df: &word_df, n };
    Ok(py.detach(|| rem_core::keyrank::rank(&c, limit, floor)).map_err(BindError::from)?)
}

/// Estimated tokens of a string (see ``rem_core::tokens``: one per four ASCII
/// bytes plus one per non-ASCII character; an estimate, no vocabulary).
///
/// :param text: any string.
/// :returns: the estimate.
#[pyfunction]
pub(crate) fn estimate_tokens(text: &str) -> usize {
    rem_core::tokens::estimate(text)
}


/// Key-phrase candidates of ASCII chat text (see ``rem_core::phrases``), the same as
/// ``rem.understand.keyphrases``' Python computes them.
///
/// :param stopwords: the words that end a run (``rem.understand.text.STOPWORDS``).
#[pyclass(frozen, name = "PhraseReader", module = "rem._rem")]
pub(crate) struct PyPhraseReader {
    r: rem_core::phrases::PhraseReader,
}

#[pymethods]
impl PyPhraseReader {
    #[new]
    fn new(stopwords: Vec<String>) -> Self {
        PyPhraseReader { r: rem_core::phrases::PhraseReader::new(stopwords) }
    }

    /// ``(keys, support, top surfaces, casing pairs)`` of (text, weight) per item, in first-occurrence order;
    /// None when a text is not one the core reads (``rem_core::phrases::readable``) or the lists differ in length.
    #[allow(clippy::type_complexity)]
    fn candidates(&self, py: Python<'_>, texts: Vec<String>, weights: Vec<f64>)
                  -> Option<(Vec<String>, Vec<f64>, Vec<String>, Vec<(String, String)>)> {
        py.detach(|| self.r.candidates(&texts, &weights)).map(|c| (c.keys, c.support, c.top, c.casing))
    }

    /// The distinct words of these texts, each token folded and its plural removed, or None when the core does
    /// not read one of them.
    fn vocabulary(&self, py: Python<'_>, texts: Vec<String>) -> Option<Vec<String>> {
        py.detach(|| self.r.vocabulary(&texts))
    }

    /// The positions of the ``limit`` most central of these sentences, in their order (see
    /// ``rem.understand.describe.central_sentences``), or None when the core does not read one of them.
    fn central(&self, py: Python<'_>, sentences: Vec<String>, key_words: Vec<String>, limit: usize) -> Option<Vec<usize>> {
        py.detach(|| self.r.central(&sentences, &key_words, limit))
    }

    /// The distinct phrase keys of a text, or None when the core does not read it.
    fn keys(&self, py: Python<'_>, text: String) -> Option<Vec<String>> {
        py.detach(|| self.r.keys(&text))
    }
}

/// Cue words counted in ASCII text (see ``rem_core::cues``): each pattern's number of matches, as Python's
/// ``len(re.findall(pattern, text))`` counts them.
///
/// :param patterns: the patterns (Python ``re`` syntax without lookaround or backreferences).
#[pyclass(frozen, name = "CueCounter", module = "rem._rem")]
pub(crate) struct PyCueCounter {
    c: rem_core::cues::CueCounter,
}

#[pymethods]
impl PyCueCounter {
    #[new]
    fn new(patterns: Vec<String>) -> PyResult<Self> {
        Ok(PyCueCounter { c: rem_core::cues::CueCounter::new(&patterns).map_err(BindError::from)? })
    }

    /// Each pattern's number of matches in ``text``, or None when ``text`` is not ASCII.
    fn count(&self, py: Python<'_>, text: String) -> Option<Vec<usize>> {
        py.detach(|| self.c.count(&text))
    }
}

/// A set of words looked for as substrings, in any script (see ``rem_core::cues::LiteralSet``): which texts hold
/// one, as ``re.search("|".join(map(re.escape, words)), text)`` says.
///
/// :param words: the words.
#[pyclass(frozen, name = "LiteralSet", module = "rem._rem")]
pub(crate) struct PyLiteralSet {
    s: rem_core::cues::LiteralSet,
}

#[pymethods]
impl PyLiteralSet {
    #[new]
    fn new(words: Vec<String>) -> PyResult<Self> {
        Ok(PyLiteralSet { s: rem_core::cues::LiteralSet::new(&words).map_err(BindError::from)? })
    }

    /// For each text, whether one of the words occurs in it.
    fn holds(&self, py: Python<'_>, texts: Vec<String>) -> Vec<bool> {
        py.detach(|| self.s.holds(&texts))
    }
}

/// Which of a set of patterns can match each text, all asked at once (see ``rem_core::cues::RuleSet``).
///
/// :param patterns: up to 64 regular expressions (Rust's syntax; ``(?i)`` to ignore case).
#[pyclass(frozen, name = "RuleSet", module = "rem._rem")]
pub(crate) struct PyRuleSet {
    s: rem_core::cues::RuleSet,
}

#[pymethods]
impl PyRuleSet {
    #[new]
    fn new(patterns: Vec<String>) -> PyResult<Self> {
        Ok(PyRuleSet { s: rem_core::cues::RuleSet::new(&patterns).map_err(BindError::from)? })
    }

    /// For each text, a bit per pattern that can match it (bit ``i``: pattern ``i``); every bit for a text beyond
    /// ASCII or holding the separators 0x1c–0x1f (not read).
    fn may_match(&self, py: Python<'_>, texts: Vec<String>) -> Vec<u64> {
        py.detach(|| self.s.may_match(&texts))
    }
}

/// VADER's compound valence of ASCII sentences (see ``rem_core::valence``), over the tables of the
/// ``vaderSentiment`` package the caller gives.
///
/// :param lexicon: word → valence (``SentimentIntensityAnalyzer().lexicon``).
/// :param boosters: ``BOOSTER_DICT``.
/// :param negate: ``NEGATE``.
/// :param special: ``SPECIAL_CASES``.
/// :param c_incr: ``C_INCR``.
/// :param n_scalar: ``N_SCALAR``.
#[pyclass(frozen, name = "Valence", module = "rem._rem")]
pub(crate) struct PyValence {
    v: rem_core::valence::Valence,
}

#[pymethods]
impl PyValence {
    #[new]
    fn new(
        lexicon: Vec<(String, f64)>,
        boosters: Vec<(String, f64)>,
        negate: Vec<String>,
        special: Vec<(String, f64)>,
        c_incr: f64,
        n_scalar: f64,
    ) -> Self {
        let k = rem_core::valence::Scalars { c_incr, n_scalar };
        PyValence { v: rem_core::valence::Valence::new(lexicon, boosters, negate, special, k) }
    }

    /// For each text, VADER's compound score before ``polarity_scores`` rounds it, or None when the text is not
    /// ASCII (ask VADER itself).
    fn compound(&self, py: Python<'_>, texts: Vec<String>) -> Vec<Option<f64>> {
        py.detach(|| texts.iter().map(|t| self.v.compound(t)).collect())
    }
}

/// The greedy parse of spaCy's entity model from its tokens' hidden-layer features (``rem_core::entities``).
///
/// :param hidden: the hidden layer's width; :param pieces: its maxout pieces.
/// :param pad: the vector of a feature slot without a token (3 × hidden × pieces values).
/// :param bias: the hidden layer's bias (hidden × pieces); :param upper_w: the output layer (moves × hidden);
/// :param upper_b: its bias; :param seen: whether the model saw each move in training.
/// :param moves: each move's BILUO letter and label number (0: none).
#[pyclass(frozen, name = "EntityParser", module = "rem._rem")]
pub(crate) struct PyEntityParser {
    p: rem_core::entities::EntityParser,
}

#[pymethods]
impl PyEntityParser {
    #[new]
    #[allow(clippy::too_many_arguments)]
    fn new(hidden: usize, pieces: usize, pad: Vec<f32>, bias: Vec<f32>, upper_w: Vec<f32>, upper_b: Vec<f32>,
           seen: Vec<bool>, moves: Vec<(char, u32)>) -> PyResult<Self> {
        use rem_core::entities::Move;
        let mut mv = Vec::with_capacity(moves.len());
        for (letter, label) in moves {
            let m = Move::from_letter(letter).ok_or_else(|| BindError::from(rem_core::CoreError::InvalidOption(
                format!("entity parser: unknown move {letter:?} (expected one of B I L U O M)"))))?;
            mv.push((m, label));
        }
        let w = rem_core::entities::Weights { hidden, pieces, pad, bias, upper_w, upper_b, seen };
        let p = rem_core::entities::EntityParser::new(w, mv).map_err(BindError::from)?;
        Ok(PyEntityParser { p })
    }

    /// The entities of a batch of sentences as ``(sentence, start, end, label)``.
    ///
    /// :param features: float32, one row per token (``3 × hidden × pieces`` values), sentence after sentence.
    /// :param lengths: uint32, each sentence's tokens.
    /// :param space: bool, whether each token is whitespace.
    fn parse(&self, py: Python<'_>, features: PyArrowType<ArrayData>, lengths: PyArrowType<ArrayData>,
             space: PyArrowType<ArrayData>) -> PyResult<Vec<(usize, usize, usize, u32)>> {
        let f = arrow::array::Float32Array::from(features.0);
        let n = arrow::array::UInt32Array::from(lengths.0);
        let s = arrow::array::BooleanArray::from(space.0);
        let found = py.detach(|| {
            let blank: Vec<bool> = s.iter().map(|b| b.unwrap_or(false)).collect();
            self.p.parse(f.values(), n.values(), &blank)
        }).map_err(BindError::from)?;
        Ok(found.into_iter().map(|e| (e.sentence, e.start, e.end, e.label)).collect())
    }
}
