//! `/v1/rules`: saved rules — the list, one rule (any version), saving a new rule or version
//! (compiled first), enabling, disabling, the history, a diff of two versions, a rollback, a
//! dry run against the current state and a backtest over recorded history; and checking
//! sources and running scenario fixtures. Reading, dry runs, backtests, checks and fixtures
//! need scope `read`, changes scope `rules`.
//!
//! The rules library (`leadorch_evaluate::library`, which `leadorch rules …` calls too)
//! decides and records; dry runs are `leadorch_evaluate::dry_run`, backtests
//! `leadorch_evaluate::backtest`, checks `library::check_source` and fixtures
//! `leadorch_rules::run_fixture_source`. This module converts to the
//! documented types below and names the field at fault in every refusal. Rule ids are the
//! CLI's (a file's stem: `capacity_gate`). Sources are compiled against the rules library
//! the server was configured with ([`crate::Settings::rules_lib`]).
//!
//! Rules are per project (ADR 0030): a key reads and changes its own project's rules only.
//! Project `acme`'s rule `capacity_gate` is stored as `acme/capacity_gate` (stream
//! `rule:acme/capacity_gate`); the default project's ids are bare. Requests and answers name
//! the bare id, every library call gets the stored one ([`scoped`]), and another project's
//! rule is the same `404` as a missing one. Dry runs, backtests and fixtures see the caller's
//! project's campaigns, teams and saved rules.
//!
//! `POST /v1/rules/check` and `POST /v1/rules/test` are fixed paths beside `/v1/rules/{id}`:
//! a rule saved (by the CLI) with the id `check` or `test`, in any project, cannot be read at
//! `GET /v1/rules/check` (`405`); its other routes work.

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use leadorch_core::time_travel::{parse_time, AsOf, Point};
use leadorch_evaluate::library::{self, RuleHeader, Saved, Timer};
use leadorch_evaluate::{dry_run, Error};
use leadorch_rules::RuleHost;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{scope, Caller, Scoped};
use crate::body::{Body, OptionalBody, Params};
use crate::ids::{check_client_id, scoped, unscoped};
use crate::problem::from_engine;
use crate::routes::progress::ProgressToken;
use crate::{Api, Problem};

/// Which campaigns a rule is evaluated for: those matching any listed id, label, name or
/// team; all campaigns when every list is empty.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RuleScope {
    /// Campaign ids (`<customer>/<campaign>`, or a bare campaign id).
    pub ids: Vec<String>,
    /// Labels; `*` matches any text (`team:*`).
    pub labels: Vec<String>,
    /// Campaign name patterns; `*` matches any text (`Brand*`).
    pub names: Vec<String>,
    /// Team names.
    pub teams: Vec<String>,
}

impl From<leadorch_rules::Scope> for RuleScope {
    fn from(s: leadorch_rules::Scope) -> RuleScope {
        RuleScope {
            ids: s.ids,
            labels: s.labels,
            names: s.names,
            teams: s.teams,
        }
    }
}

/// A rule's timer, as its header writes it: exactly one of the two.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RuleSchedule {
    /// `every:`, a period aligned to the clock (`5m`, `1h30m`, `1d`).
    #[schema(example = "5m")]
    pub every: Option<String>,
    /// `cron:`, a 5-field pattern in the facts' time zone.
    #[schema(example = "*/10 8-18 * * mon-fri")]
    pub cron: Option<String>,
}

fn schedule(t: Option<Timer>) -> Option<RuleSchedule> {
    t.map(|t| match t {
        Timer::Every(every) => RuleSchedule {
            every: Some(every),
            cron: None,
        },
        Timer::Cron(cron) => RuleSchedule {
            every: None,
            cron: Some(cron),
        },
    })
}

fn triggers(t: Vec<leadorch_rules::Trigger>) -> Vec<String> {
    t.iter().map(|t| t.as_str().to_string()).collect()
}

/// A saved rule as listed: its current version and that version's header.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RuleItem {
    /// The rule's id (its file's stem when saved with `leadorch rules save`).
    #[schema(example = "capacity_gate")]
    pub id: String,
    /// Its current version (from 1).
    pub version: u32,
    /// Whether it may act.
    pub enabled: bool,
    /// Evaluation order (higher runs first and wins conflicts).
    pub priority: i32,
    /// Which campaigns it is evaluated for; `null` when the header cannot be read.
    pub scope: Option<RuleScope>,
    /// Its timer; `null` without one (the daemon then runs it on `policy.default_every`).
    pub schedule: Option<RuleSchedule>,
    /// Events that also make it run (`capacity_changed`, `lead_received`,
    /// `metrics_refreshed`).
    pub triggers: Vec<String>,
    /// Why the current version's header cannot be read (`null`: it can).
    pub header_error: Option<String>,
}

/// The saved rules, by id. The last result of each rule is not given: no read model holds it
/// (`GET /v1/events?type=EvaluationRecorded` has the evaluations).
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RuleList {
    /// Every saved rule that is not deleted, by id.
    pub items: Vec<RuleItem>,
}

/// What a version's `//!` header says.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RuleHeaderView {
    /// The prose before the first key.
    pub description: Option<String>,
    /// `priority:` (0 when not given).
    pub priority: i32,
    /// `scope:`.
    pub scope: RuleScope,
    /// `every:` or `cron:`.
    pub schedule: Option<RuleSchedule>,
    /// `on:`.
    pub triggers: Vec<String>,
    /// `dwell:`, the rule's own minimum time between status changes (`20m`).
    pub dwell: Option<String>,
    /// `cooldown:`, the rule's own minimum time between changes of one field (`30m`).
    pub cooldown: Option<String>,
}

impl From<RuleHeader> for RuleHeaderView {
    fn from(h: RuleHeader) -> RuleHeaderView {
        RuleHeaderView {
            description: h.description,
            priority: h.priority,
            scope: h.scope.into(),
            schedule: schedule(h.schedule),
            triggers: triggers(h.triggers),
            dwell: h.dwell,
            cooldown: h.cooldown,
        }
    }
}

/// One version of a rule, without its source.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct VersionItem {
    /// Version number, from 1.
    pub version: u32,
    /// When it was saved.
    pub at: DateTime<Utc>,
    /// SHA-256 of its source (what evaluations record).
    pub source_digest: String,
}

/// One rule: a version's source and header (the current version unless `?version=` names
/// another), and every version.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RuleDetail {
    /// The rule's id.
    #[schema(example = "capacity_gate")]
    pub id: String,
    /// The version shown.
    pub version: u32,
    /// The current version.
    pub current_version: u32,
    /// Whether the rule may act.
    pub enabled: bool,
    /// When the rule was deleted (its history stays); `null` when it was not.
    pub deleted_at: Option<DateTime<Utc>>,
    /// When the version shown was saved.
    pub at: DateTime<Utc>,
    /// Its Rhai source, exactly as saved.
    pub source: String,
    /// SHA-256 of that source.
    pub source_digest: String,
    /// Its header; `null` when it cannot be read (`header_error` says why).
    pub header: Option<RuleHeaderView>,
    /// Why its header cannot be read.
    pub header_error: Option<String>,
    /// Every version, oldest first.
    pub versions: Vec<VersionItem>,
}

/// A rule's source to save.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct SaveRequest {
    /// The Rhai source, header (`//! priority: …`) included. Compiled first, against the
    /// server's rules library; nothing is recorded when it does not compile.
    #[schema(
        example = "//! Pause when the team is full.\n//! priority: 100\nif team != () && team.utilisation > 0.9 { pause(\"full\") }\n"
    )]
    pub source: String,
    /// Enable the rule too (a new rule starts disabled) [default: false].
    #[serde(default)]
    #[ts(optional = nullable)]
    pub enable: bool,
}

/// What saving did.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct SaveAnswer {
    /// The rule's id.
    pub id: String,
    /// `created` (version 1), `new_version` or `unchanged` (the same source as the current
    /// version: no version recorded).
    #[schema(example = "new_version")]
    pub outcome: String,
    /// The current version now.
    pub version: u32,
    /// Whether the rule is enabled now.
    pub enabled: bool,
    /// Whether anything was recorded (a new rule or version, or enabling it).
    pub changed: bool,
    /// This request's trace id (in the metadata of the events it recorded).
    pub trace_id: String,
}

/// Whether a rule may act now.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct EnabledAnswer {
    /// The rule's id.
    pub id: String,
    /// Whether it may act now.
    pub enabled: bool,
    /// Whether this request changed it (`false`: it already was so; nothing recorded).
    pub changed: bool,
    /// This request's trace id (in the metadata of the event it recorded).
    pub trace_id: String,
}

/// One event of a rule's history.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct HistoryItem {
    /// The event's position in the log.
    pub position: u64,
    /// The version current after it.
    pub version: u32,
    /// `created`, `new_version`, `rolled_back`, `enabled`, `disabled` or `deleted`.
    #[schema(example = "new_version")]
    pub what: String,
    /// For a rollback: the earlier version whose source it restored.
    pub rolled_back_to: Option<u32>,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// When the log recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Who acted: `api-key:<key id>`, `desktop:<user>`, `cli:<user>`, `daemon`, …
    pub actor: String,
    /// SHA-256 of the source of `version`.
    pub source_digest: String,
}

/// What happened to a rule, oldest first.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct HistoryList {
    /// Every event of the rule.
    pub items: Vec<HistoryItem>,
}

/// Which versions to compare.
#[derive(Debug, Deserialize, IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// The version to compare from.
    pub from: Option<u32>,
    /// The version to compare to.
    pub to: Option<u32>,
}

/// A unified diff of two versions' sources.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct DiffAnswer {
    /// The rule's id.
    pub id: String,
    /// The version compared from.
    pub from: u32,
    /// The version compared to.
    pub to: u32,
    /// The diff (`--- ID vA`, `+++ ID vB`, then hunks with three lines of context; only the
    /// two header lines when the sources are equal), what `leadorch rules diff` prints.
    #[schema(example = "--- capacity_gate v1\n+++ capacity_gate v2\n@@ -1,3 +1,3 @@\n")]
    pub diff: String,
}

/// Which version to restore.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// The earlier version whose source becomes current again (recorded as a new version).
    pub version: u32,
}

/// What a rollback recorded.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct RollbackAnswer {
    /// The rule's id.
    pub id: String,
    /// The version whose source was restored.
    pub rolled_back_to: u32,
    /// The new version recorded with that source.
    pub version: u32,
    /// Whether the rule is enabled (a rollback does not change it).
    pub enabled: bool,
    /// This request's trace id (in the metadata of the event it recorded).
    pub trace_id: String,
}

/// Which version to dry-run, and over which part of the log. An empty body is the current
/// version now.
#[derive(Debug, Default, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct DryRunRequest {
    /// A version of the rule [default: the current one].
    pub version: Option<u32>,
    /// As of this event time (RFC 3339 or a date: the world as it was then, and the rule's
    /// clock) or log position (digits) [default: now].
    pub as_of: Option<String>,
    /// Only what the log held at this recorded time (RFC 3339 or a date).
    pub known_at: Option<String>,
}

/// What the rule would have one campaign do.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct DryRunDecision {
    /// The campaign (`<customer>/<campaign>`).
    pub campaign: String,
    /// `pause`, `resume`, `set_budget`, `set_bid_target`, `set_ad_schedule` or `notify`.
    #[schema(example = "pause")]
    pub action: String,
    /// The action with its parameters, as evaluations record it (`{"action": "set_budget",
    /// "daily_budget_micros": …}`).
    #[schema(value_type = Object)]
    pub detail: Value,
    /// Why, in the rule's words.
    pub reason: String,
    /// `would_apply` (the arbiter accepts it) or `held` (it would not be acted on now).
    #[schema(example = "would_apply")]
    pub outcome: String,
    /// Why it is held (`{"why": "dwell", "until": …}`, `{"why": "no_change"}`, …); `null`
    /// when it would apply.
    #[schema(value_type = Option<Object>)]
    pub held: Option<Value>,
}

/// A campaign the rule failed for.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct DryRunFailure {
    /// The campaign.
    pub campaign: String,
    /// What went wrong.
    pub error: String,
}

/// A line the rule printed.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct DryRunLog {
    /// The campaign being evaluated.
    pub campaign: String,
    /// The text.
    pub line: String,
}

/// What one rule would decide against the state of the log; nothing was recorded or applied.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct DryRunAnswer {
    /// The rule's id.
    pub id: String,
    /// The version that ran.
    pub version: u32,
    /// The rule's clock: the time its facts are of.
    pub at: DateTime<Utc>,
    /// The recorded time asked for (`known_at`), if any.
    pub known_at: Option<DateTime<Utc>>,
    /// The last log position the facts include, when limited.
    pub until_position: Option<u64>,
    /// SHA-256 of the facts the rule saw.
    pub facts_digest: String,
    /// Campaigns in the rule's scope (each evaluated once).
    pub campaigns_in_scope: usize,
    /// Its decisions, per campaign: those the arbiter would accept first, then those it would
    /// hold.
    pub decisions: Vec<DryRunDecision>,
    /// Campaigns the rule failed for (the others went on).
    pub failures: Vec<DryRunFailure>,
    /// Set when a limit stopped the whole run (then it decided nothing).
    pub aborted: Option<String>,
    /// What the rule printed.
    pub logs: Vec<DryRunLog>,
}

/// A version to show.
#[derive(Debug, Deserialize, IntoParams, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ShowQuery {
    /// The version to show [default: the current one].
    pub version: Option<u32>,
}

/// Every saved rule of the key's project.
#[utoipa::path(get, path = "/v1/rules", tag = "rules", operation_id = "list_rules",
    responses(
        (status = 200, description = "The saved rules of the key's project, by id", body = RuleList),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
) -> Result<Json<RuleList>, Problem> {
    // The project's rules only, named bare (as `library::rule_summaries_in` names them), from
    // the facts view the API keeps caught up rather than the read models.
    let summaries = {
        let facts = api
            .facts()
            .await
            .map_err(|e| crate::routes::leads::evaluate_problem(&e))?;
        let own = facts
            .rules
            .iter()
            .filter_map(|(stored, e)| unscoped(&caller.project, stored).map(|id| (id, &e.state)));
        library::summaries_of(own)
    };
    let items = summaries
        .into_iter()
        .map(|r| RuleItem {
            id: r.id,
            version: r.version,
            enabled: r.enabled,
            priority: r.priority,
            scope: r.scope.map(RuleScope::from),
            schedule: schedule(r.schedule),
            triggers: triggers(r.triggers),
            header_error: r.header_error,
        })
        .collect();
    Ok(Json(RuleList { items }))
}

/// One rule: a version's source and header, and the list of its versions.
#[utoipa::path(get, path = "/v1/rules/{id}", tag = "rules", operation_id = "show_rule",
    params(("id" = String, Path, description = "The rule's id, e.g. capacity_gate"), ShowQuery),
    responses(
        (status = 200, description = "The rule", body = RuleDetail),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule in the key's project (field id), or no such version (field version)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "version is not a number, or an unknown parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn show(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path(id): Path<String>,
    Params(q): Params<ShowQuery>,
) -> Result<Json<RuleDetail>, Problem> {
    let state = saved(&api, &caller, &id).await?;
    let v =
        library::rule_version(&state, &id, q.version).map_err(|e| refusal(e, &id, "version"))?;
    let (header, header_error) = match library::rule_header(&v.source) {
        Ok(h) => (Some(h.into()), None),
        Err(e) => (None, Some(e.to_string())),
    };
    Ok(Json(RuleDetail {
        id: id.clone(),
        version: v.version,
        current_version: state.current().map_or(v.version, |c| c.version),
        enabled: state.is_enabled(),
        deleted_at: state.deleted_at(),
        at: v.at,
        source: v.source.clone(),
        source_digest: leadorch_rules::source_digest(&v.source),
        header,
        header_error,
        versions: state
            .versions()
            .iter()
            .map(|v| VersionItem {
                version: v.version,
                at: v.at,
                source_digest: leadorch_rules::source_digest(&v.source),
            })
            .collect(),
    }))
}

/// Saves a rule of the key's project: a new rule (version 1, disabled unless `enable`), or a
/// new version of one. The source is compiled first; the same source as the current version
/// records nothing. Another project's rule of the same id is another rule.
#[utoipa::path(put, path = "/v1/rules/{id}", tag = "rules", operation_id = "save_rule",
    params(("id" = String, Path, description = "The rule's id: 1 to 128 of A-Z a-z 0-9 . _ - (the CLI names a rule after its file: capacity_gate)")),
    request_body = SaveRequest,
    responses(
        (status = 201, description = "A new rule, version 1", body = SaveAnswer,
            headers(("Location" = String, description = "The rule's version: /v1/rules/{id}?version=1"))),
        (status = 200, description = "A new version (changed: true), or the same source again (outcome unchanged: no version recorded)", body = SaveAnswer,
            headers(("Location" = String, description = "The rule's current version"))),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the rules scope", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The rule was deleted, or changed while this request was answered (field id); nothing recorded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The source does not compile (field source, with line and column), is empty, or a field is wrong or unknown; nothing recorded", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn save(
    State(api): State<Api>,
    caller: Scoped<scope::Rules>,
    Path(id): Path<String>,
    Body(req): Body<SaveRequest>,
) -> Result<
    (
        StatusCode,
        [(header::HeaderName, String); 1],
        Json<SaveAnswer>,
    ),
    Problem,
> {
    check_client_id("id", &id)?;
    if req.source.trim().is_empty() {
        return Err(Problem::invalid(
            "source",
            "source must not be empty: send the rule's Rhai source; nothing was recorded",
        ));
    }
    let host = host(&api)?;
    let metadata = metadata(&caller);
    let done = library::save_rule_with(
        &api.engine,
        &host,
        &scoped(&caller.project, &id),
        &req.source,
        req.enable,
        Utc::now(),
        &metadata,
    )
    .await
    .map_err(|e| match e {
        Error::Compile(error) => does_not_compile(&host, &error),
        other => refusal(other, &id, "id"),
    })?;
    let (status, outcome) = match done.saved {
        Saved::Created => (StatusCode::CREATED, "created"),
        Saved::NewVersion => (StatusCode::OK, "new_version"),
        Saved::Unchanged => (StatusCode::OK, "unchanged"),
    };
    Ok((
        status,
        [(
            header::LOCATION,
            format!("/v1/rules/{id}?version={}", done.version),
        )],
        Json(SaveAnswer {
            id,
            outcome: outcome.to_string(),
            version: done.version,
            enabled: done.enabled,
            changed: done.saved != Saved::Unchanged || done.enabled_now,
            trace_id: metadata.trace_id.unwrap_or_default(),
        }),
    ))
}

/// Lets a rule act (its current version, from the daemon's next evaluation on).
#[utoipa::path(post, path = "/v1/rules/{id}/enable", tag = "rules", operation_id = "enable_rule",
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "Enabled (changed: false when it already was; nothing recorded)", body = EnabledAnswer),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the rules scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule (field id)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The rule was deleted (field id)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn enable(
    State(api): State<Api>,
    caller: Scoped<scope::Rules>,
    Path(id): Path<String>,
) -> Result<Json<EnabledAnswer>, Problem> {
    set_enabled(api, caller.0, id, true).await
}

/// Stops a rule from acting.
#[utoipa::path(post, path = "/v1/rules/{id}/disable", tag = "rules", operation_id = "disable_rule",
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "Disabled (changed: false when it already was; nothing recorded)", body = EnabledAnswer),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the rules scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule (field id)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The rule was deleted (field id)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn disable(
    State(api): State<Api>,
    caller: Scoped<scope::Rules>,
    Path(id): Path<String>,
) -> Result<Json<EnabledAnswer>, Problem> {
    set_enabled(api, caller.0, id, false).await
}

async fn set_enabled(
    api: Api,
    caller: Caller,
    id: String,
    enabled: bool,
) -> Result<Json<EnabledAnswer>, Problem> {
    let metadata = metadata(&caller);
    let changed = library::set_enabled(
        &api.engine,
        &scoped(&caller.project, &id),
        enabled,
        Utc::now(),
        &metadata,
    )
    .await
    .map_err(|e| refusal(e, &id, "id"))?;
    Ok(Json(EnabledAnswer {
        id,
        enabled,
        changed,
        trace_id: metadata.trace_id.unwrap_or_default(),
    }))
}

/// What happened to a rule, oldest first: each version, enable, disable, rollback, with when,
/// by whom and the digest of the source then current (what `leadorch rules history` lists).
#[utoipa::path(get, path = "/v1/rules/{id}/history", tag = "rules", operation_id = "rule_history",
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule's events, oldest first", body = HistoryList),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule (field id)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn history(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path(id): Path<String>,
) -> Result<Json<HistoryList>, Problem> {
    let entries = library::rule_history(&api.engine, &scoped(&caller.project, &id))
        .await
        .map_err(|e| refusal(e, &id, "id"))?;
    Ok(Json(HistoryList {
        items: entries
            .into_iter()
            .map(|e| HistoryItem {
                position: e.position,
                version: e.version,
                what: e.what.as_str().to_string(),
                rolled_back_to: e.rolled_back_to,
                at: e.at,
                recorded_at: e.recorded_at,
                actor: e.actor,
                source_digest: e.source_digest,
            })
            .collect(),
    }))
}

/// A unified diff of two versions of a rule (what `leadorch rules diff ID A B` prints).
#[utoipa::path(get, path = "/v1/rules/{id}/diff", tag = "rules", operation_id = "diff_rule_versions",
    params(("id" = String, Path, description = "The rule's id"), DiffQuery),
    responses(
        (status = 200, description = "The diff", body = DiffAnswer),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule (field id), or no such version (field from or to)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "from or to is missing or not a number (named), or an unknown parameter", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn diff(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path(id): Path<String>,
    Params(q): Params<DiffQuery>,
) -> Result<Json<DiffAnswer>, Problem> {
    let from = q.from.ok_or_else(|| {
        Problem::invalid("from", "give the version to compare from: ?from=A&to=B")
    })?;
    let to =
        q.to.ok_or_else(|| Problem::invalid("to", "give the version to compare to: ?from=A&to=B"))?;
    let state = saved(&api, &caller, &id).await?;
    let a = library::rule_version(&state, &id, Some(from)).map_err(|e| refusal(e, &id, "from"))?;
    let b = library::rule_version(&state, &id, Some(to)).map_err(|e| refusal(e, &id, "to"))?;
    Ok(Json(DiffAnswer {
        diff: library::diff_versions(&id, a, b),
        id,
        from,
        to,
    }))
}

/// Records an earlier version's source as a new version (compiled first against the server's
/// rules library; the rule stays enabled or disabled as it is).
#[utoipa::path(post, path = "/v1/rules/{id}/rollback", tag = "rules", operation_id = "rollback_rule",
    params(("id" = String, Path, description = "The rule's id")),
    request_body = RollbackRequest,
    responses(
        (status = 200, description = "Rolled back: a new version with the earlier source", body = RollbackAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the rules scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule (field id), or no such version (field version)", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "That version's source is the current one already, or the rule was deleted (field version); nothing recorded", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "That version no longer compiles against the rules library (field version, with line and column), or a field is wrong or unknown; nothing recorded", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn rollback(
    State(api): State<Api>,
    caller: Scoped<scope::Rules>,
    Path(id): Path<String>,
    Body(req): Body<RollbackRequest>,
) -> Result<Json<RollbackAnswer>, Problem> {
    saved(&api, &caller, &id).await?;
    let host = host(&api)?;
    let metadata = metadata(&caller);
    let done = library::rollback_rule_with(
        &api.engine,
        &host,
        &scoped(&caller.project, &id),
        req.version,
        Utc::now(),
        &metadata,
    )
    .await
    .map_err(|e| match e {
        Error::NoLongerCompiles { error, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "no-longer-compiles",
            "No longer compiles",
            format!(
                "version {} of rule {id} no longer compiles against the server's rules library, so it was not restored: {}; nothing was recorded (save a corrected version with PUT /v1/rules/{id})",
                req.version,
                position_and_message(&error)
            ),
        )
        .field("version")
        .at(error.line, error.column),
        other => refusal(other, &id, "version"),
    })?;
    Ok(Json(RollbackAnswer {
        id,
        rolled_back_to: done.to,
        version: done.version,
        enabled: done.enabled,
        trace_id: metadata.trace_id.unwrap_or_default(),
    }))
}

/// What the rule would decide for each campaign in its scope against the current state of
/// the log (or as of an earlier point), resolved as the daemon would resolve it with no
/// other rule running. Nothing is recorded or applied. The configuration's facts settings
/// and policy are the server's; unlike `leadorch rules dry-run`, a simulated database's demo
/// teams and calendars are not added.
#[utoipa::path(post, path = "/v1/rules/{id}/dry-run", tag = "rules", operation_id = "dry_run_rule",
    params(("id" = String, Path, description = "The rule's id")),
    request_body(content = Option<DryRunRequest>, description = "Optional: an empty body is the current version now"),
    responses(
        (status = 200, description = "What the rule would decide; nothing recorded", body = DryRunAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule (field id), or no such version (field version)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "as_of or known_at is not a time or position, the version no longer compiles (field version, with line and column), or an unknown field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn dry_run(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path(id): Path<String>,
    OptionalBody(req): OptionalBody<DryRunRequest>,
) -> Result<Json<DryRunAnswer>, Problem> {
    let point = req
        .as_of
        .as_deref()
        .map(|s| Point::parse("as_of", s))
        .transpose()
        .map_err(|e| Problem::invalid("as_of", e))?;
    let known = req
        .known_at
        .as_deref()
        .map(|s| parse_time("known_at", s))
        .transpose()
        .map_err(|e| Problem::invalid("known_at", e))?;
    saved(&api, &caller, &id).await?;
    let host = host(&api)?;
    let rule = compile_version(&api, &host, &caller, &id, req.version).await?;
    let as_of = AsOf::resolve(&api.engine.store.log, point, known)
        .await
        .map_err(|e| from_engine(&e))?;
    let done = dry_run::dry_run(
        &api.engine,
        &host,
        &caller.project,
        rule,
        as_of,
        &api.settings.fact_settings(),
        &api.settings.policy,
        Utc::now(),
    )
    .await
    .map_err(|e| refusal(e, &id, "id"))?;
    let run = done.run();
    let resolution = &done.outcome.resolution;
    let decision = |p: &leadorch_rules::Proposal, held: Option<Value>| DryRunDecision {
        campaign: p.campaign.clone(),
        action: p.decision.action.name().to_string(),
        detail: serde_json::to_value(&p.decision.action).unwrap_or(Value::Null),
        reason: p.decision.reason.clone(),
        outcome: if held.is_some() {
            "held"
        } else {
            "would_apply"
        }
        .to_string(),
        held,
    };
    let decisions = resolution
        .accepted
        .iter()
        .map(|p| decision(p, None))
        .chain(resolution.suppressed.iter().map(|s| {
            decision(
                &s.proposal,
                Some(serde_json::to_value(&s.why).unwrap_or(Value::Null)),
            )
        }))
        .collect();
    Ok(Json(DryRunAnswer {
        id: done.rule.id.clone(),
        version: done.rule.version,
        at: done.at,
        known_at: done.as_of.known_at,
        until_position: done.as_of.until,
        facts_digest: done.outcome.facts_digest.clone(),
        campaigns_in_scope: run.evaluated,
        decisions,
        failures: run
            .failures
            .iter()
            .map(|f| DryRunFailure {
                campaign: f.campaign.clone(),
                error: f.error.to_string(),
            })
            .collect(),
        aborted: run.aborted.as_ref().map(ToString::to_string),
        logs: run
            .logs
            .iter()
            .map(|l| DryRunLog {
                campaign: l.campaign.clone(),
                line: l.line.clone(),
            })
            .collect(),
    }))
}

/// Rule sources to compile: exactly one of `source` and `sources`.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    /// One Rhai source (answered as rule `rule`).
    #[schema(
        example = "//! priority: 100\nif team != () && team.utilisation > 0.9 { pause(\"full\") }\n"
    )]
    pub source: Option<String>,
    /// Several sources by rule id (`{"capacity_gate": "…"}`), as `leadorch rules check` takes
    /// several files.
    pub sources: Option<std::collections::BTreeMap<String, String>>,
}

/// One thing the check says about a source.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct CheckDiagnostic {
    /// `error` (it does not compile) or `warning` (it compiles, but reads a fact rules do not
    /// see: an error when it runs).
    #[schema(example = "error")]
    pub severity: String,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column (in characters), when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// What the check says about one source.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct CheckedRule {
    /// The rule's id (`rule` for a lone `source`).
    pub id: String,
    /// Whether it compiles against the server's rules library.
    pub ok: bool,
    /// Its header's priority, when it compiles.
    pub priority: Option<i32>,
    /// Its header's triggers (`on:`), when it compiles.
    pub triggers: Vec<String>,
    /// The compile error (one: compiling stops at the first), or the warnings.
    pub diagnostics: Vec<CheckDiagnostic>,
}

/// What `leadorch rules check` says, per source. Sources that do not compile are answered
/// here with `ok: false` (the check itself succeeded); nothing is recorded.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct CheckAnswer {
    /// Whether every source compiles (warnings do not count).
    pub ok: bool,
    /// Each source, by id.
    pub rules: Vec<CheckedRule>,
}

/// Compiles rule sources against the server's rules library and says, with line and column,
/// what is wrong with each (what `leadorch rules check` prints). A source that does not
/// compile is `200` with `ok: false` and its diagnostics, not a refusal: the check worked.
/// Nothing is recorded.
#[utoipa::path(post, path = "/v1/rules/check", tag = "rules", operation_id = "check_rules",
    request_body = CheckRequest,
    responses(
        (status = 200, description = "Checked (ok: false when a source does not compile; each diagnostic has its line and column)", body = CheckAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Neither or both of source and sources, an empty source (named), or an unknown field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn check(
    State(api): State<Api>,
    _caller: Scoped<scope::Read>,
    Body(req): Body<CheckRequest>,
) -> Result<Json<CheckAnswer>, Problem> {
    let sources: Vec<(String, String, String)> = match (req.source, req.sources) {
        (Some(source), None) => vec![("rule".into(), "source".into(), source)],
        (None, Some(map)) if !map.is_empty() => map
            .into_iter()
            .map(|(id, source)| (id.clone(), format!("sources.{id}"), source))
            .collect(),
        (None, Some(_)) => {
            return Err(Problem::invalid(
                "sources",
                "sources is empty: give at least one rule's source by id",
            ))
        }
        (Some(_), Some(_)) => {
            return Err(Problem::invalid(
                "source",
                "give source (one rule) or sources (by id), not both",
            ))
        }
        (None, None) => {
            return Err(Problem::invalid(
                "source",
                "give source (one rule's Rhai source) or sources ({\"id\": \"source\", …})",
            ))
        }
    };
    for (_, field, source) in &sources {
        if source.trim().is_empty() {
            return Err(Problem::invalid(
                field,
                format!("{field} is empty: send the rule's Rhai source"),
            ));
        }
    }
    let host = host(&api)?;
    let rules: Vec<CheckedRule> = sources
        .iter()
        .map(|(id, _, source)| {
            let checked = library::check_source(&host, id, source);
            // The compiler lists the modules there are; it says nothing of a missing library.
            let hint = (checked.unknown_module() && host.modules().is_empty())
                .then(|| library_hint(&host));
            let diagnostics = checked
                .diagnostics()
                .into_iter()
                .map(|d| CheckDiagnostic {
                    severity: match d.severity {
                        library::Severity::Error => "error",
                        library::Severity::Warning => "warning",
                    }
                    .to_string(),
                    line: d.line,
                    column: d.column,
                    message: match (&hint, d.severity) {
                        (Some(h), library::Severity::Error) => format!("{}{h}", d.message),
                        _ => d.message,
                    },
                })
                .collect();
            let (ok, priority, triggers) = match &checked.compiled {
                Ok(rule) => (
                    true,
                    Some(rule.meta.priority),
                    triggers_of(&rule.meta.triggers),
                ),
                Err(_) => (false, None, Vec::new()),
            };
            CheckedRule {
                id: id.clone(),
                ok,
                priority,
                triggers,
                diagnostics,
            }
        })
        .collect();
    Ok(Json(CheckAnswer {
        ok: rules.iter().all(|r| r.ok),
        rules,
    }))
}

/// The longest window a backtest over HTTP covers; longer ones are for
/// `leadorch rules backtest`.
pub const MAX_BACKTEST_DAYS: i64 = 31;
/// The most events of the log a backtest over HTTP reads (it reads the log from its start);
/// a longer log is for `leadorch rules backtest`.
pub const MAX_BACKTEST_EVENTS: u64 = 200_000;

/// Which version to backtest, over which window.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct BacktestRequest {
    /// Window start, event time (RFC 3339 or a date).
    #[schema(example = "2026-03-02T00:00:00Z")]
    pub from: String,
    /// Window end, event time (RFC 3339 or a date); after `from`, at most 31 days later.
    #[schema(example = "2026-03-09T00:00:00Z")]
    pub to: String,
    /// A version of the saved rule [default: the current one].
    pub version: Option<u32>,
    /// A source to backtest instead of a saved version, as if the rule had it (the rule need
    /// not be saved; compiled against the server's rules library).
    pub source: Option<String>,
}

/// One action the rule would have taken.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct BacktestDecision {
    /// When.
    pub at: DateTime<Utc>,
    /// The campaign (`<customer>/<campaign>`).
    pub campaign: String,
    /// Its name as last recorded (empty when unknown).
    pub campaign_name: String,
    /// The action (`pause`, `resume`, …).
    #[schema(example = "pause")]
    pub action: String,
    /// Why, in the rule's words.
    pub reason: String,
}

/// A backtest's figures for one campaign, or the totals (`campaign` null).
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct BacktestFigures {
    /// The campaign; `null` for the totals.
    pub campaign: Option<String>,
    /// Its name as last recorded (empty when unknown, and for the totals).
    pub name: String,
    /// Status changes (pause/resume) the rule would have made.
    pub flips_rule: u64,
    /// Status changes that actually happened.
    pub flips_actual: u64,
    /// Minutes the rule would have had it paused.
    pub minutes_paused_rule: f64,
    /// Minutes it actually was paused.
    pub minutes_paused_actual: f64,
    /// Cost recorded while the rule would have had it paused, it ran, and its team was full
    /// (utilisation ≥ 100 %), micros.
    pub spend_avoided_micros: i64,
    /// Leads that arrived while the rule would have had it paused and its team had room.
    pub leads_lost: u64,
    /// Estimated cost while the rule would have kept running what this rule's recorded
    /// decisions actually paused, micros.
    pub spend_added_micros: i64,
    /// Leads actually received from it in the window.
    pub leads_actual: u64,
    /// Cost actually recorded in the window, micros.
    pub spend_actual_micros: i64,
}

fn figures(
    campaign: Option<String>,
    f: &leadorch_evaluate::backtest::CampaignFigures,
) -> BacktestFigures {
    BacktestFigures {
        campaign,
        name: f.name.clone(),
        flips_rule: f.flips_backtest,
        flips_actual: f.flips_actual,
        minutes_paused_rule: f.minutes_paused_backtest,
        minutes_paused_actual: f.minutes_paused_actual,
        spend_avoided_micros: f.spend_avoided_micros,
        leads_lost: f.leads_lost,
        spend_added_micros: f.spend_added_micros,
        leads_actual: f.leads_actual,
        spend_actual_micros: f.spend_actual_micros,
    }
}

/// What the rule version would have done over the window, history otherwise as it happened
/// (docs/adr/0021): what `leadorch rules backtest --json` reports. Nothing was recorded.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct BacktestAnswer {
    /// The rule's id.
    pub id: String,
    /// The saved version that ran; `null` for a `source` sent with the request.
    pub version: Option<u32>,
    /// SHA-256 of its source.
    pub source_digest: String,
    /// Window start.
    pub from: DateTime<Utc>,
    /// Window end.
    pub to: DateTime<Utc>,
    /// Evaluations made.
    pub evaluations: u64,
    /// Evaluations in which the rule failed for a campaign or was stopped.
    pub failures: u64,
    /// Events read.
    pub events: u64,
    /// What the rule would have done, in order.
    pub decisions: Vec<BacktestDecision>,
    /// Figures per campaign, by id.
    pub campaigns: Vec<BacktestFigures>,
    /// Figures over all campaigns.
    pub totals: BacktestFigures,
}

/// Replays the recorded history of a window through one version of a rule — the rule
/// replacing itself, everything else as it happened (docs/adr/0021) — and answers what
/// `leadorch rules backtest` reports: what it would have done and the figures. Nothing is
/// recorded. Bounded: a window of at most 31 days, over a log of at most 200 000 events
/// (beyond: `422`, use the CLI). The configuration's facts settings and policy are the
/// server's; unlike the CLI, a simulated database's demo teams and calendars are not added.
#[utoipa::path(post, path = "/v1/rules/{id}/backtest", tag = "rules", operation_id = "backtest_rule",
    params(("id" = String, Path, description = "The rule's id"),
        ("Progress-Token" = Option<String>, Header, description = "A token of the caller's choosing (1–64 of A-Z a-z 0-9 _ -): while the backtest runs, `GET /v1/progress/{token}` answers how many of the log's events it has read")),
    request_body = BacktestRequest,
    responses(
        (status = 200, description = "What the rule would have done; nothing recorded", body = BacktestAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such rule (field id; without source), or no such version (field version)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "from or to is not a time, to is not after from or more than 31 days after it, the log is longer than 200 000 events (field to), version with source, the source or version does not compile (with line and column), or an unknown field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn backtest(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path(id): Path<String>,
    ProgressToken(token): ProgressToken,
    Body(req): Body<BacktestRequest>,
) -> Result<Json<BacktestAnswer>, Problem> {
    let progress = api.progress.follow(&caller, token.as_ref(), "events");
    let from = parse_time("from", &req.from).map_err(|e| Problem::invalid("from", e))?;
    let to = parse_time("to", &req.to).map_err(|e| Problem::invalid("to", e))?;
    if to <= from {
        return Err(Problem::invalid(
            "to",
            format!("to ({}) must be after from ({})", req.to, req.from),
        ));
    }
    if to - from > chrono::Duration::days(MAX_BACKTEST_DAYS) {
        return Err(Problem::invalid(
            "to",
            format!(
                "a backtest over HTTP covers at most {MAX_BACKTEST_DAYS} days, and {} to {} is longer: split the window, or run `leadorch rules backtest`",
                req.from, req.to
            ),
        ));
    }
    if req.version.is_some() && req.source.is_some() {
        return Err(Problem::invalid(
            "source",
            "give version (a saved version) or source (a source to try), not both",
        ));
    }
    let host = host(&api)?;
    let rule = match &req.source {
        Some(source) => {
            check_client_id("id", &id)?;
            if source.trim().is_empty() {
                return Err(Problem::invalid(
                    "source",
                    "source must not be empty: send the rule's Rhai source, or leave it out for the saved rule",
                ));
            }
            let compiled = host
                .compile(&id, source)
                .map_err(|e| does_not_compile(&host, &e))?;
            std::sync::Arc::new(leadorch_evaluate::tick::LoadedRule {
                id: id.clone(),
                version: 0,
                compiled,
            })
        }
        None => {
            saved(&api, &caller, &id).await?;
            compile_version(&api, &host, &caller, &id, req.version).await?
        }
    };
    let head = api
        .engine
        .store
        .log
        .head()
        .await
        .map_err(|e| Problem::from_store(&e))?;
    if head.position > MAX_BACKTEST_EVENTS {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "backtest-too-large",
            "Backtest too large",
            format!(
                "a backtest reads the log from its start, and over HTTP at most {MAX_BACKTEST_EVENTS} events; the log holds {}: run `leadorch rules backtest` for this window",
                head.position
            ),
        )
        .field("to"));
    }
    progress.total(head.position);
    let facts = api.settings.fact_settings();
    let opts = leadorch_evaluate::backtest::BacktestOptions {
        rule: rule.clone(),
        project: &caller.project,
        from,
        to,
        facts: &facts,
        policy: api.settings.policy.clone(),
        default_every: api.settings.default_every,
        until: Some(head.position),
        reuse: true,
    };
    let report = leadorch_evaluate::backtest::run(&api.engine, &host, &opts, &mut |read| {
        progress.done(read)
    })
    .await
    .map_err(|e| refusal(e, &id, "id"))?;
    Ok(Json(BacktestAnswer {
        version: (rule.version > 0).then_some(rule.version),
        id: report.rule,
        source_digest: report.source_digest,
        from: report.from,
        to: report.to,
        evaluations: report.evaluations,
        failures: report.failures,
        events: report.events,
        decisions: report
            .timeline
            .into_iter()
            .map(|t| BacktestDecision {
                at: t.at,
                campaign: t.campaign,
                campaign_name: t.campaign_name,
                action: t.action,
                reason: t.reason,
            })
            .collect(),
        campaigns: report
            .campaigns
            .iter()
            .map(|(c, f)| figures(Some(c.clone()), f))
            .collect(),
        totals: figures(None, &report.totals),
    }))
}

/// A scenario fixture to run, and the rule sources it needs.
#[derive(Debug, Deserialize, ToSchema, TS)]
#[ts(optional_fields = nullable)]
#[serde(deny_unknown_fields)]
pub struct FixtureRequest {
    /// The fixture: TOML in the format of `rules/fixtures/*.toml` (rules/README.md,
    /// "Fixtures"). The rules it names (`rule = "../capacity_gate.rhai"`) are taken by their
    /// file's stem (`capacity_gate`) from `sources`, else the current version of the key's
    /// project's saved rule.
    pub fixture: String,
    /// Rule sources by id (the stem of the name the fixture gives), used instead of the saved
    /// rules [default: none: the saved rules].
    #[serde(default)]
    #[ts(optional = nullable)]
    pub sources: std::collections::BTreeMap<String, String>,
}

/// A rule a fixture ran.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct FixtureRule {
    /// Its id.
    pub id: String,
    /// `sources` (sent with the request) or `saved`.
    #[schema(example = "saved")]
    pub from: String,
    /// The saved version that ran; `null` for a source sent.
    pub version: Option<u32>,
}

/// One step of a fixture as run.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct FixtureStep {
    /// The step's number, from 1.
    pub number: usize,
    /// Its time (the rules' clock).
    pub at: DateTime<Utc>,
    /// Its `note`.
    pub note: Option<String>,
    /// The decisions it expects the arbiter to accept, as the fixture states them
    /// (`"pause 111-222-3333/1001 by capacity_gate"`).
    pub expected: Vec<String>,
    /// The decisions accepted (`"pause 111-222-3333/1001 by capacity_gate"`).
    pub actual: Vec<String>,
    /// The proposals held, with why.
    pub suppressed: Vec<String>,
    /// The rules' failures.
    pub failures: Vec<String>,
    /// Whether everything matched (accepted, and suppressed and failures where stated).
    pub matched: bool,
    /// What differed, when it did not.
    pub problems: Vec<String>,
}

/// What running a fixture found (what `leadorch rules test` prints); nothing was recorded.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct FixtureAnswer {
    /// The fixture's description.
    pub description: Option<String>,
    /// Whether every step matched.
    pub passed: bool,
    /// The rules that ran.
    pub rules: Vec<FixtureRule>,
    /// Every step.
    pub steps: Vec<FixtureStep>,
}

/// Runs one scenario fixture (facts over time, expected decisions) through the rules it
/// names and the arbiter, as `leadorch rules test FILE` does, and answers each step's
/// expected and actual decisions. A fixture whose steps differ is `200` with
/// `passed: false`. Nothing is recorded.
#[utoipa::path(post, path = "/v1/rules/test", tag = "rules", operation_id = "test_rule_fixture",
    request_body = FixtureRequest,
    responses(
        (status = 200, description = "Run (passed: false when a step differs)", body = FixtureAnswer),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The fixture cannot be read or run (field fixture), a rule it names is neither sent nor saved, a source is not one it names, a rule does not compile (field sources.ID or fixture, with line and column), or an unknown field", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn test(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Body(req): Body<FixtureRequest>,
) -> Result<Json<FixtureAnswer>, Problem> {
    let label = std::path::Path::new("fixture");
    let fixture_problem = |e: leadorch_rules::FixtureError| match e {
        leadorch_rules::FixtureError::Parse { message, .. }
        | leadorch_rules::FixtureError::Invalid { message, .. } => {
            Problem::invalid("fixture", format!("the fixture cannot be run: {message}"))
        }
        other => Problem::invalid("fixture", other.to_string()),
    };
    let names = leadorch_rules::fixture_rules(label, &req.fixture).map_err(fixture_problem)?;
    // Each name the fixture gives → (id, source, where from).
    let mut sources: std::collections::BTreeMap<String, (String, String, FixtureRule)> =
        Default::default();
    for name in &names {
        let id = std::path::Path::new(name)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or(name)
            .to_string();
        let (source, used) = match req.sources.get(&id) {
            Some(source) => (
                source.clone(),
                FixtureRule {
                    id: id.clone(),
                    from: "sources".into(),
                    version: None,
                },
            ),
            None => {
                let stored = scoped(&caller.project, &id);
                let state = library::saved_rule(&api.engine, &stored).await.map_err(|e| match e {
                    Error::NotFound(_) => Problem::invalid(
                        "sources",
                        format!(
                            "the fixture names rule {name:?}, which is neither in sources nor saved: send its source as sources.{id}"
                        ),
                    ),
                    other => refusal(other, &id, "sources"),
                })?;
                let v = library::rule_version(&state, &id, None)
                    .map_err(|e| refusal(e, &id, "sources"))?;
                (
                    v.source.clone(),
                    FixtureRule {
                        id: id.clone(),
                        from: "saved".into(),
                        version: Some(v.version),
                    },
                )
            }
        };
        sources.insert(name.clone(), (id, source, used));
    }
    for id in req.sources.keys() {
        if !sources.values().any(|(named, _, _)| named == id) {
            return Err(Problem::invalid(
                &format!("sources.{id}"),
                format!(
                    "the fixture does not name rule {id} (it names {}): leave it out",
                    names.join(", ")
                ),
            ));
        }
    }
    let host = host(&api)?;
    let mut compile_error = None;
    let report = leadorch_rules::run_fixture_source(&host, label, &req.fixture, &mut |name| {
        let (id, source, used) = &sources[name];
        host.compile(id, source).inspect_err(|e| {
            compile_error = Some((used.from == "sources", id.clone(), e.clone()));
        })
    });
    let report = match (report, compile_error) {
        (Ok(r), _) => r,
        (Err(_), Some((sent, id, e))) => {
            let field = if sent {
                format!("sources.{id}")
            } else {
                "fixture".to_string()
            };
            let whose = if sent {
                format!("the source of rule {id}")
            } else {
                format!("the saved rule {id}")
            };
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "does-not-compile",
                "Does not compile",
                format!(
                    "{whose} does not compile against the server's rules library: {}",
                    position_and_message(&e)
                ),
            )
            .field(field)
            .at(e.line, e.column));
        }
        (Err(e), None) => return Err(fixture_problem(e)),
    };
    let mut rules: Vec<FixtureRule> = Vec::new();
    for (_, (_, _, used)) in sources {
        if !rules.iter().any(|r| r.id == used.id) {
            rules.push(used);
        }
    }
    Ok(Json(FixtureAnswer {
        description: report.description.clone(),
        passed: report.passed(),
        rules,
        steps: report
            .outcomes
            .into_iter()
            .map(|o| FixtureStep {
                number: o.number,
                at: o.at,
                note: o.note,
                expected: o.expected,
                actual: o.accepted,
                suppressed: o.suppressed,
                failures: o.failures,
                matched: o.problems.is_empty(),
                problems: o.problems,
            })
            .collect(),
    }))
}

/// Compiles a saved version (`None`: the current one) of the caller's project's rule `id`
/// (bare), named bare as the daemon names it; a version that no longer compiles is `422`
/// naming `version` with its line and column.
async fn compile_version(
    api: &Api,
    host: &RuleHost,
    caller: &Caller,
    id: &str,
    version: Option<u32>,
) -> Result<std::sync::Arc<leadorch_evaluate::tick::LoadedRule>, Problem> {
    library::compile_saved(&api.engine, host, &scoped(&caller.project, id), version)
        .await
        .map_err(|e| match e {
            Error::Compile(error) => Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "no-longer-compiles",
                "No longer compiles",
                format!(
                    "this version of rule {id} no longer compiles against the server's rules library: {}",
                    position_and_message(&error)
                ),
            )
            .field("version")
            .at(error.line, error.column),
            other => refusal(other, id, "version"),
        })
}

fn triggers_of(t: &[leadorch_rules::Trigger]) -> Vec<String> {
    t.iter().map(|t| t.as_str().to_string()).collect()
}

/// What the server's rules library has, for an `import` of a module it does not.
fn library_hint(host: &RuleHost) -> String {
    if host.modules().is_empty() {
        " (this server's rules library folder has no modules: set rules_lib in its \
         configuration to a folder of *.rhai modules, or unset it for the built-in library)"
            .to_string()
    } else {
        format!(
            " (the server's rules library has {})",
            host.modules().join(", ")
        )
    }
}

/// A saved rule of the caller's project (`id` bare), else a `404` naming the id: another
/// project's rule of that id is not found either.
async fn saved(api: &Api, caller: &Caller, id: &str) -> Result<leadorch_domain::Rule, Problem> {
    library::saved_rule(&api.engine, &scoped(&caller.project, id))
        .await
        .map_err(|e| refusal(e, id, "id"))
}

/// The rules host over the configured library; a library that cannot be loaded is the
/// server's fault (logged, `500`).
fn host(api: &Api) -> Result<RuleHost, Problem> {
    api.settings.rule_host().map_err(|e| {
        tracing::error!("loading the rules library for a request: {e}");
        Problem::internal()
    })
}

/// Recorded as the caller's actor ([`Caller::actor`]: `api-key:<key id>`, or the local
/// operator's) with a trace id of its own, like every change over HTTP.
fn metadata(caller: &Caller) -> leadorch_store::Metadata {
    leadorch_store::Metadata {
        actor: caller.actor.clone(),
        trace_id: Some(uuid::Uuid::now_v7().to_string()),
        ..Default::default()
    }
}

fn no_rule(id: &str) -> Problem {
    Problem::not_found(format!(
        "no rule {id:?}: GET /v1/rules lists the saved rules of this key's project"
    ))
    .field("id")
}

/// "line 3, column 7: unexpected …" (a compile error without the rule's name, which the
/// request gave).
fn position_and_message(e: &leadorch_rules::CompileError) -> String {
    match (e.line, e.column) {
        (Some(l), Some(c)) => format!("line {l}, column {c}: {}", e.message),
        (Some(l), None) => format!("line {l}: {}", e.message),
        _ => e.message.clone(),
    }
}

/// `422` for a source that does not compile: field `source`, with its line and column.
fn does_not_compile(host: &RuleHost, e: &leadorch_rules::CompileError) -> Problem {
    let mut detail = format!(
        "the source does not compile: {}; nothing was recorded",
        position_and_message(e)
    );
    if e.message.starts_with("unknown module") {
        detail.push_str(&library_hint(host));
    }
    Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "does-not-compile",
        "Does not compile",
        detail,
    )
    .field("source")
    .at(e.line, e.column)
}

/// The problem for the rules library's error; `field` is what a missing or clashing thing is
/// (`id` for the rule, `version`, `from`, `to`).
fn refusal(e: Error, id: &str, field: &str) -> Problem {
    match e {
        // The rule itself is checked before any version is looked up: a missing rule is the
        // id's; what follows is the version's.
        Error::NotFound(_) if field == "id" => no_rule(id),
        Error::NotFound(detail) => Problem::not_found(detail).field(field),
        Error::Conflict(detail) => Problem::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            format!("{detail}; nothing was recorded"),
        )
        .field(field),
        // The domain refused: the rule changed while this request was answered (saved or
        // enabled twice at once), or it was deleted.
        Error::Engine(leadorch_core::Error::Rejected { message, .. }) => Problem::new(
            StatusCode::CONFLICT,
            "conflict",
            "Conflict",
            format!(
                "rule {id}: {message}; nothing more was recorded by this request: read it again (GET /v1/rules/{id}) and retry"
            ),
        )
        .field("id"),
        Error::Compile(error) => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "does-not-compile",
            "Does not compile",
            format!(
                "rule {id} does not compile: {}",
                position_and_message(&error)
            ),
        )
        .field(field)
        .at(error.line, error.column),
        Error::Input(detail) => Problem::invalid(field, detail),
        Error::Engine(e) => from_engine(&e),
        Error::Store(e) => Problem::from_store(&e),
        other => {
            tracing::error!("answering a rules request for {id}: {other}");
            Problem::internal()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_refuse_unknown_fields_naming_them() {
        let p =
            crate::body::parse::<SaveRequest>(br#"{"source": "1", "colour": "blue"}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("colour"), "{p:?}");
        let p = crate::body::parse::<SaveRequest>(br#"{"enable": true}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("source"), "{p:?}");
        let p = crate::body::parse::<RollbackRequest>(br#"{"version": "two"}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("version"), "{p:?}");
        let r: SaveRequest = crate::body::parse(br#"{"source": "1"}"#).expect("valid");
        assert!(!r.enable);
    }

    #[test]
    fn compile_errors_carry_their_line_and_column() {
        let host = RuleHost::new(None, leadorch_rules::Limits::default()).expect("a host");
        let e = host.compile("gate", "let x = ;\n").unwrap_err();
        let p = does_not_compile(&host, &e);
        assert_eq!(p.field.as_deref(), Some("source"));
        assert_eq!(p.line.map(|l| l.get()), Some(1), "{p:?}");
        assert!(p.column.is_some(), "{p:?}");
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(json["line"], 1);
        let e = host
            .compile("gate", "import \"pacing\" as p;\n1\n")
            .unwrap_err();
        assert!(
            does_not_compile(&host, &e)
                .detail
                .contains("rules library folder has no modules"),
            "{e}"
        );
    }
}
