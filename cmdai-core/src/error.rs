//! Errors of the command generator.

use crate::{BackendError, ParseError};

/// Why no command could be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenerateError {
    /// The request was empty.
    #[error("the request is empty; say what the command should do, e.g. `cmdai \"list files\"`")]
    EmptyRequest,
    /// The backend failed.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The model's reply was not a command.
    #[error("{reason}{}", if *.hit_token_limit { " (the reply hit the token limit)" } else { "" })]
    Parse {
        /// What the parser found.
        reason: ParseError,
        /// Whether generation stopped at the token limit rather than at the end of an answer.
        hit_token_limit: bool,
    },
}
