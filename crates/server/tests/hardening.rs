//! What an attacker and a fuzzer found, each as a request that must now get a clear 4xx (or the
//! right answer) while the server stays up — on both backends.

mod common;

use common::{browser, csrf_of, fields, logged_in, page, post, TestApp, PASSWORD};
use keepwell_core::Role;
use serde_json::json;

on_both_backends!(
    hostile_filters_are_refused_and_the_server_stays_up,
    hostile_definitions_are_refused_before_they_are_stored,
    a_token_acts_with_its_members_current_rights,
    the_last_admin_stays_an_admin,
    texts_lists_and_attributes_have_limits,
    nul_and_empty_parameters_are_refused,
    weak_passwords_are_refused_with_the_reason,
    next_stays_on_the_site,
    concurrent_guesses_cannot_outrun_the_login_limit,
    pages_send_security_headers_and_answer_errors_as_pages,
    impossible_event_times_are_replaced_and_counted,
    metrics_labels_come_from_a_closed_set,
);

async fn alive(app: &TestApp) {
    let res = app.http.get(app.url("/healthz")).send().await.expect("the server still answers");
    assert_eq!(res.status(), 200);
}

/// ~1 800 parentheses, 5 000 `or` terms, `not` × 5 000: each once aborted the whole process.
fn hostile_filters() -> Vec<String> {
    vec![
        format!("{}mrr > 1{}", "(".repeat(1_800), ")".repeat(1_800)),
        vec!["mrr > 1"; 5_000].join(" or "),
        format!("{}mrr > 1", "not ".repeat(5_000)),
        format!("{}mrr > 1{}", "(".repeat(65), ")".repeat(65)),
    ]
}

async fn hostile_filters_are_refused_and_the_server_stays_up(app: TestApp) {
    let viewer = app.member_token("vic@team.io", Role::Viewer).await;
    for filter in hostile_filters() {
        let (status, body) = app.post("/api/v1/segments/preview", &viewer, json!({ "filter": filter })).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(fields(&body), ["filter"]);
        let said = body["errors"][0]["message"].as_str().unwrap();
        assert!(said.contains("the limit is 4096") || said.contains("deeper than 64 levels"), "{said}");
        alive(&app).await;
    }
    // From a link, through the segment builder's live count.
    let (c, _) = logged_in(&app, "val@team.io", Role::Viewer).await;
    for filter in hostile_filters() {
        let res = c.get(app.url("/segments/count")).query(&[("filter", filter)]).send().await.unwrap();
        let body: serde_json::Value = res.json().await.unwrap();
        assert!(body["error"].as_str().is_some_and(|e| e.contains("filter: column")), "{body}");
    }
    alive(&app).await;
}

async fn hostile_definitions_are_refused_before_they_are_stored(app: TestApp) {
    let manager = app.member_token("max@team.io", Role::Manager).await;
    let chain = vec!["mrr > 1"; 10_000].join(" or ");
    let (status, body) = app
        .post(
            "/api/v1/lifecycle-rules",
            &manager,
            json!({"key": "huge", "name": "Huge", "stage": "churned", "condition": chain}),
        )
        .await;
    assert_eq!((status, fields(&body)), (422, vec!["condition".to_owned()]), "{body}");
    let mut card = serde_json::to_value(keepwell_core::definitions::default_scorecard()).unwrap();
    card["key"] = json!("deep");
    card["segment"] = json!(null);
    card["onboarding_days"] = json!(30);
    card["measures"][0]["applies_if"] = json!(chain);
    let (status, body) = app.post("/api/v1/scorecards", &manager, card).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["measures[0].applies_if"]);
    let (_, rules) = app.get("/api/v1/lifecycle-rules", &manager).await;
    assert_eq!(rules, json!([]), "nothing was stored");
    let (_, cards) = app.get("/api/v1/scorecards", &manager).await;
    assert_eq!(cards.as_array().unwrap().len(), 1, "only the default scorecard");
    alive(&app).await;
}

async fn a_token_acts_with_its_members_current_rights(app: TestApp) {
    let ann = app.member("ann@team.io", Role::Admin).await;
    let token = app.member_token("ann@team.io", Role::Admin).await;
    let new_admin = |n: u32| json!({"email": format!("new{n}@team.io"), "name": "New", "role": "admin"});
    let (status, _) = app.post("/api/v1/users", &token, new_admin(1)).await;
    assert_eq!(status, 201, "an admin's token makes admins");
    // Demoted to viewer: the token may read, no more.
    let (status, _) = app.patch(&format!("/api/v1/users/{ann}"), &app.admin, json!({"role": "viewer"})).await;
    assert_eq!(status, 200);
    let (status, body) = app.post("/api/v1/users", &token, new_admin(2)).await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = app.get("/api/v1/accounts", &token).await;
    assert_eq!(status, 200);
    // Disabled: the token stops at once, and the answer says which tokens stopped.
    let (status, body) = app.patch(&format!("/api/v1/users/{ann}"), &app.admin, json!({"disabled": true})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["stopped_tokens"][0]["name"], "test", "{body}");
    let (status, _) = app.get("/api/v1/accounts", &token).await;
    assert_eq!(status, 401);
    // The token list says what each token may do now.
    let (c, _) = logged_in(&app, "boss@team.io", Role::Admin).await;
    let (_, html) = page(&c, &app, "/settings/api").await;
    assert!(html.contains("stopped (its member is disabled or gone)"), "{html}");
}

async fn the_last_admin_stays_an_admin(app: TestApp) {
    let admin = app.store.user_by_email("admin@team.io").await.unwrap().unwrap().id;
    // An operator's token (no member of its own) is the only way to try it on oneself.
    let (secret, hash, prefix) = keepwell_server::secrets::new_secret("kw");
    keepwell_server::people::create_api_token(
        &app.store,
        &keepwell_server::cause::Caller::system("cli"),
        "ops",
        Role::Admin,
        (&hash, &prefix),
    )
    .await
    .unwrap();
    for body in [json!({"role": "viewer"}), json!({"disabled": true})] {
        let (status, problem) = app.patch(&format!("/api/v1/users/{admin}"), &secret, body).await;
        assert_eq!(status, 409, "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("last active admin"));
    }
    // With a second admin, the first may go.
    let (status, _) =
        app.post("/api/v1/users", &secret, json!({"email": "b@team.io", "name": "B", "role": "admin"})).await;
    assert_eq!(status, 201);
    let (status, _) = app.patch(&format!("/api/v1/users/{admin}"), &secret, json!({"role": "manager"})).await;
    assert_eq!(status, 200);
}

async fn texts_lists_and_attributes_have_limits(app: TestApp) {
    let big = "x".repeat(300 * 1024);
    let tags: Vec<String> = (0..20_000).map(|i| format!("t{i}")).collect();
    let (status, body) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"name": "Big", "industry": big, "plan": big, "tags": tags, "attributes": {"notes": big}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&body), ["attributes.notes", "industry", "plan", "tags"]);
    let many: serde_json::Map<String, serde_json::Value> = (0..101).map(|i| (format!("a{i}"), json!(i))).collect();
    let (status, body) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Many", "attributes": many})).await;
    assert_eq!((status, fields(&body)), (422, vec!["attributes".to_owned()]), "{body}");
    let (status, body) =
        app.post("/api/v1/contacts", &app.admin, json!({"account_id": 1, "email": "a@b.co", "title": big})).await;
    assert_eq!((status, fields(&body)), (422, vec!["title".to_owned()]), "{body}");
    // A body past 2 MiB is refused before it is read, as a problem document.
    let huge = "x".repeat(3 * 1024 * 1024);
    let res = app.call(reqwest::Method::POST, "/api/v1/accounts", &app.admin, Some(json!({ "name": huge }))).await;
    assert_eq!(res.status(), 413);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let (status, _) = app.get("/api/v1/accounts", &app.admin).await;
    assert_eq!(status, 200);
}

async fn nul_and_empty_parameters_are_refused(app: TestApp) {
    // Once a 500 on PostgreSQL (a NUL in text).
    let (status, body) = app.get("/api/v1/accounts?q=%60%00.", &app.admin).await;
    assert_eq!((status, fields(&body)), (422, vec!["q".to_owned()]), "{body}");
    let (status, _) = app.get("/api/v1/accounts/by-external-id/a%00b", &app.admin).await;
    assert_eq!(status, 404);
    let (status, body) = app.post("/api/v1/accounts", &app.admin, json!({"name": "A\u{0}B"})).await;
    assert_eq!((status, fields(&body)), (422, vec!["name".to_owned()]), "{body}");
    for path in [
        "/api/v1/usage/accounts?as_of=",
        "/api/v1/accounts?stage=",
        "/api/v1/accounts?stage=happy",
        "/api/v1/accounts?limit=",
    ] {
        let (status, body) = app.get(path, &app.admin).await;
        assert_eq!(status, 422, "{path}: {body}");
    }
    let (status, body) = app.get("/api/v1/accounts?cursor=not-a-cursor", &app.admin).await;
    assert_eq!((status, fields(&body)), (422, vec!["cursor".to_owned()]));
}

async fn weak_passwords_are_refused_with_the_reason(app: TestApp) {
    for (password, reason) in [
        (" ".repeat(12), "only spaces"),
        ("\u{0}".repeat(12), "control"),
        ("a".repeat(16), "one character repeated"),
        ("1qaz2wsx3edc".to_owned(), "most common"),
    ] {
        let (status, body) = app
            .post(
                "/api/v1/users",
                &app.admin,
                json!({"email": "w@team.io", "name": "W", "role": "csm", "password": password}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        let said = body["errors"][0]["message"].as_str().unwrap_or_default();
        assert!(said.contains(reason) || body.to_string().contains(reason), "{reason}: {body}");
    }
}

async fn next_stays_on_the_site(app: TestApp) {
    app.member("ann@team.io", Role::Csm).await;
    for next in ["/\t/evil.example", "/\r\nSet-Cookie: x=1", "//evil.example", "/\\evil.example", "/ /evil.example"] {
        let c = browser();
        let (status, html) = page(&c, &app, &format!("/login?next={}", urlencoding::encode(next))).await;
        assert_eq!(status, 200);
        assert!(!html.contains("evil.example"), "the login page carries no foreign next: {next:?}");
        let (status, location, _) = post(
            &c,
            &app,
            "/login",
            &[("_csrf", &csrf_of(&html)), ("email", "ann@team.io"), ("password", PASSWORD), ("next", next)],
        )
        .await;
        assert_eq!((status, location.as_str()), (303, "/accounts"), "{next:?}");
    }
}

async fn concurrent_guesses_cannot_outrun_the_login_limit(app: TestApp) {
    app.member("ann@team.io", Role::Csm).await;
    let c = browser();
    let (_, html) = page(&c, &app, "/login").await;
    let csrf = csrf_of(&html);
    let guesses = (0..100).map(|i| {
        let (c, app, csrf) = (c.clone(), &app, csrf.clone());
        async move {
            let wrong = format!("wrong password {i}");
            post(&c, app, "/login", &[("_csrf", &csrf), ("email", "ann@team.io"), ("password", &wrong)]).await.0
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 10, "{checked} passwords were checked past the limit of 10");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 100 - checked);
    // The right one now waits too, and says how long.
    let res = c
        .post(app.url("/login"))
        .form(&[("_csrf", csrf.as_str()), ("email", "ann@team.io"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 15 * 60);
}

async fn pages_send_security_headers_and_answer_errors_as_pages(app: TestApp) {
    let (c, _) = logged_in(&app, "ann@team.io", Role::Manager).await;
    let res = c.get(app.url("/accounts")).send().await.unwrap();
    let h = res.headers();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    assert_eq!(h["x-frame-options"], "DENY");
    // A bad cursor, a NUL, an account that is not there: translated pages, never 500 or problem+json.
    for (path, want) in [("/accounts?cursor=garbage", 422), ("/accounts?q=%00", 400), ("/accounts/999999", 404)] {
        let res = c.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status().as_u16(), want, "{path}");
        assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"), "{path}");
    }
}

async fn impossible_event_times_are_replaced_and_counted(app: TestApp) {
    let key = common::write_key(&app).await;
    let body = json!({"batch": [
        {"type": "track", "userId": "u1", "event": "Ran", "timestamp": "-7973-01-01T00:00:00", "messageId": "old"},
        {"type": "track", "userId": "u1", "event": "Ran", "timestamp": "+12025-01-01T00:00:00", "messageId": "new"},
    ]});
    let before = chrono::Utc::now();
    let res = app.http.post(app.url("/v1/batch")).basic_auth(&key, Some("")).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200, "a batch is never refused for its times: Segment's libraries do not resend");
    let events =
        app.store.events(&keepwell_store::usage::EventFilter { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(events.data.len(), 2);
    for e in &events.data {
        assert!(e.timestamp >= before - chrono::Duration::seconds(5), "{:?}", e.timestamp);
        assert!(e.original_timestamp.is_some(), "the client's own time is kept");
    }
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("keepwell_ingest_impossible_timestamps_total"), "{metrics}");
}

async fn metrics_labels_come_from_a_closed_set(app: TestApp) {
    for i in 0..50 {
        let method = reqwest::Method::from_bytes(format!("MADEUP{i}").as_bytes()).unwrap();
        let _ = app.http.request(method, app.url("/healthz")).send().await.unwrap();
    }
    let metrics = app.http.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("MADEUP"), "a made-up method is no label");
    assert!(metrics.contains("method=\"other\""));
}
