//! Google's error envelope: `{"error":{"code","message","status","details":[GoogleAdsFailure]}}`.

use axum::http::StatusCode;
use serde_json::{json, Map, Value};

/// `@type` of the GoogleAdsFailure detail.
pub(crate) const FAILURE_TYPE: &str =
    "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure";

/// One `GoogleAdsError`.
#[derive(Debug, Clone)]
pub(crate) struct AdsErr {
    family: &'static str,
    code: &'static str,
    message: String,
    location: Vec<(String, Option<usize>)>,
    details: Option<Value>,
}

impl AdsErr {
    pub(crate) fn new(
        family: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        AdsErr {
            family,
            code,
            message: message.into(),
            location: Vec::new(),
            details: None,
        }
    }

    /// Adds `{"fieldName": name, "index"?: index}` at the end of the location path.
    pub(crate) fn at(mut self, field: &str, index: Option<usize>) -> Self {
        self.location.push((field.to_owned(), index));
        self
    }

    /// Puts `{"fieldName":"operations","index":i}` first in the location path.
    pub(crate) fn in_operation(mut self, index: usize) -> Self {
        self.location
            .insert(0, ("operations".to_owned(), Some(index)));
        self
    }

    pub(crate) fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub(crate) fn to_json(&self) -> Value {
        let mut error_code = Map::new();
        error_code.insert(self.family.to_owned(), Value::String(self.code.to_owned()));
        let mut e = json!({"errorCode": error_code, "message": self.message});
        if !self.location.is_empty() {
            let elements: Vec<Value> = self
                .location
                .iter()
                .map(|(name, index)| match index {
                    Some(i) => json!({"fieldName": name, "index": i}),
                    None => json!({"fieldName": name}),
                })
                .collect();
            e["location"] = json!({ "fieldPathElements": elements });
        }
        if let Some(d) = &self.details {
            e["details"] = d.clone();
        }
        e
    }
}

/// A whole failed request: HTTP status, canonical status name and the Ads errors.
#[derive(Debug, Clone)]
pub(crate) struct ApiFailure {
    pub(crate) http: StatusCode,
    pub(crate) errors: Vec<AdsErr>,
}

impl ApiFailure {
    pub(crate) fn new(http: StatusCode, errors: Vec<AdsErr>) -> Self {
        ApiFailure { http, errors }
    }

    pub(crate) fn one(http: StatusCode, error: AdsErr) -> Self {
        ApiFailure::new(http, vec![error])
    }

    pub(crate) fn invalid(errors: Vec<AdsErr>) -> Self {
        ApiFailure::new(StatusCode::BAD_REQUEST, errors)
    }

    /// The envelope Google sends, with the failure detail carrying `request_id`.
    pub(crate) fn envelope(&self, request_id: &str) -> Value {
        let (status, message) = canonical(self.http);
        json!({"error": {
            "code": self.http.as_u16(),
            "message": message,
            "status": status,
            "details": [failure_detail(&self.errors, request_id)],
        }})
    }
}

/// A `GoogleAdsFailure` packed in an `Any`.
pub(crate) fn failure_detail(errors: &[AdsErr], request_id: &str) -> Value {
    json!({
        "@type": FAILURE_TYPE,
        "errors": errors.iter().map(AdsErr::to_json).collect::<Vec<_>>(),
        "requestId": request_id,
    })
}

/// The google.rpc canonical status and Google's message for an HTTP status.
fn canonical(http: StatusCode) -> (&'static str, &'static str) {
    match http.as_u16() {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, \
             login cookie or other valid authentication credential. See \
             https://developers.google.com/identity/sign-in/web/devconsole-project.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission"),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        503 => ("UNAVAILABLE", "The service is currently unavailable."),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        _ => ("INTERNAL", "Internal error encountered."),
    }
}
