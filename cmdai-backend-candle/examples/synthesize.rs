//! Same-shape stand-ins of real models, for speed measurements where the real weights cannot go
//! (the GPU machine: no network, 64 MiB per transfer).
//!
//! ```text
//! synthesize header REAL.gguf HEADER.gguf     # here: the metadata and tensor table only
//! synthesize fill HEADER.gguf OUT.gguf [SEED] # there: random weights of the same types
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use cmdai_backend_candle::synthetic::{write_header, write_like};

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
        _ => {
            eprintln!(
                "usage: synthesize header REAL.gguf HEADER.gguf\n       synthesize fill HEADER.gguf OUT.gguf [SEED]"
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
