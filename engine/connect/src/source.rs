//! The contract of a capacity source (ADR 0032): what the poller gives a connector, what it
//! gets back, and the kinds of failure it tells apart.
//!
//! A connector knows its remote system (its HTTP calls, auth, paging, rate limits) and
//! nothing of the engine: it never records anything, never reads the clock for the engine and
//! never sees the log. The poller ([`crate::poller`]) decides when to poll, records the
//! readings through the domain and keeps the source's health.

use std::time::Duration;

use async_trait::async_trait;

/// One team the poller wants capacity for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamTarget {
    /// The team's name in leadorch, bare (without the project).
    pub team: String,
    /// The source's id of the team: `[capacity.sources.<name>.teams]`, else the team's name.
    pub crm_team: String,
    /// The team's members' ids (for a CRM: its owner or user ids), in the order they were
    /// added; empty when the team has none.
    pub members: Vec<String>,
    /// The team's own maximum of open leads (set on the team, or its members' sum), if known.
    pub max_open_leads: Option<u32>,
}

/// One team's capacity, as the source reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Figures {
    /// Agents available to take leads.
    pub agents_available: u32,
    /// Leads open now.
    pub open_leads: u32,
    /// How many open leads the team can carry.
    pub max_open_leads: u32,
}

/// What one poll found.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Poll {
    /// Figures per team (by [`TeamTarget::team`]).
    pub readings: Vec<(String, Figures)>,
    /// Teams the source could not answer for while it answered for others (by team name),
    /// e.g. a team id it does not know. A poll where nothing worked is an `Err` instead.
    pub team_errors: Vec<(String, SourceError)>,
    /// The source's own report of its rate limit, shown in the source's health as is
    /// (Salesforce's `Sforce-Limit-Info`, HubSpot's `X-HubSpot-RateLimit-*`): no secrets.
    pub limit_info: Option<String>,
    /// The source asked to wait this long before the next request (a rate limit hit after
    /// some teams were read: theirs are kept, the rest are in `team_errors`). The poller does
    /// not poll again before it has passed.
    pub retry_after: Option<Duration>,
}

/// Why a poll failed. Every text is safe to show and to store: a connector never puts a
/// credential, a token, an authorization header or a person's data in it (say the status,
/// the remote error code, which field was missing).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The credential was refused (HTTP 401/403, `invalid_grant`, a revoked token): no retry
    /// helps until someone fixes it. Reported at once as failing.
    #[error("credential refused: {0}")]
    Auth(String),
    /// The source said to slow down. The poller waits `retry_after` (when given, else one
    /// interval) before it asks again, and counts it as a failed poll.
    #[error("rate limited{}: {detail}", retry_after.map(|d| format!(" (retry after {}s)", d.as_secs())).unwrap_or_default())]
    RateLimited {
        /// How long the source asked to wait (`Retry-After`), if it said.
        retry_after: Option<Duration>,
        /// What it said.
        detail: String,
    },
    /// The source is away: connection refused, timeout, HTTP 5xx. Retried next interval.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// The source answered, but not as expected (a status that is no success, a field
    /// missing, not a number). Retried next interval.
    #[error("unexpected answer: {0}")]
    Response(String),
    /// The configuration cannot work (a secret's variable unset, a team the source cannot
    /// address). Reported at once as failing.
    #[error("misconfigured: {0}")]
    Config(String),
}

impl SourceError {
    /// The failure's kind, as stored and shown: `auth`, `rate_limited`, `unavailable`,
    /// `response`, `config`.
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Auth(_) => "auth",
            SourceError::RateLimited { .. } => "rate_limited",
            SourceError::Unavailable(_) => "unavailable",
            SourceError::Response(_) => "response",
            SourceError::Config(_) => "config",
        }
    }

    /// Whether waiting will not fix it (a person must act): the source is reported failing
    /// at the first such error rather than after a few.
    pub fn needs_a_person(&self) -> bool {
        matches!(self, SourceError::Auth(_) | SourceError::Config(_))
    }
}

/// A capacity source: one configured `[capacity.sources.<name>]`, polled by the daemon.
#[async_trait]
pub trait CapacitySource: Send + Sync {
    /// The source's name (`[capacity.sources.<name>]`; teams name it `connector:<name>`).
    fn name(&self) -> &str;

    /// The connector (`http_poll`, `hubspot`, `salesforce`).
    fn kind(&self) -> &'static str;

    /// Reads the capacity of `teams` (never empty). Called by one poller at a time, once per
    /// interval (or later, after a `RateLimited`). A connector that needs several requests
    /// keeps within the source's documented rate itself, follows paging to the end, and
    /// returns `RateLimited` with the source's `Retry-After` when told to slow down.
    async fn poll(&self, teams: &[TeamTarget]) -> Result<Poll, SourceError>;
}
