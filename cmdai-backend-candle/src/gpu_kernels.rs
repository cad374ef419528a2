//! The GPU's kernels, compiled before the first model load needs them.
//!
//! cmdai's own kernels (`kernels/decode.cu`) ship as machine code for seven GPU generations and
//! PTX for the rest (`build.rs`). candle's kernels (element-wise, reductions, indexing, the
//! quantized products: eleven modules, about 11 MiB) ship as PTX only: candle-kernels builds them
//! with `nvcc --ptx`, and candle loads them by handing that text to the driver. So the driver
//! compiles them for the GPU the first time each is loaded, which takes seconds per module, and
//! keeps the result in its JIT cache (`~/.nv/ComputeCache`, `CUDA_CACHE_PATH`); later loads of the
//! same text on the same GPU and driver take milliseconds. docs/CUDA.md has the measurements.
//!
//! [`GpuKernels`] does that compilation at a moment the user is told about (before the first
//! model load, or in `cmdai models pull` and `cmdai doctor`) and leaves a marker file named
//! after the GPU, the driver and this build's kernels, so that later runs skip it without
//! touching the GPU. Loading the same PTX text with the same (default) options is what makes
//! candle's later loads hit the driver's cache. The driver compiles one module at a time per
//! process (threads wait for each other), so [`PendingKernels::prepare`] lets the caller
//! load each module in a process of its own; the driver's cache takes their results at once.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::device::DeviceChoice;
use crate::error::{CandleError, Result};

/// Where the markers of compiled kernels are kept.
#[derive(Debug, Clone)]
pub struct GpuKernels {
    dir: PathBuf,
}

/// A GPU whose kernels have not been compiled by this build with this driver.
#[derive(Debug)]
pub struct PendingKernels {
    ordinal: usize,
    gpu: String,
    marker: PathBuf,
}

/// What compiling the kernels took.
#[derive(Debug, Clone)]
pub struct PreparedKernels {
    /// The GPU, as the driver names it.
    pub gpu: String,
    /// Each module and how long its load (and compilation) took.
    pub modules: Vec<ModuleLoad>,
    /// The whole preparation, wall time.
    pub elapsed: Duration,
}

/// One kernel module's load.
#[derive(Debug, Clone)]
pub struct ModuleLoad {
    /// The module: candle's name for it (`quantized`, `unary`, ...) or `cmdai`.
    pub name: &'static str,
    /// Whether it was PTX (compiled by the driver) or machine code for this GPU.
    pub ptx: bool,
    /// How long the load took.
    pub elapsed: Duration,
}

impl GpuKernels {
    /// Markers under `dir` (created when the first one is written).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        GpuKernels { dir: dir.into() }
    }

    /// The GPU `choice` would run on, if its kernels still need compiling; `None` when the
    /// choice is not a CUDA GPU (or `auto` finds none) or the marker says they were compiled.
    /// Asks the driver for the GPU's name and version only: no context, no allocation.
    pub fn pending(&self, choice: DeviceChoice) -> Result<Option<PendingKernels>> {
        let ordinal = match choice {
            DeviceChoice::Cuda(ordinal) => ordinal,
            DeviceChoice::Auto if cfg!(feature = "cuda") => 0,
            _ => return Ok(None),
        };
        let identity = match cuda::identity(ordinal) {
            Ok(identity) => identity,
            // `auto` then runs on the CPU, and an explicit `cuda:N` fails at load with the
            // device's own error.
            Err(_) => return Ok(None),
        };
        let marker = self.dir.join(format!("{:016x}", identity.key));
        if marker.exists() {
            return Ok(None);
        }
        Ok(Some(PendingKernels {
            ordinal,
            gpu: identity.name,
            marker,
        }))
    }
}

impl PendingKernels {
    /// The GPU, as the driver names it (`NVIDIA H200`).
    pub fn gpu(&self) -> &str {
        &self.gpu
    }

    /// The GPU's ordinal.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The modules to load, the slowest to compile first.
    pub fn modules(&self) -> Vec<&'static str> {
        kernel_modules().to_vec()
    }

    /// Loads every module with `compile`, each on a thread of its own, then writes the marker.
    /// `compile` is [`compile_module`] in the simplest case; the driver compiles one module at a
    /// time per process, though, so running each in a process of its own (`cmdai` does) lets
    /// them compile at once.
    pub fn prepare(
        self,
        compile: impl Fn(&'static str) -> std::result::Result<ModuleLoad, String> + Sync,
    ) -> Result<PreparedKernels> {
        let start = std::time::Instant::now();
        let failed = |reason: String| CandleError::GpuKernels {
            gpu: self.gpu.clone(),
            reason,
        };
        let modules = std::thread::scope(|scope| {
            let threads: Vec<_> = self
                .modules()
                .into_iter()
                .map(|name| scope.spawn(|| compile(name)))
                .collect();
            threads
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .map_err(|_| "a loading thread panicked".to_owned())?
                })
                .collect::<std::result::Result<Vec<_>, String>>()
        })
        .map_err(failed)?;
        write_marker(&self.marker, &self.gpu)
            .map_err(|error| failed(format!("cannot write {}: {error}", self.marker.display())))?;
        Ok(PreparedKernels {
            gpu: self.gpu,
            modules,
            elapsed: start.elapsed(),
        })
    }
}

/// The GPU kernel modules this build loads, the slowest to compile first; empty without CUDA.
pub fn kernel_modules() -> &'static [&'static str] {
    &cuda::MODULES
}

/// Loads kernel module `name` (one of [`kernel_modules`]) on GPU `ordinal` and drops it,
/// timing the load: for a PTX module with the driver's cache cold, its compilation.
pub fn compile_module(ordinal: usize, name: &str) -> std::result::Result<ModuleLoad, String> {
    cuda::load_module(ordinal, name)
}

/// Writes the marker whole (a temporary file renamed over it), saying what it stands for.
fn write_marker(marker: &Path, gpu: &str) -> std::io::Result<()> {
    let dir = marker.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(
        &mut file,
        format!(
            "kernels of cmdai {} compiled for {gpu}\n",
            env!("CARGO_PKG_VERSION")
        )
        .as_bytes(),
    )?;
    file.persist(marker).map_err(|error| error.error)?;
    Ok(())
}

#[cfg(feature = "cuda")]
mod cuda {
    use std::hash::{DefaultHasher, Hash, Hasher};
    use std::time::Instant;

    use candle_core::cuda::cudarc::driver::{CudaContext, result, sys};
    use candle_core::cuda::cudarc::nvrtc::Ptx;
    use candle_core::cuda::kernels;

    use super::ModuleLoad;

    /// candle's kernel modules that cmdai's models use, by name. (`conv` is left out: no
    /// supported architecture convolves.)
    const CANDLE: [(&str, kernels::Module); 10] = [
        ("affine", kernels::AFFINE),
        ("binary", kernels::BINARY),
        ("cast", kernels::CAST),
        ("fill", kernels::FILL),
        ("indexing", kernels::INDEXING),
        ("quantized", kernels::QUANTIZED),
        ("reduce", kernels::REDUCE),
        ("sort", kernels::SORT),
        ("ternary", kernels::TERNARY),
        ("unary", kernels::UNARY),
    ];

    /// Every module [`load_module`] knows, the slowest to compile first (measured on an H200,
    /// docs/CUDA.md): `cmdai` is ours, machine code for the common GPUs.
    pub(super) const MODULES: [&str; 11] = [
        "quantized",
        "binary",
        "indexing",
        "unary",
        "reduce",
        "cast",
        "ternary",
        "fill",
        "affine",
        "sort",
        "cmdai",
    ];

    pub(super) struct Identity {
        pub(super) name: String,
        pub(super) key: u64,
    }

    /// The GPU's name, and a key for it, its compute capability, the driver and the kernels.
    pub(super) fn identity(ordinal: usize) -> Result<Identity, result::DriverError> {
        result::init()?;
        let device = result::device::get(ordinal as i32)?;
        let name = result::device::get_name(device)?;
        let capability = |attribute| {
            // SAFETY: `device` came from `cuDeviceGet`.
            #[allow(unsafe_code)]
            unsafe {
                result::device::get_attribute(device, attribute)
            }
        };
        let major =
            capability(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)?;
        let minor =
            capability(sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)?;
        let mut driver = 0;
        // SAFETY: writes one int.
        #[allow(unsafe_code)]
        unsafe {
            sys::cuDriverGetVersion(&mut driver).result()?;
        }
        let mut hasher = DefaultHasher::new();
        (&name, major, minor, driver, env!("CARGO_PKG_VERSION")).hash(&mut hasher);
        for (_, module) in CANDLE {
            module.ptx().hash(&mut hasher);
        }
        crate::cuda_decode::IMAGE.hash(&mut hasher);
        Ok(Identity {
            name,
            key: hasher.finish(),
        })
    }

    pub(super) fn load_module(ordinal: usize, name: &str) -> Result<ModuleLoad, String> {
        let (name, ptx, image) = match name {
            "cmdai" => (
                "cmdai",
                false,
                Ptx::from_binary(crate::cuda_decode::IMAGE.to_vec()),
            ),
            _ => {
                let (name, module) = CANDLE
                    .into_iter()
                    .find(|(known, _)| *known == name)
                    .ok_or_else(|| format!("no kernel module `{name}`"))?;
                (name, true, Ptx::from_src(module.ptx()))
            }
        };
        let context = CudaContext::new(ordinal).map_err(|error| error.to_string())?;
        let start = Instant::now();
        let module = context
            .load_module(image)
            .map_err(|error| format!("module `{name}`: {error}"))?;
        let elapsed = start.elapsed();
        drop(module);
        Ok(ModuleLoad { name, ptx, elapsed })
    }
}

#[cfg(not(feature = "cuda"))]
mod cuda {
    use super::ModuleLoad;

    pub(super) struct Identity {
        pub(super) name: String,
        pub(super) key: u64,
    }

    pub(super) fn identity(_ordinal: usize) -> Result<Identity, String> {
        Err("this build has no CUDA support".into())
    }

    pub(super) const MODULES: [&str; 0] = [];

    pub(super) fn load_module(_ordinal: usize, _name: &str) -> Result<ModuleLoad, String> {
        Err("this build has no CUDA support; rebuild with `--features cuda`".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_gpu_means_nothing_to_prepare() {
        let dir = tempfile::tempdir().unwrap();
        let kernels = GpuKernels::new(dir.path());
        assert!(kernels.pending(DeviceChoice::Cpu).unwrap().is_none());
        assert!(kernels.pending(DeviceChoice::Metal).unwrap().is_none());
        if !cfg!(feature = "cuda") {
            assert!(kernels.pending(DeviceChoice::Auto).unwrap().is_none());
            assert!(kernels.pending(DeviceChoice::Cuda(0)).unwrap().is_none());
            assert!(kernel_modules().is_empty());
            assert!(
                compile_module(0, "quantized")
                    .unwrap_err()
                    .contains("--features cuda")
            );
        }
    }

    #[test]
    fn the_marker_is_written_whole_and_says_what_it_stands_for() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("kernels").join("00ff");
        write_marker(&marker, "NVIDIA H200").unwrap();
        let text = std::fs::read_to_string(&marker).unwrap();
        assert!(text.contains("compiled for NVIDIA H200"), "{text}");
        assert_eq!(
            std::fs::read_dir(marker.parent().unwrap()).unwrap().count(),
            1
        );
    }
}
