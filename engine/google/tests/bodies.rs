//! The bodies the client produces, compared with the exact JSON of the API reference.

use leadorch_google::bodies::{self, MutateFlags};
use leadorch_google::{
    AdScheduleSlot, AdsError, BiddingTarget, CampaignStatus, CustomerId, DayOfWeek,
};
use serde_json::{json, Value};

fn customer() -> CustomerId {
    CustomerId::parse("123-456-7890").unwrap()
}

fn to_value<T: serde::Serialize>(v: T) -> Value {
    serde_json::to_value(v).unwrap()
}

const OFF: MutateFlags = MutateFlags {
    partial_failure: false,
    validate_only: false,
};

#[test]
fn pause_and_enable_match_the_reference() {
    let reference: Value = serde_json::from_str(
        r#"{"operations":[{"updateMask":"status","update":{"resourceName":"customers/1234567890/campaigns/111","status":"PAUSED"}}],"partialFailure":false,"validateOnly":false,"responseContentType":"MUTABLE_RESOURCE"}"#,
    )
    .unwrap();
    let body = bodies::campaign_status(&customer(), 111, &CampaignStatus::Paused, OFF).unwrap();
    assert_eq!(to_value(&body), reference);

    let enable = bodies::campaign_status(
        &customer(),
        111,
        &CampaignStatus::Enabled,
        MutateFlags {
            partial_failure: true,
            validate_only: true,
        },
    )
    .unwrap();
    assert_eq!(
        to_value(&enable),
        json!({"operations":[{"updateMask":"status","update":{"resourceName":"customers/1234567890/campaigns/111","status":"ENABLED"}}],"partialFailure":true,"validateOnly":true,"responseContentType":"MUTABLE_RESOURCE"})
    );
    // The customer id travels in the path only.
    assert!(!to_value(&enable).to_string().contains("customerId"));

    let other = bodies::campaign_status(
        &customer(),
        111,
        &CampaignStatus::Other("UNKNOWN".into()),
        OFF,
    );
    assert!(matches!(other, Err(AdsError::Invalid(_))));
    assert!(matches!(
        bodies::campaign_status(&customer(), 0, &CampaignStatus::Paused, OFF),
        Err(AdsError::Invalid(_))
    ));
}

#[test]
fn budget_matches_the_reference() {
    let body = bodies::budget_amount(
        &customer(),
        "customers/1234567890/campaignBudgets/9",
        50_000_000,
        OFF,
    )
    .unwrap();
    assert_eq!(
        to_value(&body),
        json!({"operations":[{"updateMask":"amountMicros","update":{"resourceName":"customers/1234567890/campaignBudgets/9","amountMicros":"50000000"}}],"partialFailure":false,"validateOnly":false,"responseContentType":"MUTABLE_RESOURCE"})
    );
    for amount in [0, -1] {
        let e = bodies::budget_amount(
            &customer(),
            "customers/1234567890/campaignBudgets/9",
            amount,
            OFF,
        )
        .unwrap_err();
        assert!(
            matches!(&e, AdsError::Invalid(m) if m.contains("positive")),
            "{e}"
        );
    }
    for name in [
        "customers/999/campaignBudgets/9",
        "customers/1234567890/campaigns/9",
        "customers/1234567890/campaignBudgets/",
        "customers/1234567890/campaignBudgets/9/x",
    ] {
        assert!(
            bodies::budget_amount(&customer(), name, 1, OFF).is_err(),
            "{name} accepted"
        );
    }
}

#[test]
fn bidding_targets_match_the_reference() {
    let cpa = bodies::bidding_target(
        &customer(),
        111,
        BiddingTarget::TargetCpa { micros: 1_500_000 },
        OFF,
    )
    .unwrap();
    assert_eq!(
        to_value(&cpa)["operations"],
        json!([{"updateMask":"targetCpa.targetCpaMicros","update":{"resourceName":"customers/1234567890/campaigns/111","targetCpa":{"targetCpaMicros":"1500000"}}}])
    );
    let roas = bodies::bidding_target(
        &customer(),
        111,
        BiddingTarget::TargetRoas { ratio: 3.5 },
        OFF,
    )
    .unwrap();
    assert_eq!(
        to_value(&roas)["operations"],
        json!([{"updateMask":"targetRoas.targetRoas","update":{"resourceName":"customers/1234567890/campaigns/111","targetRoas":{"targetRoas":3.5}}}])
    );
    assert!(bodies::bidding_target(
        &customer(),
        111,
        BiddingTarget::TargetCpa { micros: 0 },
        OFF
    )
    .is_err());
    for ratio in [0.0, -1.0, f64::INFINITY, f64::NAN] {
        assert!(
            bodies::bidding_target(&customer(), 111, BiddingTarget::TargetRoas { ratio }, OFF)
                .is_err()
        );
    }
}

#[test]
fn ad_schedule_is_one_mutate_of_removes_then_creates() {
    let slot = AdScheduleSlot {
        day: DayOfWeek::Monday,
        start_hour: 9,
        start_minute: 0,
        end_hour: 17,
        end_minute: 30,
        bid_modifier: Some(1.2),
    };
    let plain = AdScheduleSlot {
        day: DayOfWeek::Sunday,
        start_hour: 20,
        start_minute: 45,
        end_hour: 24,
        end_minute: 0,
        bid_modifier: None,
    };
    let body = bodies::replace_ad_schedule(
        &customer(),
        111,
        &["customers/1234567890/campaignCriteria/111~77".to_owned()],
        &[slot, plain],
        OFF,
    )
    .unwrap();
    assert_eq!(
        to_value(&body),
        json!({"operations":[
            {"remove":"customers/1234567890/campaignCriteria/111~77"},
            {"create":{"campaign":"customers/1234567890/campaigns/111","adSchedule":{"dayOfWeek":"MONDAY","startHour":9,"startMinute":"ZERO","endHour":17,"endMinute":"THIRTY"},"bidModifier":1.2}},
            {"create":{"campaign":"customers/1234567890/campaigns/111","adSchedule":{"dayOfWeek":"SUNDAY","startHour":20,"startMinute":"FORTY_FIVE","endHour":24,"endMinute":"ZERO"}}}
        ],"partialFailure":false,"validateOnly":false,"responseContentType":"MUTABLE_RESOURCE"})
    );

    // A criterion of another campaign, or no work at all, is refused.
    assert!(bodies::replace_ad_schedule(
        &customer(),
        111,
        &["customers/1234567890/campaignCriteria/222~77".to_owned()],
        &[],
        OFF
    )
    .is_err());
    assert!(bodies::replace_ad_schedule(&customer(), 111, &[], &[], OFF).is_err());
    // Validation names the slot.
    let bad = AdScheduleSlot {
        start_minute: 20,
        ..slot
    };
    let e = bodies::replace_ad_schedule(&customer(), 111, &[], &[slot, bad], OFF).unwrap_err();
    assert!(e.to_string().contains("slot 1 (MONDAY 09:20-17:30)"), "{e}");
}
