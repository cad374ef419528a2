//! Do the CPU and a GPU compute the same logits? Loads one model on both, prefills the same
//! tokens, then decodes greedily (both fed the CPU's choice) and compares every step's logits.
//!
//! ```text
//! parity MODEL.gguf [DEVICE] [TOLERANCE] [PROMPT_TOKENS] [operations]
//! ```
//!
//! DEVICE: cuda, cuda:N or metal (default cuda); PROMPT_TOKENS: the prompt's length (default
//! 16; a long one makes the decode steps attend over many positions); `operations` runs the
//! GPU side with candle's operations instead of cmdai's fused CUDA kernels.
//!
//! Passes (exit 0) when every step's largest difference is within TOLERANCE (default 0.02) of
//! the largest logit's magnitude and both pick the same next token.

use std::path::PathBuf;
use std::process::ExitCode;

use candle_core::Device;
use cmdai_backend_candle::{CudaDecode, DeviceChoice, GgufFile, Kernels, ModelSpec, Transformer};

const PROMPT: [u32; 16] = [
    1, 17, 42, 99, 7, 256, 3, 500, 12, 64, 128, 5, 77, 300, 9, 31,
];
const DECODE_STEPS: usize = 8;

fn load(
    path: &std::path::Path,
    device: &Device,
    positions: usize,
    kernels: Kernels,
) -> Result<Transformer, Box<dyn std::error::Error>> {
    let mut file = GgufFile::open(path)?;
    let spec = ModelSpec::from_gguf(&file.content)?;
    Ok(Transformer::load_with(
        spec, &mut file, device, positions, None, kernels,
    )?)
}

fn run() -> Result<bool, Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = PathBuf::from(
        args.first()
            .ok_or("usage: parity MODEL.gguf [DEVICE] [TOLERANCE] [PROMPT_TOKENS] [operations]")?,
    );
    let choice: DeviceChoice = args.get(1).map_or("cuda", String::as_str).parse()?;
    let tolerance: f32 = args.get(2).map_or(Ok(0.02), |t| t.parse())?;
    let prompt_tokens: usize = args.get(3).map_or(Ok(PROMPT.len()), |n| n.parse())?;
    let gpu_kernels = Kernels {
        cuda: match args.get(4).map(String::as_str) {
            Some("operations") => CudaDecode::Operations,
            Some(other) => return Err(format!("unknown GPU path {other:?}").into()),
            None => CudaDecode::default(),
        },
        ..Kernels::default()
    };
    let gpu = choice.open()?;
    let positions = prompt_tokens + DECODE_STEPS + 1;
    let mut on_cpu = load(&model, &Device::Cpu, positions, Kernels::default())?;
    let mut on_gpu = load(&model, &gpu.device, positions, gpu_kernels)?;
    let vocab = on_cpu.spec().vocab_size as u32;
    // The fixed tokens, then the same again scaled, as many times as it takes.
    let prompt: Vec<u32> = (0..prompt_tokens)
        .map(|i| PROMPT[i % PROMPT.len()] * (i / PROMPT.len() + 1) as u32 % vocab)
        .collect();
    println!(
        "model {} on cpu and {}; tolerance {tolerance} of the largest |logit|",
        model.display(),
        gpu.name
    );
    println!("step  tokens  max|logit|  max|diff|  relative  argmax cpu/gpu");
    let mut ok = true;
    let mut input = prompt;
    for step in 0..=DECODE_STEPS {
        let cpu: Vec<f32> = on_cpu.forward(&input)?.to_vec1()?;
        let gpu_logits: Vec<f32> = on_gpu.forward(&input)?.to_device(&Device::Cpu)?.to_vec1()?;
        let scale = cpu.iter().fold(0f32, |m, l| m.max(l.abs()));
        let diff = cpu
            .iter()
            .zip(&gpu_logits)
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        let argmax = |v: &[f32]| {
            v.iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i as u32)
        };
        let (a, b) = (argmax(&cpu), argmax(&gpu_logits));
        let relative = diff / scale.max(f32::MIN_POSITIVE);
        let pass = relative <= tolerance && a == b && gpu_logits.iter().all(|l| l.is_finite());
        ok &= pass;
        println!(
            "{step:>4}  {:>6}  {scale:>10.4}  {diff:>9.5}  {relative:>8.5}  {a}/{b}{}",
            input.len(),
            if pass { "" } else { "  <- FAIL" }
        );
        input = vec![a];
    }
    Ok(ok)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("parity: {error}");
            ExitCode::from(2)
        }
    }
}
