//! One clock for time travel (docs/time-travel.md), through the binary: `--as-of TIME` is
//! event time, `--as-of POSITION` a log position, `--known-at TIME` recorded time, the same on
//! `replay`, `explain`, `events list`, `rules dry-run` and `rules backtest`.

use std::path::Path;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::Value;

mod common;
use common::{leadorch, ok, stderr, stdout};

fn json(s: &str) -> Value {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{e}: {s}"))
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The event time of an `events list --json` line.
fn event_at(line: &Value) -> DateTime<Utc> {
    let inner = line["payload"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    inner["at"].as_str().unwrap().parse().unwrap()
}

/// Each campaign's status in a `replay --json` summary (the status its read model holds).
fn replay_statuses(home: &Path, url: &str, as_of: &str) -> Vec<(String, Value)> {
    let r = json(&ok(
        home,
        &["--database-url", url, "replay", "--as-of", as_of, "--json"],
    ));
    r["campaigns"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(id, doc)| (id.clone(), doc["state"]["known"]["status"].clone()))
        .collect()
}

#[test]
fn on_the_demo_database_every_command_reads_the_same_clock() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    let db = home.join("demo.db");
    let db_s = db.to_str().unwrap();
    ok(home, &["demo", "--minutes", "240", "--json", "--db", db_s]);
    let url = format!("sqlite://{db_s}");
    let run = |args: &[&str]| {
        let mut all = vec!["--database-url", url.as_str()];
        all.extend_from_slice(args);
        ok(home, &all)
    };

    // The whole log, for comparison.
    let full = json(&run(&["replay", "--json"]));
    let campaigns = full["counts"]["campaigns"].as_u64().unwrap();
    let total = full["events_applied"].as_u64().unwrap();
    assert!(campaigns > 0, "{full}");

    // replay --as-of TIME is event time: the demo's campaigns at 09:30 (not position 0, as
    // when it read the time the events were written, months after 09:30 on the demo's day).
    let at930 = json(&run(&[
        "replay",
        "--as-of",
        "2026-03-02T09:30:00Z",
        "--json",
    ]));
    assert_eq!(at930["as_of"], "2026-03-02T09:30:00Z", "{at930}");
    assert_eq!(at930["counts"]["campaigns"], campaigns, "{at930}");
    assert!(at930["counts"]["teams"].as_u64().unwrap() > 0, "{at930}");
    let applied = at930["events_applied"].as_u64().unwrap();
    assert!(applied > 0 && applied < total, "{applied} of {total}");
    let human = run(&["replay", "--as-of", "2026-03-02T09:30:00Z"]);
    assert!(
        human.starts_with(
            "read models as of 2026-03-02T09:30:00Z (event time), computed in memory from "
        ),
        "{human}"
    );

    // --known-at is recorded time: before the demo ran, the log held nothing; after, all.
    let before = json(&run(&["replay", "--known-at", "2020-01-01", "--json"]));
    assert_eq!(before["events_applied"], 0, "{before}");
    assert_eq!(before["counts"]["campaigns"], 0, "{before}");
    let later = rfc(Utc::now() + Duration::days(1));
    let after = json(&run(&["replay", "--known-at", &later, "--json"]));
    assert_eq!(after["events_applied"], total, "{after}");
    // Both: what the log held then about 09:30.
    let both = json(&run(&[
        "replay",
        "--as-of",
        "2026-03-02T09:30:00Z",
        "--known-at",
        &later,
        "--json",
    ]));
    assert_eq!(both["events_applied"], applied, "{both}");

    // events list: the same two filters.
    let all: Vec<Value> = run(&["events", "list", "--json"])
        .lines()
        .map(json)
        .collect();
    let t730: DateTime<Utc> = "2026-03-02T07:30:00Z".parse().unwrap();
    assert!(
        all.iter().any(|l| event_at(l) > t730),
        "the demo runs past 07:30"
    );
    let listed: Vec<Value> = run(&[
        "events",
        "list",
        "--as-of",
        "2026-03-02T07:30:00Z",
        "--json",
    ])
    .lines()
    .map(json)
    .collect();
    let expected = all.iter().filter(|l| event_at(l) <= t730).count();
    assert!(expected > 0);
    assert_eq!(listed.len(), expected);
    assert!(listed.iter().all(|l| event_at(l) <= t730));
    let limited = run(&[
        "events",
        "list",
        "--as-of",
        "2026-03-02T07:30:00Z",
        "--limit",
        "3",
        "--json",
    ]);
    assert_eq!(limited.lines().count(), 3, "{limited}");
    let five = run(&["events", "list", "--as-of", "5", "--json"]);
    assert_eq!(
        five.lines()
            .map(|l| json(l)["position"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    let none = run(&["events", "list", "--known-at", "2020-01-01"]);
    assert_eq!(none.lines().count(), 1, "only the header: {none}");
    assert_eq!(
        run(&["events", "list", "--known-at", &later, "--json"])
            .lines()
            .count(),
        all.len()
    );

    // explain --as-of (and its alias --at) agrees with replay --as-of, before and after a
    // status change the engine applied.
    // (The latest one: the demo's first pauses happen at the instant it first observes.)
    let applied_flip = all
        .iter()
        .rev()
        .find(|l| {
            l["type"] == "ChangeApplied"
                && matches!(
                    l["payload"]["ChangeApplied"]["change"].as_str(),
                    Some("pause" | "resume")
                )
        })
        .expect("the demo applied a pause or a resume");
    let campaign = applied_flip["stream"]
        .as_str()
        .unwrap()
        .strip_prefix("campaign:")
        .unwrap()
        .to_string();
    let flip_at = event_at(applied_flip);
    let mut seen = Vec::new();
    for t in [flip_at - Duration::seconds(1), flip_at] {
        let t = rfc(t);
        let statuses = replay_statuses(home, &url, &t);
        assert_eq!(statuses.len() as u64, campaigns);
        for (id, status) in &statuses {
            let x = json(&run(&["explain", id, "--as-of", &t, "--json"]));
            assert_eq!(&x["status"], status, "{id} at {t}: explain {x}");
            if *id == campaign {
                seen.push(status.clone());
                let alias = json(&run(&["explain", id, "--at", &t, "--json"]));
                assert_eq!(alias, x, "--at is --as-of");
            }
        }
    }
    assert_ne!(seen[0], seen[1], "{campaign} changed status at {flip_at}");
    // Known at a time before the run, the campaign had not been observed.
    let o = leadorch(
        home,
        &[
            "--database-url",
            &url,
            "explain",
            &campaign,
            "--known-at",
            "2020-01-01",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("was not observed as known at 2020-01-01T00:00:00Z"),
        "{}",
        stderr(&o)
    );

    // rules dry-run --as-of builds every fact as of that time: no capacity reading is younger
    // than the clock the rule sees.
    let rule = home.join("ages.rhai");
    std::fs::write(
        &rule,
        "//! every: 5m\nif team != () { print(`${campaign.id} ${team.minutes_since_update}`); }\n",
    )
    .unwrap();
    let rule_s = rule.to_str().unwrap();
    let ages = |out: &str| -> Vec<i64> {
        out.lines()
            .filter_map(|l| l.strip_prefix("print ["))
            .map(|l| l.rsplit(' ').next().unwrap().parse::<i64>().unwrap())
            .collect()
    };
    for flag in ["--as-of", "--at"] {
        let dry = run(&["rules", "dry-run", rule_s, flag, "2026-03-02T09:30:00Z"]);
        assert!(
            dry.starts_with("dry run of ages (from file) at 2026-03-02T09:30:00+00:00: "),
            "{dry}"
        );
        let a = ages(&dry);
        assert!(!a.is_empty(), "{dry}");
        assert!(a.iter().all(|m| (0..=15).contains(m)), "{dry}");
    }
    let dry = json(&run(&[
        "rules",
        "dry-run",
        rule_s,
        "--as-of",
        "2026-03-02T09:30:00Z",
        "--json",
    ]));
    assert_eq!(dry["at"], "2026-03-02T09:30:00Z", "{dry}");
    // Known before the run: no campaign to evaluate.
    let dry = run(&["rules", "dry-run", rule_s, "--known-at", "2020-01-01"]);
    assert!(dry.contains(": 0 campaign(s) in scope"), "{dry}");
    assert!(
        dry.contains("over the log as known at 2020-01-01T00:00:00Z"),
        "{dry}"
    );

    // backtest: the window is event time; --known-at limits it to what the log held.
    let window = [
        "rules",
        "backtest",
        "capacity_gate",
        "--from",
        "2026-03-02T06:00:00Z",
        "--to",
        "2026-03-02T10:00:00Z",
        "--json",
    ];
    let plain = json(&run(&window));
    assert!(!plain["timeline"].as_array().unwrap().is_empty(), "{plain}");
    let mut known_later = window.to_vec();
    known_later.extend(["--known-at", later.as_str()]);
    assert_eq!(json(&run(&known_later)), plain);
    let mut known_before = window.to_vec();
    known_before.extend(["--known-at", "2020-01-01"]);
    let empty = json(&run(&known_before));
    assert_eq!(empty["events"], 0, "{empty}");
    assert!(empty["timeline"].as_array().unwrap().is_empty(), "{empty}");
}

#[test]
fn time_arguments_are_read_the_same_way_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "50"]);
    let cases: &[(&[&str], &str)] = &[
        (
            &["replay", "--as-of", "soon"],
            "--as-of \"soon\" is neither a position nor a time",
        ),
        (
            &["events", "list", "--as-of", "soon"],
            "--as-of \"soon\" is neither a position nor a time",
        ),
        (
            &["replay", "--known-at", "12"],
            "--known-at takes a time, not a log position",
        ),
        (
            &["explain", "x", "--known-at", "soon"],
            "--known-at \"soon\" is not a time",
        ),
        (
            &[
                "rules",
                "backtest",
                "rules/capacity_gate.rhai",
                "--from",
                "3",
                "--to",
                "2026-03-02",
            ],
            "--from takes a time, not a log position",
        ),
    ];
    for (args, needle) in cases {
        let o = leadorch(home, args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stdout(&o));
        let err = stderr(&o);
        assert!(err.contains(needle), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn a_seeded_history_travels_by_event_time() {
    // The README's `replay --as-of` example on a seeded log: a time within the simulated
    // history shows its campaigns (the seed writes days of history in seconds, so recorded
    // time would show nothing before the seed ran).
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    ok(home, &["seed", "--events", "10000"]);
    // The seeded history ends in the week before now (README: "10 days ago").
    let t = rfc(Utc::now() - Duration::days(10));
    let v = json(&ok(home, &["replay", "--as-of", &t, "--json"]));
    assert!(v["counts"]["campaigns"].as_u64().unwrap() > 0, "{v}");
    assert!(v["counts"]["teams"].as_u64().unwrap() > 0, "{v}");
    let applied = v["events_applied"].as_u64().unwrap();
    assert!(applied > 0 && applied < 10_000, "{v}");
    // Known two days ago (before the seed ran): nothing.
    let v = json(&ok(home, &["replay", "--known-at", &t, "--json"]));
    assert_eq!(v["events_applied"], 0, "{v}");
}
