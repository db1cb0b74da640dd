//! RFC 9457 problem details: every 4xx and 5xx the API answers is
//! `application/problem+json` with `type`, `title`, `status`, `detail` and, where one field is
//! at fault, `field`. A 5xx detail never carries internals.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Where the problem types are described (`type` is this plus the problem's name).
pub const TYPE_BASE: &str = "https://leadorch.dev/problems/";

/// One problem answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `TYPE_BASE` + a short name (`not-found`, `invalid-field`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the type.
    pub title: String,
    /// The HTTP status, repeated.
    pub status: u16,
    /// What was wrong with this request, and what to do.
    pub detail: String,
    /// The request field at fault, when one is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl Problem {
    /// A problem of type `name`.
    pub fn new(status: StatusCode, name: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("{TYPE_BASE}{name}"),
            title: title.to_string(),
            status: status.as_u16(),
            detail: detail.into(),
            field: None,
        }
    }

    /// Names the field at fault.
    pub fn field(mut self, field: impl Into<String>) -> Problem {
        self.field = Some(field.into());
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

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self).unwrap_or_default();
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}
