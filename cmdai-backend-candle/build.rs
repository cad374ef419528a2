//! With the `cuda` feature, compiles `kernels/decode.cu` with nvcc (the same nvcc that candle's
//! own kernels need) into one fat binary: machine code (SASS) for each GPU generation in
//! [`MACHINE_CODE`] and PTX for [`PTX_FLOOR`], which the driver JIT-compiles only on a GPU none
//! of the machine code fits. Without the feature, does nothing.

use std::env;
use std::path::PathBuf;
use std::process::Command;

/// GPU generations the fat binary carries machine code for: Turing (T4), Ampere (A100; A10 and
/// RTX 30), Ada (L4, RTX 40), Hopper (H100, H200), Blackwell (B200; RTX 50). Machine code runs
/// on later minor versions of its major one (sm_80's on sm_87), never across major versions.
const MACHINE_CODE: [&str; 7] = ["75", "80", "86", "89", "90", "100", "120"];
/// The lowest architecture the kernels need (warp shuffles, half2) that nvcc 13 still targets;
/// its PTX is the fallback for GPUs newer than the list.
const PTX_FLOOR: &str = "75";

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    if env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    println!("cargo::rerun-if-changed=kernels/decode.cu");
    for var in ["NVCC", "CUDA_HOME"] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    let nvcc = env::var_os("NVCC")
        .map(PathBuf::from)
        .or_else(|| env::var_os("CUDA_HOME").map(|home| PathBuf::from(home).join("bin/nvcc")))
        .unwrap_or_else(|| PathBuf::from("nvcc"));
    let out =
        PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("decode.fatbin");
    let mut command = Command::new(&nvcc);
    command.args(["--fatbin", "-O3", "-std=c++17", "--threads", "0"]);
    for arch in MACHINE_CODE {
        command.arg(format!("-gencode=arch=compute_{arch},code=sm_{arch}"));
    }
    command.arg(format!(
        "-gencode=arch=compute_{PTX_FLOOR},code=compute_{PTX_FLOOR}"
    ));
    let status = command
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
