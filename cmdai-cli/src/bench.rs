//! `cmdai bench`: model load time, prefill and decode speed and peak memory, measured the way
//! llama.cpp's llama-bench does (random prompt tokens, greedy single-token decode steps).

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use cmdai_backend_candle::{CandleBackend, CpuKernels, CudaDecode, Kernels, LoadOptions};
use cmdai_core::InferenceBackend;
use serde_json::json;

use crate::cli::{CpuKernelsArg, CudaDecodeArg, OutputFormat};
use crate::models;
use crate::settings::Settings;

/// What to measure.
#[derive(Debug, Clone, Copy)]
pub struct BenchOptions {
    pub prompt_tokens: usize,
    pub generate: usize,
    pub repetitions: usize,
    /// The kernels to measure.
    pub kernels: Kernels,
}

/// The kernels `--kernels` and `--cuda-decode` name.
pub fn kernels(cpu: CpuKernelsArg, cuda: CudaDecodeArg) -> Kernels {
    Kernels {
        cpu: match cpu {
            CpuKernelsArg::Best => CpuKernels::Best,
            CpuKernelsArg::Avx2 => CpuKernels::Avx2,
            CpuKernelsArg::FileLayout => CpuKernels::FileLayout,
        },
        cuda: match cuda {
            CudaDecodeArg::Graph => CudaDecode::Graph,
            CudaDecodeArg::Launches => CudaDecode::Launches,
            CudaDecodeArg::Operations => CudaDecode::Operations,
        },
    }
}

pub fn run(settings: &Settings, options: BenchOptions) -> Result<()> {
    if settings.backend != crate::cli::BackendKind::Local {
        anyhow::bail!(
            "cmdai bench measures the local engine; for a server, use its own benchmark (e.g. vLLM's benchmark_serving, llama.cpp's llama-bench)"
        );
    }
    let fetcher = models::fetcher(settings.offline)?;
    let model = models::resolve(settings.model.as_deref(), &fetcher)?;
    let load_options = LoadOptions {
        device: settings.device,
        model_id: Some(model.id.clone()),
        max_context: options.prompt_tokens + options.generate + 1,
        // The weights as a request runs them (interleaved where the CPU has AVX2 or AVX-512 VNNI).
        model_digest: model.sha256.clone(),
        packed_weights_dir: Some(fetcher.cache().root().join("packed")),
        // Nothing here is constrained; the compiler would only compete for the cores.
        constrained_decoding: false,
        kernels: options.kernels,
        ..LoadOptions::default()
    };
    let started = Instant::now();
    let mut backend = CandleBackend::load(&model.path, &load_options)
        .with_context(|| format!("cannot load model {}", model.path.display()))?;
    let load = started.elapsed();
    // One untimed run first, with the same prompt length, as llama-bench warms up: one-time
    // costs per process (on a GPU, compiling kernels and setting up cuBLAS for these shapes)
    // are not what the runs measure.
    backend
        .benchmark(options.prompt_tokens.max(1), 1, 0)
        .context("warm-up run failed")?;
    let mut prefill = Vec::new();
    let mut decode = Vec::new();
    for repetition in 0..options.repetitions {
        let run = backend
            .benchmark(
                options.prompt_tokens,
                options.generate,
                repetition as u64 + 1,
            )
            .context("benchmark run failed")?;
        prefill.push(run.prompt_tokens as f64 / run.prefill.as_secs_f64());
        decode.push(run.generated_tokens as f64 / run.decode.as_secs_f64());
    }
    let info = backend.info();
    let threads = cmdai_threads();
    let peak_rss = peak_rss_bytes();
    let (prefill_mean, prefill_sd) = mean_sd(&prefill);
    let (decode_mean, decode_sd) = mean_sd(&decode);
    let mut out = std::io::stdout().lock();
    match settings.output {
        OutputFormat::Json => {
            let value = json!({
                "model": info.model,
                "path": model.path,
                "device": info.device,
                "threads": threads,
                "load_ms": load.as_secs_f64() * 1000.0,
                "prompt_tokens": options.prompt_tokens,
                "prefill_tok_s": prefill_mean,
                "prefill_tok_s_sd": prefill_sd,
                "generated_tokens": options.generate,
                "decode_tok_s": decode_mean,
                "decode_tok_s_sd": decode_sd,
                "repetitions": options.repetitions,
                "peak_rss_bytes": peak_rss,
                "kernels": format!("{:?}", options.kernels),
            });
            writeln!(out, "{value}")?;
        }
        OutputFormat::Text => {
            writeln!(
                out,
                "| model | device | threads | load | pp{} tok/s | tg{} tok/s | peak RSS |",
                options.prompt_tokens, options.generate
            )?;
            writeln!(out, "|---|---|---|---|---|---|---|")?;
            let rss = peak_rss.map_or("n/a".to_owned(), |b| format!("{:.2} GB", b as f64 / 1e9));
            writeln!(
                out,
                "| {} | {} | {threads} | {:.2} s | {prefill_mean:.2} ± {prefill_sd:.2} | {decode_mean:.2} ± {decode_sd:.2} | {rss} |",
                info.model,
                info.device,
                load.as_secs_f64(),
            )?;
        }
    }
    Ok(())
}

/// The threads candle's CPU kernels use: `RAYON_NUM_THREADS` (which `-t` sets), else the
/// number of CPUs.
fn cmdai_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .filter(|&t| t > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from))
}

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// The process's peak resident memory (Linux: `VmHWM`); `None` where it cannot be read.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}
