//! The REST API, driven over HTTP on both backends.

mod common;

use common::{fields, TestApp};
use keepwell_core::Role;
use serde_json::json;

on_both_backends!(
    the_api_needs_a_valid_token,
    accounts_round_trip,
    bad_input_names_every_field_and_writes_nothing,
    duplicate_external_id_is_a_conflict_naming_the_holder,
    lists_filter_sort_and_page_with_cursors,
    roles_are_enforced,
    users_are_managed_by_admins,
    contacts_round_trip,
    every_change_is_audited,
    probes_and_metrics,
);

async fn the_api_needs_a_valid_token(app: TestApp) {
    let res = app.http.get(app.url("/api/v1/accounts")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let (status, body) = app.get("/api/v1/accounts", "kw_not-a-token").await;
    assert_eq!(status, 401);
    assert_eq!(body["status"], 401);
    assert!(body["detail"].as_str().unwrap().contains("Bearer"));
    let (status, _) = app.get("/api/v1/nope", &app.admin).await;
    assert_eq!(status, 404);
}

async fn accounts_round_trip(app: TestApp) {
    let (status, a) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"external_id": "0015g00000ABC", "name": "Acme GmbH", "domain": "https://www.acme.de", "industry": "Software",
                   "employees": 120, "country": "de", "plan": "Growth", "lifecycle_stage": "adoption", "owner_email": "admin@team.io",
                   "tags": ["Enterprise", "beta"], "external_ids": [{"kind": "stripe", "value": "cus_123"}],
                   "attributes": {"seats": 25, "renewal": "2027-01-31", "sso": true, "region": "EMEA"}}),
        )
        .await;
    assert_eq!(status, 201, "{a}");
    let id = a["id"].as_i64().unwrap();
    assert_eq!(a["domain"], "acme.de");
    assert_eq!(a["country"], "DE");
    assert_eq!(a["owner"]["email"], "admin@team.io");
    assert_eq!(a["tags"], json!(["beta", "enterprise"]));
    assert_eq!(
        a["external_ids"],
        json!([{"kind": "crm", "value": "0015g00000ABC"}, {"kind": "stripe", "value": "cus_123"}])
    );
    assert_eq!(a["attributes"]["seats"], json!({"type": "number", "value": "25"}));
    assert_eq!(a["attributes"]["renewal"], json!({"type": "date", "value": "2027-01-31"}));
    assert_eq!(a["attributes"]["sso"], json!({"type": "bool", "value": true}));

    let (status, got) = app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await;
    assert_eq!((status, &got), (200, &a));
    for value in ["0015g00000ABC", "cus_123"] {
        let (status, found) = app.get(&format!("/api/v1/accounts/by-external-id/{value}"), &app.admin).await;
        assert_eq!((status, found["id"].as_i64()), (200, Some(id)));
    }
    let (status, _) = app.get("/api/v1/accounts/by-external-id/unknown", &app.admin).await;
    assert_eq!(status, 404);

    let (status, p) = app
        .patch(
            &format!("/api/v1/accounts/{id}"),
            &app.admin,
            json!({"plan": null, "attributes": {"sso": null, "seats": 30}, "name": "Acme SE"}),
        )
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["name"], "Acme SE");
    assert_eq!(p["plan"], json!(null));
    assert_eq!(p["domain"], "acme.de", "untouched fields stay");
    assert_eq!(
        p["attributes"],
        json!({"region": {"type": "text", "value": "EMEA"}, "renewal": {"type": "date", "value": "2027-01-31"}, "seats": {"type": "number", "value": "30"}})
    );

    assert_eq!(app.delete(&format!("/api/v1/accounts/{id}"), &app.admin).await, 204);
    let (status, _) = app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await;
    assert_eq!(status, 404);
    assert_eq!(app.delete(&format!("/api/v1/accounts/{id}"), &app.admin).await, 404);
}

async fn bad_input_names_every_field_and_writes_nothing(app: TestApp) {
    let (status, p) = app
        .post("/api/v1/accounts", &app.admin, json!({"domain": "not a domain", "employees": "many", "country": "Germany", "lifecycle_stage": "happy", "owner_email": "ghost@team.io", "colour": "red"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(p["status"].as_u64(), Some(422));
    assert_eq!(
        fields(&p),
        ["colour", "country", "domain", "employees", "lifecycle_stage", "name"],
        "unknown fields and bad values are named in one answer"
    );
    let (status, p) = app.post("/api/v1/accounts", &app.admin, json!({"name": ["x"], "tags": 5})).await;
    assert_eq!((status, fields(&p)), (422, vec!["name".to_string(), "tags".into()]), "a field is named once");
    let (status, p) = app
        .post("/api/v1/accounts", &app.admin, json!({"domain": "not a domain", "employees": "many", "country": "Germany", "lifecycle_stage": "happy", "owner_email": "bob"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&p), ["country", "domain", "employees", "lifecycle_stage", "name", "owner_email"]);
    let (status, p) =
        app.post("/api/v1/accounts", &app.admin, json!({"name": "X", "owner_email": "ghost@team.io"})).await;
    assert_eq!((status, fields(&p)), (422, vec!["owner_email".to_string()]));
    let res = app
        .http
        .post(app.url("/api/v1/accounts"))
        .bearer_auth(&app.admin)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let text = res.text().await.unwrap();
    assert!(text.contains("not valid JSON"), "{text}");
    let (status, p) = app.get("/api/v1/accounts?limit=0&sort=colour&owner=bob", &app.admin).await;
    assert_eq!((status, fields(&p)), (422, vec!["limit".to_string(), "owner".into(), "sort".into()]));
    let (_, list) = app.get("/api/v1/accounts", &app.admin).await;
    assert_eq!(list["data"], json!([]), "nothing was written");
}

async fn duplicate_external_id_is_a_conflict_naming_the_holder(app: TestApp) {
    let (_, acme) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "external_id": "c-1"})).await;
    let (status, p) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Other", "external_id": "c-1"})).await;
    assert_eq!(status, 409);
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("Acme") && detail.contains(&acme["id"].to_string()), "{detail}");
    // The same value under two kinds makes a lookup by that value ambiguous: named, not guessed.
    app.post(
        "/api/v1/accounts",
        &app.admin,
        json!({"name": "Beta", "external_ids": [{"kind": "segment", "value": "c-1"}]}),
    )
    .await;
    let (status, p) = app.get("/api/v1/accounts/by-external-id/c-1", &app.admin).await;
    assert_eq!(status, 409);
    let detail = p["detail"].as_str().unwrap();
    assert!(detail.contains("Acme") && detail.contains("Beta"), "{detail}");
}

async fn lists_filter_sort_and_page_with_cursors(app: TestApp) {
    let ann = app.member("ann@team.io", Role::Csm).await;
    for (i, (name, country)) in
        [("Delta", "US"), ("alpha", "DE"), ("Charlie", "DE"), ("bravo", "FR"), ("Echo", "DE")].iter().enumerate()
    {
        let owner = if i % 2 == 0 { json!(ann) } else { json!(null) };
        let (status, _) = app
            .post("/api/v1/accounts", &app.admin, json!({"name": name, "country": country, "employees": (i + 1) * 10, "owner_id": owner, "tags": if i < 2 { vec!["vip"] } else { vec![] }}))
            .await;
        assert_eq!(status, 201);
    }
    let names = |v: &serde_json::Value| {
        v["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let (_, p1) = app.get("/api/v1/accounts?limit=2", &app.admin).await;
    assert_eq!(names(&p1), ["alpha", "bravo"]);
    let (_, p2) =
        app.get(&format!("/api/v1/accounts?limit=2&cursor={}", p1["next_cursor"].as_str().unwrap()), &app.admin).await;
    assert_eq!(names(&p2), ["Charlie", "Delta"]);
    let (_, p3) =
        app.get(&format!("/api/v1/accounts?limit=2&cursor={}", p2["next_cursor"].as_str().unwrap()), &app.admin).await;
    assert_eq!(names(&p3), ["Echo"]);
    assert_eq!(p3["next_cursor"], json!(null));
    let (_, by_size) = app.get("/api/v1/accounts?sort=-employees&limit=2", &app.admin).await;
    assert_eq!(names(&by_size), ["Echo", "bravo"]);
    let (_, de) = app.get("/api/v1/accounts?country=DE&q=ha", &app.admin).await;
    assert_eq!(names(&de), ["alpha", "Charlie"]);
    let (_, mine) = app.get(&format!("/api/v1/accounts?owner={ann}"), &app.admin).await;
    assert_eq!(names(&mine), ["Charlie", "Delta", "Echo"]);
    let (_, unowned) = app.get("/api/v1/accounts?owner=none&tag=VIP", &app.admin).await;
    assert_eq!(names(&unowned), ["alpha"]);
}

async fn roles_are_enforced(app: TestApp) {
    let viewer = app.member_token("vic@team.io", Role::Viewer).await;
    let csm = app.member_token("cam@team.io", Role::Csm).await;
    let other = app.member("oli@team.io", Role::Csm).await;
    let (status, _) = app.post("/api/v1/accounts", &viewer, json!({"name": "V"})).await;
    assert_eq!(status, 403);
    let (status, _) = app.get("/api/v1/accounts", &viewer).await;
    assert_eq!(status, 200);
    // A CSM's new account is theirs; they cannot create one for someone else.
    let (status, mine) = app.post("/api/v1/accounts", &csm, json!({"name": "Mine"})).await;
    assert_eq!((status, mine["owner"]["email"].as_str()), (201, Some("cam@team.io")));
    let (status, _) = app.post("/api/v1/accounts", &csm, json!({"name": "Theirs", "owner_id": other})).await;
    assert_eq!(status, 403);
    let (_, theirs) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Theirs", "owner_id": other})).await;
    let (status, _) = app.patch(&format!("/api/v1/accounts/{}", theirs["id"]), &csm, json!({"name": "Taken"})).await;
    assert_eq!(status, 403);
    let (status, _) = app.patch(&format!("/api/v1/accounts/{}", mine["id"]), &csm, json!({"plan": "Pro"})).await;
    assert_eq!(status, 200);
    let (status, _) = app.patch(&format!("/api/v1/accounts/{}", mine["id"]), &csm, json!({"owner_id": other})).await;
    assert_eq!(status, 403, "a CSM cannot hand an account over");
    let (status, _) =
        app.post("/api/v1/contacts", &csm, json!({"account_id": theirs["id"], "email": "x@theirs.com"})).await;
    assert_eq!(status, 403);
    let (status, _) = app.get("/api/v1/users", &csm).await;
    assert_eq!(status, 403);
    let manager = app.member_token("meg@team.io", Role::Manager).await;
    let (status, _) =
        app.patch(&format!("/api/v1/accounts/{}", theirs["id"]), &manager, json!({"owner_id": null})).await;
    assert_eq!(status, 200);
    let (status, _) = app.get("/api/v1/users", &manager).await;
    assert_eq!(status, 403);
}

async fn users_are_managed_by_admins(app: TestApp) {
    let (status, u) =
        app.post("/api/v1/users", &app.admin, json!({"email": "New@Team.io", "name": "New", "role": "csm"})).await;
    assert_eq!(status, 201, "{u}");
    assert_eq!(u["email"], "new@team.io");
    assert!(u["password"].as_str().unwrap().len() >= 12);
    let (status, p) =
        app.post("/api/v1/users", &app.admin, json!({"email": "new@team.io", "name": "Again", "role": "csm"})).await;
    assert_eq!((status, fields(&p)), (409, vec!["email".to_string()]));
    let (status, p) = app
        .post("/api/v1/users", &app.admin, json!({"email": "x", "name": "", "role": "boss", "password": "short"}))
        .await;
    assert_eq!((status, fields(&p)), (422, vec!["email".to_string(), "name".into(), "password".into(), "role".into()]));
    let (status, v) = app
        .patch(&format!("/api/v1/users/{}", u["id"]), &app.admin, json!({"role": "manager", "disabled": true}))
        .await;
    assert_eq!((status, v["role"].as_str(), v["disabled"].as_bool()), (200, Some("manager"), Some(true)));
    let (_, list) = app.get("/api/v1/users", &app.admin).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
}

async fn contacts_round_trip(app: TestApp) {
    let (_, acme) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"name": "Acme", "external_ids": [{"kind": "segment", "value": "grp_1"}]}),
        )
        .await;
    let (status, c) = app
        .post("/api/v1/contacts", &app.admin, json!({"account_external_id": "grp_1", "email": "Ann@Acme.com", "name": "Ann", "role": "decision maker", "locale": "de-DE", "external_user_id": "u-1"}))
        .await;
    assert_eq!(status, 201, "{c}");
    assert_eq!(
        (c["account_id"].clone(), c["role"].as_str(), c["email"].as_str()),
        (acme["id"].clone(), Some("decision_maker"), Some("ann@acme.com"))
    );
    let (status, p) =
        app.post("/api/v1/contacts", &app.admin, json!({"account_id": acme["id"], "email": "ann@acme.com"})).await;
    assert_eq!((status, fields(&p)), (409, vec!["email".to_string()]));
    let (status, p) = app
        .post(
            "/api/v1/contacts",
            &app.admin,
            json!({"account_external_id": "nope", "email": "b@acme.com", "role": "boss"}),
        )
        .await;
    assert_eq!((status, fields(&p)), (422, vec!["role".to_string()]));
    let (status, p) =
        app.post("/api/v1/contacts", &app.admin, json!({"account_external_id": "nope", "email": "b@acme.com"})).await;
    assert_eq!((status, fields(&p)), (422, vec!["account_external_id".to_string()]));
    let (_, list) = app.get(&format!("/api/v1/accounts/{}/contacts", acme["id"]), &app.admin).await;
    assert_eq!(list["data"][0]["external_user_ids"], json!(["u-1"]));
    let (status, c2) = app.patch(&format!("/api/v1/contacts/{}", c["id"]), &app.admin, json!({"title": "CTO"})).await;
    assert_eq!((status, c2["title"].as_str(), c2["name"].as_str()), (200, Some("CTO"), Some("Ann")));
    assert_eq!(app.delete(&format!("/api/v1/contacts/{}", c["id"]), &app.admin).await, 204);
    let (_, list) = app.get("/api/v1/contacts", &app.admin).await;
    assert_eq!(list["data"], json!([]));
}

async fn every_change_is_audited(app: TestApp) {
    let (_, a) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme"})).await;
    app.patch(&format!("/api/v1/accounts/{}", a["id"]), &app.admin, json!({"name": "Acme 2"})).await;
    let (status, log) = app.get(&format!("/api/v1/audit?entity=account&entity_id={}", a["id"]), &app.admin).await;
    assert_eq!(status, 200);
    let e = &log["data"][0];
    assert_eq!((e["action"].as_str(), e["actor"].as_str()), (Some("account.update"), Some("token:test")));
    assert_eq!((e["before"]["name"].as_str(), e["after"]["name"].as_str()), (Some("Acme"), Some("Acme 2")));
    assert_eq!(log["data"][1]["action"], "account.create");
}

async fn probes_and_metrics(app: TestApp) {
    for (path, want) in [("/healthz", "ok"), ("/readyz", "ready")] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), want);
    }
    app.get("/api/v1/accounts", &app.admin).await;
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("keepwell_http_requests_total"), "{metrics}");
    assert!(metrics.contains("route=\"/api/v1/accounts\""), "{metrics}");
}

#[tokio::test]
async fn openapi_document_matches_the_snapshot() {
    let app = TestApp::spawn(keepwell_store::Backend::Sqlite).await;
    let res = app.http.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    for path in [
        "/api/v1/accounts",
        "/api/v1/accounts/{id}",
        "/api/v1/accounts/by-external-id/{external_id}",
        "/api/v1/contacts",
        "/api/v1/users",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    insta::assert_json_snapshot!("openapi", doc);
}
