//! JSON shapes of the Google Ads REST API (lowerCamelCase keys, int64 as strings).
//!
//! Request types serialise exactly to the bodies Google expects; response types read only
//! what the client uses and ignore the rest. Zero values are omitted by Google's JSON
//! encoder, so response fields default when absent.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// int64 fields: written as JSON strings, read from strings or numbers.
pub mod int64 {
    use serde::{de, Deserialize, Deserializer, Serializer};

    /// Writes an i64 as a JSON string.
    pub fn serialize<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(v)
    }

    /// Reads an i64 from a JSON string (Google's form) or a number.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            S(String),
            N(i64),
        }
        match Either::deserialize(d)? {
            Either::N(n) => Ok(n),
            Either::S(s) => s
                .parse()
                .map_err(|_| de::Error::custom(format!("not an int64: {s:?}"))),
        }
    }

    /// The same for optional fields (absent or null is `None`).
    pub mod option {
        use serde::{Deserialize, Deserializer, Serializer};

        /// Writes `Some(i64)` as a JSON string (use with `skip_serializing_if`).
        pub fn serialize<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => s.collect_str(v),
                None => s.serialize_none(),
            }
        }

        /// Reads an optional i64 from a string or a number.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
            #[derive(Deserialize)]
            struct W(#[serde(with = "super")] i64);
            Ok(Option::<W>::deserialize(d)?.map(|W(v)| v))
        }
    }
}

// ---------------------------------------------------------------- search

/// Body of `googleAds:search` and `googleAds:searchStream`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// The GAQL query.
    pub query: String,
    /// Token of the page to read (absent for the first page).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub page_token: Option<String>,
}

/// One page of `googleAds:search`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchResponse {
    /// Rows (`GoogleAdsRow` objects).
    #[serde(default)]
    pub results: Vec<Value>,
    /// Present when more pages follow.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// Google's id of the request.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// One chunk of the `googleAds:searchStream` JSON array.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchStreamChunk {
    /// Rows of this chunk.
    #[serde(default)]
    pub results: Vec<Value>,
    /// Google's id of the request.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// Answer of `customers:listAccessibleCustomers`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAccessibleCustomersResponse {
    /// `customers/{id}` names.
    #[serde(default)]
    pub resource_names: Vec<String>,
}

// ---------------------------------------------------------------- mutations

/// Body of every `…:mutate` call this client sends.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MutateRequest<Op> {
    /// The operations, applied in order.
    pub operations: Vec<Op>,
    /// Let valid operations succeed when others fail.
    pub partial_failure: bool,
    /// Check without changing anything.
    pub validate_only: bool,
    /// `MUTABLE_RESOURCE` asks for the changed resource back.
    pub response_content_type: &'static str,
}

/// `MUTABLE_RESOURCE`: the response carries the mutated resource.
pub const MUTABLE_RESOURCE: &str = "MUTABLE_RESOURCE";

/// An update of a campaign (`campaigns:mutate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignOperation {
    /// Comma-separated field paths of `update` to write.
    pub update_mask: String,
    /// The new field values.
    pub update: CampaignUpdate,
}

/// The fields of a campaign this client writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignUpdate {
    /// `customers/C/campaigns/K`.
    pub resource_name: String,
    /// `ENABLED`, `PAUSED` or `REMOVED`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    /// Target CPA bidding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_cpa: Option<TargetCpaWire>,
    /// Target ROAS bidding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_roas: Option<TargetRoasWire>,
}

/// `campaign.target_cpa`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetCpaWire {
    /// Target cost per acquisition in micros.
    #[serde(
        with = "int64::option",
        skip_serializing_if = "Option::is_none",
        default
    )]
    pub target_cpa_micros: Option<i64>,
}

/// `campaign.target_roas`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetRoasWire {
    /// Conversion value per unit of spend (a double).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub target_roas: Option<f64>,
}

/// An update of a campaign budget (`campaignBudgets:mutate`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignBudgetOperation {
    /// Always `amountMicros` here.
    pub update_mask: String,
    /// The new amount.
    pub update: CampaignBudgetUpdate,
}

/// The budget fields this client writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignBudgetUpdate {
    /// `customers/C/campaignBudgets/B`.
    pub resource_name: String,
    /// Daily amount in micros (a JSON string).
    #[serde(with = "int64")]
    pub amount_micros: i64,
}

/// One `campaignCriteria:mutate` operation: `{"create":{…}}` or `{"remove":"…"}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum CampaignCriterionOperation {
    /// Create an ad schedule criterion.
    Create(AdScheduleCriterionCreate),
    /// Remove the criterion with this resource name.
    Remove(String),
}

/// A new ad schedule criterion of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdScheduleCriterionCreate {
    /// `customers/C/campaigns/K`.
    pub campaign: String,
    /// The time slot.
    pub ad_schedule: AdScheduleWire,
    /// Bid modifier for the slot (1.0 = unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bid_modifier: Option<f64>,
}

/// `AdScheduleInfo` in JSON.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdScheduleWire {
    /// `MONDAY` … `SUNDAY`.
    #[serde(default)]
    pub day_of_week: String,
    /// 0–23.
    #[serde(default)]
    pub start_hour: u8,
    /// `ZERO`, `FIFTEEN`, `THIRTY` or `FORTY_FIVE`.
    #[serde(default)]
    pub start_minute: String,
    /// 0–24.
    #[serde(default)]
    pub end_hour: u8,
    /// `ZERO`, `FIFTEEN`, `THIRTY` or `FORTY_FIVE`.
    #[serde(default)]
    pub end_minute: String,
}

/// Answer of a `…:mutate` call.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutateResponse {
    /// One result per operation, in order (empty objects for failed ones).
    #[serde(default)]
    pub results: Vec<MutateResult>,
    /// Failures of individual operations when `partialFailure` was set.
    #[serde(default)]
    pub partial_failure_error: Option<RpcStatus>,
}

/// One result of a mutation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MutateResult {
    /// The mutated resource (empty when the operation failed).
    #[serde(default)]
    pub resource_name: String,
}

// ---------------------------------------------------------------- errors

/// `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ErrorEnvelope {
    /// The status.
    pub error: RpcStatus,
}

/// `google.rpc.Status`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RpcStatus {
    /// HTTP status in the REST envelope (gRPC code in `partialFailureError`).
    #[serde(default)]
    pub code: i64,
    /// Human-readable summary.
    #[serde(default)]
    pub message: String,
    /// Canonical status name, e.g. `RESOURCE_EXHAUSTED`.
    #[serde(default)]
    pub status: String,
    /// `google.protobuf.Any` details; the GoogleAdsFailure is among them.
    #[serde(default)]
    pub details: Vec<Value>,
}

/// Suffix of the `@type` of a GoogleAdsFailure detail (any API version).
pub const FAILURE_TYPE_SUFFIX: &str = ".errors.GoogleAdsFailure";

impl RpcStatus {
    /// The first GoogleAdsFailure among the details, if any parses.
    pub fn ads_failure(&self) -> Option<GoogleAdsFailure> {
        self.details.iter().find_map(|d| {
            let ty = d.get("@type")?.as_str()?;
            if !ty.ends_with(FAILURE_TYPE_SUFFIX) {
                return None;
            }
            serde_json::from_value(d.clone()).ok()
        })
    }
}

/// `google.ads.googleads.v26.errors.GoogleAdsFailure`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleAdsFailure {
    /// The errors, one per failed operation or problem.
    #[serde(default)]
    pub errors: Vec<GoogleAdsErrorWire>,
    /// Google's id of the request.
    #[serde(default)]
    pub request_id: Option<String>,
}

/// One `GoogleAdsError`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoogleAdsErrorWire {
    /// One key: the family (`quotaError`, …) mapped to the code name.
    #[serde(default)]
    pub error_code: serde_json::Map<String, Value>,
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Where in the request the error is.
    #[serde(default)]
    pub location: Option<ErrorLocation>,
    /// Extra details (quota retry delay).
    #[serde(default)]
    pub details: Option<ErrorDetails>,
}

/// `ErrorLocation`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorLocation {
    /// Path from the request root to the failing field.
    #[serde(default)]
    pub field_path_elements: Vec<FieldPathElement>,
}

/// One step of an error location.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldPathElement {
    /// Field name (snake_case in Google's answers).
    #[serde(default)]
    pub field_name: String,
    /// Index into a repeated field.
    #[serde(default)]
    pub index: Option<i64>,
}

/// `ErrorDetails`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorDetails {
    /// Present on quota errors.
    #[serde(default)]
    pub quota_error_details: Option<QuotaErrorDetails>,
}

/// `QuotaErrorDetails`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaErrorDetails {
    /// `ACCOUNT`, `DEVELOPER`, …
    #[serde(default)]
    pub rate_scope: Option<String>,
    /// Name of the exhausted rate.
    #[serde(default)]
    pub rate_name: Option<String>,
    /// Protobuf Duration in JSON form, e.g. `"30s"` or `"0.05s"`.
    #[serde(default)]
    pub retry_delay: Option<Value>,
}

/// Parses a protobuf Duration in JSON (`"30s"`, `"1.5s"`) or object form
/// (`{"seconds": "30", "nanos": 0}`). Negative or malformed values are `None`.
pub fn parse_duration(v: &Value) -> Option<std::time::Duration> {
    match v {
        Value::String(s) => {
            let secs: f64 = s.trim().strip_suffix('s')?.parse().ok()?;
            (secs.is_finite() && secs >= 0.0).then(|| std::time::Duration::from_secs_f64(secs))
        }
        Value::Object(o) => {
            let secs = match o.get("seconds") {
                Some(Value::String(s)) => s.parse::<u64>().ok()?,
                Some(Value::Number(n)) => n.as_u64()?,
                None => 0,
                _ => return None,
            };
            let nanos = o.get("nanos").and_then(Value::as_u64).unwrap_or(0);
            Some(std::time::Duration::new(secs, u32::try_from(nanos).ok()?))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn int64_round_trips_as_strings() {
        let b = CampaignBudgetUpdate {
            resource_name: "customers/1/campaignBudgets/9".into(),
            amount_micros: 50_000_000,
        };
        assert_eq!(
            serde_json::to_value(&b).unwrap(),
            json!({"resourceName": "customers/1/campaignBudgets/9", "amountMicros": "50000000"})
        );
        let t: TargetCpaWire =
            serde_json::from_value(json!({"targetCpaMicros": "1500000"})).unwrap();
        assert_eq!(t.target_cpa_micros, Some(1_500_000));
        let n: TargetCpaWire = serde_json::from_value(json!({"targetCpaMicros": 7})).unwrap();
        assert_eq!(n.target_cpa_micros, Some(7));
        let none: TargetCpaWire = serde_json::from_value(json!({})).unwrap();
        assert_eq!(none.target_cpa_micros, None);
        assert!(serde_json::from_value::<TargetCpaWire>(json!({"targetCpaMicros": "x1"})).is_err());
        assert_eq!(
            serde_json::to_value(TargetCpaWire {
                target_cpa_micros: Some(-5)
            })
            .unwrap(),
            json!({"targetCpaMicros": "-5"})
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration(&json!("30s")), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_duration(&json!("0.05s")),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            parse_duration(&json!({"seconds": "2", "nanos": 500000000})),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(parse_duration(&json!("30")), None);
        assert_eq!(parse_duration(&json!("-1s")), None);
        assert_eq!(parse_duration(&json!(30)), None);
    }

    #[test]
    fn search_request_never_sends_page_size_or_null_token() {
        let first = SearchRequest {
            query: "SELECT campaign.id FROM campaign".into(),
            page_token: None,
        };
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            json!({"query": "SELECT campaign.id FROM campaign"})
        );
        let next = SearchRequest {
            page_token: Some("abc".into()),
            ..first
        };
        assert_eq!(
            serde_json::to_value(&next).unwrap(),
            json!({"query": "SELECT campaign.id FROM campaign", "pageToken": "abc"})
        );
    }
}
