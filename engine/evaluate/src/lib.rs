//! Rules over the log, without the daemon's loop: what the CLI, the HTTP API and the desktop
//! need to evaluate, explain and backtest rules, and to save them.
//!
//! - [`facts`]: what rules see, folded from the log.
//! - [`tick`]: one evaluation (rules → proposals → resolution) and its recording.
//! - [`explain`]: why a campaign is as it is.
//! - [`backtest`]: history through a rule.
//! - [`library`]: saving rules and their versions.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backtest;
pub mod explain;
pub mod facts;
pub mod library;
pub mod tick;

/// Errors of evaluating, explaining, backtesting and saving rules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] leadorch_core::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] leadorch_store::StoreError),
    /// A rule could not be compiled.
    #[error(transparent)]
    Compile(#[from] leadorch_rules::CompileError),
    /// Bad input from the user (what and where).
    #[error("{0}")]
    Input(String),
}

/// Result of evaluating, explaining, backtesting and saving rules.
pub type Result<T, E = Error> = std::result::Result<T, E>;
