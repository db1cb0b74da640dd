//! Rules over the log, without the daemon's loop: what the CLI, the HTTP API and the desktop
//! need to evaluate, explain and backtest rules, and to save them; and the teams rules read.
//!
//! - [`facts`]: what rules see, folded from the log.
//! - [`tick`]: one evaluation (rules → proposals → resolution) and its recording.
//! - [`explain`]: why a campaign is as it is.
//! - [`backtest`]: history through a rule.
//! - [`dry_run`]: one rule against the log's state, nothing recorded.
//! - [`library`]: saving rules and reading their versions and history; rollbacks.
//! - [`teams`]: defining teams, their members, hours and capacity source; reading them back;
//!   moving the configuration's teams over.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backtest;
pub mod dry_run;
pub mod explain;
pub mod facts;
pub mod kept;
pub mod library;
pub mod teams;
pub mod tick;
pub mod timeline;

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
    /// A team's domain refused a setting or a member as given (an unknown time zone, hours
    /// that cannot be read, a negative maximum, …): the domain's error, so that a caller can
    /// name the field at fault. HTTP 422.
    #[error("team {team}: {error}")]
    Team {
        /// The team, as stored.
        team: String,
        /// What the domain refused, and why.
        error: leadorch_domain::TeamError,
    },
    /// What the request names does not exist (a rule, a rule's version); the message says
    /// what exists. HTTP 404.
    #[error("{0}")]
    NotFound(String),
    /// What the request would do clashes with what is recorded (a member already in the
    /// team); the message says what. HTTP 409.
    #[error("{0}")]
    Conflict(String),
    /// A rollback's version no longer compiles (the rules library changed since): nothing is
    /// recorded. HTTP 422.
    #[error(
        "version {version} of rule {rule} no longer compiles, so it was not restored: {error} \
         (fix the rules library it uses, or save a corrected version with `leadorch rules save`)"
    )]
    NoLongerCompiles {
        /// Rule id.
        rule: String,
        /// The version that was to be restored.
        version: u32,
        /// Why it does not compile, with line and column.
        error: leadorch_rules::CompileError,
    },
}

/// Result of evaluating, explaining, backtesting and saving rules.
pub type Result<T, E = Error> = std::result::Result<T, E>;
