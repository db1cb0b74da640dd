//! The HubSpot fake over real HTTP: owners paged by `paging.next.after` (archived apart),
//! search with HubSpot's filters, `total` and paging to the end (and its 10,000 cap), updates,
//! HubSpot's error shapes for bad requests and refused tokens, and the search rate limit's
//! `429` with its body and headers.

use leadorch_fakes::{FakeHubSpot, FakeOwner, HubSpotTokenState};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

async fn get(fake: &FakeHubSpot, path: &str) -> (StatusCode, Value) {
    let r = Client::new()
        .get(format!("{}{path}", fake.base_url()))
        .bearer_auth(fake.token())
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

async fn search(fake: &FakeHubSpot, object: &str, body: &Value) -> (StatusCode, Value) {
    let r = Client::new()
        .post(format!(
            "{}/crm/v3/objects/{object}/search",
            fake.base_url()
        ))
        .bearer_auth(fake.token())
        .json(body)
        .send()
        .await
        .unwrap();
    (r.status(), r.json().await.unwrap())
}

fn open_of(owner: &str, limit: u32, after: Option<&str>) -> Value {
    let mut body = json!({
        "filterGroups": [{"filters": [
            {"propertyName": "hubspot_owner_id", "operator": "EQ", "value": owner},
            {"propertyName": "hs_lead_status", "operator": "IN", "values": ["NEW", "OPEN"]},
        ]}],
        "properties": ["hubspot_owner_id", "hs_lead_status"],
        "limit": limit,
    });
    if let Some(after) = after {
        body["after"] = json!(after);
    }
    body
}

#[tokio::test]
async fn owners_are_paged_to_the_end_and_archived_ones_apart() {
    let fake = FakeHubSpot::start().await;
    for n in 0..7 {
        fake.put_owner(FakeOwner::new(
            &format!("{}", 10 + n),
            &[("178588", "Sales NL")],
        ));
    }
    fake.set_owner_archived("12", true);
    let mut ids = Vec::new();
    let mut path = "/crm/v3/owners?limit=4".to_string();
    loop {
        let (status, body) = get(&fake, &path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for o in body["results"].as_array().unwrap() {
            assert_eq!(o["archived"], false);
            assert_eq!(
                o["teams"][0],
                json!({"id": "178588", "name": "Sales NL", "primary": true})
            );
            assert!(o["userId"].is_number() && o["email"].is_string());
            ids.push(o["id"].as_str().unwrap().to_string());
        }
        match body.pointer("/paging/next/after").and_then(Value::as_str) {
            Some(after) => path = format!("/crm/v3/owners?limit=4&after={after}"),
            None => break,
        }
    }
    assert_eq!(ids, ["10", "11", "13", "14", "15", "16"]);
    let (_, archived) = get(&fake, "/crm/v3/owners?archived=true").await;
    assert_eq!(archived["results"][0]["id"], "12");
    assert_eq!(archived["results"][0]["userId"], Value::Null);
    assert_eq!(fake.counts().owner_pages, 3);

    let (status, body) = get(&fake, "/crm/v3/owners?limit=501").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["category"], "VALIDATION_ERROR");
    assert_eq!(body["status"], "error");
    assert!(body["correlationId"].is_string() && body["message"].is_string());
}

#[tokio::test]
async fn search_counts_with_total_and_pages_to_the_end() {
    let fake = FakeHubSpot::start().await;
    fake.set_search_rate(None);
    fake.add_contacts(25, "11", "NEW");
    fake.add_contacts(5, "11", "OPEN");
    fake.add_contacts(4, "11", "CONNECTED");
    fake.add_contacts(3, "12", "NEW");
    let (status, one) = search(&fake, "contacts", &open_of("11", 1, None)).await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(one["total"], 30);
    assert_eq!(one["results"].as_array().unwrap().len(), 1);
    assert_eq!(one["results"][0]["properties"]["hubspot_owner_id"], "11");
    assert_eq!(one.pointer("/paging/next/after"), Some(&json!("1")));

    // Every page, by paging.next.after, adds up to total.
    let mut seen = 0;
    let mut after: Option<String> = None;
    loop {
        let (_, page) = search(&fake, "contacts", &open_of("11", 7, after.as_deref())).await;
        seen += page["results"].as_array().unwrap().len();
        match page.pointer("/paging/next/after").and_then(Value::as_str) {
            Some(a) => after = Some(a.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, 30);

    // A lead qualified through HubSpot's own update endpoint no longer counts.
    let id = fake.contacts_of("11", "NEW")[0];
    let r = Client::new()
        .patch(format!("{}/crm/v3/objects/contacts/{id}", fake.base_url()))
        .bearer_auth(fake.token())
        .json(&json!({"properties": {"hs_lead_status": "CONNECTED"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let (_, one) = search(&fake, "contacts", &open_of("11", 1, None)).await;
    assert_eq!(one["total"], 29);

    for (body, wanted) in [
        (json!({"limit": 201}), "limit"),
        (json!({"limit": 100, "after": "9950"}), "10000"),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "x", "operator": "LIKE", "value": "a"}]}]}),
            "LIKE",
        ),
        (
            json!({"filterGroups": [{"filters": [{"propertyName": "x", "operator": "IN", "value": "a"}]}]}),
            "values",
        ),
        (json!({"filters": []}), "filters"),
    ] {
        let (status, err) = search(&fake, "contacts", &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(err["category"], "VALIDATION_ERROR");
        assert!(err["message"].as_str().unwrap().contains(wanted), "{err}");
    }
}

#[tokio::test]
async fn refused_tokens_and_the_search_rate_have_hubspot_s_shapes() {
    let fake = FakeHubSpot::start().await;
    for (state, status, category) in [
        (
            HubSpotTokenState::Expired,
            StatusCode::UNAUTHORIZED,
            "EXPIRED_AUTHENTICATION",
        ),
        (
            HubSpotTokenState::Revoked,
            StatusCode::UNAUTHORIZED,
            "INVALID_AUTHENTICATION",
        ),
        (
            HubSpotTokenState::MissingScopes,
            StatusCode::FORBIDDEN,
            "MISSING_SCOPES",
        ),
    ] {
        fake.set_token_state(state);
        let (got, body) = get(&fake, "/crm/v3/owners").await;
        assert_eq!((got, body["category"].as_str()), (status, Some(category)));
    }
    let old = fake.token();
    let new = fake.rotate_token();
    assert_ne!(old, new);
    let (status, _) = get(&fake, "/crm/v3/owners").await;
    assert_eq!(status, StatusCode::OK);

    // Searches at once: four fit HubSpot's second (a burst of 4), then 429.
    let mut statuses = Vec::new();
    let mut refused = None;
    for _ in 0..8 {
        let r = Client::new()
            .post(format!(
                "{}/crm/v3/objects/contacts/search",
                fake.base_url()
            ))
            .bearer_auth(&new)
            .json(&open_of("11", 1, None))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        if r.status() == StatusCode::TOO_MANY_REQUESTS && refused.is_none() {
            refused = Some(r);
        }
    }
    assert_eq!(statuses[..4], [200, 200, 200, 200]);
    let r = refused.unwrap_or_else(|| panic!("never refused: {statuses:?}"));
    assert_eq!(
        r.headers()["x-hubspot-ratelimit-interval-milliseconds"],
        "1000"
    );
    assert_eq!(r.headers()["x-hubspot-ratelimit-remaining"], "0");
    assert!(r.headers().get("retry-after").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errorType"], "RATE_LIMIT");
    assert_eq!(body["policyName"], "SECONDLY");
    assert_eq!(body["status"], "error");
    // The searches after the first refusal came while told to wait (a second).
    let counts = fake.counts();
    assert!(counts.rate_limited >= 1, "{counts:?}");
    assert!(counts.while_told_to_wait >= 1, "{counts:?}");
    fake.set_retry_after(Some(7));
    fake.set_search_rate(Some(1));
    let mut with_header = None;
    for _ in 0..3 {
        let r = Client::new()
            .post(format!(
                "{}/crm/v3/objects/contacts/search",
                fake.base_url()
            ))
            .bearer_auth(&new)
            .json(&open_of("11", 1, None))
            .send()
            .await
            .unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            with_header = r.headers().get("retry-after").cloned();
        }
    }
    assert_eq!(with_header.unwrap(), "7");
}
