//! How long loading each GPU kernel module takes, one after another in this process. Run it
//! with `CUDA_CACHE_DISABLE=1` to measure the driver's compilation of the PTX modules (every
//! load compiles), or without it to measure loads from the driver's cache.
//!
//! ```text
//! CUDA_CACHE_DISABLE=1 cargo run --release --features cuda --example gpu_kernels -- [ORDINAL]
//! ```

use std::time::Instant;

fn main() {
    let ordinal = std::env::args()
        .nth(1)
        .map(|arg| arg.parse().expect("ORDINAL is a GPU number, e.g. 0"))
        .unwrap_or(0);
    let start = Instant::now();
    for name in cmdai_backend_candle::kernel_modules() {
        match cmdai_backend_candle::compile_module(ordinal, name) {
            Ok(load) => println!(
                "  {:<10} {:>8.0} ms  {}",
                load.name,
                load.elapsed.as_secs_f64() * 1000.0,
                if load.ptx { "PTX" } else { "fat binary" }
            ),
            Err(error) => {
                eprintln!("gpu_kernels: {error}");
                std::process::exit(1);
            }
        }
    }
    println!(
        "one after another: {:.0} ms",
        start.elapsed().as_secs_f64() * 1000.0
    );
}
