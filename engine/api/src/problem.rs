//! RFC 9457 problem details: every 4xx and 5xx the API answers is
//! `application/problem+json` with `type`, `title`, `status`, `detail` and, where one field is
//! at fault, `field`; a rule source that does not compile also has `line` and `column`
//! (extension members, as RFC 9457 allows). A 5xx detail never carries internals.

use std::num::NonZeroU32;

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use ts_rs::TS;

/// Where the problem types are described (`type` is this plus the problem's name).
pub const TYPE_BASE: &str = "https://leadorch.dev/problems/";

/// One field that is wrong, and what is wrong with it (never quoting a personal value).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema, TS)]
pub struct FieldIssue {
    /// A dotted path: `email`, `consent.at`, `attribution.utm_source`.
    pub field: String,
    /// What is wrong.
    pub problem: String,
}

/// One problem answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema, TS)]
pub struct Problem {
    /// `TYPE_BASE` + a short name (`not-found`, `invalid-field`, …); kept as the name.
    #[serde(rename = "type", serialize_with = "type_uri")]
    #[schema(value_type = String)]
    pub kind: &'static str,
    /// A short summary of the type.
    #[schema(value_type = String)]
    pub title: &'static str,
    /// The HTTP status, repeated.
    pub status: u16,
    /// What was wrong with this request, and what to do.
    pub detail: String,
    /// The request field at fault, when one is (the first, when several are).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
    /// Every field at fault, when a request was checked field by field (`POST /v1/leads`).
    /// (Boxed: a problem travels in every handler's `Err`, and is kept small.)
    #[serde(skip_serializing_if = "no_issues")]
    #[ts(optional = nullable)]
    #[schema(value_type = Vec<FieldIssue>)]
    pub errors: Box<Vec<FieldIssue>>,
    /// Where in the field's text the fault is, when it is a rule's source that does not
    /// compile: the 1-based line.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(value_type = Option<u32>, minimum = 1)]
    pub line: Option<NonZeroU32>,
    /// The 1-based column on [`Problem::line`], when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    #[schema(value_type = Option<u32>, minimum = 1)]
    pub column: Option<NonZeroU32>,
    /// Headers sent with the answer (`Retry-After`, `WWW-Authenticate`). (Boxed, as
    /// `errors` is.)
    #[serde(skip)]
    #[schema(ignore)]
    pub headers: Box<Vec<(HeaderName, HeaderValue)>>,
}

impl Problem {
    /// A problem of type `name`.
    pub fn new(
        status: StatusCode,
        name: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Problem {
        Problem {
            kind: name,
            title,
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
            errors: Box::default(),
            line: None,
            column: None,
            headers: Box::default(),
        }
    }

    /// Adds a header to the answer.
    pub fn header(mut self, name: HeaderName, value: &'static str) -> Problem {
        self.headers.push((name, HeaderValue::from_static(value)));
        self
    }

    /// `401`: no key, or not a working one. Says which, never whose.
    pub fn unauthorized(detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Unauthorized",
            detail,
        )
        .header(header::WWW_AUTHENTICATE, "Bearer")
    }

    /// `403`: a working key that may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail)
    }

    /// `404` for a thing of the caller's project that does not exist (or belongs to another
    /// project: the answer is the same, so it confirms nothing).
    pub fn not_found(detail: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// `400`/`422`-style refusal of one field.
    pub fn invalid(field: &str, detail: impl Into<String>) -> Problem {
        Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
            detail,
        )
        .field(field)
    }

    /// `503`: the database cannot be reached now; try again shortly. A write cut off while
    /// committing may have been stored: sending it again with the same ids (`lead_id`) or
    /// `Idempotency-Key` never records it twice (ADR 0028).
    pub fn unavailable() -> Problem {
        Problem::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the database cannot be reached right now; retry after the time in Retry-After (a write is not recorded twice when sent again with the same ids or Idempotency-Key)",
        )
        .header(header::RETRY_AFTER, "2")
    }

    /// The problem for a store error: the database being away
    /// ([`leadorch_store::StoreError::is_unavailable`], a closed pool, a stopped writer) is a
    /// `503` with `Retry-After`; anything else an internal error (logged here, never sent).
    pub fn from_store(e: &leadorch_store::StoreError) -> Problem {
        use leadorch_store::StoreError as E;
        let away = e.is_unavailable()
            || matches!(e, E::WriterStopped)
            || matches!(e, E::Database(err) if matches!(**err, sqlx::Error::PoolClosed));
        match e {
            _ if away => {
                // One line every 10 s at most: while the database is away every request
                // would say the same.
                static SAID: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
                let now = chrono::Utc::now().timestamp();
                let last = SAID.load(std::sync::atomic::Ordering::Relaxed);
                if now - last >= 10
                    && SAID
                        .compare_exchange(
                            last,
                            now,
                            std::sync::atomic::Ordering::Relaxed,
                            std::sync::atomic::Ordering::Relaxed,
                        )
                        .is_ok()
                {
                    tracing::warn!("the database is away; answering 503 with Retry-After: {e}");
                }
                Problem::unavailable()
            }
            other => {
                tracing::error!("internal error answering a request: {other}");
                Problem::internal()
            }
        }
    }

    /// Names the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
        self
    }

    /// Says where in the field's text the fault is (1-based; an unknown or zero line or
    /// column is left out).
    pub fn at(mut self, line: Option<usize>, column: Option<usize>) -> Problem {
        let one_based = |n: Option<usize>| n.and_then(|n| u32::try_from(n).ok()?.try_into().ok());
        self.line = one_based(line);
        self.column = self.line.and(one_based(column));
        self
    }

    /// An internal failure: the detail says only that it happened and what to do; what went
    /// wrong goes to the server's log, never to the client.
    pub fn internal() -> Problem {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "the server failed to answer this request; it was logged, and nothing was stored; try again",
        )
    }
}

#[allow(clippy::borrowed_box)] // serde hands the field as it is
fn no_issues(errors: &Box<Vec<FieldIssue>>) -> bool {
    errors.is_empty()
}

fn type_uri<S: serde::Serializer>(name: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{TYPE_BASE}{name}"))
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        for (name, value) in *self.headers {
            response.headers_mut().insert(name, value);
        }
        response
    }
}

/// The problem for an engine error: a command the domain refused is a `422` with its reason;
/// the store's errors as [`Problem::from_store`].
pub fn from_engine(e: &leadorch_core::Error) -> Problem {
    match e {
        leadorch_core::Error::Store(s) => Problem::from_store(s),
        leadorch_core::Error::Rejected { message, .. } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "rejected",
            "Rejected",
            message.clone(),
        ),
        other => {
            tracing::error!("internal error answering a request: {other}");
            Problem::internal()
        }
    }
}
