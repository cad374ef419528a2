//! The one-token decode step on CUDA: a fixed list of kernel launches over buffers allocated
//! once, captured and replayed as one CUDA graph.
//!
//! Through candle, one decode step of the default model is about 1,400 operations (each matrix
//! product alone allocates, zeroes, quantizes its input and launches), and on an H100 the step
//! is bound by issuing them from the host: ~110-160 tok/s. Here a layer is twelve launches:
//! candle's quantized matrix-vector kernels (its MMVQ launchers, llama.cpp's) for the seven
//! projections and five of our own (`kernels/decode.cu`) for everything between them, reading
//! the position from device memory. Nothing in the list changes from one token to the next, so
//! it is recorded once as a CUDA graph and each token is one graph launch.
//!
//! The launches hold raw device pointers into the [`Transformer`](crate::model::Transformer)'s
//! weights, norms, rope tables and KV cache buffers; the decoder lives in the transformer and
//! is dropped with it, and those tensors are never replaced while it lives.
//!
//! `unsafe` code here: kernel launches with raw device pointers, and page-locked host memory.
#![allow(unsafe_code)]

use std::sync::{Arc, Mutex};

use candle_core::cuda::DeviceId;
use candle_core::cuda::cudarc::driver::{
    CudaFunction, CudaGraph, CudaModule, CudaSlice, CudaStream, DevicePtr, LaunchArgs,
    LaunchConfig, PinnedHostSlice, PushKernelArg, sys,
};
use candle_core::cuda::cudarc::nvrtc::Ptx;
use candle_core::cuda::kernels;
use candle_core::quantized::{GgmlDType, QMatMul, QTensor};
use candle_core::{CudaDevice, DType, Device, Storage, Tensor};

/// Our kernels (`kernels/decode.cu`) as one fat binary: machine code for the common GPU
/// generations and PTX for the others (see `build.rs`), so that the driver compiles nothing on
/// those GPUs when the module is first loaded.
pub(crate) const IMAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/decode.fatbin"));

/// One of our kernels, with the stream it is launched on.
pub(crate) struct Kernel {
    function: CudaFunction,
    stream: Arc<CudaStream>,
}

impl Kernel {
    /// Our kernel `name` on `device`; the module is loaded once per device. (candle's
    /// `get_or_load_custom_func` takes PTX text only, not a fat binary.)
    pub(crate) fn new(device: &CudaDevice, name: &str) -> candle_core::Result<Self> {
        static MODULES: Mutex<Vec<(DeviceId, Arc<CudaModule>)>> = Mutex::new(Vec::new());
        let module = {
            let mut modules = MODULES
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            match modules.iter().find(|(id, _)| *id == device.id()) {
                Some((_, module)) => module.clone(),
                None => {
                    let module = device
                        .cuda_stream()
                        .context()
                        .load_module(Ptx::from_binary(IMAGE.to_vec()))
                        .map_err(driver)?;
                    modules.push((device.id(), module.clone()));
                    module
                }
            }
        };
        Ok(Kernel {
            function: module.load_function(name).map_err(driver)?,
            stream: device.cuda_stream(),
        })
    }

    pub(crate) fn builder(&self) -> LaunchArgs<'_> {
        self.stream.launch_builder(&self.function)
    }
}
/// candle's quantized kernels read activations padded to a multiple of this many values.
const ROW_PADDING: usize = 512;
/// Bytes of one q8_1 block of 32 values.
const Q8_1_BYTES: usize = 36;
/// Threads of the attention kernel (`ATTENTION_WARPS` warps in decode.cu).
pub(crate) const ATTENTION_THREADS: u32 = 128;
/// Blocks per head of the decode step's attention (the y of its grid).
const ATTENTION_SPLITS: usize = 32;
/// Values a thread of add_norm_q8 holds (`NORM_MAX_PER_THREAD` in decode.cu).
const NORM_MAX_PER_THREAD: usize = 16;
/// The largest head the attention kernel takes (`MAX_HEAD_DIM` in decode.cu).
const MAX_HEAD_DIM: usize = 256;

/// What one layer's step reads and writes.
#[derive(Debug)]
pub(crate) struct LayerParts<'a> {
    pub attn_norm: &'a Tensor,
    /// The matrices that multiply the normed input into the queries, keys and values: their
    /// outputs, one after another, are those three (one stacked matrix, or two or three).
    pub attention_in: Vec<Arc<QTensor>>,
    pub q_bias: Option<&'a Tensor>,
    pub k_bias: Option<&'a Tensor>,
    pub v_bias: Option<&'a Tensor>,
    pub o: &'a QMatMul,
    pub q_norm: Option<&'a Tensor>,
    pub k_norm: Option<&'a Tensor>,
    pub post_attention_norm: Option<&'a Tensor>,
    pub post_ffw_norm: Option<&'a Tensor>,
    pub ffn_norm: &'a Tensor,
    /// Likewise for the feed-forward gate and up projections.
    pub ffn_in: Vec<Arc<QTensor>>,
    pub down: &'a QMatMul,
    /// `[max_positions, head_dim / 2]` rope tables.
    pub cos: &'a Tensor,
    pub sin: &'a Tensor,
    /// Attend to the latest this many positions only (0: all).
    pub window: usize,
    /// The layer's `[1, kv_heads, capacity, head_dim]` key and value buffers.
    pub keys: &'a Tensor,
    pub values: &'a Tensor,
}

/// What the whole step reads, with the model's shape.
#[derive(Debug)]
pub(crate) struct ModelParts<'a> {
    /// The token embedding matrix, rows looked up on the device.
    pub embedding: &'a QTensor,
    pub layers: Vec<LayerParts<'a>>,
    pub output_norm: &'a Tensor,
    pub output: &'a QMatMul,
    pub hidden: usize,
    pub heads: usize,
    pub kv_heads: usize,
    pub head_dim: usize,
    pub capacity: usize,
    pub eps: f32,
    /// Multiplies the looked-up embedding (Gemma); 1.0 elsewhere.
    pub embedding_scale: f32,
    pub interleaved_rope: bool,
    pub gelu: bool,
}

/// One kernel argument.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg {
    Ptr(u64),
    Int(i32),
    Long(i64),
    Float(f32),
}

/// One prepared kernel launch: a closure that owns its function and arguments (candle's
/// `CudaFunc`, which some launches use, cannot be named outside candle).
type Launch = Box<dyn Fn() -> candle_core::Result<()> + Send + Sync>;

/// Launches `func` (a [`Kernel`] or a candle `CudaFunc`) with `config` and `args` (a slice of [`Arg`]) now.
macro_rules! launch_now {
    ($func:expr, $config:expr, $args:expr) => {{
        let mut builder = $func.builder();
        for arg in $args {
            match arg {
                Arg::Ptr(value) => builder.arg(value),
                Arg::Int(value) => builder.arg(value),
                Arg::Long(value) => builder.arg(value),
                Arg::Float(value) => builder.arg(value),
            };
        }
        // SAFETY: every pointer argument points into a buffer of the size the kernel reads
        // or writes, owned by the caller, the decoder or the transformer that owns the decoder.
        unsafe { builder.launch($config) }
            .map(|_| ())
            .map_err(driver)
    }};
}
pub(crate) use launch_now;

/// A [`Launch`] of `func` (a [`Kernel`] or a candle `CudaFunc`) with `config` and `args`.
macro_rules! launch {
    ($func:expr, $config:expr, $args:expr) => {{
        let func = $func;
        let config: LaunchConfig = $config;
        let args: Vec<Arg> = $args;
        Box::new(move || launch_now!(func, config, &args)) as Launch
    }};
}

/// A recorded graph of the step.
struct Graph(CudaGraph);

// SAFETY: the graph is only launched through `&mut Decoder`, so from one thread at a time, which
// is all the CUDA driver asks of graph objects.
unsafe impl Send for Graph {}
unsafe impl Sync for Graph {}

/// The decode step, ready to run.
pub(crate) struct Decoder {
    stream: Arc<CudaStream>,
    launches: Vec<Launch>,
    graph: Option<Graph>,
    /// Whether capturing the graph failed; the launches then run one by one.
    no_graph: bool,
    /// The token to decode and its position, in page-locked host memory: the step's first
    /// launch copies them to the device.
    host_input: PinnedHostSlice<i32>,
    /// Page-locked host memory the step's last launch copies the logits into (a copy into
    /// ordinary memory is staged by the driver and slower).
    host_logits: PinnedHostSlice<f32>,
    /// Intermediate buffers the launches point into.
    _scratch: Scratch,
    /// The same kernels over a whole prompt.
    prefill: crate::cuda_prefill::Prefill,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("launches", &self.launches.len())
            .field("graph", &self.graph.is_some())
            .finish_non_exhaustive()
    }
}

/// Buffers only the kernels use, kept alive with the decoder.
struct Scratch {
    _floats: Vec<CudaSlice<f32>>,
    _bytes: Vec<CudaSlice<u8>>,
    _counters: CudaSlice<u32>,
    _input: CudaSlice<i32>,
}

/// Why the fused step does not apply to a model; the caller keeps candle's path.
pub(crate) type Unsupported = String;

impl Decoder {
    /// Prepares the step for `parts` on `device`, replayed as a CUDA graph unless `graph` is
    /// false (then the launches run one by one). `Ok(Err(reason))` when the model has a part
    /// the fused kernels do not cover (a weight type candle has no matrix-vector kernel for, a
    /// head wider than 256).
    pub(crate) fn new(
        device: &CudaDevice,
        parts: &ModelParts<'_>,
        graph: bool,
    ) -> candle_core::Result<Result<Self, Unsupported>> {
        if !parts.head_dim.is_multiple_of(32) || parts.head_dim > MAX_HEAD_DIM {
            return Ok(Err(format!("head size {}", parts.head_dim)));
        }
        if !parts.hidden.is_multiple_of(32) {
            return Ok(Err(format!("hidden size {}", parts.hidden)));
        }
        if parts.kv_heads == 0 || !parts.heads.is_multiple_of(parts.kv_heads) {
            return Ok(Err(format!(
                "{} query heads over {} key/value heads",
                parts.heads, parts.kv_heads
            )));
        }
        let stream = device.cuda_stream();
        let ffn = match parts.layers.first() {
            Some(layer) => match matrix(layer.down) {
                Some((_, dims)) => dims.1,
                None => return Ok(Err("a feed-forward weight that is not quantized".into())),
            },
            None => return Ok(Err("a model without layers".into())),
        };
        let vocab = match matrix(parts.output) {
            Some((_, dims)) => dims.0,
            None => return Ok(Err("an output weight that is not quantized".into())),
        };
        let attn_width = parts.heads * parts.head_dim;
        let kv_width = parts.kv_heads * parts.head_dim;
        let rows = |matrices: &[Arc<QTensor>]| -> usize {
            matrices
                .iter()
                .map(|m| m.shape().dims2().map_or(0, |(rows, _)| rows))
                .sum()
        };
        for layer in &parts.layers {
            if rows(&layer.attention_in) != attn_width + 2 * kv_width
                || rows(&layer.ffn_in) != 2 * ffn
            {
                return Ok(Err("projections of unexpected sizes".into()));
            }
        }

        let floats = |n: usize| stream.alloc_zeros::<f32>(n).map_err(driver);
        let q8 = |n: usize| {
            stream
                .alloc_zeros::<u8>(pad(n) / 32 * Q8_1_BYTES)
                .map_err(driver)
        };
        let Some(embedding) = embedding_lookup(device, parts.embedding, parts.hidden)? else {
            return Ok(Err(format!(
                "a token embedding of type {:?}",
                parts.embedding.dtype()
            )));
        };
        let x = floats(parts.hidden)?;
        // The token and its position.
        let input = stream.alloc_zeros::<i32>(2).map_err(driver)?;
        let logits = floats(vocab)?;
        // SAFETY: `step` writes the input before each run, and the logits are written by the
        // step's last launch before `step` reads them.
        let mut host_input =
            unsafe { stream.context().alloc_pinned_with_flags::<i32>(2, 0) }.map_err(driver)?;
        let mut host_logits =
            unsafe { stream.context().alloc_pinned_with_flags::<f32>(vocab, 0) }.map_err(driver)?;
        // The pinned memory stays where it is when the slices move into the decoder.
        let host_input_at = host_input.as_mut_ptr().map_err(driver)? as usize;
        let host_logits_at = host_logits.as_mut_ptr().map_err(driver)? as usize;
        // The queries, keys and values of the token, one after another; its gate and up rows.
        let (qkv, q_rot) = (floats(attn_width + 2 * kv_width)?, floats(attn_width)?);
        let (attn_out, ffn_out, gate_up) = (
            floats(parts.hidden)?,
            floats(parts.hidden)?,
            floats(2 * ffn)?,
        );
        let (hidden_q8, attn_q8, ffn_q8) = (q8(parts.hidden)?, q8(attn_width)?, q8(ffn)?);
        // The attention kernel's partial results and per-head counters (see decode.cu).
        let runs = floats(parts.heads * ATTENTION_SPLITS * (parts.head_dim + 2))?;
        let done = stream.alloc_zeros::<u32>(parts.heads).map_err(driver)?;

        let ptr = |slice: &CudaSlice<f32>| slice.device_ptr(&stream).0;
        let bytes = |slice: &CudaSlice<u8>| slice.device_ptr(&stream).0;
        let (x_at, logits_at) = (ptr(&x), ptr(&logits));
        let input_at = input.device_ptr(&stream).0;
        let (token_at, pos_at) = (input_at, input_at + std::mem::size_of::<i32>() as u64);
        let float_bytes = std::mem::size_of::<f32>() as u64;
        let (qkv_at, q_rot_at) = (ptr(&qkv), ptr(&q_rot));
        let (q_raw_at, k_raw_at, v_raw_at) = (
            qkv_at,
            qkv_at + attn_width as u64 * float_bytes,
            qkv_at + (attn_width + kv_width) as u64 * float_bytes,
        );
        let (attn_out_at, ffn_out_at, gate_at) = (ptr(&attn_out), ptr(&ffn_out), ptr(&gate_up));
        let up_at = gate_at + ffn as u64 * float_bytes;
        let (hidden_q8_at, attn_q8_at, ffn_q8_at) =
            (bytes(&hidden_q8), bytes(&attn_q8), bytes(&ffn_q8));
        let (runs_at, done_at) = (ptr(&runs), done.device_ptr(&stream).0);

        let own = |name: &str| Kernel::new(device, name);
        let mut plan = Plan {
            device,
            launches: Vec::new(),
        };
        // The token and its position reach the device as the step's first operation, and its
        // embedding row is looked up there, so that a token is one graph launch.
        let raw_stream = stream.cu_stream() as usize;
        plan.launches.push(Box::new(move || {
            // SAFETY: `host_input_at` is the decoder's page-locked buffer of two i32 and
            // `input_at` a device buffer of two; `step` writes the first before each run and
            // waits for the stream before the next.
            unsafe {
                sys::cuMemcpyHtoDAsync_v2(
                    input_at,
                    host_input_at as *const std::ffi::c_void,
                    2 * std::mem::size_of::<i32>(),
                    raw_stream as sys::CUstream,
                )
            }
            .result()
            .map_err(driver)
        }));
        plan.launches.push(embedding(token_at, x_at));
        // add_norm_q8 runs at most 512 threads (the registers of 1024 would not hold 16 values
        // each), each holding at most 16 values; the threads divide the padded size.
        let norm_threads = [512, 256, 128]
            .into_iter()
            .find(|threads| pad(parts.hidden).is_multiple_of(*threads))
            .unwrap_or(128);
        if pad(parts.hidden) / norm_threads > NORM_MAX_PER_THREAD {
            return Ok(Err(format!("hidden size {}", parts.hidden)));
        }
        let norm_threads = norm_threads as u32;
        let add_norm_step = |delta: u64,
                             delta_norm: Option<&Tensor>,
                             x_scale: f32,
                             norm: &Tensor|
         -> candle_core::Result<Launch> {
            Ok(launch!(
                own("add_norm_q8")?,
                config(1, norm_threads, 0),
                vec![
                    Arg::Ptr(x_at),
                    Arg::Ptr(delta),
                    Arg::Ptr(optional(delta_norm)?),
                    Arg::Float(x_scale),
                    Arg::Ptr(tensor(norm)?),
                    Arg::Ptr(hidden_q8_at),
                    Arg::Ptr(0),
                    int(parts.hidden),
                    int(pad(parts.hidden)),
                    Arg::Float(parts.eps),
                ]
            ))
        };

        // The first layer's norm scales the looked-up embedding instead of adding a delta.
        let mut delta: (u64, Option<&Tensor>) = (0, None);
        let mut x_scale = parts.embedding_scale;
        for layer in &parts.layers {
            plan.launches
                .push(add_norm_step(delta.0, delta.1, x_scale, layer.attn_norm)?);
            x_scale = 1.0;
            if let Err(reason) = plan.matvecs(&layer.attention_in, hidden_q8_at, qkv_at)? {
                return Ok(Err(reason));
            }
            plan.launches.push(launch!(
                own("qkv_rope")?,
                config(
                    (parts.heads + 2 * parts.kv_heads) as u32,
                    parts.head_dim as u32,
                    (parts.head_dim * 4) as u32,
                ),
                vec![
                    Arg::Ptr(q_raw_at),
                    Arg::Ptr(k_raw_at),
                    Arg::Ptr(v_raw_at),
                    Arg::Ptr(optional(layer.q_bias)?),
                    Arg::Ptr(optional(layer.k_bias)?),
                    Arg::Ptr(optional(layer.v_bias)?),
                    Arg::Ptr(optional(layer.q_norm)?),
                    Arg::Ptr(optional(layer.k_norm)?),
                    Arg::Ptr(tensor(layer.cos)?),
                    Arg::Ptr(tensor(layer.sin)?),
                    Arg::Ptr(pos_at),
                    Arg::Ptr(q_rot_at),
                    Arg::Ptr(tensor(layer.keys)?),
                    Arg::Ptr(tensor(layer.values)?),
                    int(parts.heads),
                    int(parts.kv_heads),
                    int(parts.head_dim),
                    int(parts.capacity),
                    int(usize::from(parts.interleaved_rope)),
                    Arg::Float(parts.eps),
                    // One token: no row strides to step over.
                    int(0),
                    int(0),
                    int(0),
                ]
            ));
            plan.launches.push(launch!(
                own("attention")?,
                LaunchConfig {
                    grid_dim: (parts.heads as u32, ATTENTION_SPLITS as u32, 1),
                    block_dim: (ATTENTION_THREADS, 1, 1),
                    shared_mem_bytes: 0,
                },
                vec![
                    Arg::Ptr(q_rot_at),
                    Arg::Ptr(tensor(layer.keys)?),
                    Arg::Ptr(tensor(layer.values)?),
                    Arg::Ptr(attn_q8_at),
                    Arg::Ptr(0),
                    Arg::Ptr(pos_at),
                    int(parts.heads),
                    int(parts.kv_heads),
                    int(parts.head_dim),
                    int(parts.capacity),
                    int(layer.window),
                    Arg::Float(1.0 / (parts.head_dim as f32).sqrt()),
                    Arg::Ptr(runs_at),
                    Arg::Ptr(done_at),
                ]
            ));
            if let Err(reason) = plan.matvec_of(layer.o, attn_q8_at, attn_out_at)? {
                return Ok(Err(reason));
            }
            plan.launches.push(add_norm_step(
                attn_out_at,
                layer.post_attention_norm,
                1.0,
                layer.ffn_norm,
            )?);
            if let Err(reason) = plan.matvecs(&layer.ffn_in, hidden_q8_at, gate_at)? {
                return Ok(Err(reason));
            }
            plan.launches.push(launch!(
                own("act_mul_q8")?,
                config(pad(ffn).div_ceil(256) as u32, 256, 0),
                vec![
                    Arg::Ptr(gate_at),
                    Arg::Ptr(up_at),
                    Arg::Ptr(ffn_q8_at),
                    Arg::Ptr(0),
                    int(ffn),
                    int(pad(ffn)),
                    int(usize::from(parts.gelu)),
                    int(0),
                ]
            ));
            if let Err(reason) = plan.matvec_of(layer.down, ffn_q8_at, ffn_out_at)? {
                return Ok(Err(reason));
            }
            delta = (ffn_out_at, layer.post_ffw_norm);
        }
        plan.launches
            .push(add_norm_step(delta.0, delta.1, 1.0, parts.output_norm)?);
        if let Err(reason) = plan.matvec_of(parts.output, hidden_q8_at, logits_at)? {
            return Ok(Err(reason));
        }
        plan.launches.push(Box::new(move || {
            // SAFETY: `host_logits_at` is the decoder's page-locked buffer of `vocab` floats,
            // `logits_at` the device buffer of as many; `step` reads the first only after
            // waiting for the stream.
            unsafe {
                sys::cuMemcpyDtoHAsync_v2(
                    host_logits_at as *mut std::ffi::c_void,
                    logits_at,
                    vocab * std::mem::size_of::<f32>(),
                    raw_stream as sys::CUstream,
                )
            }
            .result()
            .map_err(driver)
        }));

        let prefill = crate::cuda_prefill::Prefill::new(device, parts, ffn, norm_threads)?;
        Ok(Ok(Decoder {
            prefill,
            launches: plan.launches,
            stream,
            graph: None,
            no_graph: !graph,
            host_input,
            host_logits,
            _scratch: Scratch {
                _floats: vec![x, logits, qkv, q_rot, attn_out, ffn_out, gate_up, runs],
                _bytes: vec![hidden_q8, attn_q8, ffn_q8],
                _counters: done,
                _input: input,
            },
        }))
    }

    /// Kernel launches in one step.
    pub(crate) fn launches(&self) -> usize {
        self.launches.len()
    }

    /// Runs the prompt tokens whose embeddings are `embeddings` from position `pos` (see
    /// `cuda_prefill.rs`); returns the last one's logits, on the device.
    pub(crate) fn prefill(&self, embeddings: &Tensor, pos: usize) -> candle_core::Result<Tensor> {
        self.prefill.run(embeddings, pos)
    }

    /// Runs `token` at position `pos`, after the caller made sure the KV buffers hold
    /// `pos + 1` positions; returns the logits, on the CPU.
    pub(crate) fn step(&mut self, token: u32, pos: usize) -> candle_core::Result<Tensor> {
        let (Ok(token), Ok(pos)) = (i32::try_from(token), i32::try_from(pos)) else {
            candle_core::bail!("token {token} at position {pos} is out of range");
        };
        self.host_input
            .as_mut_slice()
            .map_err(driver)?
            .copy_from_slice(&[token, pos]);
        self.run()?;
        // Waiting for the stream, rather than letting a copy wait for the step, saved ~8 ms a
        // token on an H100 host.
        self.stream.synchronize().map_err(driver)?;
        let logits = self.host_logits.as_slice().map_err(driver)?;
        Tensor::from_slice(logits, logits.len(), &Device::Cpu)
    }

    /// Replays the last step `n` times back to back and waits for them: the device's time
    /// for a step without the host's between steps (`cmdai bench` shows it). The step
    /// rewrites the same position with the same values each time.
    pub(crate) fn replay(&mut self, n: usize) -> candle_core::Result<std::time::Duration> {
        self.stream.synchronize().map_err(driver)?;
        let started = std::time::Instant::now();
        for _ in 0..n {
            self.run()?;
        }
        self.stream.synchronize().map_err(driver)?;
        Ok(started.elapsed())
    }

    fn run(&mut self) -> candle_core::Result<()> {
        if self.graph.is_none() && !self.no_graph {
            match self.capture() {
                Ok(graph) => self.graph = Some(Graph(graph)),
                Err(error) => {
                    tracing::warn!(
                        "recording the decode step as a CUDA graph failed ({error}); \
                         launching its kernels one by one (slower)"
                    );
                    self.no_graph = true;
                }
            }
        }
        match &self.graph {
            Some(graph) => graph.0.launch().map_err(driver),
            None => self.launch_all(),
        }
    }

    /// Records the launches as a graph. The recording itself runs nothing.
    fn capture(&self) -> candle_core::Result<CudaGraph> {
        self.stream
            .begin_capture(sys::CUstreamCaptureMode::CU_STREAM_CAPTURE_MODE_RELAXED)
            .map_err(driver)?;
        let launched = self.launch_all();
        let graph = self
            .stream
            .end_capture(sys::CUgraphInstantiate_flags(0))
            .map_err(driver)?;
        launched?;
        graph.ok_or_else(|| candle_core::Error::Msg("the captured graph is empty".into()))
    }

    fn launch_all(&self) -> candle_core::Result<()> {
        self.launches.iter().try_for_each(|launch| launch())
    }
}

/// One matrix of the rows of `parts`, in order, on `device` (they have the same type and
/// width): the products of one input as one launch. The copies are queued on the device's
/// stream, ahead of anything that reads the matrix.
pub(crate) fn stack(device: &CudaDevice, parts: &[&QTensor]) -> candle_core::Result<QTensor> {
    let Some(first) = parts.first() else {
        candle_core::bail!("nothing to stack");
    };
    let (dtype, (_, columns)) = (first.dtype(), first.shape().dims2()?);
    let mut sizes = Vec::with_capacity(parts.len());
    for part in parts {
        let (rows, width) = part.shape().dims2()?;
        if part.dtype() != dtype || width != columns {
            candle_core::bail!("stacked matrices differ in type or width");
        }
        sizes.push((
            rows,
            rows * columns / dtype.block_size() * dtype.type_size(),
        ));
    }
    let rows: usize = sizes.iter().map(|(rows, _)| rows).sum();
    let storage = candle_core::quantized::cuda::QCudaStorage::zeros(device, rows * columns, dtype)?;
    let stacked = QTensor::new(
        candle_core::quantized::QStorage::Cuda(storage),
        (rows, columns),
    )?;
    let stream = device.cuda_stream();
    let mut at = stacked.device_ptr()? as u64;
    for (part, (_, bytes)) in parts.iter().zip(sizes) {
        // SAFETY: `at` has room for the `bytes` of every part after it (the stacked matrix has
        // the rows of all of them), and each part holds `bytes`; both live on `stream`'s device.
        unsafe {
            sys::cuMemcpyDtoDAsync_v2(at, part.device_ptr()? as u64, bytes, stream.cu_stream())
        }
        .result()
        .map_err(driver)?;
        at += bytes as u64;
    }
    Ok(stacked)
}

/// A launch of candle's row-lookup kernel for `embedding`'s type that writes the `hidden`
/// values of the row named by the u32 at `token_at` to `x_at`; `None` for a type it has no
/// kernel for.
fn embedding_lookup(
    device: &CudaDevice,
    embedding: &QTensor,
    hidden: usize,
) -> candle_core::Result<Option<impl FnOnce(u64, u64) -> Launch + use<>>> {
    let dtype = embedding.dtype();
    // candle's own shapes for these kernels (its `get_rows`): plain types take a value a
    // thread, the 32-value blocks two, the 256-value K-quant blocks a block each.
    let (name, threads, blocks) = match dtype {
        GgmlDType::F32 => ("get_rows_f32", 256, hidden.div_ceil(256)),
        GgmlDType::F16 => ("get_rows_f16", 256, hidden.div_ceil(256)),
        GgmlDType::BF16 => ("get_rows_bf16", 256, hidden.div_ceil(256)),
        GgmlDType::Q4_0 => ("get_rows_q4_0", 256, hidden.div_ceil(512)),
        GgmlDType::Q4_1 => ("get_rows_q4_1", 256, hidden.div_ceil(512)),
        GgmlDType::Q5_0 => ("get_rows_q5_0", 256, hidden.div_ceil(512)),
        GgmlDType::Q5_1 => ("get_rows_q5_1", 256, hidden.div_ceil(512)),
        GgmlDType::Q8_0 => ("get_rows_q8_0", 256, hidden.div_ceil(512)),
        GgmlDType::Q2K => ("get_rows_q2_K", 64, hidden / 256),
        GgmlDType::Q3K => ("get_rows_q3_K", 64, hidden / 256),
        GgmlDType::Q4K => ("get_rows_q4_K", 32, hidden / 256),
        GgmlDType::Q5K => ("get_rows_q5_K", 64, hidden / 256),
        GgmlDType::Q6K => ("get_rows_q6_K", 64, hidden / 256),
        _ => return Ok(None),
    };
    if !hidden.is_multiple_of(dtype.block_size()) {
        return Ok(None);
    }
    let func = device.get_or_load_func(name, &kernels::QUANTIZED)?;
    let data = embedding.device_ptr()? as u64;
    let row_bytes = (hidden / dtype.block_size() * dtype.type_size()) as i64;
    Ok(Some(move |token_at: u64, x_at: u64| {
        launch!(
            func,
            LaunchConfig {
                grid_dim: (1, blocks as u32, 1),
                block_dim: (threads, 1, 1),
                shared_mem_bytes: 0,
            },
            vec![
                Arg::Ptr(data),
                Arg::Ptr(token_at),
                Arg::Ptr(x_at),
                Arg::Long(hidden as i64),
                Arg::Long(row_bytes),
            ]
        )
    }))
}

/// The launch list being built.
struct Plan<'a> {
    device: &'a CudaDevice,
    launches: Vec<Launch>,
}

/// candle's matrix-vector launcher (llama.cpp's MMVQ) for q8_1 input and f32 output.
type MmvqLauncher = unsafe extern "C" fn(
    *const std::ffi::c_void,
    *const std::ffi::c_void,
    *mut std::ffi::c_void,
    i32,
    i32,
    i32,
    i32,
    i32,
    *mut std::ffi::c_void,
);

fn mmvq_launcher(dtype: GgmlDType) -> Option<MmvqLauncher> {
    use kernels::ffi;
    Some(match dtype {
        GgmlDType::Q4_0 => ffi::launch_mmvq_gguf_q4_0_f32_plain,
        GgmlDType::Q4_1 => ffi::launch_mmvq_gguf_q4_1_f32_plain,
        GgmlDType::Q5_0 => ffi::launch_mmvq_gguf_q5_0_f32_plain,
        GgmlDType::Q5_1 => ffi::launch_mmvq_gguf_q5_1_f32_plain,
        GgmlDType::Q8_0 => ffi::launch_mmvq_gguf_q8_0_f32_plain,
        GgmlDType::Q2K => ffi::launch_mmvq_gguf_q2_k_f32_plain,
        GgmlDType::Q3K => ffi::launch_mmvq_gguf_q3_k_f32_plain,
        GgmlDType::Q4K => ffi::launch_mmvq_gguf_q4_k_f32_plain,
        GgmlDType::Q5K => ffi::launch_mmvq_gguf_q5_k_f32_plain,
        GgmlDType::Q6K => ffi::launch_mmvq_gguf_q6_k_f32_plain,
        _ => return None,
    })
}

impl Plan<'_> {
    /// `out = weight · input` for a weight that is a quantized matrix.
    fn matvec_of(
        &mut self,
        weight: &QMatMul,
        input: u64,
        out: u64,
    ) -> candle_core::Result<Result<(), Unsupported>> {
        match matrix(weight) {
            Some((q, _)) => self.matvec(q, input, out),
            None => Ok(Err("a weight that is not quantized".into())),
        }
    }

    /// The products of `matrices` by `input`, written one after another from `out`.
    fn matvecs(
        &mut self,
        matrices: &[Arc<QTensor>],
        input: u64,
        mut out: u64,
    ) -> candle_core::Result<Result<(), Unsupported>> {
        for q in matrices {
            if let Err(reason) = self.matvec(q, input, out)? {
                return Ok(Err(reason));
            }
            let (rows, _) = q.shape().dims2()?;
            out += (rows * std::mem::size_of::<f32>()) as u64;
        }
        Ok(Ok(()))
    }

    /// `out = q · input`, `input` being q8_1 activations padded to [`ROW_PADDING`].
    fn matvec(
        &mut self,
        q: &QTensor,
        input: u64,
        out: u64,
    ) -> candle_core::Result<Result<(), Unsupported>> {
        let (rows, columns) = q.shape().dims2()?;
        let Some(launcher) = mmvq_launcher(q.dtype()) else {
            return Ok(Err(format!("weight type {:?}", q.dtype())));
        };
        let weights = q.device_ptr()? as u64;
        let stream = self.device.cuda_stream();
        self.launches.push(Box::new(move || {
            // SAFETY: `weights` holds `rows` rows of `columns` values of the launcher's
            // type, `input` the q8_1 blocks of `pad(columns)` values, `out` room for
            // `rows` floats; the launch goes on the decoder's stream.
            unsafe {
                launcher(
                    weights as *const std::ffi::c_void,
                    input as *const std::ffi::c_void,
                    out as *mut std::ffi::c_void,
                    columns as i32,
                    rows as i32,
                    (pad(columns) / 32) as i32,
                    rows as i32,
                    1,
                    stream.cu_stream() as *mut std::ffi::c_void,
                )
            };
            Ok(())
        }));
        Ok(Ok(()))
    }
}

pub(crate) fn config(blocks: u32, threads: u32, shared_bytes: u32) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (blocks, 1, 1),
        block_dim: (threads, 1, 1),
        shared_mem_bytes: shared_bytes,
    }
}

pub(crate) fn int(value: usize) -> Arg {
    Arg::Int(value as i32)
}

pub(crate) fn pad(n: usize) -> usize {
    n.div_ceil(ROW_PADDING) * ROW_PADDING
}

/// The device address of a contiguous f32 tensor's first value.
pub(crate) fn tensor(t: &Tensor) -> candle_core::Result<u64> {
    if t.dtype() != DType::F32 {
        candle_core::bail!("expected an f32 tensor, got {:?}", t.dtype());
    }
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cuda(storage) = &*storage else {
        candle_core::bail!("expected a tensor on the CUDA device");
    };
    if !layout.is_contiguous() {
        candle_core::bail!("expected a contiguous tensor");
    }
    let slice = storage.as_cuda_slice::<f32>()?;
    let (at, _sync) = slice.device_ptr(slice.stream());
    Ok(at + (layout.start_offset() * std::mem::size_of::<f32>()) as u64)
}

/// [`tensor`] of an optional tensor; a null pointer for none.
pub(crate) fn optional(t: Option<&Tensor>) -> candle_core::Result<u64> {
    t.map_or(Ok(0), tensor)
}

/// The data pointer and `(rows, columns)` of a quantized matrix.
pub(crate) fn matrix(weight: &QMatMul) -> Option<(&QTensor, (usize, usize))> {
    let QMatMul::QTensor(q) = weight else {
        return None;
    };
    let dims = q.shape().dims2().ok()?;
    Some((q, dims))
}

pub(crate) fn driver(error: candle_core::cuda::cudarc::driver::DriverError) -> candle_core::Error {
    candle_core::Error::Msg(format!("CUDA: {error}"))
}
