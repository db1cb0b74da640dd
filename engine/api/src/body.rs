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

/// Parses `bytes` as `T`, naming the field at fault. The body must be one JSON object (serde
/// would also read a struct from an array of its fields in order; a request is named fields
/// only) with no name twice and nothing after it, and a whole number written with a fraction
/// (`12.0`) is that whole number, as JSON Schema's `integer` says it is.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let malformed = |inner: &dyn std::fmt::Display| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "malformed-json",
            "Malformed JSON",
            format!("the body is not JSON: {inner}"),
        )
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = match serde_path_to_error::deserialize::<_, Strict>(&mut de) {
        Ok(Strict(value)) => value,
        Err(e) if e.inner().is_syntax() || e.inner().is_eof() => return Err(malformed(e.inner())),
        Err(e) => {
            let path = e.path().to_string();
            return Err(field_problem(&path, &e.into_inner().to_string()));
        }
    };
    de.end().map_err(|e| malformed(&e))?;
    if !value.is_object() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-field",
            "Invalid field",
            format!(
                "the body must be a JSON object of named fields, not {}",
                kind(&value)
            ),
        ));
    }
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        field_problem(&path, &e.into_inner().to_string())
    })
}

/// The `422` for a wrong value at `path` (`.` for the body itself).
fn field_problem(path: &str, message: &str) -> Problem {
    let message = strip_position(message);
    let field = named_field(if path == "." { "" } else { path }, &message);
    let mut p = Problem::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid-field",
        "Invalid field",
        if field.is_empty()
            || message.contains(&format!("`{}`", field.rsplit('.').next().unwrap_or("")))
        {
            message
        } else {
            format!("{field}: {message}")
        },
    );
    if !field.is_empty() {
        p = p.field(field);
    }
    p
}

/// Any JSON value, read strictly: an object naming a field twice is refused (as serde's derive
/// refuses it), and a whole number written with a fraction becomes an integer.
struct Strict(serde_json::Value);

impl<'de> serde::Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Strict, D::Error> {
        d.deserialize_any(StrictVisitor).map(Strict)
    }
}

struct StrictVisitor;

impl<'de> serde::de::Visitor<'de> for StrictVisitor {
    type Value = serde_json::Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }

    fn visit_i64<E>(self, v: i64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }

    fn visit_u64<E>(self, v: u64) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }

    fn visit_f64<E>(self, v: f64) -> Result<serde_json::Value, E> {
        Ok(whole(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }

    fn visit_string<E>(self, v: String) -> Result<serde_json::Value, E> {
        Ok(v.into())
    }

    fn visit_unit<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_none<E>(self) -> Result<serde_json::Value, E> {
        Ok(serde_json::Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<serde_json::Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(
        self,
        mut seq: A,
    ) -> Result<serde_json::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            items.push(v);
        }
        Ok(serde_json::Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut map: A,
    ) -> Result<serde_json::Value, A::Error> {
        let mut object = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("duplicate field `{key}`")));
            }
            let Strict(v) = map.next_value()?;
            object.insert(key, v);
        }
        Ok(serde_json::Value::Object(object))
    }
}

/// `f` as an integer when it is whole and in range (`12.0`, `1e3`), else as it is.
fn whole(f: f64) -> serde_json::Value {
    if f.is_finite() && f.fract() == 0.0 {
        // 2^64 and -2^63 are exact in f64; within them the cast is exact too.
        if (0.0..18_446_744_073_709_551_616.0).contains(&f) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            return serde_json::Value::from(f as u64);
        }
        if (-9_223_372_036_854_775_808.0..0.0).contains(&f) {
            #[allow(clippy::cast_possible_truncation)]
            return serde_json::Value::from(f as i64);
        }
    }
    serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, serde_json::Value::Number)
}

/// What a JSON value is, for messages.
fn kind(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// The field a message is about: serde names a missing field in the message, with the path
/// pointing at the object that should hold it (an unknown field's path is the field's own).
fn named_field(path: &str, message: &str) -> String {
    let named = message
        .strip_prefix("missing field `")
        .or_else(|| message.strip_prefix("duplicate field `"))
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
/// or JSON `null` (what the description allows: the body's schema is nullable) is
/// `T::default()`; anything else is read as [`Body`] reads it.
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
        if bytes.trim_ascii() == b"null" {
            return Ok(OptionalBody(T::default()));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Member {
        name: Option<String>,
        max_open_leads: Option<u32>,
        load: Option<f64>,
    }

    #[test]
    fn a_body_is_an_object_whose_whole_numbers_may_be_written_with_a_fraction() {
        let m: Member = parse(br#"{"max_open_leads": 12.0, "load": 2.0}"#).unwrap();
        assert_eq!(m.max_open_leads, Some(12));
        assert_eq!(m.load, Some(2.0));
        let m: Member = parse(br#"{"max_open_leads": 1e3, "load": 0.5}"#).unwrap();
        assert_eq!(m.max_open_leads, Some(1000));
        assert_eq!(m.load, Some(0.5));
        let p = parse::<Member>(br#"{"max_open_leads": 1.5}"#).unwrap_err();
        assert_eq!(
            (p.status, p.field.as_deref()),
            (422, Some("max_open_leads"))
        );
        let p = parse::<Member>(br#"{"max_open_leads": -1.0}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("max_open_leads"));
        // serde would read a struct from an array of its fields; a request is named fields.
        for body in [&b"[null, null, null]"[..], b"null", b"3", b"\"x\""] {
            let p = parse::<Member>(body).unwrap_err();
            assert_eq!(p.status, 422, "{p:?}");
            assert!(p.detail.contains("JSON object"), "{p:?}");
        }
        let p = parse::<Member>(b"{").unwrap_err();
        assert_eq!(p.status, 400);
        let p = parse::<Member>(br#"{"name": "a"} {"#).unwrap_err();
        assert_eq!(p.status, 400, "nothing after the object");
        let p = parse::<Member>(br#"{"name": "a", "name": "b"}"#).unwrap_err();
        assert_eq!((p.status, p.field.as_deref()), (422, Some("name")), "{p:?}");
        assert!(p.detail.contains("duplicate field"), "{p:?}");
        let p = parse::<Member>(br#"{"nmae": "x"}"#).unwrap_err();
        assert_eq!(p.field.as_deref(), Some("nmae"));
    }
}
