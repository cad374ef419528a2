//! With the `cuda` feature, compiles `kernels/decode.cu` to PTX with nvcc (the same nvcc that
//! candle's own kernels need). Without it, does nothing.

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    println!("cargo::rerun-if-changed=kernels/decode.cu");
    for var in ["NVCC", "CUDA_HOME", "CUDA_COMPUTE_CAP"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let nvcc = env::var_os("NVCC")
        .map(PathBuf::from)
        .or_else(|| env::var_os("CUDA_HOME").map(|home| PathBuf::from(home).join("bin/nvcc")))
        .unwrap_or_else(|| PathBuf::from("nvcc"));
    // PTX for the lowest architecture the kernels need (warp shuffles, half2), JIT-compiled by
    // the driver for the GPU it meets; CUDA_COMPUTE_CAP picks another, as for candle's kernels.
    let arch = env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "70".into());
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("decode.ptx");
    let status = Command::new(&nvcc)
        .args(["--ptx", "-O3", "-std=c++17"])
        .arg(format!("-arch=compute_{arch}"))
        .arg("-o")
        .arg(&out)
        .arg("kernels/decode.cu")
        .status();
    match status {
        Ok(status) if status.success() => {}
        Ok(status) => panic!("{} failed on kernels/decode.cu ({status})", nvcc.display()),
        Err(error) => panic!(
            "cannot run {} ({error}); the `cuda` feature needs NVIDIA's nvcc: set NVCC or \
             CUDA_HOME, or see docs/CUDA.md",
            nvcc.display()
        ),
    }
}
