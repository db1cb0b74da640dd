use super::*;
use crate::testutil::t;
use chrono::{DateTime, Duration, Utc};
use cqrs_es::test::TestFramework;

type Fixture = TestFramework<Campaign>;

fn hour() -> DateTime<Utc> {
    DateTime::from_timestamp(1_760_000_400, 0).expect("on the hour")
}

fn observed() -> CampaignEvent {
    samples().remove(0)
}

fn record(metrics: HourMetrics, hour_start: DateTime<Utc>) -> CampaignCommand {
    CampaignCommand::RecordMetrics {
        hour_start,
        metrics,
        google_account: None,
        at: t(90),
    }
}

fn figures() -> HourMetrics {
    HourMetrics {
        impressions: 900,
        clicks: 40,
        cost_micros: 31_000_000,
        conversions: 2.5,
    }
}

#[test]
fn records_metrics_of_an_observed_campaign() {
    Fixture::with(())
        .given(vec![observed()])
        .when(record(figures(), hour()))
        .then_expect_events(vec![CampaignEvent::MetricsRecorded {
            hour_start: hour(),
            metrics: Some(figures()),
            google_account: None,
            at: t(90),
        }]);
}

#[test]
fn refuses_bad_metrics() {
    Fixture::with(())
        .given_no_previous_events()
        .when(record(figures(), hour()))
        .then_expect_error(CampaignError::NotObserved);
    let mut negative = figures();
    negative.cost_micros = -1;
    Fixture::with(())
        .given(vec![observed()])
        .when(record(negative, hour()))
        .then_expect_error(CampaignError::InvalidMetrics("cost_micros is negative"));
    let mut nan = figures();
    nan.conversions = f64::NAN;
    Fixture::with(())
        .given(vec![observed()])
        .when(record(nan, hour()))
        .then_expect_error(CampaignError::InvalidMetrics(
            "conversions must be a finite number >= 0",
        ));
    Fixture::with(())
        .given(vec![observed()])
        .when(record(figures(), hour() + Duration::minutes(5)))
        .then_expect_error(CampaignError::InvalidMetrics(
            "hour_start must be on the hour",
        ));
}
