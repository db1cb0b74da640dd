//! A rule's source, compiled and run: `RuleHost::compile` (the header, Rhai's parser and
//! optimiser, import resolution against the real `rules/lib`), `lint::unknown_facts`, and, when
//! it compiles, `RuleHost::evaluate` over small fixed facts (the facts as Rhai values, the
//! natives, the conversion of what the script returns into decisions), then what the daemon
//! does with a run: `resolve` (the arbiter) and the run as JSON.
//!
//! The input is the rule source (invalid UTF-8 is replaced). The host is built once, with
//! `max_operations` 10 000 so that endless loops end fast.
//!
//! Besides "no panic": the same run with kept results (`evaluate_reusing`, once to fill and
//! once to replay) and split over two threads (`evaluate_all`) gives the same run, as the host
//! documents (durations aside; runs stopped by a limit are not compared, timeouts differ).
//!
//! Panics inside Rhai are caught by the host (`catch_unwind` around compiling and evaluating)
//! and answered as "the rule engine failed internally"; this target prints them ("contained
//! panic in Rhai") and goes on. Set `FUZZ_STRICT_RHAI=1` to make them crashes (to minimise
//! one). A panic anywhere else (leadorch code, natives included) is a crash.
#![cfg_attr(fuzzing, no_main)]

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use leadorch_domain::campaign::{
    AdScheduleSlot, Bidding, CampaignChange, CampaignStatus, Currency, DayOfWeek,
};
use leadorch_rules::{
    lint, resolve, Calendar, CampaignFacts, Facts, Limits, Metrics, Policy, PreparedFacts,
    RefusedChange, Reuse, RuleHost, RuleRun, TeamFacts,
};

struct World {
    host: RuleHost,
    facts: Facts,
    prepared: PreparedFacts,
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a fixed time")
        .with_timezone(&Utc)
}

/// Monday 2026-03-02 10:00 UTC: two teams (one nearly full with a stale reading, one with no
/// capacity at all), three campaigns of different shapes, a business-hours calendar.
fn facts() -> Facts {
    let mut teams = BTreeMap::new();
    teams.insert(
        "sales-nl".to_string(),
        TeamFacts {
            team: "sales-nl".into(),
            agents_available: 4,
            open_leads: 93,
            max_open_leads: 100,
            updated_at: Some(t("2026-03-02T09:00:00Z")),
            leads_window: 12,
            max_age_secs: Some(600),
        },
    );
    teams.insert(
        "empty".to_string(),
        TeamFacts {
            team: "empty".into(),
            agents_available: 0,
            open_leads: 0,
            max_open_leads: 0,
            updated_at: None,
            leads_window: 0,
            max_age_secs: None,
        },
    );

    let mut gated = CampaignFacts::new("111-222-3333/1", "Brand NL");
    gated.labels = vec!["capacity-gated".into(), "brand".into()];
    gated.team = Some("sales-nl".into());
    gated.daily_budget_micros = 50_000_000;
    gated.bidding = Bidding::TargetCpa {
        target_cpa_micros: 12_340_000,
    };
    gated.currency = Some(Currency {
        code: "EUR".into(),
        unit_micros: 10_000,
    });
    gated.ad_schedule = vec![AdScheduleSlot {
        day_of_week: DayOfWeek::Monday,
        start_hour: 9,
        start_minute: 0,
        end_hour: 17,
        end_minute: 30,
        bid_modifier: Some(1.2),
    }];
    gated.metrics_today = Metrics {
        impressions: 1_000,
        clicks: 50,
        cost_micros: 20_000_000,
        conversions: 2.5,
    };
    gated.metrics_window = Metrics {
        impressions: 100,
        clicks: 5,
        cost_micros: 2_000_000,
        conversions: 0.5,
    };
    gated.leads_today = 3;
    gated.leads_window = 1;
    gated
        .last_change_at
        .insert("status".into(), t("2026-03-02T09:50:00Z"));

    let mut paused = CampaignFacts::new("111-222-3333/2", "Generic *");
    paused.labels = vec!["team:empty".into()];
    paused.team = Some("empty".into());
    paused.status = CampaignStatus::Paused;
    paused.daily_budget_micros = 1;
    paused.bidding = Bidding::TargetRoas { target_roas: 3.5 };
    paused.manual_override_until = Some(t("2026-03-02T12:00:00Z"));
    paused.pending_fields = vec!["budget".into()];
    paused.currency = Some(Currency {
        code: "JPY".into(),
        unit_micros: 1_000_000,
    });
    paused.refused.insert(
        "budget".into(),
        RefusedChange {
            change: CampaignChange::SetBudget {
                daily_budget_micros: 3,
            },
            at: t("2026-03-02T09:00:00Z"),
        },
    );

    let mut other = CampaignFacts::new("999-999-9999/3", "");
    other.team = Some("unknown-team".into());
    other.status = CampaignStatus::Removed;
    other.bidding = Bidding::MaximizeConversions;
    other.daily_budget_micros = i64::MAX;

    let mut weekly = BTreeMap::new();
    for day in ["mon", "tue", "wed", "thu", "fri"] {
        weekly.insert(
            day.to_string(),
            vec![["09:00".to_string(), "17:30".to_string()]],
        );
    }
    weekly.insert(
        "sat".to_string(),
        vec![["10:00".to_string(), "24:00".to_string()]],
    );
    let mut calendars = BTreeMap::new();
    calendars.insert(
        "default".to_string(),
        Calendar {
            weekly,
            holidays: vec![NaiveDate::from_ymd_opt(2026, 12, 25).expect("a date")],
            timezone: None,
        },
    );

    Facts {
        at: t("2026-03-02T10:00:00Z"),
        timezone: "Europe/Amsterdam".into(),
        calendars,
        window_minutes: 60,
        teams,
        campaigns: vec![gated, paused, other],
    }
}

/// Treats panics raised inside Rhai's own code as contained (the host catches them) unless
/// `FUZZ_STRICT_RHAI` is set; every other panic goes to libFuzzer's hook (a crash). A panic
/// that is not caught still aborts: libfuzzer-sys aborts when the target unwinds.
fn install_panic_hook() {
    let strict = std::env::var_os("FUZZ_STRICT_RHAI").is_some();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_rhai = info
            .location()
            .is_some_and(|l| l.file().contains("/rhai-") || l.file().contains("\\rhai-"));
        if in_rhai && !strict {
            eprintln!("contained panic in Rhai (caught by RuleHost): {info}");
            return;
        }
        previous(info);
    }));
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        install_panic_hook();
        let limits = Limits {
            max_operations: 10_000,
            // Generous: a sanitizer build on a busy machine is slow, and a timeout makes runs
            // differ from one evaluation to the next.
            wall_clock: Duration::from_secs(2),
            ..Limits::default()
        };
        // The built-in library is `rules/lib`, byte for byte (ADR 0051), and needs no path.
        let host = RuleHost::built_in(limits).expect("the host builds with rules/lib");
        let facts = facts();
        let prepared = host.prepare(&facts);
        assert_eq!(prepared.error(), None, "the fixed facts are good");
        World {
            host,
            facts,
            prepared,
        }
    })
}

/// A run without what may differ between two evaluations of the same rule and facts.
fn comparable(run: &RuleRun) -> RuleRun {
    RuleRun {
        duration: Duration::ZERO,
        ..run.clone()
    }
}

/// One input, checked. libFuzzer calls it under `cargo fuzz`; the test command calls it
/// over the kept inputs (`engine/api/tests/fuzz_replay.rs`).
pub fn run(data: &[u8]) {
    let world = world();
    let source = String::from_utf8_lossy(data);

    let _ = lint::unknown_facts(&source);
    let rule = match world.host.compile("fuzzed", &source) {
        Ok(rule) => rule,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = rule.reads().describe();
    let host = &world.host;
    let run = host.evaluate(&rule, &world.prepared);

    // What the daemon does with a run: resolve it, record it.
    let mut overrides = BTreeMap::new();
    overrides.insert(rule.name.clone(), (rule.meta.dwell, rule.meta.cooldown));
    let resolution = resolve(
        world.facts.at,
        run.proposals.clone(),
        &world.facts.campaigns,
        &Policy::default(),
        &overrides,
    );
    serde_json::to_string(&run).expect("a rule run serializes");
    serde_json::to_string(&resolution).expect("a resolution serializes");
    for p in &run.proposals {
        let _ = p.decision.action.describe();
    }

    if run.aborted.is_some() {
        return; // stopped by a limit: a timeout is not reproducible
    }
    let mut reuse = Reuse::new();
    for pass in ["filling", "replaying"] {
        let again =
            host.evaluate_reusing(std::slice::from_ref(&rule), &world.prepared, 1, &mut reuse);
        let again = again.first().expect("one run per rule");
        if again.aborted.is_some() {
            return;
        }
        assert_eq!(
            comparable(again),
            comparable(&run),
            "evaluate_reusing ({pass} the kept results) differs from evaluate"
        );
    }
    let split = host.evaluate_all(std::slice::from_ref(&rule), &world.prepared, 2);
    let split = split.first().expect("one run per rule");
    if split.aborted.is_none() {
        assert_eq!(
            comparable(split),
            comparable(&run),
            "evaluate_all on two threads differs from evaluate"
        );
    }
}

#[cfg(fuzzing)]
libfuzzer_sys::fuzz_target!(|data: &[u8]| run(data));

/// Built by plain cargo rather than cargo-fuzz: nothing to run.
#[cfg(not(any(fuzzing, test)))]
fn main() {}
