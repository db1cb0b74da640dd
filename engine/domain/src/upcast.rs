//! Upcasting: bringing payloads stored at an older schema version up to the current one
//! before they are deserialized.
//!
//! Payloads are the events as serde writes them, externally tagged:
//! `{"CapacityRecorded": {"team": …}}`. An upcaster function receives and returns that whole
//! value.
//!
//! | aggregate  | event              | from | to  | change                               |
//! |------------|--------------------|------|-----|--------------------------------------|
//! | `capacity` | `CapacityRecorded` | 1.0  | 1.1 | `source` added, defaults `"unknown"` |
//! | `capacity` | `CapacityRecorded` | 1.1  | 1.2 | optional `max_age_secs` added (absent: the reading never goes stale) |
//! | `campaign` | `CampaignObserved` | 1.0  | 2.0 | `snapshot` may be sealed or `null`, `google_account` added (none: in clear) |
//! | `campaign` | `ChangedOutsideEngine` | 1.0 | 2.0 | `before`/`after` may be sealed or `null`, `google_account` added |
//! | `campaign` | `CampaignObserved`, `ChangedOutsideEngine` | 2.0 | 2.1 | the snapshot's optional `currency` (`code`, `unit_micros`) added (absent: not known) |
//! | `campaign` | `MetricsRecorded` | 1.0 | 2.0 | `metrics` may be sealed or `null`, `google_account` added |
//! | `campaign` | `ChangeRequested` | 1.0 | 2.0 | `reason` may be sealed or `null`, `google_account` added |
//! | `evaluation` | `EvaluationRecorded` | 1.0 | 1.1 | `google_account` added; `facts`, `resolution`, `rules[].run` may be sealed |
//! | `campaign` | `ChangeFailed` | 1.0 | 1.1 | optional `quota_until` added (absent: the change itself failed, not Google's daily quota) |
//! | `rule` | `RuleVersionAdded` | 1.0 | 1.1 | optional `rolled_back_to` added (a rollback's restored version; absent: an ordinary version) |
//! | `lead` | `LeadReceived`, `LeadDeduplicated` | 1.0 | 1.1 | `form_id`, `user_agent`, `attribution`, `metadata`, `consent_id` added (absent: none); the fingerprint may be `null` |
//! | `lead` | `LeadStatusChanged` | 1.0 | 1.1 | `subject_id` and the sealed `owner` added (absent: none) |
//! | `consent` | `ConsentGranted` | 1.0 | 1.1 | `page_url`, `trustedform_cert_url`, `jornaya_token` added (absent: none); `certificate_ref` kept for 1.0 events only |
//!
//! The 2.0 changes are identities on the payload: a 1.0 payload (plain values, no account)
//! is a valid 2.0 payload. The major bump is for older readers, which cannot read a sealed
//! or `null` snapshot or metrics and now refuse the event by its version instead.
//!
//! # Adding the next upcaster
//!
//! 1. Change the event and bump its version in **both** places of its module: the
//!    `event_version()` match and the module's `EVENT_TYPES` table. Bump MINOR for a change
//!    old readers can ignore (a field added); MAJOR for anything else (rename, removal,
//!    changed meaning). Readers refuse other majors (see [`crate::AnyEvent::decode`]).
//! 2. Write `fn <event>_<from>_to_<to>(payload: Value) -> Value` below. It must not panic:
//!    when the payload does not have the expected shape, return it unchanged and let
//!    decoding report the error. If the change touches a personal field, keep its name
//!    and pointer (or update the module's `PersonalField` list); the value may be `null`
//!    after crypto-shredding.
//! 3. Append an [`Upcaster`] entry to `UPCASTERS` with the version it produces. Entries for
//!    the same event must be in ascending version order: cqrs-es folds them in list order,
//!    and each applies only to payloads older than its own version, so a 1.0 payload goes
//!    1.0 → 1.1 → 1.2 in one pass.
//! 4. Add a test that decodes a payload stored at the old version (see the tests below) and
//!    add a row to the table above.
//!
//! Upcasters are matched by event type **and** aggregate type here, whereas cqrs-es'
//! [`SemanticVersionEventUpcaster`] only looks at the event type. Event type names are
//! not unique across aggregates (`ConsentGranted` exists in `consent` and
//! `google_account`), so give a `PersistedEventStore<_, A>` [`upcasters_for`]`(A::TYPE)`,
//! not [`upcasters`].

use cqrs_es::persist::{EventUpcaster, SemanticVersionEventUpcaster, SerializedEvent};
use serde_json::Value;

use crate::parse_version;

/// One registered upcaster.
#[derive(Clone, Copy, Debug)]
pub struct Upcaster {
    /// The aggregate type whose event it upcasts.
    pub aggregate_type: &'static str,
    /// The event type it upcasts.
    pub event_type: &'static str,
    /// The version it produces; it applies to every older payload.
    pub to_version: &'static str,
    /// The transformation of the (externally tagged) payload.
    pub function: fn(Value) -> Value,
}

impl Upcaster {
    fn boxed(self) -> Box<dyn EventUpcaster> {
        Box::new(SemanticVersionEventUpcaster::new(
            self.event_type,
            self.to_version,
            Box::new(self.function),
        ))
    }
}

/// Every upcaster, oldest target version first per event.
pub const UPCASTERS: &[Upcaster] = &[
    Upcaster {
        aggregate_type: "capacity",
        event_type: "CapacityRecorded",
        to_version: "1.1",
        function: capacity_recorded_1_0_to_1_1,
    },
    Upcaster {
        aggregate_type: "capacity",
        event_type: "CapacityRecorded",
        to_version: "1.2",
        function: capacity_recorded_1_1_to_1_2,
    },
    Upcaster {
        aggregate_type: "campaign",
        event_type: "CampaignObserved",
        to_version: "2.0",
        function: unsealed_google_data,
    },
    Upcaster {
        aggregate_type: "campaign",
        event_type: "ChangedOutsideEngine",
        to_version: "2.0",
        function: unsealed_google_data,
    },
    Upcaster {
        aggregate_type: "campaign",
        event_type: "CampaignObserved",
        to_version: "2.1",
        function: snapshot_currency_added,
    },
    Upcaster {
        aggregate_type: "campaign",
        event_type: "ChangedOutsideEngine",
        to_version: "2.1",
        function: snapshot_currency_added,
    },
    Upcaster {
        aggregate_type: "campaign",
        event_type: "MetricsRecorded",
        to_version: "2.0",
        function: unsealed_google_data,
    },
    Upcaster {
        aggregate_type: "campaign",
        event_type: "ChangeRequested",
        to_version: "2.0",
        function: unsealed_google_data,
    },
    Upcaster {
        aggregate_type: "campaign",
        event_type: "ChangeFailed",
        to_version: "1.1",
        function: only_fields_added,
    },
    Upcaster {
        aggregate_type: "evaluation",
        event_type: "EvaluationRecorded",
        to_version: "1.1",
        function: unsealed_google_data,
    },
    Upcaster {
        aggregate_type: "rule",
        event_type: "RuleVersionAdded",
        to_version: "1.1",
        function: rule_version_added_1_0_to_1_1,
    },
    Upcaster {
        aggregate_type: "lead",
        event_type: "LeadReceived",
        to_version: "1.1",
        function: only_fields_added,
    },
    Upcaster {
        aggregate_type: "lead",
        event_type: "LeadDeduplicated",
        to_version: "1.1",
        function: only_fields_added,
    },
    Upcaster {
        aggregate_type: "lead",
        event_type: "LeadStatusChanged",
        to_version: "1.1",
        function: only_fields_added,
    },
    Upcaster {
        aggregate_type: "consent",
        event_type: "ConsentGranted",
        to_version: "1.1",
        function: only_fields_added,
    },
];

/// `LeadReceived`, `LeadDeduplicated`, `LeadStatusChanged`, `ConsentGranted` and
/// `ChangeFailed` 1.0 → 1.1: 1.1 only added optional fields, which a 1.0 payload reads as
/// absent (the arrival's attribution as empty; a failure as the change's own, not the
/// quota's); nothing stored at 1.0 changed name or place, so sealed fields stay bound to
/// their pointers. Nothing to change.
fn only_fields_added(payload: Value) -> Value {
    payload
}

/// `RuleVersionAdded` 1.0 → 1.1: there were no rollbacks, so a 1.0 version restores none,
/// which is what 1.1 reads a payload without `rolled_back_to` as. Nothing to change.
fn rule_version_added_1_0_to_1_1(payload: Value) -> Value {
    payload
}

/// `CampaignObserved` and `ChangedOutsideEngine` 2.0 → 2.1: the snapshot gained an optional
/// `currency`, which a 2.0 snapshot reads as absent (not known; amounts are then not rounded
/// until the campaign is read again). The snapshot may be sealed: its name and pointer did
/// not change, so nothing is touched.
fn snapshot_currency_added(payload: Value) -> Value {
    payload
}

/// `CampaignObserved`, `ChangedOutsideEngine`, `MetricsRecorded`, `ChangeRequested` 1.0 →
/// 2.0 and
/// `EvaluationRecorded` 1.0 → 1.1: Google data was stored in clear and named no account,
/// which is what the new schema reads a payload without `google_account` as. Nothing to
/// change.
fn unsealed_google_data(payload: Value) -> Value {
    payload
}

/// `CapacityRecorded` 1.1 → 1.2: `max_age_secs` is optional and absent means "never stale",
/// which is what every older reading was.
fn capacity_recorded_1_1_to_1_2(payload: Value) -> Value {
    payload
}

/// `CapacityRecorded` 1.0 → 1.1: `source` did not exist; readings then came only from
/// unnamed sources, so it becomes `"unknown"`.
fn capacity_recorded_1_0_to_1_1(mut payload: Value) -> Value {
    if let Some(Value::Object(fields)) = payload.get_mut("CapacityRecorded") {
        fields
            .entry("source")
            .or_insert_with(|| Value::String("unknown".to_owned()));
    }
    payload
}

/// All upcasters as cqrs-es [`EventUpcaster`]s. They match on event type only; prefer
/// [`upcasters_for`] wherever one aggregate type is read.
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    UPCASTERS.iter().map(|u| u.boxed()).collect()
}

/// The upcasters of one aggregate type, for `PersistedEventStore::with_upcasters`.
pub fn upcasters_for(aggregate_type: &str) -> Vec<Box<dyn EventUpcaster>> {
    UPCASTERS
        .iter()
        .filter(|u| u.aggregate_type == aggregate_type)
        .map(|u| u.boxed())
        .collect()
}

/// Upcasts one stored payload of `aggregate_type`/`event_type` from `version` to the
/// current version. Returns the resulting version (as `"MAJOR.MINOR"` when the patch is 0)
/// and payload; both are unchanged when no upcaster applies, including when `version`
/// cannot be parsed.
pub fn upcast(
    aggregate_type: &str,
    event_type: &str,
    version: &str,
    payload: Value,
) -> (String, Value) {
    let event = SerializedEvent::new(
        String::new(),
        0,
        aggregate_type.to_owned(),
        event_type.to_owned(),
        version.to_owned(),
        payload,
        Value::Null,
    );
    let event = upcasters_for(aggregate_type)
        .iter()
        .fold(event, |event, upcaster| {
            if upcaster.can_upcast(&event.event_type, &event.event_version) {
                upcaster.upcast(event)
            } else {
                event
            }
        });
    (normalize_version(event.event_version), event.payload)
}

/// `"1.1.0"` (what cqrs-es writes after an upcast) → `"1.1"`; anything else unchanged.
fn normalize_version(version: String) -> String {
    match version.strip_suffix(".0") {
        Some(short) if version.matches('.').count() == 2 && parse_version(short).is_some() => {
            short.to_owned()
        }
        _ => version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capacity::CapacityEvent;
    use crate::testutil::t;
    use crate::{current_version, AnyEvent};
    use serde_json::json;

    fn v1_0_payload() -> Value {
        json!({"CapacityRecorded": {
            "team": "sales-nl",
            "agents_available": 3,
            "open_leads": 12,
            "max_open_leads": 30,
            "at": t(0),
        }})
    }

    #[test]
    fn a_capacity_reading_stored_at_1_0_decodes_with_an_unknown_source() {
        let event = AnyEvent::decode("capacity", "CapacityRecorded", "1.0", &v1_0_payload())
            .expect("decodes");
        assert_eq!(
            event,
            AnyEvent::Capacity(CapacityEvent::CapacityRecorded {
                team: "sales-nl".into(),
                agents_available: 3,
                open_leads: 12,
                max_open_leads: 30,
                source: "unknown".into(),
                max_age_secs: None,
                at: t(0),
            })
        );
    }

    #[test]
    fn a_1_0_payload_without_an_upcaster_would_not_deserialize() {
        let raw: Result<CapacityEvent, _> = serde_json::from_value(v1_0_payload());
        assert!(
            raw.is_err(),
            "source must be required, or the upcaster is moot"
        );
    }

    #[test]
    fn upcast_reports_the_new_version_and_leaves_current_payloads_alone() {
        let (version, payload) = upcast("capacity", "CapacityRecorded", "1.0", v1_0_payload());
        assert_eq!(version, "1.2");
        assert_eq!(
            payload.pointer("/CapacityRecorded/source"),
            Some(&json!("unknown"))
        );

        let mut current = v1_0_payload();
        current["CapacityRecorded"]["source"] = json!("hubspot");
        let (version, payload) = upcast("capacity", "CapacityRecorded", "1.1", current.clone());
        assert_eq!((version.as_str(), &payload), ("1.2", &current));
        let (version, payload) = upcast("capacity", "CapacityRecorded", "1.2", current.clone());
        assert_eq!((version.as_str(), &payload), ("1.2", &current));
    }

    #[test]
    fn upcast_is_scoped_to_the_aggregate_type() {
        let payload = v1_0_payload();
        let (version, unchanged) = upcast("lead", "CapacityRecorded", "1.0", payload.clone());
        assert_eq!((version.as_str(), &unchanged), ("1.0", &payload));
        assert_eq!(upcasters_for("lead").len(), 3);
        assert_eq!(upcasters_for("world").len(), 0);
        assert_eq!(upcasters_for("capacity").len(), 2);
        assert_eq!(upcasters_for("campaign").len(), 7);
        assert_eq!(upcasters().len(), UPCASTERS.len());
    }

    #[test]
    fn upcast_leaves_odd_payloads_and_versions_alone() {
        let odd = json!({"CapacityRecorded": 5});
        assert_eq!(
            upcast("capacity", "CapacityRecorded", "1.0", odd.clone()),
            ("1.2".to_owned(), odd)
        );
        let (version, _) = upcast("capacity", "CapacityRecorded", "garbage", v1_0_payload());
        assert_eq!(version, "garbage");
    }

    #[test]
    fn registry_targets_current_versions_in_order() {
        for (i, u) in UPCASTERS.iter().enumerate() {
            let current = current_version(u.aggregate_type, u.event_type)
                .expect("upcaster for a known event");
            let target = parse_version(u.to_version).expect("valid target version");
            assert!(target <= parse_version(current).expect("valid current version"));
            for later in &UPCASTERS[i + 1..] {
                if (later.aggregate_type, later.event_type) == (u.aggregate_type, u.event_type) {
                    assert!(parse_version(later.to_version) > Some(target));
                }
            }
            // Building the cqrs-es upcaster panics on a bad version; make sure it does not.
            let _ = u.boxed();
        }
    }

    /// A campaign observed and measured before Google data was sealed (1.0: plain snapshot
    /// and metrics, no account) decodes at 2.0 with its values and no account.
    #[test]
    fn google_data_stored_in_clear_at_1_0_still_decodes() {
        use crate::campaign::{CampaignEvent, CampaignStatus};
        let observed = json!({"CampaignObserved": {
            "customer_id": "1234567890",
            "campaign_id": "987",
            "snapshot": {"name": "Search NL", "labels": [], "status": "enabled",
                "daily_budget_micros": 5, "bidding": "manual_cpc", "ad_schedule": []},
            "at": t(0),
        }});
        let Ok(AnyEvent::Campaign(CampaignEvent::CampaignObserved {
            snapshot: Some(s),
            google_account: None,
            ..
        })) = AnyEvent::decode("campaign", "CampaignObserved", "1.0", &observed)
        else {
            panic!("a 1.0 observation decodes with its snapshot");
        };
        assert_eq!(
            (s.name.as_str(), s.status),
            ("Search NL", CampaignStatus::Enabled)
        );
        assert_eq!(
            upcast("campaign", "CampaignObserved", "1.0", observed.clone()),
            ("2.1".to_owned(), observed.clone())
        );
        let metrics = json!({"MetricsRecorded": {
            "hour_start": t(0),
            "metrics": {"impressions": 10, "clicks": 2, "cost_micros": 777, "conversions": 0.5},
            "at": t(61),
        }});
        let Ok(AnyEvent::Campaign(CampaignEvent::MetricsRecorded {
            metrics: Some(m), ..
        })) = AnyEvent::decode("campaign", "MetricsRecorded", "1.0", &metrics)
        else {
            panic!("1.0 metrics decode with their figures");
        };
        assert_eq!(m.cost_micros, 777);
        let outside = json!({"ChangedOutsideEngine": {
            "changed_fields": ["status"],
            "before": observed["CampaignObserved"]["snapshot"],
            "after": observed["CampaignObserved"]["snapshot"],
            "hold_until": t(120),
            "at": t(1),
        }});
        assert!(matches!(
            AnyEvent::decode("campaign", "ChangedOutsideEngine", "1.0", &outside),
            Ok(AnyEvent::Campaign(CampaignEvent::ChangedOutsideEngine {
                before: Some(_),
                after: Some(_),
                ..
            }))
        ));
        let requested = json!({"ChangeRequested": {
            "change_id": "c-1", "change": "pause", "reason": "team full",
            "decision_ref": null, "at": t(2),
        }});
        assert!(matches!(
            AnyEvent::decode("campaign", "ChangeRequested", "1.0", &requested),
            Ok(AnyEvent::Campaign(CampaignEvent::ChangeRequested {
                reason: Some(r),
                google_account: None,
                ..
            })) if r == "team full"
        ));
        let evaluation = json!({"EvaluationRecorded": {
            "trigger": "manual", "log_position": 1, "facts_digest": "ab",
            "facts": {"campaigns": []}, "rules": [], "resolution": {"accepted": []},
            "changes": [], "engine_version": "0", "rhai_version": "1", "lib_digest": "c",
            "duration_us": 1, "at": t(0),
        }});
        let Ok(AnyEvent::Evaluation(crate::EvaluationEvent::EvaluationRecorded(r))) =
            AnyEvent::decode("evaluation", "EvaluationRecorded", "1.0", &evaluation)
        else {
            panic!("a 1.0 evaluation decodes");
        };
        assert_eq!(r.facts, json!({"campaigns": []}));
        assert_eq!(r.google_account, None);
    }

    /// A snapshot stored at 2.0 (before currencies were read) decodes at 2.1 with no
    /// currency, sealed or not; one with a currency keeps it.
    #[test]
    fn a_snapshot_stored_at_2_0_decodes_without_a_currency() {
        use crate::campaign::{CampaignEvent, Currency};
        let snapshot = json!({"name": "Search NL", "labels": [], "status": "enabled",
            "daily_budget_micros": 33_330_000, "bidding": "manual_cpc", "ad_schedule": []});
        let observed = json!({"CampaignObserved": {
            "customer_id": "1234567890", "campaign_id": "987", "snapshot": snapshot,
            "google_account": "ops", "at": t(0),
        }});
        assert_eq!(
            upcast("campaign", "CampaignObserved", "2.0", observed.clone()),
            ("2.1".to_owned(), observed.clone())
        );
        let Ok(AnyEvent::Campaign(CampaignEvent::CampaignObserved {
            snapshot: Some(s), ..
        })) = AnyEvent::decode("campaign", "CampaignObserved", "2.0", &observed)
        else {
            panic!("a 2.0 observation decodes with its snapshot");
        };
        assert_eq!((s.daily_budget_micros, s.currency), (33_330_000, None));
        let outside = json!({"ChangedOutsideEngine": {
            "changed_fields": ["daily_budget_micros"], "before": snapshot, "after": null,
            "hold_until": t(120), "at": t(1),
        }});
        assert_eq!(
            upcast("campaign", "ChangedOutsideEngine", "2.0", outside.clone()).0,
            "2.1"
        );
        assert!(matches!(
            AnyEvent::decode("campaign", "ChangedOutsideEngine", "2.0", &outside),
            Ok(AnyEvent::Campaign(CampaignEvent::ChangedOutsideEngine {
                before: Some(b),
                after: None,
                ..
            })) if b.currency.is_none()
        ));
        let mut with = observed.clone();
        with["CampaignObserved"]["snapshot"]["currency"] =
            json!({"code": "JPY", "unit_micros": 1_000_000});
        let Ok(AnyEvent::Campaign(CampaignEvent::CampaignObserved {
            snapshot: Some(s), ..
        })) = AnyEvent::decode("campaign", "CampaignObserved", "2.1", &with)
        else {
            panic!("a 2.1 observation decodes");
        };
        assert_eq!(
            s.currency,
            Some(Currency {
                code: "JPY".into(),
                unit_micros: 1_000_000
            })
        );
    }

    /// A change failure stored at 1.0 decodes as the change's own failure (not the daily
    /// quota's), and such a failure at 1.1 is stored exactly as 1.0 was.
    #[test]
    fn a_change_failure_stored_at_1_0_is_no_quota_refusal() {
        use crate::campaign::CampaignEvent;
        let stored = json!({"ChangeFailed": {
            "change_id": "c1", "error": "refused", "retryable": false, "at": t(1),
        }});
        let expected = CampaignEvent::ChangeFailed {
            change_id: "c1".into(),
            error: "refused".into(),
            retryable: false,
            quota_until: None,
            at: t(1),
        };
        assert_eq!(
            AnyEvent::decode("campaign", "ChangeFailed", "1.0", &stored).expect("decodes"),
            AnyEvent::Campaign(expected.clone())
        );
        assert_eq!(
            upcast("campaign", "ChangeFailed", "1.0", stored.clone()),
            ("1.1".to_owned(), stored.clone())
        );
        assert_eq!(serde_json::to_value(&expected).expect("serializes"), stored);
    }

    /// A rule version stored at 1.0 (before rollbacks) decodes as an ordinary version, and
    /// an ordinary 1.1 version is stored exactly as 1.0 was.
    #[test]
    fn a_rule_version_stored_at_1_0_decodes_as_no_rollback() {
        use crate::rule::RuleEvent;
        let stored = json!({"RuleVersionAdded": {
            "version": 2, "source": "pause(\"x\")", "at": t(1),
        }});
        let expected = RuleEvent::RuleVersionAdded {
            version: 2,
            source: "pause(\"x\")".into(),
            at: t(1),
            rolled_back_to: None,
        };
        assert_eq!(
            AnyEvent::decode("rule", "RuleVersionAdded", "1.0", &stored).expect("decodes"),
            AnyEvent::Rule(expected.clone())
        );
        assert_eq!(
            upcast("rule", "RuleVersionAdded", "1.0", stored.clone()),
            ("1.1".to_owned(), stored.clone())
        );
        assert_eq!(serde_json::to_value(&expected).expect("serializes"), stored);
        let rollback = json!({"RuleVersionAdded": {
            "version": 3, "source": "pause(\"x\")", "at": t(2), "rolled_back_to": 1,
        }});
        assert!(matches!(
            AnyEvent::decode("rule", "RuleVersionAdded", "1.1", &rollback),
            Ok(AnyEvent::Rule(RuleEvent::RuleVersionAdded {
                rolled_back_to: Some(1),
                ..
            }))
        ));
    }

    /// Sealed fields, as readers that do not decrypt see them, read as absent.
    #[test]
    fn sealed_google_data_reads_as_absent_without_keys() {
        use crate::campaign::CampaignEvent;
        let sealed = json!({"$enc": "AAAA", "s": "ops", "p": "google_ads"});
        let observed = json!({"CampaignObserved": {
            "customer_id": "1", "campaign_id": "2", "snapshot": sealed,
            "google_account": "ops", "at": t(0),
        }});
        assert!(matches!(
            AnyEvent::decode("campaign", "CampaignObserved", "2.0", &observed),
            Ok(AnyEvent::Campaign(CampaignEvent::CampaignObserved {
                snapshot: None,
                google_account: Some(_),
                ..
            }))
        ));
        let metrics = json!({"MetricsRecorded": {
            "hour_start": t(0), "metrics": null, "google_account": "ops", "at": t(61),
        }});
        assert!(matches!(
            AnyEvent::decode("campaign", "MetricsRecorded", "2.0", &metrics),
            Ok(AnyEvent::Campaign(CampaignEvent::MetricsRecorded {
                metrics: None,
                ..
            }))
        ));
    }

    #[test]
    fn versions_normalize() {
        assert_eq!(normalize_version("1.1.0".into()), "1.1");
        assert_eq!(normalize_version("1.1".into()), "1.1");
        assert_eq!(normalize_version("1.0".into()), "1.0");
        assert_eq!(normalize_version("1.1.3".into()), "1.1.3");
        assert_eq!(normalize_version("x.0".into()), "x.0");
    }
}
