//! Errors of the Candle backend.

use std::path::PathBuf;

/// Why a model could not be loaded or run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CandleError {
    /// The model file could not be read.
    // The I/O error is part of the message and not also a `source()`, so that printing the
    // error chain does not say it twice.
    #[error("cannot read model file {}: {error}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is not a readable GGUF file.
    #[error("{} is not a valid GGUF model file: {reason}; download it again or pick another model", path.display())]
    InvalidGguf {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The file ends before the tensor data its header describes.
    #[error(
        "{} is truncated: it has {actual} bytes but its last tensor `{tensor}` ends at byte {needed}; download it again",
        path.display()
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// The tensor whose data reaches furthest.
        tensor: String,
        /// Bytes the tensor data needs.
        needed: u64,
        /// Bytes in the file.
        actual: u64,
    },
    /// The model needs more memory than the machine has free.
    #[error(
        "{} needs about {needed} of memory to run on the CPU, but only {available} is available; close other programs or pick a smaller model",
        path.display()
    )]
    NotEnoughMemory {
        /// The file.
        path: PathBuf,
        /// What loading it would take, for people (`2.3 GB`).
        needed: String,
        /// What is free, for people.
        available: String,
    },
    /// The file's architecture has no implementation here.
    #[error("unsupported model architecture `{found}`; supported: {}", supported.join(", "))]
    UnsupportedArchitecture {
        /// `general.architecture` of the file.
        found: String,
        /// What this build supports.
        supported: Vec<&'static str>,
    },
    /// A metadata key the architecture needs is missing.
    #[error(
        "model metadata lacks required key `{key}`; the file is incomplete or not a {arch} model"
    )]
    MissingMetadata {
        /// The key.
        key: String,
        /// The architecture being loaded.
        arch: &'static str,
    },
    /// A metadata key has a value of the wrong type or an impossible value.
    #[error("model metadata key `{key}` is invalid: {reason}")]
    InvalidMetadata {
        /// The key.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor the architecture needs is missing.
    #[error(
        "model file lacks required tensor `{name}`; the file is incomplete or not a {arch} model"
    )]
    MissingTensor {
        /// The tensor name.
        name: String,
        /// The architecture being loaded.
        arch: &'static str,
    },
    /// A tensor has a shape the metadata does not predict.
    #[error("tensor `{name}` has shape {found:?}, expected {expected:?}")]
    TensorShape {
        /// The tensor name.
        name: String,
        /// The shape the metadata implies.
        expected: Vec<usize>,
        /// The shape in the file.
        found: Vec<usize>,
    },
    /// The tokenizer could not be built from the metadata.
    #[error("cannot build the tokenizer from the model metadata: {0}")]
    Tokenizer(String),
    /// The chat template could not be compiled or rendered.
    #[error("chat template error: {0}")]
    Template(#[from] minijinja::Error),
    /// The requested device is not available in this build or on this machine.
    #[error("device `{device}` is not available: {reason}")]
    DeviceUnavailable {
        /// The device asked for.
        device: String,
        /// Why not.
        reason: String,
    },
    /// The GPU's kernels could not be loaded (compiled) on it.
    #[error("cannot compile the GPU kernels for {gpu}: {reason}")]
    GpuKernels {
        /// The GPU, as the driver names it.
        gpu: String,
        /// Why not.
        reason: String,
    },
    /// A model cannot draft for speculative decoding here.
    #[error("cannot draft with {}: {reason}", path.display())]
    Draft {
        /// The draft model's file.
        path: PathBuf,
        /// Why not.
        reason: String,
    },
    /// More tokens were fed than the context window this instance was loaded with.
    #[error("context window full: {needed} tokens needed, {available} available")]
    ContextFull {
        /// Positions the sequence would need.
        needed: usize,
        /// Positions available.
        available: usize,
    },
    /// A response schema could not be compiled or followed (generation goes on unconstrained).
    #[error("constrained decoding: {0}")]
    Constraint(String),
    /// A saved prompt state could not be used (the caller recomputes it).
    #[error("prompt cache: {0}")]
    PromptCache(String),
    /// A tensor operation failed.
    #[error("tensor operation failed: {0}")]
    Candle(#[from] candle_core::Error),
}

/// Result with [`CandleError`].
pub type Result<T, E = CandleError> = std::result::Result<T, E>;
