//! The prompt (prefill) on CUDA: the fused decode step's kernels run over many tokens at once,
//! with candle's quantized matrix products in between.
//!
//! Through candle's operations a 32-token prompt of the default model is about 1,300 launches
//! (a layer's attention alone is some fifteen: copies for the head layout, the rope, the cache,
//! the mask, the scores, the softmax), and on an H100 it is bound by issuing them from the host.
//! Here a layer is five of our kernels (`kernels/decode.cu`, each taking one row per token) and
//! candle's seven quantized products (`QTensor`'s own CUDA forward: its MMQ kernels past eight
//! rows, its matrix-vector kernels up to eight), each of those two or three launches. Prompts are
//! run in chunks of [`CHUNK`] tokens so that the scratch buffers stay small.
//!
//! The pointers it holds are the decoder's: into the transformer's weights, norms, rope tables
//! and KV cache buffers, which are never replaced while the decoder lives (see `cuda_decode.rs`).
#![allow(unsafe_code)]

use std::sync::Arc;

use candle_core::cuda::cudarc::driver::{
    CudaSlice, CudaStream, DevicePtr, LaunchConfig, PushKernelArg, sys,
};
use candle_core::op::BackpropOp;
use candle_core::quantized::{QMatMul, QTensor};
use candle_core::{CudaDevice, CudaStorage, CustomOp1, Layout, Storage, Tensor};

use crate::cuda_decode::{
    ATTENTION_THREADS, Arg, Kernel, LayerParts, ModelParts, config, driver, int, launch_now,
    matrix, optional, pad, tensor,
};

/// Tokens run at once; a longer prompt is run in chunks of this many.
const CHUNK: usize = 512;
/// The most blocks a query head's attention is split over.
const MAX_ATTENTION_SPLITS: usize = 32;

/// One layer's weights and buffers, as device pointers and candle's quantized tensors.
#[derive(Debug)]
struct Layer {
    attn_norm: u64,
    /// The matrices whose products are the queries, keys and values, one after another.
    attention_in: Vec<Arc<QTensor>>,
    q_bias: u64,
    k_bias: u64,
    v_bias: u64,
    o: Arc<QTensor>,
    q_norm: u64,
    k_norm: u64,
    post_attention_norm: u64,
    post_ffw_norm: u64,
    ffn_norm: u64,
    /// Likewise for the gate and up projections.
    ffn_in: Vec<Arc<QTensor>>,
    down: Arc<QTensor>,
    cos: u64,
    sin: u64,
    window: usize,
    keys: u64,
    values: u64,
}

/// The prefill of a model the fused decode step covers.
#[derive(Debug)]
pub(crate) struct Prefill {
    device: CudaDevice,
    stream: Arc<CudaStream>,
    layers: Vec<Layer>,
    output_norm: u64,
    output: Arc<QTensor>,
    hidden: usize,
    ffn: usize,
    heads: usize,
    kv_heads: usize,
    head_dim: usize,
    capacity: usize,
    eps: f32,
    embedding_scale: f32,
    interleaved_rope: bool,
    gelu: bool,
    /// Threads of a row's norm (see `cuda_decode.rs`).
    norm_threads: u32,
    multiprocessors: usize,
}

/// A chunk's activations between the products: candle storage, so that they can go into
/// `QTensor`'s forward, and their device addresses for our kernels.
struct Rows {
    storage: CudaStorage,
    at: u64,
}

impl Prefill {
    /// Gathers what the prefill reads from `parts`, which the decode step already checked
    /// (quantized weights of types candle has kernels for, head and hidden sizes).
    pub(crate) fn new(
        device: &CudaDevice,
        parts: &ModelParts<'_>,
        ffn: usize,
        norm_threads: u32,
    ) -> candle_core::Result<Self> {
        let layers = parts
            .layers
            .iter()
            .map(Layer::new)
            .collect::<candle_core::Result<_>>()?;
        let stream = device.cuda_stream();
        let multiprocessors = stream
            .context()
            .attribute(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
            .map_err(driver)?;
        Ok(Prefill {
            device: device.clone(),
            stream,
            layers,
            output_norm: tensor(parts.output_norm)?,
            output: shared(parts.output)?,
            hidden: parts.hidden,
            ffn,
            heads: parts.heads,
            kv_heads: parts.kv_heads,
            head_dim: parts.head_dim,
            capacity: parts.capacity,
            eps: parts.eps,
            embedding_scale: parts.embedding_scale,
            interleaved_rope: parts.interleaved_rope,
            gelu: parts.gelu,
            norm_threads,
            multiprocessors: multiprocessors.max(1) as usize,
        })
    }

    /// Runs the tokens whose embeddings are `embeddings` (`[.., tokens, hidden]` f32 on this
    /// device) from position `pos`, after the caller made sure the KV buffers hold every one of
    /// them; writes their keys and values and returns the last token's logits (`[vocab]`, on
    /// the device).
    pub(crate) fn run(&self, embeddings: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        let tokens = embeddings.elem_count() / self.hidden;
        if tokens == 0 || tokens * self.hidden != embeddings.elem_count() {
            candle_core::bail!("embeddings of shape {:?}", embeddings.shape());
        }
        let embeddings = embeddings.contiguous()?;
        let (storage, layout) = embeddings.storage_and_layout();
        let (Storage::Cuda(storage), Some((start, _))) = (&*storage, layout.contiguous_offsets())
        else {
            candle_core::bail!("expected embeddings on the CUDA device");
        };
        let embeddings = storage.as_cuda_slice::<f32>()?;
        let mut logits = None;
        for first in (0..tokens).step_by(CHUNK) {
            let rows = CHUNK.min(tokens - first);
            let from = start + first * self.hidden;
            let mut x = self
                .stream
                .alloc_zeros::<f32>(rows * self.hidden)
                .map_err(driver)?;
            self.stream
                .memcpy_dtod(&embeddings.slice(from..from + rows * self.hidden), &mut x)
                .map_err(driver)?;
            let last = first + rows == tokens;
            logits = self.chunk(&mut x, rows, pos + first, last)?;
        }
        logits.ok_or_else(|| candle_core::Error::Msg("no logits".into()))
    }

    /// Runs `rows` tokens whose embeddings are `x` from position `pos`; with `logits`, returns
    /// the last one's.
    fn chunk(
        &self,
        x: &mut CudaSlice<f32>,
        rows: usize,
        pos: usize,
        logits: bool,
    ) -> candle_core::Result<Option<Tensor>> {
        let x_at = x.device_ptr(&self.stream).0;
        let pos = i32::try_from(pos).map_err(|_| candle_core::Error::Msg("position".into()))?;
        let pos = self.stream.clone_htod(&[pos]).map_err(driver)?;
        let pos_at = pos.device_ptr(&self.stream).0;
        let attn_width = self.heads * self.head_dim;

        let h = self.rows(rows * self.hidden)?;
        let attention = self.rows(rows * attn_width)?;
        let act = self.rows(rows * self.ffn)?;
        let q_rot = self.rows(rows * attn_width)?;
        // Split each query head's positions so that the launch fills the card about twice.
        let splits = (2 * self.multiprocessors)
            .div_ceil(self.heads * rows)
            .clamp(1, MAX_ATTENTION_SPLITS);
        let partial = self.rows(rows * self.heads * splits * (self.head_dim + 2))?;
        let done = self
            .stream
            .alloc_zeros::<u32>(rows * self.heads)
            .map_err(driver)?;
        let done_at = done.device_ptr(&self.stream).0;

        // The previous layer's feed-forward output and the norm it takes before the residual
        // add: kept alive until the next add_norm is queued, as a product is freed in stream
        // order and its memory reused by the next allocation.
        let mut residual: Option<(CudaStorage, u64)> = None;
        let mut x_scale = self.embedding_scale;
        for layer in &self.layers {
            self.add_norm(x_at, residual.as_ref(), x_scale, layer.attn_norm, &h, rows)?;
            x_scale = 1.0;
            let qkv = self.products(&layer.attention_in, &h, rows)?;
            let kv_width = self.kv_heads * self.head_dim;
            let (q, k, v) = (
                column(&qkv, 0)?,
                column(&qkv, attn_width)?,
                column(&qkv, attn_width + kv_width)?,
            );
            self.launch(
                "qkv_rope",
                LaunchConfig {
                    grid_dim: ((self.heads + 2 * self.kv_heads) as u32, rows as u32, 1),
                    block_dim: (self.head_dim as u32, 1, 1),
                    shared_mem_bytes: (self.head_dim * 4) as u32,
                },
                &[
                    Arg::Ptr(q.0),
                    Arg::Ptr(k.0),
                    Arg::Ptr(v.0),
                    Arg::Ptr(layer.q_bias),
                    Arg::Ptr(layer.k_bias),
                    Arg::Ptr(layer.v_bias),
                    Arg::Ptr(layer.q_norm),
                    Arg::Ptr(layer.k_norm),
                    Arg::Ptr(layer.cos),
                    Arg::Ptr(layer.sin),
                    Arg::Ptr(pos_at),
                    Arg::Ptr(q_rot.at),
                    Arg::Ptr(layer.keys),
                    Arg::Ptr(layer.values),
                    int(self.heads),
                    int(self.kv_heads),
                    int(self.head_dim),
                    int(self.capacity),
                    int(usize::from(self.interleaved_rope)),
                    Arg::Float(self.eps),
                    int(q.1),
                    int(k.1),
                    int(v.1),
                ],
            )?;
            self.launch(
                "attention",
                LaunchConfig {
                    grid_dim: (self.heads as u32, splits as u32, rows as u32),
                    block_dim: (ATTENTION_THREADS, 1, 1),
                    shared_mem_bytes: 0,
                },
                &[
                    Arg::Ptr(q_rot.at),
                    Arg::Ptr(layer.keys),
                    Arg::Ptr(layer.values),
                    Arg::Ptr(0),
                    Arg::Ptr(attention.at),
                    Arg::Ptr(pos_at),
                    int(self.heads),
                    int(self.kv_heads),
                    int(self.head_dim),
                    int(self.capacity),
                    int(layer.window),
                    Arg::Float(1.0 / (self.head_dim as f32).sqrt()),
                    Arg::Ptr(partial.at),
                    Arg::Ptr(done_at),
                ],
            )?;
            let o = self.product(&layer.o, &attention, rows, attn_width)?;
            self.add_norm(
                x_at,
                Some(&(o, layer.post_attention_norm)),
                1.0,
                layer.ffn_norm,
                &h,
                rows,
            )?;
            let gate_up = self.products(&layer.ffn_in, &h, rows)?;
            let (gate, up) = (column(&gate_up, 0)?, column(&gate_up, self.ffn)?);
            if gate.1 != up.1 {
                candle_core::bail!("gate and up projections of different layouts");
            }
            self.launch(
                "act_mul_q8",
                LaunchConfig {
                    grid_dim: (pad(self.ffn).div_ceil(256) as u32, rows as u32, 1),
                    block_dim: (256, 1, 1),
                    shared_mem_bytes: 0,
                },
                &[
                    Arg::Ptr(gate.0),
                    Arg::Ptr(up.0),
                    Arg::Ptr(0),
                    Arg::Ptr(act.at),
                    int(self.ffn),
                    int(pad(self.ffn)),
                    int(usize::from(self.gelu)),
                    int(gate.1),
                ],
            )?;
            let down = self.product(&layer.down, &act, rows, self.ffn)?;
            residual = Some((down, layer.post_ffw_norm));
        }
        if !logits {
            return Ok(None);
        }
        self.add_norm(x_at, residual.as_ref(), 1.0, self.output_norm, &h, rows)?;
        let last = Layout::contiguous_with_offset((1, self.hidden), (rows - 1) * self.hidden);
        let (out, _) = self.output.cuda_fwd(&h.storage, &last)?;
        let vocab = out.as_cuda_slice::<f32>()?.len();
        Ok(Some(Tensor::from_storage(
            Storage::Cuda(out),
            vocab,
            BackpropOp::none(),
            false,
        )))
    }

    /// `x += delta` (RMS-normalised by the norm at `delta.1` first when that is not 0), or
    /// `x *= x_scale` when there is no delta; then `h = rms_norm(x) * norm`, for each of `rows`
    /// rows.
    fn add_norm(
        &self,
        x: u64,
        delta: Option<&(CudaStorage, u64)>,
        x_scale: f32,
        norm: u64,
        h: &Rows,
        rows: usize,
    ) -> candle_core::Result<()> {
        let (delta, delta_norm) = match delta {
            Some((storage, norm)) => (address(storage)?, *norm),
            None => (0, 0),
        };
        self.launch(
            "add_norm_q8",
            config(rows as u32, self.norm_threads, 0),
            &[
                Arg::Ptr(x),
                Arg::Ptr(delta),
                Arg::Ptr(delta_norm),
                Arg::Float(x_scale),
                Arg::Ptr(norm),
                Arg::Ptr(0),
                Arg::Ptr(h.at),
                int(self.hidden),
                int(pad(self.hidden)),
                Arg::Float(self.eps),
            ],
        )
    }

    /// `input · weightᵀ` for `rows` rows of `columns` values, by candle's quantized kernels.
    fn product(
        &self,
        weight: &QTensor,
        input: &Rows,
        rows: usize,
        columns: usize,
    ) -> candle_core::Result<CudaStorage> {
        let layout = Layout::contiguous((rows, columns));
        Ok(weight.cuda_fwd(&input.storage, &layout)?.0)
    }

    /// The products of `matrices` by `input` (`rows` rows of `self.hidden` values), each with
    /// its width.
    fn products(
        &self,
        matrices: &[Arc<QTensor>],
        input: &Rows,
        rows: usize,
    ) -> candle_core::Result<Vec<(CudaStorage, usize)>> {
        matrices
            .iter()
            .map(|m| {
                let (width, _) = m.shape().dims2()?;
                Ok((self.product(m, input, rows, self.hidden)?, width))
            })
            .collect()
    }

    /// A buffer of `len` f32 values, written by a kernel before it is read.
    fn rows(&self, len: usize) -> candle_core::Result<Rows> {
        // SAFETY: every launch that reads one of these buffers comes after one that writes it.
        let slice = unsafe { self.stream.alloc::<f32>(len) }.map_err(driver)?;
        let at = slice.device_ptr(&self.stream).0;
        Ok(Rows {
            storage: CudaStorage::wrap_cuda_slice(slice, self.device.clone()),
            at,
        })
    }

    fn launch(&self, name: &str, config: LaunchConfig, args: &[Arg]) -> candle_core::Result<()> {
        let func = Kernel::new(&self.device, name)?;
        launch_now!(func, config, args)
    }
}

impl Layer {
    fn new(parts: &LayerParts<'_>) -> candle_core::Result<Self> {
        Ok(Layer {
            attn_norm: tensor(parts.attn_norm)?,
            attention_in: parts.attention_in.clone(),
            q_bias: optional(parts.q_bias)?,
            k_bias: optional(parts.k_bias)?,
            v_bias: optional(parts.v_bias)?,
            o: shared(parts.o)?,
            q_norm: optional(parts.q_norm)?,
            k_norm: optional(parts.k_norm)?,
            post_attention_norm: optional(parts.post_attention_norm)?,
            post_ffw_norm: optional(parts.post_ffw_norm)?,
            ffn_norm: tensor(parts.ffn_norm)?,
            ffn_in: parts.ffn_in.clone(),
            down: shared(parts.down)?,
            cos: tensor(parts.cos)?,
            sin: tensor(parts.sin)?,
            window: parts.window,
            keys: tensor(parts.keys)?,
            values: tensor(parts.values)?,
        })
    }
}

/// The quantized tensor of `weight`, shared with the transformer.
fn shared(weight: &QMatMul) -> candle_core::Result<Arc<QTensor>> {
    match (weight, matrix(weight)) {
        (QMatMul::QTensor(q), Some(_)) => Ok(q.clone()),
        _ => candle_core::bail!("expected a quantized matrix"),
    }
}

/// Where column `index` of products laid side by side (each `(product, width)`, row-major)
/// starts, and the row stride there: the device address and the product's width.
fn column(products: &[(CudaStorage, usize)], index: usize) -> candle_core::Result<(u64, usize)> {
    let mut first = 0;
    for (product, width) in products {
        if index < first + width {
            let at = address(product)? + ((index - first) * std::mem::size_of::<f32>()) as u64;
            return Ok((at, *width));
        }
        first += width;
    }
    candle_core::bail!("no product has column {index}")
}

/// The device address of an f32 product.
fn address(storage: &CudaStorage) -> candle_core::Result<u64> {
    let slice = storage.as_cuda_slice::<f32>()?;
    Ok(slice.device_ptr(slice.stream()).0)
}
