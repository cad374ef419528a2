//! The transformer: one implementation for every supported architecture, driven by
//! [`ModelSpec`] and its [`ArchTraits`](crate::spec::ArchTraits) row.

use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;

use candle_core::quantized::gguf_file::Content;
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{D, DType, Device, Module, Tensor};

use crate::error::{CandleError, Result};
use crate::gguf::GgufFile;
use crate::kv_cache::KvCache;
use crate::mapped::{MappedFile, MappedMatrix};
use crate::packed::{CpuKernels, PackedMatrix, PackedWeights, Packing};
use crate::spec::{Activation, ModelSpec, RopeStyle};

/// A quantized weight matrix: in place in the mapped file on the CPU, or candle's own tensor
/// on a GPU.
#[derive(Debug)]
enum Weight {
    Mapped(MappedMatrix),
    Owned(QMatMul),
    /// Rows `rows` of a matrix stacked from several that multiply the same input (on CUDA,
    /// where the fused step runs them as one product).
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    Rows {
        stacked: Arc<QTensor>,
        rows: std::ops::Range<usize>,
    },
}

impl Weight {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Weight::Mapped(matrix) => matrix.forward(x),
            Weight::Owned(matmul) => matmul.forward(x),
            Weight::Rows { stacked, rows } => QMatMul::QTensor(stacked.clone()).forward(x)?.narrow(
                D::Minus1,
                rows.start,
                rows.len(),
            ),
        }
    }

    /// `x` through each of `weights`: in one pass of the CPU's thread pool where they are all
    /// interleaved (`packed/`), else one by one.
    fn forward_many<const N: usize>(
        weights: [&Weight; N],
        x: &Tensor,
    ) -> candle_core::Result<[Tensor; N]> {
        let mapped: Option<Vec<&MappedMatrix>> = weights
            .iter()
            .map(|weight| match weight {
                Weight::Mapped(matrix) => Some(matrix),
                Weight::Owned(_) | Weight::Rows { .. } => None,
            })
            .collect();
        if let Some(mapped) = mapped
            && let Some(outputs) = MappedMatrix::forward_many(x, &mapped)?
            && let Ok(outputs) = <[Tensor; N]>::try_from(outputs)
        {
            return Ok(outputs);
        }
        // Rows of one stacked matrix share its product.
        let mut stacked_products: Vec<(&Arc<QTensor>, Tensor)> = Vec::new();
        let mut outputs = Vec::with_capacity(N);
        for weight in weights {
            let Weight::Rows { stacked, rows } = weight else {
                outputs.push(weight.forward(x)?);
                continue;
            };
            let product = match stacked_products
                .iter()
                .find(|(s, _)| Arc::ptr_eq(s, stacked))
            {
                Some((_, product)) => product.clone(),
                None => {
                    let product = QMatMul::QTensor(stacked.clone()).forward(x)?;
                    stacked_products.push((stacked, product.clone()));
                    product
                }
            };
            outputs.push(product.narrow(D::Minus1, rows.start, rows.len())?);
        }
        Ok(<[Tensor; N]>::try_from(outputs).expect("one output per weight"))
    }
}

/// The token embedding matrix; rows are dequantized as they are looked up.
#[derive(Debug)]
enum Embedding {
    Mapped(MappedMatrix),
    Owned(Arc<QTensor>),
}

/// A linear layer over a quantized weight, with an optional bias.
#[derive(Debug)]
struct Linear {
    weight: Weight,
    bias: Option<Tensor>,
}

impl Linear {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.add_bias(self.weight.forward(x)?)
    }

    /// `y`, the product by this layer's weight, plus its bias.
    fn add_bias(&self, y: Tensor) -> candle_core::Result<Tensor> {
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
    /// Per-head norms of queries and keys (Qwen3, Gemma 3).
    q_norm: Option<Tensor>,
    k_norm: Option<Tensor>,
    /// Norms of the attention and feed-forward outputs before the residual add (Gemma 3).
    post_attention_norm: Option<Tensor>,
    post_ffw_norm: Option<Tensor>,
    ffn_norm: Tensor,
    gate: Weight,
    up: Weight,
    down: Weight,
    /// Attends only to the latest `sliding_window` positions.
    local: bool,
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
    fn new(
        spec: &ModelSpec,
        freq_base: f32,
        max_positions: usize,
        device: &Device,
    ) -> candle_core::Result<Self> {
        let dim = spec.head_dim;
        let inv_freq: Vec<f32> = (0..dim)
            .step_by(2)
            .map(|i| 1.0 / freq_base.powf(i as f32 / dim as f32))
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
    embedding: Embedding,
    blocks: Vec<Block>,
    output_norm: Tensor,
    output: Weight,
    rope: Rope,
    /// The rope of sliding-window layers where it differs (Gemma 3).
    rope_local: Option<Rope>,
    device: Device,
    /// Tokens already in the KV cache.
    position: usize,
    /// Positions the rope tables cover; the KV cache never grows beyond it.
    max_positions: usize,
    /// The fused one-token step on CUDA (`cuda_decode.rs`); `None` elsewhere, or where the
    /// model has a part it does not cover. It points into the tensors above (dropping it
    /// touches none of them).
    #[cfg(feature = "cuda")]
    fused: Option<crate::cuda_decode::Decoder>,
}

/// Which of cmdai's own kernels run a model. The default takes the fastest this machine has;
/// the others are there to measure one against another (`cmdai bench --kernels`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Kernels {
    /// On the CPU: which kernels run the interleaved matrices (`packed/`).
    pub cpu: CpuKernels,
    /// On CUDA: how a decode step runs.
    pub cuda: CudaDecode,
}

/// How a decode step runs on CUDA.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CudaDecode {
    /// The fused step (`cuda_decode.rs`), its launches replayed as one CUDA graph.
    #[default]
    Graph,
    /// The fused step, its launches one by one (for profiling).
    Launches,
    /// candle's operations, one after another, as on the other devices.
    Operations,
}

impl Transformer {
    /// Loads the model in `file` for up to `max_positions` tokens of context. On the CPU the
    /// weight matrices stay in the memory-mapped file (see `mapped.rs`); on a GPU they are
    /// uploaded.
    pub fn load(
        spec: ModelSpec,
        file: &mut GgufFile,
        device: &Device,
        max_positions: usize,
    ) -> Result<Self> {
        Self::load_with(spec, file, device, max_positions, None, Kernels::default())
    }

    /// [`load`](Self::load), with the Q4_K and Q6_K matrices interleaved (`packed/`) and
    /// kept as `packing` says, where the CPU has AVX2 or AVX-512 VNNI, and run by `kernels`.
    pub fn load_with(
        spec: ModelSpec,
        file: &mut GgufFile,
        device: &Device,
        max_positions: usize,
        packing: Option<&Packing>,
        kernels: Kernels,
    ) -> Result<Self> {
        spec.check_tensors(&file.content)?;
        let mapped =
            match device {
                Device::Cpu => Some(MappedFile::new(file.reader.get_ref()).map_err(|error| {
                    CandleError::Io {
                        path: file.path.clone(),
                        error,
                    }
                })?),
                _ => None,
            };
        let packed = match (&mapped, packing) {
            (Some(mapped), Some(packing)) => PackedWeights::open_or_build(
                packing,
                kernels.cpu,
                mapped,
                &file.content,
                &products(&file.content),
            ),
            _ => None,
        };
        let mut loader = Loader {
            content: &file.content,
            reader: &mut file.reader,
            device,
            mapped,
            packed,
        };
        let (embedding, output) = loader.embedding_and_output()?;
        let output_norm = loader.vector("output_norm.weight")?;

        let traits = spec.arch.traits();
        // The KV cache grows in steps of 512 positions, except on CUDA: there it is allocated
        // whole up front, so the fused decode step can point into it.
        let grow_by = match device {
            Device::Cuda(_) => max_positions,
            _ => 512,
        };
        let mut blocks = Vec::with_capacity(spec.block_count);
        for i in 0..spec.block_count {
            let name = |suffix: &str| format!("blk.{i}.{suffix}");
            let linear = |loader: &mut Loader<'_>, which: &str| -> Result<Linear> {
                let weight = loader.matrix(&name(&format!("{which}.weight")))?;
                let bias = match which {
                    "attn_q" | "attn_k" | "attn_v" if traits.qkv_bias => {
                        Some(loader.vector(&name(&format!("{which}.bias")))?)
                    }
                    _ => None,
                };
                Ok(Linear { weight, bias })
            };
            let (q, k, v, o) = (
                linear(&mut loader, "attn_q")?,
                linear(&mut loader, "attn_k")?,
                linear(&mut loader, "attn_v")?,
                linear(&mut loader, "attn_output")?,
            );
            let optional = |loader: &mut Loader<'_>, present: bool, suffix: &str| {
                present.then(|| loader.vector(&name(suffix))).transpose()
            };
            let q_norm = optional(&mut loader, traits.qk_norm, "attn_q_norm.weight")?;
            let k_norm = optional(&mut loader, traits.qk_norm, "attn_k_norm.weight")?;
            let post_attention_norm =
                optional(&mut loader, traits.post_norms, "post_attention_norm.weight")?;
            let post_ffw_norm = optional(&mut loader, traits.post_norms, "post_ffw_norm.weight")?;
            blocks.push(Block {
                attn_norm: loader.vector(&name("attn_norm.weight"))?,
                q,
                k,
                v,
                o,
                q_norm,
                k_norm,
                post_attention_norm,
                post_ffw_norm,
                ffn_norm: loader.vector(&name("ffn_norm.weight"))?,
                gate: loader.matrix(&name("ffn_gate.weight"))?,
                up: loader.matrix(&name("ffn_up.weight"))?,
                down: loader.matrix(&name("ffn_down.weight"))?,
                local: spec.is_local_layer(i),
                cache: KvCache::new(spec.head_count_kv, spec.head_dim, max_positions, grow_by),
            });
        }
        let rope = Rope::new(&spec, spec.rope_freq_base, max_positions, device)?;
        let rope_local = spec
            .rope_freq_base_local
            .map(|base| Rope::new(&spec, base, max_positions, device))
            .transpose()?;
        let model = Transformer {
            spec,
            embedding,
            blocks,
            output_norm,
            output,
            rope,
            rope_local,
            device: device.clone(),
            position: 0,
            max_positions,
            #[cfg(feature = "cuda")]
            fused: None,
        };
        #[cfg(feature = "cuda")]
        let model = model.with_fused_decoder(kernels.cuda)?;
        Ok(model)
    }

    /// On CUDA, prepares the fused decode step where it covers the model, unless `decode`
    /// asks for candle's operations.
    #[cfg(feature = "cuda")]
    fn with_fused_decoder(mut self, decode: CudaDecode) -> Result<Self> {
        if let Device::Cuda(cuda) = &self.device
            && decode != CudaDecode::Operations
        {
            let cuda = cuda.clone();
            self.fused = self.fused_decoder(&cuda, decode == CudaDecode::Graph)?;
        }
        Ok(self)
    }

    /// The fused decode step for this model on `device`, with its KV buffers allocated;
    /// replayed as a CUDA graph when `graph`.
    #[cfg(feature = "cuda")]
    fn fused_decoder(
        &mut self,
        device: &candle_core::CudaDevice,
        graph: bool,
    ) -> Result<Option<crate::cuda_decode::Decoder>> {
        use crate::cuda_decode::{Decoder, LayerParts, ModelParts};

        for block in &mut self.blocks {
            block.cache.allocate(&self.device)?;
            stack_rows(
                device,
                [
                    &mut block.q.weight,
                    &mut block.k.weight,
                    &mut block.v.weight,
                ],
            )?;
            stack_rows(device, [&mut block.gate, &mut block.up])?;
        }
        fn owned(weight: &Weight) -> Option<&QMatMul> {
            match weight {
                Weight::Owned(matmul) => Some(matmul),
                Weight::Mapped(_) | Weight::Rows { .. } => None,
            }
        }
        // The matrices behind `weights` (consecutive rows of one stacked matrix count once).
        fn matrices(weights: &[&Weight]) -> Option<Vec<Arc<QTensor>>> {
            let mut matrices = Vec::new();
            for weight in weights {
                match weight {
                    Weight::Owned(QMatMul::QTensor(q)) => matrices.push(q.clone()),
                    Weight::Rows { stacked, rows } if rows.start == 0 => {
                        matrices.push(stacked.clone())
                    }
                    Weight::Rows { .. } => {}
                    _ => return None,
                }
            }
            Some(matrices)
        }
        let spec = &self.spec;
        let mut layers = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let rope = match (block.local, &self.rope_local) {
                (true, Some(rope)) => rope,
                _ => &self.rope,
            };
            let (Some((keys, values)), Some(attention_in), Some(o)) = (
                block.cache.buffers(),
                matrices(&[&block.q.weight, &block.k.weight, &block.v.weight]),
                owned(&block.o.weight),
            ) else {
                return Ok(None);
            };
            let (Some(ffn_in), Some(down)) =
                (matrices(&[&block.gate, &block.up]), owned(&block.down))
            else {
                return Ok(None);
            };
            layers.push(LayerParts {
                attn_norm: &block.attn_norm,
                attention_in,
                q_bias: block.q.bias.as_ref(),
                k_bias: block.k.bias.as_ref(),
                v_bias: block.v.bias.as_ref(),
                o,
                q_norm: block.q_norm.as_ref(),
                k_norm: block.k_norm.as_ref(),
                post_attention_norm: block.post_attention_norm.as_ref(),
                post_ffw_norm: block.post_ffw_norm.as_ref(),
                ffn_norm: &block.ffn_norm,
                ffn_in,
                down,
                cos: &rope.cos,
                sin: &rope.sin,
                window: match block.local {
                    true => spec.sliding_window.unwrap_or(0),
                    false => 0,
                },
                keys,
                values,
            });
        }
        let (Some(output), Embedding::Owned(embedding)) = (owned(&self.output), &self.embedding)
        else {
            return Ok(None);
        };
        let traits = spec.arch.traits();
        let parts = ModelParts {
            embedding,
            layers,
            output_norm: &self.output_norm,
            output,
            hidden: spec.embedding_length,
            heads: spec.head_count,
            kv_heads: spec.head_count_kv,
            head_dim: spec.head_dim,
            capacity: self.max_positions,
            eps: spec.rms_norm_eps as f32,
            embedding_scale: match traits.scaled_embeddings {
                true => (spec.embedding_length as f32).sqrt(),
                false => 1.0,
            },
            interleaved_rope: matches!(traits.rope, RopeStyle::Interleaved),
            gelu: matches!(traits.activation, Activation::GeluTanh),
        };
        Ok(match Decoder::new(device, &parts, graph)? {
            Ok(decoder) => {
                tracing::info!(
                    "decode: a fused step of {} kernel launches, {}; prompts: the same kernels \
                     over up to 512 tokens at a time",
                    decoder.launches(),
                    match graph {
                        true => "replayed as a CUDA graph",
                        false => "launched one by one",
                    }
                );
                Some(decoder)
            }
            Err(reason) => {
                tracing::info!(
                    "decode and prompts: candle's operations (the fused CUDA kernels do not \
                     cover {reason})"
                );
                None
            }
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
        self.truncate_caches(0);
    }

    /// Keeps the first `len` positions of the KV cache and drops the rest, so a prompt that
    /// shares a prefix with the previous one only needs its new part computed.
    pub fn truncate(&mut self, len: usize) -> Result<()> {
        if len >= self.position {
            return Ok(());
        }
        self.truncate_caches(len);
        Ok(())
    }

    fn truncate_caches(&mut self, len: usize) {
        for block in &mut self.blocks {
            block.cache.truncate(len);
        }
        self.position = len;
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

    /// On the fused CUDA path, the time `n` replays of the last decode step take back to back,
    /// with nothing done on the host between them; `None` elsewhere or before a step ran.
    pub fn replay_decode_step(&mut self, n: usize) -> Result<Option<std::time::Duration>> {
        #[cfg(feature = "cuda")]
        if let Some(fused) = &mut self.fused
            && self.position > 0
        {
            return Ok(Some(fused.replay(n)?));
        }
        let _ = n;
        Ok(None)
    }

    /// Runs `tokens` after those already in the cache and returns the logits of the last one
    /// (a `[vocab]` f32 tensor).
    pub fn forward(&mut self, tokens: &[u32]) -> Result<Tensor> {
        self.run(tokens, false)
    }

    /// Runs `tokens` after those already in the cache and returns the logits after each of
    /// them (a `[tokens, vocab]` f32 tensor): what checking drafted tokens in one pass needs.
    /// Not on the fused CUDA path, whose prompt kernels give the last position's logits only.
    pub fn forward_all(&mut self, tokens: &[u32]) -> Result<Tensor> {
        #[cfg(feature = "cuda")]
        if self.fused.is_some() {
            return Err(CandleError::Candle(candle_core::Error::Msg(
                "the fused CUDA path gives the last position's logits only".into(),
            )));
        }
        self.run(tokens, true)
    }

    fn run(&mut self, tokens: &[u32], every_position: bool) -> Result<Tensor> {
        let seq_len = tokens.len();
        if seq_len == 0 || self.position + seq_len > self.max_positions {
            return Err(CandleError::ContextFull {
                needed: self.position + seq_len,
                available: self.max_positions,
            });
        }
        let embed = |tokens: &[u32]| -> candle_core::Result<Tensor> {
            match &self.embedding {
                Embedding::Mapped(matrix) => matrix.rows_of(tokens)?.unsqueeze(0),
                Embedding::Owned(embedding) => {
                    embedding.embedding(&Tensor::new(tokens, &self.device)?.unsqueeze(0)?)
                }
            }
        };
        #[cfg(feature = "cuda")]
        if let Some(fused) = &mut self.fused {
            // Both write the new positions' keys and values into the buffers themselves; the
            // step looks its token's embedding up itself.
            let logits = match tokens {
                [token] => fused.step(*token, self.position)?,
                _ => {
                    let logits = fused.prefill(&embed(tokens)?, self.position)?;
                    self.device.synchronize()?;
                    logits
                }
            };
            for block in &mut self.blocks {
                block.cache.advance(seq_len);
            }
            self.position += seq_len;
            return Ok(logits);
        }
        let mut x = embed(tokens)?;
        if self.spec.arch.traits().scaled_embeddings {
            x = (x * (self.spec.embedding_length as f64).sqrt())?;
        }
        // The CPU attends row by row and needs no mask (`attention.rs`).
        let on_gpu = !self.device.is_cpu();
        let mask = match on_gpu {
            true => causal_mask(seq_len, self.position, None, &self.device)?,
            false => None,
        };
        let local_mask = match self.spec.sliding_window {
            Some(window) if on_gpu => {
                causal_mask(seq_len, self.position, Some(window), &self.device)?
            }
            _ => None,
        };
        for block in &mut self.blocks {
            let (rope, mask) = match (block.local, &self.rope_local) {
                (true, Some(rope)) => (rope, local_mask.as_ref()),
                (true, None) => (&self.rope, local_mask.as_ref()),
                (false, _) => (&self.rope, mask.as_ref()),
            };
            let window = block.local.then_some(self.spec.sliding_window).flatten();
            x = block.forward(&x, &self.spec, rope, self.position, (mask, window))?;
        }
        self.position += seq_len;
        let rows = match every_position {
            true => x,
            false => x.narrow(1, seq_len - 1, 1)?,
        };
        let rows =
            candle_nn::ops::rms_norm(&rows, &self.output_norm, self.spec.rms_norm_eps as f32)?;
        let logits = self.output.forward(&rows)?.to_dtype(DType::F32)?;
        let logits = match every_position {
            true => logits.squeeze(0)?,
            false => logits.flatten_all()?,
        };
        // On a GPU, wait here for the queued work: reading the logits back while it is still
        // running made the copy wait ~8 ms longer on an H100 host (see cuda_decode.rs).
        if !self.device.is_cpu() {
            self.device.synchronize()?;
        }
        Ok(logits)
    }
}

/// Reads tensors for [`Transformer::load`]: matrices from the map when there is one, small
/// vectors (norms, biases) into memory.
struct Loader<'a> {
    content: &'a Content,
    reader: &'a mut BufReader<File>,
    device: &'a Device,
    mapped: Option<MappedFile>,
    packed: Option<PackedWeights>,
}

impl Loader<'_> {
    fn qtensor(&mut self, name: &str) -> Result<QTensor> {
        Ok(self.content.tensor(self.reader, name, self.device)?)
    }

    /// The packed form of matrix `name`, if it has one.
    fn packed(&self, name: &str) -> Option<PackedMatrix> {
        self.packed.as_ref()?.matrix(name)
    }

    fn vector(&mut self, name: &str) -> Result<Tensor> {
        Ok(self.qtensor(name)?.dequantize(self.device)?)
    }

    fn matrix(&mut self, name: &str) -> Result<Weight> {
        if let Some(file) = &self.mapped
            && let Some(matrix) = file.matrix(self.content, name)?
        {
            return Ok(Weight::Mapped(matrix.with_packed(self.packed(name))));
        }
        Ok(Weight::Owned(QMatMul::from_qtensor(self.qtensor(name)?)?))
    }

    /// The token embedding and the output projection, which is the same matrix when the file
    /// has no `output.weight` (tied embeddings: one copy, not two).
    fn embedding_and_output(&mut self) -> Result<(Embedding, Weight)> {
        const EMBEDDING: &str = "token_embd.weight";
        let untied = self.content.tensor_infos.contains_key("output.weight");
        let mapped = match &self.mapped {
            Some(file) => file.matrix(self.content, EMBEDDING)?,
            None => None,
        };
        Ok(match mapped {
            Some(embedding) => {
                let output = match untied {
                    true => self.matrix("output.weight")?,
                    false => Weight::Mapped(embedding.clone().with_packed(self.packed(EMBEDDING))),
                };
                (Embedding::Mapped(embedding), output)
            }
            None => {
                let embedding = Arc::new(self.qtensor(EMBEDDING)?);
                let output = match untied {
                    true => self.matrix("output.weight")?,
                    false => Weight::Owned(QMatMul::from_arc(embedding.clone())?),
                };
                (Embedding::Owned(embedding), output)
            }
        })
    }
}

/// Stacks the consecutive ones of `weights` that are block-quantized matrices of the same type
/// and width into one matrix, each becoming [`Weight::Rows`] of it, so that the fused CUDA step
/// multiplies their input by them in one launch. The separate matrices are freed.
#[cfg(feature = "cuda")]
fn stack_rows<const N: usize>(
    device: &candle_core::CudaDevice,
    mut weights: [&mut Weight; N],
) -> Result<()> {
    fn kind(weight: &Weight) -> Option<(candle_core::quantized::GgmlDType, usize)> {
        match weight {
            Weight::Owned(QMatMul::QTensor(q)) if q.dtype().block_size() > 1 => {
                Some((q.dtype(), q.shape().dims2().ok()?.1))
            }
            _ => None,
        }
    }
    let mut start = 0;
    while start < N {
        let first = kind(weights[start]);
        let mut end = start + 1;
        while first.is_some() && end < N && kind(weights[end]) == first {
            end += 1;
        }
        if end - start > 1 {
            let parts: Vec<Arc<QTensor>> = weights[start..end]
                .iter()
                .filter_map(|weight| match &**weight {
                    Weight::Owned(QMatMul::QTensor(q)) => Some(q.clone()),
                    _ => None,
                })
                .collect();
            let views: Vec<&QTensor> = parts.iter().map(AsRef::as_ref).collect();
            let stacked = Arc::new(crate::cuda_decode::stack(device, &views)?);
            let mut row = 0;
            for (weight, part) in weights[start..end].iter_mut().zip(&parts) {
                let (rows, _) = part.shape().dims2()?;
                **weight = Weight::Rows {
                    stacked: stacked.clone(),
                    rows: row..row + rows,
                };
                row += rows;
            }
        }
        start = end;
    }
    Ok(())
}

impl Block {
    fn forward(
        &mut self,
        x: &Tensor,
        spec: &ModelSpec,
        rope: &Rope,
        offset: usize,
        visible: (Option<&Tensor>, Option<usize>),
    ) -> candle_core::Result<Tensor> {
        let eps = spec.rms_norm_eps as f32;
        let norm = |x: &Tensor, weight: &Option<Tensor>| match weight {
            Some(weight) => candle_nn::ops::rms_norm(x, weight, eps),
            None => Ok(x.clone()),
        };
        let h = candle_nn::ops::rms_norm(x, &self.attn_norm, eps)?;
        let attention = self.attention(&h, spec, rope, offset, visible)?;
        let x = (x + norm(&attention, &self.post_attention_norm)?)?;
        let h = candle_nn::ops::rms_norm(&x, &self.ffn_norm, eps)?;
        let [gate, up] = Weight::forward_many([&self.gate, &self.up], &h)?;
        let gate = match spec.arch.traits().activation {
            Activation::Silu => candle_nn::ops::silu(&gate)?,
            Activation::GeluTanh => gate.gelu()?,
        };
        let ffn = self.down.forward(&(gate * up)?)?;
        x + norm(&ffn, &self.post_ffw_norm)?
    }

    /// Attention over the cache and `x`'s new tokens, which see what `visible` says: the
    /// additive mask for candle's products (on a GPU), or the sliding window (if any) for the
    /// row-wise attention of the CPU (`attention.rs`).
    fn attention(
        &mut self,
        x: &Tensor,
        spec: &ModelSpec,
        rope: &Rope,
        offset: usize,
        (mask, window): (Option<&Tensor>, Option<usize>),
    ) -> candle_core::Result<Tensor> {
        let (batch, seq_len, _) = x.dims3()?;
        let (heads, kv_heads, head_dim) = (spec.head_count, spec.head_count_kv, spec.head_dim);
        let eps = spec.rms_norm_eps as f32;
        // [batch, seq, n * head_dim] into [batch, n, seq, head_dim], each head normalised
        // first where the architecture has per-head norms.
        let split_heads = |t: Tensor, n: usize, norm: &Option<Tensor>| {
            let t = t.reshape((batch, seq_len, n, head_dim))?;
            let t = match norm {
                Some(weight) => candle_nn::ops::rms_norm(&t, weight, eps)?,
                None => t,
            };
            t.transpose(1, 2)
        };
        let [q, k, v] = Weight::forward_many([&self.q.weight, &self.k.weight, &self.v.weight], x)?;
        let q = rope.apply(
            &split_heads(self.q.add_bias(q)?, heads, &self.q_norm)?,
            offset,
        )?;
        let k = rope.apply(
            &split_heads(self.k.add_bias(k)?, kv_heads, &self.k_norm)?,
            offset,
        )?;
        let v = split_heads(self.v.add_bias(v)?, kv_heads, &None)?.contiguous()?;
        let (k, v) = self.cache.append(&k, &v)?;
        if x.device().is_cpu() && batch == 1 {
            let scale = (1.0 / (head_dim as f64).sqrt()) as f32;
            let out = crate::attention::attend(&q.contiguous()?, &k, &v, offset, window, scale)?;
            return self.o.forward(&out);
        }

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

/// The tensors a forward pass multiplies by: every one but the token embedding, unless the
/// output projection is the embedding (tied), in a fixed order.
fn products(content: &Content) -> Vec<String> {
    let untied = content.tensor_infos.contains_key("output.weight");
    let mut names: Vec<String> = content
        .tensor_infos
        .keys()
        .filter(|name| !(untied && *name == "token_embd.weight"))
        .cloned()
        .collect();
    names.sort();
    names
}

/// The additive causal mask for `seq_len` new tokens after `offset` cached ones
/// (`[seq_len, offset + seq_len]`); with a `window`, a query also sees only the latest `window`
/// positions (itself included). `None` when nothing is masked: a single token that may see
/// everything.
fn causal_mask(
    seq_len: usize,
    offset: usize,
    window: Option<usize>,
    device: &Device,
) -> candle_core::Result<Option<Tensor>> {
    let kv_len = offset + seq_len;
    if seq_len == 1 && window.is_none_or(|w| kv_len <= w) {
        return Ok(None);
    }
    let mask: Vec<f32> = (0..seq_len)
        .flat_map(|i| {
            let query = offset + i;
            (0..kv_len).map(move |key| {
                if key > query || window.is_some_and(|w| query - key >= w) {
                    f32::NEG_INFINITY
                } else {
                    0.0
                }
            })
        })
        .collect();
    Tensor::from_vec(mask, (seq_len, kv_len), device).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visible(mask: &Tensor) -> Vec<Vec<bool>> {
        mask.to_vec2::<f32>()
            .unwrap()
            .into_iter()
            .map(|row| row.into_iter().map(|v| v == 0.0).collect())
            .collect()
    }

    #[test]
    fn a_sliding_window_hides_positions_older_than_the_window() {
        // Two new tokens at positions 3 and 4 after three cached ones, window 2: position 3
        // sees 2 and 3, position 4 sees 3 and 4.
        let mask = causal_mask(2, 3, Some(2), &Device::Cpu).unwrap().unwrap();
        assert_eq!(
            visible(&mask),
            [
                [false, false, true, true, false],
                [false, false, false, true, true]
            ]
        );
        let causal = causal_mask(2, 3, None, &Device::Cpu).unwrap().unwrap();
        assert_eq!(
            visible(&causal),
            [
                [true, true, true, true, false],
                [true, true, true, true, true]
            ]
        );
    }

    #[test]
    fn one_token_needs_a_mask_only_once_the_window_is_full() {
        assert!(causal_mask(1, 7, None, &Device::Cpu).unwrap().is_none());
        assert!(causal_mask(1, 1, Some(2), &Device::Cpu).unwrap().is_none());
        let mask = causal_mask(1, 2, Some(2), &Device::Cpu).unwrap().unwrap();
        assert_eq!(visible(&mask), [[false, true, true]]);
    }
}
