//! The engine's error type.

use leadorch_store::StoreError;

/// What an engine operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed (see the inner error for what to do).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event does not decode with this build (HTTP 500).
    #[error("event at position {position} cannot be decoded: {reason}")]
    Decode {
        /// Position.
        position: u64,
        /// Why.
        reason: String,
    },
    /// A stored read-model document is unreadable; `leadorch replay` rebuilds it.
    #[error("read model {name}, row {key}, is unreadable ({reason}): run `leadorch replay` to rebuild it")]
    ReadModel {
        /// Read model.
        name: &'static str,
        /// Row key.
        key: String,
        /// Why.
        reason: String,
    },
    /// The domain refused a command (HTTP 409/422).
    #[error("{aggregate} {id}: {message}")]
    Rejected {
        /// Aggregate type.
        aggregate: &'static str,
        /// Aggregate id.
        id: String,
        /// The domain's reason.
        message: String,
    },
    /// Something named does not exist (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The input is invalid (HTTP 400).
    #[error("{0}")]
    Invalid(String),
    /// A bug or a crashed task (HTTP 500).
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
