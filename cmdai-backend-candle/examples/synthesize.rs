//! Same-shape stand-ins of real models, for speed measurements where the real weights cannot go
//! (the GPU machine: no network, 64 MiB per transfer).
//!
//! ```text
//! synthesize header REAL.gguf HEADER.gguf     # here: the metadata and tensor table only
//! synthesize fill HEADER.gguf OUT.gguf [SEED] # there: random weights of the same types
//! synthesize tiny OUT.gguf f32|f16|q8_0|q4_0 [ARCH [HEAD_DIM]]
//!                                      # a tiny random model (parity checks): qwen2 with heads of
//!                                      # 16 unless ARCH (llama, qwen2, qwen3, gemma3) and
//!                                      # HEAD_DIM say otherwise; the fused CUDA kernels need 32
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use candle_core::quantized::GgmlDType;
use cmdai_backend_candle::Architecture;
use cmdai_backend_candle::synthetic::{tiny_spec, write_header, write_like, write_random_model};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.as_slice() {
        [mode, input, output] if mode == "header" => {
            write_header(&PathBuf::from(input), &PathBuf::from(output))
        }
        [mode, input, output, rest @ ..] if mode == "fill" && rest.len() <= 1 => {
            let seed = match rest.first().map(|s| s.parse::<u64>()) {
                None => 1,
                Some(Ok(seed)) => seed,
                Some(Err(_)) => {
                    eprintln!("synthesize: the seed must be a whole number");
                    return ExitCode::from(2);
                }
            };
            write_like(&PathBuf::from(input), &PathBuf::from(output), seed)
        }
        [mode, output, dtype, shape @ ..] if mode == "tiny" && shape.len() <= 2 => {
            let dtype = match dtype.as_str() {
                "f32" => GgmlDType::F32,
                "f16" => GgmlDType::F16,
                "q8_0" => GgmlDType::Q8_0,
                "q4_0" => GgmlDType::Q4_0,
                _ => {
                    eprintln!("synthesize: tiny models come as f32, f16, q8_0 or q4_0");
                    return ExitCode::from(2);
                }
            };
            let arch = match shape.first() {
                Some(name) => match Architecture::ALL.into_iter().find(|a| a.name() == name) {
                    Some(arch) => arch,
                    None => {
                        eprintln!("synthesize: no architecture {name}");
                        return ExitCode::from(2);
                    }
                },
                None => Architecture::Qwen2,
            };
            let mut spec = tiny_spec(arch);
            if let Some(head_dim) = shape.get(1) {
                let Ok(head_dim) = head_dim.parse::<usize>() else {
                    eprintln!("synthesize: HEAD_DIM is a number");
                    return ExitCode::from(2);
                };
                spec.head_dim = head_dim;
                spec.embedding_length = spec.head_count * head_dim;
                spec.feed_forward_length = 2 * spec.embedding_length;
            }
            write_random_model(&PathBuf::from(output), &spec, dtype, 7)
        }
        _ => {
            eprintln!(
                "usage: synthesize header REAL.gguf HEADER.gguf\n       synthesize fill HEADER.gguf OUT.gguf [SEED]\n       synthesize tiny OUT.gguf f32|f16|q8_0|q4_0 [ARCH [HEAD_DIM]]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("synthesize: {error}");
            ExitCode::FAILURE
        }
    }
}
