//! `/v1/webhooks` over real HTTP on both backends: admin scope only; a secret in the answers to
//! creation and rotation and nowhere else; a loopback URL refused with a `422` naming `url`
//! unless `[webhooks]` allows it; an unknown event type a `422` naming the entry; another
//! project's endpoint `404` like an unknown one; deliveries with their last attempt; and the
//! webhook gauges of `/metrics`.

mod common;

use common::{problem, start_on, start_with, Server};
use leadorch_api::keys::Scope;
use leadorch_store::Dialect;
use leadorch_store::{AfterAttempt, AttemptRow, NewDelivery, Webhooks};
use leadorch_test_support::BOTH;
use serde_json::{json, Value};

async fn post(s: &Server, key: &str, path: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(s.url(path))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(s: &Server, key: &str, path: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(s.url(path))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn ok_json(r: reqwest::Response, status: u16) -> Value {
    assert_eq!(r.status(), status, "{}", r.url());
    r.json().await.unwrap()
}

#[tokio::test]
async fn endpoints_are_managed_by_admin_keys_of_their_own_project() {
    for dialect in BOTH {
        let s = start_on(dialect).await;
        let admin = s.key("admin", &[Scope::Admin]).await;
        let reader = s.key("reader", &[Scope::Read, Scope::Rules]).await;
        let (acme, _) = s.key_in("acme", "acme-admin", &[Scope::Admin], &[]).await;
        let new = json!({"url": "https://hooks.example.com/lo", "events": ["campaign.paused", "change.applied"]});

        // Only admin keys.
        problem(post(&s, &reader, "/v1/webhooks", new.clone()).await, 403).await;
        problem(get(&s, &reader, "/v1/webhooks").await, 403).await;
        problem(
            reqwest::Client::new()
                .get(s.url("/v1/webhooks"))
                .send()
                .await
                .unwrap(),
            401,
        )
        .await;

        // Refused, naming the field.
        let p = problem(
            post(
                &s,
                &admin,
                "/v1/webhooks",
                json!({"url": "http://127.0.0.1:9/x", "events": ["change.applied"]}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(p["field"], "url", "{p}");
        let detail = p["detail"].as_str().unwrap();
        assert!(
            detail.contains("loopback") && detail.contains("allow_private"),
            "{detail}"
        );
        let p = problem(
            post(
                &s,
                &admin,
                "/v1/webhooks",
                json!({"url": "http://169.254.169.254/latest", "events": ["change.applied"]}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(p["field"], "url", "{p}");
        let p = problem(
            post(&s, &admin, "/v1/webhooks", json!({"url": "https://hooks.example.com/x", "events": ["change.applied", "lead.created"]})).await,
            422,
        )
        .await;
        assert_eq!(p["field"], "events[1]", "{p}");
        assert!(p["detail"].as_str().unwrap().contains("rule.notify"), "{p}");
        let p = problem(
            post(
                &s,
                &admin,
                "/v1/webhooks",
                json!({"url": "https://hooks.example.com/x", "events": []}),
            )
            .await,
            422,
        )
        .await;
        assert_eq!(p["field"], "events", "{p}");
        problem(
            post(
                &s,
                &admin,
                "/v1/webhooks",
                json!({"url": "https://hooks.example.com/x"}),
            )
            .await,
            422,
        )
        .await;

        // Made: the secret is in this answer.
        let made = ok_json(post(&s, &admin, "/v1/webhooks", new.clone()).await, 201).await;
        let secret = made["secret"].as_str().unwrap().to_string();
        leadorch_webhooks::sign::Secret::parse(&secret).unwrap();
        let id = made["endpoint_id"].as_str().unwrap().to_string();
        assert!(id.starts_with("we_"), "{made}");
        assert_eq!(made["events"], json!(["change.applied", "campaign.paused"]));
        assert_eq!(made["enabled"], true);
        assert!(made["created_by"].as_str().unwrap().starts_with("api-key:"));

        // Never again: not listed, not shown.
        let list = get(&s, &admin, "/v1/webhooks").await.text().await.unwrap();
        assert!(!list.contains("whsec_"), "{list}");
        let list: Value = serde_json::from_str(&list).unwrap();
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["items"][0]["endpoint_id"], id.as_str());
        let one = ok_json(get(&s, &admin, &format!("/v1/webhooks/{id}")).await, 200).await;
        assert_eq!(one["url"], "https://hooks.example.com/lo");
        assert!(one.get("secret").is_none(), "{one}");

        // Rotation: a new secret, in its answer.
        let rotated = ok_json(
            post(
                &s,
                &admin,
                &format!("/v1/webhooks/{id}/rotate-secret"),
                json!({}),
            )
            .await,
            200,
        )
        .await;
        let again = rotated["secret"].as_str().unwrap();
        assert!(again.starts_with("whsec_") && again != secret, "{rotated}");
        let secrets = Webhooks::new(s.engine.store.codec.keys().clone())
            .secrets(&id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            secrets.iter().map(|x| x.as_str()).collect::<Vec<_>>(),
            [again, secret.as_str()],
            "the previous secret keeps signing until the next rotation"
        );

        // Another project: the endpoint is 404 everywhere, as an unknown one.
        let acme_list = ok_json(get(&s, &acme, "/v1/webhooks").await, 200).await;
        assert_eq!(acme_list["items"], json!([]));
        for (method, path) in [
            ("GET", format!("/v1/webhooks/{id}")),
            ("DELETE", format!("/v1/webhooks/{id}")),
            ("POST", format!("/v1/webhooks/{id}/rotate-secret")),
            ("POST", format!("/v1/webhooks/{id}/enable")),
            ("GET", format!("/v1/webhooks/{id}/deliveries")),
            ("GET", "/v1/webhooks/we_unknown".to_string()),
        ] {
            let r = reqwest::Client::new()
                .request(method.parse().unwrap(), s.url(&path))
                .bearer_auth(&acme)
                .send()
                .await
                .unwrap();
            let p = problem(r, 404).await;
            assert!(
                !p["detail"].as_str().unwrap().contains("default"),
                "{method} {path}: {p}"
            );
        }

        // Enable (already enabled: the same view), then delete.
        let enabled = ok_json(
            post(&s, &admin, &format!("/v1/webhooks/{id}/enable"), json!({})).await,
            200,
        )
        .await;
        assert_eq!(enabled["enabled"], true);
        let r = reqwest::Client::new()
            .delete(s.url(&format!("/v1/webhooks/{id}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        problem(get(&s, &admin, &format!("/v1/webhooks/{id}")).await, 404).await;
        s.engine.store.db().close().await;
    }
}

#[tokio::test]
async fn a_private_receiver_is_accepted_when_the_configuration_allows_it() {
    let settings = leadorch_api::Settings {
        webhooks: leadorch_config::WebhookSettings {
            allow_hosts: vec!["10.1.0.0/16".into()],
            ..Default::default()
        },
        ..Default::default()
    };
    let s = start_with(Dialect::Sqlite, settings).await;
    let admin = s.key("admin", &[Scope::Admin]).await;
    let made = ok_json(
        post(
            &s,
            &admin,
            "/v1/webhooks",
            json!({"url": "http://10.1.2.3:8080/hook", "events": ["all"]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(made["events"].as_array().unwrap().len(), 10);
    let p = problem(
        post(
            &s,
            &admin,
            "/v1/webhooks",
            json!({"url": "http://10.2.0.1/hook", "events": ["all"]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["field"], "url");
}

#[tokio::test]
async fn deliveries_show_their_last_attempt_and_metrics_count_them() {
    for dialect in BOTH {
        let s = start_on(dialect).await;
        let admin = s.key("admin", &[Scope::Admin]).await;
        let read = s.key("metrics", &[Scope::Read]).await;
        let made = ok_json(
            post(
                &s,
                &admin,
                "/v1/webhooks",
                json!({"url": "https://hooks.example.com/a", "events": ["change.applied"]}),
            )
            .await,
            201,
        )
        .await;
        let id = made["endpoint_id"].as_str().unwrap().to_string();
        let hooks = Webhooks::new(s.engine.store.codec.keys().clone());
        let now = chrono::Utc::now().timestamp_micros();
        for (n, d) in ["msg_a", "msg_b", "msg_c"].iter().enumerate() {
            hooks
                .enqueue(
                    &[NewDelivery {
                        delivery_id: d.to_string(),
                        endpoint_id: id.clone(),
                        project: "default".into(),
                        event_type: "change.applied".into(),
                        position: n as i64 + 1,
                        event_id: format!("ev-{n}"),
                        part: 0,
                        due_at: now,
                    }],
                    now + n as i64,
                )
                .await
                .unwrap();
        }
        let attempt = |id: &str, n: u32, status: Option<u16>, error: Option<&str>| AttemptRow {
            delivery_id: id.into(),
            n,
            at: now,
            status,
            error: error.map(str::to_string),
            millis: 5,
        };
        hooks
            .record(
                &attempt("msg_a", 1, Some(204), None),
                &AfterAttempt::Delivered,
            )
            .await
            .unwrap();
        hooks
            .record(
                &attempt("msg_b", 1, None, Some("no answer within 15s")),
                &AfterAttempt::RetryAt(now + 5_000_000),
            )
            .await
            .unwrap();
        hooks
            .record(
                &attempt("msg_b", 2, Some(503), Some("503 Service Unavailable")),
                &AfterAttempt::RetryAt(now + 300_000_000),
            )
            .await
            .unwrap();

        let got = ok_json(
            get(&s, &admin, &format!("/v1/webhooks/{id}/deliveries")).await,
            200,
        )
        .await;
        let items = got["items"].as_array().unwrap();
        assert_eq!(items.len(), 3, "{dialect:?}: {got}");
        assert_eq!(items[0]["delivery_id"], "msg_c", "newest first");
        assert_eq!(items[0]["state"], "pending");
        assert_eq!(items[0]["attempts"], 0);
        assert_eq!(items[0]["last_status"], Value::Null);
        assert_eq!(items[1]["delivery_id"], "msg_b");
        assert_eq!(items[1]["attempts"], 2);
        assert_eq!(items[1]["last_status"], 503);
        assert_eq!(items[1]["last_error"], "503 Service Unavailable");
        assert!(items[1]["next_attempt_at"].is_string());
        assert_eq!(items[2]["state"], "delivered");
        assert_eq!(items[2]["last_status"], 204);
        assert!(items[2]["finished_at"].is_string());
        let one = ok_json(
            get(&s, &admin, &format!("/v1/webhooks/{id}/deliveries?limit=1")).await,
            200,
        )
        .await;
        assert_eq!(one["items"].as_array().unwrap().len(), 1);
        let p = problem(
            get(&s, &admin, &format!("/v1/webhooks/{id}/deliveries?limit=0")).await,
            422,
        )
        .await;
        assert_eq!(p["field"], "limit");

        // /metrics: per project and state, zeros included; endpoints and disabled ones.
        hooks
            .disable(&id, "the receiver answered 410 Gone", now)
            .await
            .unwrap();
        let text = get(&s, &read, "/metrics").await.text().await.unwrap();
        for line in [
            "leadorch_webhook_deliveries{project=\"default\",state=\"delivered\"} 1",
            // msg_b and msg_c ended when the endpoint was disabled.
            "leadorch_webhook_deliveries{project=\"default\",state=\"disabled\"} 2",
            "leadorch_webhook_deliveries{project=\"default\",state=\"pending\"} 0",
            "leadorch_webhook_deliveries{project=\"default\",state=\"given_up\"} 0",
            "leadorch_webhook_endpoints{project=\"default\"} 1",
            "leadorch_webhook_endpoints_disabled{project=\"default\"} 1",
        ] {
            assert!(text.contains(line), "{dialect:?}: {line} in\n{text}");
        }
        let list = ok_json(get(&s, &admin, "/v1/webhooks").await, 200).await;
        assert_eq!(list["items"][0]["enabled"], false);
        assert_eq!(
            list["items"][0]["disabled_reason"],
            "the receiver answered 410 Gone"
        );
        s.engine.store.db().close().await;
    }
}

#[tokio::test]
async fn the_routes_are_described_in_openapi() {
    let s = start_on(Dialect::Sqlite).await;
    let read = s.key("reader", &[Scope::Read]).await;
    let doc = ok_json(get(&s, &read, "/openapi.json").await, 200).await;
    for (path, method) in [
        ("/v1/webhooks", "get"),
        ("/v1/webhooks", "post"),
        ("/v1/webhooks/{endpoint_id}", "get"),
        ("/v1/webhooks/{endpoint_id}", "delete"),
        ("/v1/webhooks/{endpoint_id}/rotate-secret", "post"),
        ("/v1/webhooks/{endpoint_id}/enable", "post"),
        ("/v1/webhooks/{endpoint_id}/deliveries", "get"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not described");
        assert!(op["responses"]["401"].is_object(), "{method} {path}");
        assert!(op["responses"]["403"].is_object(), "{method} {path}");
    }
    let created = &doc["components"]["schemas"]["CreatedWebhook"];
    assert!(created.to_string().contains("secret"), "{created}");
}
