//! From the log to webhook events: which stored events become which webhook types, for which
//! project, with what data.
//!
//! Works on an event's stream id, type and decoded payload (the store's JSON, sealed fields
//! opened or `null`), so the same function picks the events to deliver and rebuilds a body at
//! each attempt (ADR 0033: deliveries keep only the event's position, id and type). One event
//! may give several webhook events (an evaluation with two `notify(…)` messages), told apart
//! by their `part`.

use serde_json::{json, Value};

/// Every webhook event type, as `--events` names them.
pub const EVENT_TYPES: [&str; 10] = [
    "change.applied",
    "change.failed",
    "campaign.paused",
    "campaign.resumed",
    "account.reconsent_needed",
    "account.quota_exhausted",
    "capacity_source.failing",
    "capacity_source.recovered",
    "rule.failing",
    "rule.notify",
];

/// The project of a bare id, and of ids that carry none.
pub const DEFAULT_PROJECT: &str = "default";

/// The capacity-source events (the `capacity_source` aggregate of issue 15's package B) and
/// the webhook types they become. This is the one place that maps them: an event of another
/// name in that stream is not delivered.
pub const CAPACITY_SOURCE_EVENTS: [(&str, &str); 2] = [
    ("SourceFailing", "capacity_source.failing"),
    ("SourceRecovered", "capacity_source.recovered"),
];

/// One webhook event an event of the log gives.
#[derive(Clone, Debug, PartialEq)]
pub struct Outgoing {
    /// Its type: one of [`EVENT_TYPES`], or `rule.ok` (a rule that ran without failing, never
    /// delivered: it ends the rule's failing state).
    pub event_type: &'static str,
    /// Which one of the event's webhook events of this type (0 for most).
    pub part: u32,
    /// The rule, for `rule.failing` (its state is followed per project and rule).
    pub rule: Option<String>,
    /// The webhook's `data`.
    pub data: Value,
}

/// The project of a scoped id: `acme/x` is `acme`'s, a bare `x` the default project's.
pub fn project_of_id(id: &str) -> &str {
    id.split_once('/').map_or(DEFAULT_PROJECT, |(p, _)| p)
}

/// Whether `name` is a webhook event type.
pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.contains(&name)
}

/// The payload of the event's own variant (`{"ChangeApplied": {…}}` → `{…}`).
fn body<'a>(event_type: &str, payload: &'a Value) -> &'a Value {
    payload.get(event_type).unwrap_or(payload)
}

fn change_name(change: &Value) -> Option<&str> {
    change.as_str().or_else(|| {
        change
            .as_object()
            .and_then(|o| o.keys().next().map(String::as_str))
    })
}

/// The webhook events of one stored event, in a stable order; empty for events no webhook
/// reports. `stream_id` is `<aggregate type>:<id>`.
pub fn outgoing(stream_id: &str, event_type: &str, payload: &Value) -> Vec<Outgoing> {
    let Some((kind, id)) = stream_id.split_once(':') else {
        return Vec::new();
    };
    let b = body(event_type, payload);
    let one = |t: &'static str, data: Value| Outgoing {
        event_type: t,
        part: 0,
        rule: None,
        data,
    };
    match (kind, event_type) {
        ("campaign", "ChangeApplied") => {
            let change = b.get("change").cloned().unwrap_or(Value::Null);
            let data = json!({
                "campaign": id,
                "change_id": b.get("change_id"),
                "change": change,
                "at": b.get("at"),
            });
            let mut out = vec![one("change.applied", data.clone())];
            match change_name(&change) {
                Some("pause") => out.push(one("campaign.paused", data)),
                Some("resume") => out.push(one("campaign.resumed", data)),
                _ => {}
            }
            out
        }
        ("campaign", "ChangeFailed") => vec![one(
            "change.failed",
            json!({
                "campaign": id,
                "change_id": b.get("change_id"),
                "error": b.get("error"),
                "retryable": b.get("retryable"),
                "at": b.get("at"),
            }),
        )],
        ("google_account", "ReconsentNeeded") => vec![one(
            "account.reconsent_needed",
            json!({ "account": id, "reason": b.get("reason"), "at": b.get("at") }),
        )],
        ("google_account", "QuotaExhausted") => vec![one(
            "account.quota_exhausted",
            json!({
                "account": id,
                "until": b.get("until"),
                "reason": b.get("reason"),
                "at": b.get("at"),
            }),
        )],
        ("capacity_source", _) => CAPACITY_SOURCE_EVENTS
            .iter()
            .find(|(name, _)| *name == event_type)
            .map(|(_, t)| {
                let mut data = b.clone();
                if let Value::Object(o) = &mut data {
                    o.insert("source".into(), json!(id));
                } else {
                    data = json!({ "source": id });
                }
                vec![one(t, data)]
            })
            .unwrap_or_default(),
        ("evaluation", "EvaluationRecorded") => evaluation(id, b),
        _ => Vec::new(),
    }
}

fn evaluation(id: &str, record: &Value) -> Vec<Outgoing> {
    let at = record.get("at").cloned().unwrap_or(Value::Null);
    let mut out = Vec::new();
    let accepted = record
        .pointer("/resolution/accepted")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let notes = accepted
        .iter()
        .filter(|p| p.pointer("/decision/action/action").and_then(Value::as_str) == Some("notify"));
    for (part, p) in notes.enumerate() {
        out.push(Outgoing {
            event_type: "rule.notify",
            part: part as u32,
            rule: p.get("rule").and_then(Value::as_str).map(str::to_string),
            data: json!({
                "evaluation": id,
                "rule": p.get("rule"),
                "campaign": p.get("campaign"),
                "message": p.pointer("/decision/action/message"),
                "reason": p.pointer("/decision/reason"),
                "at": at,
            }),
        });
    }
    let rules = record
        .get("rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (part, r) in rules.iter().enumerate() {
        let run = r.get("run").unwrap_or(&Value::Null);
        let failures = run.get("failures").and_then(Value::as_array);
        let aborted = run.get("aborted").filter(|a| !a.is_null());
        // A run sealed for a forgotten account reads as null: not known to fail.
        let failing = aborted.is_some() || failures.is_some_and(|f| !f.is_empty());
        let ok = run.is_object() && !failing;
        out.push(Outgoing {
            event_type: if failing { "rule.failing" } else { "rule.ok" },
            part: part as u32,
            rule: r.get("rule_id").and_then(Value::as_str).map(str::to_string),
            data: if failing {
                json!({
                    "evaluation": id,
                    "rule": r.get("rule_id"),
                    "rule_version": r.get("rule_version"),
                    "failures": failures,
                    "aborted": aborted,
                    "at": at,
                })
            } else {
                json!({ "known": ok })
            },
        });
    }
    out
}

/// The body of a webhook: `{"type", "timestamp", "data"}` (the Standard Webhooks payload
/// shape), `timestamp` being the event's time as RFC 3339.
pub fn envelope(event_type: &str, timestamp: &str, data: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "type": event_type,
        "timestamp": timestamp,
        "data": data,
    }))
    .expect("JSON values serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_applied_is_a_change_and_a_paused_campaign() {
        let p = json!({"ChangeApplied": {"change_id": "c1", "change": "pause", "at": "2026-01-01T00:00:00Z"}});
        let out = outgoing("campaign:123/456", "ChangeApplied", &p);
        let types: Vec<_> = out.iter().map(|o| o.event_type).collect();
        assert_eq!(types, ["change.applied", "campaign.paused"]);
        assert_eq!(out[0].data["campaign"], "123/456");
        assert_eq!(out[0].data["change_id"], "c1");
        let r = json!({"ChangeApplied": {"change_id": "c2", "change": "resume"}});
        let types: Vec<_> = outgoing("campaign:1/2", "ChangeApplied", &r)
            .iter()
            .map(|o| o.event_type)
            .collect();
        assert_eq!(types, ["change.applied", "campaign.resumed"]);
        let b = json!({"ChangeApplied": {"change_id": "c3", "change": {"set_budget": {"daily_budget_micros": 5}}}});
        assert_eq!(outgoing("campaign:1/2", "ChangeApplied", &b).len(), 1);
    }

    #[test]
    fn failures_reconsent_and_sources_are_mapped() {
        let f =
            json!({"ChangeFailed": {"change_id": "c1", "error": "refused", "retryable": false}});
        let out = outgoing("campaign:1/2", "ChangeFailed", &f);
        assert_eq!(out[0].event_type, "change.failed");
        assert_eq!(out[0].data["retryable"], false);
        let r = json!({"ReconsentNeeded": {"account_id": "acme/ops", "reason": "invalid_grant"}});
        let out = outgoing("google_account:acme/ops", "ReconsentNeeded", &r);
        assert_eq!(out[0].event_type, "account.reconsent_needed");
        assert_eq!(out[0].data["account"], "acme/ops");
        let q = json!({"QuotaExhausted": {"account_id": "acme/ops", "until": "2026-12-08T08:00:00Z",
            "reason": "RESOURCE_EXHAUSTED", "at": "2026-12-07T16:01:00Z"}});
        let out = outgoing("google_account:acme/ops", "QuotaExhausted", &q);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].event_type, "account.quota_exhausted");
        assert_eq!(out[0].data["account"], "acme/ops");
        assert_eq!(out[0].data["until"], "2026-12-08T08:00:00Z");
        let s = json!({"SourceFailing": {"kind": "auth", "error": "401"}});
        let out = outgoing("capacity_source:acme/hubspot", "SourceFailing", &s);
        assert_eq!(out[0].event_type, "capacity_source.failing");
        assert_eq!(out[0].data["source"], "acme/hubspot");
        assert_eq!(out[0].data["kind"], "auth");
        assert!(outgoing("capacity_source:x", "SomethingElse", &s).is_empty());
        assert!(outgoing("lead:x", "LeadReceived", &json!({})).is_empty());
        assert!(outgoing("no-colon", "ChangeApplied", &json!({})).is_empty());
    }

    #[test]
    fn an_evaluation_gives_its_notes_and_each_rules_state() {
        let e = json!({"EvaluationRecorded": {
            "at": "2026-01-01T00:00:00Z",
            "rules": [
                {"rule_id": "gate", "rule_version": 2, "run": {"failures": [{"campaign": "1/2", "error": "boom"}], "aborted": null}},
                {"rule_id": "pace", "rule_version": 1, "run": {"failures": [], "aborted": null}},
                {"rule_id": "sealed", "rule_version": 1, "run": null}
            ],
            "resolution": {"accepted": [
                {"rule": "pace", "campaign": "1/2", "decision": {"action": {"action": "pause"}, "reason": "r"}},
                {"rule": "pace", "campaign": "1/2", "decision": {"action": {"action": "notify", "message": "hi"}, "reason": "r1"}},
                {"rule": "gate", "campaign": "1/3", "decision": {"action": {"action": "notify", "message": "ho"}, "reason": "r2"}}
            ]}
        }});
        let out = outgoing("evaluation:acme/ev1", "EvaluationRecorded", &e);
        let seen: Vec<_> = out.iter().map(|o| (o.event_type, o.part)).collect();
        assert_eq!(
            seen,
            [
                ("rule.notify", 0),
                ("rule.notify", 1),
                ("rule.failing", 0),
                ("rule.ok", 1),
                ("rule.ok", 2)
            ]
        );
        assert_eq!(out[0].data["message"], "hi");
        assert_eq!(out[1].data["message"], "ho");
        assert_eq!(out[2].rule.as_deref(), Some("gate"));
        assert_eq!(out[3].data["known"], true);
        assert_eq!(out[4].data["known"], false);
        assert_eq!(project_of_id("acme/ev1"), "acme");
        assert_eq!(project_of_id("ev1"), "default");
    }

    #[test]
    fn the_envelope_is_the_standard_shape() {
        let b = envelope(
            "rule.notify",
            "2026-01-01T00:00:00Z",
            &json!({"message": "hi"}),
        );
        let v: Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(
            v,
            json!({"type": "rule.notify", "timestamp": "2026-01-01T00:00:00Z", "data": {"message": "hi"}})
        );
    }
}
