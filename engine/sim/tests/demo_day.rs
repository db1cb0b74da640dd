//! The demo's story: pausing the capacity-gated campaigns when a team is nearly full cuts the
//! leads that expire and the money spent on them, compared with doing nothing.

use chrono::{TimeZone, Utc};
use leadorch_sim::{SimConfig, SimSummary, Simulator};

mod common;
use common::control;

/// Tuesday 11 March 2025 from 07:00 to 19:00 in Amsterdam.
fn demo_day(seed: u64, controlled: bool) -> SimSummary {
    let start = Utc.with_ymd_and_hms(2025, 3, 11, 6, 0, 0).unwrap();
    let mut sim = Simulator::new(SimConfig::demo(start, seed)).expect("the demo config is valid");
    for _ in 0..12 * 60 {
        if controlled {
            control(&mut sim);
        }
        sim.advance(1);
    }
    sim.summary()
}

#[test]
fn pausing_gated_campaigns_near_capacity_cuts_expired_leads_and_wasted_spend() {
    for seed in [42, 1, 2] {
        let without = demo_day(seed, false);
        let with = demo_day(seed, true);
        // Every lead and every unit of spend is in exactly one part.
        for s in [&with, &without] {
            assert_eq!(s.leads, s.leads_worked + s.leads_open + s.leads_expired);
            assert_eq!(
                s.spend_micros,
                s.spend_on_worked_micros
                    + s.spend_on_open_micros
                    + s.spend_on_expired_micros
                    + s.spend_without_lead_micros
            );
        }

        // Without rules a meaningful share of the leads is lost.
        let share = without.leads_expired as f64 / without.leads as f64;
        assert!((0.15..=0.40).contains(&share), "seed {seed}: {share}");
        assert_eq!(without.status_flips, 0);

        // With the controller, far fewer are lost and far less is wasted …
        assert!(with.status_flips > 0);
        assert!(
            with.leads_expired * 5 < without.leads_expired,
            "seed {seed}: {} vs {}",
            with.leads_expired,
            without.leads_expired
        );
        assert!(with.spend_on_expired_micros * 5 < without.spend_on_expired_micros);
        assert!(with.spend_micros < without.spend_micros);
        // … while the teams work (nearly) as many leads.
        assert!(
            with.leads_worked + 10 >= without.leads_worked,
            "seed {seed}"
        );
        // The brand campaign is never paused.
        assert_eq!(with.minutes_paused["1003"], 0);
        assert!(with.minutes_paused["1001"] > 0);
        assert!(
            with.minutes_over_capacity["sales-nl"] * 4 < without.minutes_over_capacity["sales-nl"]
        );
    }
}
