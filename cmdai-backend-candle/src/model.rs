//! The transformer: one implementation for every supported architecture, driven by
//! [`ModelSpec`] and its [`ArchTraits`](crate::spec::ArchTraits) row.

use std::io::{Read, Seek};
use std::sync::Arc;

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::kv_cache::KvCache;

use crate::error::{CandleError, Result};
use crate::spec::{ModelSpec, RopeStyle};

/// A linear layer over a quantized weight, with an optional bias.
#[derive(Debug)]
struct Linear {
    weight: QMatMul,
    bias: Option<Tensor>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = self.weight.forward(x)?;
        match &self.bias {
            Some(bias) => y.broadcast_add(bias),
            None => Ok(y),
        }
    }
}

#[derive(Debug)]
struct Block {
    attn_norm: Tensor,
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    ffn_norm: Tensor,
    gate: QMatMul,
    up: QMatMul,
    down: QMatMul,
    cache: KvCache,
}

/// The rotary embedding tables, computed once for the context window.
#[derive(Debug)]
struct Rope {
    cos: Tensor,
    sin: Tensor,
    style: RopeStyle,
}

impl Rope {
    fn new(spec: &ModelSpec, max_positions: usize, device: &Device) -> candle_core::Result<Self> {
        let dim = spec.head_dim;
        let inv_freq: Vec<f32> = (0..dim)
            .step_by(2)
            .map(|i| 1.0 / spec.rope_freq_base.powf(i as f32 / dim as f32))
            .collect();
        let inv_freq = Tensor::from_vec(inv_freq, (1, dim / 2), device)?;
        let positions = Tensor::arange(0u32, max_positions as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((max_positions, 1))?;
        let angles = positions.broadcast_mul(&inv_freq)?;
        Ok(Rope {
            cos: angles.cos()?,
            sin: angles.sin()?,
            style: spec.arch.traits().rope,
        })
    }

    fn apply(&self, x: &Tensor, offset: usize) -> candle_core::Result<Tensor> {
        let seq_len = x.dim(2)?;
        let cos = self.cos.narrow(0, offset, seq_len)?;
        let sin = self.sin.narrow(0, offset, seq_len)?;
        match self.style {
            RopeStyle::Interleaved => candle_nn::rotary_emb::rope_i(&x.contiguous()?, &cos, &sin),
            RopeStyle::Halves => candle_nn::rotary_emb::rope(&x.contiguous()?, &cos, &sin),
        }
    }
}

/// A loaded model with its KV cache.
#[derive(Debug)]
pub struct Transformer {
    spec: ModelSpec,
    embedding: Arc<QTensor>,
    blocks: Vec<Block>,
    output_norm: Tensor,
    output: QMatMul,
    rope: Rope,
    device: Device,
    /// Tokens already in the KV cache.
    position: usize,
    /// Positions the rope tables cover; the KV cache never grows beyond it.
    max_positions: usize,
}

impl Transformer {
    /// Loads the weights described by `content` from `reader`, for up to `max_positions`
    /// tokens of context.
    pub fn load<R: Read + Seek>(
        spec: ModelSpec,
        content: &Content,
        reader: &mut R,
        device: &Device,
        max_positions: usize,
    ) -> Result<Self> {
        spec.check_tensors(content)?;
        let mut qtensor =
            |name: &str| -> Result<QTensor> { Ok(content.tensor(reader, name, device)?) };
        let embedding = Arc::new(qtensor("token_embd.weight")?);
        let output = if content.tensor_infos.contains_key("output.weight") {
            QMatMul::from_qtensor(qtensor("output.weight")?)?
        } else {
            // Tied embeddings: the output projection shares the token embedding matrix
            // (one copy in memory, not two).
            QMatMul::from_arc(embedding.clone())?
        };
        let output_norm = qtensor("output_norm.weight")?.dequantize(device)?;

        let traits = spec.arch.traits();
        let mut blocks = Vec::with_capacity(spec.block_count);
        for i in 0..spec.block_count {
            let name = |suffix: &str| format!("blk.{i}.{suffix}");
            let mut linear = |which: &str| -> Result<Linear> {
                let weight = QMatMul::from_qtensor(qtensor(&name(&format!("{which}.weight")))?)?;
                let bias = match which {
                    "attn_q" | "attn_k" | "attn_v" if traits.qkv_bias => {
                        Some(qtensor(&name(&format!("{which}.bias")))?.dequantize(device)?)
                    }
                    _ => None,
                };
                Ok(Linear { weight, bias })
            };
            let (q, k, v, o) = (
                linear("attn_q")?,
                linear("attn_k")?,
                linear("attn_v")?,
                linear("attn_output")?,
            );
            blocks.push(Block {
                attn_norm: qtensor(&name("attn_norm.weight"))?.dequantize(device)?,
                q,
                k,
                v,
                o,
                ffn_norm: qtensor(&name("ffn_norm.weight"))?.dequantize(device)?,
                gate: QMatMul::from_qtensor(qtensor(&name("ffn_gate.weight"))?)?,
                up: QMatMul::from_qtensor(qtensor(&name("ffn_up.weight"))?)?,
                down: QMatMul::from_qtensor(qtensor(&name("ffn_down.weight"))?)?,
                // Grows in steps of 512 positions; dimension 2 is the sequence axis.
                cache: KvCache::new(2, 512),
            });
        }
        let rope = Rope::new(&spec, max_positions, device)?;
        Ok(Transformer {
            spec,
            embedding,
            blocks,
            output_norm,
            output,
            rope,
            device: device.clone(),
            position: 0,
            max_positions,
        })
    }

    /// The model description.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// Tokens currently in the KV cache.
    pub fn position(&self) -> usize {
        self.position
    }

    /// The device the model runs on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Positions this model instance can hold (prompt and reply together).
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// Empties the KV cache, so the next call starts a new sequence.
    pub fn reset(&mut self) {
        for block in &mut self.blocks {
            block.cache.reset();
        }
        self.position = 0;
    }

    /// Keeps the first `len` positions of the KV cache and drops the rest, so a prompt that
    /// shares a prefix with the previous one only needs its new part computed.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.position {
            return Ok(());
        }
        if len == 0 {
            self.reset();
            return Ok(());
        }
        for block in &mut self.blocks {
            let (Some(k), Some(v)) = (block.cache.k()?, block.cache.v()?) else {
                continue;
            };
            let (k, v) = (
                k.narrow(2, 0, len)?.contiguous()?,
                v.narrow(2, 0, len)?.contiguous()?,
            );
            block.cache.reset();
            block.cache.append(&k, &v)?;
        }
        self.position = len;
        Ok(())
    }

    /// The keys and values of every layer for the positions in the cache
    /// (`[1, kv_heads, position, head_dim]` each).
    pub fn kv_state(&self) -> Result<Vec<(Tensor, Tensor)>> {
        let mut state = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            match (block.cache.k()?, block.cache.v()?) {
                (Some(k), Some(v)) => state.push((k, v)),
                _ => return Err(CandleError::PromptCache("the KV cache is empty".into())),
            }
        }
        Ok(state)
    }

    /// Replaces the cache with `state` (as [`kv_state`](Self::kv_state) returns it), after
    /// checking every shape against this model.
    pub fn restore_kv_state(&mut self, state: &[(Tensor, Tensor)]) -> Result<()> {
        let invalid = |reason: String| {
            CandleError::PromptCache(format!("saved KV state does not fit: {reason}"))
        };
        if state.len() != self.blocks.len() {
            return Err(invalid(format!(
                "{} layers, the model has {}",
                state.len(),
                self.blocks.len()
            )));
        }
        let positions = state
            .first()
            .map_or(0, |(k, _)| k.dims().get(2).copied().unwrap_or(0));
        let expected = [1, self.spec.head_count_kv, positions, self.spec.head_dim];
        if positions == 0 || positions >= self.max_positions {
            return Err(invalid(format!("{positions} positions")));
        }
        for (k, v) in state {
            if k.dims() != expected || v.dims() != expected {
                return Err(invalid(format!(
                    "shape {:?}, expected {expected:?}",
                    k.dims()
                )));
            }
        }
        self.reset();
        for (block, (k, v)) in self.blocks.iter_mut().zip(state) {
            let k = k
                .to_device(&self.device)?
                .to_dtype(DType::F32)?
                .contiguous()?;
            let v = v
                .to_device(&self.device)?
                .to_dtype(DType::F32)?
                .contiguous()?;
            block.cache.append(&k, &v)?;
        }
        self.position = positions;
        Ok(())
    }

    /// Runs `tokens` after those already in the cache and returns the logits of the last one
    /// (a `[vocab]` f32 tensor).
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        let seq_len = tokens.len();
        if seq_len == 0 || self.position + seq_len > self.max_positions {
            return Err(CandleError::ContextFull {
                needed: self.position + seq_len,
                available: self.max_positions,
            });
        }
        let ids = Tensor::new(tokens, &self.device)?.unsqueeze(0)?;
        let mut x = self.embedding.embedding(&ids)?;
        let mask = causal_mask(seq_len, self.position, &self.device)?;
        for block in &mut self.blocks {
            x = block.forward(&x, &self.spec, &self.rope, self.position, mask.as_ref())?;
        }
        self.position += seq_len;
        let last = x.narrow(1, seq_len - 1, 1)?;
        let last =
            candle_nn::ops::rms_norm(&last, &self.output_norm, self.spec.rms_norm_eps as f32)?;
        let logits = self.output.forward(&last)?;
        Ok(logits.flatten_all()?.to_dtype(DType::F32)?)
    }
}

impl Block {
    fn forward(
        &mut self,
        x: &Tensor,
        spec: &ModelSpec,
        rope: &Rope,
        offset: usize,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let eps = spec.rms_norm_eps as f32;
        let h = candle_nn::ops::rms_norm(x, &self.attn_norm, eps)?;
        let x = (x + self.attention(&h, spec, rope, offset, mask)?)?;
        let h = candle_nn::ops::rms_norm(&x, &self.ffn_norm, eps)?;
        let gate = candle_nn::ops::silu(&self.gate.forward(&h)?)?;
        let ffn = self.down.forward(&(gate * self.up.forward(&h)?)?)?;
        x + ffn
    }

    fn attention(
        &mut self,
        x: &Tensor,
        spec: &ModelSpec,
        rope: &Rope,
        offset: usize,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let (batch, seq_len, _) = x.dims3()?;
        let (heads, kv_heads, head_dim) = (spec.head_count, spec.head_count_kv, spec.head_dim);
        let split_heads =
            |t: Tensor, n: usize| t.reshape((batch, seq_len, n, head_dim))?.transpose(1, 2);
        let q = rope.apply(&split_heads(self.q.forward(x)?, heads)?, offset)?;
        let k = rope.apply(&split_heads(self.k.forward(x)?, kv_heads)?, offset)?;
        let v = split_heads(self.v.forward(x)?, kv_heads)?.contiguous()?;
        let (k, v) = self.cache.append(&k, &v)?;

        // Grouped-query attention without copying keys and values: the query heads that share
        // a key/value head are stacked along the sequence axis, so each group is one matmul.
        let group = heads / kv_heads;
        let q = q.reshape((batch, kv_heads, group * seq_len, head_dim))?;
        let scale = 1.0 / (head_dim as f64).sqrt();
        let scores = (q.matmul(&k.t()?)? * scale)?;
        let scores = match mask {
            Some(mask) => {
                let kv_len = k.dim(2)?;
                let mask = mask
                    .repeat((group, 1))?
                    .reshape((1, 1, group * seq_len, kv_len))?;
                scores.broadcast_add(&mask)?
            }
            None => scores,
        };
        let weights = candle_nn::ops::softmax_last_dim(&scores)?;
        let out = weights.matmul(&v)?; // [batch, kv_heads, group * seq_len, head_dim]
        let out = out
            .reshape((batch, heads, seq_len, head_dim))?
            .transpose(1, 2)?
            .reshape((batch, seq_len, heads * head_dim))?;
        self.o.forward(&out)
    }
}

/// The additive causal mask for `seq_len` new tokens after `offset` cached ones
/// (`[seq_len, offset + seq_len]`), or none for a single token, which may see everything.
fn causal_mask(
    seq_len: usize,
    offset: usize,
    device: &Device,
) -> candle_core::Result<Option<Tensor>> {
    if seq_len == 1 {
        return Ok(None);
    }
    let kv_len = offset + seq_len;
    let mask: Vec<f32> = (0..seq_len)
        .flat_map(|i| {
            (0..kv_len).map(move |j| {
                if j > offset + i {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_vec(mask, (seq_len, kv_len), device).map(Some)
}
