//! Local inference for cmdai: GGUF models run with Candle on the CPU (Metal and CUDA behind
//! the `metal` and `cuda` features).
//!
//! Everything the backend needs comes from the GGUF file itself: the architecture and shapes
//! ([`ModelSpec`]), the tokenizer ([`GgufTokenizer`]), the chat template ([`ChatTemplate`]) and the
//! end-of-generation tokens. The backend never touches the network.
//!
//! ```no_run
//! use cmdai_backend_candle::{CandleBackend, LoadOptions};
//! use cmdai_core::{CommandPrompt, Generator, ShellContext};
//!
//! let backend = CandleBackend::load("model.gguf".as_ref(), &LoadOptions::default())?;
//! let mut generator = Generator::new(backend, CommandPrompt::default());
//! let context = ShellContext::new("linux", "bash", "/tmp");
//! println!("{}", generator.generate("list all files", &context)?.command);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod attention;
mod backend;
pub mod constrain;
#[cfg(feature = "cuda")]
mod cuda_decode;
#[cfg(feature = "cuda")]
mod cuda_prefill;
mod device;
mod draft;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod gguf;
mod gpu_kernels;
mod kv_cache;
mod mapped;
pub mod memory;
mod model;
mod packed;
mod prefill;
mod prompt_cache;
pub mod sampling;
mod spec;
mod summary;
pub mod synthetic;
mod template;
mod tokenizer;

pub use backend::{BenchRun, CandleBackend, LoadOptions};
pub use device::{DeviceChoice, SelectedDevice};
pub use draft::Draft;
pub use error::CandleError;
pub use gguf::GgufFile;
pub use gpu_kernels::{
    GpuKernels, ModuleLoad, PendingKernels, PreparedKernels, compile_module, kernel_modules,
};
pub use model::{CudaDecode, Kernels, Transformer};
pub use packed::{CpuKernels, Packing};
pub use prompt_cache::PromptCache;
pub use sampling::Sampler;
pub use spec::{Activation, ArchTraits, Architecture, ModelSpec, RopeStyle};
pub use summary::{ModelSummary, summarize};
pub use template::ChatTemplate;
pub use tokenizer::{GgufTokenizer, Spelling, TextStream, TokenTable};
