//! `GET /v1/events` (a page of the log) and `GET /v1/events/stream` (the log as it grows, as
//! server-sent events), scope `read`. Personal fields are always `null` here: a person's own
//! data is read through their export (`/v1/subjects/{id}/export`, scope `admin`).
//!
//! A key sees its project's streams only. Leads, consents, data subjects, teams, capacity
//! readings, rules, evaluations and Google accounts carry their project in their ids
//! (`lead:acme/f-1`, `rule:acme/capacity_gate`); a campaign is the project's of the Google
//! account it was last read through (ADR 0030), and the simulated world is the `default`
//! project's. Stream ids are shown as the key's project names them (`lead:f-1`); payloads
//! hold ids as stored.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Json;
use chrono::SecondsFormat;
use leadorch_store::{EventFilter, RecordedEvent, Reveal};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::body::Params;
use crate::ids::unscoped;
use crate::keys::Scope;
use crate::routes::Page;
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
    let facts = api
        .facts()
        .await
        .map_err(|e| crate::routes::leads::evaluate_problem(&e))?;
    Ok(facts
        .campaigns
        .iter()
        .map(|(id, entry)| (id.clone(), entry.project().to_string()))
        .collect())
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

/// Most events read from the log to fill one page of another project's events.
const SCAN: u64 = 10_000;

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

/// Which events.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events after this log position [default: 0, the start].
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub after: Option<u64>,
    /// At most this many (1 to 1000) [default: 100].
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u64>,
    /// Only this event type (`LeadReceived`).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Only this stream (`lead:f-1029`, `capacity:sales-nl`).
    pub stream: Option<String>,
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
#[derive(Clone, Debug, Serialize, ToSchema)]
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

async fn view(
    decoder: &mut leadorch_store::codec::Decoder<'_>,
    rec: &RecordedEvent,
    stream: String,
) -> Result<EventView, Problem> {
    let data = decoder
        .payload(rec)
        .await
        .map_err(|e| Problem::from_store(&e))?;
    let meta = rec.metadata();
    Ok(EventView {
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
        data,
        hash: rec.hash.iter().map(|b| format!("{b:02x}")).collect(),
    })
}

/// Reads events after `after` that the project sees, up to `limit`; returns them and the
/// position the next read starts after (the last one scanned), or `None` at the head.
async fn read(
    api: &Api,
    project: &str,
    after: u64,
    limit: u64,
    event_type: Option<&str>,
    stream: Option<&str>,
) -> Result<(Vec<EventView>, Option<u64>), Problem> {
    let store = &api.engine.store;
    let mut decoder = store.codec.decoder(Reveal::Redact);
    let mut items = Vec::new();
    let mut position = after;
    let mut scanned = 0;
    let owners = campaign_owners(api).await?;
    loop {
        let want = (limit - items.len() as u64).max(if project == "default" { 0 } else { 500 });
        let page = store
            .log
            .list(&EventFilter {
                stream: stream.map(str::to_string),
                event_type: event_type.map(str::to_string),
                after: position,
                until: None,
                limit: Some(want.max(1)),
            })
            .await
            .map_err(|e| Problem::from_store(&e))?;
        let full = page.len() as u64 == want.max(1);
        for rec in &page {
            position = rec.position;
            scanned += 1;
            if let Some(name) = visible_stream(project, &rec.stream_id, &owners) {
                items.push(view(&mut decoder, rec, name).await?);
                if items.len() as u64 == limit {
                    return Ok((items, Some(position)));
                }
            }
        }
        if !full {
            return Ok((items, None));
        }
        if scanned >= SCAN {
            return Ok((items, Some(position)));
        }
    }
}

struct Checked {
    after: u64,
    limit: u64,
    event_type: Option<String>,
    stream: Option<String>,
}

fn check(caller: &Caller, q: EventQuery, owners: &CampaignOwners) -> Result<Checked, Problem> {
    let after = q.after.unwrap_or(0);
    check_position("after", after)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::invalid(
            "limit",
            format!("limit is 1 to {MAX_LIMIT}, not {limit}"),
        ));
    }
    if let Some(t) = &q.event_type {
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
    let stream = match &q.stream {
        None => None,
        Some(s) => Some(
            stored_stream(&caller.project, s, owners)
                .ok_or_else(|| Problem::not_found(format!("no stream {s} in this project")))?,
        ),
    };
    Ok(Checked {
        after,
        limit,
        event_type: q.event_type,
        stream,
    })
}

/// A page of the log, in order.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    params(EventQuery),
    responses(
        (status = 200, description = "Events after `after`; `next` is the `after` of the next page (`null`: at the head now)", body = Page<EventView>),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Caller,
    Params(q): Params<EventQuery>,
) -> Result<Json<Page<EventView>>, Problem> {
    caller.need(Scope::Read)?;
    let c = check(&caller, q, &campaign_owners(&api).await?)?;
    let (items, next) = read(
        &api,
        &caller.project,
        c.after,
        c.limit,
        c.event_type.as_deref(),
        c.stream.as_deref(),
    )
    .await?;
    Ok(Json(Page {
        items,
        next: next.map(|p| p.to_string()),
    }))
}

/// The log as it grows: every event after `after` (or the `Last-Event-ID` a reconnecting
/// client sends), then each new one as it is committed, as server-sent events (`id` the
/// position, `event` the type, `data` the event as `/v1/events` shows it).
#[utoipa::path(get, path = "/v1/events/stream", tag = "events",
    params(EventQuery, ("Last-Event-ID" = Option<u64>, Header, description = "Resume after this position (overrides after)")),
    responses(
        (status = 200, description = "The events as they are recorded, each a server-sent event whose data is an EventView as JSON; comments keep the connection alive", content_type = "text/event-stream", body = StreamedEvent),
        (status = 401, description = "No working key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The key lacks the read scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A parameter is wrong", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = [])))]
pub async fn stream(
    State(api): State<Api>,
    caller: Caller,
    headers: HeaderMap,
    Params(q): Params<EventQuery>,
) -> Result<Sse<impl futures::Stream<Item = Result<Event, Infallible>>>, Problem> {
    caller.need(Scope::Read)?;
    let mut c = check(&caller, q, &campaign_owners(&api).await?)?;
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
        project: caller.project,
        after: c.after,
        event_type: c.event_type,
        stream: c.stream,
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
            match read(
                &t.api,
                &t.project,
                t.after,
                100,
                t.event_type.as_deref(),
                t.stream.as_deref(),
            )
            .await
            {
                Ok((items, next)) => {
                    if let Some(last) = items.last() {
                        t.after = last.position;
                    }
                    let caught_up = next.is_none();
                    if let Some(next) = next {
                        t.after = t.after.max(next);
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
    after: u64,
    event_type: Option<String>,
    stream: Option<String>,
    buffer: VecDeque<EventView>,
    head: tokio::sync::watch::Receiver<u64>,
    closing: tokio::sync::watch::Receiver<bool>,
    failed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

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
