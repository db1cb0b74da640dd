//! The authorisation matrix over real HTTP: every operation `/openapi.json` describes, called
//! with no key and with a key of each scope. Every one needs a key; exactly one scope (or
//! `admin`, which holds them all) lets a caller past it, or any key for a key's own business
//! (`/readyz`, its progress tokens); every other key is refused with `403`
//! naming that scope — before the body is read: the requests here send a body no endpoint
//! accepts. The scope of each operation is pinned in [`NEEDS`], so a route that is added,
//! removed or given another scope fails here until the list says so.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::start;
use leadorch_api::keys::Scope;

/// What each operation needs, `METHOD path scope`, one per line (`any`: any key; `none`: no key).
const NEEDS: &str = "
DELETE /v1/audit/verify read
DELETE /v1/google/accounts/{account} admin
DELETE /v1/keys/{key_id} admin
DELETE /v1/subjects/{subject_id} admin
DELETE /v1/teams/{team}/members/{member} admin
DELETE /v1/webhooks/{endpoint_id} admin
GET /healthz none
GET /metrics read
GET /readyz any
GET /v1/access-log admin
GET /v1/audit/verify read
GET /v1/campaigns read
GET /v1/campaigns/{customer}/{campaign} read
GET /v1/campaigns/{customer}/{campaign}/explain read
GET /v1/capacity/sources read
GET /v1/evaluations read
GET /v1/events read
GET /v1/events/count read
GET /v1/events/stream read
GET /v1/events/{position} read
GET /v1/google/accounts admin
GET /v1/keys admin
GET /v1/leads/{id} read
GET /v1/progress/{token} any
GET /v1/replay read
GET /v1/rules read
GET /v1/rules/{id} read
GET /v1/rules/{id}/diff read
GET /v1/rules/{id}/history read
GET /v1/subjects/{subject_id}/export admin
GET /v1/teams read
GET /v1/teams/{team} read
GET /v1/teams/{team}/capacity read
GET /v1/webhooks admin
GET /v1/webhooks/{endpoint_id} admin
GET /v1/webhooks/{endpoint_id}/deliveries admin
POST /v1/audit/verify read
POST /v1/capacity capacity
POST /v1/google/accounts/{account}/consent admin
POST /v1/google/accounts/{account}/revoke admin
POST /v1/keys admin
POST /v1/leads ingest
POST /v1/leads/{id}/status ingest
POST /v1/rules/check read
POST /v1/rules/test read
POST /v1/rules/{id}/backtest read
POST /v1/rules/{id}/disable rules
POST /v1/rules/{id}/dry-run read
POST /v1/rules/{id}/enable rules
POST /v1/rules/{id}/rollback rules
POST /v1/subjects/lookup admin
POST /v1/subjects/{subject_id}/consent/withdraw ingest
POST /v1/webhooks admin
POST /v1/webhooks/{endpoint_id}/enable admin
POST /v1/webhooks/{endpoint_id}/rotate-secret admin
PUT /v1/rules/{id} rules
PUT /v1/teams/{team} admin
PUT /v1/teams/{team}/members/{member} admin
";

const SCOPES: [Scope; 5] = [
    Scope::Ingest,
    Scope::Capacity,
    Scope::Read,
    Scope::Rules,
    Scope::Admin,
];

/// Every documented operation, as `(METHOD, path template)`.
fn operations() -> Vec<(String, String)> {
    let doc = serde_json::to_value(leadorch_api::openapi()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "put", "post", "delete", "patch"] {
            if item.get(method).is_some() {
                ops.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    ops.sort();
    ops
}

/// The path with every `{parameter}` set to `1` (a valid id, name and position alike).
fn concrete(template: &str) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        out.push('1');
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn every_operation_needs_exactly_its_scope_checked_before_its_body() {
    let s = start().await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut found = BTreeMap::new();
    let mut wrong = Vec::new();
    let mut n = 0;
    for (method, template) in operations() {
        let url = s.url(&concrete(&template));
        let what = format!("{method} {template}");
        let send = |key: Option<String>| {
            let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
            // A body no endpoint accepts: refused by a key without the scope before it is read.
            let mut r = c
                .request(method, &url)
                .header("content-type", "application/json")
                .body("[not json");
            if let Some(key) = key {
                r = r.bearer_auth(key);
            }
            r.send()
        };
        let none = send(None).await.unwrap();
        if template == "/healthz" {
            // The one endpoint open to all (a load balancer's probe): says only "ok".
            assert_eq!(none.status(), 200, "{what}");
            found.insert(what, "none".to_string());
            continue;
        }
        if none.status() != 401 {
            wrong.push(format!("{what}: {} without a key", none.status()));
        }
        let mut passed = Vec::new();
        let mut refusals = Vec::new();
        for scope in SCOPES {
            // A key per request: no rate limit shared between them.
            n += 1;
            let key = s.key(&format!("k{n}"), &[scope]).await;
            let r = send(Some(key)).await.unwrap();
            match r.status().as_u16() {
                401 => wrong.push(format!("{what}: 401 for a {scope} key")),
                403 => {
                    let p: serde_json::Value = r.json().await.unwrap();
                    refusals.push((scope, p["detail"].as_str().unwrap_or("").to_string()));
                }
                _ => passed.push(scope),
            }
        }
        let needs = match passed.as_slice() {
            [Scope::Admin] => Scope::Admin.to_string(),
            [one, Scope::Admin] => one.to_string(),
            // The key's own business (`/readyz`, its progress tokens).
            all if all.len() == SCOPES.len() => "any".to_string(),
            other => {
                wrong.push(format!("{what}: let in {other:?}"));
                continue;
            }
        };
        for (scope, detail) in refusals {
            if !detail.contains(&format!("lacks the {needs} scope")) {
                wrong.push(format!("{what}: the {scope} key's refusal: {detail}"));
            }
        }
        found.insert(what, needs);
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let expected: BTreeMap<String, String> = NEEDS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (op, scope) = l.rsplit_once(' ').unwrap();
            (op.to_string(), scope.to_string())
        })
        .collect();
    let table: String = found
        .iter()
        .map(|(op, scope)| format!("{op} {scope}\n"))
        .collect();
    assert_eq!(
        found, expected,
        "the operations and their scopes (NEEDS, as served):\n{table}"
    );
    assert!(found.len() >= 50, "only {} operations", found.len());
}
