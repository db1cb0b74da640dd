//! The lead request as a client sends it (`POST /v1/leads`), and its field-by-field check.
//!
//! [`LeadRequest`] is read leniently where that lets every problem be reported at once:
//! every field is optional and a string, so a missing field, a bad date and a bad email in
//! one request give three [`FieldError`]s from [`LeadRequest::validate`], not the first one
//! alone. What JSON itself cannot carry (a number where a string belongs, an unknown field)
//! is refused by [`LeadRequest::from_json`] with the path of the field. Unknown fields are
//! refused, at the top and inside `consent`, by name: a misspelt `emial` would otherwise lose
//! the email silently; free data goes in `metadata`.
//!
//! Errors never quote the values of personal fields (name, email, phone, IP, user agent),
//! so they can be logged and sent back as they are.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::config::IntakeConfig;
use crate::email::Email;
use crate::phone::E164;

/// Most characters of a client-supplied id (`lead_id`, `form_id`, `team`).
pub const MAX_ID: usize = 128;
/// Most characters of a name.
pub const MAX_NAME: usize = 256;
/// Most characters of a user agent.
pub const MAX_USER_AGENT: usize = 1024;
/// Most bytes of `metadata` written as compact JSON.
pub const MAX_METADATA_BYTES: usize = 8 * 1024;
/// Deepest nesting of `metadata` (the object itself is level 1).
pub const MAX_METADATA_DEPTH: usize = 8;
/// Most bytes of the consent text shown to the person.
pub const MAX_CONSENT_TEXT: usize = 4 * 1024;
/// Most characters of a URL.
pub const MAX_URL: usize = 2048;
/// Most attribution parameters.
pub const MAX_ATTRIBUTION: usize = 20;
/// Most characters of one attribution value.
pub const MAX_ATTRIBUTION_VALUE: usize = 512;
/// Most characters of a `utm_*` name after `utm_`.
pub const MAX_UTM_NAME: usize = 32;
/// Most digits of a Google Ads campaign id (an int64).
pub const MAX_CAMPAIGN_ID: usize = 19;
/// The host of TrustedForm certificate URLs.
pub const TRUSTEDFORM_HOST: &str = "cert.trustedform.com";

/// A lead as the client sends it. Every field may be absent here; [`LeadRequest::validate`]
/// says which are required. Its `Debug` output shows the ids only.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeadRequest {
    /// The client's id of the lead, `[A-Za-z0-9._-]{1,128}`. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead_id: Option<String>,
    /// The form (or landing page) it came from, same format. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    /// The team to route it to, same format, when the client knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    /// The Google Ads campaign id (digits), when known (the `{campaignid}` ValueTrack
    /// parameter).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
    /// The Google Ads customer id of that campaign (`123-456-7890` or ten digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_id: Option<String>,
    /// Click ids and UTM parameters: `gclid`, `gbraid`, `wbraid`, `utm_*`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribution: Option<BTreeMap<String, String>>,
    /// Personal: the person's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Personal: email address. A lead needs an email, a phone number or both.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Personal: phone number, with `+` and country code, or in the default region.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Personal: the IP address the form was sent from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Personal: the browser's user agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Free data of the client's: a JSON object.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
    /// What the person agreed to, when and where. A lead without it is valid but, where
    /// consent is required (`[intake] require_consent`, the default), blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consent: Option<ConsentRequest>,
}

impl fmt::Debug for LeadRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeadRequest")
            .field("lead_id", &self.lead_id)
            .field("form_id", &self.form_id)
            .finish_non_exhaustive()
    }
}

/// The consent evidence as sent.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConsentRequest {
    /// The exact text shown to the person. Required, at most 4 KiB.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// When they agreed, RFC 3339 (`2026-12-01T10:00:00Z`). Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// The page they agreed on, `http` or `https`. Required.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A TrustedForm certificate, `https://cert.trustedform.com/…`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trustedform_cert_url: Option<String>,
    /// A Jornaya LeadiD token (a GUID, `8-4-4-4-12` hex digits).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jornaya_token: Option<String>,
}

/// One field that is wrong, and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// Where: a dotted path (`email`, `consent.at`, `attribution.utm_source`); empty for the
    /// body as a whole.
    pub field: String,
    /// What is wrong, without the value of a personal field.
    pub problem: String,
}

impl FieldError {
    fn new(field: impl Into<String>, problem: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.problem)
        } else {
            write!(f, "{}: {}", self.field, self.problem)
        }
    }
}

impl std::error::Error for FieldError {}

/// Why a valid lead is blocked: recorded, but not worked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum BlockReason {
    /// The email is at a disposable (throwaway) domain.
    DisposableEmail {
        /// The domain, lower case.
        domain: String,
    },
}

impl fmt::Display for BlockReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockReason::DisposableEmail { domain } => {
                write!(f, "the email is at a disposable domain ({domain})")
            }
        }
    }
}

/// Click ids and UTM parameters, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attribution {
    /// Google click id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gclid: Option<String>,
    /// Google click id of app campaigns on iOS (web to app).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gbraid: Option<String>,
    /// Google click id of iOS web campaigns (app to web).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wbraid: Option<String>,
    /// `utm_*` parameters by full name (`utm_source`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub utm: BTreeMap<String, String>,
}

impl Attribution {
    /// Whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.gclid.is_none()
            && self.gbraid.is_none()
            && self.wbraid.is_none()
            && self.utm.is_empty()
    }
}

/// The consent evidence, checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvidence {
    /// The text shown, trimmed.
    pub text: String,
    /// When the person agreed.
    pub at: DateTime<Utc>,
    /// The page, as given.
    pub url: String,
    /// A TrustedForm certificate URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trustedform_cert_url: Option<String>,
    /// A Jornaya LeadiD token, upper case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jornaya_token: Option<String>,
}

/// A lead that passed every check, its personal fields in their normal forms. Its `Debug`
/// output shows no personal field.
#[derive(Clone, PartialEq)]
pub struct ValidLead {
    /// The client's lead id.
    pub lead_id: String,
    /// The form.
    pub form_id: String,
    /// The team the client named.
    pub team: Option<String>,
    /// Google Ads campaign id (digits).
    pub campaign_id: Option<String>,
    /// Google Ads customer id (ten digits, no dashes).
    pub customer_id: Option<String>,
    /// Click ids and UTM parameters.
    pub attribution: Attribution,
    /// Personal: name, trimmed.
    pub name: Option<String>,
    /// Personal: email, normalised.
    pub email: Option<Email>,
    /// Personal: phone number in E.164.
    pub phone: Option<E164>,
    /// Personal: IP address (an IPv4-mapped IPv6 address as IPv4).
    pub ip: Option<IpAddr>,
    /// Personal: user agent, trimmed.
    pub user_agent: Option<String>,
    /// The client's free data (an object; empty when none was sent).
    pub metadata: Map<String, Value>,
    /// The consent evidence, when the request had any.
    pub consent: Option<ConsentEvidence>,
    /// Set when the lead is valid but must not be worked.
    pub blocked: Option<BlockReason>,
}

impl fmt::Debug for ValidLead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValidLead")
            .field("lead_id", &self.lead_id)
            .field("form_id", &self.form_id)
            .field("team", &self.team)
            .field("blocked", &self.blocked)
            .finish_non_exhaustive()
    }
}

impl LeadRequest {
    /// Reads a request body. What JSON cannot carry into a [`LeadRequest`] — a value of the
    /// wrong type, an unknown field, or no JSON at all — is one [`FieldError`] naming the
    /// field (empty for broken JSON: the body as a whole) and what serde found, with the value
    /// of a string left out.
    pub fn from_json(body: &[u8]) -> Result<LeadRequest, FieldError> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let request: LeadRequest = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            // Broken JSON is the body's fault, wherever the parser was; a wrong value or an
            // unknown field is the field's.
            let field = match e.inner().classify() {
                serde_json::error::Category::Data => e.path().to_string(),
                _ => String::new(),
            };
            let field = if field == "." { String::new() } else { field };
            FieldError::new(field, without_strings(&e.inner().to_string()))
        })?;
        de.end()
            .map_err(|e| FieldError::new("", without_strings(&e.to_string())))?;
        // serde also reads a struct from an array of its fields in order; a lead is named
        // fields only.
        let top: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|_| FieldError::new("", "the body must be a JSON object"))?;
        if top
            .get("consent")
            .is_some_and(|c| !c.is_object() && !c.is_null())
        {
            return Err(FieldError::new("consent", "must be a JSON object"));
        }
        Ok(request)
    }

    /// Checks every field and returns the lead in normal form, or every field that is wrong.
    pub fn validate(&self, config: &IntakeConfig) -> Result<ValidLead, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut check = |field: &str, result: Result<(), String>| {
            if let Err(problem) = result {
                errors.push(FieldError::new(field, problem));
            }
        };

        let mut lead_id = None;
        check(
            "lead_id",
            required(&self.lead_id)
                .and_then(client_id)
                .map(|v| lead_id = Some(v)),
        );
        let mut form_id = None;
        check(
            "form_id",
            required(&self.form_id)
                .and_then(client_id)
                .map(|v| form_id = Some(v)),
        );
        let mut team = None;
        if let Some(t) = &self.team {
            check("team", client_id(t).map(|v| team = Some(v)));
        }
        let mut campaign_id = None;
        if let Some(c) = present(&self.campaign_id) {
            check("campaign_id", campaign(c).map(|v| campaign_id = Some(v)));
        }
        let mut customer_id = None;
        if let Some(c) = present(&self.customer_id) {
            let result = customer(c).and_then(|v| {
                if present(&self.campaign_id).is_none() {
                    Err("is given without campaign_id".to_string())
                } else {
                    customer_id = Some(v);
                    Ok(())
                }
            });
            check("customer_id", result);
        }

        let mut attribution = Attribution::default();
        if let Some(map) = &self.attribution {
            if map.len() > MAX_ATTRIBUTION {
                check(
                    "attribution",
                    Err(format!(
                        "has {} parameters; at most {MAX_ATTRIBUTION}",
                        map.len()
                    )),
                );
            } else {
                for (key, value) in map {
                    let field = format!("attribution.{key}");
                    check(&field, attribution_entry(&mut attribution, key, value));
                }
            }
        }

        let mut name = None;
        if let Some(n) = present(&self.name) {
            check("name", text_field(n, MAX_NAME).map(|v| name = Some(v)));
        }
        let mut email = None;
        if let Some(e) = present(&self.email) {
            check("email", Email::parse(e).map(|v| email = Some(v)));
        }
        let mut phone = None;
        if let Some(p) = present(&self.phone) {
            check(
                "phone",
                E164::parse(p, config.default_region).map(|v| phone = Some(v)),
            );
        }
        if present(&self.email).is_none() && present(&self.phone).is_none() {
            check(
                "email",
                Err("is required when there is no phone: a lead needs an email, a phone number or both".into()),
            );
        }
        let mut ip = None;
        if let Some(i) = present(&self.ip) {
            let parsed = i
                .trim()
                .parse::<IpAddr>()
                .map(|a| ip = Some(a.to_canonical()))
                .map_err(|_| "is not an IPv4 or IPv6 address".to_string());
            check("ip", parsed);
        }
        let mut user_agent = None;
        if let Some(u) = present(&self.user_agent) {
            check(
                "user_agent",
                text_field(u, MAX_USER_AGENT).map(|v| user_agent = Some(v)),
            );
        }
        let mut metadata = Map::new();
        if let Some(m) = &self.metadata {
            check("metadata", metadata_object(m).map(|v| metadata = v));
        }

        // No consent at all is the caller's to decide (a blocked lead where consent is
        // required); consent that was sent must be whole and right.
        let consent = self
            .consent
            .as_ref()
            .map(|c| consent_evidence(c, &mut check));

        match (lead_id, form_id, consent) {
            (Some(lead_id), Some(form_id), consent)
                if errors.is_empty() && consent.as_ref().is_none_or(Option::is_some) =>
            {
                let consent = consent.flatten();
                let blocked = email
                    .as_ref()
                    .filter(|e| config.disposable.is_disposable(e.domain()))
                    .map(|e| BlockReason::DisposableEmail {
                        domain: e.domain().to_string(),
                    });
                Ok(ValidLead {
                    lead_id,
                    form_id,
                    team,
                    campaign_id,
                    customer_id,
                    attribution,
                    name,
                    email,
                    phone,
                    ip,
                    user_agent,
                    metadata,
                    consent,
                    blocked,
                })
            }
            _ => Err(errors),
        }
    }
}

/// The consent's fields checked, each problem handed to `check`.
fn consent_evidence(
    c: &ConsentRequest,
    check: &mut impl FnMut(&str, Result<(), String>),
) -> Option<ConsentEvidence> {
    let mut text = None;
    check(
        "consent.text",
        required(&c.text)
            .and_then(consent_text)
            .map(|v| text = Some(v)),
    );
    let mut at = None;
    check(
        "consent.at",
        required(&c.at).and_then(rfc3339).map(|v| at = Some(v)),
    );
    let mut url = None;
    check(
        "consent.url",
        required(&c.url).and_then(page_url).map(|v| url = Some(v)),
    );
    let mut trustedform_cert_url = None;
    if let Some(t) = present(&c.trustedform_cert_url) {
        check(
            "consent.trustedform_cert_url",
            trustedform(t).map(|v| trustedform_cert_url = Some(v)),
        );
    }
    let mut jornaya_token = None;
    if let Some(j) = present(&c.jornaya_token) {
        check(
            "consent.jornaya_token",
            jornaya(j).map(|v| jornaya_token = Some(v)),
        );
    }
    Some(ConsentEvidence {
        text: text?,
        at: at?,
        url: url?,
        trustedform_cert_url,
        jornaya_token,
    })
}

/// An optional field's value, `None` when absent or blank (forms send empty fields).
fn present(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.trim().is_empty())
}

/// A required field's value.
fn required(v: &Option<String>) -> Result<&str, String> {
    match v.as_deref() {
        None => Err("is required".into()),
        Some(s) if s.trim().is_empty() => Err("is required and was empty".into()),
        Some(s) => Ok(s),
    }
}

/// A client-supplied id: `[A-Za-z0-9._-]{1,128}`, exactly as given.
pub fn client_id(v: &str) -> Result<String, String> {
    if v.is_empty() {
        return Err("is empty".into());
    }
    let n = v.chars().count();
    if n > MAX_ID {
        return Err(format!("is {n} characters long; at most {MAX_ID}"));
    }
    if let Some(c) = v
        .chars()
        .find(|c| !c.is_ascii_alphanumeric() && !"._-".contains(*c))
    {
        return Err(format!(
            "may hold only letters, digits, '.', '_' and '-' (found {})",
            char_name(c)
        ));
    }
    Ok(v.to_string())
}

fn char_name(c: char) -> String {
    match c {
        ' ' => "a space".into(),
        c if c.is_control() => format!("control character U+{:04X}", c as u32),
        c => format!("{c:?}"),
    }
}

fn campaign(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.is_empty() || v.len() > MAX_CAMPAIGN_ID || !v.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!(
            "must be the campaign's numeric id (1 to {MAX_CAMPAIGN_ID} digits)"
        ));
    }
    Ok(v.to_string())
}

fn customer(v: &str) -> Result<String, String> {
    let s = v.trim();
    let b = s.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    let ok = (b.len() == 10 && digits(b))
        || (b.len() == 12
            && b[3] == b'-'
            && b[7] == b'-'
            && digits(&b[..3])
            && digits(&b[4..7])
            && digits(&b[8..]));
    if !ok {
        return Err("must be ten digits, as 1234567890 or 123-456-7890".into());
    }
    Ok(s.replace('-', ""))
}

fn attribution_entry(a: &mut Attribution, key: &str, value: &str) -> Result<(), String> {
    let value = value.trim();
    let n = value.chars().count();
    if n > MAX_ATTRIBUTION_VALUE {
        return Err(format!(
            "is {n} characters long; at most {MAX_ATTRIBUTION_VALUE}"
        ));
    }
    let slot = match key {
        "gclid" => &mut a.gclid,
        "gbraid" => &mut a.gbraid,
        "wbraid" => &mut a.wbraid,
        _ => {
            let name = key.strip_prefix("utm_").ok_or_else(|| {
                "is not an attribution parameter: use gclid, gbraid, wbraid or utm_*; put other data in metadata".to_string()
            })?;
            if name.is_empty()
                || name.len() > MAX_UTM_NAME
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!(
                    "is not a utm_ parameter name (lower-case letters, digits and '_', 1 to {MAX_UTM_NAME} after utm_)"
                ));
            }
            if let Some(c) = value.chars().find(|c| c.is_control()) {
                return Err(format!("holds {}", char_name(c)));
            }
            if !value.is_empty() {
                a.utm.insert(key.to_string(), value.to_string());
            }
            return Ok(());
        }
    };
    if let Some(c) = value.chars().find(|c| !c.is_ascii_graphic()) {
        return Err(format!(
            "is not a click id: it holds {}",
            match c {
                c if c.is_ascii() => char_name(c),
                c => format!("non-ASCII {c:?}"),
            }
        ));
    }
    if !value.is_empty() {
        *slot = Some(value.to_string());
    }
    Ok(())
}

/// A line of free text: trimmed, no control characters, at most `max` characters.
fn text_field(v: &str, max: usize) -> Result<String, String> {
    let v = v.trim();
    let n = v.chars().count();
    if n > max {
        return Err(format!("is {n} characters long; at most {max}"));
    }
    if let Some(c) = v.chars().find(|c| c.is_control()) {
        return Err(format!("holds {}", char_name(c)));
    }
    Ok(v.to_string())
}

fn consent_text(v: &str) -> Result<String, String> {
    let v = v.trim();
    if v.len() > MAX_CONSENT_TEXT {
        return Err(format!(
            "is {} bytes long; at most {MAX_CONSENT_TEXT}",
            v.len()
        ));
    }
    if let Some(c) = v.chars().find(|c| c.is_control() && !"\n\r\t".contains(*c)) {
        return Err(format!("holds {}", char_name(c)));
    }
    Ok(v.to_string())
}

fn rfc3339(v: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(v.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("is not an RFC 3339 time like 2026-12-01T10:00:00Z ({e})"))
}

fn checked_url(v: &str) -> Result<url::Url, String> {
    let v = v.trim();
    let n = v.chars().count();
    if n > MAX_URL {
        return Err(format!("is {n} characters long; at most {MAX_URL}"));
    }
    let u = url::Url::parse(v).map_err(|e| format!("is not a URL ({e})"))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none_or(str::is_empty) {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    Ok(u)
}

fn page_url(v: &str) -> Result<String, String> {
    checked_url(v)?;
    Ok(v.trim().to_string())
}

fn trustedform(v: &str) -> Result<String, String> {
    let u = checked_url(v)?;
    let ok = u.scheme() == "https"
        && u.host_str() == Some(TRUSTEDFORM_HOST)
        && u.username().is_empty()
        && u.password().is_none()
        && u.port().is_none()
        && u.path().len() > 1;
    if !ok {
        return Err(format!(
            "must be a TrustedForm certificate URL, https://{TRUSTEDFORM_HOST}/<certificate id>"
        ));
    }
    Ok(u.to_string())
}

/// A Jornaya LeadiD token: a GUID (`8-4-4-4-12` hex digits), stored upper case.
fn jornaya(v: &str) -> Result<String, String> {
    let v = v.trim();
    let groups: Vec<&str> = v.split('-').collect();
    let ok = groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        return Err(
            "must be a LeadiD token: 36 characters, hex digits in groups of 8-4-4-4-12".into(),
        );
    }
    Ok(v.to_ascii_uppercase())
}

fn metadata_object(v: &Value) -> Result<Map<String, Value>, String> {
    let Value::Object(map) = v else {
        return Err("must be a JSON object".into());
    };
    let bytes = serde_json::to_vec(v).map_or(usize::MAX, |b| b.len());
    if bytes > MAX_METADATA_BYTES {
        return Err(format!(
            "is {bytes} bytes as JSON; at most {MAX_METADATA_BYTES}"
        ));
    }
    if depth(v) > MAX_METADATA_DEPTH {
        return Err(format!("nests deeper than {MAX_METADATA_DEPTH} levels"));
    }
    Ok(map.clone())
}

fn depth(v: &Value) -> usize {
    match v {
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        Value::Array(a) => 1 + a.iter().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// A serde message with every quoted string value left out (`invalid type: string "…",
/// expected …` becomes `invalid type: a string, expected …`), so a personal value sent in
/// the wrong place is not repeated.
fn without_strings(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("string \"") {
        out.push_str(&rest[..i]);
        out.push_str("a string");
        let after = &rest[i + "string \"".len()..];
        rest = match after.find("\", ") {
            Some(j) => &after[j + 1..],
            None => match after.rfind('"') {
                Some(j) => &after[j + 1..],
                None => "",
            },
        };
    }
    out.push_str(rest);
    out
}
