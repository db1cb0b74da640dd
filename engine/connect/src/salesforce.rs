//! Salesforce over its REST API (`kind = "salesforce"`): open leads per owner by one SOQL
//! aggregate query, and optionally Omni-Channel presence and work for agents and capacity.
//!
//! ```toml
//! [capacity.sources.sf]
//! kind = "salesforce"
//! login_url = "https://acme.my.salesforce.com"   # the org's My Domain URL
//! client_id = "3MVG9…"                           # the app's consumer key (not a secret)
//! client_secret_env = "SALESFORCE_CLIENT_SECRET" # or client_secret_file = "/run/secrets/sf"
//! open_statuses = ["Open - Not Contacted", "Working - Contacted"]   # required
//! # api_version = "v62.0"                        # default
//! # object = "Lead"                              # default; status_field = "Status"
//! # max_open_leads_per_owner = 25                # optional
//! # omni_channel = false                         # default
//! # timeout = "10s"                              # per request, default
//! ```
//!
//! **Auth**: the OAuth 2.0 client-credentials flow, `POST <login_url>/services/oauth2/token`
//! with `grant_type=client_credentials`, `client_id` and `client_secret` as form fields. The
//! answer's `access_token` is kept and its `instance_url` is where queries go. Salesforce says
//! nothing of when the token expires (the org's session timeout decides): it is used until a
//! query answers `401 INVALID_SESSION_ID`, then a new one is asked for once in that poll and
//! the query sent again; a second refusal, or `invalid_client`/`invalid_grant` from the token
//! endpoint, is [`SourceError::Auth`] with the error code (never the secret).
//!
//! **Open leads**: `SELECT OwnerId, COUNT(Id) FROM Lead WHERE IsConverted = false AND Status
//! IN ('…') AND OwnerId IN ('005…', …) GROUP BY OwnerId` (the `IsConverted` condition only for
//! `Lead`) for the members of every team, [`OWNERS_PER_QUERY`] of them a query, every batch
//! followed by its `nextRecordsUrl` until `done`. A team's open leads are the sum of its
//! members' rows (a member without a row has none). Members are Salesforce user ids (`005…`,
//! 15 or 18 characters; compared on their first 15, which is the id itself).
//!
//! **Agents available and the maximum**, without Omni-Channel: the team's members (with
//! `max_open_leads_per_owner`: the members with fewer open leads than it); the maximum is the
//! team's own in leadorch, else `max_open_leads_per_owner` × members, else a
//! [`SourceError::Config`] saying how to set one. With `omni_channel = true`:
//! `UserServicePresence` rows with `IsCurrentState = true` say who is present, with their
//! `ConfiguredCapacity` and `IsAway`; `SUM(CapacityWeight)` of `AgentWork` in status
//! `Assigned` or `Opened` per member is the capacity they use. Agents available are the members
//! present, not away, with configured capacity above the capacity they use; the maximum is
//! the sum of the configured capacity of the members present (away or not), so a team with no
//! one present has a maximum of 0 (full).
//!
//! **Limits**: every answer's `Sforce-Limit-Info` (`api-usage=N/M`) is kept, the latest in
//! [`Poll::limit_info`]. `403 REQUEST_LIMIT_EXCEEDED` is [`SourceError::RateLimited`] with a
//! wait of [`LIMIT_EXCEEDED_WAIT`] (Salesforce sends no `Retry-After`); it is not retried in
//! the poll. ADR 0036 explains the choices.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use leadorch_oauth::Secret;
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::Value;

use crate::secret::SecretFrom;
use crate::source::{CapacitySource, Figures, Poll, SourceError, TeamTarget};

/// The connector's kind in the configuration.
pub const KIND: &str = "salesforce";

/// The REST API version asked for when `api_version` is not set.
pub const DEFAULT_API_VERSION: &str = "v62.0";

/// How long to wait after `REQUEST_LIMIT_EXCEEDED`: the org's allowance is counted over a
/// rolling 24 hours, and Salesforce does not say when room comes back.
pub const LIMIT_EXCEEDED_WAIT: Duration = Duration::from_secs(5 * 60);

/// Batches followed for one query at most (2,000 rows each): an answer that pages beyond is
/// taken as a loop.
const MAX_BATCHES: usize = 1000;

/// `[capacity.sources.<name>]`'s own keys for `kind = "salesforce"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    login_url: String,
    client_id: String,
    #[serde(default)]
    client_secret_env: Option<String>,
    #[serde(default)]
    client_secret_file: Option<PathBuf>,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    object: Option<String>,
    #[serde(default)]
    status_field: Option<String>,
    open_statuses: Vec<String>,
    #[serde(default)]
    max_open_leads_per_owner: Option<u32>,
    #[serde(default)]
    omni_channel: bool,
    #[serde(default)]
    timeout: Option<String>,
}

/// A token the token endpoint gave, and where to use it.
#[derive(Clone)]
struct Session {
    access_token: Secret,
    instance_url: Url,
}

/// The Salesforce source.
pub struct Salesforce {
    name: String,
    token_url: Url,
    client_id: String,
    secret: SecretFrom,
    api_version: String,
    object: String,
    status_field: String,
    open_statuses: Vec<String>,
    max_per_owner: Option<u32>,
    omni_channel: bool,
    client: reqwest::Client,
    session: Mutex<Option<Session>>,
}

impl std::fmt::Debug for Salesforce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Salesforce")
            .field("name", &self.name)
            .field("token_url", &self.token_url.as_str())
            .field("api_version", &self.api_version)
            .field("omni_channel", &self.omni_channel)
            .finish_non_exhaustive()
    }
}

/// Whether `url` may carry a credential: https, or http to this machine (a local fake).
fn safe_scheme(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => {
            matches!(
                url.host(),
                Some(url::Host::Ipv4(ip)) if ip.is_loopback()
            ) || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback())
                || url.host_str() == Some("localhost")
        }
        _ => false,
    }
}

/// Whether `name` is a SOQL identifier (an object or field API name: `Lead`, `Status__c`).
fn identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 80
}

/// `vNN.N`.
fn api_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 5
        && b[0] == b'v'
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b'.'
        && b[4].is_ascii_digit()
}

/// A SOQL string literal: `'…'` with `\`, `'`, `"` and the control characters SOQL names
/// escaped. Other control characters are refused when the source is built.
pub fn soql_literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `'a', 'b'`: values as a SOQL list's literals.
fn literal_list<S: AsRef<str>>(values: &[S]) -> String {
    values
        .iter()
        .map(|v| soql_literal(v.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The open-leads query for some owners.
fn leads_query<S: AsRef<str>>(
    object: &str,
    status_field: &str,
    statuses: &[String],
    owners: &[S],
) -> String {
    let converted = if object.eq_ignore_ascii_case("Lead") {
        "IsConverted = false AND "
    } else {
        ""
    };
    format!(
        "SELECT OwnerId, COUNT(Id) FROM {object} WHERE {converted}{status_field} IN ({}) AND OwnerId IN ({}) GROUP BY OwnerId",
        literal_list(statuses),
        literal_list(owners)
    )
}

/// User ids per aggregate query: its rows (one per owner) stay far below the 2,000 of one
/// batch, which a `GROUP BY` result cannot go beyond (its query locator cannot be used), and
/// the query's URL far below Salesforce's 16,384 bytes.
pub const OWNERS_PER_QUERY: usize = 200;

/// The Omni-Channel presence query: who is present now, with what capacity.
pub const PRESENCE_QUERY: &str =
    "SELECT UserId, ConfiguredCapacity, IsAway FROM UserServicePresence WHERE IsCurrentState = true";

/// The Omni-Channel work query for some users: the capacity each one's open work takes.
pub fn work_query<S: AsRef<str>>(users: &[S]) -> String {
    format!(
        "SELECT UserId, SUM(CapacityWeight) FROM AgentWork WHERE Status IN ('Assigned', 'Opened') AND UserId IN ({}) GROUP BY UserId",
        literal_list(users)
    )
}

/// A user id's 15-character form (an 18-character id is the 15 and a checksum).
fn id15(id: &str) -> &str {
    id.get(..15).unwrap_or(id)
}

/// Whether `id` looks like a Salesforce user id.
fn user_id(id: &str) -> bool {
    (id.len() == 15 || id.len() == 18)
        && id.starts_with("005")
        && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// `text` cut to `n` characters (remote messages kept short in the health row).
fn short(text: &str, n: usize) -> String {
    let mut s: String = text.chars().take(n).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// Salesforce's error answer of the data API: `[{"message": …, "errorCode": …}]`.
fn rest_error(body: &[u8]) -> (String, String) {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let first = parsed
        .as_ref()
        .and_then(|v| v.as_array())
        .and_then(|a| a.first());
    let field = |k: &str| {
        first
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    (field("errorCode"), short(&field("message"), 300))
}

/// One batch of a query's answer.
#[derive(Deserialize)]
struct QueryBatch {
    done: bool,
    #[serde(rename = "nextRecordsUrl", default)]
    next_records_url: Option<String>,
    records: Vec<Value>,
}

/// A present user's Omni-Channel state.
#[derive(Clone, Copy, Debug, Default)]
struct Presence {
    configured: f64,
    away: bool,
}

/// What one poll read.
#[derive(Default)]
struct Readings {
    open_by_owner: HashMap<String, u64>,
    presence: HashMap<String, Presence>,
    used: HashMap<String, f64>,
}

/// What one poll carries along: the latest limit report, whether the token was renewed.
#[derive(Default)]
struct PollState {
    limit_info: Option<String>,
    renewed: bool,
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Salesforce {
    /// Builds the source from its configuration's own keys; every error names the key
    /// (`capacity.sources.<name>.<key>`). The client secret is read now, so a missing one
    /// stops the daemon at start; no request is made.
    pub fn from_settings(name: &str, settings: &toml::Table) -> Result<Salesforce, String> {
        let key = format!("capacity.sources.{name}");
        let s: Settings = toml::Value::Table(settings.clone())
            .try_into()
            .map_err(|e: toml::de::Error| format!("{key}: {}", e.message().trim()))?;
        let login = Url::parse(s.login_url.trim_end_matches('/')).map_err(|e| {
            format!(
                "{key}.login_url: {:?} is not a URL ({e}); give the org's My Domain URL, like https://acme.my.salesforce.com",
                s.login_url
            )
        })?;
        if !safe_scheme(&login) || login.cannot_be_a_base() {
            return Err(format!(
                "{key}.login_url: {:?} is not an https URL (the client secret goes there)",
                s.login_url
            ));
        }
        let mut token_url = login.clone();
        token_url.set_path(&format!(
            "{}/services/oauth2/token",
            login.path().trim_end_matches('/')
        ));
        if s.client_id.trim().is_empty() {
            return Err(format!(
                "{key}.client_id: give the app's consumer key (client id)"
            ));
        }
        let secret = SecretFrom::from_settings(
            &key,
            "client_secret",
            s.client_secret_env,
            s.client_secret_file,
        )?
        .ok_or_else(|| {
            format!(
                "{key}: add client_secret_env (an environment variable) or client_secret_file holding the app's consumer secret (never the secret itself in this file)"
            )
        })?;
        secret.read().map_err(|e| format!("{key}: {e}"))?;
        let version = s
            .api_version
            .unwrap_or_else(|| DEFAULT_API_VERSION.to_string());
        if !api_version(&version) {
            return Err(format!(
                "{key}.api_version: {version:?} is not a REST API version like \"{DEFAULT_API_VERSION}\""
            ));
        }
        let object = s.object.unwrap_or_else(|| "Lead".into());
        if !identifier(&object) {
            return Err(format!(
                "{key}.object: {object:?} is not an object's API name (like Lead or Enquiry__c)"
            ));
        }
        let status_field = s.status_field.unwrap_or_else(|| "Status".into());
        if !identifier(&status_field) {
            return Err(format!(
                "{key}.status_field: {status_field:?} is not a field's API name (like Status)"
            ));
        }
        if s.open_statuses.is_empty() {
            return Err(format!(
                "{key}.open_statuses: list the statuses that count as open (your org's values, like [\"Open - Not Contacted\", \"Working - Contacted\"])"
            ));
        }
        for status in &s.open_statuses {
            if status.trim().is_empty()
                || status
                    .chars()
                    .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{8}' | '\u{c}'))
            {
                return Err(format!(
                    "{key}.open_statuses: {status:?} is not a status value"
                ));
            }
        }
        if s.max_open_leads_per_owner == Some(0) {
            return Err(format!(
                "{key}.max_open_leads_per_owner: give a number above 0, or leave it out"
            ));
        }
        let client = crate::client::builder(crate::client::timeout(&key, s.timeout.as_deref())?)
            // A redirect could carry the token elsewhere: none followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("{key}: cannot make an HTTP client: {e}"))?;
        Ok(Salesforce {
            name: name.to_string(),
            token_url,
            client_id: s.client_id.trim().to_string(),
            secret,
            object,
            status_field,
            open_statuses: s.open_statuses,
            api_version: version,
            max_per_owner: s.max_open_leads_per_owner,
            omni_channel: s.omni_channel,
            client,
            session: Mutex::new(None),
        })
    }

    /// The open-leads SOQL this source sends for `owners` (at most [`OWNERS_PER_QUERY`]).
    pub fn leads_query<S: AsRef<str>>(&self, owners: &[S]) -> String {
        leads_query(
            &self.object,
            &self.status_field,
            &self.open_statuses,
            owners,
        )
    }

    fn cached(&self) -> Option<Session> {
        self.session.lock().ok().and_then(|s| s.clone())
    }

    fn keep(&self, session: Option<Session>) {
        if let Ok(mut s) = self.session.lock() {
            *s = session;
        }
    }

    /// The kept token, else a new one from the token endpoint.
    async fn session(&self) -> Result<Session, SourceError> {
        if let Some(s) = self.cached() {
            return Ok(s);
        }
        let session = self.new_token().await?;
        self.keep(Some(session.clone()));
        Ok(session)
    }

    /// The client-credentials flow.
    async fn new_token(&self) -> Result<Session, SourceError> {
        let secret = Secret::new(self.secret.read()?);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", self.client_id.as_str()),
            ("client_secret", secret.expose()),
        ];
        let response = self
            .client
            .post(self.token_url.clone())
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(|e| {
                SourceError::Unavailable(format!("token endpoint: {}", e.without_url()))
            })?;
        let status = response.status();
        let body = response.bytes().await.map_err(|e| {
            SourceError::Unavailable(format!("token endpoint: {}", e.without_url()))
        })?;
        if status.is_server_error() {
            return Err(SourceError::Unavailable(format!(
                "token endpoint: {status}"
            )));
        }
        let answer: Value = serde_json::from_slice(&body).map_err(|_| {
            SourceError::Response(format!("token endpoint: {status}, the answer is not JSON"))
        })?;
        if !status.is_success() {
            let code = answer.get("error").and_then(Value::as_str).unwrap_or("");
            let description = answer
                .get("error_description")
                .and_then(Value::as_str)
                .map(|d| short(d, 200))
                .unwrap_or_default();
            let what = format!("token endpoint: {status} {code}: {description}");
            return Err(match code {
                "rate_limit_exceeded" => SourceError::RateLimited {
                    retry_after: Some(LIMIT_EXCEEDED_WAIT),
                    detail: what,
                },
                "" => SourceError::Response(format!("token endpoint: {status}")),
                "unsupported_grant_type" | "invalid_request" => SourceError::Config(format!(
                    "{what} (is the client credentials flow enabled on the app?)"
                )),
                _ => SourceError::Auth(what),
            });
        }
        let field = |k: &str| answer.get(k).and_then(Value::as_str);
        let token = field("access_token")
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                SourceError::Response("token endpoint: no access_token in the answer".into())
            })?;
        if let Some(kind) = field("token_type") {
            if !kind.eq_ignore_ascii_case("Bearer") {
                return Err(SourceError::Response(format!(
                    "token endpoint: token_type {:?}, not Bearer",
                    short(kind, 20)
                )));
            }
        }
        let instance = field("instance_url").ok_or_else(|| {
            SourceError::Response("token endpoint: no instance_url in the answer".into())
        })?;
        let instance_url = Url::parse(instance)
            .ok()
            .filter(|u| safe_scheme(u) && !u.cannot_be_a_base())
            .ok_or_else(|| {
                SourceError::Response("token endpoint: instance_url is not an https URL".into())
            })?;
        Ok(Session {
            access_token: Secret::new(token),
            instance_url,
        })
    }

    /// One `GET` of the data API at `path_and_query` (relative to the instance), renewing the
    /// token once per poll on `INVALID_SESSION_ID`.
    async fn get(
        &self,
        path: &str,
        query: Option<&str>,
        st: &mut PollState,
    ) -> Result<Value, SourceError> {
        loop {
            let session = self.session().await?;
            let mut url = session.instance_url.clone();
            url.set_path(path);
            url.set_query(None);
            if let Some(q) = query {
                url.query_pairs_mut().append_pair("q", q);
            }
            let mut auth = reqwest::header::HeaderValue::from_str(&format!(
                "Bearer {}",
                session.access_token.expose()
            ))
            .map_err(|_| {
                SourceError::Response("token endpoint: the access token is no header value".into())
            })?;
            auth.set_sensitive(true);
            let response = self
                .client
                .get(url)
                .header(reqwest::header::AUTHORIZATION, auth)
                .header("Accept", "application/json")
                .send()
                .await
                .map_err(|e| SourceError::Unavailable(e.without_url().to_string()))?;
            let status = response.status();
            if let Some(info) = response
                .headers()
                .get("Sforce-Limit-Info")
                .and_then(|v| v.to_str().ok())
                .filter(|v| v.len() <= 200)
            {
                st.limit_info = Some(info.trim().to_string());
            }
            let body = response
                .bytes()
                .await
                .map_err(|e| SourceError::Unavailable(e.without_url().to_string()))?;
            if status.is_success() {
                return serde_json::from_slice(&body)
                    .map_err(|e| SourceError::Response(format!("the answer is not JSON ({e})")));
            }
            let (code, message) = rest_error(&body);
            match status {
                StatusCode::UNAUTHORIZED if code == "INVALID_SESSION_ID" && !st.renewed => {
                    // Expired or revoked: one new token, and this request again.
                    st.renewed = true;
                    self.keep(None);
                    continue;
                }
                StatusCode::UNAUTHORIZED => {
                    self.keep(None);
                    return Err(SourceError::Auth(format!(
                        "{status} {code}: a new token was refused too"
                    )));
                }
                StatusCode::FORBIDDEN if code == "REQUEST_LIMIT_EXCEEDED" => {
                    return Err(SourceError::RateLimited {
                        retry_after: Some(LIMIT_EXCEEDED_WAIT),
                        detail: format!(
                            "{status} REQUEST_LIMIT_EXCEEDED: {message}{}",
                            st.limit_info
                                .as_deref()
                                .map(|l| format!(" ({l})"))
                                .unwrap_or_default()
                        ),
                    })
                }
                StatusCode::FORBIDDEN => {
                    return Err(SourceError::Auth(format!("{status} {code}: {message}")))
                }
                s if s.is_server_error() => {
                    return Err(SourceError::Unavailable(format!("{status} {code}")))
                }
                StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND if !code.is_empty() => {
                    // MALFORMED_QUERY, INVALID_FIELD, INVALID_TYPE, NOT_FOUND (a version the
                    // org does not have): the configuration asks for what is not there.
                    return Err(SourceError::Config(format!("{status} {code}: {message}")));
                }
                _ => return Err(SourceError::Response(format!("{status} {code}"))),
            }
        }
    }

    /// Every row of a query, batch after batch until `done`.
    async fn query(&self, soql: &str, st: &mut PollState) -> Result<Vec<Value>, SourceError> {
        let mut rows = Vec::new();
        let mut answer = self
            .get(
                &format!("/services/data/{}/query", self.api_version),
                Some(soql),
                st,
            )
            .await?;
        for _ in 0..MAX_BATCHES {
            let batch: QueryBatch = serde_json::from_value(answer).map_err(|e| {
                SourceError::Response(format!("a query answer without done/records ({e})"))
            })?;
            rows.extend(batch.records);
            if batch.done {
                return Ok(rows);
            }
            let next = batch.next_records_url.ok_or_else(|| {
                SourceError::Response("done is false but there is no nextRecordsUrl".into())
            })?;
            // Only ever a path of the same instance: the token goes nowhere else.
            if !next.starts_with("/services/data/") || next.contains("..") || next.contains('?') {
                return Err(SourceError::Response(
                    "nextRecordsUrl is not a path under /services/data/".into(),
                ));
            }
            answer = self.get(&next, None, st).await?;
        }
        Err(SourceError::Response(format!(
            "a query still not done after {MAX_BATCHES} batches"
        )))
    }

    /// Reads what `owners` (user ids, each once) have and, with Omni-Channel, who is present.
    async fn read(&self, owners: &[&str], st: &mut PollState) -> Result<Readings, SourceError> {
        let mut r = Readings::default();
        if owners.is_empty() {
            return Ok(r);
        }
        let owner_id = |row: &Value, key: &str| -> Result<String, SourceError> {
            row.get(key)
                .and_then(Value::as_str)
                .map(|id| id15(id).to_string())
                .ok_or_else(|| SourceError::Response(format!("a row without {key}")))
        };
        let mut rows = Vec::new();
        for chunk in owners.chunks(OWNERS_PER_QUERY) {
            rows.extend(self.query(&self.leads_query(chunk), st).await?);
        }
        for row in rows {
            let owner = owner_id(&row, "OwnerId")?;
            let n = number(row.get("expr0"))
                .filter(|n| *n >= 0.0 && n.fract() == 0.0)
                .ok_or_else(|| {
                    SourceError::Response("a row whose expr0 (COUNT(Id)) is no count".into())
                })?;
            *r.open_by_owner.entry(owner).or_default() += n as u64;
        }
        if self.omni_channel {
            for row in self.query(PRESENCE_QUERY, st).await? {
                let user = owner_id(&row, "UserId")?;
                let configured = number(row.get("ConfiguredCapacity")).ok_or_else(|| {
                    SourceError::Response(
                        "a UserServicePresence row without ConfiguredCapacity".into(),
                    )
                })?;
                let away = row.get("IsAway").and_then(Value::as_bool).unwrap_or(false);
                // More than one current presence for a user: the largest capacity, away
                // only when every one is.
                let p = r
                    .presence
                    .entry(user)
                    .or_insert(Presence { configured, away });
                p.configured = p.configured.max(configured);
                p.away &= away;
            }
            let mut rows = Vec::new();
            for chunk in owners.chunks(OWNERS_PER_QUERY) {
                rows.extend(self.query(&work_query(chunk), st).await?);
            }
            for row in rows {
                let user = owner_id(&row, "UserId")?;
                // SUM of no weight is null.
                let used = number(row.get("expr0")).unwrap_or(0.0);
                *r.used.entry(user).or_default() += used;
            }
        }
        Ok(r)
    }

    fn figures(&self, r: &Readings, target: &TeamTarget) -> Result<Figures, SourceError> {
        if target.members.is_empty() {
            return Err(SourceError::Config(format!(
                "no members: add the team's Salesforce user ids (`leadorch teams member add {} --id 005…`)",
                target.team
            )));
        }
        if let Some(bad) = target.members.iter().find(|m| !user_id(m)) {
            return Err(SourceError::Config(format!(
                "member {bad:?} is not a Salesforce user id (005…, 15 or 18 characters)"
            )));
        }
        let open_of = |m: &String| r.open_by_owner.get(id15(m)).copied().unwrap_or(0);
        let open: u64 = target.members.iter().map(open_of).sum();
        let open_leads = u32::try_from(open).unwrap_or(u32::MAX);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        if self.omni_channel {
            let present: Vec<(&String, Presence)> = target
                .members
                .iter()
                .filter_map(|m| r.presence.get(id15(m)).map(|p| (m, *p)))
                .collect();
            let available = present
                .iter()
                .filter(|(m, p)| {
                    !p.away && p.configured - r.used.get(id15(m)).copied().unwrap_or(0.0) > 0.0
                })
                .count();
            let max: f64 = present.iter().map(|(_, p)| p.configured.max(0.0)).sum();
            return Ok(Figures {
                agents_available: count(available),
                open_leads,
                max_open_leads: max.floor().min(f64::from(u32::MAX)) as u32,
            });
        }
        let agents_available = match self.max_per_owner {
            Some(k) => count(
                target
                    .members
                    .iter()
                    .filter(|m| open_of(m) < u64::from(k))
                    .count(),
            ),
            None => count(target.members.len()),
        };
        let max_open_leads = match (target.max_open_leads, self.max_per_owner) {
            (Some(max), _) => max,
            (None, Some(k)) => k.saturating_mul(count(target.members.len())),
            (None, None) => {
                return Err(SourceError::Config(format!(
                    "no maximum of open leads: set max_open_leads_per_owner on the source, or `leadorch teams set {} --max-open-leads N`",
                    target.team
                )))
            }
        };
        Ok(Figures {
            agents_available,
            open_leads,
            max_open_leads,
        })
    }
}

#[async_trait]
impl CapacitySource for Salesforce {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> &'static str {
        KIND
    }

    async fn poll(&self, teams: &[TeamTarget]) -> Result<Poll, SourceError> {
        let mut st = PollState::default();
        // One set of queries for every team: a failure is the whole source's.
        let mut owners: Vec<&str> = Vec::new();
        for member in teams.iter().flat_map(|t| &t.members) {
            if user_id(member) && !owners.iter().any(|o| id15(o) == id15(member)) {
                owners.push(member);
            }
        }
        let readings = self.read(&owners, &mut st).await?;
        let mut poll = Poll {
            limit_info: st.limit_info,
            ..Poll::default()
        };
        for target in teams {
            match self.figures(&readings, target) {
                Ok(f) => poll.readings.push((target.team.clone(), f)),
                Err(e) => poll.team_errors.push((target.team.clone(), e)),
            }
        }
        if poll.readings.is_empty() {
            // Nothing worked: the source fails, with the first team's reason.
            if let Some((team, e)) = poll.team_errors.first() {
                return Err(match e.clone() {
                    SourceError::Config(m) => SourceError::Config(format!("team {team}: {m}")),
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

    const BASE: &str = "login_url = \"https://acme.my.salesforce.com\"\nclient_id = \"3MVG9x\"\nclient_secret_file = \"/etc/hostname\"\nopen_statuses = [\"Open\"]\n";

    #[test]
    fn bad_settings_are_named_by_their_key() {
        let base_without = |drop: &str| {
            BASE.lines()
                .filter(|l| !l.starts_with(drop))
                .collect::<Vec<_>>()
                .join("\n")
        };
        for (text, wanted) in [
            (base_without("open_statuses"), "capacity.sources.sf: missing field `open_statuses`".to_string()),
            (base_without("client_secret_file"), "capacity.sources.sf: add client_secret_env".into()),
            (format!("{BASE}client_secret = \"x\""), "unknown field `client_secret`".into()),
            (format!("{BASE}api_version = \"62.0\""), "capacity.sources.sf.api_version: \"62.0\" is not a REST API version".into()),
            (format!("{BASE}object = \"Lead; DROP\""), "capacity.sources.sf.object".into()),
            (BASE.replace("[\"Open\"]", "[]"), "capacity.sources.sf.open_statuses: list the statuses".into()),
            (BASE.replace("https://acme", "http://acme"), "capacity.sources.sf.login_url: \"http://acme.my.salesforce.com\" is not an https URL".into()),
            (format!("{BASE}client_secret_env = \"X\""), "not both".into()),
            (
                base_without("client_secret_file") + "\nclient_secret_env = \"LEADORCH_TEST_SURELY_UNSET_VARIABLE\"",
                "the environment variable LEADORCH_TEST_SURELY_UNSET_VARIABLE (client_secret_env) is not set".into(),
            ),
            (format!("{BASE}max_open_leads_per_owner = 0"), "max_open_leads_per_owner".into()),
            (format!("{BASE}timeout = \"0s\""), "capacity.sources.sf.timeout".into()),
        ] {
            let err = Salesforce::from_settings("sf", &settings(&text)).expect_err(&text);
            assert!(err.contains(&wanted), "{text}\n=> {err}");
        }
        let ok = Salesforce::from_settings("sf", &settings(BASE)).expect("valid");
        assert_eq!(
            ok.token_url.as_str(),
            "https://acme.my.salesforce.com/services/oauth2/token"
        );
        assert_eq!(ok.api_version, DEFAULT_API_VERSION);
    }

    #[test]
    fn the_query_escapes_its_literals() {
        let q = leads_query(
            "Lead",
            "Status",
            &[
                "Open - Not Contacted".into(),
                "Nurture's \\ \"hot\"\n".into(),
            ],
            &["005000000000001AAA", "005000000000002"],
        );
        assert_eq!(
            q,
            r#"SELECT OwnerId, COUNT(Id) FROM Lead WHERE IsConverted = false AND Status IN ('Open - Not Contacted', 'Nurture\'s \\ \"hot\"\n') AND OwnerId IN ('005000000000001AAA', '005000000000002') GROUP BY OwnerId"#
        );
        assert_eq!(
            leads_query("Enquiry__c", "Stage__c", &["New".into()], &["005000000000001"]),
            "SELECT OwnerId, COUNT(Id) FROM Enquiry__c WHERE Stage__c IN ('New') AND OwnerId IN ('005000000000001') GROUP BY OwnerId"
        );
        assert_eq!(
            work_query(&["005000000000001"]),
            "SELECT UserId, SUM(CapacityWeight) FROM AgentWork WHERE Status IN ('Assigned', 'Opened') AND UserId IN ('005000000000001') GROUP BY UserId"
        );
        assert!(api_version("v62.0") && !api_version("v62") && !api_version("v6.20"));
        assert!(
            user_id("005000000000001")
                && user_id("005000000000001AAA")
                && !user_id("00G000000000001")
                && !user_id("005000000000001')")
        );
        assert_eq!(id15("005000000000001AAA"), "005000000000001");
    }
}
