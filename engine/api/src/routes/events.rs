//! The event log for readers (scope `read`): `GET /v1/events` (a window of the log, oldest
//! first after a position or newest first before one, filtered by type, stream, actor,
//! recorded time and event time), `GET /v1/events/count` (how many a filter matches: a filtered view's
//! length), `GET /v1/events/{position}` (one event; with `reveal=true` and scope `admin` its
//! personal fields opened, those of an erased subject marked `erased`) and `GET
//! /v1/events/stream` (the log as it grows, as server-sent events). Elsewhere personal fields
//! are always `null`: a person's own data is also read through their export
//! (`/v1/subjects/{id}/export`, scope `admin`). ADR 0040 says why windows, counts and details
//! are shaped as they are.
//!
//! A key sees its project's streams only. Leads, consents, data subjects, teams, capacity
//! readings, rules, evaluations and Google accounts carry their project in their ids
//! (`lead:acme/f-1`, `rule:acme/capacity_gate`); a campaign is the project's of the Google
//! account it was last read through (ADR 0030), and the simulated world is the `default`
//! project's. Which streams those are is a condition of the store's statements
//! ([`visibility`]), so windows and counts never hold another project's events. Stream ids
//! are shown as the key's project names them (`lead:f-1`); payloads hold ids as stored.
//!
//! The handlers are thin: [`window`], [`count_events`] and [`detail`] are what they call, for
//! the desktop to call in process.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use chrono::SecondsFormat;
use leadorch_store::codec::FieldState;
use leadorch_store::{Match, RecordedEvent, Reveal, Visibility, Window};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use ts_rs::TS;
use utoipa::{IntoParams, ToSchema};

use crate::auth::{scope, Scoped};
use crate::body::Params;
use crate::ids::unscoped;
use crate::keys::Scope;
use crate::{Api, Problem};

/// Largest log position (positions are stored as signed 64-bit integers).
pub const MAX_POSITION: u64 = i64::MAX as u64;

/// `Ok` for a log position the log can hold; a larger one would be read as a negative number
/// by the database, and so as "before everything".
pub(crate) fn check_position(field: &str, position: u64) -> Result<(), Problem> {
    if position > MAX_POSITION {
        return Err(Problem::invalid(
            field,
            format!("{field} is a log position, 0 to {MAX_POSITION}"),
        ));
    }
    Ok(())
}

/// Aggregate types whose ids carry their project (`<project>/<id>` outside `default`).
const SCOPED_TYPES: [&str; 9] = [
    "lead",
    "consent",
    "data_subject",
    "team",
    "capacity",
    "rule",
    "evaluation",
    "google_account",
    "capacity_source",
];

/// The project of each campaign the log knows, by campaign id: a campaign belongs to the
/// project of the Google account it was last read through (ADR 0030), and its stream is
/// that project's to see.
pub type CampaignOwners = std::collections::BTreeMap<String, String>;

/// [`CampaignOwners`] as of the log's head.
pub async fn campaign_owners(api: &Api) -> Result<CampaignOwners, Problem> {
    api.campaign_owners()
        .await
        .map_err(|e| crate::routes::leads::evaluate_problem(&e))
}

/// Whether campaign `id` is `project`'s (one not known is the default project's, as a
/// campaign not read from Google is).
fn owns(owners: &CampaignOwners, project: &str, id: &str) -> bool {
    owners
        .get(id)
        .map_or(project == crate::ids::DEFAULT_PROJECT, |p| p == project)
}

/// Most events one page holds.
pub const MAX_LIMIT: u64 = 1000;

/// The stream id as `project` names it, when the stream is that project's.
pub fn visible_stream(project: &str, stream: &str, owners: &CampaignOwners) -> Option<String> {
    match stream.split_once(':') {
        Some((kind, id)) if SCOPED_TYPES.contains(&kind) => {
            unscoped(project, id).map(|bare| format!("{kind}:{bare}"))
        }
        Some(("campaign", id)) => owns(owners, project, id).then(|| stream.to_string()),
        _ => (project == crate::ids::DEFAULT_PROJECT).then(|| stream.to_string()),
    }
}

/// The stored id of a stream the caller names.
fn stored_stream(project: &str, stream: &str, owners: &CampaignOwners) -> Option<String> {
    match stream.split_once(':') {
        Some((kind, id)) if SCOPED_TYPES.contains(&kind) => {
            Some(format!("{kind}:{}", crate::ids::scoped(project, id)))
        }
        Some(("campaign", id)) => owns(owners, project, id).then(|| stream.to_string()),
        _ => (project == crate::ids::DEFAULT_PROJECT).then(|| stream.to_string()),
    }
}

/// Which events, and which window of them.
#[derive(Debug, Default, Deserialize, IntoParams, TS)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events after this log position [default: 0, the start]. Without `before`, the
    /// page is the oldest matching events after it, oldest first.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: Option<u64>,
    /// Only events before this log position, and the page is the newest of them, newest
    /// first: `before` = the head + 1 is the end of the log in one request.
    #[param(minimum = 0, maximum = 9223372036854775807_i64, example = 1000001)]
    pub before: Option<u64>,
    /// At most this many (1 to 1000) [default: 100].
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Only this event type (`LeadReceived`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only this stream (`lead:f-1029`, `capacity:sales-nl`).
    pub stream: Option<String>,
    /// Only events written by this actor, exactly as events show it (`daemon`,
    /// `api-key:key_…`, `cli:alice`; at most 512 characters).
    #[param(example = "daemon", max_length = 512)]
    pub actor: Option<String>,
    /// Only events recorded at or after this time (RFC 3339). Recorded time is when the log
    /// stored the event, not the event's own `at` (its event time: `event_from`, `event_to`).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-01T00:00:00Z")]
    pub from: Option<String>,
    /// Only events recorded before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime, example = "2026-12-02T00:00:00Z")]
    pub to: Option<String>,
    /// Only events whose own time (`data.<type>.at`, when it happened) is at or after this
    /// time: RFC 3339, or a date (`2026-12-01`, midnight UTC). Events without an `at` never
    /// match. Checked row by row, with no index: see the endpoint's cost (ADR 0040).
    #[param(value_type = Option<String>, example = "2026-12-01T00:00:00Z")]
    pub event_from: Option<String>,
    /// Only events whose own time is before this time (RFC 3339, or a date).
    #[param(value_type = Option<String>, example = "2026-12-02")]
    pub event_to: Option<String>,
}

/// Which events to follow.
#[derive(Debug, Default, Deserialize, IntoParams, TS)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Only events after this log position [default: 0, the start].
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: Option<u64>,
    /// Accepted for compatibility (1 to 1000); the stream sends every event.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Only this event type (`LeadReceived`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only this stream (`lead:f-1029`, `capacity:sales-nl`).
    pub stream: Option<String>,
    /// Only events written by this actor (at most 512 characters).
    #[param(max_length = 512)]
    pub actor: Option<String>,
}

/// Which events to count (the filters of `GET /v1/events`).
#[derive(Debug, Default, Deserialize, IntoParams, TS)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CountQuery {
    /// Only events after this log position [default: 0].
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: Option<u64>,
    /// Only events before this log position.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub before: Option<u64>,
    /// Only this event type (`LeadReceived`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only this stream (`lead:f-1029`).
    pub stream: Option<String>,
    /// Only events written by this actor (at most 512 characters).
    #[param(max_length = 512)]
    pub actor: Option<String>,
    /// Only events recorded at or after this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// Only events recorded before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<String>,
    /// Only events whose own time (`data.<type>.at`) is at or after this time (RFC 3339, or a
    /// date: midnight UTC). Events without an `at` never match.
    #[param(value_type = Option<String>)]
    pub event_from: Option<String>,
    /// Only events whose own time is before this time (RFC 3339, or a date).
    #[param(value_type = Option<String>)]
    pub event_to: Option<String>,
}

/// Which event (documents the path; the handler reads it as text, so that a wrong one is a
/// problem naming `position`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct EventPosition {
    /// The event's log position.
    #[param(minimum = 1, maximum = 9223372036854775807_i64)]
    position: u64,
}

/// One event, and with `reveal` its personal fields.
#[derive(Debug, Default, Deserialize, IntoParams, TS)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DetailQuery {
    /// Open the event's personal fields (needs the `admin` scope) [default: false].
    pub reveal: Option<bool>,
}

/// One server-sent event of `GET /v1/events/stream`, field by field as `text/event-stream`
/// carries it (OpenAPI 3.1 describes a stream by the schema of each of its events).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documents the stream; the handler writes axum's `Event`s
pub struct StreamedEvent {
    /// The event's log position: send the last one seen as `Last-Event-ID` to resume after it
    /// (absent on an `error` event).
    #[schema(example = "42")]
    id: Option<String>,
    /// The event's type (`LeadReceived`), or `error` when reading the log failed: the stream
    /// then ends, and `data` is a problem (RFC 9457).
    #[schema(example = "LeadReceived")]
    event: String,
    /// The event as one line of JSON (an `EventView`: position, stream, type, data, hash, …),
    /// or the problem of an `error` event.
    data: String,
}

/// One event of the log.
#[derive(Clone, Debug, Serialize, ToSchema, TS)]
pub struct EventView {
    /// Its log position (1-based, gap-free across all projects).
    pub position: u64,
    /// Its stream, as the key's project names it.
    pub stream: String,
    /// Its version within the stream.
    pub stream_version: u64,
    /// Its id.
    pub event_id: String,
    /// Its type (`LeadReceived`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// Its schema version (`1.1`).
    pub schema_version: String,
    /// When the log recorded it (RFC 3339, µs).
    pub recorded_at: String,
    /// Who or what wrote it (`api-key:…`, `daemon`, `cli:…`).
    pub actor: String,
    /// The trace id of the request that wrote it, when one did.
    pub trace_id: Option<String>,
    /// The event, personal fields `null`.
    #[schema(value_type = Object)]
    pub data: Value,
    /// Its hash in the chain (hex).
    pub hash: String,
}

/// The list's view of `rec` (its stream named `stream`), `data` left `null`.
fn event_view(rec: &RecordedEvent, stream: String) -> EventView {
    let meta = rec.metadata();
    EventView {
        position: rec.position,
        stream,
        stream_version: rec.stream_version,
        event_id: rec.event_id.to_string(),
        event_type: rec.event_type.clone(),
        schema_version: rec.schema_version.clone(),
        recorded_at: rec
            .recorded_at_utc()
            .to_rfc3339_opts(SecondsFormat::Micros, true),
        actor: meta.actor,
        trace_id: meta.trace_id,
        data: Value::Null,
        hash: rec.hash.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

async fn view(
    decoder: &mut leadorch_store::codec::Decoder<'_>,
    rec: &RecordedEvent,
    stream: String,
) -> Result<EventView, Problem> {
    let data = decoder
        .payload(rec)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let mut v = event_view(rec, stream);
    v.data = data;
    Ok(v)
}

/// Most positions one window request walks when no index narrows its filter (no `type`, no
/// `stream`): the actor and which streams a project sees are checked row by row. A window
/// that walked this far without filling its page ends there, with `next` to continue.
pub const SPAN: u64 = 200_000;

/// Most positions one count walks when no index narrows its filter; a longer range is
/// counted over its newest `COUNT_SPAN` positions and said to be a lower bound.
pub const COUNT_SPAN: u64 = 2_000_000;

/// The streams `project` sees, as the store's [`Visibility`]: the default project sees every
/// stream but other projects' (scoped ids with a `/`, campaigns of their Google accounts);
/// another project its own scoped ids and its campaigns.
pub fn visibility(project: &str, owners: &CampaignOwners) -> Visibility {
    let campaigns = |mine: bool| {
        owners
            .iter()
            .filter(|(_, p)| (p.as_str() == project) == mine)
            .map(|(id, _)| format!("campaign:{id}"))
            .collect::<Vec<_>>()
    };
    if project == crate::ids::DEFAULT_PROJECT {
        Visibility::Except {
            kinds: SCOPED_TYPES.iter().map(|k| k.to_string()).collect(),
            streams: campaigns(false),
        }
    } else {
        Visibility::Only {
            prefixes: SCOPED_TYPES
                .iter()
                .map(|k| format!("{k}:{project}/"))
                .collect(),
            streams: campaigns(true),
        }
    }
}

/// A window of the log, as `GET /v1/events` answers it.
#[derive(Debug, Serialize, ToSchema, TS)]
#[schema(example = json!({
    "items": [],
    "next": "999901",
    "head": 1000000,
    "order": "newest_first"
}))]
pub struct EventWindow {
    /// The events, in `order`.
    pub items: Vec<EventView>,
    /// Where the next window in the same direction starts: pass it as `after` (oldest first)
    /// or `before` (newest first) with the same filters. `null`: nothing more that way (oldest
    /// first: at the head as it was when this was read). A window may hold fewer events than
    /// `limit`, even none, and still have a `next`: the matching events are sparse and the
    /// request walked as far as it may (ADR 0040).
    pub next: Option<String>,
    /// The log's head (its last position) when this was read. Positions have no gaps, so an
    /// unfiltered window of the default project knows the log's length from it; for another
    /// project, or with filters, `GET /v1/events/count` says how many match.
    pub head: u64,
    /// `oldest_first` (no `before`) or `newest_first`.
    #[schema(example = "oldest_first")]
    pub order: &'static str,
}

/// A filter and window the caller asked for, checked.
#[derive(Clone, Debug)]
pub struct Checked {
    after: u64,
    before: Option<u64>,
    limit: u64,
    filter: Match,
}

/// An event-time bound: RFC 3339, or a date (`2026-12-01`) meaning its midnight UTC.
fn parse_time_or_date(field: &str, text: &str) -> Result<i64, Problem> {
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        if let Some(t) = day.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| {
            Problem::invalid(
                field,
                format!(
                    "{field} is an RFC 3339 time (2026-12-01T10:00:00Z) or a date (2026-12-01): {e}"
                ),
            )
        })
}

fn parse_rfc3339(field: &str, text: &str) -> Result<i64, Problem> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_micros())
        .map_err(|e| {
            Problem::invalid(
                field,
                format!("{field} is an RFC 3339 time (2026-12-01T10:00:00Z): {e}"),
            )
        })
}

#[allow(clippy::too_many_arguments)]
fn check_filter(
    caller_project: &str,
    owners: &CampaignOwners,
    after: Option<u64>,
    before: Option<u64>,
    event_type: Option<String>,
    stream: Option<String>,
    actor: Option<String>,
    from: Option<String>,
    to: Option<String>,
    event_from: Option<String>,
    event_to: Option<String>,
) -> Result<(u64, Option<u64>, Match), Problem> {
    let after = after.unwrap_or(0);
    check_position("after", after)?;
    if let Some(b) = before {
        check_position("before", b)?;
    }
    if let Some(t) = &event_type {
        let known = leadorch_domain::AGGREGATE_TYPES
            .iter()
            .filter_map(|a| leadorch_domain::event_types(a))
            .any(|types| types.iter().any(|(name, _)| name == t));
        if !known {
            return Err(Problem::invalid(
                "type",
                format!("{t:?} is not an event type (they are named like LeadReceived)"),
            ));
        }
    }
    let stream = match &stream {
        None => None,
        Some(s) => Some(
            stored_stream(caller_project, s, owners)
                .ok_or_else(|| Problem::not_found(format!("no stream {s} in this project")))?,
        ),
    };
    if actor.as_ref().is_some_and(|a| a.chars().count() > 512) {
        return Err(Problem::invalid("actor", "actor is at most 512 characters"));
    }
    let recorded_from = from
        .as_deref()
        .map(|t| parse_rfc3339("from", t))
        .transpose()?;
    let recorded_to = to.as_deref().map(|t| parse_rfc3339("to", t)).transpose()?;
    let event_from = event_from
        .as_deref()
        .map(|t| parse_time_or_date("event_from", t))
        .transpose()?;
    let event_to = event_to
        .as_deref()
        .map(|t| parse_time_or_date("event_to", t))
        .transpose()?;
    Ok((
        after,
        before,
        Match {
            event_type,
            stream,
            actor,
            recorded_from,
            recorded_to,
            event_from,
            event_to,
            visibility: visibility(caller_project, owners),
        },
    ))
}

/// Checks `q` for `caller_project` (its streams named as the project names them).
pub fn check(
    caller_project: &str,
    q: EventQuery,
    owners: &CampaignOwners,
) -> Result<Checked, Problem> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::invalid(
            "limit",
            format!("limit is 1 to {MAX_LIMIT}, not {limit}"),
        ));
    }
    let (after, before, filter) = check_filter(
        caller_project,
        owners,
        q.after,
        q.before,
        q.event_type,
        q.stream,
        q.actor,
        q.from,
        q.to,
        q.event_from,
        q.event_to,
    )?;
    Ok(Checked {
        after,
        before,
        limit,
        filter,
    })
}

/// The positions `(after, until]` a request reads: `after` and `before` (up to the `head`)
/// narrowed to the recorded-time range, which becomes positions here (recorded time never
/// decreases with position), so the walk bounds apply to the range's own positions. The
/// filter comes back without its times.
async fn position_range(
    api: &Api,
    after: u64,
    before: Option<u64>,
    head: u64,
    filter: &Match,
) -> Result<(u64, u64, Match), Problem> {
    let (floor, ceiling) = api
        .engine
        .store
        .log
        .recorded_bounds(filter)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let until = [before, ceiling]
        .into_iter()
        .flatten()
        .map(|b| b.saturating_sub(1))
        .fold(head, u64::min);
    let filter = Match {
        recorded_from: None,
        recorded_to: None,
        ..filter.clone()
    };
    Ok((after.max(floor).min(until), until, filter))
}

/// Whether an index narrows `filter` enough for one statement to walk the whole log: a
/// stream (few events), or a type without event time. Event time parses every row the index
/// gives, some µs each, and one type can hold most of the log (`LeadReceived`), so a type
/// with event time is walked within the bounds of the unindexed filters.
fn indexed(filter: &Match) -> bool {
    let event_time = filter.event_from.is_some() || filter.event_to.is_some();
    filter.stream.is_some() || (filter.event_type.is_some() && !event_time)
}

/// The window `c` asks for, read from the log: what `GET /v1/events` answers (and what the
/// desktop calls in process).
pub async fn window(api: &Api, project: &str, c: &Checked) -> Result<EventWindow, Problem> {
    let (items, next, head) = read_window(api, project, c).await?;
    Ok(EventWindow {
        items,
        next: next.map(|p| p.to_string()),
        head,
        order: if c.before.is_some() {
            "newest_first"
        } else {
            "oldest_first"
        },
    })
}

/// The events of window `c`, where the next one starts, and the head.
async fn read_window(
    api: &Api,
    project: &str,
    c: &Checked,
) -> Result<(Vec<EventView>, Option<u64>, u64), Problem> {
    let store = &api.engine.store;
    let head = store
        .log
        .head()
        .await
        .map_err(|e| Problem::from_store(&e))?
        .position;
    let newest_first = c.before.is_some();
    let (after, top, filter) = position_range(api, c.after, c.before, head, &c.filter).await?;
    // The positions this request may walk: (low, high].
    let (low, high) = if indexed(&filter) {
        (after, top)
    } else if newest_first {
        (top.saturating_sub(SPAN).max(after), top)
    } else {
        (after, after.saturating_add(SPAN).min(top))
    };
    let rows = if high > low {
        store
            .log
            .window(&Window {
                after: low,
                before: Some(high + 1),
                newest_first,
                limit: c.limit,
                filter,
            })
            .await
            .map_err(|e| Problem::from_store(&e))?
    } else {
        Vec::new()
    };
    let owners = campaign_owners(api).await?;
    let mut decoder = store.codec.decoder(Reveal::Redact);
    let mut items = Vec::with_capacity(rows.len());
    for rec in &rows {
        // The store's condition and `visible_stream` say the same; this names the stream.
        if let Some(name) = visible_stream(project, &rec.stream_id, &owners) {
            items.push(view(&mut decoder, rec, name).await?);
        }
    }
    let next = if rows.len() as u64 == c.limit {
        rows.last().map(|r| r.position)
    } else if newest_first {
        // Walked down to low: continue below it, unless that is where the range ends.
        (low > after).then_some(low + 1)
    } else {
        (high < top).then_some(high)
    };
    Ok((items, next, head))
}

/// A window of the log: the oldest events after `after`, or with `before` the newest before
/// it (newest first), filtered by type, stream, actor, recorded time and event time.
///
/// Cost: a window is one indexed statement when `stream`, or `type` without event time, is
/// given; otherwise (the actor, event time, and which streams a project sees, are checked row
/// by row) it walks at most 200,000 positions and may come back short with a `next` to go on
/// from. On a
/// 1,000,000-event SQLite log a window takes a few milliseconds (docs/BENCHMARKS.md). Event
/// time (`event_from`, `event_to`) parses each walked row's payload, some µs a row: a sparse
/// event-time window walking all 200,000 positions takes about a second.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    params(EventQuery),
    responses(
        (status = 200, description = "A window of events; `next` continues in the same direction, `head` is the log's last position", body = EventWindow),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream in this project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Params(q): Params<EventQuery>,
) -> Result<Json<EventWindow>, Problem> {
    let c = check(&caller.project, q, &campaign_owners(&api).await?)?;
    window(&api, &caller.project, &c).await.map(Json)
}

/// How many events a filter matches.
#[derive(Debug, Serialize, serde::Deserialize, ToSchema, TS)]
#[schema(example = json!({"count": 48211, "exact": true, "head": 1000000, "counted_after": 0}))]
pub struct EventCount {
    /// Matching events the caller's project sees, at positions after `counted_after` (up to
    /// `before` and the head).
    pub count: u64,
    /// `true`: every position of the range asked for was counted. `false`: no index narrowed
    /// the filter (no `stream`, and no `type` or a `type` with event time) and the range was
    /// longer than 2,000,000 positions, so only its newest 2,000,000 were counted — `count` is
    /// a lower bound.
    pub exact: bool,
    /// The log's head (its last position) when this was counted.
    pub head: u64,
    /// The count starts after this position (`after`, or where a range too long to count
    /// whole was cut).
    pub counted_after: u64,
}

/// What `GET /v1/events/count` answers (and what the desktop calls in process).
pub async fn count_events(api: &Api, project: &str, q: CountQuery) -> Result<EventCount, Problem> {
    let owners = campaign_owners(api).await?;
    let (after, before, filter) = check_filter(
        project,
        &owners,
        q.after,
        q.before,
        q.event_type,
        q.stream,
        q.actor,
        q.from,
        q.to,
        q.event_from,
        q.event_to,
    )?;
    let log = &api.engine.store.log;
    let head = log
        .head()
        .await
        .map_err(|e| Problem::from_store(&e))?
        .position;
    let (after, until, filter) = position_range(api, after, before, head, &filter).await?;
    let from = if indexed(&filter) {
        after
    } else {
        after.max(until.saturating_sub(COUNT_SPAN))
    };
    let count = log
        .count(&filter, from, until)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    Ok(EventCount {
        count,
        exact: from == after,
        head,
        counted_after: from,
    })
}

/// How many events the caller's project sees that match the filters of `GET /v1/events`:
/// the length of a filtered view.
///
/// Cost: with `stream`, or `type` without event time, an index count; otherwise every
/// position of the range is checked (the actor, event time, the project's streams), at most
/// the newest 2,000,000 positions of it (`exact: false` beyond). Figures on a 1,000,000-event
/// log: docs/BENCHMARKS.md. Event time parses the payload of every position counted: about
/// ten seconds for 2,000,000 of them.
#[utoipa::path(get, path = "/v1/events/count", tag = "events",
    params(CountQuery),
    responses(
        (status = 200, description = "The count", body = EventCount),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such stream in this project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn count(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Params(q): Params<CountQuery>,
) -> Result<Json<EventCount>, Problem> {
    count_events(&api, &caller.project, q).await.map(Json)
}

/// A personal field of an event and what the reader sees of it.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct PersonalField {
    /// Where it is in `data` (JSON pointer).
    #[schema(example = "/email")]
    pub field: String,
    /// The data subject it belongs to (`GET /v1/subjects/{subject_id}/export`).
    pub subject_id: String,
    /// The purpose of its key (`lead`, `google_ads`, `staff`, …).
    #[schema(example = "lead")]
    pub purpose: String,
    /// `revealed` (its value is in `data`), `erased` (its key was destroyed: the subject was
    /// erased, the account forgotten or the retention window passed; `null` in `data` for
    /// good) or `hidden` (not asked to reveal: `null` in `data`).
    #[schema(example = "revealed")]
    pub state: &'static str,
}

/// One event in detail.
#[derive(Debug, Serialize, ToSchema, TS)]
pub struct EventDetail {
    /// The event as `GET /v1/events` shows it; with `reveal`, its personal fields opened
    /// (those whose key is gone stay `null`).
    #[serde(flatten)]
    pub event: EventView,
    /// Whether personal fields were opened (`reveal=true`).
    pub revealed: bool,
    /// Whether any personal field of it was erased (its key destroyed). Known only when
    /// revealing (`false` otherwise).
    pub erased: bool,
    /// Its personal fields, in payload order (empty: it has none).
    pub personal: Vec<PersonalField>,
}

/// What `GET /v1/events/{position}` answers (and what the desktop calls in process):
/// `reveal` must only be set for a caller allowed to see personal data.
pub async fn detail(
    api: &Api,
    project: &str,
    position: u64,
    reveal: bool,
) -> Result<EventDetail, Problem> {
    let missing = || Problem::not_found(format!("no event at position {position} in this project"));
    let owners = campaign_owners(api).await?;
    let store = &api.engine.store;
    let rec = store
        .log
        .event_at(position, &visibility(project, &owners))
        .await
        .map_err(|e| Problem::from_store(&e))?
        .ok_or_else(missing)?;
    let name = visible_stream(project, &rec.stream_id, &owners).ok_or_else(missing)?;
    let mut decoder = store.codec.decoder(if reveal {
        Reveal::Decrypt
    } else {
        Reveal::Redact
    });
    let (data, fields) = decoder
        .payload_with_fields(&rec)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let personal: Vec<PersonalField> = fields
        .into_iter()
        .map(|f| PersonalField {
            field: f.pointer,
            subject_id: crate::ids::bare(project, &f.subject),
            purpose: f.purpose.as_str().to_string(),
            state: match f.state {
                FieldState::Opened => "revealed",
                FieldState::Erased => "erased",
                FieldState::Redacted => "hidden",
            },
        })
        .collect();
    let mut event = event_view(&rec, name);
    event.data = data;
    Ok(EventDetail {
        event,
        revealed: reveal,
        erased: personal.iter().any(|f| f.state == "erased"),
        personal,
    })
}

/// One event of the caller's project: as the list shows it, or with `reveal=true` (scope
/// `admin`) with its personal fields opened. A field whose key was destroyed (the subject
/// erased) stays `null` and is marked `erased` — never an error, never the ciphertext.
#[utoipa::path(get, path = "/v1/events/{position}", tag = "events",
    params(EventPosition, DetailQuery),
    responses(
        (status = 200, description = "The event", body = EventDetail),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope, or reveal=true without the admin scope", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No event at that position in this project", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn one(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    Path(position): Path<String>,
    Params(q): Params<DetailQuery>,
) -> Result<Json<EventDetail>, Problem> {
    let reveal = q.reveal.unwrap_or(false);
    if reveal {
        caller.need(Scope::Admin)?;
    }
    let position: u64 = position
        .parse()
        .ok()
        .filter(|p| (1..=MAX_POSITION).contains(p))
        .ok_or_else(|| {
            Problem::invalid(
                "position",
                format!("position is a log position, 1 to {MAX_POSITION}"),
            )
        })?;
    detail(&api, &caller.project, position, reveal)
        .await
        .map(Json)
}

/// The log as it grows: every event after `after` (or the `Last-Event-ID` a reconnecting
/// client sends), then each new one as it is committed, as server-sent events (`id` the
/// position, `event` the type, `data` the event as `/v1/events` shows it).
#[utoipa::path(get, path = "/v1/events/stream", tag = "events",
    params(StreamQuery, ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this position (overrides after)")),
    responses(
        (status = 200, description = "The events as they are recorded, each a server-sent event whose data is an EventView as JSON; comments keep the connection alive", content_type = "text/event-stream", body = StreamedEvent),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn stream(
    State(api): State<Api>,
    caller: Scoped<scope::Read>,
    headers: HeaderMap,
    Params(q): Params<StreamQuery>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, Problem> {
    let q = EventQuery {
        after: q.after,
        limit: q.limit,
        event_type: q.event_type,
        stream: q.stream,
        actor: q.actor,
        ..Default::default()
    };
    let mut c = check(&caller.project, q, &campaign_owners(&api).await?)?;
    c.limit = 100;
    if let Some(v) = headers.get("last-event-id") {
        c.after = v
            .to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| {
                Problem::invalid("Last-Event-ID", "Last-Event-ID is a log position (digits)")
            })?;
        check_position("Last-Event-ID", c.after)?;
    }
    let head = api.engine.store.log.watch_head();
    let closing = api.closing();
    let state = Tail {
        api,
        project: caller.0.project,
        window: c,
        buffer: VecDeque::new(),
        head,
        closing,
        failed: false,
    };
    let events = futures::stream::unfold(state, |mut t| async move {
        loop {
            if t.failed || *t.closing.borrow() {
                return None;
            }
            if let Some(e) = t.buffer.pop_front() {
                let data = serde_json::to_string(&e).unwrap_or_default();
                let event = Event::default()
                    .id(e.position.to_string())
                    .event(e.event_type.clone())
                    .data(data);
                return Some((Ok(event), t));
            }
            match read_window(&t.api, &t.project, &t.window).await {
                Ok((items, next, _)) => {
                    if let Some(last) = items.last() {
                        t.window.after = last.position;
                    }
                    let caught_up = next.is_none();
                    if let Some(next) = next {
                        t.window.after = t.window.after.max(next);
                    }
                    t.buffer.extend(items);
                    if t.buffer.is_empty() && caught_up {
                        // Wait for a commit (this process's, or another's via LISTEN on
                        // PostgreSQL); look again every 2 s for writers it cannot hear (another
                        // process on the same SQLite file).
                        let wait = tokio::time::timeout(Duration::from_secs(2), t.head.changed());
                        tokio::select! {
                            _ = wait => {}
                            _ = t.closing.wait_for(|c| *c) => return None,
                        }
                    }
                }
                Err(p) => {
                    t.failed = true;
                    let event = Event::default()
                        .event("error")
                        .data(serde_json::to_string(&p).unwrap_or_default());
                    return Some((Ok(event), t));
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}

struct Tail {
    api: Api,
    project: String,
    window: Checked,
    buffer: VecDeque<EventView>,
    head: tokio::sync::watch::Receiver<u64>,
    closing: tokio::sync::watch::Receiver<bool>,
    failed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_with_event_time_is_walked_within_bounds_a_stream_whole() {
        let ty = Match {
            event_type: Some("LeadReceived".into()),
            ..Default::default()
        };
        assert!(indexed(&ty));
        let timed = |m: &Match| Match {
            event_from: Some(0),
            ..m.clone()
        };
        assert!(!indexed(&timed(&ty)), "one type may be most of the log");
        let stream = Match {
            stream: Some("lead:f-1".into()),
            ..Default::default()
        };
        assert!(indexed(&timed(&stream)));
        let until = Match {
            event_to: Some(0),
            ..ty
        };
        assert!(!indexed(&until));
        assert!(!indexed(&timed(&Match::default())));
    }

    #[test]
    fn projects_see_their_own_streams() {
        let owners: CampaignOwners = [
            ("1234567890/1".to_string(), "default".to_string()),
            ("1234567890/2".to_string(), "acme".to_string()),
        ]
        .into();
        let visible = |project: &str, stream: &str| visible_stream(project, stream, &owners);
        assert_eq!(visible("default", "lead:f-1").as_deref(), Some("lead:f-1"));
        assert_eq!(visible("default", "lead:acme/f-1"), None);
        assert_eq!(
            visible("acme", "lead:acme/f-1").as_deref(),
            Some("lead:f-1")
        );
        assert_eq!(visible("acme", "lead:f-1"), None);
        assert_eq!(
            visible("default", "campaign:1234567890/1").as_deref(),
            Some("campaign:1234567890/1")
        );
        assert_eq!(visible("acme", "campaign:1234567890/1"), None);
        assert_eq!(
            visible("acme", "campaign:1234567890/2").as_deref(),
            Some("campaign:1234567890/2")
        );
        assert_eq!(visible("default", "campaign:1234567890/2"), None);
        assert_eq!(
            visible("default", "campaign:9/9").as_deref(),
            Some("campaign:9/9")
        );
        assert_eq!(visible("acme", "campaign:9/9"), None);
        for kind in ["rule", "evaluation", "google_account"] {
            assert_eq!(
                visible("acme", &format!("{kind}:acme/x")),
                Some(format!("{kind}:x"))
            );
            assert_eq!(visible("default", &format!("{kind}:acme/x")), None);
            assert_eq!(visible("acme", &format!("{kind}:x")), None);
        }
        assert_eq!(visible("acme", "world:sim"), None);
        assert_eq!(
            stored_stream("acme", "capacity:sales-nl", &owners).as_deref(),
            Some("capacity:acme/sales-nl")
        );
        assert_eq!(
            stored_stream("acme", "rule:pause", &owners).as_deref(),
            Some("rule:acme/pause")
        );
        assert_eq!(
            stored_stream("acme", "campaign:1234567890/1", &owners),
            None
        );
        assert_eq!(
            stored_stream("acme", "campaign:1234567890/2", &owners).as_deref(),
            Some("campaign:1234567890/2")
        );
    }
}
