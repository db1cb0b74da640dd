use super::*;
use crate::testutil::t;
use chrono::Duration;
use cqrs_es::test::TestFramework;
use cqrs_es::Aggregate;

type Fixture = TestFramework<Campaign>;

fn snap() -> CampaignSnapshot {
    sample_snapshot()
}

fn observed(snapshot: CampaignSnapshot, minute: i64) -> CampaignEvent {
    CampaignEvent::CampaignObserved {
        customer_id: "1234567890".into(),
        campaign_id: "987".into(),
        snapshot: Some(snapshot),
        google_account: None,
        at: t(minute),
    }
}

fn observe(snapshot: CampaignSnapshot, minute: i64) -> CampaignCommand {
    CampaignCommand::Observe {
        customer_id: "1234567890".into(),
        campaign_id: "987".into(),
        snapshot,
        manual_hold: Duration::hours(2),
        google_account: None,
        at: t(minute),
    }
}

fn request(change_id: &str, change: CampaignChange) -> CampaignCommand {
    CampaignCommand::RequestChange {
        change_id: change_id.into(),
        change,
        reason: "team at capacity".into(),
        decision_ref: Some("dec-1".into()),
        google_account: None,
        at: t(10),
    }
}

fn requested(change_id: &str, change: CampaignChange) -> CampaignEvent {
    CampaignEvent::ChangeRequested {
        change_id: change_id.into(),
        change,
        reason: Some("team at capacity".into()),
        decision_ref: Some("dec-1".into()),
        google_account: None,
        at: t(10),
    }
}

fn applied(change_id: &str, change: CampaignChange) -> CampaignEvent {
    CampaignEvent::ChangeApplied {
        change_id: change_id.into(),
        change,
        at: t(11),
    }
}

fn failed(change_id: &str, retryable: bool) -> CampaignEvent {
    CampaignEvent::ChangeFailed {
        change_id: change_id.into(),
        error: "QUOTA".into(),
        retryable,
        quota_until: None,
        at: t(11),
    }
}

fn slot(day: DayOfWeek, start: (u8, u8), end: (u8, u8)) -> AdScheduleSlot {
    AdScheduleSlot {
        day_of_week: day,
        start_hour: start.0,
        start_minute: start.1,
        end_hour: end.0,
        end_minute: end.1,
        bid_modifier: None,
    }
}

fn schedule(slots: Vec<AdScheduleSlot>) -> CampaignChange {
    CampaignChange::SetAdSchedule { slots }
}

// --- Observe ---

#[test]
fn first_observation_is_recorded() {
    Fixture::with(())
        .given_no_previous_events()
        .when(observe(snap(), 0))
        .then_expect_events(vec![observed(snap(), 0)]);
}

#[test]
fn unchanged_observation_records_nothing() {
    Fixture::with(())
        .given(vec![observed(snap(), 0)])
        .when(observe(snap(), 5))
        .then_expect_events(vec![]);
}

#[test]
fn schedule_order_alone_is_not_a_change_of_schedule() {
    let mut two = snap();
    two.ad_schedule
        .push(slot(DayOfWeek::Tuesday, (9, 0), (17, 0)));
    let mut reordered = two.clone();
    reordered.ad_schedule.reverse();
    reordered.name = "renamed".into();
    Fixture::with(())
        .given(vec![observed(two, 0)])
        .when(observe(reordered.clone(), 5))
        .then_expect_events(vec![observed(reordered, 5)]);
}

#[test]
fn name_or_label_changes_are_observed_but_not_outside_changes() {
    let mut renamed = snap();
    renamed.name = "Search NL (new)".into();
    renamed.labels.push("q4".into());
    Fixture::with(())
        .given(vec![observed(snap(), 0)])
        .when(observe(renamed.clone(), 5))
        .then_expect_events(vec![observed(renamed, 5)]);
}

#[test]
fn manual_changes_are_reported_with_a_hold() {
    let mut changed = snap();
    changed.status = CampaignStatus::Paused;
    changed.daily_budget_micros = 10_000_000;
    changed.bidding = Bidding::Other("MAXIMIZE_CLICKS".into());
    changed.ad_schedule.clear();
    Fixture::with(())
        .given(vec![observed(snap(), 0)])
        .when(observe(changed.clone(), 5))
        .then_expect_events(vec![
            observed(changed.clone(), 5),
            CampaignEvent::ChangedOutsideEngine {
                changed_fields: vec![
                    "status".into(),
                    "daily_budget_micros".into(),
                    "bidding".into(),
                    "ad_schedule".into(),
                ],
                before: Some(snap()),
                after: Some(changed),
                google_account: None,
                hold_until: t(5 + 120),
                at: t(5),
            },
        ]);
}

#[test]
fn an_applied_engine_change_is_not_an_outside_change() {
    let mut paused = snap();
    paused.status = CampaignStatus::Paused;
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested("chg-1", CampaignChange::Pause),
            applied("chg-1", CampaignChange::Pause),
        ])
        .when(observe(paused, 20))
        .then_expect_events(vec![]);
}

#[test]
fn an_open_engine_change_seen_before_it_is_marked_applied_is_not_an_outside_change() {
    let mut budget = snap();
    budget.daily_budget_micros = 20_000_000;
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested(
                "chg-1",
                CampaignChange::SetBudget {
                    daily_budget_micros: 20_000_000,
                },
            ),
        ])
        .when(observe(budget.clone(), 20))
        .then_expect_events(vec![observed(budget, 20)]);
}

#[test]
fn a_manual_revert_of_an_engine_change_is_an_outside_change() {
    let mut paused = snap();
    paused.status = CampaignStatus::Paused;
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested("chg-1", CampaignChange::Pause),
            applied("chg-1", CampaignChange::Pause),
        ])
        .when(observe(snap(), 20))
        .then_expect_events(vec![
            observed(snap(), 20),
            CampaignEvent::ChangedOutsideEngine {
                changed_fields: vec!["status".into()],
                before: Some(paused),
                after: Some(snap()),
                google_account: None,
                hold_until: t(140),
                at: t(20),
            },
        ]);
}

#[test]
fn a_failed_change_does_not_explain_a_difference() {
    let mut paused = snap();
    paused.status = CampaignStatus::Paused;
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested("chg-1", CampaignChange::Pause),
            failed("chg-1", false),
        ])
        .when(observe(paused.clone(), 20))
        .then_expect_events(vec![
            observed(paused.clone(), 20),
            CampaignEvent::ChangedOutsideEngine {
                changed_fields: vec!["status".into()],
                before: Some(snap()),
                after: Some(paused),
                google_account: None,
                hold_until: t(140),
                at: t(20),
            },
        ]);
}

#[test]
fn observe_validates_its_input() {
    let mut command = observe(snap(), 0);
    if let CampaignCommand::Observe { customer_id, .. } = &mut command {
        customer_id.clear();
    }
    Fixture::with(())
        .given_no_previous_events()
        .when(command)
        .then_expect_error(CampaignError::EmptyField("customer_id"));

    let mut command = observe(snap(), 0);
    if let CampaignCommand::Observe { campaign_id, .. } = &mut command {
        campaign_id.clear();
    }
    Fixture::with(())
        .given_no_previous_events()
        .when(command)
        .then_expect_error(CampaignError::EmptyField("campaign_id"));

    for hold in [Duration::minutes(-1), Duration::MAX] {
        let mut command = observe(snap(), 0);
        if let CampaignCommand::Observe { manual_hold, .. } = &mut command {
            *manual_hold = hold;
        }
        Fixture::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(CampaignError::InvalidManualHold);
    }
}

#[test]
fn observe_of_another_campaign_is_refused() {
    let mut command = observe(snap(), 5);
    if let CampaignCommand::Observe { campaign_id, .. } = &mut command {
        *campaign_id = "988".into();
    }
    Fixture::with(())
        .given(vec![observed(snap(), 0)])
        .when(command)
        .then_expect_error(CampaignError::CampaignMismatch {
            expected: "1234567890/987".into(),
            found: "1234567890/988".into(),
        });
}

#[test]
fn observations_out_of_order_are_refused() {
    Fixture::with(())
        .given(vec![observed(snap(), 10)])
        .when(observe(snap(), 5))
        .then_expect_error(CampaignError::ObservationOutOfOrder {
            last: t(10),
            at: t(5),
        });
}

// --- RequestChange ---

#[test]
fn every_kind_of_change_can_be_requested() {
    for change in [
        CampaignChange::Pause,
        CampaignChange::Resume,
        CampaignChange::SetBudget {
            daily_budget_micros: 1,
        },
        CampaignChange::SetBidTarget {
            bidding: Bidding::ManualCpc,
        },
        CampaignChange::SetBidTarget {
            bidding: Bidding::MaximizeConversions,
        },
        CampaignChange::SetBidTarget {
            bidding: Bidding::TargetCpa {
                target_cpa_micros: 25_000_000,
            },
        },
        CampaignChange::SetBidTarget {
            bidding: Bidding::TargetRoas { target_roas: 4.0 },
        },
        schedule(vec![]),
        schedule(vec![
            slot(DayOfWeek::Monday, (0, 0), (6, 15)),
            slot(DayOfWeek::Monday, (6, 15), (12, 30)),
            slot(DayOfWeek::Monday, (13, 0), (14, 0)),
            slot(DayOfWeek::Monday, (14, 0), (15, 0)),
            slot(DayOfWeek::Monday, (15, 0), (16, 45)),
            slot(DayOfWeek::Monday, (17, 0), (24, 0)),
            slot(DayOfWeek::Sunday, (23, 45), (24, 0)),
        ]),
    ] {
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(request("chg-1", change.clone()))
            .then_expect_events(vec![requested("chg-1", change)]);
    }
}

#[test]
fn change_of_a_never_observed_campaign_is_refused() {
    Fixture::with(())
        .given_no_previous_events()
        .when(request("chg-1", CampaignChange::Pause))
        .then_expect_error(CampaignError::NotObserved);
}

#[test]
fn change_of_a_removed_campaign_is_refused() {
    let mut removed = snap();
    removed.status = CampaignStatus::Removed;
    Fixture::with(())
        .given(vec![observed(removed, 0)])
        .when(request("chg-1", CampaignChange::Resume))
        .then_expect_error(CampaignError::Removed);
}

#[test]
fn change_ids_cannot_be_reused_even_when_finished() {
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested("chg-1", CampaignChange::Pause),
            applied("chg-1", CampaignChange::Pause),
        ])
        .when(request("chg-1", CampaignChange::Resume))
        .then_expect_error(CampaignError::ChangeIdReused("chg-1".into()));
}

#[test]
fn change_request_needs_ids_and_a_reason() {
    let cases = [
        ("change_id", request("", CampaignChange::Pause)),
        (
            "reason",
            CampaignCommand::RequestChange {
                change_id: "chg-1".into(),
                change: CampaignChange::Pause,
                reason: " ".into(),
                decision_ref: None,
                google_account: None,
                at: t(1),
            },
        ),
        (
            "decision_ref",
            CampaignCommand::RequestChange {
                change_id: "chg-1".into(),
                change: CampaignChange::Pause,
                reason: "why".into(),
                decision_ref: Some(String::new()),
                google_account: None,
                at: t(1),
            },
        ),
    ];
    for (field_name, command) in cases {
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(command)
            .then_expect_error(CampaignError::EmptyField(field_name));
    }
}

#[test]
fn invalid_changes_are_refused() {
    use DayOfWeek::*;
    let with_modifier = |m: f64| {
        let mut s = slot(Friday, (9, 0), (10, 0));
        s.bid_modifier = Some(m);
        schedule(vec![s])
    };
    let cases = vec![
        (
            CampaignChange::SetBudget {
                daily_budget_micros: 0,
            },
            CampaignError::InvalidBudget(0),
        ),
        (
            CampaignChange::SetBudget {
                daily_budget_micros: -5,
            },
            CampaignError::InvalidBudget(-5),
        ),
        (
            CampaignChange::SetBidTarget {
                bidding: Bidding::TargetCpa {
                    target_cpa_micros: 0,
                },
            },
            CampaignError::InvalidBidTarget,
        ),
        (
            CampaignChange::SetBidTarget {
                bidding: Bidding::TargetRoas { target_roas: -1.0 },
            },
            CampaignError::InvalidBidTarget,
        ),
        (
            CampaignChange::SetBidTarget {
                bidding: Bidding::TargetRoas {
                    target_roas: f64::NAN,
                },
            },
            CampaignError::InvalidBidTarget,
        ),
        (
            CampaignChange::SetBidTarget {
                bidding: Bidding::Other("MAXIMIZE_CLICKS".into()),
            },
            CampaignError::UnsupportedBidding,
        ),
        (
            schedule(vec![slot(Monday, (9, 10), (10, 0))]),
            CampaignError::InvalidScheduleMinute,
        ),
        (
            schedule(vec![slot(Monday, (9, 0), (10, 50))]),
            CampaignError::InvalidScheduleMinute,
        ),
        (
            schedule(vec![slot(Monday, (24, 0), (24, 0))]),
            CampaignError::InvalidScheduleHour,
        ),
        (
            schedule(vec![slot(Monday, (9, 0), (25, 0))]),
            CampaignError::InvalidScheduleHour,
        ),
        (
            schedule(vec![slot(Monday, (9, 0), (24, 15))]),
            CampaignError::InvalidScheduleHour,
        ),
        (
            schedule(vec![slot(Monday, (10, 0), (10, 0))]),
            CampaignError::SlotStartNotBeforeEnd,
        ),
        (
            schedule(vec![slot(Monday, (10, 30), (10, 15))]),
            CampaignError::SlotStartNotBeforeEnd,
        ),
        (
            schedule((0..7).map(|h| slot(Tuesday, (h, 0), (h, 30))).collect()),
            CampaignError::TooManySlots(Tuesday),
        ),
        (
            schedule(vec![
                slot(Wednesday, (12, 0), (14, 0)),
                slot(Wednesday, (9, 0), (12, 15)),
            ]),
            CampaignError::OverlappingSlots(Wednesday),
        ),
        (with_modifier(0.05), CampaignError::InvalidBidModifier),
        (with_modifier(10.5), CampaignError::InvalidBidModifier),
        (with_modifier(f64::NAN), CampaignError::InvalidBidModifier),
    ];
    for (change, error) in cases {
        Fixture::with(())
            .given(vec![observed(snap(), 0)])
            .when(request("chg-1", change))
            .then_expect_error(error);
    }
}

#[test]
fn six_slots_on_each_of_two_days_are_fine() {
    let slots: Vec<AdScheduleSlot> = [DayOfWeek::Monday, DayOfWeek::Tuesday]
        .into_iter()
        .flat_map(|d| (0..6).map(move |h| slot(d, (h, 0), (h, 45))))
        .collect();
    assert_eq!(schedule(slots).validate(), Ok(()));
}

// --- MarkApplied / MarkFailed ---

#[test]
fn mark_applied_records_the_change_and_updates_known_state() {
    let change = CampaignChange::SetBudget {
        daily_budget_micros: 7_000_000,
    };
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested("chg-1", change.clone()),
        ])
        .when(CampaignCommand::MarkApplied {
            change_id: "chg-1".into(),
            at: t(11),
        })
        .then_expect_events(vec![applied("chg-1", change.clone())]);

    let mut campaign = Campaign::default();
    campaign.apply(observed(snap(), 0));
    campaign.apply(requested("chg-1", change.clone()));
    assert_eq!(campaign.pending_changes().count(), 1);
    campaign.apply(applied("chg-1", change));
    assert_eq!(
        campaign.snapshot().map(|s| s.daily_budget_micros),
        Some(7_000_000)
    );
    assert_eq!(campaign.pending_changes().count(), 0);
    assert_eq!(
        campaign.change("chg-1").map(|c| &c.state),
        Some(&ChangeState::Applied { at: t(11) })
    );
}

#[test]
fn mark_failed_records_the_failure() {
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested("chg-1", CampaignChange::Pause),
        ])
        .when(CampaignCommand::MarkFailed {
            change_id: "chg-1".into(),
            error: "QUOTA".into(),
            retryable: true,
            quota_until: None,
            at: t(11),
        })
        .then_expect_events(vec![failed("chg-1", true)]);
}

#[test]
fn a_retryable_failure_keeps_the_change_open() {
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested("chg-1", CampaignChange::Pause),
            failed("chg-1", true),
        ])
        .when(CampaignCommand::MarkApplied {
            change_id: "chg-1".into(),
            at: t(11),
        })
        .then_expect_events(vec![applied("chg-1", CampaignChange::Pause)]);
}

#[test]
fn finished_changes_cannot_be_marked_again() {
    for finish in [
        applied("chg-1", CampaignChange::Pause),
        failed("chg-1", false),
    ] {
        let given = vec![
            observed(snap(), 0),
            requested("chg-1", CampaignChange::Pause),
            finish,
        ];
        Fixture::with(())
            .given(given.clone())
            .when(CampaignCommand::MarkApplied {
                change_id: "chg-1".into(),
                at: t(12),
            })
            .then_expect_error(CampaignError::ChangeFinished("chg-1".into()));
        Fixture::with(())
            .given(given)
            .when(CampaignCommand::MarkFailed {
                change_id: "chg-1".into(),
                error: "x".into(),
                retryable: true,
                quota_until: None,
                at: t(12),
            })
            .then_expect_error(CampaignError::ChangeFinished("chg-1".into()));
    }
}

#[test]
fn unknown_changes_cannot_be_marked() {
    Fixture::with(())
        .given(vec![observed(snap(), 0)])
        .when(CampaignCommand::MarkApplied {
            change_id: "nope".into(),
            at: t(12),
        })
        .then_expect_error(CampaignError::UnknownChange("nope".into()));
    Fixture::with(())
        .given(vec![observed(snap(), 0)])
        .when(CampaignCommand::MarkFailed {
            change_id: "nope".into(),
            error: "x".into(),
            retryable: false,
            quota_until: None,
            at: t(12),
        })
        .then_expect_error(CampaignError::UnknownChange("nope".into()));
}

#[test]
fn a_failure_needs_an_error_message() {
    Fixture::with(())
        .given(vec![
            observed(snap(), 0),
            requested("chg-1", CampaignChange::Pause),
        ])
        .when(CampaignCommand::MarkFailed {
            change_id: "chg-1".into(),
            error: "".into(),
            retryable: false,
            quota_until: None,
            at: t(12),
        })
        .then_expect_error(CampaignError::EmptyField("error"));
}

// --- Supersede (ADR 0054) ---

fn supersede(change_id: &str, by: &str) -> CampaignCommand {
    CampaignCommand::Supersede {
        change_id: change_id.into(),
        by: by.into(),
        at: t(13),
    }
}

fn requested_at(change_id: &str, change: CampaignChange, minute: i64) -> CampaignEvent {
    let CampaignEvent::ChangeRequested {
        change_id: _,
        change: _,
        reason,
        decision_ref,
        google_account,
        at: _,
    } = requested(change_id, CampaignChange::Pause)
    else {
        unreachable!()
    };
    CampaignEvent::ChangeRequested {
        change_id: change_id.into(),
        change,
        reason,
        decision_ref,
        google_account,
        at: t(minute),
    }
}

#[test]
fn an_open_change_is_superseded_by_a_later_change_of_its_field_that_closed() {
    // A pause that kept failing, then a resume found already in effect.
    let given = vec![
        observed(snap(), 0),
        requested_at("chg-1", CampaignChange::Pause, 10),
        failed("chg-1", true),
        requested_at("chg-2", CampaignChange::Resume, 12),
        applied("chg-2", CampaignChange::Resume),
    ];
    Fixture::with(())
        .given(given.clone())
        .when(supersede("chg-1", "chg-2"))
        .then_expect_events(vec![CampaignEvent::ChangeSuperseded {
            change_id: "chg-1".into(),
            by: "chg-2".into(),
            at: t(13),
        }]);
    // Superseded, it is closed: never applied, failed or superseded again.
    let mut state = Campaign::default();
    for e in given {
        state.apply(e);
    }
    state.apply(CampaignEvent::ChangeSuperseded {
        change_id: "chg-1".into(),
        by: "chg-2".into(),
        at: t(13),
    });
    assert_eq!(state.pending_changes().count(), 0);
    assert_eq!(
        state.change("chg-1").unwrap().state,
        ChangeState::Superseded {
            by: "chg-2".into(),
            at: t(13)
        }
    );
    assert_eq!(
        state.decide(CampaignCommand::MarkApplied {
            change_id: "chg-1".into(),
            at: t(14),
        }),
        Err(CampaignError::ChangeFinished("chg-1".into()))
    );
    // The known status is the resume's: the pause never took effect.
    assert_eq!(state.status(), Some(CampaignStatus::Enabled));
}

#[test]
fn only_a_later_closed_change_of_the_same_field_supersedes() {
    let not = |change_id: &str, by: &str, why: &'static str| CampaignError::NotSuperseding {
        change_id: change_id.into(),
        by: by.into(),
        why,
    };
    let budget = CampaignChange::SetBudget {
        daily_budget_micros: 10_000_000,
    };
    let given = vec![
        observed(snap(), 0),
        requested_at("early", CampaignChange::Resume, 9),
        applied("early", CampaignChange::Resume),
        requested_at("chg-1", CampaignChange::Pause, 10),
        requested_at("budget", budget.clone(), 11),
        applied("budget", budget),
        requested_at("open", CampaignChange::Resume, 12),
    ];
    for (by, error) in [
        (
            "chg-1",
            not("chg-1", "chg-1", "a change cannot replace itself"),
        ),
        ("budget", not("chg-1", "budget", "it changes another field")),
        ("early", not("chg-1", "early", "it was requested before it")),
        ("open", not("chg-1", "open", "it is still open")),
        ("nope", CampaignError::UnknownChange("nope".into())),
    ] {
        Fixture::with(())
            .given(given.clone())
            .when(supersede("chg-1", by))
            .then_expect_error(error);
    }
    // A closed change cannot be superseded.
    Fixture::with(())
        .given(given)
        .when(supersede("early", "chg-1"))
        .then_expect_error(CampaignError::ChangeFinished("early".into()));
}

#[test]
fn manual_hold_extends_but_never_shrinks() {
    let mut campaign = Campaign::default();
    campaign.apply(observed(snap(), 0));
    assert!(!campaign.is_manually_held(t(1)));
    let outside = |hold_until| CampaignEvent::ChangedOutsideEngine {
        changed_fields: vec!["status".into()],
        before: Some(snap()),
        after: Some(snap()),
        google_account: None,
        hold_until,
        at: t(1),
    };
    campaign.apply(outside(t(100)));
    campaign.apply(outside(t(50)));
    assert_eq!(campaign.manual_override_until(), Some(t(100)));
    assert!(campaign.is_manually_held(t(99)));
    assert!(!campaign.is_manually_held(t(100)));
    assert_eq!(Campaign::aggregate_id("123", "9"), "123/9");
    assert_eq!(campaign.customer_id(), Some("1234567890"));
    assert_eq!(campaign.campaign_id(), Some("987"));
    assert_eq!(campaign.status(), Some(CampaignStatus::Enabled));
    assert_eq!(campaign.last_observed_at(), Some(t(0)));
}

#[test]
fn changes_serialize_in_snake_case() {
    let value = serde_json::to_value(CampaignChange::SetBudget {
        daily_budget_micros: 5,
    })
    .expect("serializes");
    assert_eq!(
        value,
        serde_json::json!({"set_budget": {"daily_budget_micros": 5}})
    );
    assert_eq!(
        serde_json::to_value(CampaignChange::Pause).expect("serializes"),
        "pause"
    );
}

// ---------------------------------------------------------------- currency units

fn eur() -> Currency {
    Currency::new("EUR", 10_000).expect("valid")
}

fn jpy() -> Currency {
    Currency::new("JPY", 1_000_000).expect("valid")
}

#[test]
fn budgets_round_down_to_the_currency_unit() {
    // 33.333333 EUR → 33.33; 1234.5 JPY → 1234: never more than asked.
    assert_eq!(eur().round_down(33_333_333), 33_330_000);
    assert_eq!(jpy().round_down(1_234_500_000), 1_234_000_000);
    assert_eq!(
        eur().round_down(33_339_999),
        33_330_000,
        "down, not nearest"
    );
    // Already a multiple, zero, below one unit.
    assert_eq!(eur().round_down(33_330_000), 33_330_000);
    assert_eq!(eur().round_down(0), 0);
    assert_eq!(eur().round_down(9_999), 0);
    // Negative values go down too (towards minus infinity).
    assert_eq!(eur().round_down(-1), -10_000);
    // A unit of one micro changes nothing.
    let micro = Currency::new("XYZ", 1).expect("valid");
    assert_eq!(micro.round_down(33_333_333), 33_333_333);
    assert_eq!(micro.round_nearest(-7), -7);
    // Huge values: no overflow at either end.
    assert_eq!(eur().round_down(i64::MAX), i64::MAX - i64::MAX % 10_000);
    assert_eq!(jpy().round_down(i64::MIN) % 1_000_000, 0);
    assert!(jpy().round_down(i64::MIN) < -9_000_000_000_000_000_000);
}

#[test]
fn targets_round_to_the_nearest_unit() {
    assert_eq!(eur().round_nearest(33_333_333), 33_330_000);
    assert_eq!(eur().round_nearest(33_335_000), 33_340_000, "half goes up");
    assert_eq!(eur().round_nearest(33_334_999), 33_330_000);
    assert_eq!(jpy().round_nearest(1_234_500_000), 1_235_000_000);
    assert_eq!(jpy().round_nearest(1_234_499_999), 1_234_000_000);
    assert_eq!(eur().round_nearest(33_330_000), 33_330_000);
    assert_eq!(eur().round_nearest(0), 0);
    assert_eq!(eur().round_nearest(4_999), 0);
    assert_eq!(eur().round_nearest(5_000), 10_000);
    assert_eq!(eur().round_nearest(-5_000), -10_000, "half away from zero");
    assert_eq!(eur().round_nearest(-4_999), 0);
    // The multiple above i64::MAX does not exist: the one below is taken.
    let top = i64::MAX - i64::MAX % 10_000;
    assert_eq!(eur().round_nearest(i64::MAX), top);
    assert_eq!(jpy().round_nearest(i64::MIN) % 1_000_000, 0);
}

#[test]
fn changes_fit_the_currency_and_are_checked_against_it() {
    let budget = |m| CampaignChange::SetBudget {
        daily_budget_micros: m,
    };
    let cpa = |m| CampaignChange::SetBidTarget {
        bidding: Bidding::TargetCpa {
            target_cpa_micros: m,
        },
    };
    assert_eq!(
        budget(33_333_333).fitted_to(&eur()),
        Some(budget(33_330_000))
    );
    assert_eq!(
        budget(1_234_500_000).fitted_to(&jpy()),
        Some(budget(1_234_000_000))
    );
    assert_eq!(budget(999_999).fitted_to(&jpy()), None, "below one yen");
    assert_eq!(
        cpa(1_234_500_000).fitted_to(&jpy()),
        Some(cpa(1_235_000_000))
    );
    assert_eq!(cpa(4_000).fitted_to(&eur()), None, "rounds to nothing");
    let roas = CampaignChange::SetBidTarget {
        bidding: Bidding::TargetRoas {
            target_roas: 3.333_333,
        },
    };
    assert_eq!(roas.fitted_to(&jpy()), Some(roas.clone()), "a ratio");
    assert_eq!(
        CampaignChange::Pause.fitted_to(&eur()),
        Some(CampaignChange::Pause)
    );

    assert_eq!(budget(33_330_000).check_currency(&eur()), Ok(()));
    assert_eq!(roas.check_currency(&jpy()), Ok(()));
    let err = budget(33_333_333).check_currency(&eur()).unwrap_err();
    assert_eq!(
        err,
        CampaignError::NotAMultipleOfCurrencyUnit {
            micros: 33_333_333,
            code: "EUR".into(),
            unit_micros: 10_000
        }
    );
    assert_eq!(
        err.to_string(),
        "33333333 micros is not a multiple of the EUR minimum unit (10000 micros)"
    );
    assert!(cpa(1_234_500_000).check_currency(&jpy()).is_err());
}

#[test]
fn currencies_are_checked_and_formatted_with_their_digits() {
    assert!(Currency::new("eur", 10_000).is_err());
    assert!(Currency::new("EURO", 10_000).is_err());
    assert!(Currency::new("EUR", 0).is_err());
    assert!(Currency::new("EUR", -10_000).is_err());
    assert_eq!(eur().format(33_330_000), "33.33 EUR");
    assert_eq!(eur().format(-5_000_000), "-5.00 EUR");
    assert_eq!(jpy().format(1_234_000_000), "1234 JPY");
    assert_eq!(
        Currency::new("XYZ", 1).unwrap().format(1_000_001),
        "1.000001 XYZ"
    );
}

#[test]
fn a_first_reading_of_the_currency_is_no_change_outside_the_engine() {
    let mut without = snap();
    without.currency = None;
    let with = snap();
    assert!(without.changed_fields(&with).is_empty());
    Fixture::with(())
        .given(vec![observed(without, 0)])
        .when(observe(with.clone(), 1))
        .then_expect_events(vec![observed(with, 1)]);
}
