//! Static sentence embeddings (WordLlama): each text's tokens looked up in a
//! table of token vectors and averaged. What `wordllama`'s own `embed`
//! computes, bit for bit — its tokenizer (HF `tokenizers`, no padding, no
//! truncation, no special tokens), token ids clipped to the table, a
//! float32 sum of the rows in token order divided by the token count (at
//! least 1; a text of no tokens is the zero vector) — without its padded
//! batches of 64 in numpy: the tokenizer runs on every core, and a text costs
//! its own tokens, not the longest text of its batch. The caller passes the
//! tokenizer's JSON and the table (REM reads them from the `wordllama`
//! package); nothing is downloaded.

use tokenizers::Tokenizer;

use crate::error::{CoreError, Result};

fn model_err(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::Model(format!("{what}: {e}"))
}

/// Texts from which [`StaticEmbedder::embed`] shares the work between threads.
const PARALLEL_FROM: usize = 256;

pub struct StaticEmbedder {
    tokenizer: Tokenizer,
    table: Vec<f32>,
    dim: usize,
}

impl StaticEmbedder {
    /// The model from its tokenizer's JSON and its table of token vectors (`rows * dim` values, row after row).
    pub fn load(tokenizer_json: &[u8], table: Vec<f32>, dim: usize) -> Result<Self> {
        if dim == 0 || table.is_empty() || !table.len().is_multiple_of(dim) {
            return Err(model_err("the token table", format!("{} values are not rows of {dim}", table.len())));
        }
        let mut tokenizer = Tokenizer::from_bytes(tokenizer_json).map_err(|e| model_err("the tokenizer", e))?;
        tokenizer.with_padding(None);
        tokenizer.with_truncation(None).map_err(|e| model_err("the tokenizer", e))?;
        Ok(StaticEmbedder { tokenizer, table, dim })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The mean token vector of each text (not normalized), row after row (`texts.len() * dim` values).
    /// Many texts are shared between scoped threads of their own (not the tokenizer's rayon pool: a worker
    /// process forked after a search would wait forever on a pool whose threads it does not have).
    pub fn embed(&self, texts: &[String]) -> Result<Vec<f32>> {
        let mut out = vec![0f32; texts.len() * self.dim];
        let threads = if texts.len() < PARALLEL_FROM {
            1
        } else {
            std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).min(8)
        };
        let parts = crate::par::ranges(texts.len(), threads);
        if parts.len() <= 1 {
            self.embed_into(texts, &mut out)?;
            return Ok(out);
        }
        std::thread::scope(|s| -> Result<()> {
            let mut rest: &mut [f32] = &mut out;
            let mut handles = Vec::with_capacity(parts.len());
            for r in parts {
                let (mine, tail) = rest.split_at_mut(r.len() * self.dim);
                rest = tail;
                let texts = &texts[r];
                handles.push(s.spawn(move || self.embed_into(texts, mine)));
            }
            for done in crate::par::join_all(handles, "embedding")? {
                done?;
            }
            Ok(())
        })?;
        Ok(out)
    }

    fn embed_into(&self, texts: &[String], out: &mut [f32]) -> Result<()> {
        let rows = self.table.len() / self.dim;
        for (t, v) in texts.iter().zip(out.chunks_exact_mut(self.dim)) {
            let enc = self.tokenizer.encode(t.as_str(), false).map_err(|e| model_err("tokenizing", e))?;
            let ids = enc.get_ids();
            for &id in ids {
                let r = (id as usize).min(rows - 1);
                for (acc, x) in v.iter_mut().zip(&self.table[r * self.dim..(r + 1) * self.dim]) {
                    *acc += *x;
                }
            }
            let n = ids.len().max(1) as f32;
            for acc in v.iter_mut() {
                *acc /= n;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKENIZER: &str = r#"{"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
        "normalizer":null,"pre_tokenizer":{"type":"Whitespace"},"post_processor":null,"decoder":null,
        "model":{"type":"WordLevel","vocab":{"[UNK]":0,"a":1,"b":2,"c":3},"unk_token":"[UNK]"}}"#;

    #[test]
    fn a_text_is_the_mean_of_its_token_rows_and_no_tokens_is_zero() {
        let table = vec![0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let m = StaticEmbedder::load(TOKENIZER.as_bytes(), table, 2).unwrap();
        let v = m.embed(&["a b".to_string(), "".to_string(), "c c a".to_string()]).unwrap();
        assert_eq!(v, vec![2.0, 3.0, 0.0, 0.0, (5.0 + 5.0 + 1.0) / 3.0, (6.0 + 6.0 + 2.0) / 3.0]);
        // many texts, shared between threads: each row the same as alone, in order
        let many: Vec<String> = (0..1000).map(|i| ["a", "b c", "c a b", ""][i % 4].to_string()).collect();
        let all = m.embed(&many).unwrap();
        for (i, t) in many.iter().enumerate() {
            assert_eq!(&all[i * 2..i * 2 + 2], &m.embed(std::slice::from_ref(t)).unwrap()[..], "{i}");
        }
    }

    #[test]
    fn a_table_that_is_not_rows_is_an_error() {
        assert!(StaticEmbedder::load(TOKENIZER.as_bytes(), vec![1.0; 7], 2).is_err());
        assert!(StaticEmbedder::load(b"not json", vec![1.0; 8], 2).is_err());
    }
}
