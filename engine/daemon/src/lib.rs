//! The Lead Orchestrator daemon: evaluates rules on a schedule and on events, records every
//! evaluation, and applies accepted changes through an ads platform adapter.
//!
//! What rules see, one evaluation and its recording live in `leadorch-evaluate` (with explain,
//! backtest and saving rules); the configuration file in `leadorch-config`; Google grants in
//! `leadorch-accounts`. Here:
//!
//! - [`executor`]: the outbox drain (requested → applied / failed).
//! - [`daemon`]: the cycle, leadership, and the long-running loop.
//! - [`adapter`]: the platform boundary; [`adapter::SimAdapter`] over the simulator.
//! - [`google`]: [`google::GoogleAdapter`], the same boundary over the Google Ads REST API.
//! - [`demo`]: simulator + daemon + example rules on an accelerated clock.
//! - [`world`]: the simulated account of `daemon --adapter sim`, continuing the recorded world.
//! - [`lines`]: what a running daemon says at the default log level.
//! - [`quota`]: holding every call to Google while its quota is exhausted, until it resets.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapter;
pub mod daemon;
pub mod demo;
pub mod executor;
pub mod google;
pub mod leader;
pub mod lines;
pub mod quota;
pub mod world;

pub use daemon::{Daemon, Notice, StepReport};

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
    /// Bad input from the user (what and where).
    #[error("{0}")]
    Input(String),
    /// Evaluating, recording or saving rules failed.
    #[error(transparent)]
    Evaluate(#[from] leadorch_evaluate::Error),
}

impl Error {
    /// Whether the database is away for now ([`leadorch_store::StoreError::is_unavailable`]),
    /// wherever the error came from: the daemon waits and goes on (ADR 0028).
    pub fn is_unavailable(&self) -> bool {
        let engine = |e: &leadorch_core::Error| matches!(e, leadorch_core::Error::Store(s) if s.is_unavailable());
        match self {
            Error::Store(e) => e.is_unavailable(),
            Error::Engine(e) => engine(e),
            Error::Evaluate(leadorch_evaluate::Error::Engine(e)) => engine(e),
            Error::Evaluate(leadorch_evaluate::Error::Store(e)) => e.is_unavailable(),
            _ => false,
        }
    }
}

/// Result of the daemon.
pub type Result<T, E = Error> = std::result::Result<T, E>;
