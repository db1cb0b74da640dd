//! The API in process (ADR 0039): the desktop's local backend sends its requests through the
//! very router `leadorch serve` and the daemons serve — the same routes, extractors, checks,
//! problems and recorded events — with no network, no API key and no rate limit.
//!
//! A [`Local`] is an operator of one project holding every scope: what the desktop's user can
//! do anyway, since they hold the database and its master key. What it changes is recorded
//! with the operator's actor (`desktop:<user>`), not an `api-key:…` one, and its calls write
//! no access-log row (that log is about keys and the addresses they are used from).
//!
//! [`Local::call`] never fails and never panics: bad input (an unknown method, a path outside
//! `/v1/`, a missing body where one is needed) and the event stream (`/v1/events/stream`,
//! which never ends) are answered as problems, like any other refusal.

use axum::body::Body;
use axum::http::{header, HeaderValue, Method, Request, StatusCode};
use axum::Router;
use serde::Serialize;
use tower::ServiceExt;

use crate::auth::{Caller, Operator};
use crate::keys::{check_project, Scope};
use crate::{Api, Problem};

/// Largest answer read back from a route, bytes (a page of events, a backtest's decisions and
/// figures, a subject's export are far below it).
pub const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// The methods the API's routes take.
const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Routes whose answer never ends, refused in process.
const STREAMS: [&str; 1] = ["/v1/events/stream"];

/// The API's routes, called in process by one operator of one project.
#[derive(Clone, Debug)]
pub struct Local {
    router: Router,
    operator: Caller,
}

/// One answer: the status and the body as JSON (a problem's for a `4xx`/`5xx`, `null` when
/// the route answered with no body).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LocalResponse {
    /// The HTTP status the route answered.
    pub status: u16,
    /// Its JSON body (`null` for none).
    pub body: serde_json::Value,
}

/// Why a [`Local`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    /// The project's name is not one (1–32 of `a-z 0-9 -`).
    #[error("{name:?} is not a project name: {problem}")]
    Project {
        /// The name given.
        name: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The actor is empty, or reads as an API key's (`api-key:…`), which it is not.
    #[error("the operator's actor {0:?} cannot be recorded: give a non-empty name that does not start with `api-key:` (the desktop's is `desktop:<user>`)")]
    Actor(String),
}

impl Local {
    /// The routes of `api` for an operator of `project`, recorded as `actor` in the events
    /// its calls record.
    pub fn new(api: Api, project: &str, actor: &str) -> Result<Local, LocalError> {
        check_project(project).map_err(|problem| LocalError::Project {
            name: project.to_string(),
            problem,
        })?;
        let actor = actor.trim();
        if actor.is_empty() || actor.starts_with("api-key:") {
            return Err(LocalError::Actor(actor.to_string()));
        }
        Ok(Local {
            // The window that asked follows a long request's progress and can cancel it.
            router: crate::router_with(api, None, crate::layers::LOCAL_REQUEST_TIMEOUT),
            operator: Caller {
                key_id: "local".to_string(),
                name: actor.to_string(),
                project: project.to_string(),
                scopes: Scope::ALL.to_vec(),
                actor: actor.to_string(),
            },
        })
    }

    /// The project every call acts in.
    pub fn project(&self) -> &str {
        &self.operator.project
    }

    /// Who the log records as having acted.
    pub fn actor(&self) -> &str {
        &self.operator.actor
    }

    /// `method` (`GET`, `POST`, `PUT`, `PATCH`, `DELETE`) on `path_and_query` (`/v1/…`, with
    /// its query string) with `body` as its JSON body, through the API's routes. Every answer
    /// the API can give comes back as it is (a `4xx`/`5xx` with its problem); input the API
    /// would never see over HTTP is a problem here: `400` for an unknown method, a path that
    /// is not `/v1/…` or a missing body where one is needed, `501` for the event stream.
    pub async fn call(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<serde_json::Value>,
    ) -> LocalResponse {
        self.call_with_progress(method, path_and_query, body, None)
            .await
    }

    /// [`Local::call`] sent with `progress_token` as its `Progress-Token` header: while the
    /// route works, `GET /v1/progress/{token}` answers how far it has come.
    pub async fn call_with_progress(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<serde_json::Value>,
        progress_token: Option<&str>,
    ) -> LocalResponse {
        match self
            .send(method, path_and_query, body, progress_token)
            .await
        {
            Ok(answer) | Err(answer) => answer,
        }
    }

    async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<serde_json::Value>,
        progress_token: Option<&str>,
    ) -> Result<LocalResponse, LocalResponse> {
        let method = parse_method(method)?;
        let uri = parse_path(path_and_query)?;
        let path = uri.path().trim_end_matches('/');
        if STREAMS.contains(&path) {
            return Err(problem(Problem::new(
                StatusCode::NOT_IMPLEMENTED,
                "not-in-process",
                "Not available in process",
                format!(
                    "{path} streams without end, which an in-process call cannot carry: page \
                     the log with GET /v1/events?after=<position> instead"
                ),
            )));
        }
        let has_body = body.is_some();
        let mut request = Request::builder().method(method.clone()).uri(uri.clone());
        if let Some(token) = progress_token {
            if let Some(why) = crate::routes::progress::check_token(token) {
                return Err(problem(Problem::invalid("progress_token", why)));
            }
            request = request.header(crate::routes::progress::HEADER, token);
        }
        let bytes = match body {
            Some(value) => {
                request = request.header(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                serde_json::to_vec(&value).map_err(|e| {
                    problem(Problem::new(
                        StatusCode::BAD_REQUEST,
                        "malformed-json",
                        "Malformed JSON",
                        format!("the body could not be written as JSON: {e}"),
                    ))
                })?
            }
            None => Vec::new(),
        };
        let mut request = request.body(Body::from(bytes)).map_err(|e| {
            problem(Problem::new(
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad request",
                format!("the request could not be made: {e}"),
            ))
        })?;
        request
            .extensions_mut()
            .insert(Operator(self.operator.clone()));
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if content_type.starts_with("text/event-stream") {
            return Err(problem(Problem::new(
                StatusCode::NOT_IMPLEMENTED,
                "not-in-process",
                "Not available in process",
                format!("{path} answers with a stream, which an in-process call cannot carry"),
            )));
        }
        if status == StatusCode::UNSUPPORTED_MEDIA_TYPE && !has_body {
            // The only way to get here in process: a route that reads a body was given none.
            return Err(problem(Problem::new(
                StatusCode::BAD_REQUEST,
                "missing-body",
                "Missing body",
                format!("{method} {path} needs a JSON body: give one as `body`"),
            )));
        }
        let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER_BYTES)
            .await
            .map_err(|e| {
                tracing::error!("reading the answer of {method} {path} in process: {e}");
                problem(Problem::internal())
            })?;
        if bytes.is_empty() {
            return Ok(LocalResponse {
                status: status.as_u16(),
                body: serde_json::Value::Null,
            });
        }
        match serde_json::from_slice(&bytes) {
            Ok(body) => Ok(LocalResponse {
                status: status.as_u16(),
                body,
            }),
            Err(e) => {
                tracing::error!(
                    "{method} {path} answered {status} with a body that is not JSON \
                     ({content_type}): {e}"
                );
                Err(problem(Problem::internal()))
            }
        }
    }
}

/// One of [`METHODS`], exactly.
fn parse_method(method: &str) -> Result<Method, LocalResponse> {
    if !METHODS.contains(&method) {
        return Err(problem(
            Problem::new(
                StatusCode::BAD_REQUEST,
                "unknown-method",
                "Unknown method",
                format!(
                    "unknown method {method:?}: give one of {}",
                    METHODS.join(", ")
                ),
            )
            .field("method"),
        ));
    }
    Method::from_bytes(method.as_bytes()).map_err(|_| {
        problem(Problem::new(
            StatusCode::BAD_REQUEST,
            "unknown-method",
            "Unknown method",
            format!("unknown method {method:?}"),
        ))
    })
}

/// A path under `/v1/`, with its query string, as a request URI.
fn parse_path(path_and_query: &str) -> Result<axum::http::Uri, LocalResponse> {
    let bad = |detail: String| {
        problem(Problem::new(StatusCode::BAD_REQUEST, "bad-path", "Bad path", detail).field("path"))
    };
    if !path_and_query.starts_with("/v1/") {
        return Err(bad(format!(
            "the path {path_and_query:?} is not an API endpoint: in process, paths start with \
             /v1/ (e.g. /v1/rules)"
        )));
    }
    path_and_query
        .parse::<axum::http::uri::PathAndQuery>()
        .map(axum::http::Uri::from)
        .map_err(|e| {
            bad(format!(
                "the path {path_and_query:?} cannot be sent: {e} (encode spaces and other \
                 reserved characters, e.g. with encodeURIComponent)"
            ))
        })
}

/// `p` as an answer.
fn problem(p: Problem) -> LocalResponse {
    let status = p.status;
    let body = serde_json::to_value(&p).unwrap_or_else(|e| {
        tracing::error!("writing a problem as JSON: {e}");
        serde_json::json!({"status": status, "detail": "internal error"})
    });
    LocalResponse { status, body }
}
