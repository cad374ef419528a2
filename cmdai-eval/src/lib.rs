//! How good generated shell commands are: the harness behind `cmdai eval`.
//!
//! A [`Dataset`] is JSON lines of a request and a reference command. [`evaluate`] asks the
//! caller's generator for a command per row and scores it against the reference:
//! - by text ([`compare`]): the same words, the same utilities, the same utilities with the same
//!   flags, both commands read by the shell parser of `cmdai_core::safety`;
//! - by effect, with an [`Execution`]: the reference and the generated command each run in a
//!   fresh copy of a fixture directory inside a [`Sandbox`] (Linux user, mount, network and PID
//!   namespaces, through `cmdai_preview::isolated`), and their output and the files they leave
//!   are compared. Commands the safety analysis rates critical are never run.
//!
//! The [`Report`] holds every row's result and a [`Summary`]: counts, rates and latency
//! percentiles. Presenting it is the caller's business.
//!
//! ```
//! use cmdai_eval::{EvalError, Row, compare, evaluate};
//!
//! assert!(compare("ls -la", "ls -a -l").flags);
//!
//! let rows = [Row::new("list all files", "ls -la")];
//! // A real generator runs a model; this one always answers the same.
//! let generate = |_request: &str, _dir: Option<&std::path::Path>| {
//!     Ok::<_, EvalError>(Some("ls -al".to_owned()))
//! };
//! let report = evaluate(&rows, None, generate, |_, _| {})?;
//! assert_eq!(report.summary.flags_match(), 1.0);
//! assert_eq!(report.summary.exact_match(), 0.0);
//! # Ok::<(), EvalError>(())
//! ```
#![deny(missing_docs)]

mod compare;
mod dataset;
mod error;
mod exec;
mod fixture;
mod harness;
mod sandbox;

pub use compare::{Match, compare};
pub use dataset::{Dataset, Row};
pub use error::EvalError;
pub use exec::{Difference, ExecOptions, ExecVerdict, Execution, Skip};
pub use fixture::write_fixture;
pub use harness::{ExecSummary, Latency, Report, RowResult, Summary, evaluate, exec_by, rate};
pub use sandbox::{Entry, Outcome, Prepared, Sandbox, Status, Tree};
