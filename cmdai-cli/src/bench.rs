//! `cmdai bench`: model load time, prefill and decode speed and peak memory, measured the way
//! llama.cpp's llama-bench does (random prompt tokens, greedy single-token decode steps).

use std::io::Write;
use std::time::Instant;

use anyhow::{Context, Result};
use cmdai_backend_candle::{CandleBackend, CpuKernels, CudaDecode, Draft, Kernels, LoadOptions};
use cmdai_core::{CommandPrompt, Generator, InferenceBackend, ShellContext};
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
    /// Also time commands for [`REQUESTS`], with and without drafts.
    pub requests: bool,
}

/// Everyday requests of the lengths users type, for `--requests`.
const REQUESTS: [&str; 12] = [
    "list all files in the current directory including hidden ones",
    "find log files over 100MB modified this week",
    "show disk usage of each folder here, largest first",
    "count the lines in every python file under src",
    "compress the logs directory into logs.tar.gz",
    "show the 10 processes using the most memory",
    "replace foo with bar in all .txt files in this folder",
    "find files named config.yaml anywhere under /etc",
    "show which process is listening on port 8080",
    "delete all .pyc files recursively",
    "follow the last 50 lines of /var/log/syslog",
    "make deploy.sh executable",
];

/// One request's command, the seconds it took, and its drafted and confirmed tokens.
struct Timed {
    command: String,
    seconds: f64,
    drafted: usize,
    confirmed: usize,
}

/// One pass over [`REQUESTS`].
fn time_requests(
    generator: &mut Generator<CandleBackend, CommandPrompt>,
    draft: Draft,
) -> Result<Vec<Timed>> {
    generator.backend_mut().set_draft(draft);
    let context = ShellContext::new("Linux", "bash", "/home/user");
    // Untimed: the first request prefills the whole system prompt and saves it in the prompt
    // cache, as a user's first request does; later ones reuse it.
    generator.generate(REQUESTS[0], &context)?;
    REQUESTS
        .iter()
        .map(|request| {
            let started = Instant::now();
            let command = generator.generate(request, &context)?;
            let seconds = started.elapsed().as_secs_f64();
            let (drafted, confirmed) = generator.backend().drafted();
            Ok(Timed {
                command: command.command,
                seconds,
                drafted,
                confirmed,
            })
        })
        .collect()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
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
    // Once per GPU and driver, and not part of the load it measures (it says how long it took).
    crate::gpu::prepare(settings.device, fetcher.cache().root(), settings.verbose);
    let load_options = LoadOptions {
        device: settings.device,
        model_id: Some(model.id.clone()),
        // With --requests, room for the full prompt and a reply, as a request has.
        max_context: match options.requests {
            true => LoadOptions::default().max_context,
            false => options.prompt_tokens + options.generate + 1,
        }
        .max(options.prompt_tokens + options.generate + 1),
        // The weights as a request runs them (interleaved where the CPU has AVX2 or AVX-512 VNNI).
        model_digest: model.sha256.clone(),
        packed_weights_dir: Some(fetcher.cache().root().join("packed")),
        // Only --requests is constrained; otherwise the compiler would compete for the cores.
        constrained_decoding: options.requests,
        // Requests keep their prompt prefix where a user's cmdai does.
        prompt_cache_dir: options
            .requests
            .then(|| fetcher.cache().root().join("prompt-cache")),
        kernels: options.kernels,
        ..LoadOptions::default()
    };
    let started = Instant::now();
    let mut backend = CandleBackend::load(&model.path, &load_options)
        .with_context(|| format!("cannot load model {}", model.path.display()))?;
    let load = started.elapsed();
    if options.requests && settings.draft == Draft::Model {
        crate::backend::load_draft(
            &mut backend,
            &settings.draft_model,
            &fetcher,
            settings.verbose,
        )?;
    }
    // One untimed run first, with the same prompt length, as llama-bench warms up: one-time
    // costs per process (on a GPU, compiling kernels and setting up cuBLAS for these shapes)
    // are not what the runs measure.
    backend
        .benchmark(options.prompt_tokens.max(1), 1, 0)
        .context("warm-up run failed")?;
    let mut prefill = Vec::new();
    let mut decode = Vec::new();
    let mut device_decode = Vec::new();
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
        if let Some(time) = run.device_decode {
            device_decode.push(run.generated_tokens as f64 / time.as_secs_f64());
        }
    }
    let info = backend.info();
    let requests = match options.requests {
        true => Some(Requests::measure(backend, settings)?),
        false => None,
    };
    let threads = cmdai_threads();
    let peak_rss = peak_rss_bytes();
    let (prefill_mean, prefill_sd) = mean_sd(&prefill);
    let (decode_mean, decode_sd) = mean_sd(&decode);
    let device_decode = (!device_decode.is_empty()).then(|| mean_sd(&device_decode));
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
                "device_decode_tok_s": device_decode.map(|(mean, _)| mean),
                "device_decode_tok_s_sd": device_decode.map(|(_, sd)| sd),
                "repetitions": options.repetitions,
                "peak_rss_bytes": peak_rss,
                "kernels": format!("{:?}", options.kernels),
                "requests": requests.as_ref().map(Requests::json),
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
            if let Some((mean, sd)) = device_decode {
                writeln!(
                    out,
                    "\nThe decode step alone on the device (replayed back to back, nothing done \
                     on the host between steps): {mean:.2} ± {sd:.2} tok/s, {:.1} µs a step.",
                    1e6 / mean
                )?;
            }
            if let Some(requests) = &requests {
                requests.write(&mut out)?;
            }
        }
    }
    Ok(())
}

/// `--requests`: the time to a command for [`REQUESTS`], without drafts and with the setting's.
struct Requests {
    draft: Draft,
    plain: Vec<Timed>,
    drafted: Option<Vec<Timed>>,
}

impl Requests {
    fn measure(backend: CandleBackend, settings: &Settings) -> Result<Self> {
        // As a user waits for a command: tried first where the settings say so.
        let generator =
            Generator::new(backend, CommandPrompt::default()).with_params(settings.params.clone());
        let mut generator = crate::trial::attach(generator, settings);
        let plain = time_requests(&mut generator, Draft::Off)?;
        let drafted = match settings.draft {
            Draft::Off => None,
            draft => Some(time_requests(&mut generator, draft)?),
        };
        Ok(Requests {
            draft: settings.draft,
            plain,
            drafted,
        })
    }

    /// Median and slowest seconds, drafted and confirmed tokens of one pass.
    fn summary(pass: &[Timed]) -> (f64, f64, usize, usize) {
        let mut seconds: Vec<f64> = pass.iter().map(|timed| timed.seconds).collect();
        let slowest = seconds.iter().copied().fold(0.0, f64::max);
        let drafted = pass.iter().map(|timed| timed.drafted).sum();
        let confirmed = pass.iter().map(|timed| timed.confirmed).sum();
        (median(&mut seconds), slowest, drafted, confirmed)
    }

    /// Whether both passes gave the same commands.
    fn same(&self) -> Option<bool> {
        let drafted = self.drafted.as_ref()?;
        Some(
            self.plain
                .iter()
                .zip(drafted)
                .all(|(a, b)| a.command == b.command),
        )
    }

    fn json(&self) -> serde_json::Value {
        let pass = |pass: &[Timed]| {
            let (median, slowest, drafted, confirmed) = Self::summary(pass);
            json!({ "median_s": median, "slowest_s": slowest, "drafted": drafted, "confirmed": confirmed })
        };
        json!({
            "count": REQUESTS.len(),
            "draft": self.draft.to_string(),
            "off": pass(&self.plain),
            "with_draft": self.drafted.as_deref().map(pass),
            "same_commands": self.same(),
        })
    }

    fn write(&self, out: &mut impl Write) -> Result<()> {
        writeln!(
            out,
            "\ntime to a command, {} everyday requests (median / slowest):",
            REQUESTS.len()
        )?;
        let (median, slowest, _, _) = Self::summary(&self.plain);
        writeln!(out, "  --draft off:    {median:.2} s / {slowest:.2} s")?;
        if let Some(drafted) = &self.drafted {
            let (median, slowest, tokens, confirmed) = Self::summary(drafted);
            let same = if self.same() == Some(true) {
                "yes"
            } else {
                "NO"
            };
            writeln!(
                out,
                "  --draft {:<7} {median:.2} s / {slowest:.2} s; {confirmed} of {tokens} drafted tokens confirmed; same commands: {same}",
                self.draft.to_string() + ":"
            )?;
        }
        Ok(())
    }
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
