//! The Lead Orchestrator daemon: evaluates rules on a schedule and on events, records every
//! evaluation, and applies accepted changes through an ads platform adapter.
//!
//! - [`facts`]: what rules see, folded from the log.
//! - [`tick`]: one evaluation (rules → proposals → resolution) and its recording.
//! - [`executor`]: the outbox drain (requested → applied / failed).
//! - [`daemon`]: the cycle, leadership, and the long-running loop.
//! - [`adapter`]: the platform boundary; [`adapter::SimAdapter`] over the simulator.
//! - [`accounts`]: Google grants — consent recorded, tokens for the client, revoke, forget.
//! - [`google`]: [`google::GoogleAdapter`], the same boundary over the Google Ads REST API.
//! - [`demo`]: simulator + daemon + example rules on an accelerated clock.
//! - [`backtest`], [`explain`]: history through a rule; why a campaign is as it is.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod accounts;
pub mod adapter;
pub mod backtest;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod executor;
pub mod explain;
pub mod facts;
pub mod google;
pub mod leader;
pub mod library;
pub mod tick;

pub use config::DaemonConfig;
pub use daemon::{Daemon, StepReport};

/// Errors of the daemon.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine refused or failed.
    #[error(transparent)]
    Engine(#[from] leadorch_core::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] leadorch_store::StoreError),
    /// Leadership could not be taken or was lost.
    #[error("leadership: {0}")]
    Leadership(String),
    /// The simulator refused.
    #[error("simulator: {0}")]
    Sim(String),
    /// A rule could not be compiled.
    #[error(transparent)]
    Compile(#[from] leadorch_rules::CompileError),
    /// Bad input from the user (what and where).
    #[error("{0}")]
    Input(String),
    /// A Google consent did not complete (refused, timed out, state or PKCE mismatch, the
    /// token endpoint failing).
    #[error(transparent)]
    OAuth(#[from] leadorch_oauth::OAuthError),
    /// An injected test fault.
    #[error("{0}")]
    Fault(&'static str),
}

/// Result of the daemon.
pub type Result<T, E = Error> = std::result::Result<T, E>;
