//! The Salesforce source against the fake Salesforce org over loopback HTTP, through the
//! poller the daemon runs: open leads per owner and team as the fake holds them, paging
//! followed to the end, the token fetched once, reused and renewed after it expired, a revoked
//! client reported as the source's health (never a crash), the limit report kept, a
//! `REQUEST_LIMIT_EXCEEDED` honoured, and the Omni-Channel figures.

use chrono::{DateTime, Utc};
use leadorch_config::SourceSettings;
use leadorch_connect::salesforce::{
    work_query, LIMIT_EXCEEDED_WAIT, OWNERS_PER_QUERY, PRESENCE_QUERY,
};
use leadorch_connect::{build_one, Poller, SourceError};
use leadorch_core::Engine;
use leadorch_evaluate::teams::{self, NewMember, TeamSettings};
use leadorch_fakes::{fake_user_id, FakeSalesforce};
use leadorch_store::CapacitySources;
use leadorch_test_support::{TestDb, BOTH};

mod common;
use common::{at, capacity, engine, events};

fn minutes(n: i64) -> DateTime<Utc> {
    at("2026-03-02T10:00:00Z") + chrono::Duration::minutes(n)
}

const OPEN: &str = "Open - Not Contacted";
const WORKING: &str = "Working - Contacted";
/// A status with a quote in it: the SOQL literal must escape it.
const NURTURE: &str = "Nurture's \"warm\"";
const CLOSED: &str = "Closed - Not Converted";

/// The consumer secret in a file of the test's own, as `client_secret_file` reads it.
fn secret_file(fake: &FakeSalesforce) -> tempfile::NamedTempFile {
    common::secret_file(&fake.client_secret())
}

/// `[capacity.sources.sf]` pointing at the fake.
fn settings(
    fake: &FakeSalesforce,
    secret: &tempfile::NamedTempFile,
    extra: &str,
) -> SourceSettings {
    let text = format!(
        r#"
        kind = "salesforce"
        login_url = "{}"
        client_id = "{}"
        client_secret_file = "{}"
        open_statuses = ["{OPEN}", "{WORKING}", "{}"]
        {extra}
        "#,
        fake.base_url(),
        fake.client_id(),
        secret.path().display(),
        NURTURE.replace('"', "\\\""),
    );
    toml::from_str(&text).unwrap()
}

/// Defines `team` bound to `connector:sf` with `members` (and its own maximum, if given).
async fn team(e: &Engine, name: &str, members: &[&str], max: Option<i64>) {
    let settings = TeamSettings {
        capacity_source: Some("connector:sf".into()),
        max_open_leads: max.map(Some),
        ..TeamSettings::default()
    };
    teams::set_team(e, name, &settings, at("2026-03-01T00:00:00Z"), "test")
        .await
        .unwrap();
    for id in members {
        let member = NewMember {
            id: id.to_string(),
            name: None,
            max_open_leads: None,
        };
        teams::add_member(e, name, &member, at("2026-03-01T00:00:00Z"), "test")
            .await
            .unwrap();
    }
}

/// (agents available, open leads, maximum) of a team's last reading.
async fn figures(e: &Engine, team: &str) -> (u32, u32, u32) {
    let c = capacity(e, team).await;
    assert!(c.recorded_at().is_some(), "{team} has no reading");
    assert_eq!(c.source(), Some("connector:sf"));
    (c.agents_available(), c.open_leads(), c.max_open_leads())
}

/// The source's transitions in the log (`SourceFailing`, `SourceRecovered`).
async fn transitions(e: &Engine) -> Vec<(String, String)> {
    events(e)
        .await
        .into_iter()
        .filter(|(stream, _, _)| stream == "capacity_source:sf")
        .map(|(_, event_type, payload)| (event_type, payload))
        .collect()
}

/// Every event's payload, to check no secret reached the log.
async fn payloads(e: &Engine) -> String {
    events(e)
        .await
        .into_iter()
        .map(|(_, _, payload)| payload)
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn counts_per_owner_and_team_match_the_fake_with_paging_followed_to_the_end() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let e = engine(&t).await;
        let fake = FakeSalesforce::start().await;
        fake.set_batch_size(2);
        let [u1, u2, u3, u4, u5] = [1, 2, 3, 4, 5].map(fake_user_id);
        for _ in 0..3 {
            fake.add_lead(&u1, OPEN);
        }
        let u1_working = fake.add_lead(&u1, WORKING);
        fake.add_lead(&u1, CLOSED);
        fake.add_lead(&u2, WORKING);
        fake.add_lead(&u2, NURTURE);
        let converted = fake.add_lead(&u2, OPEN);
        fake.set_lead_converted(&converted, true).unwrap();
        fake.add_lead(&u3, NURTURE);
        for _ in 0..4 {
            fake.add_lead(&u4, OPEN); // in no team
        }
        fake.add_lead("00G000000000001AAA", OPEN); // a queue
                                                   // sales-nl: u1 and u2 (u2 by its 15-character id); sales-be: u3 and u5 (who has no
                                                   // leads), with a maximum of its own; sales-de: listed under the source, no members.
        team(&e, "sales-nl", &[&u1, &u2[..15]], None).await;
        team(&e, "sales-be", &[&u3, &u5], Some(10)).await;
        let secret = secret_file(&fake);
        let source = build_one(
            "sf",
            &settings(
                &fake,
                &secret,
                "max_open_leads_per_owner = 4\n[teams]\nsales-de = \"de\"",
            ),
        )
        .unwrap();
        let poller = Poller::new(&e, "default", source, "daemon");

        let outcome = poller.poll_once(minutes(0)).await;
        assert_eq!(
            (outcome.recorded, outcome.error.clone()),
            (2, None),
            "{outcome:?}"
        );
        // u1: 4 open (one closed); u2: 2 (one converted). u1 is at the per-owner maximum of 4.
        assert_eq!(figures(&e, "sales-nl").await, (1, 6, 8), "{dialect:?}");
        // u3: 1, u5: none; the team's own maximum.
        assert_eq!(figures(&e, "sales-be").await, (2, 1, 10), "{dialect:?}");
        assert_eq!(outcome.team_errors.len(), 1, "{outcome:?}");
        assert_eq!(outcome.team_errors[0].0, "sales-de");
        assert!(
            outcome.team_errors[0]
                .1
                .contains("misconfigured: no members"),
            "{outcome:?}"
        );

        // One query, as written, for the members of every team (each once, in the order of
        // the teams), and its three owner rows in batches of two: one more.
        let owners = format!("'{u3}', '{u5}', '{u1}', '{}'", &u2[..15]);
        assert_eq!(
            fake.queries(),
            [format!(
                r#"SELECT OwnerId, COUNT(Id) FROM Lead WHERE IsConverted = false AND Status IN ('Open - Not Contacted', 'Working - Contacted', 'Nurture\'s \"warm\"') AND OwnerId IN ({owners}) GROUP BY OwnerId"#
            )]
        );
        let counts = fake.counts();
        assert_eq!(
            (counts.queries, counts.next_batches, counts.malformed),
            (1, 1, 0)
        );

        let health = CapacitySources::new(e.store.db().clone());
        let row = health.get("default", "sf").await.unwrap().unwrap();
        assert_eq!(
            (row.state.as_str(), row.kind.as_str()),
            ("degraded", "salesforce")
        );
        assert_eq!(
            row.limit_info.as_deref(),
            Some("api-usage=2/15000"),
            "the last answer's"
        );

        // A lead changes status at the fake: the next poll sees it.
        fake.set_lead_status(&u1_working, CLOSED).unwrap();
        let outcome = poller.poll_once(minutes(1)).await;
        assert_eq!((outcome.recorded, outcome.unchanged), (1, 1), "{outcome:?}");
        assert_eq!(figures(&e, "sales-nl").await, (2, 5, 8));
        let row = health.get("default", "sf").await.unwrap().unwrap();
        assert_eq!(row.limit_info.as_deref(), Some("api-usage=4/15000"));
        assert!(!payloads(&e).await.contains(&fake.client_secret()));
        t.cleanup().await;
    }
}

#[tokio::test]
async fn the_token_is_fetched_once_reused_and_renewed_after_it_expired() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeSalesforce::start().await;
    let u1 = fake_user_id(1);
    fake.add_lead(&u1, OPEN);
    team(&e, "sales-nl", &[&u1], Some(5)).await;
    let secret = secret_file(&fake);
    let poller = Poller::new(
        &e,
        "default",
        build_one("sf", &settings(&fake, &secret, "")).unwrap(),
        "daemon",
    );
    assert_eq!(
        fake.counts().tokens_issued,
        0,
        "no request when the source is built"
    );
    for minute in 0..3 {
        let outcome = poller.poll_once(minutes(minute)).await;
        assert_eq!(outcome.error, None, "{outcome:?}");
    }
    let counts = fake.counts();
    assert_eq!((counts.tokens_issued, counts.queries), (1, 3), "{counts:?}");
    // Without members' maxima or a per-owner one: every member is available.
    assert_eq!(figures(&e, "sales-nl").await, (1, 1, 5));

    // The org's session timeout passed: one 401 INVALID_SESSION_ID, one new token, the
    // query again, and the poll is fine.
    fake.expire_tokens();
    fake.add_lead(&u1, WORKING);
    let outcome = poller.poll_once(minutes(3)).await;
    assert_eq!((outcome.error, outcome.recorded), (None, 1));
    let counts = fake.counts();
    assert_eq!(
        (counts.tokens_issued, counts.invalid_session, counts.queries),
        (2, 1, 4),
        "{counts:?}"
    );
    assert_eq!(figures(&e, "sales-nl").await, (1, 2, 5));
    assert!(
        transitions(&e).await.is_empty(),
        "an expired token is no failure"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn a_revoked_client_is_the_source_s_health_never_a_crash() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let e = engine(&t).await;
        let fake = FakeSalesforce::start().await;
        let u1 = fake_user_id(1);
        fake.add_lead(&u1, OPEN);
        team(&e, "sales-nl", &[&u1], Some(5)).await;
        let secret = secret_file(&fake);
        let poller = Poller::new(
            &e,
            "default",
            build_one("sf", &settings(&fake, &secret, "")).unwrap(),
            "daemon",
        );
        let health = CapacitySources::new(e.store.db().clone());
        assert_eq!(poller.poll_once(minutes(0)).await.recorded, 1);

        // Revoked: the kept token stops working, and a new one is refused.
        fake.revoke_client(true);
        for minute in 1..=2 {
            let outcome = poller.poll_once(minutes(minute)).await;
            let Some(SourceError::Auth(why)) = &outcome.error else {
                panic!("{dialect:?}: {outcome:?}");
            };
            assert!(why.contains("400 Bad Request invalid_client"), "{why}");
            let row = health.get("default", "sf").await.unwrap().unwrap();
            // What `leadorch capacity sources` prints: state, kind of error, the error.
            assert_eq!(
                (
                    row.state.as_str(),
                    row.error_kind.as_deref(),
                    row.consecutive_failures
                ),
                ("failing", Some("auth"), minute)
            );
            let last_error = row.last_error.unwrap();
            assert!(
                last_error.starts_with("credential refused: token endpoint"),
                "{last_error}"
            );
            assert!(!last_error.contains(&fake.client_secret()));
        }
        let log = transitions(&e).await;
        assert_eq!(log.len(), 1, "failing at the first refusal, once: {log:?}");
        assert_eq!(log[0].0, "SourceFailing");
        assert!(
            log[0].1.contains("invalid_client") && log[0].1.contains("\"auth\""),
            "{log:?}"
        );

        fake.revoke_client(false);
        let outcome = poller.poll_once(minutes(3)).await;
        assert_eq!(outcome.error, None, "{outcome:?}");
        let log: Vec<String> = transitions(&e)
            .await
            .into_iter()
            .map(|(ty, _)| ty)
            .collect();
        assert_eq!(log, ["SourceFailing", "SourceRecovered"]);
        let row = health.get("default", "sf").await.unwrap().unwrap();
        assert_eq!((row.state.as_str(), row.consecutive_failures), ("ok", 0));
        assert!(!payloads(&e).await.contains(&fake.client_secret()));
        t.cleanup().await;
    }
}

#[tokio::test]
async fn a_wrong_secret_or_client_id_is_refused_as_auth_with_the_error_code_only() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeSalesforce::start().await;
    let u1 = fake_user_id(1);
    team(&e, "sales-nl", &[&u1], Some(5)).await;
    let wrong = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(wrong.path(), "not-the-secret").unwrap();
    let poller = Poller::new(
        &e,
        "default",
        build_one("sf", &settings(&fake, &wrong, "")).unwrap(),
        "daemon",
    );
    let outcome = poller.poll_once(minutes(0)).await;
    assert_eq!(
        outcome.error,
        Some(SourceError::Auth(
            "token endpoint: 400 Bad Request invalid_client: invalid client credentials".into()
        ))
    );
    assert_eq!(fake.counts().requests, 0, "no query without a token");
    t.cleanup().await;
}

#[tokio::test]
async fn request_limit_exceeded_is_honoured_and_not_retried_within_the_poll() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeSalesforce::start().await;
    fake.set_batch_size(1);
    let [u1, u2] = [1, 2].map(fake_user_id);
    fake.add_lead(&u1, OPEN);
    fake.add_lead(&u2, OPEN);
    team(&e, "sales-nl", &[&u1, &u2], Some(5)).await;
    // Two requests a poll (two batches); three allowed: the second poll's second batch is
    // refused.
    fake.set_daily_allowance(3);
    let secret = secret_file(&fake);
    let poller = Poller::new(
        &e,
        "default",
        build_one("sf", &settings(&fake, &secret, "")).unwrap(),
        "daemon",
    );
    assert_eq!(poller.poll_once(minutes(0)).await.error, None);
    let outcome = poller.poll_once(minutes(1)).await;
    let Some(SourceError::RateLimited {
        retry_after,
        detail,
    }) = &outcome.error
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(*retry_after, Some(LIMIT_EXCEEDED_WAIT));
    assert!(
        detail.contains("REQUEST_LIMIT_EXCEEDED") && detail.contains("api-usage=3/3"),
        "{detail}"
    );
    // One refused request, no other after it in that poll; the next poll waits the wait.
    let counts = fake.counts();
    assert_eq!(
        (counts.limit_exceeded, counts.requests),
        (1, 4),
        "{counts:?}"
    );
    assert!(outcome.wait >= LIMIT_EXCEEDED_WAIT, "{outcome:?}");
    let row = CapacitySources::new(e.store.db().clone())
        .get("default", "sf")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.state.as_str(), row.error_kind.as_deref()),
        ("failing", Some("rate_limited"))
    );
    assert_eq!(
        row.next_poll_at,
        Some((minutes(1) + chrono::Duration::from_std(outcome.wait).unwrap()).timestamp_micros())
    );
    assert!(
        transitions(&e).await.is_empty(),
        "one rate limit is not failing yet"
    );
    t.cleanup().await;
}

#[tokio::test]
async fn omni_channel_presence_and_work_give_agents_and_the_maximum() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeSalesforce::start().await;
    fake.set_batch_size(2);
    let [u1, u2, u3, u4, u5] = [1, 2, 3, 4, 5].map(fake_user_id);
    for _ in 0..2 {
        fake.add_lead(&u1, OPEN);
    }
    fake.add_lead(&u4, WORKING);
    // u1: capacity 5, using 3 + 1 (a closed piece does not count): room for 1, available.
    fake.set_presence(&u1, Some((5, false)));
    fake.add_work(&u1, 3.0, "Opened");
    fake.add_work(&u1, 1.0, "Assigned");
    fake.add_work(&u1, 4.0, "Closed");
    // u2: capacity 3, all used: present, not available.
    fake.set_presence(&u2, Some((3, false)));
    fake.add_work(&u2, 2.0, "Opened");
    fake.add_work(&u2, 1.0, "Opened");
    // u3: away: present, not available (its capacity still counts in the maximum).
    fake.set_presence(&u3, Some((4, true)));
    // u4: logged out (no current presence): none of the maximum, its open lead counts.
    // u5 is present but in no team.
    fake.set_presence(&u5, Some((9, false)));
    team(&e, "sales-nl", &[&u1, &u2, &u3, &u4], Some(100)).await;
    let secret = secret_file(&fake);
    let poller = Poller::new(
        &e,
        "default",
        build_one("sf", &settings(&fake, &secret, "omni_channel = true")).unwrap(),
        "daemon",
    );
    let outcome = poller.poll_once(minutes(0)).await;
    assert_eq!(
        (outcome.error.clone(), outcome.recorded),
        (None, 1),
        "{outcome:?}"
    );
    // Available: u1. Open: u1's 2 and u4's 1. Maximum: 5 + 3 + 4 (not the team's own 100).
    assert_eq!(figures(&e, "sales-nl").await, (1, 3, 12));
    let queries = fake.queries();
    assert_eq!(
        &queries[1..],
        [
            PRESENCE_QUERY.to_string(),
            work_query(&[&u1, &u2, &u3, &u4])
        ]
    );
    // Two owner rows, two work rows: one batch each; four presence rows: two batches.
    assert_eq!((fake.counts().queries, fake.counts().next_batches), (3, 1));

    // u1 takes more work; u3 comes back: u3 is the one available now.
    fake.add_work(&u1, 1.0, "Assigned");
    fake.set_presence(&u3, Some((4, false)));
    poller.poll_once(minutes(1)).await;
    assert_eq!(figures(&e, "sales-nl").await, (1, 3, 12));
    // Everyone logs out: nobody available, a maximum of 0 (full).
    for u in [&u1, &u2, &u3] {
        fake.set_presence(u, None);
    }
    poller.poll_once(minutes(2)).await;
    assert_eq!(figures(&e, "sales-nl").await, (0, 3, 0));
    t.cleanup().await;
}

/// More members than one query takes: the owners are asked for in several queries, and the
/// counts are the same as from one.
#[tokio::test]
async fn many_members_are_asked_for_in_several_queries() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let fake = FakeSalesforce::start().await;
    let n = u32::try_from(OWNERS_PER_QUERY).unwrap() + 5;
    let users: Vec<String> = (1..=n).map(fake_user_id).collect();
    for (i, u) in users.iter().enumerate() {
        if i % 2 == 0 {
            fake.add_lead(u, OPEN);
        }
    }
    let ids: Vec<&str> = users.iter().map(String::as_str).collect();
    team(&e, "sales-nl", &ids, Some(1000)).await;
    let secret = secret_file(&fake);
    let poller = Poller::new(
        &e,
        "default",
        build_one("sf", &settings(&fake, &secret, "")).unwrap(),
        "daemon",
    );
    let outcome = poller.poll_once(minutes(0)).await;
    assert_eq!(outcome.error, None, "{outcome:?}");
    let expected_open = n.div_ceil(2);
    assert_eq!(figures(&e, "sales-nl").await, (n, expected_open, 1000));
    let queries = fake.queries();
    assert_eq!(queries.len(), 2);
    assert!(queries[1].contains(&format!("OwnerId IN ('{}',", users[OWNERS_PER_QUERY])));
    t.cleanup().await;
}
