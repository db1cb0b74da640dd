//! The hostile-rules suite: every script of `rules/fixtures/hostile/` beside the capacity gate,
//! run by the daemon on a capacity change while the same engine serves the HTTP API. Scripts
//! that cannot compile are refused when saved, with where; every other one is stopped within
//! its limits and recorded as a failure of its kind, for each campaign it ran on; the gate
//! still acts; the contrarian rule's conflict with the gate is arbitrated to one decision per
//! campaign; and the API answers every request made while the rules run and after.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use chrono::Duration;
use leadorch_api::keys::{create, KeySpec, Scope};
use leadorch_api::listen::bind;
use leadorch_api::{check_listen, serve, Api};
use leadorch_daemon::Daemon;
use leadorch_evaluate::library::save_rule;
use leadorch_test_support::TestDb;

mod common;
use common::gated::{capacity, counting, start};
use common::{config, engine, host, repo, GATE};

/// How each saved script must fail: a piece of its recorded error.
const FAILS: [(&str, &str); 11] = [
    ("spin", "too many operations"),
    ("print_flood", "too many operations"),
    ("recursion", "too deep"),
    ("string_bomb", "too large"),
    ("array_bomb", "too large"),
    ("map_bomb", "too many operations"),
    ("huge_reason", "too large"),
    ("wrong_types", "line 3"),
    ("missing_fact", "line 3"),
    ("bad_return", "bad return value"),
    ("throws", "this rule refuses to decide"),
];

/// Scripts refused when saved, and a piece of the refusal.
const REFUSED: [(&str, &str); 3] = [
    ("imports", "import"),
    ("evals", "eval"),
    ("syntax", "rule syntax: line "),
];

fn script(name: &str) -> String {
    let path = repo().join(format!("rules/fixtures/hostile/{name}.rhai"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_rules_fail_alone_recorded_while_the_gate_acts_and_the_api_serves() {
    let t = TestDb::sqlite();
    let e = engine(&t).await;
    let h = host();
    // Every file of the corpus is named here, so a new one cannot go untested.
    let mut files: Vec<String> = std::fs::read_dir(repo().join("rules/fixtures/hostile"))
        .unwrap()
        .filter_map(|f| {
            let name = f.unwrap().file_name().into_string().unwrap();
            name.strip_suffix(".rhai").map(str::to_string)
        })
        .collect();
    files.sort();
    let mut named: Vec<String> = FAILS
        .iter()
        .chain(REFUSED.iter())
        .map(|(n, _)| n.to_string())
        .chain(["conflicting".to_string()])
        .collect();
    named.sort();
    assert_eq!(
        files, named,
        "every script of the corpus has its expectation"
    );

    for (name, why) in REFUSED {
        let refused = save_rule(&e, &h, name, &script(name), true, start(), "test")
            .await
            .expect_err(name);
        let text = refused.to_string();
        assert!(text.contains(why), "{name}: {text}");
    }
    save_rule(&e, &h, "gate", GATE, true, start(), "test")
        .await
        .unwrap();
    for (name, _) in FAILS {
        save_rule(&e, &h, name, &script(name), true, start(), "test")
            .await
            .unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    save_rule(
        &e,
        &h,
        "conflicting",
        &script("conflicting"),
        true,
        start(),
        "test",
    )
    .await
    .unwrap();

    // The API over the same engine.
    let (api, _writer) = Api::with_settings(e.clone(), leadorch_api::Settings::default());
    // No rate limit: the client below calls as fast as it can.
    let api = api.with_rate_limits(None);
    let (key, _) = create(
        &api.keys,
        &KeySpec {
            project: "default".into(),
            name: "ops".into(),
            scopes: vec![Scope::Read],
            allow_ips: vec![],
        },
        "test",
        1,
    )
    .await
    .unwrap();
    let key = key.text.to_string();
    let (listener, bound) = bind(check_listen("127.0.0.1:0", false).unwrap())
        .await
        .unwrap();
    tokio::spawn(serve(
        listener,
        leadorch_api::router(api),
        std::future::pending(),
    ));
    let base = format!("http://{bound}");

    let adapter = counting();
    let now = start();
    let mut d = Daemon::start(e.clone(), h, adapter.clone(), config())
        .await
        .unwrap();
    d.step(now).await.unwrap();
    capacity(&e, "sales-nl", 40, 40, now + Duration::minutes(1)).await;

    // The rules run while a client keeps calling the API.
    let (done_tx, mut done) = tokio::sync::watch::channel(false);
    let client = tokio::spawn({
        let base = base.clone();
        let key = key.clone();
        async move {
            let c = reqwest::Client::new();
            let mut answered = Vec::new();
            loop {
                let r = c
                    .get(format!("{base}/v1/rules"))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .map(|r| r.status().as_u16());
                answered.push(r.map_err(|e| e.to_string()));
                if *done.borrow_and_update() {
                    return answered;
                }
            }
        }
    });
    let report = d.step(now + Duration::minutes(1)).await.unwrap();
    done_tx.send(true).unwrap();
    let answered = client.await.unwrap();
    let mut answers: BTreeMap<String, usize> = BTreeMap::new();
    for r in &answered {
        *answers.entry(format!("{r:?}")).or_default() += 1;
    }
    assert!(answered.iter().all(|r| matches!(r, Ok(200))), "{answers:?}");

    let eval = report
        .evaluations
        .iter()
        .find(|ev| !ev.failures.is_empty())
        .unwrap_or_else(|| panic!("no evaluation recorded a failure: {report:?}"));
    // Every hostile rule failed, of its kind, on every campaign it ran on.
    let mut failed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (rule, _campaign, error) in &eval.failures {
        failed
            .entry(rule.as_str())
            .or_default()
            .push(error.as_str());
    }
    for (name, why) in FAILS {
        let errors = failed
            .get(name)
            .unwrap_or_else(|| panic!("{name} did not fail: {failed:?}"));
        assert!(errors.iter().all(|e| e.contains(why)), "{name}: {errors:?}");
    }
    assert!(
        !failed.contains_key("gate") && !failed.contains_key("conflicting"),
        "{failed:?}"
    );
    // The gate acted; the contrarian was arbitrated against it, one decision per campaign.
    assert!(
        eval.accepted.iter().any(|p| p.rule == "gate"),
        "{:?}",
        eval.accepted
    );
    let gated: Vec<&str> = eval
        .accepted
        .iter()
        .filter(|p| p.rule == "gate")
        .map(|p| p.campaign.as_str())
        .collect();
    for campaign in &gated {
        assert!(
            eval.conflicts.iter().any(|c| c.campaign == *campaign
                && c.winner == "gate"
                && c.losers.iter().any(|(rule, _)| rule == "conflicting")),
            "no conflict recorded for {campaign}: {:?}",
            eval.conflicts
        );
    }
    let mut per_campaign: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &eval.accepted {
        *per_campaign.entry(p.campaign.as_str()).or_default() += 1;
    }
    assert!(per_campaign.values().all(|n| *n == 1), "{per_campaign:?}");
    assert!(
        adapter.applied.load(Ordering::SeqCst) > 0,
        "nothing was applied"
    );

    // The evaluation, with its failures, is in the log; the chain holds.
    let recorded = leadorch_evaluate::explain::load_evaluation(&e, &eval.id)
        .await
        .unwrap();
    assert!(
        recorded.is_some(),
        "evaluation {} is not in the log",
        eval.id
    );
    assert!(matches!(
        e.store.log.verify(|_| {}).await.unwrap(),
        leadorch_store::Verification::Intact { .. }
    ));
    // And the API still answers.
    let r = reqwest::Client::new()
        .get(format!("{base}/v1/rules"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
