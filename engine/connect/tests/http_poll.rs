//! The generic HTTP poll source against the fake capacity endpoint over loopback HTTP, through
//! the poller the daemon runs: readings recorded as the fake says, a refused credential as the
//! source's health (never a crash), `Retry-After` honoured, stale readings reaching rules.

use std::time::Duration;

use leadorch_config::SourceSettings;
use leadorch_connect::{build_one, poll_all_once, spawn, Poller, SourceError};
use leadorch_core::Engine;
use leadorch_evaluate::facts::{FactsScope, FactsView};
use leadorch_evaluate::teams::{self, TeamSettings};
use leadorch_fakes::{FakeCapacityHttp, RateLimit, TeamCapacity};
use leadorch_store::CapacitySources;
use leadorch_test_support::{TestDb, BOTH};

mod common;
use common::{at, capacity, engine, events, secret_file};

/// The token in a file of its own (the test's), as `auth_value_file` reads it.
fn token_file(fake: &FakeCapacityHttp) -> tempfile::NamedTempFile {
    secret_file(&format!("Bearer {}", fake.token()))
}

/// `[capacity.sources.crm]` pointing at the fake, one request per team.
fn settings(
    fake: &FakeCapacityHttp,
    secret: &tempfile::NamedTempFile,
    extra: &str,
) -> SourceSettings {
    let text = format!(
        r#"
        kind = "http_poll"
        url = "{}/capacity/{{team}}"
        auth_value_file = "{}"
        agents_available = "/agents/available"
        open_leads = "/leads/open"
        max_open_leads = "/leads/max"
        {extra}
        "#,
        fake.base_url(),
        secret.path().display()
    );
    toml::from_str(&text).unwrap()
}

async fn bind(e: &Engine, team: &str, source: &str) {
    let settings = TeamSettings {
        capacity_source: Some(source.into()),
        ..TeamSettings::default()
    };
    teams::set_team(e, team, &settings, at("2026-03-01T00:00:00Z"), "test")
        .await
        .unwrap();
}

#[tokio::test]
async fn readings_match_the_fake_and_say_nothing_twice() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let e = engine(&t).await;
        let fake = FakeCapacityHttp::start().await;
        fake.set_team(
            "sales-nl",
            TeamCapacity {
                available: 3,
                open: 12,
                max: 40,
            },
        );
        fake.set_team(
            "be",
            TeamCapacity {
                available: 1,
                open: 5,
                max: 10,
            },
        );
        // sales-nl is bound to the source by its team option; sales-be, defined nowhere, by
        // the source's teams table (under the source's id "be").
        bind(&e, "sales-nl", "connector:crm").await;
        // A team listed but taking its capacity from pushes keeps that.
        bind(&e, "sales-de", "pushed").await;
        let secret = token_file(&fake);
        let source = build_one(
            "crm",
            &settings(
                &fake,
                &secret,
                "interval = \"1m\"\n[teams]\nsales-be = \"be\"\nsales-de = \"de\"",
            ),
        )
        .unwrap();
        let poller = Poller::new(&e, "default", source, "daemon");
        let names: Vec<String> = poller
            .targets()
            .await
            .unwrap()
            .into_iter()
            .map(|t| t.team)
            .collect();
        assert_eq!(names, ["sales-be", "sales-nl"], "{dialect:?}");

        let t0 = at("2026-03-02T10:00:00Z");
        let outcome = poller.poll_once(t0).await;
        assert_eq!(
            (outcome.recorded, outcome.error.clone()),
            (2, None),
            "{outcome:?}"
        );
        let nl = capacity(&e, "sales-nl").await;
        assert_eq!(
            (nl.agents_available(), nl.open_leads(), nl.max_open_leads()),
            (3, 12, 40)
        );
        assert_eq!(nl.source(), Some("connector:crm"));
        assert_eq!(nl.max_age_secs(), Some(180), "default max_age: 3 x 1m");
        assert_eq!(nl.recorded_at(), Some(t0));
        let be = capacity(&e, "sales-be").await;
        assert_eq!(
            (be.agents_available(), be.open_leads(), be.max_open_leads()),
            (1, 5, 10)
        );
        assert!(capacity(&e, "sales-de").await.recorded_at().is_none());

        // The same figures a minute later: nothing recorded (heartbeat after 2 minutes).
        let outcome = poller.poll_once(at("2026-03-02T10:01:00Z")).await;
        assert_eq!((outcome.recorded, outcome.unchanged), (0, 2), "{outcome:?}");
        // A change at the fake is recorded at the next poll; the unchanged team's heartbeat
        // is due (2 minutes: renewed one interval before its 3-minute max_age).
        fake.set_team(
            "sales-nl",
            TeamCapacity {
                available: 2,
                open: 30,
                max: 40,
            },
        );
        let outcome = poller.poll_once(at("2026-03-02T10:02:00Z")).await;
        assert_eq!((outcome.recorded, outcome.unchanged), (2, 0), "{outcome:?}");
        assert_eq!(capacity(&e, "sales-nl").await.open_leads(), 30);
        assert_eq!(
            capacity(&e, "sales-be").await.recorded_at(),
            Some(at("2026-03-02T10:02:00Z"))
        );

        let row = CapacitySources::new(e.store.db().clone())
            .get("default", "crm")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.state.as_str(), row.teams, row.consecutive_failures),
            ("ok", 2, 0)
        );
        assert_eq!(row.kind, "http_poll");
        assert_eq!(
            row.last_success_at,
            Some(at("2026-03-02T10:02:00Z").timestamp_micros())
        );
        let log = events(&e).await;
        assert!(
            log.iter()
                .all(|(_, _, payload)| !payload.contains(&fake.token())),
            "the credential is never stored"
        );
        assert_eq!(
            log.iter()
                .filter(|(_, ty, _)| ty == "CapacityRecorded")
                .count(),
            4
        );
        assert!(
            !log.iter()
                .any(|(stream, _, _)| stream.starts_with("capacity_source:")),
            "no transition while the source is fine"
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_refused_credential_is_the_source_s_health_never_a_crash() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let e = engine(&t).await;
        let fake = FakeCapacityHttp::start().await;
        fake.set_team(
            "sales-nl",
            TeamCapacity {
                available: 3,
                open: 12,
                max: 40,
            },
        );
        bind(&e, "sales-nl", "connector:crm").await;
        let secret = token_file(&fake);
        let source = build_one("crm", &settings(&fake, &secret, "")).unwrap();
        let poller = Poller::new(&e, "default", source, "daemon");
        let health = CapacitySources::new(e.store.db().clone());

        for (minute, status) in [(0, 401), (1, 403)] {
            fake.refuse_with(Some(status));
            let now = at("2026-03-02T10:00:00Z") + chrono::Duration::minutes(minute);
            let outcome = poller.poll_once(now).await;
            let Some(SourceError::Auth(why)) = &outcome.error else {
                panic!("{dialect:?}: {outcome:?}");
            };
            assert!(why.starts_with(&status.to_string()), "{why}");
            let row = health.get("default", "crm").await.unwrap().unwrap();
            assert_eq!(row.state, "failing");
            assert_eq!(row.error_kind.as_deref(), Some("auth"));
            assert_eq!(row.consecutive_failures, minute + 1);
            let last_error = row.last_error.unwrap();
            assert!(last_error.contains(&status.to_string()), "{last_error}");
            assert!(!last_error.contains(&fake.token()));
        }
        let transitions = |log: Vec<(String, String, String)>| -> Vec<String> {
            log.into_iter()
                .filter(|(stream, _, _)| stream == "capacity_source:crm")
                .map(|(_, ty, _)| ty)
                .collect()
        };
        assert_eq!(
            transitions(events(&e).await),
            ["SourceFailing"],
            "failing at the first refusal, once"
        );
        assert!(capacity(&e, "sales-nl").await.recorded_at().is_none());

        fake.refuse_with(None);
        let outcome = poller.poll_once(at("2026-03-02T10:02:00Z")).await;
        assert_eq!((outcome.recorded, outcome.error), (1, None));
        assert_eq!(
            transitions(events(&e).await),
            ["SourceFailing", "SourceRecovered"]
        );
        let row = health.get("default", "crm").await.unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.consecutive_failures), ("ok", 0));
        assert!(
            events(&e)
                .await
                .iter()
                .all(|(_, _, p)| !p.contains(&fake.token())),
            "the credential is in no event"
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_source_that_stops_answering_goes_stale_for_rules_and_is_reported_failing() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let e = engine(&t).await;
        let fake = FakeCapacityHttp::start().await;
        fake.set_team(
            "sales-nl",
            TeamCapacity {
                available: 3,
                open: 4,
                max: 40,
            },
        );
        bind(&e, "sales-nl", "connector:crm").await;
        let secret = token_file(&fake);
        let source = build_one(
            "crm",
            &settings(&fake, &secret, "interval = \"1m\"\nmax_age = \"150s\""),
        )
        .unwrap();
        let poller = Poller::new(&e, "default", source, "daemon");
        let t0 = at("2026-03-02T10:00:00Z");
        assert_eq!(poller.poll_once(t0).await.recorded, 1);

        fake.set_down(true);
        for minute in 1..=3 {
            let outcome = poller
                .poll_once(t0 + chrono::Duration::minutes(minute))
                .await;
            assert!(
                matches!(outcome.error, Some(SourceError::Unavailable(_))),
                "{outcome:?}"
            );
        }
        let failing: Vec<String> = events(&e)
            .await
            .into_iter()
            .filter(|(s, _, _)| s == "capacity_source:crm")
            .map(|(_, ty, payload)| format!("{ty} {payload}"))
            .collect();
        assert_eq!(failing.len(), 1, "{failing:?}");
        assert!(
            failing[0].starts_with("SourceFailing") && failing[0].contains("unavailable"),
            "after three failed polls in a row: {failing:?}"
        );

        // What rules see, from the log: the reading with its max_age, stale after it.
        let view = FactsView::load(&e).await.unwrap();
        let settings = leadorch_config::FactSettings::default();
        let scope = FactsScope::project("default");
        let within = t0 + chrono::Duration::seconds(150);
        let facts = view.facts_in(within, &settings, &scope);
        let team = &facts.teams["sales-nl"];
        assert_eq!(team.max_age_secs, Some(150));
        assert!(!team.is_stale(within), "{dialect:?}");
        let later = t0 + chrono::Duration::minutes(3);
        let facts = view.facts_in(later, &settings, &scope);
        assert!(facts.teams["sales-nl"].is_stale(later), "{dialect:?}");
        t.cleanup().await;
    }
}

/// A source under a rate limit: three teams, four requests per three seconds at the fake, a
/// poll every second. The fake answers 429 with `Retry-After: 2` and counts every request that
/// comes while that runs; the poller must send none. (A client that ignores it polls again
/// after one second, inside the two.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeCapacityHttp::start().await;
    for team in ["a", "b", "c"] {
        fake.set_team(
            team,
            TeamCapacity {
                available: 1,
                open: 1,
                max: 10,
            },
        );
    }
    fake.set_rate_limit(Some(RateLimit {
        requests: 4,
        window: Duration::from_secs(3),
        retry_after_secs: 2,
    }));
    let secret = token_file(&fake);
    let source = build_one(
        "crm",
        &settings(
            &fake,
            &secret,
            "interval = \"1s\"\n[teams]\na = \"a\"\nb = \"b\"\nc = \"c\"",
        ),
    )
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = spawn(&e, "default", vec![source], "daemon", stop_rx);
    // Until the fake has had to say 429 three times (generous: a busy machine is slow).
    let waited = tokio::time::timeout(Duration::from_secs(120), async {
        while fake.counts().rate_limited < 3 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    let counts = fake.counts();
    assert!(
        waited.is_ok(),
        "the fake never rate-limited three times: {counts:?}"
    );
    assert_eq!(
        counts.while_told_to_wait, 0,
        "requests sent while told to wait: {counts:?}"
    );
    // Every team was read despite the limit (none starves behind the others).
    for team in ["a", "b", "c"] {
        assert!(
            capacity(&e, team).await.recorded_at().is_some(),
            "{team}: {counts:?}"
        );
    }
    t.cleanup().await;
}

#[tokio::test]
async fn once_polls_every_source_and_an_idle_one_says_so() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeCapacityHttp::start().await;
    fake.set_team(
        "nl",
        TeamCapacity {
            available: 2,
            open: 1,
            max: 5,
        },
    );
    let secret = token_file(&fake);
    // One answer for every team: the team is in the pointers.
    let all = toml::from_str::<SourceSettings>(&format!(
        r#"
        kind = "http_poll"
        url = "{}/capacity"
        auth_value_file = "{}"
        agents_available = "/teams/{{team}}/agents/available"
        open_leads = "/teams/{{team}}/leads/open"
        max_open_leads = "/teams/{{team}}/leads/max"
        teams = {{ sales-nl = "nl" }}
        "#,
        fake.base_url(),
        secret.path().display()
    ))
    .unwrap();
    let idle = settings(&fake, &secret, "");
    let sources = vec![
        build_one("all", &all).unwrap(),
        build_one("idle", &idle).unwrap(),
    ];
    let outcomes = poll_all_once(&e, "default", &sources, "daemon").await;
    assert_eq!(outcomes[0].0, "all");
    assert_eq!((outcomes[0].1.recorded, outcomes[0].1.teams), (1, 1));
    assert_eq!(capacity(&e, "sales-nl").await.open_leads(), 1);
    assert_eq!((outcomes[1].1.teams, outcomes[1].1.recorded), (0, 0));
    let rows = CapacitySources::new(e.store.db().clone())
        .list(Some("default"))
        .await
        .unwrap();
    let states: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r.name.as_str(), r.state.as_str()))
        .collect();
    assert_eq!(states, [("all", "ok"), ("idle", "idle")]);
    assert_eq!(fake.counts().requests, 1, "the idle source asked nothing");
    t.cleanup().await;
}
