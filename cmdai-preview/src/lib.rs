//! What a shell command would change, without changing it.
//!
//! [`preview`] runs a command against a copy-on-write view of its working directory and reports
//! what it did there: files created, modified (with a short diff for text), deleted, renamed or
//! given other permissions; the first lines it printed; its exit status; and what it wrote, or
//! tried to write, outside the working directory. The real directory is never written to.
//!
//! How (Linux only): `unshare` makes a user, mount, network and PID namespace; inside it, a
//! helper process (the caller's own program, which hands its stdin and stdout to [`serve`])
//! - mounts a size-limited tmpfs that takes every change,
//! - makes every mount read-only,
//! - hides `/run` (daemon sockets: Docker, databases, D-Bus) behind an empty tmpfs,
//! - mounts an overlay on the working directory, and on `$HOME`, `/tmp` and `/var/tmp`, whose
//!   lower layer is the real directory and whose upper layer is in the tmpfs,
//! - runs the command with a time limit, kills whatever it left running, and compares each
//!   overlay with its lower layer.
//!
//! There is no network, not even loopback. When the helper exits, the namespace and the tmpfs
//! go with it: nothing of the preview is left anywhere.
//!
//! What it cannot show: anything that depends on the network or on other processes (there are
//! none in the namespace), writes to places that are read-only in the preview (they fail there,
//! and are named in [`Report::blocked`] when the command's error message names them), and the
//! effect of running as another user.

mod host;
mod inside;
mod scan;

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use host::{PreviewOptions, isolated, preview};
pub use inside::serve;

/// Why a preview could not be made.
#[derive(Debug, thiserror::Error)]
pub enum PreviewError {
    /// This system cannot make the namespaces or the overlay a preview needs.
    #[error("preview is not available here: {reason}")]
    Unavailable { reason: String },
    /// The working directory cannot be previewed (`/`, `/proc`, ...).
    #[error("cannot preview in {}: {reason}", dir.display())]
    Directory { dir: PathBuf, reason: String },
    /// The sandbox was set up but did not give a report.
    #[error("the preview failed: {0}")]
    Failed(String),
    #[error("the preview failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything a preview saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// The command, as run.
    pub command: String,
    /// The working directory it ran in; [`Report::changes`] are relative to it.
    pub directory: PathBuf,
    /// How the command ended.
    pub status: Status,
    /// The start of what it printed on standard output.
    pub stdout: Output,
    /// The start of what it printed on standard error.
    pub stderr: Output,
    /// What it changed in the working directory, by path.
    pub changes: Vec<Change>,
    /// What it changed outside the working directory, in `$HOME`, `/tmp` or `/var/tmp`, by
    /// absolute path: kept from the real directories in the preview, but it would happen for
    /// real.
    pub outside: Vec<Change>,
    /// Paths it tried to write that are read-only in the preview (named by its error
    /// messages): the write failed here and would happen for real.
    pub blocked: Vec<PathBuf>,
    /// A limit the preview stopped at, if any.
    pub limit: Option<Limit>,
    /// Changes left out of [`Report::changes`] and [`Report::outside`] because there were too
    /// many to list; [`Report::summary`] still counts them.
    pub unlisted: u64,
    /// Changes in the working directory counted by top-level directory and kind.
    pub summary: Vec<DirectorySummary>,
}

/// How a previewed command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "ended")]
pub enum Status {
    /// It exited with this code.
    Exited { code: i32 },
    /// A signal ended it.
    Signalled { signal: i32 },
    /// It ran past the time limit and was killed.
    TimedOut,
}

/// The start of a stream a command wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Output {
    /// The first lines, as text (invalid UTF-8 replaced).
    pub text: String,
    /// How many bytes were written in all (up to the capture limit).
    pub bytes: u64,
    /// Whether more was written than [`Output::text`] holds.
    pub truncated: bool,
}

/// A limit that stopped the preview.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// The command ran this many seconds and was killed.
    Time { seconds: u64 },
    /// The command wrote this many bytes, all the preview keeps; it saw "no space left".
    Size { bytes: u64 },
}

/// What kind of file system entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    File,
    Directory,
    Symlink,
    Other,
}

/// One change to one path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// Relative to the working directory, or absolute for changes outside it.
    pub path: PathBuf,
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// What happened to a path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
pub enum ChangeKind {
    /// It did not exist and now does. For a directory, `size` and `files` count what is in it.
    Created {
        entry: EntryKind,
        size: u64,
        files: u64,
    },
    /// It existed and now does not. For a directory, `size` and `files` count what was in it.
    Deleted {
        entry: EntryKind,
        size: u64,
        files: u64,
    },
    /// It was moved here from `from` (same contents).
    Renamed { from: PathBuf, entry: EntryKind },
    /// Its contents changed; `diff` is a short unified diff when both versions are text.
    Modified {
        size_before: u64,
        size_after: u64,
        diff: Option<String>,
    },
    /// Its permission bits changed (octal, e.g. `644`).
    Permissions { before: String, after: String },
    /// It was written or touched, but its contents are the same.
    Touched,
}

impl ChangeKind {
    /// A short word for the kind of change: `created`, `deleted`, ...
    pub fn verb(&self) -> &'static str {
        match self {
            ChangeKind::Created { .. } => "created",
            ChangeKind::Deleted { .. } => "deleted",
            ChangeKind::Renamed { .. } => "renamed",
            ChangeKind::Modified { .. } => "modified",
            ChangeKind::Permissions { .. } => "permissions",
            ChangeKind::Touched => "touched",
        }
    }
}

/// How many changes of each kind happened under one top-level entry of the working directory
/// (`.` for files directly in it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorySummary {
    pub directory: String,
    pub created: u64,
    pub deleted: u64,
    pub renamed: u64,
    pub modified: u64,
    pub permissions: u64,
    pub touched: u64,
}

impl Report {
    /// Whether the command changed nothing anywhere.
    pub fn changed_nothing(&self) -> bool {
        self.changes.is_empty()
            && self.outside.is_empty()
            && self.blocked.is_empty()
            && self.unlisted == 0
    }
}

/// Defaults a caller can start from.
pub const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(10);
/// The most a preview keeps of what a command writes (the tmpfs that takes the changes).
pub const DEFAULT_SIZE_LIMIT: u64 = 256 << 20;
