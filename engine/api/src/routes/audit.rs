//! The hash chain verified in the background (scope `read`, ADR 0040): `POST
//! /v1/audit/verify` starts a verification (one at a time per process: a second start while
//! one runs answers with the running one), `GET /v1/audit/verify` says how far it got and how
//! it ended, `DELETE /v1/audit/verify` cancels it. Over a million events it takes seconds; it
//! runs as a task of its own that yields after every page of 10,000 events, so requests go on
//! being answered meanwhile.
//!
//! The chain is the installation's, not a project's (ADR 0030, R6): every key with `read`
//! sees the same verification, which tells positions, counts and a hash, never a project's
//! ids. The work is the store's [`leadorch_store::EventLog::verify_controlled`], the same
//! check `leadorch audit verify` runs.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use leadorch_store::{StoreError, Verification, VerifyControl};
use serde::Serialize;
use ts_rs::TS;
use utoipa::ToSchema;

use crate::auth::{scope, Scoped};
use crate::{Api, Problem};

/// How a verification ended.
#[derive(Clone, Debug)]
enum Ended {
    Passed {
        count: u64,
        hash: String,
    },
    Failed {
        position: Option<u64>,
        detail: String,
    },
    Cancelled,
    Error,
}

#[derive(Clone, Debug)]
struct Run {
    number: u64,
    control: VerifyControl,
    head: u64,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    ended: Option<Ended>,
}

/// This process's verification of the chain: the one running or the last one, shared by
/// every clone of the [`Api`].
#[derive(Clone, Debug, Default)]
pub struct Verifier {
    last: Arc<Mutex<Option<Run>>>,
}

/// A verification of the chain, as `/v1/audit/verify` reports it.
#[derive(Clone, Debug, Serialize, ToSchema, TS)]
#[schema(example = json!({
    "state": "running", "run": 3, "checked": 420000, "head": 1000000,
    "first_bad_position": null, "head_hash": null, "cancel_requested": false,
    "detail": "checked 420000 of 1000000 events",
    "started_at": "2026-12-06T09:12:00.000Z", "finished_at": null
}))]
pub struct VerifyStatus {
    /// `idle` (none has run since this process started), `running`, `passed` (every event's
    /// hash and link and the log head agree), `failed` (the chain is broken at
    /// `first_bad_position`, or the database could not be read), `cancelled`, or `error`
    /// (it could not finish, e.g. the database went away: start it again).
    #[schema(example = "passed")]
    pub state: &'static str,
    /// Which verification of this process (1, 2, …; 0 when idle): a start that finds one
    /// running answers with its number.
    pub run: u64,
    /// Events checked so far.
    pub checked: u64,
    /// The log's head when it started (its last position): how many events there are to
    /// check. Events appended meanwhile are checked too.
    pub head: u64,
    /// Where the chain breaks (`failed`).
    pub first_bad_position: Option<u64>,
    /// The hash of the last event checked (`passed`, hex).
    pub head_hash: Option<String>,
    /// Whether a cancel was asked for (it takes effect at the next page of 10,000 events).
    pub cancel_requested: bool,
    /// What happened, in a sentence.
    pub detail: String,
    /// When it started (RFC 3339).
    pub started_at: Option<String>,
    /// When it ended (RFC 3339).
    pub finished_at: Option<String>,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl Run {
    fn status(&self) -> VerifyStatus {
        let checked = self.control.checked();
        let (state, first_bad_position, head_hash, detail) = match &self.ended {
            None => (
                "running",
                None,
                None,
                format!("checked {checked} of {} events", self.head.max(checked)),
            ),
            Some(Ended::Passed { count, hash }) => (
                "passed",
                None,
                Some(hash.clone()),
                format!("the chain holds: {count} events, each hash and link and the log head agree"),
            ),
            Some(Ended::Failed { position, detail }) => {
                ("failed", *position, None, detail.clone())
            }
            Some(Ended::Cancelled) => (
                "cancelled",
                None,
                None,
                format!("cancelled after {checked} events; nothing is known of the rest"),
            ),
            Some(Ended::Error) => (
                "error",
                None,
                None,
                "the verification could not finish (the database could not be read; the server's log says why): start it again".to_string(),
            ),
        };
        let checked = match &self.ended {
            Some(Ended::Passed { count, .. }) => *count,
            _ => checked,
        };
        VerifyStatus {
            state,
            run: self.number,
            checked,
            head: self.head,
            first_bad_position,
            head_hash,
            cancel_requested: self.control.is_cancelled(),
            detail,
            started_at: Some(time(self.started_at)),
            finished_at: self.finished_at.map(time),
        }
    }
}

fn idle() -> VerifyStatus {
    VerifyStatus {
        state: "idle",
        run: 0,
        checked: 0,
        head: 0,
        first_bad_position: None,
        head_hash: None,
        cancel_requested: false,
        detail:
            "no verification has run since the server started: POST /v1/audit/verify starts one"
                .into(),
        started_at: None,
        finished_at: None,
    }
}

impl Verifier {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Run>> {
        // A panic while holding it cannot leave a half-written run: every write is one
        // assignment.
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The running verification or the last one.
    pub fn status(&self) -> VerifyStatus {
        self.lock().as_ref().map_or_else(idle, Run::status)
    }

    /// Asks the running verification to stop; returns its status (a finished one is left as
    /// it is).
    pub fn cancel(&self) -> VerifyStatus {
        let last = self.lock();
        if let Some(run) = last.as_ref().filter(|r| r.ended.is_none()) {
            run.control.cancel();
        }
        last.as_ref().map_or_else(idle, Run::status)
    }

    /// Starts a verification of `api`'s log in the background, unless one is running: then
    /// that one's status, and `false`.
    pub async fn start(&self, api: &Api) -> Result<(VerifyStatus, bool), Problem> {
        let log = api.engine.store.log.clone();
        let head = log
            .head()
            .await
            .map_err(|e| Problem::from_store(&e))?
            .position;
        let mut last = self.lock();
        if let Some(run) = last.as_ref().filter(|r| r.ended.is_none()) {
            return Ok((run.status(), false));
        }
        let run = Run {
            number: last.as_ref().map_or(0, |r| r.number) + 1,
            control: VerifyControl::new(),
            head,
            started_at: Utc::now(),
            finished_at: None,
            ended: None,
        };
        let status = run.status();
        let (number, control) = (run.number, run.control.clone());
        *last = Some(run);
        drop(last);
        let verifier = self.clone();
        tokio::spawn(async move {
            let ended = match log.verify_controlled(&control).await {
                Ok(Some(Verification::Intact { count, head })) => Ended::Passed {
                    count,
                    hash: head.iter().map(|b| format!("{b:02x}")).collect(),
                },
                Ok(Some(Verification::Broken { position, reason })) => Ended::Failed {
                    position: Some(position),
                    detail: format!("the chain is broken at position {position}: {reason}"),
                },
                Ok(None) => Ended::Cancelled,
                Err(StoreError::Damaged { reason }) => Ended::Failed {
                    position: None,
                    detail: format!("the database is damaged and cannot be read ({reason}): restore it from a backup, then verify the copy"),
                },
                Err(e) => {
                    tracing::error!("verifying the chain: {e}");
                    Ended::Error
                }
            };
            let mut last = verifier.lock();
            if let Some(run) = last.as_mut().filter(|r| r.number == number) {
                run.ended = Some(ended);
                run.finished_at = Some(Utc::now());
            }
        });
        Ok((status, true))
    }
}

/// Starts verifying the hash chain in the background (what `leadorch audit verify` checks),
/// unless a verification is running: then it answers with that one. Follow it with `GET`.
#[utoipa::path(post, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 202, description = "Started: its status (state running)", body = VerifyStatus),
        (status = 200, description = "One was running already: its status", body = VerifyStatus),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn start(
    State(api): State<Api>,
    _caller: Scoped<scope::Read>,
) -> Result<(StatusCode, Json<VerifyStatus>), Problem> {
    let (status, started) = api.verifier.start(&api).await?;
    let code = if started {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    };
    Ok((code, Json(status)))
}

/// The running verification of the chain, or the last one: how far it got, and how it ended
/// (`passed`, `failed` with the first bad position, `cancelled`); `idle` when none has run
/// since the server started.
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "Its status", body = VerifyStatus),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn status(
    State(api): State<Api>,
    _caller: Scoped<scope::Read>,
) -> Result<Json<VerifyStatus>, Problem> {
    Ok(Json(api.verifier.status()))
}

/// Cancels the running verification (it stops within a page of 10,000 events, then reads
/// `cancelled`); a finished one is left as it is. Answers with its status.
#[utoipa::path(delete, path = "/v1/audit/verify", tag = "audit",
    responses(
        (status = 200, description = "Its status (`cancel_requested` when one was running)", body = VerifyStatus),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn cancel(
    State(api): State<Api>,
    _caller: Scoped<scope::Read>,
) -> Result<Json<VerifyStatus>, Problem> {
    Ok(Json(api.verifier.cancel()))
}
