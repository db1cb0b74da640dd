//! Times one engine tick: `prepare` once, then 20 rules over 1,000 campaigns.
//!
//! `cargo run --release -p leadorch-rules --example tick`
//!
//! Rule sets: the four example rules from `rules/` five times over, with two campaign mixes
//! ("scoped": labels spread so each rule sees part of the campaigns, as in practice; "all in
//! scope": every campaign carries every label, 20,000 evaluations), and a minimal inline
//! gate twenty times over all campaigns. Each with one thread and with two
//! (`RuleHost::evaluate_all`). `TICK_DETAIL=1` adds the cost of each example rule.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use leadorch_rules::{
    Calendar, CampaignFacts, CompiledRule, Facts, Limits, Metrics, RuleHost, TeamFacts,
};

/// A minimal gate written inline (no library calls), for comparison.
const INLINE_GATE: &str = r#"//! Inline capacity gate (benchmark only).
//! scope: labels=capacity-gated
if team == () { return; }
let u = team.utilisation;
if u > 0.9 && !campaign.paused { return pause(`team ${team.name} is full`); }
if u < 0.7 && campaign.paused { return resume(`team ${team.name} has room`); }
"#;

// Allowed: a benchmark reads the example rules, the clock it measures with and
// `TICK_DETAIL` (the purity rules bind the crate's library code, not this program).
#[allow(clippy::disallowed_methods)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rules_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let host = RuleHost::new(Some(&rules_dir.join("lib")), Limits::default())?;
    let mut examples: Vec<CompiledRule> = Vec::new();
    let mut inline: Vec<CompiledRule> = Vec::new();
    for round in 0..5 {
        for name in [
            "capacity_gate",
            "business_hours",
            "budget_pacing",
            "team_routing",
        ] {
            let source = std::fs::read_to_string(rules_dir.join(format!("{name}.rhai")))?;
            examples.push(host.compile(&format!("{name}_{round}"), &source)?);
        }
    }
    for i in 0..20 {
        inline.push(host.compile(&format!("inline_{i}"), INLINE_GATE)?);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "rhai {}, {cores} cores; median of 30 ticks (prepare + 20 rules)",
        leadorch_rules::RHAI_VERSION
    );
    for (label, rules, all) in [
        ("example rules x5, scoped", &examples, false),
        ("example rules x5, all in scope", &examples, true),
        ("inline gate x20, all in scope", &inline, true),
    ] {
        let facts = facts(all)?;
        for threads in [1, cores.min(2)] {
            let mut prepare = Vec::new();
            let mut total = Vec::new();
            let (mut evaluations, mut proposals, mut aborted) = (0, 0, 0);
            for _ in 0..30 {
                let start = Instant::now();
                let prepared = host.prepare(&facts);
                prepare.push(start.elapsed());
                let runs = host.evaluate_all(rules, &prepared, threads);
                total.push(start.elapsed());
                evaluations = runs.iter().map(|r| r.evaluated).sum::<usize>();
                proposals = runs.iter().map(|r| r.proposals.len()).sum::<usize>();
                // Timeouts can happen on a loaded machine; anything else is a bug.
                aborted += runs.iter().filter(|r| r.aborted.is_some()).count();
                if let Some(run) = runs.iter().find(|r| {
                    !r.failures.is_empty()
                        || r.aborted.as_ref().is_some_and(|e| e.kind() != "timeout")
                }) {
                    return Err(format!(
                        "rule {} failed: {:?} {:?}",
                        run.rule, run.aborted, run.failures
                    )
                    .into());
                }
            }
            prepare.sort();
            total.sort();
            let ms = |d: Duration| d.as_secs_f64() * 1000.0;
            println!(
                "{label:<32} {threads} thread(s): {:>6.2} ms (prepare {:.2} ms; {evaluations} evaluations, {proposals} proposals){}",
                ms(total[total.len() / 2]),
                ms(prepare[prepare.len() / 2]),
                if aborted > 0 {
                    format!("; {aborted} runs timed out (machine busy?)")
                } else {
                    String::new()
                }
            );
        }
    }
    if std::env::var_os("TICK_DETAIL").is_some() {
        let prepared = host.prepare(&facts(true)?);
        for rule in examples.iter().take(4).chain(inline.iter().take(1)) {
            let start = Instant::now();
            let mut run = None;
            for _ in 0..10 {
                run = Some(host.evaluate(rule, &prepared));
            }
            let per_run = start.elapsed() / 10;
            if let Some(run) = run {
                println!(
                    "  {:<18} {:>6.3} ms per 1000 campaigns, {:>4} ops per campaign",
                    rule.name,
                    per_run.as_secs_f64() * 1000.0,
                    run.operations / run.evaluated.max(1) as u64
                );
            }
        }
    }
    Ok(())
}

fn t(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    Ok(DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc))
}

fn facts(all_in_scope: bool) -> Result<Facts, chrono::ParseError> {
    let at = t("2026-03-02T10:00:00Z")?;
    let mut teams = BTreeMap::new();
    for (i, name) in ["sales-nl", "sales-de", "sales-be", "sales-fr"]
        .iter()
        .enumerate()
    {
        let i = u32::try_from(i).unwrap_or(0);
        teams.insert(
            name.to_string(),
            TeamFacts {
                team: name.to_string(),
                agents_available: 3 + i,
                open_leads: 20 + 25 * i,
                max_open_leads: 100,
                updated_at: Some(t("2026-03-02T09:58:00Z")?),
                leads_window: 12,
                max_age_secs: None,
            },
        );
    }
    let mut weekly = BTreeMap::new();
    for day in ["mon", "tue", "wed", "thu", "fri"] {
        weekly.insert(
            day.to_string(),
            vec![["09:00".to_string(), "17:30".to_string()]],
        );
    }
    let mut calendars = BTreeMap::new();
    calendars.insert(
        "default".to_string(),
        Calendar {
            weekly,
            holidays: vec![],
            timezone: None,
        },
    );
    let team_names: Vec<String> = teams.keys().cloned().collect();
    let campaigns = (0..1000u32)
        .map(|n| {
            let team = &team_names[(n % 4) as usize];
            let mut c = CampaignFacts::new(
                &format!("111-222-{:04}/{}", n % 7, 1000 + n),
                &format!("Brand {n}"),
            );
            c.team = Some(team.clone());
            c.daily_budget_micros = 50_000_000;
            c.labels = if all_in_scope {
                vec![
                    "capacity-gated".into(),
                    "business-hours".into(),
                    "paced".into(),
                    format!("team:{team}"),
                    "budget:50".into(),
                ]
            } else {
                let mut l = vec!["capacity-gated".to_string()];
                if n % 2 == 0 {
                    l.push("paced".into());
                }
                if n % 3 == 0 {
                    l.push("business-hours".into());
                }
                if n % 4 == 0 {
                    l.push(format!("team:{team}"));
                }
                l
            };
            c.metrics_today = Metrics {
                impressions: 1200,
                clicks: 80,
                cost_micros: 21_500_000,
                conversions: 3.0,
            };
            c.metrics_window = Metrics {
                impressions: 100,
                clicks: 7,
                cost_micros: 1_900_000,
                conversions: 0.0,
            };
            c.leads_today = 4;
            c.leads_window = 1;
            c
        })
        .collect();
    Ok(Facts {
        at,
        timezone: "Europe/Amsterdam".to_string(),
        calendars,
        window_minutes: 60,
        teams,
        campaigns,
    })
}
