//! Reading a JSON body: anything wrong with it is a `400`/`415`/`422` problem that names
//! where (the field's path, or the line and column of a syntax error), never axum's plain-text
//! rejection.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;

use crate::Problem;

/// A JSON request body of type `T`.
#[derive(Debug)]
pub struct Body<T>(pub T);

/// Parses `bytes` as `T`, naming the field at fault.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                Err(Problem::new(
                    StatusCode::BAD_REQUEST,
                    "malformed-json",
                    "Malformed JSON",
                    format!("the body is not JSON: {inner}"),
                ))
            } else {
                let message = strip_position(&inner.to_string());
                let field = named_field(if path == "." { "" } else { &path }, &message);
                let mut p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-field",
                    "Invalid field",
                    if field.is_empty()
                        || message
                            .contains(&format!("`{}`", field.rsplit('.').next().unwrap_or("")))
                    {
                        message
                    } else {
                        format!("{field}: {message}")
                    },
                );
                if !field.is_empty() {
                    p = p.field(field);
                }
                Err(p)
            }
        }
    }
}

/// The field a message is about: serde names a missing field in the message, with the path
/// pointing at the object that should hold it (an unknown field's path is the field's own).
fn named_field(path: &str, message: &str) -> String {
    let named = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    match (named, path.is_empty()) {
        (Some(name), true) => name.to_string(),
        (Some(name), false) => format!("{path}.{name}"),
        (None, _) => path.to_string(),
    }
}

/// serde_json ends messages with " at line 1 column 17", which means nothing to a caller
/// whose field is already named.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Body<T>, Problem> {
        check_json(req.headers())?;
        let bytes = read(req, state).await?;
        parse(&bytes).map(Body)
    }
}

/// A JSON request body that may be left out: an empty body (with any content type, or none)
/// is `T::default()`; anything else is read as [`Body`] reads it.
#[derive(Debug)]
pub struct OptionalBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalBody<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<OptionalBody<T>, Problem> {
        let json = check_json(req.headers());
        let bytes = read(req, state).await?;
        if bytes.is_empty() {
            return Ok(OptionalBody(T::default()));
        }
        json?;
        parse(&bytes).map(OptionalBody)
    }
}

/// A JSON body's bytes, for a handler that reads them its own way (`POST /v1/leads` lists every
/// wrong field at once): the content type checked, and a body too large or cut short a
/// problem, as [`Body`] does.
#[derive(Debug)]
pub struct JsonBytes(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for JsonBytes {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<JsonBytes, Problem> {
        check_json(req.headers())?;
        read(req, state).await.map(JsonBytes)
    }
}

/// The body's bytes; one too large or cut short is a problem.
async fn read<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(req, state).await.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::new(
                status,
                "too-large",
                "Body too large",
                format!(
                    "the body is larger than {} bytes; nothing was stored",
                    crate::MAX_BODY_BYTES
                ),
            )
        } else {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "unreadable-body",
                "Unreadable body",
                "the body could not be read (cut short?); nothing was stored",
            )
        }
    })
}

/// `Ok` when the request says its body is JSON (`application/json` or `application/…+json`),
/// else a `415` problem.
fn check_json(headers: &axum::http::HeaderMap) -> Result<(), Problem> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| {
            let v = v.trim();
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
        .unwrap_or(false);
    if json {
        Ok(())
    } else {
        Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
            "Unsupported media type",
            "send the body as JSON with `Content-Type: application/json`",
        ))
    }
}

/// Query parameters of type `T`; a wrong one is a `422` problem naming it.
#[derive(Debug)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Params<T>, Problem> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(de)
            .map(Params)
            .map_err(|e| {
                let field = e.path().to_string();
                let message = e.into_inner().to_string();
                // A missing parameter is named in the message, the path pointing at the whole.
                let field = match message
                    .strip_prefix("missing field `")
                    .and_then(|rest| rest.split('`').next())
                {
                    Some(named) if field == "." => named.to_string(),
                    _ => field,
                };
                let p = Problem::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid-parameter",
                    "Invalid query parameter",
                    if field == "." {
                        message
                    } else {
                        format!("{field}: {message}")
                    },
                );
                if field == "." {
                    p
                } else {
                    p.field(field)
                }
            })
    }
}
