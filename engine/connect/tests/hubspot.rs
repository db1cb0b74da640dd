//! The HubSpot source against the fake HubSpot over loopback HTTP, through the poller the
//! daemon runs: counts per owner and team as the fake's data says (a leadorch team as a
//! HubSpot team, or as a list of owner ids), owners' pages followed to the end, a status
//! changed at HubSpot seen at the next poll, an expired or revoked token as the source's health
//! (never a crash), and HubSpot's `429` honoured.

use std::time::Duration;

use leadorch_config::SourceSettings;
use leadorch_connect::{build_one, spawn, Poller, SourceError};
use leadorch_core::Engine;
use leadorch_domain::project;
use leadorch_evaluate::teams::{self, NewMember, TeamSettings};
use leadorch_fakes::{FakeHubSpot, FakeOwner, HubSpotTokenState};
use leadorch_store::CapacitySources;
use leadorch_test_support::{TestDb, BOTH};

mod common;
use common::{at, capacity, engine, events, secret_file};

/// The private-app token in a file of the test's own, as `token_file` reads it.
fn token_file(token: &str) -> tempfile::NamedTempFile {
    secret_file(token)
}

/// `[capacity.sources.hs]` pointing at the fake.
fn settings(fake: &FakeHubSpot, secret: &tempfile::NamedTempFile, extra: &str) -> SourceSettings {
    let text = format!(
        r#"
        kind = "hubspot"
        base_url = "{}"
        token_file = "{}"
        {extra}
        "#,
        fake.base_url(),
        secret.path().display()
    );
    toml::from_str(&text).unwrap()
}

async fn bind(e: &Engine, team: &str, max_open_leads: Option<i64>) {
    let settings = TeamSettings {
        capacity_source: Some("connector:hs".into()),
        max_open_leads: max_open_leads.map(Some),
        ..TeamSettings::default()
    };
    teams::set_team(e, team, &settings, at("2026-03-01T00:00:00Z"), "test")
        .await
        .unwrap();
}

async fn figures(e: &Engine, team: &str) -> Option<(u32, u32, u32)> {
    let c = capacity(e, team).await;
    c.recorded_at()
        .map(|_| (c.agents_available(), c.open_leads(), c.max_open_leads()))
}

/// Two HubSpot teams. 178588 "Sales NL": owners 11 and 12, and 13 who was deactivated;
/// 178590 "Sales BE": owners 12 (in both) and 21. 600 owners of another team come first, so
/// 11 is on the owners' second page (HubSpot gives at most 500 a page).
fn hubspot_data(fake: &FakeHubSpot) -> u64 {
    for n in 0..600 {
        fake.put_owner(FakeOwner::new(
            &format!("{}", 5000 + n),
            &[("999", "Support")],
        ));
    }
    fake.put_owner(FakeOwner::new(
        "12",
        &[("178588", "Sales NL"), ("178590", "Sales BE")],
    ));
    fake.put_owner(FakeOwner::new("21", &[("178590", "Sales BE")]));
    let mut gone = FakeOwner::new("13", &[("178588", "Sales NL")]);
    gone.archived = true;
    fake.put_owner(gone);
    fake.put_owner(FakeOwner::new("11", &[("178588", "Sales NL")]));
    // Owner 11: five open (3 NEW, 2 OPEN), and some that are not open.
    let first_new = fake.add_contact(Some("11"), Some("NEW"));
    fake.add_contacts(2, "11", "NEW");
    fake.add_contacts(2, "11", "OPEN");
    fake.add_contacts(4, "11", "CONNECTED");
    fake.add_contacts(1, "11", "UNQUALIFIED");
    fake.add_contact(Some("11"), None);
    // Owner 12: one in progress. Owner 21: more open than a search page holds (200).
    fake.add_contacts(1, "12", "IN_PROGRESS");
    fake.add_contacts(250, "21", "OPEN");
    // The deactivated owner's and an unassigned contact never count.
    fake.add_contacts(5, "13", "NEW");
    fake.add_contact(None, Some("NEW"));
    first_new
}

#[tokio::test]
async fn counts_per_owner_and_team_match_hubspot_and_a_status_change_shows_at_the_next_poll() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let e = engine(&t).await;
        let fake = FakeHubSpot::start().await;
        let first_new = hubspot_data(&fake);
        // sales-nl is bound by its team option; sales-be, defined nowhere, by the teams table.
        bind(&e, "sales-nl", None).await;
        let secret = token_file(&fake.token());
        let source = build_one(
            "hs",
            &settings(
                &fake,
                &secret,
                "max_open_leads_per_owner = 5\n[teams]\nsales-nl = \"178588\"\nsales-be = \"178590\"",
            ),
        )
        .unwrap();
        let poller = Poller::new(&e, "default", source, "daemon");
        let t0 = at("2026-03-02T10:00:00Z");
        let outcome = poller.poll_once(t0).await;
        assert_eq!(
            (
                outcome.recorded,
                outcome.error.clone(),
                outcome.team_errors.clone()
            ),
            (2, None, vec![]),
            "{dialect:?}: {outcome:?}"
        );
        // sales-nl: 11 (5 open, at the per-owner maximum: not available) + 12 (1 open);
        // 13 is deactivated. Maximum 2 owners x 5.
        assert_eq!(figures(&e, "sales-nl").await, Some((1, 6, 10)));
        // sales-be: 12 (1) + 21 (250, read from total: more than a page).
        assert_eq!(figures(&e, "sales-be").await, Some((1, 251, 10)));
        let counts = fake.counts();
        assert_eq!(
            counts.owner_pages, 2,
            "the owners' second page was read: {counts:?}"
        );
        assert_eq!(
            counts.searches, 3,
            "owner 12, in both teams, is searched once: {counts:?}"
        );
        assert_eq!(counts.rate_limited, 0, "paced under 4 a second: {counts:?}");
        let body = &fake.search_bodies()[0];
        assert_eq!(body["limit"], 1);
        let filters = &body["filterGroups"][0]["filters"];
        assert_eq!(filters[0]["propertyName"], "hubspot_owner_id");
        assert_eq!(filters[0]["operator"], "EQ");
        assert_eq!(filters[1]["propertyName"], "hs_lead_status");
        assert_eq!(filters[1]["operator"], "IN");
        assert_eq!(
            filters[1]["values"],
            serde_json::json!(["NEW", "OPEN", "IN_PROGRESS"])
        );
        let health = CapacitySources::new(e.store.db().clone());
        let row = health.get("default", "hs").await.unwrap().unwrap();
        assert_eq!(
            (row.state.as_str(), row.kind.as_str(), row.teams),
            ("ok", "hubspot", 2)
        );
        let limit = row.limit_info.unwrap_or_default();
        assert!(limit.starts_with("X-HubSpot-RateLimit: "), "{limit}");

        // A rep qualifies one of 11's new leads: the next poll records the new capacity.
        assert!(fake.set_contact_status(first_new, Some("CONNECTED")));
        let outcome = poller.poll_once(at("2026-03-02T10:01:00Z")).await;
        assert_eq!((outcome.recorded, outcome.unchanged), (1, 1), "{outcome:?}");
        assert_eq!(
            figures(&e, "sales-nl").await,
            Some((2, 5, 10)),
            "11 has room again"
        );
        assert!(
            events(&e)
                .await
                .iter()
                .all(|(_, _, p)| !p.contains(&fake.token())),
            "the token is never stored"
        );
        t.cleanup().await;
    }
}

#[tokio::test]
async fn members_as_owner_ids_in_another_project() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeHubSpot::start().await;
    hubspot_data(&fake);
    // Project acme's team: members 11, 13 (deactivated) and 99 (no owner), its own maximum.
    let team = project::scoped("acme", "sales-nl");
    bind(&e, &team, Some(20)).await;
    for id in ["11", "13", "99"] {
        let member = NewMember {
            id: project::scoped("acme", id),
            name: None,
            max_open_leads: None,
        };
        teams::add_member(&e, &team, &member, at("2026-03-01T00:00:00Z"), "test")
            .await
            .unwrap();
    }
    // A team without members cannot say whose leads are its own.
    bind(&e, &project::scoped("acme", "empty"), Some(5)).await;
    let secret = token_file(&format!("Bearer {}", fake.token()));
    let source = build_one("hs", &settings(&fake, &secret, "owners = \"members\"")).unwrap();
    let poller = Poller::new(&e, "acme", source, "daemon");
    let outcome = poller.poll_once(at("2026-03-02T10:00:00Z")).await;
    assert_eq!(
        (outcome.recorded, outcome.error.clone()),
        (1, None),
        "{outcome:?}"
    );
    // Only 11 counts: 5 open, available (no per-owner maximum), the team's own maximum.
    assert_eq!(figures(&e, &team).await, Some((1, 5, 20)));
    assert_eq!(fake.counts().searches, 1);
    assert_eq!(outcome.team_errors.len(), 1, "{outcome:?}");
    let (which, why) = &outcome.team_errors[0];
    assert_eq!(which, "empty");
    assert!(why.contains("team empty has no members"), "{why}");
    let row = CapacitySources::new(e.store.db().clone())
        .get("acme", "hs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "degraded");
    t.cleanup().await;
}

#[tokio::test]
async fn an_expired_or_revoked_token_is_the_source_s_health_never_a_crash() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let e = engine(&t).await;
        let fake = FakeHubSpot::start().await;
        hubspot_data(&fake);
        bind(&e, "sales-nl", Some(30)).await;
        let secret = token_file(&fake.token());
        let source = build_one(
            "hs",
            &settings(&fake, &secret, "[teams]\nsales-nl = \"178588\""),
        )
        .unwrap();
        let poller = Poller::new(&e, "default", source, "daemon");
        let health = CapacitySources::new(e.store.db().clone());
        let old_token = fake.token();
        for (minute, state, wanted) in [
            (
                0,
                HubSpotTokenState::Expired,
                "401 Unauthorized EXPIRED_AUTHENTICATION",
            ),
            (
                1,
                HubSpotTokenState::Revoked,
                "401 Unauthorized INVALID_AUTHENTICATION",
            ),
            (
                2,
                HubSpotTokenState::MissingScopes,
                "403 Forbidden MISSING_SCOPES",
            ),
        ] {
            fake.set_token_state(state);
            let now = at("2026-03-02T10:00:00Z") + chrono::Duration::minutes(minute);
            let outcome = poller.poll_once(now).await;
            let Some(SourceError::Auth(why)) = &outcome.error else {
                panic!("{dialect:?} {state:?}: {outcome:?}");
            };
            assert!(why.contains(wanted), "{why}");
            // What `leadorch capacity sources` shows is this row.
            let row = health.get("default", "hs").await.unwrap().unwrap();
            assert_eq!(row.state, "failing");
            assert_eq!(row.error_kind.as_deref(), Some("auth"));
            assert_eq!(row.consecutive_failures, minute + 1);
            let last_error = row.last_error.unwrap();
            assert!(last_error.contains(wanted), "{last_error}");
            assert!(!last_error.contains(&old_token), "{last_error}");
        }
        let transitions = |log: Vec<(String, String, String)>| -> Vec<String> {
            log.into_iter()
                .filter(|(stream, _, _)| stream == "capacity_source:hs")
                .map(|(_, ty, payload)| {
                    assert!(!payload.contains(&old_token), "{payload}");
                    ty
                })
                .collect()
        };
        assert_eq!(
            transitions(events(&e).await),
            ["SourceFailing"],
            "failing at the first refusal, once"
        );
        assert_eq!(figures(&e, "sales-nl").await, None);

        // Someone rotates the private app's token and writes the new one to the file: the
        // next poll reads it.
        let new_token = fake.rotate_token();
        std::fs::write(secret.path(), &new_token).unwrap();
        let outcome = poller.poll_once(at("2026-03-02T10:03:00Z")).await;
        assert_eq!((outcome.recorded, outcome.error), (1, None));
        assert_eq!(figures(&e, "sales-nl").await, Some((2, 6, 30)));
        assert_eq!(
            transitions(events(&e).await),
            ["SourceFailing", "SourceRecovered"]
        );
        let row = health.get("default", "hs").await.unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.consecutive_failures), ("ok", 0));
        t.cleanup().await;
    }
}

/// HubSpot's search limit, tighter than the client's pace: the fake allows one search a
/// second and answers `429` beyond it, with HubSpot's headers (no `Retry-After`: the interval
/// header says one second). Three teams of two owners, a poll every second. The fake counts
/// every search that arrives while a wait it told runs; the client must send none, and every
/// team must still be read (waits inside a poll, then the rest at the next).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_honoured_and_every_team_is_read() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeHubSpot::start().await;
    for (team, owners) in [
        ("1", ["101", "102"]),
        ("2", ["201", "202"]),
        ("3", ["301", "302"]),
    ] {
        for owner in owners {
            fake.put_owner(FakeOwner::new(owner, &[(team, "Team")]));
            fake.add_contacts(2, owner, "NEW");
        }
    }
    fake.set_search_rate(Some(1));
    let secret = token_file(&fake.token());
    let source = build_one(
        "hs",
        &settings(
            &fake,
            &secret,
            "interval = \"1s\"\nmax_open_leads_per_owner = 10\n[teams]\na = \"1\"\nb = \"2\"\nc = \"3\"",
        ),
    )
    .unwrap();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let task = spawn(&e, "default", vec![source], "daemon", stop_rx);
    // Until the fake has had to say 429 a few times and every team is read (generous: a busy
    // machine is slow).
    let waited = tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            let mut all = true;
            for team in ["a", "b", "c"] {
                all &= figures(&e, team).await.is_some();
            }
            if all && fake.counts().rate_limited >= 4 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    stop_tx.send(true).unwrap();
    task.await.unwrap();
    let counts = fake.counts();
    assert_eq!(
        counts.while_told_to_wait, 0,
        "searches sent while told to wait: {counts:?}"
    );
    assert!(
        waited.is_ok(),
        "not every team read, or never rate-limited: {counts:?}"
    );
    for team in ["a", "b", "c"] {
        assert_eq!(figures(&e, team).await, Some((2, 4, 20)), "{team}");
    }
    let row = CapacitySources::new(e.store.db().clone())
        .get("default", "hs")
        .await
        .unwrap()
        .unwrap();
    assert!(row
        .limit_info
        .is_some_and(|l| l.contains("X-HubSpot-RateLimit")));
    t.cleanup().await;
}

/// Told to wait long (another integration on the same token used up the second, and HubSpot
/// said `Retry-After: 30`): the poll ends at once with the wait, the health says so, and a
/// poll asked for too early sends no search before the wait has passed.
#[tokio::test]
async fn a_long_retry_after_ends_the_poll_and_holds_the_next_search() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeHubSpot::start().await;
    hubspot_data(&fake);
    bind(&e, "sales-nl", Some(30)).await;
    let secret = token_file(&fake.token());
    let source = build_one(
        "hs",
        &settings(&fake, &secret, "[teams]\nsales-nl = \"178588\""),
    )
    .unwrap();
    fake.set_search_rate(Some(1));
    fake.set_retry_after(Some(30));
    let poller = Poller::new(&e, "default", source, "daemon");
    let outcome = poller.poll_once(at("2026-03-02T10:00:00Z")).await;
    // Owner 12's search fits the second; 11's is refused: nothing read for the team.
    let Some(SourceError::RateLimited { retry_after, .. }) = &outcome.error else {
        panic!("{outcome:?}");
    };
    assert_eq!(*retry_after, Some(Duration::from_secs(30)));
    assert!(outcome.wait >= Duration::from_secs(30), "{outcome:?}");
    let counts = fake.counts();
    assert_eq!((counts.searches, counts.rate_limited), (1, 1), "{counts:?}");
    let row = CapacitySources::new(e.store.db().clone())
        .get("default", "hs")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.state.as_str(), row.error_kind.as_deref()),
        ("failing", Some("rate_limited"))
    );
    assert!(row.last_error.unwrap().contains("429"));

    // Polled again at once: the owners are read, but no search leaves within the wait.
    let again = tokio::time::timeout(
        Duration::from_secs(2),
        poller.poll_once(at("2026-03-02T10:00:01Z")),
    )
    .await;
    assert!(again.is_err(), "the poll waits for its search's slot");
    let counts = fake.counts();
    assert_eq!(
        (
            counts.searches,
            counts.rate_limited,
            counts.while_told_to_wait
        ),
        (1, 1, 0),
        "{counts:?}"
    );
    assert_eq!(figures(&e, "sales-nl").await, None);
    t.cleanup().await;
}

/// Ten owners in one team, HubSpot's own limit at the fake (4 a second, a burst of 4): the
/// client spaces its searches itself, so none is refused (sent at once, some would be).
#[tokio::test]
async fn searches_are_paced_under_hubspot_s_rate() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeHubSpot::start().await;
    for n in 0..10 {
        let id = format!("{}", 700 + n);
        fake.put_owner(FakeOwner::new(&id, &[("178588", "Sales NL")]));
        fake.add_contacts(n, &id, "OPEN");
    }
    bind(&e, "sales-nl", Some(100)).await;
    let secret = token_file(&fake.token());
    let source = build_one(
        "hs",
        &settings(&fake, &secret, "[teams]\nsales-nl = \"178588\""),
    )
    .unwrap();
    let poller = Poller::new(&e, "default", source, "daemon");
    let outcome = poller.poll_once(at("2026-03-02T10:00:00Z")).await;
    assert_eq!(
        (outcome.recorded, outcome.error.clone()),
        (1, None),
        "{outcome:?}"
    );
    assert_eq!(figures(&e, "sales-nl").await, Some((10, 45, 100)));
    let counts = fake.counts();
    assert_eq!(
        (counts.searches, counts.rate_limited),
        (10, 0),
        "{counts:?}"
    );
    t.cleanup().await;
}
