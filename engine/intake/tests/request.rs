//! A lead request end to end, as a client would send it: read from JSON, checked field by
//! field (every wrong field named at once), normalised, blocked when disposable, and
//! fingerprinted so that the same person written differently dedups.

use leadorch_intake::{BlockReason, FieldError, Fingerprinter, IntakeConfig, LeadRequest, Region};
use serde_json::json;

/// The issue's smallest request.
const SMALLEST: &str = r#"{"lead_id":"f-1029","form_id":"contact","email":"ann@example.org","phone":"+31 20 123 4567",
 "consent":{"text":"I agree to be called about my request","at":"2026-12-01T10:00:00Z","url":"https://example.org/contact"}}"#;

fn config() -> IntakeConfig {
    IntakeConfig {
        default_region: Some(Region::parse("NL").unwrap()),
        ..IntakeConfig::default()
    }
}

fn request(value: serde_json::Value) -> LeadRequest {
    LeadRequest::from_json(value.to_string().as_bytes()).expect("reads")
}

fn smallest() -> serde_json::Value {
    serde_json::from_str(SMALLEST).unwrap()
}

fn fields(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.field.as_str()).collect()
}

#[test]
fn the_smallest_request_is_valid_and_normalised() {
    let lead = LeadRequest::from_json(SMALLEST.as_bytes())
        .unwrap()
        .validate(&config())
        .unwrap();
    assert_eq!(lead.lead_id, "f-1029");
    assert_eq!(lead.form_id, "contact");
    assert_eq!(lead.email.as_ref().unwrap().as_str(), "ann@example.org");
    assert_eq!(lead.phone.as_ref().unwrap().as_str(), "+31201234567");
    assert_eq!(
        lead.consent.as_ref().unwrap().at.to_rfc3339(),
        "2026-12-01T10:00:00+00:00"
    );
    assert_eq!(
        lead.consent.as_ref().unwrap().url,
        "https://example.org/contact"
    );
    assert_eq!(lead.blocked, None);
    assert!(lead.attribution.is_empty() && lead.metadata.is_empty());
    let debug = format!("{lead:?}");
    assert!(
        debug.contains("f-1029") && !debug.contains("ann@") && !debug.contains("123"),
        "{debug}"
    );
}

#[test]
fn every_field_is_read_and_normalised() {
    let body = json!({
        "lead_id": "f-1030", "form_id": "quote.v2", "team": "sales-nl",
        "campaign_id": "20123456789", "customer_id": "123-456-7890",
        "attribution": {"gclid": "Cj0KCQiA-abc_123", "wbraid": "", "utm_source": "google",
                        "utm_campaign": " winter sale ", "utm_id": "42"},
        "name": "  Ann de Vries ", "email": " Ann@Example.ORG ", "phone": "020 123 4567",
        "ip": "::ffff:203.0.113.7", "user_agent": "Mozilla/5.0 (X11; Linux x86_64)",
        "metadata": {"page": {"variant": "b"}, "score": 3},
        "consent": {
            "text": "I agree to be called\nabout my request", "at": "2026-12-01T11:00:00+01:00",
            "url": "http://example.org/contact?x=1",
            "trustedform_cert_url": "https://cert.trustedform.com/2605ec3b321d1b4d3a9e7f2d0d1aa3b5e6c7d8e9",
            "jornaya_token": "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
        }
    });
    let lead = request(body).validate(&config()).unwrap();
    assert_eq!(lead.team.as_deref(), Some("sales-nl"));
    assert_eq!(lead.campaign_id.as_deref(), Some("20123456789"));
    assert_eq!(lead.customer_id.as_deref(), Some("1234567890"));
    assert_eq!(lead.attribution.gclid.as_deref(), Some("Cj0KCQiA-abc_123"));
    assert_eq!(lead.attribution.wbraid, None, "a blank value is no value");
    assert_eq!(
        lead.attribution.utm.get("utm_campaign").map(String::as_str),
        Some("winter sale")
    );
    assert_eq!(lead.attribution.utm.len(), 3);
    assert_eq!(lead.name.as_deref(), Some("Ann de Vries"));
    assert_eq!(lead.email.as_ref().unwrap().as_str(), "Ann@example.org");
    assert_eq!(lead.phone.as_ref().unwrap().as_str(), "+31201234567");
    assert_eq!(lead.ip.unwrap().to_string(), "203.0.113.7");
    assert_eq!(lead.metadata["page"]["variant"], "b");
    assert_eq!(
        lead.consent.as_ref().unwrap().at.to_rfc3339(),
        "2026-12-01T10:00:00+00:00"
    );
    assert_eq!(
        lead.consent.as_ref().unwrap().text,
        "I agree to be called\nabout my request"
    );
    assert_eq!(
        lead.consent.as_ref().unwrap().jornaya_token.as_deref(),
        Some("A1B2C3D4-E5F6-7890-ABCD-EF1234567890")
    );
    assert!(lead
        .consent
        .as_ref()
        .unwrap()
        .trustedform_cert_url
        .is_some());
}

#[test]
fn every_bad_field_is_named_at_once_without_its_value() {
    let body = json!({
        "lead_id": "f 1029", "form_id": "", "team": "sales/nl",
        "campaign_id": "abc", "customer_id": "12345",
        "attribution": {"gclid": "has space", "utm_": "x", "fbclid": "y"},
        "name": "Ann\u{7}", "email": "ann@@example.org", "phone": "+31 20 123",
        "ip": "203.0.113.999", "user_agent": "x".repeat(1025),
        "metadata": ["not", "an", "object"],
        "consent": {
            "text": "  ", "at": "yesterday", "url": "ftp://example.org/contact",
            "trustedform_cert_url": "https://cert.trustedform.com.evil.example/abc",
            "jornaya_token": "not-a-token"
        }
    });
    let errors = request(body).validate(&config()).unwrap_err();
    let mut got = fields(&errors);
    got.sort();
    assert_eq!(
        got,
        vec![
            "attribution.fbclid",
            "attribution.gclid",
            "attribution.utm_",
            "campaign_id",
            "consent.at",
            "consent.jornaya_token",
            "consent.text",
            "consent.trustedform_cert_url",
            "consent.url",
            "customer_id",
            "email",
            "form_id",
            "ip",
            "lead_id",
            "metadata",
            "name",
            "phone",
            "team",
            "user_agent",
        ],
        "{errors:#?}"
    );
    let text = serde_json::to_string(&errors).unwrap();
    for personal in ["ann@", "+31 20 123", "203.0.113.999"] {
        assert!(!text.contains(personal), "{personal} quoted in {text}");
    }
    let problem = |f: &str| {
        errors
            .iter()
            .find(|e| e.field == f)
            .unwrap()
            .problem
            .clone()
    };
    assert!(
        problem("lead_id").contains("a space"),
        "{}",
        problem("lead_id")
    );
    assert!(
        problem("form_id").contains("required"),
        "{}",
        problem("form_id")
    );
    assert!(problem("consent.text").contains("required"));
    assert!(problem("consent.at").contains("RFC 3339"));
    assert!(problem("consent.url").contains("http://"));
    assert!(problem("consent.trustedform_cert_url").contains("cert.trustedform.com"));
    assert!(problem("attribution.fbclid").contains("metadata"));
    assert!(problem("user_agent").contains("at most 1024"));
    assert!(problem("metadata").contains("JSON object"));
}

#[test]
fn required_parts_are_named_when_missing() {
    let errors = request(json!({})).validate(&config()).unwrap_err();
    assert_eq!(fields(&errors), vec!["lead_id", "form_id", "email"]);
    assert!(errors[2]
        .problem
        .contains("an email, a phone number or both"));
    let errors = request(json!({"consent": {}}))
        .validate(&config())
        .unwrap_err();
    assert_eq!(
        fields(&errors),
        vec![
            "lead_id",
            "form_id",
            "email",
            "consent.text",
            "consent.at",
            "consent.url"
        ]
    );
    assert_eq!(
        errors[0].to_string(),
        "lead_id: is required",
        "a FieldError reads as field: problem"
    );
}

#[test]
fn one_identifier_is_enough_and_blank_ones_are_absent() {
    let mut body = smallest();
    body["phone"] = json!("");
    let lead = request(body).validate(&config()).unwrap();
    assert!(lead.phone.is_none() && lead.email.is_some());
    let mut body = smallest();
    body.as_object_mut().unwrap().remove("email");
    let lead = request(body).validate(&config()).unwrap();
    assert!(lead.email.is_none() && lead.phone.is_some());
}

#[test]
fn sizes_are_bounded() {
    let mut body = smallest();
    body["lead_id"] = json!("x".repeat(129));
    body["consent"]["text"] = json!("y".repeat(4097));
    body["metadata"] = json!({"blob": "z".repeat(9000)});
    let errors = request(body).validate(&config()).unwrap_err();
    assert_eq!(fields(&errors), vec!["lead_id", "metadata", "consent.text"]);
    let mut deep = json!("leaf");
    for _ in 0..9 {
        deep = json!({ "d": deep });
    }
    let mut body = smallest();
    body["metadata"] = deep;
    let errors = request(body).validate(&config()).unwrap_err();
    assert!(errors[0].problem.contains("deeper than 8"), "{errors:?}");
    let mut body = smallest();
    body["lead_id"] = json!("x".repeat(128));
    body["consent"]["text"] = json!("y".repeat(4096));
    assert!(
        request(body).validate(&config()).is_ok(),
        "the limits themselves are fine"
    );
}

#[test]
fn json_that_cannot_be_a_lead_names_the_field() {
    let e = LeadRequest::from_json(br#"{"lead_id":"a","emial":"ann@example.org"}"#).unwrap_err();
    assert_eq!(e.field, "emial");
    assert!(e.problem.contains("unknown field `emial`"), "{e}");
    let e = LeadRequest::from_json(br#"{"consent":{"at":"x","ip":"1.2.3.4"}}"#).unwrap_err();
    assert_eq!(e.field, "consent.ip");
    let e = LeadRequest::from_json(br#"{"campaign_id":1234}"#).unwrap_err();
    assert_eq!(e.field, "campaign_id");
    assert!(e.problem.contains("expected a string"), "{e}");
    let e = LeadRequest::from_json(br#"{"consent":"ann@example.org"}"#).unwrap_err();
    assert_eq!(e.field, "consent");
    assert!(
        !e.problem.contains("ann@"),
        "a string value is left out: {e}"
    );
    let e = LeadRequest::from_json(br#"{"attribution":{"gclid":7}}"#).unwrap_err();
    assert_eq!(e.field, "attribution.gclid");
    let e = LeadRequest::from_json(b"{\"lead_id\":").unwrap_err();
    assert_eq!(e.field, "");
    let e = LeadRequest::from_json(b"{} {}").unwrap_err();
    assert!(e.problem.contains("trailing"), "{e}");
    let e = LeadRequest::from_json(b"[]").unwrap_err();
    assert_eq!(e.to_string(), "the body must be a JSON object");
    let e = LeadRequest::from_json(br#"["f-1", "contact"]"#).unwrap_err();
    assert_eq!(e.field, "", "no fields by position");
    let e = LeadRequest::from_json(
        br#"{"consent": ["text", "2026-12-01T10:00:00Z", "https://x.org"]}"#,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "consent: must be a JSON object");
    let e = LeadRequest::from_json(br#"{"email": "a@x.org", "email": "b@x.org"}"#).unwrap_err();
    assert!(e.problem.contains("duplicate field `email`"), "{e}");
}

#[test]
fn a_disposable_email_is_valid_but_blocked() {
    let mut body = smallest();
    body["email"] = json!("ann@EU.Mailinator.com");
    let lead = request(body).validate(&config()).unwrap();
    assert_eq!(
        lead.blocked,
        Some(BlockReason::DisposableEmail {
            domain: "eu.mailinator.com".into()
        })
    );
    assert_eq!(
        serde_json::to_value(lead.blocked.unwrap()).unwrap(),
        json!({"reason": "disposable_email", "domain": "eu.mailinator.com"})
    );
}

#[test]
fn without_a_default_region_a_number_needs_its_country_code() {
    let mut body = smallest();
    body["phone"] = json!("020 123 4567");
    let errors = request(body.clone())
        .validate(&IntakeConfig::default())
        .unwrap_err();
    assert_eq!(fields(&errors), vec!["phone"]);
    assert!(
        errors[0].problem.contains("no default region"),
        "{errors:?}"
    );
    assert!(request(body).validate(&config()).is_ok());
}

#[test]
fn the_same_person_written_differently_has_the_same_fingerprints() {
    let f = Fingerprinter::new([42; 32]);
    let a = request(smallest()).validate(&config()).unwrap();
    let mut body = smallest();
    body["lead_id"] = json!("f-2000");
    body["email"] = json!("ANN@example.org");
    body["phone"] = json!("(020) 123-4567");
    let b = request(body).validate(&config()).unwrap();
    assert_eq!(a.fingerprints(&f), b.fingerprints(&f));
    assert!(a.fingerprints(&f).email.is_some() && a.fingerprints(&f).phone.is_some());
    assert_ne!(a.fingerprints(&f).email, a.fingerprints(&f).phone);
    let other = Fingerprinter::new([43; 32]);
    assert_ne!(a.fingerprints(&f), a.fingerprints(&other));
}

#[test]
fn a_lead_without_consent_is_valid_and_says_so() {
    let mut body = smallest();
    body.as_object_mut().unwrap().remove("consent");
    let lead = request(body).validate(&config()).unwrap();
    assert!(lead.consent.is_none());
    // Consent that was sent must be whole: an empty object names its missing parts.
    let mut body = smallest();
    body["consent"] = json!({});
    let errors = request(body).validate(&config()).unwrap_err();
    assert_eq!(
        fields(&errors),
        vec!["consent.text", "consent.at", "consent.url"]
    );
}
