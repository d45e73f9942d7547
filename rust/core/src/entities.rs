//! The greedy parse of a transition-based entity recognizer: spaCy's `ner` (the BILUO "push-down" system of
//! `spacy.pipeline._parser_internals.ner` with the `TransitionBasedParser.v2` model), from the point where the
//! tokens' vectors are known.
//!
//! The caller computes what is heavy and regular — each token's contribution to the hidden layer for each
//! feature slot, one matrix product over all tokens — and the core walks each sentence token by token: which
//! three tokens the state looks at, their vectors summed with the bias, maxout, the output layer, the moves that
//! are valid in that state, the best of them taken. spaCy runs the same loop in Cython; there it was more than
//! half of the entity model's time, mostly the validity of its 74 moves per token, asked one at a time through
//! function pointers.
//!
//! The sentences of a batch are stepped together, as spaCy steps them, so that the one batch-wide rule (the
//! scores of classes the model never saw are set to the step's lowest score) holds as there.

use crate::error::{CoreError, Result};

/// What a move does (`MISSING` is never valid outside training).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Move {
    Missing,
    Begin,
    In,
    Last,
    Unit,
    Out,
}

impl Move {
    /// The move named by a BILUO letter (`B`, `I`, `L`, `U`, `O`, `M`).
    pub fn from_letter(c: char) -> Option<Move> {
        Some(match c {
            'M' => Move::Missing,
            'B' => Move::Begin,
            'I' => Move::In,
            'L' => Move::Last,
            'U' => Move::Unit,
            'O' => Move::Out,
            _ => return None,
        })
    }
}

/// One entity found: the sentence (its position in the batch), its tokens `start..end` and its label (the
/// number the caller gave the label in [`EntityParser::new`]'s `moves`; 0 is no label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entity {
    pub sentence: usize,
    pub start: usize,
    pub end: usize,
    pub label: u32,
}

/// The model's state-to-move layers and its moves.
#[derive(Clone, Debug)]
pub struct EntityParser {
    hidden: usize,
    pieces: usize,
    /// the vector of a feature slot that has no token: `[slot][hidden][piece]`
    pad: Vec<f32>,
    /// `[hidden][piece]`
    bias: Vec<f32>,
    /// `[class][hidden]`
    upper_w: Vec<f32>,
    upper_b: Vec<f32>,
    seen: Vec<bool>,
    moves: Vec<(Move, u32)>,
}

/// The weights of the parser's two layers after the tokens' features.
#[derive(Clone, Debug)]
pub struct Weights {
    /// the hidden layer's width and its maxout pieces
    pub hidden: usize,
    pub pieces: usize,
    /// `SLOTS × hidden × pieces`: the vector of a feature slot without a token
    pub pad: Vec<f32>,
    /// `hidden × pieces`
    pub bias: Vec<f32>,
    /// the output layer, `classes × hidden`, its bias, and whether training saw each class
    pub upper_w: Vec<f32>,
    pub upper_b: Vec<f32>,
    pub seen: Vec<bool>,
}

/// The three feature slots of the entity state: the next token, the open entity's first token, the token
/// before the next one (the last two only inside an entity).
pub const SLOTS: usize = 3;

#[derive(Clone, Copy)]
struct State {
    sentence: usize,
    /// the sentence's first token in the batch
    offset: usize,
    length: usize,
    /// the next token
    b0: usize,
    /// the open entity: its first token and label
    open: Option<(usize, u32)>,
}

impl EntityParser {
    /// The model's layers and each class's move and label.
    pub fn new(weights: Weights, moves: Vec<(Move, u32)>) -> Result<Self> {
        let Weights { hidden, pieces, pad, bias, upper_w, upper_b, seen } = weights;
        let classes = moves.len();
        let want = [("pad", pad.len(), SLOTS * hidden * pieces), ("bias", bias.len(), hidden * pieces),
                    ("upper_w", upper_w.len(), classes * hidden), ("upper_b", upper_b.len(), classes),
                    ("seen", seen.len(), classes)];
        for (name, got, expected) in want {
            if got != expected {
                return Err(CoreError::InvalidOption(format!(
                    "entity parser: {name} has {got} values, expected {expected} ({classes} moves, {hidden} hidden, \
                     {pieces} pieces)")));
            }
        }
        if hidden == 0 || pieces == 0 || classes == 0 {
            return Err(CoreError::InvalidOption("entity parser: no hidden units, pieces or moves".into()));
        }
        Ok(EntityParser { hidden, pieces, pad, bias, upper_w, upper_b, seen, moves })
    }

    /// The width of one token's row of ``features`` in [`EntityParser::parse`].
    pub fn row_width(&self) -> usize {
        SLOTS * self.hidden * self.pieces
    }

    /// The entities of a batch of sentences. ``features``: one row per token of the batch, sentence after
    /// sentence, of [`EntityParser::row_width`] values (`[slot][hidden][piece]`, the hidden layer's weights
    /// applied to the token's vector, without bias); ``lengths``: each sentence's tokens; ``space``: whether each
    /// token is whitespace (an entity neither starts nor is one there).
    pub fn parse(&self, features: &[f32], lengths: &[u32], space: &[bool]) -> Result<Vec<Entity>> {
        let width = self.row_width();
        let tokens: usize = lengths.iter().map(|&n| n as usize).sum();
        if features.len() != tokens * width {
            return Err(CoreError::InvalidOption(format!(
                "entity parser: {} feature values for {tokens} tokens of width {width}", features.len())));
        }
        if space.len() != tokens {
            return Err(CoreError::InvalidOption(format!(
                "entity parser: {} whitespace flags for {tokens} tokens", space.len())));
        }
        let mut states = Vec::with_capacity(lengths.len());
        let mut offset = 0;
        for (sentence, &n) in lengths.iter().enumerate() {
            let length = n as usize;
            if length > 0 {
                states.push(State { sentence, offset, length, b0: 0, open: None });
            }
            offset += length;
        }
        let (h, p, classes) = (self.hidden, self.pieces, self.moves.len());
        let hp = h * p;
        let mut found = Vec::new();
        let mut unmaxed = vec![0f32; hp];
        let mut scores: Vec<f32> = Vec::new();
        let mut hiddens = vec![0f32; h];
        while !states.is_empty() {
            scores.clear();
            scores.resize(states.len() * classes, 0.0);
            for (s, st) in states.iter().enumerate() {
                unmaxed.fill(0.0); // (summed in spaCy's order: the slots, then the bias)
                for (slot, token) in self.context(st).into_iter().enumerate() {
                    let v = match token {
                        Some(t) => &features[t * width + slot * hp..t * width + (slot + 1) * hp],
                        None => &self.pad[slot * hp..(slot + 1) * hp],
                    };
                    for (u, x) in unmaxed.iter_mut().zip(v) {
                        *u += x;
                    }
                }
                for (u, b) in unmaxed.iter_mut().zip(&self.bias) {
                    *u += b;
                }
                for (j, out) in hiddens.iter_mut().enumerate() {
                    let pc = &unmaxed[j * p..(j + 1) * p];
                    *out = pc.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                }
                let row = &mut scores[s * classes..(s + 1) * classes];
                for (c, score) in row.iter_mut().enumerate() {
                    let w = &self.upper_w[c * h..(c + 1) * h];
                    *score = dot(w, &hiddens) + self.upper_b[c];
                }
            }
            if self.seen.iter().any(|s| !s) {
                let min = scores.iter().copied().fold(f32::INFINITY, f32::min);
                for row in scores.chunks_mut(classes) {
                    for (c, score) in row.iter_mut().enumerate() {
                        if !self.seen[c] {
                            *score = min;
                        }
                    }
                }
            }
            for (s, st) in states.iter_mut().enumerate() {
                let row = &scores[s * classes..(s + 1) * classes];
                let mut best: Option<usize> = None;
                for (c, &score) in row.iter().enumerate() {
                    if self.valid(st, c, space) && best.is_none_or(|b| score > row[b]) {
                        best = Some(c);
                    }
                }
                match best {
                    Some(c) => self.take(st, c, &mut found),
                    None => st.b0 = st.length, // nothing valid: spaCy forces the state final, the open entity lost
                }
            }
            states.retain(|st| st.b0 < st.length);
        }
        Ok(found)
    }

    /// The state's three feature tokens, as positions in the batch.
    fn context(&self, st: &State) -> [Option<usize>; SLOTS] {
        let b0 = st.offset + st.b0;
        match st.open {
            Some((start, _)) => [Some(b0), Some(st.offset + start), Some(b0 - 1)],
            None => [Some(b0), None, None],
        }
    }

    fn valid(&self, st: &State, class: usize, space: &[bool]) -> bool {
        let (mv, label) = self.moves[class];
        let left = st.length - st.b0;
        let blank = space[st.offset + st.b0];
        match mv {
            Move::Missing => false,
            Move::Begin => st.open.is_none() && left >= 2 && label != 0 && !blank,
            Move::In => left >= 2 && label != 0 && st.open.is_some_and(|(_, l)| l == label),
            Move::Last => label != 0 && st.open.is_some_and(|(_, l)| l == label),
            Move::Unit => label != 0 && st.open.is_none() && !blank,
            Move::Out => st.open.is_none(),
        }
    }

    fn take(&self, st: &mut State, class: usize, found: &mut Vec<Entity>) {
        let (mv, label) = self.moves[class];
        match mv {
            Move::Begin => st.open = Some((st.b0, label)),
            Move::Last => {
                if let Some((start, label)) = st.open.take() {
                    found.push(Entity { sentence: st.sentence, start, end: st.b0 + 1, label });
                }
            }
            Move::Unit => found.push(Entity { sentence: st.sentence, start: st.b0, end: st.b0 + 1, label }),
            Move::Missing | Move::In | Move::Out => {}
        }
        st.b0 += 1;
    }
}

/// A dot product in eight lanes (the compiler vectorizes it; a single running sum it may not reorder).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parser whose scores are its bias alone: the features are zero, the one hidden unit is 1 and each
    /// move's score is its weight on it.
    fn parser(weights: &[f32], moves: Vec<(Move, u32)>) -> EntityParser {
        let n = moves.len();
        let w = Weights { hidden: 1, pieces: 1, pad: vec![0.0; SLOTS], bias: vec![1.0], upper_w: weights.to_vec(),
                          upper_b: vec![0.0; n], seen: vec![true; n] };
        EntityParser::new(w, moves).unwrap()
    }

    const MOVES: [(Move, u32); 6] = [(Move::Begin, 1), (Move::In, 1), (Move::Last, 1), (Move::Unit, 1),
                                     (Move::Unit, 0), (Move::Out, 0)];

    #[test]
    fn the_best_valid_move_is_taken_so_an_entity_opened_is_closed() {
        // Begin scores best everywhere: the first token begins, the next ones can only go on or close it
        let p = parser(&[9.0, 1.0, 0.5, 0.0, 5.0, 0.0], MOVES.to_vec());
        let got = p.parse(&[0.0; 3 * SLOTS], &[3], &[false; 3]).unwrap();
        assert_eq!(got, vec![Entity { sentence: 0, start: 0, end: 3, label: 1 }]);
    }

    #[test]
    fn no_entity_begins_on_whitespace_or_on_the_last_token() {
        let p = parser(&[9.0, 1.0, 0.5, 8.0, 5.0, 0.0], MOVES.to_vec());
        let got = p.parse(&[0.0; 3 * SLOTS], &[1, 2], &[false, true, false]).unwrap();
        // a one-token sentence cannot Begin: Unit; a whitespace token cannot Begin or Unit: Out; then Unit
        assert_eq!(got, vec![Entity { sentence: 0, start: 0, end: 1, label: 1 },
                             Entity { sentence: 1, start: 1, end: 2, label: 1 }]);
    }

    #[test]
    fn features_of_the_wrong_size_are_an_error_not_a_panic() {
        let p = parser(&[0.0; 6], MOVES.to_vec());
        assert!(p.parse(&[0.0; 5], &[2], &[false; 2]).is_err());
        assert!(p.parse(&[0.0; 2 * SLOTS], &[2], &[false]).is_err());
        let short = Weights { hidden: 1, pieces: 1, pad: vec![0.0; 2], bias: vec![1.0], upper_w: vec![0.0; 6],
                              upper_b: vec![0.0; 6], seen: vec![true; 6] };
        assert!(EntityParser::new(short, MOVES.to_vec()).is_err());
    }
}
