//! Typed errors of the client, read from Google's error envelope.

use std::time::Duration;

use serde_json::Value;

use crate::wire::{parse_duration, ErrorEnvelope, GoogleAdsErrorWire, GoogleAdsFailure, RpcStatus};

/// Result of client calls.
pub type Result<T, E = AdsError> = std::result::Result<T, E>;

/// Failure of the access-token source ([`crate::AccessTokens`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The grant is gone (`invalid_grant`, revoked, expired testing app): a person must
    /// consent again. Never retried.
    #[error("consent needed again: {reason}")]
    ReconsentNeeded {
        /// Why, without any token.
        reason: String,
    },
    /// The token endpoint or store could not answer now; retried with backoff.
    #[error("token service unavailable: {message}")]
    Unavailable {
        /// What went wrong, without any token.
        message: String,
    },
}

/// One `GoogleAdsError` of a failure, flattened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdsFailureDetail {
    /// Error family, the key of `errorCode` (`requestError`, `campaignError`, …).
    pub family: String,
    /// The code within the family (`INVALID_ENUM_VALUE`, …).
    pub code: String,
    /// Google's message.
    pub message: String,
    /// Location as `operations[0].update.status`, when Google gave one.
    pub field_path: Option<String>,
}

impl AdsFailureDetail {
    pub(crate) fn from_wire(e: &GoogleAdsErrorWire) -> Self {
        let (family, code) = e
            .error_code
            .iter()
            .next()
            .map(|(k, v)| {
                let code = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), code)
            })
            .unwrap_or_default();
        let field_path = e.location.as_ref().and_then(|loc| {
            let mut out = String::new();
            for el in &loc.field_path_elements {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&el.field_name);
                if let Some(i) = el.index {
                    out.push_str(&format!("[{i}]"));
                }
            }
            (!out.is_empty()).then_some(out)
        });
        Self {
            family,
            code,
            message: e.message.clone(),
            field_path,
        }
    }

    /// Index of the operation this error belongs to (`operations[N]` in its location).
    pub(crate) fn operation_index_in(e: &GoogleAdsErrorWire) -> Option<usize> {
        e.location
            .as_ref()?
            .field_path_elements
            .iter()
            .find(|el| el.field_name == "operations")
            .and_then(|el| el.index)
            .and_then(|i| usize::try_from(i).ok())
    }
}

impl std::fmt::Display for AdsFailureDetail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.family, self.code)?;
        if let Some(p) = &self.field_path {
            write!(f, " at {p}")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

/// One failed operation of a partially failed mutation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationFailure {
    /// Index of the operation in the request.
    pub operation_index: usize,
    /// What failed.
    pub error: AdsFailureDetail,
}

/// The code Google's 401 carries when there is no GoogleAdsFailure detail.
pub const UNAUTHENTICATED: &str = "UNAUTHENTICATED";

/// Errors of the Google Ads client. Each notes which HTTP answers map to it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AdsError {
    /// `quotaError` (usually HTTP 429). `RESOURCE_EXHAUSTED` is the daily operations quota
    /// (`daily: true`, never retried); `RESOURCE_TEMPORARILY_EXHAUSTED` is a rate limit
    /// (retried after `retry_delay` or backoff). A 429 without detail counts as a rate limit.
    #[error("quota exhausted ({}){}", if *daily { "daily" } else { "rate" }, rid(request_id))]
    Quota {
        /// The daily quota (wait for the next day) rather than a rate.
        daily: bool,
        /// Google's `retryDelay`.
        retry_delay: Option<Duration>,
        /// Google's request id.
        request_id: Option<String>,
    },
    /// `authenticationError` (HTTP 401): `OAUTH_TOKEN_EXPIRED` (refreshed once and retried),
    /// `OAUTH_TOKEN_REVOKED`, `NOT_ADS_USER`, `CUSTOMER_NOT_FOUND`, … A 401 without detail
    /// has code [`UNAUTHENTICATED`] and is treated like an expired token.
    #[error("authentication failed: {code}{}", rid(request_id))]
    Authentication {
        /// The authenticationError code.
        code: String,
        /// Google's request id.
        request_id: Option<String>,
    },
    /// `authorizationError` (HTTP 403): `USER_PERMISSION_DENIED` (often a missing
    /// `login-customer-id`), `CUSTOMER_NOT_ENABLED`, … Never retried.
    #[error("not authorized: {code}{}", rid(request_id))]
    Authorization {
        /// The authorizationError code.
        code: String,
        /// Google's request id.
        request_id: Option<String>,
    },
    /// `internalError` (`INTERNAL_ERROR`, `TRANSIENT_ERROR`, `DEADLINE_EXCEEDED`) or a 5xx
    /// JSON envelope without detail (code is then the status name). Retried.
    #[error("Google Ads internal error: {code}{}", rid(request_id))]
    Internal {
        /// The internalError code or status name.
        code: String,
        /// Google's request id.
        request_id: Option<String>,
    },
    /// Any other family (`requestError`, `fieldError`, `mutateError`, `campaignError`, …),
    /// usually HTTP 400: the request itself is wrong. Never retried.
    #[error("request rejected: {}{}", list(errors), rid(request_id))]
    Request {
        /// Every error Google reported.
        errors: Vec<AdsFailureDetail>,
        /// Google's request id.
        request_id: Option<String>,
    },
    /// A non-JSON answer (e.g. an HTML 502 from a proxy). Retried for 408, 429 and 5xx.
    #[error("HTTP {status}: {body_excerpt}")]
    Http {
        /// HTTP status.
        status: u16,
        /// The start of the body, whitespace collapsed (never the request).
        body_excerpt: String,
        /// The `request-id` header, if any.
        request_id: Option<String>,
    },
    /// Connect failure, reset connection or timeout. Retried.
    #[error("transport error{}: {message}", if *timed_out { " (timed out)" } else { "" })]
    Transport {
        /// What happened (no URL, no headers).
        message: String,
        /// The request timed out.
        timed_out: bool,
    },
    /// The token source failed; `ReconsentNeeded` is never retried.
    #[error(transparent)]
    Token(#[from] TokenError),
    /// Our own validation refused the input before anything was sent. Never retried.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A 2xx answer this client could not read (not JSON, or rows without the selected
    /// fields). Never retried: the same answer would come back.
    #[error("unreadable {rpc} answer: {message}")]
    Decode {
        /// The RPC (see [`crate::capture::rpc`]).
        rpc: &'static str,
        /// What was wrong, without the body.
        message: String,
    },
}

fn rid(request_id: &Option<String>) -> String {
    request_id
        .as_ref()
        .map(|r| format!(" [request id {r}]"))
        .unwrap_or_default()
}

fn list(errors: &[AdsFailureDetail]) -> String {
    if errors.is_empty() {
        return "(no detail)".into();
    }
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

impl AdsError {
    /// Google's request id, when the answer carried one.
    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Quota { request_id, .. }
            | Self::Authentication { request_id, .. }
            | Self::Authorization { request_id, .. }
            | Self::Internal { request_id, .. }
            | Self::Request { request_id, .. }
            | Self::Http { request_id, .. } => request_id.as_deref(),
            Self::Transport { .. } | Self::Token(_) | Self::Invalid(_) | Self::Decode { .. } => {
                None
            }
        }
    }

    /// Whether trying the same call again later may succeed (Google's retry guidance).
    /// A 401 that only needs a token refresh is not "retryable" here; see
    /// [`Self::wants_token_refresh`].
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Quota { daily, .. } => !daily,
            Self::Internal { .. } | Self::Transport { .. } => true,
            Self::Http { status, .. } => matches!(status, 408 | 429 | 500..=599),
            Self::Token(TokenError::Unavailable { .. }) => true,
            Self::Token(TokenError::ReconsentNeeded { .. })
            | Self::Authentication { .. }
            | Self::Authorization { .. }
            | Self::Request { .. }
            | Self::Invalid(_)
            | Self::Decode { .. } => false,
        }
    }

    /// A 401 that a fresh access token may fix: `OAUTH_TOKEN_EXPIRED` or no detail.
    pub fn wants_token_refresh(&self) -> bool {
        match self {
            // A revoked access token may belong to a live grant (only the token was revoked)
            // or to an ended one: one refresh tells, and lets the token source record that
            // consent is needed again.
            Self::Authentication { code, .. } => {
                code == "OAUTH_TOKEN_EXPIRED"
                    || code == "OAUTH_TOKEN_REVOKED"
                    || code == UNAUTHENTICATED
            }
            Self::Http { status, .. } => *status == 401,
            _ => false,
        }
    }

    /// The server's `retryDelay`, when it sent one.
    pub fn retry_delay(&self) -> Option<Duration> {
        match self {
            Self::Quota { retry_delay, .. } => *retry_delay,
            _ => None,
        }
    }

    /// Builds the error for a non-2xx answer from its status, `request-id` header and body.
    pub fn from_response(status: u16, header_request_id: Option<&str>, body: &str) -> Self {
        match serde_json::from_str::<Value>(body) {
            Ok(v) => match error_status_in(&v) {
                Some(st) => Self::from_status(status, header_request_id, &st),
                None => Self::http(status, header_request_id, body),
            },
            Err(_) => Self::http(status, header_request_id, body),
        }
    }

    fn http(status: u16, header_request_id: Option<&str>, body: &str) -> Self {
        Self::Http {
            status,
            body_excerpt: excerpt(body, 200),
            request_id: header_request_id.map(str::to_owned),
        }
    }

    /// Builds the error from a parsed `google.rpc.Status` of an HTTP answer with `status`.
    pub fn from_status(status: u16, header_request_id: Option<&str>, st: &RpcStatus) -> Self {
        let failure = st.ads_failure();
        let request_id = failure
            .as_ref()
            .and_then(|f| f.request_id.clone())
            .filter(|r| !r.is_empty())
            .or_else(|| header_request_id.map(str::to_owned));
        let Some(failure) = failure.filter(|f| !f.errors.is_empty()) else {
            return Self::without_detail(status, st, request_id);
        };
        classify_failure(&failure, request_id)
    }

    fn without_detail(status: u16, st: &RpcStatus, request_id: Option<String>) -> Self {
        let name = if st.status.is_empty() {
            format!("HTTP_{status}")
        } else {
            st.status.clone()
        };
        match status {
            429 => Self::Quota {
                daily: false,
                retry_delay: None,
                request_id,
            },
            401 => Self::Authentication {
                code: UNAUTHENTICATED.into(),
                request_id,
            },
            403 => Self::Authorization {
                code: name,
                request_id,
            },
            500..=599 => Self::Internal {
                code: name,
                request_id,
            },
            _ => Self::Request {
                errors: vec![AdsFailureDetail {
                    family: "status".into(),
                    code: name,
                    message: st.message.clone(),
                    field_path: None,
                }],
                request_id,
            },
        }
    }
}

/// Picks the variant from the errors of a GoogleAdsFailure; quota, authentication,
/// authorization and internal families win over the rest.
fn classify_failure(failure: &GoogleAdsFailure, request_id: Option<String>) -> AdsError {
    let details: Vec<AdsFailureDetail> = failure
        .errors
        .iter()
        .map(AdsFailureDetail::from_wire)
        .collect();
    for (wire, d) in failure.errors.iter().zip(&details) {
        match d.family.as_str() {
            "quotaError" => {
                let retry_delay = wire
                    .details
                    .as_ref()
                    .and_then(|x| x.quota_error_details.as_ref())
                    .and_then(|q| q.retry_delay.as_ref())
                    .and_then(parse_duration);
                return AdsError::Quota {
                    daily: d.code == "RESOURCE_EXHAUSTED",
                    retry_delay,
                    request_id,
                };
            }
            "authenticationError" => {
                return AdsError::Authentication {
                    code: d.code.clone(),
                    request_id,
                }
            }
            "authorizationError" => {
                return AdsError::Authorization {
                    code: d.code.clone(),
                    request_id,
                }
            }
            "internalError" => {
                return AdsError::Internal {
                    code: d.code.clone(),
                    request_id,
                }
            }
            _ => {}
        }
    }
    AdsError::Request {
        errors: details,
        request_id,
    }
}

/// The error status in a body: `{"error": {...}}`, or the first `{"error": …}` element of a
/// searchStream array.
pub(crate) fn error_status_in(v: &Value) -> Option<RpcStatus> {
    match v {
        Value::Object(o) if o.contains_key("error") => {
            serde_json::from_value::<ErrorEnvelope>(v.clone())
                .ok()
                .map(|e| e.error)
        }
        Value::Array(items) => items.iter().find_map(|i| match i {
            Value::Object(o) if o.contains_key("error") => error_status_in(i),
            _ => None,
        }),
        _ => None,
    }
}

/// Reads `partialFailureError` into per-operation failures.
pub(crate) fn operation_failures(st: &RpcStatus) -> Vec<OperationFailure> {
    let Some(failure) = st.ads_failure() else {
        if st.code == 0 && st.message.is_empty() {
            return Vec::new();
        }
        // A status without detail: one failure we cannot pin to an operation.
        return vec![OperationFailure {
            operation_index: 0,
            error: AdsFailureDetail {
                family: "status".into(),
                code: if st.status.is_empty() {
                    format!("CODE_{}", st.code)
                } else {
                    st.status.clone()
                },
                message: st.message.clone(),
                field_path: None,
            },
        }];
    };
    failure
        .errors
        .iter()
        .map(|e| OperationFailure {
            operation_index: AdsFailureDetail::operation_index_in(e).unwrap_or(0),
            error: AdsFailureDetail::from_wire(e),
        })
        .collect()
}

/// The first `max` characters of a body with whitespace collapsed and control characters
/// dropped, for error messages about non-JSON answers.
pub(crate) fn excerpt(body: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in body.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
            count += 1;
        }
        for c in word.chars().filter(|c| !c.is_control()) {
            if count >= max {
                out.push('…');
                return out;
            }
            out.push(c);
            count += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FAILURE: &str = "type.googleapis.com/google.ads.googleads.v26.errors.GoogleAdsFailure";

    fn envelope(code: u16, status: &str, family: &str, ecode: &str, extra: Value) -> String {
        let mut err = json!({"errorCode": {family: ecode}, "message": "m"});
        if let Value::Object(extra) = extra {
            err.as_object_mut().unwrap().extend(extra);
        }
        json!({"error": {"code": code, "message": "msg", "status": status, "details": [
            {"@type": FAILURE, "errors": [err], "requestId": "req-1"}]}})
        .to_string()
    }

    #[test]
    fn rate_quota_with_retry_delay() {
        let body = envelope(
            429,
            "RESOURCE_EXHAUSTED",
            "quotaError",
            "RESOURCE_TEMPORARILY_EXHAUSTED",
            json!({"location": {"fieldPathElements": [{"fieldName": "operations", "index": 0}]},
                   "details": {"quotaErrorDetails": {"rateScope": "ACCOUNT", "rateName": "r", "retryDelay": "30s"}}}),
        );
        let e = AdsError::from_response(429, Some("hdr"), &body);
        assert_eq!(
            e,
            AdsError::Quota {
                daily: false,
                retry_delay: Some(Duration::from_secs(30)),
                request_id: Some("req-1".into())
            }
        );
        assert!(e.is_retryable());
        assert_eq!(e.request_id(), Some("req-1"));
    }

    #[test]
    fn daily_quota_is_not_retryable() {
        let body = envelope(
            429,
            "RESOURCE_EXHAUSTED",
            "quotaError",
            "RESOURCE_EXHAUSTED",
            json!({}),
        );
        let e = AdsError::from_response(429, None, &body);
        assert!(matches!(
            e,
            AdsError::Quota {
                daily: true,
                retry_delay: None,
                ..
            }
        ));
        assert!(!e.is_retryable());
    }

    #[test]
    fn authentication_codes() {
        let expired = AdsError::from_response(
            401,
            None,
            &envelope(
                401,
                "UNAUTHENTICATED",
                "authenticationError",
                "OAUTH_TOKEN_EXPIRED",
                json!({}),
            ),
        );
        assert_eq!(
            expired,
            AdsError::Authentication {
                code: "OAUTH_TOKEN_EXPIRED".into(),
                request_id: Some("req-1".into())
            }
        );
        assert!(expired.wants_token_refresh() && !expired.is_retryable());
        for code in ["NOT_ADS_USER", "CUSTOMER_NOT_FOUND"] {
            let e = AdsError::from_response(
                401,
                None,
                &envelope(
                    401,
                    "UNAUTHENTICATED",
                    "authenticationError",
                    code,
                    json!({}),
                ),
            );
            assert!(matches!(&e, AdsError::Authentication { code: c, .. } if c == code));
            assert!(!e.wants_token_refresh() && !e.is_retryable());
        }
        // A bare 401 envelope: refresh once.
        let bare = AdsError::from_response(
            401,
            Some("h-1"),
            r#"{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}"#,
        );
        assert_eq!(
            bare,
            AdsError::Authentication {
                code: UNAUTHENTICATED.into(),
                request_id: Some("h-1".into())
            }
        );
        assert!(bare.wants_token_refresh());
    }

    #[test]
    fn authorization_and_internal() {
        let denied = AdsError::from_response(
            403,
            None,
            &envelope(
                403,
                "PERMISSION_DENIED",
                "authorizationError",
                "USER_PERMISSION_DENIED",
                json!({}),
            ),
        );
        assert!(
            matches!(&denied, AdsError::Authorization { code, .. } if code == "USER_PERMISSION_DENIED")
        );
        assert!(!denied.is_retryable());
        for code in ["INTERNAL_ERROR", "TRANSIENT_ERROR", "DEADLINE_EXCEEDED"] {
            let e = AdsError::from_response(
                500,
                None,
                &envelope(500, "INTERNAL", "internalError", code, json!({})),
            );
            assert!(matches!(&e, AdsError::Internal { code: c, .. } if c == code));
            assert!(e.is_retryable());
        }
        let unavailable = AdsError::from_response(
            503,
            None,
            r#"{"error":{"code":503,"message":"The service is currently unavailable.","status":"UNAVAILABLE"}}"#,
        );
        assert!(matches!(&unavailable, AdsError::Internal { code, .. } if code == "UNAVAILABLE"));
    }

    #[test]
    fn request_errors_keep_every_detail() {
        let body =
            json!({"error": {"code": 400, "message": "Request contains an invalid argument.",
            "status": "INVALID_ARGUMENT", "details": [{"@type": FAILURE, "errors": [
                {"errorCode": {"requestError": "INVALID_ENUM_VALUE"}, "message": "bad enum",
                 "location": {"fieldPathElements": [{"fieldName": "operations", "index": 0},
                    {"fieldName": "update"}, {"fieldName": "status"}]}},
                {"errorCode": {"fieldError": "REQUIRED"}, "message": "missing"}],
              "requestId": "abc"}]}})
            .to_string();
        let e = AdsError::from_response(400, None, &body);
        let AdsError::Request { errors, request_id } = &e else {
            panic!("{e:?}")
        };
        assert_eq!(request_id.as_deref(), Some("abc"));
        assert_eq!(
            errors[0],
            AdsFailureDetail {
                family: "requestError".into(),
                code: "INVALID_ENUM_VALUE".into(),
                message: "bad enum".into(),
                field_path: Some("operations[0].update.status".into())
            }
        );
        assert_eq!(errors[1].family, "fieldError");
        assert_eq!(errors[1].field_path, None);
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("requestError.INVALID_ENUM_VALUE"));
    }

    #[test]
    fn html_502_keeps_a_short_excerpt() {
        let html = format!(
            "<!DOCTYPE html>\n<html>\n  <head><title>502 Bad Gateway</title></head>\n<body>{}</body></html>",
            "x".repeat(5000)
        );
        let e = AdsError::from_response(502, Some("rid-9"), &html);
        let AdsError::Http {
            status,
            body_excerpt,
            request_id,
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(*status, 502);
        assert!(body_excerpt.starts_with("<!DOCTYPE html> <html> <head><title>502 Bad Gateway"));
        assert!(body_excerpt.chars().count() <= 201);
        assert_eq!(request_id.as_deref(), Some("rid-9"));
        assert!(e.is_retryable());
        assert!(!AdsError::from_response(404, None, "<html>nope</html>").is_retryable());
    }

    #[test]
    fn search_stream_error_array() {
        let body = format!(
            "[{}]",
            envelope(
                400,
                "INVALID_ARGUMENT",
                "queryError",
                "UNRECOGNIZED_FIELD",
                json!({})
            )
        );
        let e = AdsError::from_response(400, None, &body);
        assert!(
            matches!(&e, AdsError::Request { errors, .. } if errors[0].code == "UNRECOGNIZED_FIELD")
        );
    }

    #[test]
    fn partial_failure_error_maps_to_operations() {
        let st: RpcStatus = serde_json::from_value(json!({"code": 3, "message": "Multiple errors",
            "details": [{"@type": FAILURE, "errors": [
                {"errorCode": {"campaignError": "DUPLICATE_CAMPAIGN_NAME"}, "message": "dup",
                 "location": {"fieldPathElements": [{"fieldName": "operations", "index": 2}, {"fieldName": "update"}]}}],
              "requestId": "p-1"}]}))
        .unwrap();
        let f = operation_failures(&st);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].operation_index, 2);
        assert_eq!(f[0].error.code, "DUPLICATE_CAMPAIGN_NAME");
        assert_eq!(
            f[0].error.field_path.as_deref(),
            Some("operations[2].update")
        );
        assert!(operation_failures(&RpcStatus::default()).is_empty());
    }

    #[test]
    fn token_errors() {
        let re: AdsError = TokenError::ReconsentNeeded {
            reason: "invalid_grant".into(),
        }
        .into();
        assert!(!re.is_retryable());
        let un: AdsError = TokenError::Unavailable {
            message: "down".into(),
        }
        .into();
        assert!(un.is_retryable());
    }

    #[test]
    fn excerpt_collapses_and_truncates() {
        assert_eq!(excerpt("  a \n\t b  ", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }
}
