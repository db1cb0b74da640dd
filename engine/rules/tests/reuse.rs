//! Results kept across evaluations (`RuleHost::evaluate_reusing`): the runs are those of a
//! full evaluation, byte for byte, over a long series of changing facts; results are reused
//! when nothing a rule reads changed, and only then.

// Tests read the example rules from `rules/` (the crate itself does no I/O).
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::Duration;

use chrono::Duration as Minutes;
use leadorch_domain::campaign::CampaignStatus;
use leadorch_rules::{CompiledRule, Facts, Read, Reuse, RuleHost, RuleRun};

use common::{campaign, facts, host, rules_dir, team};

/// A small deterministic generator (no dependency, same series on every machine).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Rules that read in every way the analysis tells apart, print, fail, and read the clock.
const EXTRA: [(&str, &str); 7] = [
    (
        "printer",
        "//! scope: all\nprint(`${campaign.name} ${campaign.budget}`);\nif campaign.budget > 60.0 { debug(\"big\"); }",
    ),
    (
        "failing",
        "//! scope: all\nif campaign.leads_today % 3 == 0 { throw \"no\"; }\nif campaign.leads_today % 3 == 1 { return 5; }",
    ),
    (
        "clock",
        "//! scope: all\nif now.hour >= 11 && !campaign.paused { pause(`after ${now.iso}`) }",
    ),
    (
        "whole",
        "//! scope: all\nlet c = campaign; let f = || team; if c.keys().len() > 5 && f.call() != () && f.call().stale { pause(\"stale\") }",
    ),
    (
        "by_name",
        "//! scope: all\nlet n = \"sales-nl\"; if n in teams && teams[n].utilisation > 0.95 { pause(`nl ${teams[n].open_leads}`) }",
    ),
    (
        "age",
        "//! scope: all\nif team != () && team.age_minutes != () && team.age_minutes > 30 { notify(`old ${team.age_minutes}`) }",
    ),
    (
        "helper",
        "//! scope: all\nimport \"hysteresis\" as h;\nif team == () { return; }\nh::decide(team.utilisation, 0.9, 0.7, campaign.paused, `full ${team.name}`, \"room\")",
    ),
];

fn rules(host: &RuleHost) -> Vec<CompiledRule> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(rules_dir())
        .expect("rules/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "rhai"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_stem().and_then(|s| s.to_str()).unwrap_or("rule");
        let source = std::fs::read_to_string(&path).expect("readable");
        out.push(
            host.compile(name, &source)
                .expect("an example rule compiles"),
        );
    }
    for (name, source) in EXTRA {
        out.push(host.compile(name, source).expect("compiles"));
    }
    out
}

fn start(n: u32) -> Facts {
    let campaigns = (0..n)
        .map(|i| {
            let team = ["sales-nl", "sales-be", "nowhere"][(i % 3) as usize];
            let labels: Vec<String> = vec![
                "capacity-gated".into(),
                "business-hours".into(),
                "paced".into(),
                format!("team:{team}"),
            ];
            let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
            let mut c = campaign(i, &labels, Some(team));
            c.leads_today = u64::from(i % 5);
            c
        })
        .collect();
    let mut f = facts(campaigns, 80);
    f.teams
        .insert("sales-be".into(), team("sales-be", 2, 30, 40));
    f.teams.get_mut("sales-nl").expect("nl").updated_at = Some(f.at);
    f
}

/// Changes a few things, as a day of operation does: a campaign's status, budget or leads,
/// a team's load, and now and then the clock.
fn change(f: &mut Facts, rng: &mut Lcg) {
    for _ in 0..rng.below(4) {
        let i = rng.below(f.campaigns.len() as u64) as usize;
        let c = &mut f.campaigns[i];
        match rng.below(4) {
            0 => {
                c.status = if c.status == CampaignStatus::Paused {
                    CampaignStatus::Enabled
                } else {
                    CampaignStatus::Paused
                }
            }
            1 => c.daily_budget_micros = 10_000_000 * (1 + rng.below(10) as i64),
            2 => c.leads_today += 1,
            _ => {
                c.last_change_at.insert("status".into(), f.at);
            }
        }
    }
    if rng.below(4) == 0 {
        let name = if rng.below(2) == 0 {
            "sales-nl"
        } else {
            "sales-be"
        };
        let t = f.teams.get_mut(name).expect("team");
        t.open_leads = rng.below(u64::from(t.max_open_leads) + 10) as u32;
        t.updated_at = Some(f.at);
    }
    if rng.below(5) == 0 {
        f.at += Minutes::minutes(rng.below(90) as i64);
    }
}

fn without_durations(mut runs: Vec<RuleRun>) -> Vec<RuleRun> {
    for r in &mut runs {
        r.duration = Duration::ZERO;
    }
    runs
}

#[test]
fn reused_runs_equal_full_runs_over_a_long_series_of_changes() {
    let host = host();
    let rules = rules(&host);
    for threads in [1, 2] {
        let mut f = start(60);
        let mut rng = Lcg(17 + threads as u64);
        let mut reuse = Reuse::new();
        let (mut reused, mut evaluated) = (0, 0);
        for step in 0..300 {
            let prepared = host.prepare(&f);
            let full = without_durations(host.evaluate_all(&rules, &prepared, threads));
            let again =
                without_durations(host.evaluate_reusing(&rules, &prepared, threads, &mut reuse));
            assert_eq!(
                serde_json::to_string(&full).expect("json"),
                serde_json::to_string(&again).expect("json"),
                "step {step}, {threads} thread(s): a reused run differs from the full run"
            );
            reused += reuse.last().reused;
            evaluated += reuse.last().evaluated;
            change(&mut f, &mut rng);
        }
        // Most steps change a few campaigns: most runs are replayed.
        assert!(
            reused > evaluated,
            "{threads} thread(s): {reused} reused, {evaluated} evaluated"
        );
        assert!(evaluated > 0);
    }
}

#[test]
fn only_what_a_rule_reads_decides_whether_it_is_evaluated_again() {
    let host = host();
    let gate = host
        .compile(
            "capacity_gate",
            &std::fs::read_to_string(rules_dir().join("capacity_gate.rhai")).expect("rule"),
        )
        .expect("compiles");
    // The example gate reads a few fields, not the clock.
    assert_eq!(gate.reads().now, Read::None);
    assert!(!gate.reads().describe().iter().any(|r| r.contains("age")));
    let rules = [gate];
    let mut f = start(30);
    let mut reuse = Reuse::new();
    let mut eval = |f: &Facts| {
        host.evaluate_reusing(&rules, &host.prepare(f), 1, &mut reuse);
        reuse.last()
    };
    let gated = 30; // every campaign is in scope
    assert_eq!(eval(&f).evaluated, gated, "nothing kept yet");
    assert_eq!(eval(&f).reused, gated, "nothing changed");

    // An hour later, nothing it reads changed (the reading's age did: it does not read it).
    f.at += Minutes::minutes(60);
    assert_eq!(
        eval(&f).reused,
        gated,
        "the clock alone changes nothing it reads"
    );

    // A campaign's budget: not read by the gate.
    f.campaigns[4].daily_budget_micros += 1;
    assert_eq!(eval(&f).evaluated, 0);

    // A campaign's status: read.
    f.campaigns[4].status = CampaignStatus::Paused;
    let s = eval(&f);
    assert_eq!((s.evaluated, s.reused), (1, gated - 1));

    // One team's load: its campaigns (every third one) are evaluated again.
    f.teams.get_mut("sales-be").expect("be").open_leads = 39;
    let s = eval(&f);
    assert_eq!((s.evaluated, s.reused), (10, 20));

    // Another version of the rule starts afresh.
    let edited = host
        .compile(
            "capacity_gate",
            &std::fs::read_to_string(rules_dir().join("capacity_gate.rhai"))
                .expect("rule")
                .replace("0.90", "0.91"),
        )
        .expect("compiles");
    let s = {
        host.evaluate_reusing(&[edited], &host.prepare(&f), 1, &mut reuse);
        reuse.last()
    };
    assert_eq!((s.evaluated, s.reused), (gated, 0));
}

/// `team_routing` finds its team by a name computed from the campaign's labels (`name in
/// teams`, `teams[name]`): its kept results depend on the teams each run looked up, so one
/// team's change evaluates again only the campaigns labelled for it, and a team that appears
/// only those that looked for it in vain.
#[test]
fn a_rule_that_looks_teams_up_by_name_depends_only_on_the_teams_it_looked_up() {
    let host = host();
    let routing = host
        .compile(
            "team_routing",
            &std::fs::read_to_string(rules_dir().join("team_routing.rhai")).expect("rule"),
        )
        .expect("compiles");
    // It reads `teams` by a computed name: wholly, as far as its code shows.
    assert_eq!(routing.reads().teams, Read::Whole);
    let rules = [routing];
    let mut f = start(30);
    let mut reuse = Reuse::new();
    let mut eval = |f: &Facts| {
        let runs = host.evaluate_reusing(&rules, &host.prepare(f), 2, &mut reuse);
        (reuse.last(), without_durations(runs))
    };
    assert_eq!(eval(&f).0.evaluated, 30, "nothing kept yet");
    assert_eq!(eval(&f).0.reused, 30, "nothing changed");

    // One team's load: the ten campaigns labelled team:sales-be.
    f.teams.get_mut("sales-be").expect("be").open_leads = 39;
    let (s, runs) = eval(&f);
    assert_eq!((s.evaluated, s.reused), (10, 20));
    assert_eq!(
        runs,
        without_durations(host.evaluate_all(&rules, &host.prepare(&f), 1))
    );

    // A team the labels name appears: the ten campaigns that looked for it.
    f.teams.insert("nowhere".into(), team("nowhere", 0, 5, 10));
    let (s, runs) = eval(&f);
    assert_eq!((s.evaluated, s.reused), (10, 20));
    assert_eq!(
        runs,
        without_durations(host.evaluate_all(&rules, &host.prepare(&f), 1))
    );

    // A team no campaign names: nothing.
    f.teams
        .insert("sales-de".into(), team("sales-de", 3, 1, 10));
    assert_eq!(eval(&f).0.evaluated, 0);
}

#[test]
fn a_host_with_another_library_or_limits_starts_afresh() {
    let a = host();
    let b = common::host_with(leadorch_rules::Limits {
        max_operations: 50_000,
        ..common::limits()
    });
    let f = start(10);
    let source = "//! scope: all\nif campaign.paused { pause(\"x\") }";
    let mut reuse = Reuse::new();
    let ra = [a.compile("r", source).expect("compiles")];
    let rb = [b.compile("r", source).expect("compiles")];
    a.evaluate_reusing(&ra, &a.prepare(&f), 1, &mut reuse);
    a.evaluate_reusing(&ra, &a.prepare(&f), 1, &mut reuse);
    assert_eq!(reuse.last().reused, 10);
    b.evaluate_reusing(&rb, &b.prepare(&f), 1, &mut reuse);
    assert_eq!(reuse.last().reused, 0, "limits differ");
}

#[test]
fn campaigns_added_or_removed_keep_the_others_results_valid() {
    let host = host();
    let rules = rules(&host);
    let mut f = start(20);
    let mut reuse = Reuse::new();
    let mut check = |f: &Facts| {
        let prepared = host.prepare(f);
        let full = without_durations(host.evaluate_all(&rules, &prepared, 1));
        let again = without_durations(host.evaluate_reusing(&rules, &prepared, 1, &mut reuse));
        assert_eq!(full, again);
    };
    check(&f);
    f.campaigns.remove(3);
    check(&f);
    let extra = campaign(99, &["capacity-gated"], Some("sales-nl"));
    f.campaigns.insert(0, extra);
    check(&f);
    f.campaigns.reverse();
    check(&f);
}
