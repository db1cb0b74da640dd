//! `/v1/teams` over real HTTP: a team is defined, read back and changed; members are added,
//! changed and removed; members' names reach admin keys only; scopes are enforced; another
//! project's team of the same name is a different team that the default project never sees;
//! every refusal is a problem naming its field and records nothing; `/openapi.json`
//! describes it all. The main flow runs on SQLite and on PostgreSQL.

mod common;

use common::{problem, start, start_on, Server};
use leadorch_api::keys::Scope;
use leadorch_store::Dialect;
use serde_json::{json, Value};

/// The events of a team's stream: (type, actor, trace id).
async fn team_events(s: &Server, stored: &str) -> Vec<(String, String, Option<String>)> {
    s.engine
        .store
        .log
        .read_stream(&format!("team:{stored}"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let meta = r.metadata();
            (r.event_type.clone(), meta.actor, meta.trace_id)
        })
        .collect()
}

/// Every payload of a team's stream, as text.
async fn payloads(s: &Server, stored: &str) -> String {
    s.engine
        .store
        .log
        .read_stream(&format!("team:{stored}"))
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

async fn json_of(r: reqwest::Response, status: u16) -> Value {
    let url = r.url().to_string();
    assert_eq!(r.status(), status, "status of {url}");
    r.json().await.unwrap()
}

fn names(team: &Value) -> Vec<Value> {
    team["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].clone())
        .collect()
}

async fn main_flow(dialect: Dialect) {
    let s = start_on(dialect).await;
    let c = reqwest::Client::new();
    let (admin, admin_id) = s.key_in("default", "ops", &[Scope::Admin], &[]).await;
    let reader = s.key("dashboard", &[Scope::Read]).await;
    let crm = s.key("crm", &[Scope::Capacity]).await;
    let url = |path: &str| s.url(path);

    // Defined: 201 with the team as it now is.
    let r = c
        .put(url("/v1/teams/sales-nl"))
        .bearer_auth(&admin)
        .json(&json!({
            "time_zone": "Europe/Amsterdam",
            "hours": ["mon-fri 09:00-17:00", "sat 10:00-12:00"],
            "holidays": ["2026-12-26", "2026-12-25"],
            "max_open_leads": 40
        }))
        .send()
        .await
        .unwrap();
    let team = json_of(r, 201).await;
    assert_eq!(team["name"], "sales-nl");
    assert_eq!(team["time_zone"], "Europe/Amsterdam");
    assert_eq!(
        team["hours"],
        json!(["mon-fri 09:00-17:00", "sat 10:00-12:00"])
    );
    assert_eq!(team["holidays"], json!(["2026-12-25", "2026-12-26"]));
    assert_eq!(team["max_open_leads"], 40);
    assert_eq!(team["max_open_leads_from"], "team");
    assert_eq!(team["capacity_source"], "pushed");
    assert_eq!(team["members"], json!([]));
    let recorded = team_events(&s, "sales-nl").await;
    assert_eq!(recorded.len(), 5, "{dialect:?}: {recorded:?}");
    for (_, actor, trace) in &recorded {
        assert_eq!(actor, &format!("api-key:{admin_id}"));
        assert!(trace.as_deref().is_some_and(|t| t.len() >= 32), "{trace:?}");
    }

    // The same again: 200, nothing recorded. A change: 200, only it recorded.
    let again = json!({"time_zone": "Europe/Amsterdam", "max_open_leads": 40});
    let r = c
        .put(url("/v1/teams/sales-nl"))
        .bearer_auth(&admin)
        .json(&again)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r, 200).await, team);
    assert_eq!(team_events(&s, "sales-nl").await.len(), 5);
    let r = c
        .put(url("/v1/teams/sales-nl"))
        .bearer_auth(&admin)
        .json(&json!({"capacity_source": "leads"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r, 200).await["capacity_source"], "leads");
    assert_eq!(team_events(&s, "sales-nl").await.len(), 6);

    // Read back with a read key.
    let r = c
        .get(url("/v1/teams/sales-nl"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    let read = json_of(r, 200).await;
    assert_eq!(read["hours"], team["hours"]);
    assert_eq!(read["capacity_source"], "leads");

    // Members: added (201), changed (200, what is left out kept), removed.
    let member = |id: &str, body: Value| {
        c.put(url(&format!("/v1/teams/sales-nl/members/{id}")))
            .bearer_auth(&admin)
            .json(&body)
            .send()
    };
    let team = json_of(
        member(
            "owner-17",
            json!({"name": "Ada Lovelace", "max_open_leads": 12}),
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    assert_eq!(
        team["members"],
        json!([{"id": "owner-17", "name": "Ada Lovelace", "max_open_leads": 12, "added_at": team["members"][0]["added_at"]}])
    );
    let team = json_of(
        member(
            "owner-18",
            json!({"name": "Grace Hopper", "max_open_leads": 8}),
        )
        .await
        .unwrap(),
        201,
    )
    .await;
    assert_eq!(team["members"].as_array().unwrap().len(), 2);
    let team = json_of(
        member("owner-17", json!({"max_open_leads": 10}))
            .await
            .unwrap(),
        200,
    )
    .await;
    assert_eq!(
        team["members"][0]["name"], "Ada Lovelace",
        "the name is kept"
    );
    assert_eq!(team["members"][0]["max_open_leads"], 10);
    // Without a maximum of its own, the team carries its members' sum.
    let r = c
        .put(url("/v1/teams/sales-nl"))
        .bearer_auth(&admin)
        .json(&json!({"max_open_leads": null}))
        .send()
        .await
        .unwrap();
    let team = json_of(r, 200).await;
    assert_eq!(team["max_open_leads"], 18);
    assert_eq!(team["max_open_leads_from"], "members");

    // Names are personal data: a read key gets null, an admin key the names.
    for path in ["/v1/teams/sales-nl", "/v1/teams"] {
        let r = c.get(url(path)).bearer_auth(&reader).send().await.unwrap();
        let v = json_of(r, 200).await;
        let team = if path == "/v1/teams" {
            assert_eq!(v["items"].as_array().unwrap().len(), 1, "{v}");
            v["items"][0].clone()
        } else {
            v
        };
        assert_eq!(names(&team), vec![Value::Null, Value::Null], "{path}");
        assert_eq!(team["members"][0]["id"], "owner-17");
        assert_eq!(team["members"][0]["max_open_leads"], 10);
        let r = c.get(url(path)).bearer_auth(&admin).send().await.unwrap();
        let v = json_of(r, 200).await;
        let team = if path == "/v1/teams" {
            v["items"][0].clone()
        } else {
            v
        };
        assert_eq!(
            names(&team),
            vec![json!("Ada Lovelace"), json!("Grace Hopper")],
            "{path}"
        );
    }
    let stored = payloads(&s, "sales-nl").await;
    assert!(
        !stored.contains("Ada") && !stored.contains("Grace"),
        "{dialect:?}: names are sealed in the log"
    );

    let remove = |id: &str| {
        c.delete(url(&format!("/v1/teams/sales-nl/members/{id}")))
            .bearer_auth(&admin)
            .send()
    };
    let team = json_of(remove("owner-18").await.unwrap(), 200).await;
    assert_eq!(team["members"].as_array().unwrap().len(), 1);
    assert_eq!(team["max_open_leads"], 10);
    let p = problem(remove("owner-18").await.unwrap(), 404).await;
    assert_eq!(p["field"], "member");
    let types: Vec<String> = team_events(&s, "sales-nl")
        .await
        .into_iter()
        .map(|(t, _, _)| t)
        .collect();
    assert_eq!(
        types[6..],
        [
            "MemberAdded",
            "MemberAdded",
            "MemberUpdated",
            "MaxOpenLeadsSet",
            "MemberRemoved"
        ]
    );

    // Scopes: reading needs read, changing needs admin.
    for (key, method, path) in [
        (&crm, "GET", "/v1/teams"),
        (&crm, "GET", "/v1/teams/sales-nl"),
        (&reader, "PUT", "/v1/teams/sales-nl"),
        (&reader, "PUT", "/v1/teams/sales-nl/members/owner-19"),
        (&reader, "DELETE", "/v1/teams/sales-nl/members/owner-17"),
    ] {
        let r = c
            .request(method.parse().unwrap(), url(path))
            .bearer_auth(key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        let p = problem(r, 403).await;
        assert!(
            p["detail"].as_str().unwrap().contains("scope"),
            "{method} {path}: {p}"
        );
    }
    assert_eq!(team_events(&s, "sales-nl").await.len(), 11);

    // Unknown teams: 404 naming the team.
    let r = c
        .get(url("/v1/teams/sales-be"))
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    let p = problem(r, 404).await;
    assert_eq!(p["field"], "team");
    assert!(
        p["detail"].as_str().unwrap().contains("\"sales-be\""),
        "{p}"
    );
    let r = c
        .put(url("/v1/teams/sales-be/members/owner-1"))
        .bearer_auth(&admin)
        .json(&json!({"name": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 404).await["field"], "team");
    let r = c
        .delete(url("/v1/teams/sales-be/members/owner-1"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 404).await["field"], "team");
    assert!(team_events(&s, "sales-be").await.is_empty());

    let Server { db, .. } = s;
    db.cleanup().await;
}

#[tokio::test]
async fn teams_are_defined_read_and_changed_on_sqlite() {
    main_flow(Dialect::Sqlite).await;
}

#[tokio::test]
async fn teams_are_defined_read_and_changed_on_postgres() {
    main_flow(Dialect::Postgres).await;
}

#[tokio::test]
async fn another_project_s_team_is_another_team() {
    let s = start().await;
    let c = reqwest::Client::new();
    let admin = s.key("ops", &[Scope::Admin]).await;
    let (acme_admin, _) = s.key_in("acme", "ops", &[Scope::Admin], &[]).await;
    let (acme_reader, _) = s.key_in("acme", "dashboard", &[Scope::Read], &[]).await;
    let put =
        |key: &str, path: &str, body: Value| c.put(s.url(path)).bearer_auth(key).json(&body).send();
    let r = put(
        &admin,
        "/v1/teams/sales-nl",
        json!({"time_zone": "Europe/Amsterdam", "max_open_leads": 40}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let r = put(
        &admin,
        "/v1/teams/sales-nl/members/owner-17",
        json!({"name": "Ada"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);

    // acme sees none of default's teams.
    let r = c
        .get(s.url("/v1/teams/sales-nl"))
        .bearer_auth(&acme_reader)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 404).await["field"], "team");
    let r = c
        .get(s.url("/v1/teams"))
        .bearer_auth(&acme_reader)
        .send()
        .await
        .unwrap();
    assert_eq!(json_of(r, 200).await["items"], json!([]));
    let r = c
        .delete(s.url("/v1/teams/sales-nl/members/owner-17"))
        .bearer_auth(&acme_admin)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 404).await["field"], "team");

    // Its own sales-nl is a new team (201), stored under its prefix, shown bare.
    let r = put(
        &acme_admin,
        "/v1/teams/sales-nl",
        json!({"time_zone": "America/New_York"}),
    )
    .await
    .unwrap();
    let team = json_of(r, 201).await;
    assert_eq!(team["name"], "sales-nl");
    assert_eq!(team["time_zone"], "America/New_York");
    assert_eq!(team["members"], json!([]));
    let r = put(
        &acme_admin,
        "/v1/teams/sales-nl/members/owner-17",
        json!({"name": "Wile E.", "max_open_leads": 3}),
    )
    .await
    .unwrap();
    let team = json_of(r, 201).await;
    assert_eq!(team["members"][0]["id"], "owner-17");
    assert_eq!(team["members"][0]["name"], "Wile E.");
    assert_eq!(team_events(&s, "acme/sales-nl").await.len(), 3);
    let meta: Vec<String> = s
        .engine
        .store
        .log
        .read_stream("team:acme/sales-nl")
        .await
        .unwrap()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.payload).to_string())
        .collect();
    assert!(
        meta.iter().any(|p| p.contains("member:acme/owner-17")),
        "the member's data subject is acme's own: {meta:?}"
    );

    // Each project lists only its own.
    let r = c
        .get(s.url("/v1/teams"))
        .bearer_auth(&acme_reader)
        .send()
        .await
        .unwrap();
    let v = json_of(r, 200).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["time_zone"], "America/New_York");
    assert_eq!(v["items"][0]["members"][0]["id"], "owner-17");
    assert_eq!(v["items"][0]["members"][0]["name"], Value::Null);
    let r = c
        .get(s.url("/v1/teams"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    let v = json_of(r, 200).await;
    assert_eq!(v["items"].as_array().unwrap().len(), 1);
    assert_eq!(v["items"][0]["name"], "sales-nl");
    assert_eq!(v["items"][0]["time_zone"], "Europe/Amsterdam");
    assert_eq!(v["items"][0]["members"][0]["name"], "Ada");

    // The default project cannot reach acme's team through an encoded slash.
    let r = c
        .get(s.url("/v1/teams/acme%2Fsales-nl"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r, 422).await["field"], "team");
}

#[tokio::test]
async fn refusals_name_their_field_and_record_nothing() {
    let s = start().await;
    let c = reqwest::Client::new();
    let admin = s.key("ops", &[Scope::Admin]).await;
    let put = |path: &str, body: Value| c.put(s.url(path)).bearer_auth(&admin).json(&body).send();
    let r = put(
        "/v1/teams/sales-nl",
        json!({"time_zone": "Europe/Amsterdam"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let r = put("/v1/teams/sales-nl/members/owner-17", json!({}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let before = s.engine.store.log.head().await.unwrap().position;

    for (path, body, field, says) in [
        (
            "/v1/teams/sales-nl",
            json!({"hours": ["mon-fri 09:00-17:00", "sun 25:00-26:00"]}),
            "hours[1]",
            "sun 25:00-26:00",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"hours": []}),
            "hours",
            "must not be empty",
        ),
        (
            "/v1/teams/sales-be",
            json!({"hours": ["mon 09:00-17:00"]}),
            "time_zone",
            "need the team's time zone",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"time_zone": "Mars/Olympus"}),
            "time_zone",
            "unknown time zone",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"time_zone": null}),
            "time_zone",
            "null",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"max_open_leads": -5}),
            "max_open_leads",
            "must not be negative",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"max_open_leads": "many"}),
            "max_open_leads",
            "invalid type",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"capacity_source": "crm"}),
            "capacity_source",
            "pushed, leads, connector:NAME",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"capacity_source": "connector:hub spot"}),
            "capacity_source",
            "not a valid id",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"holidays": ["25/12/2026"]}),
            "holidays[0]",
            "",
        ),
        (
            "/v1/teams/sales-nl",
            json!({"colour": "blue"}),
            "colour",
            "unknown field",
        ),
        ("/v1/teams/sales%20nl", json!({}), "team", "is not an id"),
        (
            "/v1/teams/sales-nl/members/owner-17",
            json!({"max_open_leads": -1}),
            "max_open_leads",
            "must not be negative",
        ),
        (
            "/v1/teams/sales-nl/members/owner-18",
            json!({"name": "  "}),
            "name",
            "must not be empty",
        ),
        (
            "/v1/teams/sales-nl/members/owner-18",
            json!({"name": "Ada", "role": "lead"}),
            "role",
            "unknown field",
        ),
        (
            "/v1/teams/sales-nl/members/owner:18",
            json!({}),
            "member",
            "is not an id",
        ),
    ] {
        let p = problem(put(path, body.clone()).await.unwrap(), 422).await;
        assert_eq!(p["field"], field, "{path} {body} → {p}");
        assert!(
            p["detail"].as_str().unwrap().contains(says),
            "{path} {body} → {p}"
        );
    }
    assert_eq!(
        s.engine.store.log.head().await.unwrap().position,
        before,
        "nothing recorded"
    );
}

#[tokio::test]
async fn the_api_description_lists_the_teams_endpoints() {
    let s = start().await;
    let c = reqwest::Client::new();
    let key = s.key("crm", &[Scope::Capacity]).await;
    let r = c
        .get(s.url("/openapi.json"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let doc = json_of(r, 200).await;
    let paths = &doc["paths"];
    for (path, methods) in [
        ("/v1/teams", &["get"][..]),
        ("/v1/teams/{team}", &["get", "put"][..]),
        ("/v1/teams/{team}/members/{member}", &["put", "delete"][..]),
    ] {
        for m in methods {
            let op = &paths[path][*m];
            assert_eq!(op["tags"], json!(["teams"]), "{m} {path}: {op}");
            assert!(op["responses"]["401"].is_object(), "{m} {path}");
        }
    }
    assert!(doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "teams"));
    let schemas = &doc["components"]["schemas"];
    let name = &schemas["MemberResponse"]["properties"]["name"];
    assert!(
        name["description"].as_str().unwrap().contains("admin"),
        "{name}"
    );
    assert_eq!(schemas["TeamRequest"]["additionalProperties"], false);
    assert_eq!(schemas["MemberRequest"]["additionalProperties"], false);
    assert!(schemas["TeamResponse"]["properties"]["capacity_source"].is_object());
}
