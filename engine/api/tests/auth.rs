//! The auth matrix over real HTTP: no key, a mistyped key, an unknown key, a revoked key, a
//! key without the scope, a key used from an address its allowlist does not name, and a key
//! of another project; the keys and access-log endpoints; `/readyz` and `/openapi.json`.

mod common;

use std::time::Duration;

use common::{problem, start};
use leadorch_api::keys::Scope;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

#[tokio::test]
async fn every_endpoint_but_healthz_needs_a_working_key() {
    let s = start().await;
    let c = client();
    for path in ["/readyz", "/openapi.json", "/v1/keys", "/v1/access-log"] {
        let r = c.get(s.url(path)).send().await.unwrap();
        assert_eq!(r.headers()["www-authenticate"], "Bearer", "{path}");
        let p = problem(r, 401).await;
        assert!(
            p["detail"].as_str().unwrap().contains("no API key"),
            "{path}: {p}"
        );
    }
    // Not a bearer header.
    let r = c
        .get(s.url("/readyz"))
        .header("authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;

    // A mistyped key is refused by its checksum, before any lookup.
    let key = s.key("ops", &[Scope::Read]).await;
    let mut typo = key.clone().into_bytes();
    let i = "lo_default_".len() + 3;
    typo[i] = if typo[i] == b'x' { b'y' } else { b'x' };
    let typo = String::from_utf8(typo).unwrap();
    let r = c
        .get(s.url("/readyz"))
        .bearer_auth(&typo)
        .send()
        .await
        .unwrap();
    let p = problem(r, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("checksum"), "{p}");

    // Well formed, but never made here.
    let stranger = leadorch_api::keys::generate("default");
    let r = c
        .get(s.url("/readyz"))
        .bearer_auth(stranger.text.as_str())
        .send()
        .await
        .unwrap();
    let p = problem(r, 401).await;
    assert_eq!(p["detail"], "no such API key");

    // The working key gets in.
    let r = c
        .get(s.url("/readyz"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "ready");
    assert_eq!(v["database"], "sqlite");
    assert!(v["schema_version"].as_i64().unwrap() >= 5, "{v}");
    // /healthz needs nothing.
    let r = c.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn scopes_allowlists_revocation_and_projects() {
    let s = start().await;
    let c = client();
    let admin = s.key("admin", &[Scope::Admin]).await;
    let ingest = s.key("ingest", &[Scope::Ingest, Scope::Capacity]).await;

    // Wrong scope: 403, naming what is missing.
    let r = c
        .get(s.url("/v1/keys"))
        .bearer_auth(&ingest)
        .send()
        .await
        .unwrap();
    let p = problem(r, 403).await;
    assert!(
        p["detail"]
            .as_str()
            .unwrap()
            .contains("lacks the admin scope"),
        "{p}"
    );

    // Allowlist: only 10.0.0.0/8 may use this one; we call from 127.0.0.1.
    let (far, _) = s
        .key_in("default", "far", &[Scope::Read], &["10.0.0.0/8"])
        .await;
    let r = c
        .get(s.url("/readyz"))
        .bearer_auth(&far)
        .send()
        .await
        .unwrap();
    let p = problem(r, 403).await;
    assert!(
        p["detail"].as_str().unwrap().contains("this address"),
        "{p}"
    );
    let (near, _) = s
        .key_in("default", "near", &[Scope::Read], &["127.0.0.1"])
        .await;
    let r = c
        .get(s.url("/readyz"))
        .bearer_auth(&near)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    // Revoked through the API: refused at once.
    let r = c
        .delete(s.url("/v1/keys/near"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["name"], "near");
    assert!(v["revoked_at"].is_string(), "{v}");
    let r = c
        .get(s.url("/readyz"))
        .bearer_auth(&near)
        .send()
        .await
        .unwrap();
    let p = problem(r, 401).await;
    assert!(p["detail"].as_str().unwrap().contains("was revoked"), "{p}");
    // Revoking it again: there is no working key of that name.
    let r = c
        .delete(s.url("/v1/keys/near"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    problem(r, 404).await;

    // Another project's admin sees none of default's keys and cannot revoke them: 404, as
    // for a key that does not exist.
    let (other, _) = s.key_in("acme", "acme-admin", &[Scope::Admin], &[]).await;
    assert!(other.starts_with("lo_acme_"));
    let r = c
        .get(s.url("/v1/keys"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["acme-admin"]);
    let r = c
        .delete(s.url("/v1/keys/ingest"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let p = problem(r, 404).await;
    let r2 = c
        .delete(s.url("/v1/keys/no-such-key"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    let p2 = problem(r2, 404).await;
    assert_eq!(p["type"], p2["type"]);
    // default's ingest key still works.
    let r = c
        .get(s.url("/readyz"))
        .bearer_auth(&ingest)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn keys_made_over_http_work_and_refused_requests_store_nothing() {
    let s = start().await;
    let c = client();
    let admin = s.key("admin", &[Scope::Admin]).await;
    let count = |v: &Value| v["items"].as_array().unwrap().len();

    let r = c
        .post(s.url("/v1/keys"))
        .bearer_auth(&admin)
        .json(&json!({"name": "hubspot", "scopes": ["ingest", "capacity"], "allow_ips": ["127.0.0.0/8"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let made: Value = r.json().await.unwrap();
    let key = made["key"].as_str().unwrap().to_string();
    assert!(key.starts_with("lo_default_"), "{made}");
    assert_eq!(made["scopes"], json!(["ingest", "capacity"]));
    assert_eq!(made["allow_ips"], json!(["127.0.0.0/8"]));
    assert!(made["created_by"]
        .as_str()
        .unwrap()
        .starts_with("api-key:key_"));
    let r = c
        .get(s.url("/readyz"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The list never carries a key's text.
    let r = c
        .get(s.url("/v1/keys"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(!text.contains(&key), "{text}");
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(count(&listed), 2);

    let refused = [
        (
            json!({"name": "x", "scopes": ["write"]}),
            422,
            Some("scopes[0]"),
        ),
        (json!({"name": "x", "scopes": []}), 422, Some("scopes")),
        (json!({"name": "", "scopes": ["read"]}), 422, Some("name")),
        (
            json!({"name": "x", "scopes": ["read"], "allow_ips": ["10.0.0.0/33"]}),
            422,
            Some("allow_ips[0]"),
        ),
        (
            json!({"name": "x", "scopes": ["read"], "colour": "red"}),
            422,
            None,
        ),
        (json!({"scopes": ["read"]}), 422, None),
        (
            json!({"name": "hubspot", "scopes": ["read"]}),
            409,
            Some("name"),
        ),
    ];
    for (body, status, field) in refused {
        let r = c
            .post(s.url("/v1/keys"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        let p = problem(r, status).await;
        if let Some(field) = field {
            assert_eq!(p["field"], field, "{body} → {p}");
        }
    }
    // Malformed, truncated, wrongly typed and oversized bodies.
    let r = c
        .post(s.url("/v1/keys"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{\"name\": \"x\", ")
        .send()
        .await
        .unwrap();
    let p = problem(r, 400).await;
    assert!(p["detail"].as_str().unwrap().contains("not JSON"), "{p}");
    let r = c
        .post(s.url("/v1/keys"))
        .bearer_auth(&admin)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    problem(r, 415).await;
    let big = json!({"name": "x".repeat(300 * 1024), "scopes": ["read"]});
    let r = c
        .post(s.url("/v1/keys"))
        .bearer_auth(&admin)
        .json(&big)
        .send()
        .await
        .unwrap();
    problem(r, 413).await;
    // A bad query parameter names itself.
    let r = c
        .get(s.url("/v1/keys?include_revoked=maybe"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let p = problem(r, 422).await;
    assert_eq!(p["field"], "include_revoked");

    // None of that stored a key.
    let r = c
        .get(s.url("/v1/keys?include_revoked=true"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(count(&v), 2, "{v}");
}

#[tokio::test]
async fn the_access_log_records_who_called_what_never_bodies() {
    let s = start().await;
    let c = client();
    let (admin, admin_id) = s.key_in("default", "admin", &[Scope::Admin], &[]).await;
    let (read, read_id) = s.key_in("default", "reader", &[Scope::Read], &[]).await;
    c.get(s.url("/readyz"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap();
    c.get(s.url("/v1/keys"))
        .bearer_auth(&read)
        .send()
        .await
        .unwrap(); // 403, still logged
    c.delete(s.url("/v1/keys/someone@example.org"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    // Not authenticated: not in the log (no key to attribute it to).
    c.get(s.url("/readyz")).send().await.unwrap();
    let (other, _) = s.key_in("acme", "acme", &[Scope::Read], &[]).await;
    c.get(s.url("/readyz"))
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();

    // Rows are written in the background: wait for them (bounded, not timed).
    let mut rows = Vec::new();
    for _ in 0..300 {
        let r = c
            .get(s.url(&format!("/v1/access-log?key_id={read_id}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        rows = v["items"].as_array().unwrap().clone();
        if rows.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(rows.len(), 2, "{rows:?}");
    // Newest first.
    assert_eq!(rows[0]["route"], "/v1/keys");
    assert_eq!(rows[0]["status"], 403);
    assert_eq!(rows[1]["route"], "/readyz");
    assert_eq!(rows[1]["status"], 200);
    assert_eq!(rows[1]["ip"], "127.0.0.1");
    assert_eq!(rows[1]["method"], "GET");

    // The admin's delete is logged by route template, not by the (personal) path.
    let mut all = String::new();
    for _ in 0..300 {
        let r = c
            .get(s.url(&format!("/v1/access-log?key_id={admin_id}&limit=1000")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        all = r.text().await.unwrap();
        if all.contains("/v1/keys/{key_id}") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(all.contains("/v1/keys/{key_id}"), "{all}");
    assert!(!all.contains("someone@example.org"), "{all}");
    // Paging: one row per page, the cursor leads on.
    let r = c
        .get(s.url(&format!("/v1/access-log?key_id={read_id}&limit=1")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let next = page["next"].as_str().unwrap().to_string();
    let r = c
        .get(s.url(&format!(
            "/v1/access-log?key_id={read_id}&limit=1&before={next}"
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let page2: Value = r.json().await.unwrap();
    assert_eq!(page2["items"][0]["route"], "/readyz");
    assert!(page2["next"].is_null());
    // Another project's rows are not default's business.
    let r = c
        .get(s.url("/v1/access-log?limit=1000"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(!text.contains("acme"), "{text}");
}

#[tokio::test]
async fn openapi_describes_the_served_endpoints() {
    let s = start().await;
    let c = client();
    let key = s.key("reader", &[Scope::Read]).await;
    let r = c
        .get(s.url("/openapi.json"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let doc: Value = r.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/healthz",
        "/readyz",
        "/v1/keys",
        "/v1/keys/{key_id}",
        "/v1/access-log",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["api_key"]["scheme"],
        "bearer"
    );
    assert!(doc["paths"]["/v1/keys"]["post"]["responses"]["422"].is_object());
}

/// What schemathesis found undocumented: every status an operation can answer is listed —
/// 429/500/503 for any keyed one, 400/413/415 for one with a JSON body, 422 for one with
/// parameters — each a problem; the event stream is described event by event; the event
/// type filter lists the domain's types.
#[tokio::test]
async fn openapi_lists_every_status_an_operation_can_answer() {
    let s = start().await;
    let key = s.key("reader", &[Scope::Read]).await;
    let doc: Value = client()
        .get(s.url("/openapi.json"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut keyed = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let responses = &op["responses"];
            let has =
                |status: &str| responses[status]["content"]["application/problem+json"].is_object();
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                keyed += 1;
                for status in ["401", "429", "500", "503"] {
                    assert!(has(status), "{method} {path} lacks {status}");
                }
            }
            if op["requestBody"].is_object() {
                for status in ["400", "413", "415"] {
                    assert!(has(status), "{method} {path} lacks {status}");
                }
            }
            if op["parameters"].as_array().is_some_and(|p| !p.is_empty()) {
                assert!(has("422"), "{method} {path} lacks 422");
            }
        }
    }
    assert!(keyed >= 20, "{keyed}");
    let stream = &doc["paths"]["/v1/events/stream"]["get"]["responses"]["200"]["content"]
        ["text/event-stream"]["schema"];
    assert_eq!(stream["$ref"], "#/components/schemas/StreamedEvent");
    let event = &doc["components"]["schemas"]["StreamedEvent"];
    assert!(event["properties"]["data"]["type"] == "string", "{event}");
    let type_param = doc["paths"]["/v1/events"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "type")
        .unwrap();
    let names = type_param["schema"]["enum"].as_array().unwrap();
    assert!(names.contains(&Value::from("LeadReceived")), "{names:?}");
    assert!(doc["paths"]["/metrics"]["get"].is_object());
}

/// Every `$ref` of `v`, recursively.
fn refs(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                out.push(r.clone());
            }
            o.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The explanation and evaluation records are described, not `object`; the event-time
/// parameters are listed; and every reference of the document names a schema it holds.
#[tokio::test]
async fn openapi_types_the_why_and_lists_event_time() {
    let s = start().await;
    let key = s.key("reader", &[Scope::Read]).await;
    let doc: Value = client()
        .get(s.url("/openapi.json"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let explain = &doc["paths"]["/v1/campaigns/{customer}/{campaign}/explain"]["get"]["responses"]
        ["200"]["content"]["application/json"]["schema"];
    assert_eq!(explain["$ref"], "#/components/schemas/Explanation");
    let schemas = &doc["components"]["schemas"];
    for name in [
        "Explanation",
        "Cause",
        "EvaluationExcerpt",
        "CampaignStatus",
        "EvaluationRecord",
        "RuleRunRecord",
        "RequestedChange",
    ] {
        assert!(schemas[name].is_object(), "{name} missing");
    }
    assert_eq!(
        schemas["EvaluationView"]["properties"]["evaluation"]["$ref"],
        "#/components/schemas/EvaluationRecord"
    );
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r}"));
        assert!(schemas[name].is_object(), "{r} names no schema");
    }
    for path in ["/v1/events", "/v1/events/count"] {
        let names: Vec<&str> = doc["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for want in ["event_from", "event_to"] {
            assert!(names.contains(&want), "{path}: {names:?}");
        }
    }
}
