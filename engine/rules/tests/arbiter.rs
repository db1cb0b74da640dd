//! The arbiter: one winner per campaign field, every suppression reason, conflicts, and a
//! result that does not depend on the order of the proposals.

mod common;

use std::collections::BTreeMap;

use chrono::Duration;
use common::{campaign, t};
use leadorch_domain::campaign::{
    AdScheduleSlot, Bidding, CampaignChange, CampaignStatus, Currency, DayOfWeek,
};
use leadorch_rules::{
    resolve, Action, CampaignFacts, Conflict, Decision, Policy, Proposal, RefusedChange,
    Resolution, SuppressReason,
};

fn p(rule: &str, priority: i32, campaign: u32, action: Action) -> Proposal {
    Proposal {
        rule: rule.to_string(),
        priority,
        campaign: format!("111-222-3333/{campaign}"),
        decision: Decision {
            action,
            reason: format!("{rule} says so"),
        },
    }
}

fn budget(micros: i64) -> Action {
    Action::SetBudget {
        daily_budget_micros: micros,
    }
}

fn slot(day: DayOfWeek, start: u8, end: u8) -> AdScheduleSlot {
    AdScheduleSlot {
        day_of_week: day,
        start_hour: start,
        start_minute: 0,
        end_hour: end,
        end_minute: 0,
        bid_modifier: None,
    }
}

fn policy() -> Policy {
    Policy {
        min_dwell: Duration::minutes(20),
        cooldown: Duration::minutes(30),
    }
}

fn no_overrides() -> BTreeMap<String, (Option<Duration>, Option<Duration>)> {
    BTreeMap::new()
}

fn why(res: &Resolution, rule: &str, campaign: u32) -> Vec<SuppressReason> {
    let id = format!("111-222-3333/{campaign}");
    res.suppressed
        .iter()
        .filter(|s| s.proposal.rule == rule && s.proposal.campaign == id)
        .map(|s| s.why.clone())
        .collect()
}

fn accepted(res: &Resolution) -> Vec<(String, String, &'static str)> {
    res.accepted
        .iter()
        .map(|p| (p.rule.clone(), p.campaign.clone(), p.decision.action.name()))
        .collect()
}

#[test]
fn every_suppression_reason() {
    let at = t("2026-03-02T10:00:00Z");
    let mut c: Vec<CampaignFacts> = (1..=9).map(|n| campaign(n, &[], None)).collect();
    // 1: removed.
    c[0].status = CampaignStatus::Removed;
    // 2: manual hold.
    c[1].manual_override_until = Some(t("2026-03-02T11:00:00Z"));
    // 3: already paused.
    c[2].status = CampaignStatus::Paused;
    // 4: budget change pending.
    c[3].pending_fields = vec!["daily_budget_micros".into()];
    // 5: status changed 5 minutes ago.
    c[4].last_change_at
        .insert("status".into(), t("2026-03-02T09:55:00Z"));
    // 6: budget changed 10 minutes ago.
    c[5].last_change_at
        .insert("daily_budget_micros".into(), t("2026-03-02T09:50:00Z"));
    // 7: schedule equal in another order.
    c[6].ad_schedule = vec![
        slot(DayOfWeek::Tuesday, 9, 17),
        slot(DayOfWeek::Monday, 9, 17),
    ];
    // 8: bidding equal.
    c[7].bidding = Bidding::TargetCpa {
        target_cpa_micros: 20_000_000,
    };
    let proposals = vec![
        p("a", 1, 1, Action::Pause),
        p("a", 1, 2, Action::Pause),
        p("a", 1, 3, Action::Pause),
        p("a", 1, 4, budget(1_000_000)),
        p("a", 1, 5, Action::Pause),
        p("a", 1, 6, budget(1_000_000)),
        p(
            "a",
            1,
            7,
            Action::SetAdSchedule {
                slots: vec![
                    slot(DayOfWeek::Monday, 9, 17),
                    slot(DayOfWeek::Tuesday, 9, 17),
                ],
            },
        ),
        p(
            "a",
            1,
            8,
            Action::SetBidTarget {
                bidding: Bidding::TargetCpa {
                    target_cpa_micros: 20_000_000,
                },
            },
        ),
        p("a", 1, 99, Action::Pause),
        // 9: conflict and duplicate.
        p("high", 10, 9, Action::Pause),
        p("low", 1, 9, Action::Resume),
        p("same", 5, 9, Action::Pause),
    ];
    let res = resolve(at, proposals, &c, &policy(), &no_overrides());
    assert_eq!(why(&res, "a", 1), vec![SuppressReason::Removed]);
    assert_eq!(
        why(&res, "a", 2),
        vec![SuppressReason::ManualHold {
            until: t("2026-03-02T11:00:00Z")
        }]
    );
    assert_eq!(why(&res, "a", 3), vec![SuppressReason::NoChange]);
    assert_eq!(
        why(&res, "a", 4),
        vec![SuppressReason::Pending {
            field: "daily_budget_micros".into()
        }]
    );
    assert_eq!(
        why(&res, "a", 5),
        vec![SuppressReason::Dwell {
            until: t("2026-03-02T10:15:00Z")
        }]
    );
    assert_eq!(
        why(&res, "a", 6),
        vec![SuppressReason::Cooldown {
            until: t("2026-03-02T10:20:00Z")
        }]
    );
    assert_eq!(why(&res, "a", 7), vec![SuppressReason::NoChange]);
    assert_eq!(why(&res, "a", 8), vec![SuppressReason::NoChange]);
    assert_eq!(why(&res, "a", 99), vec![SuppressReason::UnknownCampaign]);
    assert_eq!(
        why(&res, "low", 9),
        vec![SuppressReason::LostConflict {
            winner: "high".into()
        }]
    );
    assert_eq!(
        why(&res, "same", 9),
        vec![SuppressReason::Duplicate {
            kept: "high".into()
        }]
    );
    assert_eq!(
        accepted(&res),
        vec![("high".into(), "111-222-3333/9".into(), "pause")]
    );
    assert_eq!(
        res.conflicts,
        vec![Conflict {
            campaign: "111-222-3333/9".into(),
            field: "status".into(),
            winner: "high".into(),
            winner_action: "pause".into(),
            losers: vec![("low".into(), "resume".into())],
        }]
    );
    // Every reason kind appears.
    let mut kinds: Vec<&str> = res.suppressed.iter().map(|s| s.why.kind()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), 9, "{kinds:?}");
}

#[test]
fn suppressed_winners_still_win() {
    // The higher-priority rule holds the campaign paused; the lower one cannot resume it.
    let mut c = campaign(1, &[], None);
    c.status = CampaignStatus::Paused;
    let res = resolve(
        t("2026-03-02T10:00:00Z"),
        vec![
            p("hold", 10, 1, Action::Pause),
            p("gate", 5, 1, Action::Resume),
        ],
        &[c],
        &policy(),
        &no_overrides(),
    );
    assert!(res.accepted.is_empty());
    assert_eq!(why(&res, "hold", 1), vec![SuppressReason::NoChange]);
    assert_eq!(
        why(&res, "gate", 1),
        vec![SuppressReason::LostConflict {
            winner: "hold".into()
        }]
    );
}

#[test]
fn equal_priority_is_decided_by_rule_name() {
    let c = campaign(1, &[], None);
    let res = resolve(
        t("2026-03-02T10:00:00Z"),
        vec![
            p("zeta", 5, 1, budget(2_000_000)),
            p("alpha", 5, 1, budget(3_000_000)),
        ],
        &[c],
        &policy(),
        &no_overrides(),
    );
    assert_eq!(accepted(&res)[0].0, "alpha");
    assert_eq!(
        res.conflicts[0].losers,
        vec![("zeta".into(), "set_budget".into())]
    );
}

#[test]
fn different_fields_do_not_conflict_and_notifications_pass() {
    let c = campaign(1, &[], None);
    let note = |m: &str| Action::Notify {
        message: m.to_string(),
    };
    let res = resolve(
        t("2026-03-02T10:00:00Z"),
        vec![
            p("a", 5, 1, Action::Pause),
            p("b", 5, 1, budget(9_000_000)),
            p("c", 5, 1, note("hello")),
            p("d", 5, 1, note("hello")),
            p("d", 5, 1, note("other")),
        ],
        &[c],
        &policy(),
        &no_overrides(),
    );
    assert_eq!(res.accepted.len(), 4, "{res:?}");
    assert!(res.conflicts.is_empty());
    assert_eq!(
        why(&res, "d", 1),
        vec![SuppressReason::Duplicate { kept: "c".into() }]
    );
}

#[test]
fn rule_overrides_replace_the_policy() {
    let mut c = campaign(1, &[], None);
    c.last_change_at
        .insert("status".into(), t("2026-03-02T09:55:00Z"));
    c.last_change_at
        .insert("daily_budget_micros".into(), t("2026-03-02T09:55:00Z"));
    let mut overrides = BTreeMap::new();
    overrides.insert(
        "quick".to_string(),
        (Some(Duration::minutes(2)), Some(Duration::minutes(1))),
    );
    overrides.insert(
        "slow".to_string(),
        (Some(Duration::hours(2)), Some(Duration::hours(2))),
    );
    let at = t("2026-03-02T10:00:00Z");
    let quick = resolve(
        at,
        vec![p("quick", 1, 1, Action::Pause), p("quick", 1, 1, budget(7))],
        std::slice::from_ref(&c),
        &policy(),
        &overrides,
    );
    assert_eq!(quick.accepted.len(), 2);
    let slow = resolve(
        at,
        vec![p("slow", 1, 1, Action::Pause)],
        std::slice::from_ref(&c),
        &Policy {
            min_dwell: Duration::zero(),
            cooldown: Duration::zero(),
        },
        &overrides,
    );
    assert_eq!(
        why(&slow, "slow", 1),
        vec![SuppressReason::Dwell {
            until: t("2026-03-02T11:55:00Z")
        }]
    );
}

/// A deterministic shuffle (no randomness in tests).
fn permute<T: Clone>(items: &[T], seed: u64) -> Vec<T> {
    let mut out = items.to_vec();
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for i in (1..out.len()).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let j = usize::try_from((state >> 33) % (i as u64 + 1)).unwrap_or(0);
        out.swap(i, j);
    }
    out
}

#[test]
fn the_order_of_proposals_does_not_matter() {
    let at = t("2026-03-02T10:00:00Z");
    let mut campaigns: Vec<CampaignFacts> = (1..=4).map(|n| campaign(n, &[], None)).collect();
    campaigns[1].status = CampaignStatus::Paused;
    campaigns[2]
        .last_change_at
        .insert("status".into(), t("2026-03-02T09:50:00Z"));
    let proposals = vec![
        p("gate", 100, 1, Action::Pause),
        p("hours", 110, 1, Action::Resume),
        p("pacing", 50, 1, budget(20_000_000)),
        p("pacing2", 50, 1, budget(30_000_000)),
        p("pacing3", 50, 1, budget(20_000_000)),
        p("gate", 100, 2, Action::Resume),
        p("hours", 110, 2, Action::Resume),
        p("gate", 100, 3, Action::Resume),
        p(
            "gate",
            100,
            3,
            Action::Notify {
                message: "x".into(),
            },
        ),
        p(
            "other",
            100,
            3,
            Action::Notify {
                message: "x".into(),
            },
        ),
        p("gate", 100, 4, Action::Pause),
        p("routing", 105, 4, Action::Pause),
        p("gate", 100, 77, Action::Pause),
    ];
    let reference = resolve(
        at,
        proposals.clone(),
        &campaigns,
        &policy(),
        &no_overrides(),
    );
    let reference_json = serde_json::to_string(&reference).expect("serializes");
    for seed in 0..50 {
        let shuffled = permute(&proposals, seed);
        let res = resolve(at, shuffled, &campaigns, &policy(), &no_overrides());
        assert_eq!(
            serde_json::to_string(&res).expect("serializes"),
            reference_json,
            "seed {seed}"
        );
    }
    // And the resolution itself round-trips through serde (it is stored in events).
    let back: Resolution = serde_json::from_str(&reference_json).expect("deserializes");
    assert_eq!(back, reference);
}

#[test]
fn suppress_reasons_serialize_with_a_why_tag() {
    let json = serde_json::to_value(SuppressReason::Dwell {
        until: t("2026-03-02T10:15:00Z"),
    })
    .expect("serializes");
    assert_eq!(
        json,
        serde_json::json!({"why": "dwell", "until": "2026-03-02T10:15:00Z"})
    );
    assert_eq!(
        serde_json::to_value(SuppressReason::NoChange).expect("serializes"),
        serde_json::json!({"why": "no_change"})
    );
}

fn currency(code: &str, unit_micros: i64) -> Option<Currency> {
    Some(Currency::new(code, unit_micros).unwrap())
}

fn cpa(micros: i64) -> Action {
    Action::SetBidTarget {
        bidding: Bidding::TargetCpa {
            target_cpa_micros: micros,
        },
    }
}

#[test]
fn amounts_are_fitted_to_the_account_currency_before_anything_else() {
    let at = t("2026-03-02T10:00:00Z");
    let mut c: Vec<CampaignFacts> = (1..=6).map(|n| campaign(n, &[], None)).collect();
    c[0].currency = currency("EUR", 10_000);
    c[1].currency = currency("JPY", 1_000_000);
    c[2].currency = currency("JPY", 1_000_000);
    // 4: already at 33.33 EUR: 33.333333 is no change.
    c[3].currency = currency("EUR", 10_000);
    c[3].daily_budget_micros = 33_330_000;
    // 5: half a yen is nothing.
    c[4].currency = currency("JPY", 1_000_000);
    // 6: no currency known (the simulator): amounts go as the rule wrote them.
    let proposals = vec![
        p("a", 1, 1, budget(33_333_333)),
        p("a", 1, 2, budget(1_234_500_000)),
        p("a", 1, 3, cpa(1_234_500_000)),
        p("a", 1, 4, budget(33_333_333)),
        p("a", 1, 5, budget(500_000)),
        p("b", 0, 5, budget(7_000_000)),
        p("a", 1, 6, budget(33_333_333)),
    ];
    let res = resolve(at, proposals, &c, &policy(), &no_overrides());
    let sent: Vec<(String, Action)> = res
        .accepted
        .iter()
        .map(|p| (p.campaign.clone(), p.decision.action.clone()))
        .collect();
    assert_eq!(
        sent,
        vec![
            ("111-222-3333/1".into(), budget(33_330_000)),
            ("111-222-3333/2".into(), budget(1_234_000_000)),
            ("111-222-3333/3".into(), cpa(1_235_000_000)),
            ("111-222-3333/6".into(), budget(33_333_333)),
            ("111-222-3333/5".into(), budget(7_000_000)),
        ],
        "budgets down, targets to the nearest unit"
    );
    assert_eq!(why(&res, "a", 4), vec![SuppressReason::NoChange]);
    assert_eq!(
        why(&res, "a", 5),
        vec![SuppressReason::BelowCurrencyUnit {
            currency: "JPY".into(),
            unit_micros: 1_000_000
        }],
        "a budget below one unit takes no part, so a lower rule's may pass"
    );
    assert!(res.conflicts.is_empty(), "{:?}", res.conflicts);
}

#[test]
fn the_same_refused_change_waits_for_the_cooldown_another_value_does_not() {
    let at = t("2026-03-02T10:00:00Z");
    let mut c: Vec<CampaignFacts> = (1..=3).map(|n| campaign(n, &[], None)).collect();
    for x in &mut c {
        x.currency = currency("EUR", 10_000);
        x.refused.insert(
            "daily_budget_micros".into(),
            RefusedChange {
                change: CampaignChange::SetBudget {
                    daily_budget_micros: 40_000_000,
                },
                at: t("2026-03-02T09:50:00Z"),
            },
        );
    }
    // 3: refused 40 minutes ago, beyond the 30-minute cooldown.
    c[2].refused.get_mut("daily_budget_micros").unwrap().at = t("2026-03-02T09:20:00Z");
    let proposals = vec![
        // Fitted to 40.00 EUR: the refused change itself.
        p("a", 1, 1, budget(40_003_000)),
        p("a", 1, 2, budget(41_000_000)),
        p("a", 1, 3, budget(40_000_000)),
    ];
    let res = resolve(at, proposals, &c, &policy(), &no_overrides());
    assert_eq!(
        why(&res, "a", 1),
        vec![SuppressReason::RecentlyRefused {
            until: t("2026-03-02T10:20:00Z")
        }]
    );
    assert_eq!(
        accepted(&res),
        vec![
            ("a".into(), "111-222-3333/2".into(), "set_budget"),
            ("a".into(), "111-222-3333/3".into(), "set_budget"),
        ],
        "a refusal starts no cooldown of the field"
    );
    assert_eq!(
        SuppressReason::RecentlyRefused {
            until: t("2026-03-02T10:20:00Z")
        }
        .to_string(),
        "the same change was refused; again after 2026-03-02T10:20:00Z"
    );
    assert_eq!(
        SuppressReason::BelowCurrencyUnit {
            currency: "JPY".into(),
            unit_micros: 1_000_000
        }
        .kind(),
        "below_currency_unit"
    );
}

/// A change still open (ADR 0054): asked for again, it is pending; a decision back to what
/// the campaign is replaces it at once (no dwell: nothing changed at Google); another value
/// replaces it under the usual cooldown. Decisions recorded before open changes were listed
/// (only their fields) are resolved as they were.
#[test]
fn an_open_change_is_asked_for_once_and_replaced_by_a_different_decision() {
    let at = t("2026-03-02T10:00:00Z");
    let mut c: Vec<CampaignFacts> = (1..=5).map(|n| campaign(n, &[], None)).collect();
    for f in &mut c {
        // The open change was asked for 2 minutes ago: well within dwell and cooldown.
        f.last_change_at
            .insert("status".into(), t("2026-03-02T09:58:00Z"));
        f.last_change_at
            .insert("daily_budget_micros".into(), t("2026-03-02T09:58:00Z"));
        f.daily_budget_micros = 5_000_000;
    }
    // 1, 2: a pause is open (the campaign is still enabled at Google).
    for f in &mut c[..2] {
        f.pending_changes
            .insert("status".into(), CampaignChange::Pause);
        f.pending_fields = vec!["status".into()];
    }
    // 3, 4: a budget change to 1.00 is open.
    for f in &mut c[2..4] {
        f.pending_changes.insert(
            "daily_budget_micros".into(),
            CampaignChange::SetBudget {
                daily_budget_micros: 1_000_000,
            },
        );
        f.pending_fields = vec!["daily_budget_micros".into()];
    }
    // 5: recorded before open changes were listed: only the field.
    c[4].pending_fields = vec!["status".into()];
    let proposals = vec![
        p("a", 1, 1, Action::Pause),
        p("a", 1, 2, Action::Resume),
        p("a", 1, 3, budget(1_000_000)),
        p("a", 1, 4, budget(2_000_000)),
        p("a", 1, 5, Action::Resume),
    ];
    let res = resolve(at, proposals, &c, &policy(), &no_overrides());
    let pending = |field: &str| {
        vec![SuppressReason::Pending {
            field: field.into(),
        }]
    };
    assert_eq!(why(&res, "a", 1), pending("status"));
    assert_eq!(
        accepted(&res),
        vec![("a".to_string(), "111-222-3333/2".to_string(), "resume")]
    );
    assert_eq!(why(&res, "a", 3), pending("daily_budget_micros"));
    assert_eq!(
        why(&res, "a", 4),
        vec![SuppressReason::Cooldown {
            until: t("2026-03-02T10:28:00Z")
        }]
    );
    assert_eq!(why(&res, "a", 5), vec![SuppressReason::NoChange]);
}
