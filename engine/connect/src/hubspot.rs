//! HubSpot CRM v3 (`kind = "hubspot"`): open leads per owner through the search API's
//! `total`, the team's owners through the owners API, a private-app token. ADR 0035.
//!
//! ```toml
//! [capacity.sources.hubspot]
//! kind = "hubspot"
//! token_env = "HUBSPOT_TOKEN"           # or token_file = "/run/secrets/hubspot"
//! # base_url = "https://api.hubapi.com"
//! # object = "contacts"                 # what is counted
//! # status_property = "hs_lead_status"
//! # open_statuses = ["NEW", "OPEN", "IN_PROGRESS"]
//! # owners = "hubspot_team"             # or "members"
//! # max_open_leads_per_owner = 15       # else the team's own maximum
//! # searches_per_second = 4
//! # timeout = "10s"
//! [capacity.sources.hubspot.teams]
//! sales-nl = "178588"                   # leadorch team = HubSpot team id
//! ```
//!
//! **Which owners make a team.** `owners = "hubspot_team"` (the default): the active owners
//! whose `teams` hold the team's HubSpot team id (`[capacity.sources.<name>.teams]`, else the
//! team's name). `owners = "members"`: the leadorch team's members, whose ids are HubSpot
//! owner ids; those that are no active owner are left out. Either way the owners come from
//! `GET /crm/v3/owners` (every page, once per poll), which lists active owners only, so
//! deactivated (archived) users never count.
//!
//! **Figures.** Per owner, one search (`hubspot_owner_id EQ <id>` AND `<status_property> IN
//! open_statuses`, `limit: 1`) and its `total` (exact, whatever the number, so no paging is
//! needed). Open leads: the sum. Maximum: `max_open_leads_per_owner` × the team's owners, else
//! the team's own. Agents available: the team's active owners that have room — below
//! `max_open_leads_per_owner` when it is set, all of them otherwise (HubSpot has no presence
//! for CRM owners).
//!
//! **Rate.** Searches are spaced to `searches_per_second` (HubSpot: 4 a second per token),
//! across polls. A `429` is honoured: the wait is `Retry-After`, else
//! `X-HubSpot-RateLimit-Interval-Milliseconds`, else a second for the secondly policy, and no
//! search leaves before it has passed. A short wait ([`WAIT_IN_POLL`], [`WAITS_PER_POLL`] a
//! poll) is waited out within the poll; a longer one ends it, keeping the teams read and
//! returning the rest with `retry_after` (or `RateLimited` when none was read). The last
//! `X-HubSpot-RateLimit-*` headers are the poll's `limit_info`. The token is read at build and
//! before each poll; it is sent as a sensitive header and never logged, stored or put in an
//! error.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::http_poll::parse_retry_after;
use crate::secret::SecretFrom;
use crate::source::{CapacitySource, Figures, Poll, SourceError, TeamTarget};

/// The connector's kind in the configuration.
pub const KIND: &str = "hubspot";

/// HubSpot's API.
pub const DEFAULT_BASE_URL: &str = "https://api.hubapi.com";

/// HubSpot's documented search rate per token.
pub const DEFAULT_SEARCHES_PER_SECOND: u32 = 4;

/// Owners asked for per page (HubSpot's most).
const OWNERS_PAGE: u32 = 500;

/// A `429` telling to wait at most this long is waited out within the poll.
pub const WAIT_IN_POLL: Duration = Duration::from_secs(2);

/// How many `429`s a poll waits out before it stops and keeps what it read.
pub const WAITS_PER_POLL: u32 = 3;

/// What a poll carries from request to request.
#[derive(Default)]
struct Tally {
    /// The last rate-limit report.
    limit: Option<String>,
    /// `429`s waited out.
    waits: u32,
}

/// `[capacity.sources.<name>]`'s own keys for `kind = "hubspot"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    #[serde(default)]
    base_url: Option<String>,
    #[serde(default)]
    token_env: Option<String>,
    #[serde(default)]
    token_file: Option<PathBuf>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    status_property: Option<String>,
    #[serde(default)]
    open_statuses: Option<Vec<String>>,
    #[serde(default)]
    owners: Option<String>,
    #[serde(default)]
    max_open_leads_per_owner: Option<u32>,
    #[serde(default)]
    searches_per_second: Option<u32>,
    #[serde(default)]
    timeout: Option<String>,
}

/// The `Authorization` header of the private-app token `from` holds (a `Bearer ` someone
/// pasted along is taken off), marked sensitive.
fn bearer(from: &SecretFrom) -> Result<HeaderValue, SourceError> {
    let raw = from.read()?;
    let token = raw.strip_prefix("Bearer ").unwrap_or(&raw).trim();
    if token.is_empty() {
        return Err(SourceError::Config(format!("{} is empty", from.describe())));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
        SourceError::Config(format!(
            "{} holds characters an HTTP header cannot carry",
            from.describe()
        ))
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// How a leadorch team's HubSpot owners are found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OwnersFrom {
    /// Active owners in the HubSpot team `crm_team`.
    HubSpotTeam,
    /// The leadorch team's members are HubSpot owner ids.
    Members,
}

/// An active owner, as far as counting goes (no names, no emails kept).
#[derive(Clone, Debug)]
struct Owner {
    id: String,
    teams: BTreeSet<String>,
}

/// Spaces searches to the rate, across polls, and holds them back while HubSpot said to wait.
#[derive(Debug)]
struct Pacer {
    gap: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    /// Waits for the next search's slot.
    async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.gap);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// No search before `now + wait`.
    fn hold(&self, wait: Duration) {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let until = Instant::now() + wait;
        *next = Some(next.map_or(until, |n| n.max(until)));
    }
}

/// The HubSpot source.
pub struct HubSpot {
    name: String,
    base_url: String,
    token: SecretFrom,
    object: String,
    status_property: String,
    open_statuses: Vec<String>,
    owners_from: OwnersFrom,
    per_owner_max: Option<u32>,
    pacer: Pacer,
    client: reqwest::Client,
}

impl std::fmt::Debug for HubSpot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        f.debug_struct("HubSpot")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("object", &self.object)
            .finish_non_exhaustive()
    }
}

/// Whether `s` is 1 to 100 of `A-Z a-z 0-9 _ -` (an object type or a property name).
fn plain(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// What one request failed with, or its JSON and rate-limit report.
struct Answer {
    body: Value,
    limit_info: Option<String>,
}

/// A failed request: the error, and the limit report its headers carried.
struct Failure {
    error: SourceError,
    limit_info: Option<String>,
}

impl From<SourceError> for Failure {
    fn from(error: SourceError) -> Failure {
        Failure {
            error,
            limit_info: None,
        }
    }
}

/// `X-HubSpot-RateLimit-*` as one line, for the source's health; `None` without any.
fn limit_info(headers: &HeaderMap) -> Option<String> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 20)
            .map(str::to_string)
    };
    let mut parts = Vec::new();
    if let (Some(remaining), Some(max)) = (
        get("x-hubspot-ratelimit-remaining"),
        get("x-hubspot-ratelimit-max"),
    ) {
        let per = get("x-hubspot-ratelimit-interval-milliseconds")
            .map(|ms| format!(" per {ms} ms"))
            .unwrap_or_default();
        parts.push(format!("remaining {remaining}/{max}{per}"));
    }
    if let (Some(remaining), Some(max)) = (
        get("x-hubspot-ratelimit-secondly-remaining"),
        get("x-hubspot-ratelimit-secondly"),
    ) {
        parts.push(format!("secondly {remaining}/{max}"));
    }
    if let (Some(remaining), Some(max)) = (
        get("x-hubspot-ratelimit-daily-remaining"),
        get("x-hubspot-ratelimit-daily"),
    ) {
        parts.push(format!("daily {remaining}/{max}"));
    }
    (!parts.is_empty()).then(|| format!("X-HubSpot-RateLimit: {}", parts.join(", ")))
}

/// HubSpot's error `category` (like `EXPIRED_AUTHENTICATION`), if it is a plain code.
fn category(body: &Value) -> Option<String> {
    ["category", "errorType"]
        .iter()
        .filter_map(|k| body.get(*k).and_then(Value::as_str))
        .find(|c| {
            (1..=64).contains(&c.len()) && c.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .map(str::to_string)
}

/// How long a `429` says to wait: `Retry-After`, else the interval header, else a second for
/// the secondly policy (the search limit), else not said.
fn told_to_wait(headers: &HeaderMap, body: &Value) -> Option<Duration> {
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(d) = header(RETRY_AFTER.as_str()).and_then(parse_retry_after) {
        return Some(d);
    }
    if let Some(ms) = header("x-hubspot-ratelimit-interval-milliseconds")
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|ms| *ms > 0)
    {
        return Some(Duration::from_millis(ms));
    }
    match body.get("policyName").and_then(Value::as_str) {
        Some("SECONDLY") => Some(Duration::from_secs(1)),
        Some("TEN_SECONDLY_ROLLING") => Some(Duration::from_secs(10)),
        _ => None,
    }
}

impl HubSpot {
    /// Builds the source from its configuration's own keys; every error names the key
    /// (`capacity.sources.<name>.<key>`). The token is read now, so a missing one stops the
    /// daemon at start.
    pub fn from_settings(name: &str, settings: &toml::Table) -> Result<HubSpot, String> {
        let key = format!("capacity.sources.{name}");
        let s: Settings = toml::Value::Table(settings.clone())
            .try_into()
            .map_err(|e: toml::de::Error| format!("{key}: {}", e.message().trim()))?;
        let base_url = s
            .base_url
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_string())
            .trim_end_matches('/')
            .to_string();
        let parsed = reqwest::Url::parse(&base_url)
            .map_err(|e| format!("{key}.base_url: {base_url:?} is not a URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.query().is_some() {
            return Err(format!(
                "{key}.base_url: {base_url:?} is not an http or https URL without a query (like \"{DEFAULT_BASE_URL}\")"
            ));
        }
        let token = SecretFrom::from_settings(&key, "token", s.token_env, s.token_file)?
            .ok_or_else(|| {
                format!(
                    "{key}: give token_env (an environment variable) or token_file holding the HubSpot private app's access token (never the token itself in this file)"
                )
            })?;
        bearer(&token).map_err(|e| format!("{key}: {e}"))?;
        let object = s.object.unwrap_or_else(|| "contacts".into());
        if !plain(&object) {
            return Err(format!(
                "{key}.object: {object:?} is not a HubSpot object type (like \"contacts\", \"deals\", \"leads\" or \"2-123456\")"
            ));
        }
        let status_property = s.status_property.unwrap_or_else(|| "hs_lead_status".into());
        if !plain(&status_property) {
            return Err(format!(
                "{key}.status_property: {status_property:?} is not a HubSpot property's internal name (like \"hs_lead_status\")"
            ));
        }
        let open_statuses = s
            .open_statuses
            .unwrap_or_else(|| vec!["NEW".into(), "OPEN".into(), "IN_PROGRESS".into()]);
        if open_statuses.is_empty() || open_statuses.len() > 100 {
            return Err(format!(
                "{key}.open_statuses: give 1 to 100 values of {status_property} that count as open (like [\"NEW\", \"OPEN\", \"IN_PROGRESS\"])"
            ));
        }
        if let Some(bad) = open_statuses
            .iter()
            .find(|v| v.trim().is_empty() || v.len() > 256)
        {
            return Err(format!(
                "{key}.open_statuses: {bad:?} is not a property value (1 to 256 characters)"
            ));
        }
        let owners_from = match s.owners.as_deref() {
            None | Some("hubspot_team") => OwnersFrom::HubSpotTeam,
            Some("members") => OwnersFrom::Members,
            Some(other) => {
                return Err(format!(
                    "{key}.owners: {other:?} is neither \"hubspot_team\" (the owners in the team's HubSpot team) nor \"members\" (the team's members are HubSpot owner ids)"
                ))
            }
        };
        if s.max_open_leads_per_owner == Some(0) {
            return Err(format!(
                "{key}.max_open_leads_per_owner must be at least 1 (leave it out to use the team's own maximum)"
            ));
        }
        let rate = s.searches_per_second.unwrap_or(DEFAULT_SEARCHES_PER_SECOND);
        if !(1..=DEFAULT_SEARCHES_PER_SECOND).contains(&rate) {
            return Err(format!(
                "{key}.searches_per_second must be 1 to {DEFAULT_SEARCHES_PER_SECOND} (HubSpot allows {DEFAULT_SEARCHES_PER_SECOND} searches a second per token)"
            ));
        }
        let client = crate::client::builder(crate::client::timeout(&key, s.timeout.as_deref())?)
            .build()
            .map_err(|e| format!("{key}: cannot make an HTTP client: {e}"))?;
        Ok(HubSpot {
            name: name.to_string(),
            base_url,
            token,
            object,
            status_property,
            open_statuses,
            owners_from,
            per_owner_max: s.max_open_leads_per_owner,
            pacer: Pacer {
                gap: Duration::from_secs(1) / rate,
                next: Mutex::new(None),
            },
            client,
        })
    }

    /// Sends one request and reads its JSON answer; every failure as a [`SourceError`] that
    /// holds HubSpot's status and category, never the token.
    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Answer, Failure> {
        let auth = bearer(&self.token)?;
        let response = request
            .header(AUTHORIZATION, auth)
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| SourceError::Unavailable(format!("{what}: {}", e.without_url())))?;
        let status = response.status();
        let headers = response.headers().clone();
        let info = limit_info(&headers);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| SourceError::Unavailable(format!("{what}: {}", e.without_url())))?;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let fail = |error| Failure {
            error,
            limit_info: info.clone(),
        };
        let cat = category(&body).map(|c| format!(" {c}")).unwrap_or_default();
        if status == StatusCode::UNAUTHORIZED {
            return Err(fail(SourceError::Auth(format!(
                "{what}: {status}{cat}: HubSpot refused the private app's token (expired, rotated or the app deleted: put its current access token where token_env/token_file points)"
            ))));
        }
        if status == StatusCode::FORBIDDEN {
            return Err(fail(SourceError::Auth(format!(
                "{what}: {status}{cat}: the private app may not do this (it needs the scopes crm.objects.{}.read and crm.objects.owners.read)",
                self.object
            ))));
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let wait = told_to_wait(&headers, &body);
            // Whatever happens next, no search leaves before HubSpot said.
            self.pacer.hold(wait.unwrap_or(Duration::from_secs(1)));
            return Err(fail(SourceError::RateLimited {
                retry_after: wait,
                detail: format!("{what}: {status}{cat}"),
            }));
        }
        if status.is_server_error() {
            return Err(fail(SourceError::Unavailable(format!(
                "{what}: {status}{cat}"
            ))));
        }
        if !status.is_success() {
            // A validation message names properties and operators (the request's), never a
            // person: kept, shortened, as it says what to fix.
            let message: String = body
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("")
                .chars()
                .take(200)
                .collect();
            let message = if message.is_empty() {
                String::new()
            } else {
                format!(" ({message})")
            };
            return Err(fail(SourceError::Response(format!(
                "{what}: {status}{cat}{message}"
            ))));
        }
        if body.is_null() {
            return Err(fail(SourceError::Response(format!(
                "{what}: the answer is not JSON"
            ))));
        }
        Ok(Answer {
            body,
            limit_info: info,
        })
    }

    /// Every active owner, following `paging.next.after` to the end.
    async fn owners(&self, tally: &mut Tally) -> Result<Vec<Owner>, Failure> {
        let url = format!("{}/crm/v3/owners", self.base_url);
        let mut owners = Vec::new();
        let mut after: Option<String> = None;
        let mut seen = BTreeSet::new();
        loop {
            let mut query = vec![
                ("limit", OWNERS_PAGE.to_string()),
                ("archived", "false".to_string()),
            ];
            if let Some(a) = &after {
                query.push(("after", a.clone()));
            }
            let answer = self
                .send("owners", self.client.get(&url).query(&query))
                .await?;
            tally.limit = answer.limit_info.or(tally.limit.take());
            let results = answer
                .body
                .get("results")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    SourceError::Response("owners: the answer has no results array".into())
                })?;
            for o in results {
                let id = match o.get("id") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Number(n)) => n.to_string(),
                    _ => {
                        return Err(
                            SourceError::Response("owners: an owner without an id".into()).into(),
                        )
                    }
                };
                if o.get("archived").and_then(Value::as_bool) == Some(true) {
                    continue;
                }
                let teams = o
                    .get("teams")
                    .and_then(Value::as_array)
                    .map(|ts| {
                        ts.iter()
                            .filter_map(|t| match t.get("id") {
                                Some(Value::String(s)) => Some(s.clone()),
                                Some(Value::Number(n)) => Some(n.to_string()),
                                _ => None,
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                owners.push(Owner { id, teams });
            }
            match answer
                .body
                .pointer("/paging/next/after")
                .and_then(Value::as_str)
                .filter(|a| !a.is_empty())
            {
                Some(next) => {
                    if !seen.insert(next.to_string()) {
                        return Err(SourceError::Response(
                            "owners: paging.next.after repeats an earlier cursor".into(),
                        )
                        .into());
                    }
                    after = Some(next.to_string());
                }
                None => return Ok(owners),
            }
        }
    }

    /// One owner's open records: the search's `total`. A `429` that says to wait a little
    /// (at most [`WAIT_IN_POLL`]) is waited out and the search sent again, up to
    /// [`WAITS_PER_POLL`] times a poll; any other ends the poll.
    async fn open_of(&self, owner: &str, tally: &mut Tally) -> Result<u32, Failure> {
        let url = format!("{}/crm/v3/objects/{}/search", self.base_url, self.object);
        let body = json!({
            "filterGroups": [{"filters": [
                {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": owner},
                {"propertyName": self.status_property, "operator": "IN", "values": self.open_statuses},
            ]}],
            "properties": ["hubspot_owner_id"],
            "limit": 1,
        });
        let what = format!("search {} of owner {owner}", self.object);
        let answer = loop {
            // Paced, and never before a wait HubSpot told (the pacer holds it).
            self.pacer.wait().await;
            match self.send(&what, self.client.post(&url).json(&body)).await {
                Ok(answer) => break answer,
                Err(Failure {
                    error:
                        SourceError::RateLimited {
                            retry_after: Some(wait),
                            ..
                        },
                    limit_info,
                }) if wait <= WAIT_IN_POLL && tally.waits < WAITS_PER_POLL => {
                    tally.waits += 1;
                    tally.limit = limit_info.or(tally.limit.take());
                }
                Err(f) => return Err(f),
            }
        };
        tally.limit = answer.limit_info.or(tally.limit.take());
        let total = answer
            .body
            .get("total")
            .and_then(Value::as_u64)
            .ok_or_else(|| {
                SourceError::Response(format!("{what}: the answer has no whole-number total"))
            })?;
        u32::try_from(total).map_err(|_| {
            SourceError::Response(format!("{what}: total {total} is beyond 4294967295")).into()
        })
    }

    /// The team's owners (ids, in a stable order), or why it has none.
    fn team_owners(
        &self,
        target: &TeamTarget,
        active: &[Owner],
    ) -> Result<Vec<String>, SourceError> {
        match self.owners_from {
            OwnersFrom::HubSpotTeam => {
                let ids: Vec<String> = active
                    .iter()
                    .filter(|o| o.teams.contains(&target.crm_team))
                    .map(|o| o.id.clone())
                    .collect();
                if ids.is_empty() {
                    return Err(SourceError::Config(format!(
                        "no active HubSpot owner is in HubSpot team {:?}: map team {} to its HubSpot team id under [capacity.sources.{}.teams] (HubSpot: Settings → Users & Teams → Teams)",
                        target.crm_team, target.team, self.name
                    )));
                }
                Ok(ids)
            }
            OwnersFrom::Members => {
                if target.members.is_empty() {
                    return Err(SourceError::Config(format!(
                        "team {} has no members: add its HubSpot owner ids as members (`leadorch teams member add {} --id OWNER_ID`)",
                        target.team, target.team
                    )));
                }
                let active: BTreeSet<&str> = active.iter().map(|o| o.id.as_str()).collect();
                let mut ids = Vec::new();
                for m in &target.members {
                    if active.contains(m.as_str()) && !ids.contains(m) {
                        ids.push(m.clone());
                    }
                }
                if ids.is_empty() {
                    return Err(SourceError::Config(format!(
                        "none of team {}'s {} members is an active HubSpot owner id (the id in Settings → Users & Teams, or GET /crm/v3/owners)",
                        target.team,
                        target.members.len()
                    )));
                }
                Ok(ids)
            }
        }
    }

    fn maximum(&self, target: &TeamTarget, owners: usize) -> Result<u32, SourceError> {
        match self.per_owner_max {
            Some(per) => u32::try_from(owners)
                .ok()
                .and_then(|n| n.checked_mul(per))
                .ok_or_else(|| SourceError::Config("the team's maximum is beyond 4294967295".into())),
            None => target.max_open_leads.ok_or_else(|| {
                SourceError::Config(format!(
                    "no max_open_leads_per_owner, and team {} has no maximum of its own (`leadorch teams set {} --max-open-leads N`, or set max_open_leads_per_owner)",
                    target.team, target.team
                ))
            }),
        }
    }
}

#[async_trait]
impl CapacitySource for HubSpot {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    async fn poll(&self, teams: &[TeamTarget]) -> Result<Poll, SourceError> {
        let mut poll = Poll::default();
        let mut tally = Tally::default();
        let active = match self.owners(&mut tally).await {
            Ok(owners) => owners,
            Err(f) => return Err(f.error),
        };
        // An owner in two teams is searched once per poll.
        let mut counted: BTreeMap<String, u32> = BTreeMap::new();
        'teams: for (i, target) in teams.iter().enumerate() {
            let owners = match self.team_owners(target, &active) {
                Ok(o) => o,
                Err(e) => {
                    poll.team_errors.push((target.team.clone(), e));
                    continue;
                }
            };
            let max_open_leads = match self.maximum(target, owners.len()) {
                Ok(m) => m,
                Err(e) => {
                    poll.team_errors.push((target.team.clone(), e));
                    continue;
                }
            };
            let mut open_leads: u32 = 0;
            let mut available: u32 = 0;
            for owner in &owners {
                let open = match counted.get(owner) {
                    Some(n) => *n,
                    None => match self.open_of(owner, &mut tally).await {
                        Ok(n) => {
                            counted.insert(owner.clone(), n);
                            n
                        }
                        Err(Failure {
                            error:
                                SourceError::RateLimited {
                                    retry_after,
                                    detail,
                                },
                            limit_info,
                        }) => {
                            tally.limit = limit_info.or(tally.limit.take());
                            let e = SourceError::RateLimited {
                                retry_after,
                                detail,
                            };
                            if poll.readings.is_empty() {
                                return Err(e);
                            }
                            // Keep what was read; this team and the rest wait.
                            poll.retry_after = Some(retry_after.unwrap_or(Duration::from_secs(1)));
                            poll.team_errors
                                .extend(teams[i..].iter().map(|t| (t.team.clone(), e.clone())));
                            break 'teams;
                        }
                        Err(Failure { error, .. }) => match error {
                            e @ (SourceError::Auth(_) | SourceError::Config(_)) => return Err(e),
                            e => {
                                poll.team_errors.push((target.team.clone(), e));
                                continue 'teams;
                            }
                        },
                    },
                };
                open_leads = open_leads.saturating_add(open);
                if self.per_owner_max.is_none_or(|per| open < per) {
                    available += 1;
                }
            }
            poll.readings.push((
                target.team.clone(),
                Figures {
                    agents_available: available,
                    open_leads,
                    max_open_leads,
                },
            ));
        }
        poll.limit_info = tally.limit;
        if poll.readings.is_empty() {
            // Nothing worked: the source fails, with the first team's reason.
            if let Some((team, e)) = poll.team_errors.first() {
                return Err(match e.clone() {
                    SourceError::Response(m) => SourceError::Response(format!("team {team}: {m}")),
                    SourceError::Config(m) => SourceError::Config(format!("team {team}: {m}")),
                    SourceError::Unavailable(m) => {
                        SourceError::Unavailable(format!("team {team}: {m}"))
                    }
                    other => other,
                });
            }
        }
        Ok(poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(text: &str) -> toml::Table {
        text.parse().expect("valid TOML")
    }

    #[test]
    fn bad_settings_are_named_by_their_key() {
        std::env::set_var("LEADORCH_TEST_HUBSPOT_TOKEN_SET", "pat-eu1-x");
        let ok = "token_env = \"LEADORCH_TEST_HUBSPOT_TOKEN_SET\"\n";
        for (text, wanted) in [
            ("", "capacity.sources.hs: give token_env (an environment variable) or token_file"),
            (
                "token_env = \"LEADORCH_TEST_SURELY_UNSET_VARIABLE\"",
                "capacity.sources.hs: misconfigured: the environment variable LEADORCH_TEST_SURELY_UNSET_VARIABLE (token_env) is not set",
            ),
            ("token_file = \"/nonexistent/leadorch-hubspot\"", "cannot read token_file /nonexistent/leadorch-hubspot"),
            (&format!("{ok}token = \"pat-secret\""), "unknown field `token`"),
            (&format!("{ok}object = \"contacts/../x\""), "capacity.sources.hs.object"),
            (&format!("{ok}status_property = \"\""), "capacity.sources.hs.status_property"),
            (&format!("{ok}open_statuses = []"), "capacity.sources.hs.open_statuses"),
            (&format!("{ok}owners = \"users\""), "capacity.sources.hs.owners: \"users\" is neither"),
            (&format!("{ok}max_open_leads_per_owner = 0"), "capacity.sources.hs.max_open_leads_per_owner must be at least 1"),
            (&format!("{ok}searches_per_second = 10"), "capacity.sources.hs.searches_per_second must be 1 to 4"),
            (&format!("{ok}base_url = \"ftp://x\""), "capacity.sources.hs.base_url"),
            (&format!("{ok}timeout = \"0s\""), "capacity.sources.hs.timeout"),
        ] {
            let err = HubSpot::from_settings("hs", &settings(text)).expect_err(text);
            assert!(err.contains(wanted), "{text}\n=> {err}");
            assert!(!err.contains("pat-eu1-x"), "{err}");
        }
        let hs = HubSpot::from_settings("hs", &settings(ok)).expect("defaults");
        assert_eq!(hs.base_url, DEFAULT_BASE_URL);
        assert_eq!(
            (hs.object.as_str(), hs.status_property.as_str()),
            ("contacts", "hs_lead_status")
        );
        assert_eq!(hs.open_statuses, ["NEW", "OPEN", "IN_PROGRESS"]);
        assert_eq!(hs.owners_from, OwnersFrom::HubSpotTeam);
        assert_eq!(hs.pacer.gap, Duration::from_millis(250));
        assert!(!format!("{hs:?}").contains("pat-eu1-x"));
    }

    #[test]
    fn a_429_says_how_long_to_wait() {
        let mut h = HeaderMap::new();
        assert_eq!(
            told_to_wait(&h, &json!({"policyName": "SECONDLY"})),
            Some(Duration::from_secs(1))
        );
        assert_eq!(told_to_wait(&h, &json!({})), None);
        h.insert(
            "x-hubspot-ratelimit-interval-milliseconds",
            HeaderValue::from_static("10000"),
        );
        assert_eq!(told_to_wait(&h, &json!({})), Some(Duration::from_secs(10)));
        h.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(told_to_wait(&h, &json!({})), Some(Duration::from_secs(3)));
        h.insert("x-hubspot-ratelimit-max", HeaderValue::from_static("100"));
        h.insert(
            "x-hubspot-ratelimit-remaining",
            HeaderValue::from_static("0"),
        );
        assert_eq!(
            limit_info(&h).as_deref(),
            Some("X-HubSpot-RateLimit: remaining 0/100 per 10000 ms")
        );
        assert_eq!(
            category(&json!({"category": "EXPIRED_AUTHENTICATION"})).as_deref(),
            Some("EXPIRED_AUTHENTICATION")
        );
        assert_eq!(
            category(&json!({"category": "pat-eu1-abc"})),
            None,
            "only plain codes"
        );
    }
}
