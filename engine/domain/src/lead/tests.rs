use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};
use serde_json::json;

use super::events::sample_arrival;
use super::*;
use crate::testutil::t;
use crate::{AnyEvent, PersonalData};

type Fixture = TestFramework<Lead>;

/// The stored JSON of 1.1 arrivals, byte for byte (field order included): the log holds these
/// bytes, and personal-field pointers point into them.
const RECEIVED_JSON: &str = concat!(
    r#"{"LeadReceived":{"lead_id":"lead-1","subject_id":"subj-1","team":"sales-nl","#,
    r#""campaign_id":"987","customer_id":"1234567890","source":"api","form_id":"form-1","#,
    r#""fingerprint":"abababababababababababababababababababababababababababababababab","#,
    r#""name":"Ada","email":"ada@example.com","phone":"+31600000000","ip":"192.0.2.1","#,
    r#""user_agent":"Mozilla/5.0","message":"Call me","#,
    r#""attribution":{"gclid":"EAIaIQobChMI","gbraid":"0AAAAAoXyz","wbraid":"CjkKEQiA","#,
    r#""utm_source":"google","utm_medium":"cpc","utm_campaign":"search-nl","#,
    r#""utm_term":"solar panels","utm_content":"ad-2"},"#,
    r#""metadata":{"crm_ref":"A-17","score":3},"consent_id":"consent-1","#,
    r#""at":"2025-10-09T08:53:20Z"}}"#,
);
/// A lead from the HTTP API with nothing optional: no fingerprint (it is in the table beside
/// the log), personal fields `null`, the clear 1.1 fields left out.
const MINIMAL_JSON: &str = concat!(
    r#"{"LeadReceived":{"lead_id":"l","subject_id":"s","team":"t","campaign_id":null,"#,
    r#""customer_id":null,"source":"api","fingerprint":null,"name":null,"email":null,"#,
    r#""phone":null,"ip":null,"user_agent":null,"message":null,"#,
    r#""attribution":{"gclid":null,"gbraid":null,"wbraid":null},"metadata":null,"#,
    r#""at":"2025-10-09T08:53:20Z"}}"#,
);
const BLOCKED_PREFIX: &str = concat!(
    r#"{"LeadBlocked":{"reason":"disposable_email","#,
    r#""detail":"mailinator.com is on the disposable-domain list","lead_id":"lead-3","#,
    r#""subject_id":"subj-1","team":"sales-nl","#,
);
const STATUS_JSON: &str = concat!(
    r#"{"LeadStatusChanged":{"from":"new","to":"contacted","subject_id":"subj-1","#,
    r#""owner":"crm-user-7","at":"2025-10-09T08:56:20Z"}}"#,
);

/// What schema 1.0 stored, byte for byte.
const RECEIVED_1_0: &str = concat!(
    r#"{"LeadReceived":{"lead_id":"lead-1","subject_id":"subj-1","team":"sales-nl","#,
    r#""campaign_id":"987","customer_id":"1234567890","source":"form-1","#,
    r#""fingerprint":"abababababababababababababababababababababababababababababababab","#,
    r#""name":"Ada","email":"ada@example.com","phone":"+31600000000","ip":"192.0.2.1","#,
    r#""message":"Call me","at":"2025-10-09T08:53:20Z"}}"#,
);
const DEDUPLICATED_1_0: &str = concat!(
    r#"{"LeadDeduplicated":{"lead_id":"lead-2","subject_id":"subj-1","#,
    r#""duplicate_of":"lead-1","team":"sales-nl","campaign_id":null,"customer_id":null,"#,
    r#""source":"form-1","#,
    r#""fingerprint":{"$enc":"AAAA","s":"subj-1","p":"fingerprint","k":"k1"},"#,
    r#""name":null,"email":null,"phone":null,"ip":null,"#,
    r#""message":"Again","at":"2025-10-09T08:54:20Z"}}"#,
);
const STATUS_1_0: &str =
    r#"{"LeadStatusChanged":{"from":"new","to":"contacted","at":"2025-10-09T08:56:20Z"}}"#;

fn decode(event_type: &str, version: &str, json: &str) -> LeadEvent {
    let payload: serde_json::Value = serde_json::from_str(json).expect("JSON");
    match AnyEvent::decode("lead", event_type, version, &payload) {
        Ok(AnyEvent::Lead(event)) => event,
        other => panic!("{event_type} {version} does not decode as a lead event: {other:?}"),
    }
}

#[test]
fn stored_json_of_1_1_events_is_pinned() {
    let samples = samples();
    assert_eq!(
        serde_json::to_string(&samples[0]).expect("serializes"),
        RECEIVED_JSON
    );
    let blocked = serde_json::to_string(&samples[2]).expect("serializes");
    assert!(blocked.starts_with(BLOCKED_PREFIX), "{blocked}");
    assert_eq!(
        serde_json::to_string(&samples[3]).expect("serializes"),
        STATUS_JSON
    );
    for (event, version) in [(&samples[0], "1.1"), (&samples[3], "1.1")] {
        let json = serde_json::to_string(event).expect("serializes");
        assert_eq!(
            &decode(&event.event_type(), version, &json),
            event,
            "{json}"
        );
    }
    let minimal = LeadEvent::LeadReceived(LeadArrival {
        lead_id: "l".into(),
        subject_id: "s".into(),
        team: "t".into(),
        source: "api".into(),
        at: t(0),
        ..LeadArrival::default()
    });
    assert_eq!(
        serde_json::to_string(&minimal).expect("serializes"),
        MINIMAL_JSON
    );
    assert_eq!(decode("LeadReceived", "1.1", MINIMAL_JSON), minimal);
}

#[test]
fn a_blocked_lead_is_stored_as_its_reason_then_the_arrival() {
    let sample = &samples()[2];
    let payload = serde_json::to_value(sample).expect("serializes");
    let inner = &payload["LeadBlocked"];
    assert_eq!(inner["reason"], "disposable_email");
    assert_eq!(inner["email"], "ada@example.com");
    assert_eq!(inner["attribution"]["gclid"], "EAIaIQobChMI");
    assert!(inner.get("arrival").is_none() && inner.get("duplicate_of").is_none());
    assert_eq!(
        decode("LeadBlocked", "1.0", &payload.to_string()),
        sample.clone()
    );
    let unknown = json!({"LeadBlocked": {"reason": "too_late", "detail": "x",
        "lead_id": "l", "subject_id": "s", "team": "t", "source": "api",
        "at": "2025-10-09T08:53:20Z"}});
    assert!(matches!(
        AnyEvent::decode("lead", "LeadBlocked", "1.0", &unknown),
        Err(crate::DecodeError::Payload { .. })
    ));
}

/// Events stored at 1.0 still decode: no 1.1 field, the fingerprint kept (or sealed, then
/// absent), and a status change without subject or owner, so with no personal fields.
#[test]
fn events_stored_at_1_0_still_decode() {
    let LeadEvent::LeadReceived(received) = decode("LeadReceived", "1.0", RECEIVED_1_0) else {
        panic!("not LeadReceived");
    };
    assert_eq!(received.fingerprint, Some("ab".repeat(32)));
    assert_eq!(received.email.as_deref(), Some("ada@example.com"));
    assert_eq!(received.source, "form-1");
    assert_eq!(
        (
            &received.form_id,
            &received.user_agent,
            &received.metadata,
            &received.consent_id
        ),
        (&None, &None, &None, &None)
    );
    assert_eq!(received.attribution, Attribution::default());

    let LeadEvent::LeadDeduplicated(duplicate) =
        decode("LeadDeduplicated", "1.0", DEDUPLICATED_1_0)
    else {
        panic!("not LeadDeduplicated");
    };
    assert_eq!(
        (duplicate.duplicate_of.as_str(), &duplicate.fingerprint),
        ("lead-1", &None)
    );
    assert_eq!(duplicate.message.as_deref(), Some("Again"));

    let status = decode("LeadStatusChanged", "1.0", STATUS_1_0);
    assert_eq!(
        status,
        LeadEvent::LeadStatusChanged {
            from: LeadStatus::New,
            to: LeadStatus::Contacted,
            subject_id: None,
            owner: None,
            at: t(3),
        }
    );
    assert_eq!(status.data_subject(), None);
    assert!(status.personal_fields().is_empty());

    // The upcasters only raise the version: a 1.0 payload is a valid 1.1 payload.
    for (event_type, json) in [
        ("LeadReceived", RECEIVED_1_0),
        ("LeadDeduplicated", DEDUPLICATED_1_0),
        ("LeadStatusChanged", STATUS_1_0),
    ] {
        let payload: serde_json::Value = serde_json::from_str(json).expect("JSON");
        assert_eq!(
            crate::upcast::upcast("lead", event_type, "1.0", payload.clone()),
            ("1.1".to_owned(), payload)
        );
    }
}

#[test]
fn metadata_that_is_not_an_object_does_not_decode() {
    let mut payload: serde_json::Value = serde_json::from_str(MINIMAL_JSON).expect("JSON");
    payload["LeadReceived"]["metadata"] = json!(["a"]);
    assert!(matches!(
        AnyEvent::decode("lead", "LeadReceived", "1.1", &payload),
        Err(crate::DecodeError::Payload { .. })
    ));
    payload["LeadReceived"]["metadata"] = json!({"$enc": "AAAA", "s": "s", "p": "contact"});
    let LeadEvent::LeadReceived(sealed) = decode("LeadReceived", "1.1", &payload.to_string())
    else {
        panic!("not LeadReceived");
    };
    assert_eq!(sealed.metadata, None);
}

const FP: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// An arrival as a caller sends it: the fingerprint in upper case, no consent.
fn arrival() -> LeadArrival {
    LeadArrival {
        lead_id: "lead-2".into(),
        fingerprint: Some(FP.to_ascii_uppercase()),
        consent_id: None,
        ..sample_arrival("lead-2", 0)
    }
}

/// What the aggregate records of [`arrival`]: the fingerprint in lower case.
fn recorded() -> LeadArrival {
    LeadArrival {
        fingerprint: Some(FP.into()),
        ..arrival()
    }
}

fn receive(outcome: LeadOutcome) -> LeadCommand {
    LeadCommand::ReceiveLead {
        arrival: arrival(),
        outcome,
    }
}

fn receive_with(edit: impl FnOnce(&mut LeadArrival)) -> LeadCommand {
    let mut arrival = arrival();
    edit(&mut arrival);
    LeadCommand::ReceiveLead {
        arrival,
        outcome: LeadOutcome::Accepted,
    }
}

fn duplicate_of(original: &str) -> LeadOutcome {
    LeadOutcome::Duplicate {
        of: original.into(),
    }
}

fn blocked_by(reason: BlockReason, detail: &str) -> LeadOutcome {
    LeadOutcome::Blocked {
        reason,
        detail: detail.into(),
    }
}

fn received() -> LeadEvent {
    LeadEvent::LeadReceived(recorded())
}

fn deduplicated() -> LeadEvent {
    LeadEvent::LeadDeduplicated(recorded().into_duplicate_of("lead-1".into()))
}

fn blocked() -> LeadEvent {
    LeadEvent::LeadBlocked(BlockedLead {
        reason: BlockReason::ConsentMissing,
        detail: "form-1 requires consent and none was given".into(),
        arrival: recorded(),
    })
}

fn changed(from: LeadStatus, to: LeadStatus, minute: i64) -> LeadEvent {
    LeadEvent::LeadStatusChanged {
        from,
        to,
        subject_id: Some("subj-1".into()),
        owner: None,
        at: t(minute),
    }
}

fn change(status: LeadStatus) -> LeadCommand {
    LeadCommand::ChangeStatus {
        status,
        owner: None,
        at: t(10),
    }
}

#[test]
fn receive_records_a_new_lead_with_lowercase_fingerprint() {
    Fixture::with(())
        .given_no_previous_events()
        .when(receive(LeadOutcome::Accepted))
        .then_expect_events(vec![received()]);
}

#[test]
fn a_lead_from_the_api_needs_no_fingerprint() {
    Fixture::with(())
        .given_no_previous_events()
        .when(receive_with(|a| a.fingerprint = None))
        .then_expect_events(vec![LeadEvent::LeadReceived(LeadArrival {
            fingerprint: None,
            ..recorded()
        })]);
}

#[test]
fn receive_with_a_dedup_hit_records_a_duplicate() {
    Fixture::with(())
        .given_no_previous_events()
        .when(receive(duplicate_of("lead-1")))
        .then_expect_events(vec![deduplicated()]);
}

#[test]
fn receive_blocked_records_why() {
    Fixture::with(())
        .given_no_previous_events()
        .when(receive(blocked_by(
            BlockReason::ConsentMissing,
            "form-1 requires consent and none was given",
        )))
        .then_expect_events(vec![blocked()]);
}

#[test]
fn receive_twice_is_refused() {
    for given in [received(), deduplicated(), blocked()] {
        Fixture::with(())
            .given(vec![given])
            .when(receive(LeadOutcome::Accepted))
            .then_expect_error(LeadError::AlreadyReceived);
    }
}

#[test]
fn receive_validates_ids() {
    let cases: Vec<(&str, LeadCommand)> = vec![
        ("lead_id", receive_with(|a| a.lead_id.clear())),
        ("subject_id", receive_with(|a| a.subject_id = "  ".into())),
        ("team", receive_with(|a| a.team.clear())),
        ("source", receive_with(|a| a.source.clear())),
        (
            "campaign_id",
            receive_with(|a| a.campaign_id = Some(String::new())),
        ),
        (
            "customer_id",
            receive_with(|a| a.customer_id = Some(String::new())),
        ),
        ("form_id", receive_with(|a| a.form_id = Some(" ".into()))),
        (
            "consent_id",
            receive_with(|a| a.consent_id = Some("".into())),
        ),
        ("duplicate_of", receive(duplicate_of(""))),
        (
            "detail",
            receive(blocked_by(BlockReason::TeamNotAccepting, " \n")),
        ),
    ];
    for (field, command) in cases {
        Fixture::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(LeadError::EmptyField(field));
    }
}

#[test]
fn receive_validates_the_fingerprint() {
    for bad in [
        String::new(),
        "abc".into(),
        FP[..63].to_owned(),
        format!("{FP}0"),
        format!("{}g", &FP[..63]),
        format!("{}é", &FP[..62]),
    ] {
        Fixture::with(())
            .given_no_previous_events()
            .when(receive_with(|a| a.fingerprint = Some(bad)))
            .then_expect_error(LeadError::InvalidFingerprint);
    }
}

#[test]
fn metadata_may_not_use_the_sealed_marker() {
    Fixture::with(())
        .given_no_previous_events()
        .when(receive_with(|a| {
            a.metadata = json!({"$enc": "x"}).as_object().cloned();
        }))
        .then_expect_error(LeadError::ReservedMetadataKey);
    // Deeper down it is only data.
    let nested = json!({"a": {"$enc": "x"}}).as_object().cloned();
    Fixture::with(())
        .given_no_previous_events()
        .when(receive_with(|a| a.metadata = nested.clone()))
        .then_expect_events(vec![LeadEvent::LeadReceived(LeadArrival {
            metadata: nested,
            ..recorded()
        })]);
}

#[test]
fn a_block_detail_may_not_quote_identifying_fields() {
    for (detail, field) in [
        ("ADA@example.com is at a disposable domain", "email"),
        ("called +31600000000", "phone"),
        ("from 192.0.2.1", "ip"),
    ] {
        Fixture::with(())
            .given_no_previous_events()
            .when(receive(blocked_by(BlockReason::DisposableEmail, detail)))
            .then_expect_error(LeadError::PersonalDataInDetail(field));
    }
    // Absent fields quote nothing.
    Fixture::with(())
        .given_no_previous_events()
        .when(LeadCommand::ReceiveLead {
            arrival: LeadArrival {
                email: None,
                phone: Some(" ".into()),
                ..arrival()
            },
            outcome: blocked_by(BlockReason::TeamNotAccepting, "sales-nl is full"),
        })
        .then_expect_events(vec![LeadEvent::LeadBlocked(BlockedLead {
            reason: BlockReason::TeamNotAccepting,
            detail: "sales-nl is full".into(),
            arrival: LeadArrival {
                email: None,
                phone: Some(" ".into()),
                ..recorded()
            },
        })]);
}

#[test]
fn a_lead_cannot_duplicate_itself() {
    Fixture::with(())
        .given_no_previous_events()
        .when(receive(duplicate_of("lead-2")))
        .then_expect_error(LeadError::DuplicateOfItself);
}

#[test]
fn status_moves_forward() {
    use LeadStatus::*;
    for (history, from, to) in [
        (vec![], New, Contacted),
        (vec![], New, Won),
        (vec![], New, Lost),
        (vec![changed(New, Contacted, 1)], Contacted, Qualified),
        (vec![changed(New, Contacted, 1)], Contacted, Lost),
        (vec![changed(New, Qualified, 1)], Qualified, Won),
    ] {
        let mut given = vec![received()];
        given.extend(history);
        Fixture::with(())
            .given(given)
            .when(change(to))
            .then_expect_events(vec![changed(from, to, 10)]);
    }
}

#[test]
fn a_status_change_names_the_owner_sealed_with_the_lead_s_subject() {
    let event = LeadEvent::LeadStatusChanged {
        from: LeadStatus::New,
        to: LeadStatus::Contacted,
        subject_id: Some("subj-1".into()),
        owner: Some("crm-user-7".into()),
        at: t(10),
    };
    Fixture::with(())
        .given(vec![received()])
        .when(LeadCommand::ChangeStatus {
            status: LeadStatus::Contacted,
            owner: Some("crm-user-7".into()),
            at: t(10),
        })
        .then_expect_events(vec![event.clone()]);
    assert_eq!(event.data_subject(), Some("subj-1"));
    assert_eq!(
        event
            .personal_fields()
            .iter()
            .map(|f| (f.pointer, f.purpose))
            .collect::<Vec<_>>(),
        vec![("/LeadStatusChanged/owner", crate::KeyPurpose::Contact)]
    );
    Fixture::with(())
        .given(vec![received()])
        .when(LeadCommand::ChangeStatus {
            status: LeadStatus::Contacted,
            owner: Some("".into()),
            at: t(10),
        })
        .then_expect_error(LeadError::EmptyField("owner"));
}

#[test]
fn status_cannot_go_back_or_leave_a_closed_state() {
    use LeadStatus::*;
    for (history, from, to) in [
        (vec![changed(New, Contacted, 1)], Contacted, New),
        (vec![changed(New, Qualified, 1)], Qualified, Contacted),
        (vec![changed(New, Won, 1)], Won, Lost),
        (vec![changed(New, Lost, 1)], Lost, Qualified),
        (vec![changed(New, Lost, 1)], Lost, New),
    ] {
        let mut given = vec![received()];
        given.extend(history);
        Fixture::with(())
            .given(given)
            .when(change(to))
            .then_expect_error(LeadError::InvalidTransition { from, to });
    }
    assert_eq!(
        LeadError::InvalidTransition {
            from: Won,
            to: Lost
        }
        .to_string(),
        "lead cannot go from won to lost"
    );
}

#[test]
fn same_status_twice_is_refused() {
    Fixture::with(())
        .given(vec![received()])
        .when(change(LeadStatus::New))
        .then_expect_error(LeadError::StatusUnchanged(LeadStatus::New));
    Fixture::with(())
        .given(vec![
            received(),
            changed(LeadStatus::New, LeadStatus::Contacted, 1),
        ])
        .when(change(LeadStatus::Contacted))
        .then_expect_error(LeadError::StatusUnchanged(LeadStatus::Contacted));
}

#[test]
fn status_of_an_unknown_lead_is_refused() {
    Fixture::with(())
        .given_no_previous_events()
        .when(change(LeadStatus::Contacted))
        .then_expect_error(LeadError::NotReceived);
}

#[test]
fn duplicates_and_blocked_leads_have_no_status_to_change() {
    Fixture::with(())
        .given(vec![deduplicated()])
        .when(change(LeadStatus::Contacted))
        .then_expect_error(LeadError::DuplicateHasNoStatus("lead-1".into()));
    Fixture::with(())
        .given(vec![blocked()])
        .when(change(LeadStatus::Contacted))
        .then_expect_error(LeadError::BlockedHasNoStatus(BlockReason::ConsentMissing));
    assert_eq!(
        LeadError::BlockedHasNoStatus(BlockReason::ConsentMissing).to_string(),
        "lead was blocked (consent_missing) and has no status"
    );
}

#[test]
fn state_holds_funnel_facts_but_no_personal_data() {
    let mut lead = Lead::default();
    lead.apply(LeadEvent::LeadReceived(LeadArrival {
        consent_id: Some("consent-1".into()),
        ..recorded()
    }));
    lead.apply(LeadEvent::LeadStatusChanged {
        from: LeadStatus::New,
        to: LeadStatus::Contacted,
        subject_id: Some("subj-1".into()),
        owner: Some("crm-user-7".into()),
        at: t(5),
    });
    assert_eq!(lead.lead_id(), Some("lead-2"));
    assert_eq!(lead.subject_id(), Some("subj-1"));
    assert_eq!(lead.team(), Some("sales-nl"));
    assert_eq!(lead.campaign_id(), Some("987"));
    assert_eq!(lead.customer_id(), Some("1234567890"));
    assert_eq!(lead.source(), Some("api"));
    assert_eq!(lead.form_id(), Some("form-1"));
    assert_eq!(lead.consent_id(), Some("consent-1"));
    assert_eq!(lead.status(), Some(LeadStatus::Contacted));
    assert!(lead.is_open());
    assert_eq!(lead.received_at(), Some(t(0)));
    assert_eq!(lead.updated_at(), Some(t(5)));
    let snapshot = serde_json::to_string(&lead).expect("serializes");
    for personal in [
        "Ada",
        "ada@example.com",
        "192.0.2.1",
        "Mozilla",
        "EAIaIQobChMI",
        "0AAAAAoXyz",
        "CjkKEQiA",
        "A-17",
        "crm-user-7",
        FP,
    ] {
        assert!(!snapshot.contains(personal), "snapshot leaks {personal}");
    }

    let mut duplicate = Lead::default();
    duplicate.apply(deduplicated());
    assert_eq!(duplicate.duplicate_of(), Some("lead-1"));
    assert_eq!(duplicate.status(), None);
    assert!(duplicate.is_received() && !duplicate.is_open());

    let mut refused = Lead::default();
    refused.apply(blocked());
    assert_eq!(refused.blocked(), Some(BlockReason::ConsentMissing));
    assert_eq!((refused.status(), refused.duplicate_of()), (None, None));
    assert!(refused.is_received() && !refused.is_open());
}

/// A read-model row stored before 1.1 (no form, consent or block) still loads, and a lead
/// without them is stored as before.
#[test]
fn state_rows_from_before_1_1_still_load() {
    let old = json!({"lead_id": "l", "subject_id": "s", "team": "t", "campaign_id": null,
        "customer_id": null, "source": "lp", "duplicate_of": null, "status": "new",
        "received_at": "2025-10-09T08:53:20Z", "updated_at": "2025-10-09T08:53:20Z"});
    let lead: Lead = serde_json::from_value(old.clone()).expect("loads");
    assert_eq!((lead.form_id(), lead.blocked()), (None, None));
    assert_eq!(serde_json::to_value(&lead).expect("serializes"), old);
}

#[test]
fn shredded_events_still_apply() {
    let mut shredded = recorded();
    shredded.fingerprint = None;
    shredded.name = None;
    shredded.email = None;
    shredded.metadata = None;
    shredded.attribution.gclid = None;
    let mut lead = Lead::default();
    lead.apply(LeadEvent::LeadReceived(shredded));
    assert_eq!(lead.status(), Some(LeadStatus::New));
}
