//! Rule headers: good and bad, with line numbers; scopes and schedules.

mod common;

use chrono::Duration;
use common::{campaign, t};
use leadorch_rules::{parse_meta, Schedule, Scope, Trigger};

#[test]
fn a_full_header() {
    let meta = parse_meta(
        "\n//! Pause campaigns when the team is full.\n//! Second line of the description.\n\
         //! priority: 100\n\
         //! scope: labels=capacity-gated,brand; ids=123/456; names=Brand*,*NL; teams=sales-nl\n\
         //! every: 5m\n\
         //! on: capacity_changed, lead_received,metrics_refreshed\n\
         //! dwell: 20m\n\
         //! cooldown: 1h30m\n\
         \nlet x = 1;\n//! priority: not read, after the header\n",
    )
    .expect("valid");
    assert_eq!(meta.priority, 100);
    assert_eq!(
        meta.description.as_deref(),
        Some("Pause campaigns when the team is full. Second line of the description.")
    );
    assert_eq!(
        meta.scope,
        Scope {
            ids: vec!["123/456".into()],
            labels: vec!["capacity-gated".into(), "brand".into()],
            names: vec!["Brand*".into(), "*NL".into()],
            teams: vec!["sales-nl".into()],
        }
    );
    assert_eq!(meta.schedule, Some(Schedule::Every(Duration::minutes(5))));
    assert_eq!(
        meta.triggers,
        vec![
            Trigger::CapacityChanged,
            Trigger::LeadReceived,
            Trigger::MetricsRefreshed
        ]
    );
    assert_eq!(meta.dwell, Some(Duration::minutes(20)));
    assert_eq!(meta.cooldown, Some(Duration::minutes(90)));
}

#[test]
fn no_header_means_defaults() {
    let meta = parse_meta("pause(\"x\")").expect("valid");
    assert_eq!(meta.priority, 0);
    assert!(meta.scope.is_empty());
    assert_eq!(meta.schedule, None);
    assert!(meta.triggers.is_empty());
    assert_eq!(meta.description, None);
}

#[test]
fn bad_headers_name_the_line() {
    for (source, line, needle) in [
        ("//! priorty: 5", 1, "unknown header key \"priorty\""),
        ("//! ok\n//! priority: high", 2, "whole number"),
        ("//! priority: 1\n//! priority: 2", 2, "twice"),
        ("//! every: 5 minutes", 1, "bad duration"),
        ("//! every: 0m", 1, "above zero"),
        ("//! every: 5m\n//! cron: * * * * *", 2, "not both"),
        ("//! cron: */10 8-18 * *", 1, "5 fields"),
        ("//! cron: 99 * * * *", 1, "bad cron"),
        // Found by fuzzing (`fuzz/regressions/rule_header/`): parsed, but never firing.
        ("//! cron: 0 0 30 2 *", 1, "matches no time"),
        ("//! cron: 0 0 3 2 +", 1, "matches no time"),
        (
            "//! priority: 1\n//! cron: 0 0 31 4 *",
            2,
            "matches no time",
        ),
        (
            "//! on: capacity_changed, lunch",
            1,
            "unknown trigger \"lunch\"",
        ),
        ("//! scope: colours=red", 1, "unknown scope kind"),
        ("//! scope: labels", 1, "kind=a,b"),
        ("//! scope: labels=", 1, "lists nothing"),
        ("//! dwell: soon", 1, "bad duration"),
        (
            "//! priority: 1\n//! and some prose",
            2,
            "description before the keys",
        ),
        ("//! every:", 1, "needs a value"),
    ] {
        let err = parse_meta(source).expect_err(source);
        assert_eq!(err.line, line, "{source}: {err}");
        assert!(err.message.contains(needle), "{source}: {err}");
        assert!(err.to_string().starts_with(&format!("line {line}: ")));
    }
}

#[test]
fn compile_errors_report_header_lines() {
    let host = common::host();
    let err = host
        .compile(
            "r",
            "//! Fine.\n//! priority: 1\n//! evry: 5m\npause(\"x\")",
        )
        .expect_err("bad key");
    assert_eq!(err.line, Some(3));
    assert!(
        err.to_string()
            .starts_with("rule r: line 3: unknown header key"),
        "{err}"
    );
}

#[test]
fn scope_matching() {
    let scope = parse_meta("//! scope: labels=capacity-gated,team:*; ids=111-222-3333/9, 8; names=Brand*; teams=sales-de")
        .expect("valid")
        .scope;
    let mut c = campaign(1, &["other"], Some("sales-nl"));
    assert!(!scope.matches(&c));
    c.labels.push("capacity-gated".into());
    assert!(scope.matches(&c));
    assert!(scope.matches(&campaign(2, &["team:sales-fr"], None)));
    assert!(scope.matches(&campaign(9, &[], None)), "full id");
    assert!(scope.matches(&campaign(8, &[], None)), "bare campaign id");
    let mut named = campaign(3, &[], None);
    named.name = "Brand NL".into();
    assert!(scope.matches(&named));
    assert!(scope.matches(&campaign(4, &[], Some("sales-de"))));
    assert!(
        Scope::default().matches(&campaign(5, &[], None)),
        "empty scope = all"
    );
}

#[test]
fn every_is_aligned_to_the_epoch() {
    let every = Schedule::Every(Duration::minutes(5));
    assert_eq!(
        every.next_after(t("2026-03-02T10:02:30Z"), "UTC"),
        Some(t("2026-03-02T10:05:00Z"))
    );
    assert_eq!(
        every.next_after(t("2026-03-02T10:05:00Z"), "UTC"),
        Some(t("2026-03-02T10:10:00Z")),
        "strictly after"
    );
    let hourly = Schedule::Every(Duration::hours(1));
    assert_eq!(
        hourly.next_after(t("2026-03-02T10:59:59Z"), "Europe/Amsterdam"),
        Some(t("2026-03-02T11:00:00Z"))
    );
}

#[test]
fn a_cron_of_a_day_that_exists_only_in_leap_years_is_accepted() {
    let meta = parse_meta("//! cron: 0 9 29 2 *").expect("the 29th of February exists");
    assert_eq!(meta.schedule, Some(Schedule::Cron("0 9 29 2 *".into())));
}

#[test]
fn cron_runs_in_the_given_time_zone() {
    let cron = Schedule::Cron("*/10 8-18 * * mon-fri".into());
    // Friday 17:55 UTC is 18:55 in Amsterdam, after the last run of the day (18:50), so the
    // next run is Monday 08:00 local = 07:00 UTC.
    assert_eq!(
        cron.next_after(t("2026-03-06T17:55:00Z"), "Europe/Amsterdam"),
        Some(t("2026-03-09T07:00:00Z"))
    );
    assert_eq!(
        cron.next_after(t("2026-03-02T09:03:00Z"), "Europe/Amsterdam"),
        Some(t("2026-03-02T09:10:00Z"))
    );
    assert_eq!(
        cron.next_after(t("2026-03-02T09:03:00Z"), "Nowhere/Else"),
        None
    );
    // Across the spring DST change (2026-03-29, 02:00 -> 03:00 local).
    let daily = Schedule::Cron("30 8 * * *".into());
    assert_eq!(
        daily.next_after(t("2026-03-28T08:00:00Z"), "Europe/Amsterdam"),
        Some(t("2026-03-29T06:30:00Z"))
    );
}

#[test]
fn triggers_parse_and_serialize() {
    assert_eq!(
        "lead_received".parse::<Trigger>(),
        Ok(Trigger::LeadReceived)
    );
    assert!("nope".parse::<Trigger>().is_err());
    assert_eq!(
        serde_json::to_value(Trigger::MetricsRefreshed).expect("serializes"),
        "metrics_refreshed"
    );
    assert_eq!(Trigger::CapacityChanged.to_string(), "capacity_changed");
}
