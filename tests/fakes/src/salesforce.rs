//! A fake Salesforce org for the Salesforce capacity source (`kind = "salesforce"`), in the
//! shapes of Salesforce's REST API and OAuth token endpoint:
//!
//! * `POST /services/oauth2/token` — the client-credentials flow: form fields `grant_type=
//!   client_credentials`, `client_id`, `client_secret`. Answers `access_token`, `signature`,
//!   `scope`, `instance_url` (this server), `id`, `token_type: "Bearer"`, `issued_at`
//!   (milliseconds, a string). Errors as Salesforce's OAuth ones, `400` with `error` and
//!   `error_description`: `invalid_client_id`, `invalid_client` (wrong secret, or the client
//!   revoked by [`FakeSalesforce::revoke_client`]), `unsupported_grant_type`.
//! * `GET /services/data/vNN.N/query?q=<SOQL>` and `GET /services/data/vNN.N/query/<locator>-<n>`
//!   (the `nextRecordsUrl` of an unfinished answer) with `Authorization: Bearer <token>`.
//!   Answers `totalSize`, `done`, `nextRecordsUrl` (while not done) and `records`, at most
//!   [`FakeSalesforce::set_batch_size`] rows a batch (2,000 like Salesforce, unless set).
//!   Every answer of the data API carries `Sforce-Limit-Info: api-usage=N/M`; beyond the daily
//!   allowance ([`FakeSalesforce::set_daily_allowance`]) it answers `403` with
//!   `REQUEST_LIMIT_EXCEEDED`. An unknown, expired ([`FakeSalesforce::expire_tokens`]) or
//!   missing token answers `401` `INVALID_SESSION_ID`. Errors are Salesforce's JSON array
//!   `[{"message": …, "errorCode": …}]`.
//!
//! ## The SOQL it understands, and nothing else
//! Keywords and field names in any case; string literals in single quotes with SOQL's
//! backslash escapes (`\'`, `\"`, `\\`, `\n`, `\r`, `\t`, `\b`, `\f`).
//! * `SELECT OwnerId, COUNT(Id) FROM Lead WHERE [IsConverted = false AND] Status IN ('…', …)
//!   [AND OwnerId IN ('…', …)] GROUP BY OwnerId` — `AggregateResult` rows `{"attributes": {"type": "AggregateResult"},
//!   "OwnerId": …, "expr0": n}`, by owner, only owners with a matching lead;
//! * `SELECT UserId, ConfiguredCapacity, IsAway FROM UserServicePresence WHERE IsCurrentState =
//!   true` — a row per present user ([`FakeSalesforce::set_presence`]);
//! * `SELECT UserId, SUM(CapacityWeight) FROM AgentWork WHERE Status IN ('…', …) [AND UserId IN
//!   ('…', …)] GROUP BY UserId` — `expr0` a decimal number, like Salesforce's `SUM`.
//!
//! Ids in `IN` lists match 15- or 18-character ids alike. Salesforce documents that a `GROUP
//! BY` result cannot be continued with its query locator; this fake pages aggregate results
//! anyway, at the batch size a test sets, so that a client's paging is exercised (the
//! Salesforce source keeps each aggregate query below one batch, ADR 0036).
//!
//! Anything else answers `400` `MALFORMED_QUERY` (another object in the leads shape
//! `INVALID_TYPE`, another status field `INVALID_FIELD`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde_json::{json, Value};

use crate::server::{lock, random_token, serve, Server};

/// Salesforce's batch size: rows a query answers at most at a time.
pub const SALESFORCE_BATCH_SIZE: usize = 2000;

/// A daily allowance large enough never to be reached in a test.
pub const DEFAULT_DAILY_ALLOWANCE: u64 = 15_000;

/// One lead at the fake.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeLead {
    /// Its id (`00Q…`).
    pub id: String,
    /// Its owner's user id (18 characters).
    pub owner: String,
    /// Its `Status`.
    pub status: String,
    /// Its `IsConverted`.
    pub converted: bool,
}

/// One piece of Omni-Channel work (`AgentWork`).
#[derive(Clone, Debug, PartialEq)]
pub struct FakeAgentWork {
    /// `UserId`.
    pub user: String,
    /// `CapacityWeight`.
    pub weight: f64,
    /// `Status`: `Assigned`, `Opened`, `Closed`, `Declined`, …
    pub status: String,
}

/// What the fake counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SalesforceCounts {
    /// Token requests answered with a token.
    pub tokens_issued: u64,
    /// Token requests refused.
    pub tokens_refused: u64,
    /// Data API requests (queries and next batches), whatever the answer.
    pub requests: u64,
    /// First batches of queries answered.
    pub queries: u64,
    /// Next batches (`nextRecordsUrl`) answered.
    pub next_batches: u64,
    /// `401 INVALID_SESSION_ID` answers.
    pub invalid_session: u64,
    /// `403 REQUEST_LIMIT_EXCEEDED` answers.
    pub limit_exceeded: u64,
    /// `400 MALFORMED_QUERY` (and other query errors) answers.
    pub malformed: u64,
}

#[derive(Debug)]
struct Cursor {
    version: String,
    rows: Vec<Value>,
}

#[derive(Debug)]
struct State_ {
    base_url: String,
    client_id: String,
    client_secret: String,
    revoked: bool,
    tokens: HashMap<String, bool>,
    leads: Vec<FakeLead>,
    presence: BTreeMap<String, (u32, bool)>,
    work: Vec<FakeAgentWork>,
    batch_size: usize,
    allowance: u64,
    used: u64,
    cursors: HashMap<String, Cursor>,
    soql: Vec<String>,
    counts: SalesforceCounts,
}

/// A running fake Salesforce org on `127.0.0.1`, its own instance (`instance_url` is
/// [`FakeSalesforce::base_url`]). Cheap to clone; the server stops when the last clone is
/// dropped.
#[derive(Clone)]
pub struct FakeSalesforce {
    state: Arc<Mutex<State_>>,
    server: Arc<Server>,
}

impl std::fmt::Debug for FakeSalesforce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSalesforce")
            .field("base_url", &self.base_url())
            .finish()
    }
}

type Shared = Arc<Mutex<State_>>;

/// An 18-character Salesforce user id for test user `n` (`005…`).
pub fn fake_user_id(n: u32) -> String {
    format!("005{n:012}AAA")
}

impl FakeSalesforce {
    /// Starts the fake with no leads, a random client id and secret, batches of 2,000 and a
    /// daily allowance of [`DEFAULT_DAILY_ALLOWANCE`].
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start() -> FakeSalesforce {
        let state = Arc::new(Mutex::new(State_ {
            base_url: String::new(),
            client_id: format!("3MVG9{}", random_token(40)),
            client_secret: random_token(64),
            revoked: false,
            tokens: HashMap::new(),
            leads: Vec::new(),
            presence: BTreeMap::new(),
            work: Vec::new(),
            batch_size: SALESFORCE_BATCH_SIZE,
            allowance: DEFAULT_DAILY_ALLOWANCE,
            used: 0,
            cursors: HashMap::new(),
            soql: Vec::new(),
            counts: SalesforceCounts::default(),
        }));
        let router = Router::new()
            .route("/services/oauth2/token", post(token))
            .route("/services/data/{version}/query", get(query))
            .route("/services/data/{version}/query/{locator}", get(query_more))
            .with_state(state.clone());
        let server = Arc::new(serve(router).await);
        lock(&state).base_url = format!("http://{}", server.addr);
        FakeSalesforce { state, server }
    }

    /// `http://127.0.0.1:<port>`: the login URL and the instance URL.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// The connected app's consumer key.
    pub fn client_id(&self) -> String {
        lock(&self.state).client_id.clone()
    }

    /// The connected app's consumer secret.
    pub fn client_secret(&self) -> String {
        lock(&self.state).client_secret.clone()
    }

    /// Revokes the client (its token requests answer `invalid_client`, its tokens stop
    /// working), or restores it with `false`.
    pub fn revoke_client(&self, revoked: bool) {
        let mut s = lock(&self.state);
        s.revoked = revoked;
        if revoked {
            s.tokens.values_mut().for_each(|valid| *valid = false);
        }
    }

    /// Expires every token issued so far (the org's session timeout passed).
    pub fn expire_tokens(&self) {
        lock(&self.state)
            .tokens
            .values_mut()
            .for_each(|valid| *valid = false);
    }

    /// Adds an open (not converted) lead owned by `owner` with `status`; its id.
    pub fn add_lead(&self, owner: &str, status: &str) -> String {
        let mut s = lock(&self.state);
        let id = format!("00Q{:012}AAA", s.leads.len() + 1);
        s.leads.push(FakeLead {
            id: id.clone(),
            owner: owner.to_string(),
            status: status.to_string(),
            converted: false,
        });
        id
    }

    /// Changes a lead's status (`None` when there is no such lead).
    pub fn set_lead_status(&self, id: &str, status: &str) -> Option<()> {
        let mut s = lock(&self.state);
        let lead = s.leads.iter_mut().find(|l| l.id == id)?;
        lead.status = status.to_string();
        Some(())
    }

    /// Marks a lead converted or not.
    pub fn set_lead_converted(&self, id: &str, converted: bool) -> Option<()> {
        let mut s = lock(&self.state);
        let lead = s.leads.iter_mut().find(|l| l.id == id)?;
        lead.converted = converted;
        Some(())
    }

    /// Every lead.
    pub fn leads(&self) -> Vec<FakeLead> {
        lock(&self.state).leads.clone()
    }

    /// Makes `user` present in Omni-Channel (a current `UserServicePresence`) with
    /// `configured_capacity`, away or not; `None` logs the user out.
    pub fn set_presence(&self, user: &str, presence: Option<(u32, bool)>) {
        let mut s = lock(&self.state);
        match presence {
            Some(p) => s.presence.insert(user.to_string(), p),
            None => s.presence.remove(user),
        };
    }

    /// Adds a piece of Omni-Channel work.
    pub fn add_work(&self, user: &str, weight: f64, status: &str) {
        lock(&self.state).work.push(FakeAgentWork {
            user: user.to_string(),
            weight,
            status: status.to_string(),
        });
    }

    /// Rows per batch (at least 1).
    pub fn set_batch_size(&self, rows: usize) {
        lock(&self.state).batch_size = rows.max(1);
    }

    /// The data API requests allowed (today); the usage so far is kept.
    pub fn set_daily_allowance(&self, requests: u64) {
        lock(&self.state).allowance = requests;
    }

    /// Every SOQL query received (first batches), in order, valid or not.
    pub fn queries(&self) -> Vec<String> {
        lock(&self.state).soql.clone()
    }

    /// What it counted so far.
    pub fn counts(&self) -> SalesforceCounts {
        lock(&self.state).counts
    }
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

async fn token(State(state): State<Shared>, Form(form): Form<HashMap<String, String>>) -> Response {
    let mut s = lock(&state);
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let refusal = if field("grant_type") != "client_credentials" {
        Some(oauth_error(
            "unsupported_grant_type",
            "grant type not supported",
        ))
    } else if field("client_id") != s.client_id {
        Some(oauth_error(
            "invalid_client_id",
            "client identifier invalid",
        ))
    } else if field("client_secret") != s.client_secret || s.revoked {
        Some(oauth_error("invalid_client", "invalid client credentials"))
    } else {
        None
    };
    if let Some(answer) = refusal {
        s.counts.tokens_refused += 1;
        return answer;
    }
    let access_token = format!("00D000000000001!{}", random_token(96));
    s.tokens.insert(access_token.clone(), true);
    s.counts.tokens_issued += 1;
    let issued_at = chrono::Utc::now().timestamp_millis().to_string();
    Json(json!({
        "access_token": access_token,
        "signature": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, random_token(32)),
        "scope": "api",
        "instance_url": s.base_url,
        "id": format!("{}/id/00D000000000001AAA/005000000000099AAA", s.base_url),
        "token_type": "Bearer",
        "issued_at": issued_at,
    }))
    .into_response()
}

fn rest_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!([{"message": message, "errorCode": code}])),
    )
        .into_response()
}

fn valid_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 5
        && b[0] == b'v'
        && b[1].is_ascii_digit()
        && b[2].is_ascii_digit()
        && b[3] == b'.'
        && b[4].is_ascii_digit()
}

/// The checks of every data API request; `Some` is the refusal to answer with, the limit
/// header on it.
fn admit(s: &mut State_, headers: &HeaderMap, version: &str) -> Option<Response> {
    s.counts.requests += 1;
    let refusal = refusal(s, headers, version)?;
    Some(with_limit(s, refusal))
}

fn refusal(s: &mut State_, headers: &HeaderMap, version: &str) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !bearer.is_some_and(|t| s.tokens.get(t).copied().unwrap_or(false)) {
        s.counts.invalid_session += 1;
        return Some(rest_error(
            StatusCode::UNAUTHORIZED,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ));
    }
    if !valid_version(version) {
        return Some(rest_error(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "The requested resource does not exist",
        ));
    }
    if s.used >= s.allowance {
        s.counts.limit_exceeded += 1;
        return Some(rest_error(
            StatusCode::FORBIDDEN,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ));
    }
    s.used += 1;
    None
}

fn with_limit(s: &State_, mut r: Response) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("api-usage={}/{}", s.used, s.allowance)) {
        r.headers_mut().insert("Sforce-Limit-Info", v);
    }
    r
}

/// The answer's batch from `offset`, keeping the rest under a locator.
fn batch(
    s: &mut State_,
    version: &str,
    rows: Vec<Value>,
    offset: usize,
    locator: Option<String>,
) -> Response {
    let total = rows.len();
    let end = (offset + s.batch_size).min(total);
    let records: Vec<Value> = rows[offset.min(total)..end].to_vec();
    let mut body = json!({"totalSize": total, "done": end >= total, "records": records});
    if end < total {
        let locator = locator.unwrap_or_else(|| format!("01g{}", random_token(15)));
        body["nextRecordsUrl"] = json!(format!("/services/data/{version}/query/{locator}-{end}"));
        s.cursors.insert(
            locator,
            Cursor {
                version: version.to_string(),
                rows,
            },
        );
    } else if let Some(locator) = locator {
        s.cursors.remove(&locator);
    }
    with_limit(s, Json(body).into_response())
}

async fn query(
    State(state): State<Shared>,
    Path(version): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut s = lock(&state);
    if let Some(answer) = admit(&mut s, &headers, &version) {
        return answer;
    }
    let Some(q) = params.get("q") else {
        s.counts.malformed += 1;
        let r = rest_error(
            StatusCode::BAD_REQUEST,
            "MALFORMED_QUERY",
            "A query string has to be specified",
        );
        return with_limit(&s, r);
    };
    s.soql.push(q.clone());
    let rows = match soql::parse(q) {
        Ok(parsed) => run(&s, &version, &parsed),
        Err((code, message)) => {
            s.counts.malformed += 1;
            let r = rest_error(StatusCode::BAD_REQUEST, code, &message);
            return with_limit(&s, r);
        }
    };
    s.counts.queries += 1;
    batch(&mut s, &version, rows, 0, None)
}

async fn query_more(
    State(state): State<Shared>,
    Path((version, locator)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let mut s = lock(&state);
    if let Some(answer) = admit(&mut s, &headers, &version) {
        return answer;
    }
    let found = locator.rsplit_once('-').and_then(|(id, offset)| {
        let offset: usize = offset.parse().ok()?;
        let cursor = s.cursors.get(id)?;
        (cursor.version == version).then(|| (id.to_string(), offset, cursor.rows.clone()))
    });
    let Some((id, offset, rows)) = found else {
        let r = rest_error(
            StatusCode::BAD_REQUEST,
            "INVALID_QUERY_LOCATOR",
            "invalid query locator",
        );
        return with_limit(&s, r);
    };
    s.counts.next_batches += 1;
    batch(&mut s, &version, rows, offset, Some(id))
}

/// Whether `id` is in an `IN` list of ids (Salesforce takes 15- and 18-character ids alike);
/// no list is everyone.
fn among(ids: &Option<Vec<String>>, id: &str) -> bool {
    let id15 = |i: &str| i.get(..15).unwrap_or(i).to_string();
    ids.as_ref()
        .is_none_or(|ids| ids.iter().any(|i| id15(i) == id15(id)))
}

/// The rows of a parsed query over the fake's data.
fn run(s: &State_, version: &str, q: &soql::Parsed) -> Vec<Value> {
    match q {
        soql::Parsed::Leads {
            not_converted,
            statuses,
            owners,
        } => {
            let mut by_owner: BTreeMap<&str, u64> = BTreeMap::new();
            for lead in &s.leads {
                if (*not_converted && lead.converted)
                    || !statuses.contains(&lead.status)
                    || !among(owners, &lead.owner)
                {
                    continue;
                }
                *by_owner.entry(&lead.owner).or_default() += 1;
            }
            by_owner
                .into_iter()
                .map(|(owner, n)| {
                    json!({"attributes": {"type": "AggregateResult"}, "OwnerId": owner, "expr0": n})
                })
                .collect()
        }
        soql::Parsed::Presence => s
            .presence
            .iter()
            .enumerate()
            .map(|(i, (user, (capacity, away)))| {
                json!({
                    "attributes": {
                        "type": "UserServicePresence",
                        "url": format!("/services/data/{version}/sobjects/UserServicePresence/0Jf{:012}AAA", i + 1),
                    },
                    "UserId": user,
                    "ConfiguredCapacity": capacity,
                    "IsAway": away,
                })
            })
            .collect(),
        soql::Parsed::Work { statuses, users } => {
            let mut by_user: BTreeMap<&str, f64> = BTreeMap::new();
            for w in &s.work {
                if statuses.contains(&w.status) && among(users, &w.user) {
                    *by_user.entry(&w.user).or_default() += w.weight;
                }
            }
            by_user
                .into_iter()
                .map(|(user, sum)| {
                    json!({"attributes": {"type": "AggregateResult"}, "UserId": user, "expr0": sum})
                })
                .collect()
        }
    }
}

/// The SOQL shapes the fake answers.
mod soql {
    /// A query the fake can answer.
    #[derive(Debug, PartialEq)]
    pub(super) enum Parsed {
        Leads {
            not_converted: bool,
            statuses: Vec<String>,
            owners: Option<Vec<String>>,
        },
        Presence,
        Work {
            statuses: Vec<String>,
            users: Option<Vec<String>>,
        },
    }

    #[derive(Debug, PartialEq)]
    enum Token {
        Word(String),
        Literal(String),
        Punct(char),
    }

    type Error = (&'static str, String);

    fn malformed(why: impl Into<String>) -> Error {
        ("MALFORMED_QUERY", why.into())
    }

    fn tokens(q: &str) -> Result<Vec<Token>, Error> {
        let mut out = Vec::new();
        let mut chars = q.chars().peekable();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                chars.next();
            } else if c.is_ascii_alphabetic() {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        w.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                out.push(Token::Word(w));
            } else if c == '\'' {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next() {
                        None => return Err(malformed("unterminated string literal")),
                        Some('\'') => break,
                        Some('\\') => {
                            let e = chars.next().ok_or_else(|| malformed("bad escape"))?;
                            s.push(match e {
                                'n' | 'N' => '\n',
                                'r' | 'R' => '\r',
                                't' | 'T' => '\t',
                                'b' | 'B' => '\u{8}',
                                'f' | 'F' => '\u{c}',
                                '"' | '\'' | '\\' => e,
                                other => {
                                    return Err(malformed(format!(
                                        "Invalid string literal: bad escape \\{other}"
                                    )))
                                }
                            });
                        }
                        Some(c) => s.push(c),
                    }
                }
                out.push(Token::Literal(s));
            } else if matches!(c, ',' | '(' | ')' | '=') {
                out.push(Token::Punct(c));
                chars.next();
            } else {
                return Err(malformed(format!("unexpected character {c:?}")));
            }
        }
        Ok(out)
    }

    struct Cursor {
        tokens: Vec<Token>,
        at: usize,
    }

    impl Cursor {
        fn word(&mut self, w: &str) -> Result<(), Error> {
            match self.tokens.get(self.at) {
                Some(Token::Word(x)) if x.eq_ignore_ascii_case(w) => {
                    self.at += 1;
                    Ok(())
                }
                other => Err(malformed(format!(
                    "unexpected token: {other:?}, expecting {w}"
                ))),
            }
        }

        fn is_word(&self, w: &str) -> bool {
            matches!(self.tokens.get(self.at), Some(Token::Word(x)) if x.eq_ignore_ascii_case(w))
        }

        fn any_word(&mut self) -> Result<String, Error> {
            match self.tokens.get(self.at) {
                Some(Token::Word(x)) => {
                    self.at += 1;
                    Ok(x.clone())
                }
                other => Err(malformed(format!("unexpected token: {other:?}"))),
            }
        }

        fn punct(&mut self, p: char) -> Result<(), Error> {
            match self.tokens.get(self.at) {
                Some(Token::Punct(x)) if *x == p => {
                    self.at += 1;
                    Ok(())
                }
                other => Err(malformed(format!(
                    "unexpected token: {other:?}, expecting {p}"
                ))),
            }
        }

        /// `( 'a' , 'b' … )`.
        fn literals(&mut self) -> Result<Vec<String>, Error> {
            self.punct('(')?;
            let mut out = Vec::new();
            loop {
                match self.tokens.get(self.at) {
                    Some(Token::Literal(s)) => {
                        out.push(s.clone());
                        self.at += 1;
                    }
                    other => {
                        return Err(malformed(format!(
                            "unexpected token: {other:?}, expecting a string"
                        )))
                    }
                }
                match self.tokens.get(self.at) {
                    Some(Token::Punct(',')) => self.at += 1,
                    Some(Token::Punct(')')) => {
                        self.at += 1;
                        return Ok(out);
                    }
                    other => return Err(malformed(format!("unexpected token: {other:?}"))),
                }
            }
        }

        /// An optional `AND <field> IN ('…', …)`.
        fn and_in(&mut self, field: &str) -> Result<Option<Vec<String>>, Error> {
            if !self.is_word("AND") {
                return Ok(None);
            }
            self.word("AND")?;
            self.word(field)?;
            self.word("IN")?;
            self.literals().map(Some)
        }

        fn end(&self) -> Result<(), Error> {
            match self.tokens.get(self.at) {
                None => Ok(()),
                Some(t) => Err(malformed(format!("unexpected token: {t:?}"))),
            }
        }
    }

    /// Parses one of the three shapes; anything else is `MALFORMED_QUERY` (or `INVALID_TYPE` /
    /// `INVALID_FIELD` for the leads shape on another object or field).
    pub(super) fn parse(q: &str) -> Result<Parsed, Error> {
        let mut c = Cursor {
            tokens: tokens(q)?,
            at: 0,
        };
        c.word("SELECT")?;
        let first = c.any_word()?;
        c.punct(',')?;
        if first.eq_ignore_ascii_case("OwnerId") {
            c.word("COUNT")?;
            c.punct('(')?;
            c.word("Id")?;
            c.punct(')')?;
            c.word("FROM")?;
            let object = c.any_word()?;
            if !object.eq_ignore_ascii_case("Lead") {
                return Err((
                    "INVALID_TYPE",
                    format!("sObject type '{object}' is not supported."),
                ));
            }
            c.word("WHERE")?;
            let mut not_converted = false;
            if c.is_word("IsConverted") {
                c.word("IsConverted")?;
                c.punct('=')?;
                c.word("false")?;
                c.word("AND")?;
                not_converted = true;
            }
            let field = c.any_word()?;
            if !field.eq_ignore_ascii_case("Status") {
                return Err((
                    "INVALID_FIELD",
                    format!("No such column '{field}' on entity 'Lead'."),
                ));
            }
            c.word("IN")?;
            let statuses = c.literals()?;
            let owners = c.and_in("OwnerId")?;
            c.word("GROUP")?;
            c.word("BY")?;
            c.word("OwnerId")?;
            c.end()?;
            return Ok(Parsed::Leads {
                not_converted,
                statuses,
                owners,
            });
        }
        if !first.eq_ignore_ascii_case("UserId") {
            return Err(malformed(format!("unexpected field {first}")));
        }
        if c.is_word("SUM") {
            c.word("SUM")?;
            c.punct('(')?;
            c.word("CapacityWeight")?;
            c.punct(')')?;
            c.word("FROM")?;
            c.word("AgentWork")?;
            c.word("WHERE")?;
            c.word("Status")?;
            c.word("IN")?;
            let statuses = c.literals()?;
            let users = c.and_in("UserId")?;
            c.word("GROUP")?;
            c.word("BY")?;
            c.word("UserId")?;
            c.end()?;
            return Ok(Parsed::Work { statuses, users });
        }
        c.word("ConfiguredCapacity")?;
        c.punct(',')?;
        c.word("IsAway")?;
        c.word("FROM")?;
        c.word("UserServicePresence")?;
        c.word("WHERE")?;
        c.word("IsCurrentState")?;
        c.punct('=')?;
        c.word("true")?;
        c.end()?;
        Ok(Parsed::Presence)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_three_shapes_and_nothing_else() {
            assert_eq!(
                parse(
                    r"select OwnerId, count(Id) from Lead where IsConverted = false and Status in ('Open', 'Nurture\'s \\ x') group by OwnerId"
                ),
                Ok(Parsed::Leads {
                    not_converted: true,
                    statuses: vec!["Open".into(), "Nurture's \\ x".into()],
                    owners: None,
                })
            );
            assert_eq!(
                parse("SELECT UserId, ConfiguredCapacity, IsAway FROM UserServicePresence WHERE IsCurrentState = true"),
                Ok(Parsed::Presence)
            );
            assert_eq!(
                parse("SELECT UserId, SUM(CapacityWeight) FROM AgentWork WHERE Status IN ('Assigned', 'Opened') GROUP BY UserId"),
                Ok(Parsed::Work { statuses: vec!["Assigned".into(), "Opened".into()], users: None })
            );
            assert_eq!(
                parse("SELECT OwnerId, COUNT(Id) FROM Lead WHERE Status IN ('Open') AND OwnerId IN ('005000000000001') GROUP BY OwnerId"),
                Ok(Parsed::Leads { not_converted: false, statuses: vec!["Open".into()], owners: Some(vec!["005000000000001".into()]) })
            );
            for bad in [
                "SELECT Id FROM Lead",
                "SELECT OwnerId, COUNT(Id) FROM Lead WHERE Status IN ('Open') AND UserId IN ('005000000000001') GROUP BY OwnerId",
                "SELECT OwnerId, COUNT(Id) FROM Lead WHERE Status IN ('Open') GROUP BY OwnerId LIMIT 5",
                "SELECT OwnerId, COUNT(Id) FROM Lead WHERE Status IN ('Open) GROUP BY OwnerId",
                "SELECT OwnerId, COUNT(Id) FROM Lead WHERE Status IN (Open) GROUP BY OwnerId",
                "SELECT OwnerId, COUNT(Id) FROM Lead WHERE Status IN ('a' 'b') GROUP BY OwnerId",
                "SELECT OwnerId, COUNT(Id) FROM Lead WHERE Status IN ('a') OR Name = 'x' GROUP BY OwnerId",
                "anything at all",
            ] {
                assert_eq!(parse(bad).map_err(|e| e.0), Err("MALFORMED_QUERY"), "{bad}");
            }
            assert_eq!(
                parse(
                    "SELECT OwnerId, COUNT(Id) FROM Contact WHERE Status IN ('a') GROUP BY OwnerId"
                )
                .map_err(|e| e.0),
                Err("INVALID_TYPE")
            );
        }
    }
}
