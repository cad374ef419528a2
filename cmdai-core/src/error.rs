//! Errors of the command generator.

use crate::{BackendError, ParseError, StopReason};

/// Why no command could be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The request was empty.
    #[error("the request is empty; say what the command should do")]
    EmptyRequest,
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The model's reply was not a command.
    #[error("{reason}{}", match stopped {
        StopReason::Length => " (the reply hit the token limit)",
        StopReason::TimeLimit => " (the reply hit the time limit)",
        _ => "",
    })]
    Parse {
        /// What the parser found.
        reason: ParseError,
        /// Why generation stopped: at the end of an answer, or at the token or time limit.
        stopped: StopReason,
    },
}
