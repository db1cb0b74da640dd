//! Delivery under faults over real loopback HTTP, on a schedule shortened to milliseconds:
//! a receiver that verifies every signature answers 2xx, 5xx with `Retry-After`, times out,
//! answers `410`, or keeps failing. Every delivery must reach a final state, none may be sent
//! again after a 2xx, and the failing endpoints must be disabled and reported.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leadorch_fakes::webhook_receiver::{Answer, WebhookReceiver};
use leadorch_store::{
    Db, DeliveryState, Endpoint, ExpectedVersion, MasterKey, Metadata, NewEvent, RetentionPolicy,
    Store,
};
use leadorch_test_support::{TestDb, BOTH};
use leadorch_webhooks::schedule::Schedule;
use leadorch_webhooks::sign::Secret;
use leadorch_webhooks::ssrf::Reach;
use leadorch_webhooks::worker::{Settings, SystemClock, Worker};
use serde_json::{json, Value};

/// The receiver, scripted per path: `ok` answers 204; `flaky` 503 with `Retry-After: 1`,
/// then 500, then 200; `slow` outlives the sender's timeout once, then 200; `gone` 410; `down`
/// 502 always.
async fn receiver() -> WebhookReceiver {
    let r = WebhookReceiver::start().await;
    r.script(
        "flaky",
        vec![Answer::RetryAfter(503, "1".into()), Answer::Status(500)],
        Answer::Status(200),
    );
    r.script(
        "slow",
        vec![Answer::After(Duration::from_secs(5), 503)],
        Answer::Status(200),
    );
    r.script("gone", vec![], Answer::Status(410));
    r.script("down", vec![], Answer::Status(502));
    r
}

/// Attempts that reached the receiver and verified.
fn attempts(r: &WebhookReceiver) -> usize {
    r.received().len()
}

fn settings() -> Settings {
    Settings {
        schedule: Schedule::new(
            vec![
                Duration::ZERO,
                Duration::from_millis(10),
                Duration::from_millis(20),
                Duration::from_millis(30),
            ],
            0.1,
        )
        .unwrap(),
        reach: Reach::any(),
        timeout: Duration::from_millis(500),
        poll: Duration::from_millis(10),
        concurrency: 8,
        project: None,
    }
}

async fn append(store: &Store, stream: &str, event_type: &str, payload: Value) {
    store
        .log
        .append(
            stream,
            ExpectedVersion::Any,
            vec![NewEvent {
                event_id: uuid::Uuid::now_v7(),
                event_type: event_type.into(),
                schema_version: "1.0".into(),
                payload: serde_json::to_vec(&json!({ event_type: payload })).unwrap(),
                metadata: Metadata {
                    actor: "test".into(),
                    ..Metadata::default()
                }
                .to_bytes(),
            }],
        )
        .await
        .unwrap();
}

async fn open(t: &TestDb) -> Store {
    let db = Db::connect(&t.url).await.unwrap();
    Store::with_master_key(db, MasterKey::random(), RetentionPolicy::default())
        .await
        .unwrap()
}

async fn add_endpoint(
    w: &Worker,
    r: &WebhookReceiver,
    path: &str,
    events: &[&str],
    project: &str,
) -> String {
    let secret = Secret::generate();
    r.set_secret(path, &secret.expose());
    let id = format!("we_{path}_{project}");
    w.hooks()
        .add(
            &Endpoint {
                endpoint_id: id.clone(),
                project: project.into(),
                url: r.url(path),
                events: events.iter().map(|s| s.to_string()).collect(),
                created_at: 0,
                created_by: "test".into(),
                disabled_at: None,
                disabled_reason: None,
            },
            &secret.expose(),
        )
        .await
        .unwrap();
    id
}

/// Delivers until nothing is pending; returns the endpoints reported disabled.
async fn drain(w: &mut Worker) -> Vec<(String, String)> {
    let mut disabled = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let r = w.deliver_due().await.unwrap();
        disabled.extend(r.disabled);
        if w.hooks().next_due(None).await.unwrap().is_none() {
            return disabled;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries still pending after a minute"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_delivery_reaches_a_final_state_and_none_is_sent_twice_after_a_2xx() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let store = open(&t).await;
        let seen = receiver().await;
        let mut w = Worker::new(store.clone(), settings(), Arc::new(SystemClock))
            .await
            .unwrap();
        let types = ["change.applied", "campaign.paused"];
        let ok = add_endpoint(&w, &seen, "ok", &types, "default").await;
        let flaky = add_endpoint(&w, &seen, "flaky", &types, "default").await;
        let slow = add_endpoint(&w, &seen, "slow", &types, "default").await;
        let gone = add_endpoint(&w, &seen, "gone", &types, "default").await;
        let down = add_endpoint(&w, &seen, "down", &types, "default").await;
        // Another project's endpoint hears nothing of the default project's campaign.
        let other = add_endpoint(&w, &seen, "other", &types, "acme").await;

        append(
            &store,
            "campaign:1/2",
            "ChangeApplied",
            json!({"change_id": "c1", "change": "pause", "at": "2026-01-01T00:00:00Z"}),
        )
        .await;
        append(
            &store,
            "campaign:1/2",
            "ChangeFailed",
            json!({"change_id": "c2", "error": "x", "retryable": true}),
        )
        .await;
        assert_eq!(
            w.dispatch().await.unwrap(),
            10,
            "two types for five endpoints"
        );
        // Read again (a restart from the checkpoint, or the same events twice): nothing new.
        assert_eq!(w.dispatch().await.unwrap(), 0);
        let mut again = Worker::new(store.clone(), settings(), Arc::new(SystemClock))
            .await
            .unwrap();
        assert_eq!(again.position(), w.position());
        assert_eq!(again.dispatch().await.unwrap(), 0);

        let disabled = drain(&mut w).await;

        let hooks = w.hooks();
        let mut finals = HashMap::new();
        for ep in [&ok, &flaky, &slow, &gone, &down, &other] {
            let ds = hooks.deliveries(ep, 100).await.unwrap();
            for d in &ds {
                assert_ne!(d.state, DeliveryState::Pending, "{d:?}");
                let tries = hooks.attempts(&d.delivery_id).await.unwrap();
                assert_eq!(
                    tries.len() as u32,
                    d.attempts,
                    "every attempt recorded: {d:?}"
                );
                // Only the last attempt of a delivered message is a 2xx.
                if d.state == DeliveryState::Delivered {
                    let ok_n: Vec<_> = tries
                        .iter()
                        .filter(|a| a.status.is_some_and(|s| (200..300).contains(&s)))
                        .collect();
                    assert_eq!(ok_n.len(), 1);
                    assert_eq!(ok_n[0].n, d.attempts);
                }
            }
            finals.insert(ep.clone(), ds);
        }
        let states = |ep: &String| finals[ep].iter().map(|d| d.state).collect::<Vec<_>>();
        assert_eq!(states(&ok), [DeliveryState::Delivered; 2]);
        assert_eq!(states(&flaky), [DeliveryState::Delivered; 2]);
        assert_eq!(states(&slow), [DeliveryState::Delivered; 2]);
        assert_eq!(states(&gone), [DeliveryState::Disabled; 2]);
        assert!(finals[&other].is_empty());
        // "down" fails all four attempts of its first delivery; that disables the endpoint,
        // which ends the other one too (given up, or disabled if it was not yet done).
        let down_states = states(&down);
        assert!(
            down_states.contains(&DeliveryState::GivenUp),
            "{down_states:?}"
        );
        assert!(down_states
            .iter()
            .all(|s| matches!(s, DeliveryState::GivenUp | DeliveryState::Disabled)));
        let given_up = finals[&down]
            .iter()
            .find(|d| d.state == DeliveryState::GivenUp)
            .unwrap();
        assert_eq!(given_up.attempts, 4);

        // Flaky: three attempts, the second no sooner than its Retry-After.
        for d in &finals[&flaky] {
            let tries = hooks.attempts(&d.delivery_id).await.unwrap();
            assert_eq!(
                tries.iter().map(|a| a.status).collect::<Vec<_>>(),
                [Some(503), Some(500), Some(200)]
            );
            assert!(
                tries[1].at - tries[0].at >= 1_000_000,
                "Retry-After: 1 honoured"
            );
        }
        // Slow: the first attempt timed out, recorded without a status.
        for d in &finals[&slow] {
            let tries = hooks.attempts(&d.delivery_id).await.unwrap();
            assert_eq!(tries[0].status, None);
            assert!(tries[0].error.as_deref().unwrap().contains("no answer"));
            assert_eq!(tries[1].status, Some(200));
        }

        // Gone and down are disabled, reported once each, with the reason.
        let gone_ep = hooks.endpoint(&gone).await.unwrap().unwrap();
        assert!(gone_ep.disabled_reason.unwrap().contains("410"));
        let down_ep = hooks.endpoint(&down).await.unwrap().unwrap();
        assert!(down_ep.disabled_reason.unwrap().contains("all 4 attempts"));
        let mut reported: Vec<_> = disabled.iter().map(|(id, _)| id.clone()).collect();
        reported.sort();
        assert_eq!(reported, [down.clone(), gone.clone()]);

        // The receiver: every attempt verified, no id acknowledged twice, bodies whole.
        assert_eq!(seen.unverified(), 0);
        let acked: Vec<String> = seen
            .received()
            .into_iter()
            .filter(|r| r.acked)
            .map(|r| r.id)
            .collect();
        let mut unique = acked.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            acked.len(),
            "an id answered 2xx twice: {acked:?}"
        );
        assert_eq!(acked.len(), 6);
        let bodies = seen.acked_bodies();
        assert!(bodies
            .iter()
            .any(|b| b["type"] == "campaign.paused" && b["data"]["campaign"] == "1/2"));
        assert!(bodies
            .iter()
            .all(|b| b["type"] == "change.applied" || b["type"] == "campaign.paused"));

        // Nothing more is due, and a late pass sends nothing.
        let before = attempts(&seen);
        assert_eq!(w.deliver_due().await.unwrap().attempts, 0);
        let after = attempts(&seen);
        assert_eq!(before, after);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_and_rule_failures_are_delivered_per_project_on_change() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let store = open(&t).await;
        let seen = receiver().await;
        let w = Worker::new(store.clone(), settings(), Arc::new(SystemClock))
            .await
            .unwrap();
        add_endpoint(&w, &seen, "ok", &["rule.notify", "rule.failing"], "acme").await;

        let eval = |failing: bool, notes: &[&str]| {
            let accepted: Vec<Value> = notes
                .iter()
                .map(|m| json!({"rule": "gate", "campaign": "1/2", "decision": {"action": {"action": "notify", "message": m}, "reason": "r"}}))
                .collect();
            let failures: Vec<Value> = if failing {
                vec![json!({"campaign": "1/2", "error": "boom"})]
            } else {
                vec![]
            };
            json!({"at": "2026-01-01T00:00:00Z", "rules": [{"rule_id": "gate", "rule_version": 1, "run": {"failures": failures, "aborted": null}}], "resolution": {"accepted": accepted}})
        };
        append(
            &store,
            "evaluation:acme/e1",
            "EvaluationRecorded",
            eval(true, &["first", "second"]),
        )
        .await;
        append(
            &store,
            "evaluation:acme/e2",
            "EvaluationRecorded",
            eval(true, &[]),
        )
        .await;
        append(
            &store,
            "evaluation:acme/e3",
            "EvaluationRecorded",
            eval(false, &[]),
        )
        .await;
        append(
            &store,
            "evaluation:acme/e4",
            "EvaluationRecorded",
            eval(true, &[]),
        )
        .await;
        // The default project's evaluation is not acme's.
        append(
            &store,
            "evaluation:e5",
            "EvaluationRecorded",
            eval(true, &["elsewhere"]),
        )
        .await;
        // Another project's worker (its daemon) stores nothing for acme's endpoint.
        let mut theirs = Worker::new(
            store.clone(),
            Settings {
                project: Some("default".into()),
                ..settings()
            },
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        assert_eq!(theirs.dispatch().await.unwrap(), 0);
        // Two notes, and "failing" on e1 and again on e4 (after e3 ran clean), not on e2.
        let mut w = Worker::new(
            store.clone(),
            Settings {
                project: Some("acme".into()),
                ..settings()
            },
            Arc::new(SystemClock),
        )
        .await
        .unwrap();
        assert_eq!(w.dispatch().await.unwrap(), 4);
        assert_eq!(
            theirs.deliver_due().await.unwrap().attempts,
            0,
            "not the default project's to send"
        );
        drain(&mut w).await;
        let bodies = seen.acked_bodies();
        let mut notes: Vec<_> = bodies
            .iter()
            .filter(|b| b["type"] == "rule.notify")
            .map(|b| b["data"]["message"].as_str().unwrap().to_string())
            .collect();
        notes.sort();
        assert_eq!(notes, ["first", "second"]);
        let mut failing: Vec<_> = bodies
            .iter()
            .filter(|b| b["type"] == "rule.failing")
            .map(|b| b["data"]["evaluation"].as_str().unwrap().to_string())
            .collect();
        failing.sort();
        assert_eq!(failing, ["acme/e1", "acme/e4"]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_project_without_endpoints_is_skipped_and_its_rule_states_forgotten() {
    for dialect in BOTH {
        let t = TestDb::new(dialect).await;
        let store = open(&t).await;
        let seen = receiver().await;
        let acme = || Settings {
            project: Some("acme".into()),
            ..settings()
        };
        let mut w = Worker::new(store.clone(), acme(), Arc::new(SystemClock))
            .await
            .unwrap();
        let failing = json!({"at": "2026-01-01T00:00:00Z", "rules": [{"rule_id": "gate", "rule_version": 1, "run": {"failures": [{"campaign": "1/2", "error": "boom"}], "aborted": null}}], "resolution": {"accepted": []}});
        // The rule fails while acme has no endpoint: nothing is stored, and its failing state
        // is not kept.
        append(
            &store,
            "evaluation:acme/e1",
            "EvaluationRecorded",
            failing.clone(),
        )
        .await;
        assert_eq!(w.dispatch().await.unwrap(), 0);
        // An endpoint appears; the rule is still failing at its next evaluation, which is
        // reported (a worker that had followed the rule without an endpoint would say nothing
        // until the rule recovered and failed again).
        add_endpoint(&w, &seen, "ok", &["rule.failing"], "acme").await;
        append(
            &store,
            "evaluation:acme/e2",
            "EvaluationRecorded",
            failing.clone(),
        )
        .await;
        assert_eq!(w.dispatch().await.unwrap(), 1);
        drain(&mut w).await;
        let reported: Vec<_> = seen
            .acked_bodies()
            .iter()
            .map(|b| b["data"]["evaluation"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(reported, ["acme/e2"]);
        // From now on the state is followed: the same failure again is not news.
        append(&store, "evaluation:acme/e3", "EvaluationRecorded", failing).await;
        assert_eq!(w.dispatch().await.unwrap(), 0);
    }
}
