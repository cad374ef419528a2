//! What can go wrong while evaluating: reading a dataset, writing the fixture, running the
//! sandbox.

use std::path::PathBuf;

use crate::sandbox::Status;

/// Why an evaluation could not be done.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// The dataset file could not be read.
    #[error("cannot read the dataset {}", path.display())]
    ReadDataset {
        /// The dataset file.
        path: PathBuf,
        /// What reading it said.
        #[source]
        source: std::io::Error,
    },
    /// A line of the dataset is not JSON.
    #[error("{}:{line}: not valid JSON", path.display())]
    NotJson {
        /// The dataset file.
        path: PathBuf,
        /// The line, counted from 1.
        line: usize,
        /// What the JSON parser said.
        #[source]
        source: serde_json::Error,
    },
    /// A line of the dataset has no request or no reference command.
    #[error(
        "{}:{line}: expected \"request\" (or \"nl\") and \"command\" (or \"cmd\") strings",
        path.display()
    )]
    MissingField {
        /// The dataset file.
        path: PathBuf,
        /// The line, counted from 1.
        line: usize,
    },
    /// The fixture directory to copy is not a directory.
    #[error("the fixture {} is not a directory", path.display())]
    FixtureNotADirectory {
        /// What was given as the fixture.
        path: PathBuf,
    },
    /// The built-in fixture could not be written.
    #[error("cannot write the fixture at {}", path.display())]
    WriteFixture {
        /// The file or directory being written.
        path: PathBuf,
        /// What writing it said.
        #[source]
        source: std::io::Error,
    },
    /// The sandbox isolates commands with Linux namespaces, which this system does not have.
    #[error(
        "running commands in the sandbox needs Linux (it isolates them with user, mount and network namespaces)"
    )]
    NotLinux,
    /// There is no shell to run commands with.
    #[error("the sandbox needs bash or sh in /bin or /usr/bin")]
    NoShell,
    /// `unshare` could not be started.
    #[error("cannot run `unshare` (util-linux), which the sandbox needs")]
    Unshare(#[source] std::io::Error),
    /// `unshare` could not make the namespaces.
    #[error(
        "the sandbox could not be set up (exit {code}): {message}; it needs unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1)"
    )]
    Namespaces {
        /// `unshare`'s exit status.
        code: i32,
        /// What `unshare` printed.
        message: String,
    },
    /// The sandbox could not be made safe (a mount that cannot be made read-only).
    #[error("the sandbox could not be set up: {reason}")]
    Setup {
        /// What the set-up script said.
        reason: String,
    },
    /// The sandbox started but could not run `true`.
    #[error("the sandbox does not run commands: `true` ended with {status:?}")]
    Probe {
        /// How `true` ended.
        status: Status,
    },
    /// A sandbox directory could not be made or filled.
    #[error("cannot prepare a sandbox directory")]
    SandboxDir(#[source] std::io::Error),
    /// The fixture could not be copied into a sandbox.
    #[error("cannot copy the fixture {}", path.display())]
    CopyFixture {
        /// The fixture directory.
        path: PathBuf,
        /// What copying said.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for a command in the sandbox failed.
    #[error("cannot wait for the command in the sandbox")]
    Wait(#[source] std::io::Error),
}
