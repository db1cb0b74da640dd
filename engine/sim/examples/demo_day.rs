//! Runs the demo world over one working day twice, without rules and with a tiny capacity
//! controller, and prints the totals side by side.
//!
//! `cargo run -p leadorch-sim --example demo_day [seed]`

use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};
use leadorch_sim::{SimConfig, SimSummary, Simulator};

#[path = "../tests/common/mod.rs"]
mod common;
use common::control;

/// Runs the demo from Tuesday 07:00 local; returns the totals and, per team, when it was
/// first full while agents were on shift.
fn run(seed: u64, minutes: u32, controlled: bool) -> (SimSummary, BTreeMap<String, String>) {
    // Tuesday 11 March 2025, 07:00 in Amsterdam.
    let start = Utc.with_ymd_and_hms(2025, 3, 11, 6, 0, 0).unwrap();
    let mut sim = Simulator::new(SimConfig::demo(start, seed)).expect("the demo config is valid");
    let mut first_full = BTreeMap::new();
    for _ in 0..minutes {
        if controlled {
            control(&mut sim);
        }
        sim.advance(1);
        for team in sim.capacity() {
            if team.agents_available > 0 && team.open_leads >= team.max_open_leads {
                let local = sim.now().with_timezone(&chrono_tz::Europe::Amsterdam);
                first_full
                    .entry(team.team)
                    .or_insert_with(|| local.format("%H:%M").to_string());
            }
        }
    }
    (sim.summary(), first_full)
}

fn euros(micros: i64) -> String {
    format!("€ {:.2}", micros as f64 / 1e6)
}

fn main() {
    let seed = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    for (label, minutes) in [("07:00–19:00", 720), ("24 h from 07:00", 1440)] {
        let (without, full_without) = run(seed, minutes, false);
        let (with, full_with) = run(seed, minutes, true);
        println!("demo, seed {seed}, {label}            without rules   with controller");
        let rows: [(&str, String, String); 11] = [
            (
                "first full (local)",
                format!("{full_without:?}"),
                format!("{full_with:?}"),
            ),
            ("leads", without.leads.to_string(), with.leads.to_string()),
            (
                "worked",
                without.leads_worked.to_string(),
                with.leads_worked.to_string(),
            ),
            (
                "expired",
                without.leads_expired.to_string(),
                with.leads_expired.to_string(),
            ),
            (
                "open at end",
                without.leads_open.to_string(),
                with.leads_open.to_string(),
            ),
            (
                "clicks",
                without.clicks.to_string(),
                with.clicks.to_string(),
            ),
            (
                "spend",
                euros(without.spend_micros),
                euros(with.spend_micros),
            ),
            (
                "spend on expired",
                euros(without.spend_on_expired_micros),
                euros(with.spend_on_expired_micros),
            ),
            (
                "status flips",
                without.status_flips.to_string(),
                with.status_flips.to_string(),
            ),
            (
                "min over capacity",
                format!("{:?}", without.minutes_over_capacity),
                format!("{:?}", with.minutes_over_capacity),
            ),
            (
                "min paused",
                format!("{:?}", without.minutes_paused),
                format!("{:?}", with.minutes_paused),
            ),
        ];
        for (name, a, b) in rows {
            println!("  {name:<20} {a:>16} {b:>16}");
        }
        println!();
    }
}
