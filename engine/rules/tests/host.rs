//! The host: compile errors, the facts rules see, the decision functions, determinism.

mod common;

use std::collections::BTreeMap;

use common::{campaign, compile, facts, host, run, t, team, three};
use leadorch_domain::campaign::{AdScheduleSlot, Bidding, CampaignStatus, DayOfWeek};
use leadorch_rules::{
    Action, Calendar, CompiledRule, EvalError, Facts, Limits, Metrics, RuleHost, RuleRun,
};

#[test]
fn host_and_rules_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<RuleHost>();
    check::<CompiledRule>();
    check::<leadorch_rules::PreparedFacts>();
}

#[test]
fn compile_errors_have_line_and_column() {
    let host = host();
    let err = host
        .compile("broken", "//! priority: 1\nlet x = 1;\nlet y = (x + ;")
        .expect_err("syntax error");
    assert_eq!((err.line, err.column), (Some(3), Some(14)));
    assert_eq!(err.rule, "broken");
    assert!(
        err.to_string()
            .starts_with("rule broken: line 3, column 14: "),
        "{err}"
    );

    let err = host
        .compile("typo", "if campain.paused { pause(\"x\") }")
        .expect_err("unknown variable");
    assert_eq!((err.line, err.column), (Some(1), Some(4)));
    assert!(err.message.contains("campain"), "{err}");
}

#[test]
// Allowed: the test writes library files into a temporary folder.
#[allow(clippy::disallowed_methods)]
fn source_and_library_digests() {
    let host = host();
    let a = compile(&host, "pause(\"a\")");
    let b = compile(&host, "pause(\"b\")");
    assert_eq!(a.source_digest.len(), 64);
    assert_ne!(a.source_digest, b.source_digest);
    assert_eq!(
        a.source_digest,
        compile(&host, "pause(\"a\")").source_digest
    );

    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("one.rhai"), "fn f() { 1 }").expect("write");
    let first = RuleHost::new(Some(dir.path()), Limits::default()).expect("host");
    std::fs::write(dir.path().join("one.rhai"), "fn f() { 2 }").expect("write");
    let second = RuleHost::new(Some(dir.path()), Limits::default()).expect("host");
    assert_ne!(first.lib_digest(), second.lib_digest());
    assert_eq!(
        RuleHost::new(None, Limits::default())
            .expect("host")
            .modules(),
        &[] as &[String]
    );
}

#[test]
// Allowed: the test writes library files into a temporary folder.
#[allow(clippy::disallowed_methods)]
fn library_modules_can_import_each_other_and_errors_name_the_module() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("a.rhai"),
        "import \"b\" as b;\nfn twice(x) { b::double(x) }",
    )
    .expect("write");
    std::fs::write(dir.path().join("b.rhai"), "fn double(x) { x * 2 }").expect("write");
    let host = RuleHost::new(Some(dir.path()), common::limits()).expect("host");
    let run = run(
        &host,
        "import \"a\" as a; if a::twice(21) == 42 { pause(\"ok\") }",
        &facts(three(), 10),
    );
    assert_eq!(run.proposals.len(), 3, "{run:?}");

    std::fs::write(dir.path().join("c.rhai"), "fn broken( {").expect("write");
    let err = RuleHost::new(Some(dir.path()), Limits::default()).expect_err("broken lib");
    assert!(err.to_string().contains("lib/c"), "{err}");
}

#[test]
fn errors_inside_library_functions_point_at_the_call_in_the_rule() {
    let host = host();
    let run = run(
        &host,
        "import \"pacing\" as p;\n\nlet b = p::base_budget([\"budget:lots\"], 1.0);",
        &facts(three(), 10),
    );
    match &run.failures[0].error {
        EvalError::Runtime { line, message, .. } => {
            assert_eq!(*line, Some(3));
            assert!(message.contains("module 'pacing'"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A rule that checks every fact it can see and throws on the first mismatch.
const CHECK_FACTS: &str = r#"
fn expect(what, got, want) {
    if got != want { throw `${what}: got ${got}, want ${want}`; }
}
expect("id", campaign.id, "111-222-3333/1");
expect("customer_id", campaign.customer_id, "111-222-3333");
expect("campaign_id", campaign.campaign_id, "1");
expect("name", campaign.name, "Campaign 1");
expect("labels", campaign.labels, ["brand", "capacity-gated"]);
expect("team", campaign.team, "sales-nl");
expect("status", campaign.status, "paused");
expect("paused", campaign.paused, true);
expect("budget", campaign.budget, 42.5);
expect("budget_micros", campaign.budget_micros, 42500000);
expect("bidding", campaign.bidding, #{strategy: "target_cpa", target_cpa: 25.0, target_roas: ()});
expect("ad_schedule", campaign.ad_schedule, [#{day: "monday", start: "09:00", end: "17:30", bid_modifier: 1.2}]);
expect("manual_override", campaign.manual_override, true);
expect("manual_override_until", campaign.manual_override_until, "2026-03-02T11:00:00Z");
expect("since status", campaign.minutes_since_change.status, 45);
expect("since budget", campaign.minutes_since_change.daily_budget_micros, ());
expect("pending", campaign.pending, ["bidding"]);
expect("today", campaign.today, #{impressions: 1000, clicks: 50, cost: 12.5, cost_micros: 12500000, conversions: 2.5});
expect("recent", campaign.recent, #{impressions: 100, clicks: 5, cost: 1.0, cost_micros: 1000000, conversions: 0.0, minutes: 30});
expect("leads_today", campaign.leads_today, 7);
expect("leads_recent", campaign.leads_recent, 2);

expect("team.name", team.name, "sales-nl");
expect("team.agents", team.agents_available, 4);
expect("team.open", team.open_leads, 45);
expect("team.max", team.max_open_leads, 50);
expect("team.utilisation", team.utilisation, 0.9);
expect("team.free", team.free_slots, 5);
expect("team.recent", team.leads_recent, 12);
expect("team.since", team.minutes_since_update, 3);
expect("teams", teams.keys(), ["sales-de", "sales-nl"]);
expect("teams.de", teams["sales-de"].minutes_since_update, ());
expect("teams.de.utilisation", teams["sales-de"].utilisation, 1.0);

expect("now.iso", now.iso, "2026-03-02T11:30:00+01:00");
expect("now.utc", now.utc, "2026-03-02T10:30:00Z");
expect("now.date", now.date, "2026-03-02");
expect("now.year", now.year, 2026);
expect("now.month", now.month, 3);
expect("now.day", now.day, 2);
expect("now.hour", now.hour, 11);
expect("now.minute", now.minute, 30);
expect("now.weekday", now.weekday, "mon");
expect("now.minute_of_day", now.minute_of_day, 690);
expect("now.timezone", now.timezone, "Europe/Amsterdam");
expect("now.business_hours", now.business_hours, true);
expect("now.open", now.open, #{"default": true, night: false});
expect("now.open[default]", now.open["default"], true);
pause("all facts as documented")
"#;

#[test]
fn rules_see_the_documented_facts() {
    let at = t("2026-03-02T10:30:00Z");
    let mut c = campaign(1, &["brand", "capacity-gated"], Some("sales-nl"));
    c.status = CampaignStatus::Paused;
    c.daily_budget_micros = 42_500_000;
    c.bidding = Bidding::TargetCpa {
        target_cpa_micros: 25_000_000,
    };
    c.ad_schedule = vec![AdScheduleSlot {
        day_of_week: DayOfWeek::Monday,
        start_hour: 9,
        start_minute: 0,
        end_hour: 17,
        end_minute: 30,
        bid_modifier: Some(1.2),
    }];
    c.manual_override_until = Some(t("2026-03-02T11:00:00Z"));
    c.last_change_at
        .insert("status".into(), t("2026-03-02T09:45:00Z"));
    c.pending_fields = vec!["bidding".into()];
    c.metrics_today = Metrics {
        impressions: 1000,
        clicks: 50,
        cost_micros: 12_500_000,
        conversions: 2.5,
    };
    c.metrics_window = Metrics {
        impressions: 100,
        clicks: 5,
        cost_micros: 1_000_000,
        conversions: 0.0,
    };
    c.leads_today = 7;
    c.leads_window = 2;
    let mut nl = team("sales-nl", 4, 45, 50);
    nl.updated_at = Some(t("2026-03-02T10:27:00Z"));
    nl.leads_window = 12;
    let mut teams = BTreeMap::new();
    teams.insert("sales-nl".to_string(), nl);
    teams.insert("sales-de".to_string(), team("sales-de", 0, 0, 0));
    let mut calendars = BTreeMap::new();
    let mut weekly = BTreeMap::new();
    weekly.insert(
        "mon".to_string(),
        vec![["09:00".to_string(), "17:30".to_string()]],
    );
    calendars.insert(
        "default".to_string(),
        Calendar {
            weekly,
            holidays: vec![],
            timezone: None,
        },
    );
    let mut weekly = BTreeMap::new();
    weekly.insert(
        "mon".to_string(),
        vec![["20:00".to_string(), "24:00".to_string()]],
    );
    calendars.insert(
        "night".to_string(),
        Calendar {
            weekly,
            holidays: vec![],
            timezone: None,
        },
    );
    let facts = Facts {
        at,
        timezone: "Europe/Amsterdam".to_string(),
        calendars,
        window_minutes: 30,
        teams,
        campaigns: vec![c],
    };
    let run = run(&host(), CHECK_FACTS, &facts);
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    assert_eq!(run.proposals.len(), 1);
}

#[test]
fn a_campaign_without_a_known_team_sees_unit() {
    let mut campaigns = three();
    campaigns[0].team = None;
    campaigns[1].team = Some("nobody".into());
    let run = run(
        &host(),
        "if team == () { pause(\"no team\") }",
        &facts(campaigns, 10),
    );
    assert_eq!(run.proposals.len(), 2);
}

#[test]
fn the_decision_functions() {
    let host = host();
    let cases: Vec<(&str, Action)> = vec![
        ("pause(\"r\")", Action::Pause),
        ("resume(\"r\")", Action::Resume),
        (
            "set_budget(12.345, \"r\")",
            Action::SetBudget {
                daily_budget_micros: 12_345_000,
            },
        ),
        (
            "set_budget(20, \"r\")",
            Action::SetBudget {
                daily_budget_micros: 20_000_000,
            },
        ),
        (
            "set_budget_micros(7, \"r\")",
            Action::SetBudget {
                daily_budget_micros: 7,
            },
        ),
        (
            "set_target_cpa(25, \"r\")",
            Action::SetBidTarget {
                bidding: Bidding::TargetCpa {
                    target_cpa_micros: 25_000_000,
                },
            },
        ),
        (
            "set_target_roas(3.5, \"r\")",
            Action::SetBidTarget {
                bidding: Bidding::TargetRoas { target_roas: 3.5 },
            },
        ),
        (
            "maximize_conversions(\"r\")",
            Action::SetBidTarget {
                bidding: Bidding::MaximizeConversions,
            },
        ),
        (
            "manual_cpc(\"r\")",
            Action::SetBidTarget {
                bidding: Bidding::ManualCpc,
            },
        ),
        (
            "set_ad_schedule([#{day: \"fri\", start: \"08:15\", end: \"24:00\", bid_modifier: 1.5}], \"r\")",
            Action::SetAdSchedule {
                slots: vec![AdScheduleSlot {
                    day_of_week: DayOfWeek::Friday,
                    start_hour: 8,
                    start_minute: 15,
                    end_hour: 24,
                    end_minute: 0,
                    bid_modifier: Some(1.5),
                }],
            },
        ),
        ("set_ad_schedule([], \"r\")", Action::SetAdSchedule { slots: vec![] }),
        (
            "notify(\"hello\")",
            Action::Notify {
                message: "hello".into(),
            },
        ),
        (
            "#{action: \"set_budget\", daily_budget_micros: 5, reason: \"r\"}",
            Action::SetBudget {
                daily_budget_micros: 5,
            },
        ),
    ];
    for (source, action) in cases {
        let run = run(&host, source, &facts(vec![campaign(1, &[], None)], 10));
        assert!(run.failures.is_empty(), "{source}: {:?}", run.failures);
        assert_eq!(run.proposals.len(), 1, "{source}");
        assert_eq!(run.proposals[0].decision.action, action, "{source}");
    }
    let many = run(
        &host,
        "[pause(\"a\"), (), set_budget(9, \"b\"), notify(\"c\"), pause(\"a\")]",
        &facts(vec![campaign(1, &[], None)], 10),
    );
    let names: Vec<&str> = many
        .proposals
        .iter()
        .map(|p| p.decision.action.name())
        .collect();
    assert_eq!(names, vec!["pause", "set_budget", "notify"]);
    assert_eq!(many.proposals[0].decision.reason, "a");
    let bad = run(
        &host,
        "set_budget(1.0 / 0.0, \"x\")",
        &facts(vec![campaign(1, &[], None)], 10),
    );
    assert!(
        matches!(&bad.failures[0].error, EvalError::Runtime { message, .. } if message.contains("usable"))
    );
}

fn canonical(mut run: RuleRun) -> String {
    run.duration = std::time::Duration::ZERO;
    serde_json::to_string(&run).expect("serializes")
}

#[test]
fn evaluation_is_deterministic() {
    let host = host();
    let dir = common::rules_dir();
    let mut rules: Vec<CompiledRule> = [
        "capacity_gate",
        "business_hours",
        "budget_pacing",
        "team_routing",
    ]
    .iter()
    .map(|name| {
        let path = dir.join(format!("{name}.rhai"));
        leadorch_rules::check_rule_file(&host, &path).unwrap_or_else(|e| panic!("{e}"))
    })
    .collect();
    rules.push(compile(
        &host,
        "print(campaign.id); if campaign.id.ends_with(\"7\") { throw \"seven\" } notify(`${campaign.name} ${now.iso} ${teams.keys()}`)",
    ));
    let mut campaigns = Vec::new();
    // Enough campaigns for `prepare` to build (and drop) them on two threads in blocks.
    for n in 0..300 {
        let labels: Vec<&str> = match n % 4 {
            0 => vec!["capacity-gated", "business-hours"],
            1 => vec!["paced", "budget:80"],
            2 => vec!["team:sales-de"],
            _ => vec!["capacity-gated", "paced", "team:sales-nl"],
        };
        let mut c = campaign(
            n,
            &labels,
            Some(if n % 3 == 0 { "sales-de" } else { "sales-nl" }),
        );
        if n % 5 == 0 {
            c.status = CampaignStatus::Paused;
        }
        campaigns.push(c);
    }
    let mut f = facts(campaigns, 95);
    f.teams
        .insert("sales-de".into(), team("sales-de", 0, 3, 10));
    let first = host.prepare(&f);
    let second = host.prepare(&f.clone());
    for rule in &rules {
        let a = canonical(host.evaluate(rule, &first));
        assert_eq!(
            a,
            canonical(host.evaluate(rule, &first)),
            "{}: same prepared facts",
            rule.name
        );
        assert_eq!(
            a,
            canonical(host.evaluate(rule, &second)),
            "{}: prepared again",
            rule.name
        );
    }
    let one_by_one: Vec<String> = rules
        .iter()
        .map(|r| canonical(host.evaluate(r, &first)))
        .collect();
    for threads in [1, 2, 3, 64] {
        let all: Vec<String> = host
            .evaluate_all(&rules, &second, threads)
            .into_iter()
            .map(canonical)
            .collect();
        assert_eq!(all, one_by_one, "evaluate_all with {threads} threads");
    }
    let proposals: usize = rules
        .iter()
        .map(|r| host.evaluate(r, &first).proposals.len())
        .sum();
    assert!(
        proposals > 40,
        "the scenario should produce decisions, got {proposals}"
    );
}

#[test]
fn aborts_and_logs_merge_across_threads_as_in_one_run() {
    let host = host();
    let campaigns: Vec<_> = (0..30)
        .map(|n| campaign(n, &[], Some("sales-nl")))
        .collect();
    let f = facts(campaigns, 10);
    let rules = vec![
        compile(
            &host,
            "for i in 0..4 { print(`${campaign.id} ${i}`); } pause(\"x\")",
        ),
        compile(
            &host,
            "if campaign.id.ends_with(\"/20\") { loop {} } pause(\"x\")",
        ),
        compile(&host, "if campaign.id.ends_with(\"/3\") { throw \"x\" } ()"),
    ];
    let prepared = host.prepare(&f);
    let sequential: Vec<String> = host
        .evaluate_all(&rules, &prepared, 1)
        .into_iter()
        .map(canonical)
        .collect();
    let parallel: Vec<String> = host
        .evaluate_all(&rules, &prepared, 4)
        .into_iter()
        .map(canonical)
        .collect();
    assert_eq!(sequential, parallel);
    let runs = host.evaluate_all(&rules, &prepared, 4);
    assert_eq!(runs[0].logs.len(), 51);
    assert_eq!(runs[0].logs[50].campaign, "111-222-3333/12");
    assert_eq!(runs[1].aborted, Some(EvalError::TooManyOperations));
    assert!(runs[1].proposals.is_empty());
    assert_eq!(runs[2].failures.len(), 1);
}

#[test]
fn rule_runs_round_trip_through_serde() {
    let run = run(
        &host(),
        "if campaign.id.ends_with(\"2\") { throw \"x\" } pause(\"p\")",
        &facts(three(), 10),
    );
    let json = serde_json::to_string(&run).expect("serializes");
    let back: RuleRun = serde_json::from_str(&json).expect("deserializes");
    assert_eq!(back, run);
    let value = serde_json::to_value(&run.failures[0].error).expect("serializes");
    assert_eq!(value["kind"], "runtime");
    assert_eq!(
        serde_json::to_value(EvalError::Timeout { budget_ms: 50 }).expect("serializes"),
        serde_json::json!({"kind": "timeout", "detail": {"budget_ms": 50}})
    );
}

#[test]
fn reading_a_fact_that_does_not_exist_is_the_rules_failure() {
    let host = host();
    for source in [
        "if campaign.does_not_exist > 0.5 { pause(\"typo\") }",
        "if team.utilisaton > 0.5 { pause(\"typo\") }",
        "if now.hours > 9 { pause(\"typo\") }",
        "if teams[\"sales-nl\"].free > 0 { pause(\"typo\") }",
        "if campaign.today.spend > 1.0 { pause(\"typo\") }",
    ] {
        let run = run(&host, source, &facts(three(), 10));
        assert!(run.proposals.is_empty(), "{source}");
        assert_eq!(run.failures.len(), 3, "{source}: {:?}", run.failures);
        match &run.failures[0].error {
            EvalError::Runtime { line, message, .. } => {
                assert_eq!(*line, Some(1), "{source}");
                assert!(message.contains("not found"), "{source}: {message}");
            }
            other => panic!("{source}: {other:?}"),
        }
    }
    // An optional fact is tested with `in`; a fact that is there but empty is `()`.
    let run = run(
        &host,
        "if !(\"does_not_exist\" in campaign) && campaign.manual_override_until == () \
         && !(\"nobody\" in teams) { pause(\"fine\") }",
        &facts(three(), 10),
    );
    assert!(run.failures.is_empty(), "{:?}", run.failures);
    assert_eq!(run.proposals.len(), 3);
}

#[test]
fn the_plain_engine_fails_on_unknown_facts_as_the_host_does() {
    use rhai::Scope;
    let host = host();
    let rule = compile(
        &host,
        "if campaign.does_not_exist > 0.5 { pause(\"typo\") }",
    );
    let engine = leadorch_rules::PlainEngine::new(&host);
    let mut map = rhai::Map::new();
    map.insert("paused".into(), false.into());
    let mut scope = Scope::new();
    scope.push_constant("campaign", map);
    scope.push_constant("team", ());
    scope.push_constant("teams", rhai::Map::new());
    scope.push_constant("now", rhai::Map::new());
    match engine.run(&rule, &mut scope) {
        Err(EvalError::Runtime { message, .. }) => {
            assert!(message.contains("not found"), "{message}")
        }
        other => panic!("{other:?}"),
    }
}
