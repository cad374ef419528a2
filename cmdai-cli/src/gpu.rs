//! Compiling the GPU's kernels once, where the user sees it.
//!
//! On a CUDA GPU the driver compiles candle's kernels (shipped as PTX) the first time they are
//! loaded, about 27 s on an H200 one after another, and caches the result (the backend's
//! `gpu_kernels.rs`). That happens here, before the first model load, in `cmdai models pull`
//! and in `cmdai doctor`, with a line that says what is happening and that it happens once; a
//! marker in the cache makes later runs skip it without touching the GPU. The driver compiles
//! one module at a time per process, so each module is loaded by a process of its own
//! (`cmdai __gpu-kernel`): they compile at once, and the wait is about the slowest one's.

use std::io::IsTerminal;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::JoinHandle;
use std::time::Duration;

use cmdai_backend_candle::{CandleError, DeviceChoice, GpuKernels, ModuleLoad, PreparedKernels};
use indicatif::{ProgressBar, ProgressStyle};

/// A compilation running on its own thread.
pub struct Preparation {
    gpu: String,
    thread: JoinHandle<Result<PreparedKernels, CandleError>>,
}

/// Where the markers live: beside the models.
fn markers(cache_root: &Path) -> GpuKernels {
    GpuKernels::new(cache_root.join("gpu-kernels"))
}

/// Starts compiling the kernels of the GPU `device` runs on, if this build has not done that
/// with this driver yet, and says so on stderr; `None` when there is nothing to do.
pub fn start(device: DeviceChoice, cache_root: &Path) -> Option<Preparation> {
    let pending = match markers(cache_root).pending(device) {
        Ok(pending) => pending?,
        Err(error) => {
            eprintln!("cmdai: warning: {error}");
            return None;
        }
    };
    let gpu = pending.gpu().to_owned();
    eprintln!(
        "cmdai: compiling the GPU kernels for {gpu}: once for this GPU and driver (seconds to half \
         a minute); later runs skip this"
    );
    let thread = std::thread::spawn(move || {
        let ordinal = pending.ordinal();
        pending.prepare(|module| compile_in_child(ordinal, module))
    });
    Some(Preparation { gpu, thread })
}

impl Preparation {
    /// Waits for the compilation (a spinner with the time on a terminal), then says how long it
    /// took. A failure is a warning: the model load compiles what it needs itself, and fails with
    /// the driver's own error if it cannot.
    pub fn finish(self, verbose: u8) -> Option<PreparedKernels> {
        let spinner = (!self.thread.is_finished() && std::io::stderr().is_terminal()).then(|| {
            let spinner = ProgressBar::new_spinner();
            spinner.set_style(
                ProgressStyle::with_template(&format!(
                    "{{spinner}} compiling the GPU kernels for {}… {{elapsed}}",
                    self.gpu
                ))
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            spinner.enable_steady_tick(Duration::from_millis(100));
            spinner
        });
        let result = self.thread.join();
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        match result {
            Ok(Ok(prepared)) => {
                eprintln!(
                    "cmdai: GPU kernels compiled for {} in {:.1} s",
                    prepared.gpu,
                    prepared.elapsed.as_secs_f64()
                );
                if verbose > 0 {
                    for module in &prepared.modules {
                        eprintln!(
                            "cmdai:   {:<10} {:>8.0} ms ({})",
                            module.name,
                            module.elapsed.as_secs_f64() * 1000.0,
                            if module.ptx {
                                "PTX, compiled by the driver"
                            } else {
                                "machine code"
                            }
                        );
                    }
                }
                Some(prepared)
            }
            Ok(Err(error)) => {
                eprintln!("cmdai: warning: {error}; the model load will compile what it needs");
                None
            }
            Err(_) => {
                eprintln!("cmdai: warning: compiling the GPU kernels failed unexpectedly");
                None
            }
        }
    }
}

/// Loads `module` in a process of its own (`cmdai __gpu-kernel`), since the driver compiles one
/// module at a time per process; in this one if that process cannot run.
fn compile_in_child(ordinal: usize, module: &'static str) -> Result<ModuleLoad, String> {
    let output = std::env::current_exe().and_then(|exe| {
        Command::new(exe)
            .args(["__gpu-kernel", &ordinal.to_string(), module])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
    });
    let reported = output
        .ok()
        .filter(|output| output.status.success())
        .and_then(|output| {
            let text = String::from_utf8(output.stdout).ok()?;
            let (micros, ptx) = text.trim().split_once(' ')?;
            Some(ModuleLoad {
                name: module,
                ptx: ptx == "ptx",
                elapsed: Duration::from_micros(micros.parse().ok()?),
            })
        });
    match reported {
        Some(load) => Ok(load),
        None => cmdai_backend_candle::compile_module(ordinal, module),
    }
}

/// `cmdai __gpu-kernel ORDINAL MODULE`: loads the module in this process and prints the
/// microseconds it took and `ptx` or `machine-code`.
pub fn compile_here(ordinal: usize, module: &str) -> anyhow::Result<u8> {
    let load = cmdai_backend_candle::compile_module(ordinal, module).map_err(anyhow::Error::msg)?;
    let kind = if load.ptx { "ptx" } else { "machine-code" };
    println!("{} {kind}", load.elapsed.as_micros());
    Ok(0)
}

/// [`start`] and [`Preparation::finish`] in one.
pub fn prepare(device: DeviceChoice, cache_root: &Path, verbose: u8) -> Option<PreparedKernels> {
    start(device, cache_root)?.finish(verbose)
}
