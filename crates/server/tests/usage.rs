//! Reading usage through the API, on both backends: an account's summary as of a day (active
//! users, license utilisation, feature adoption, trend, top events, users' last activity), the
//! accounts ranked by activity, and the plan → features catalogue it is measured against.

mod common;

use common::{fields, TestApp};
use keepwell_core::Role;
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(a_summary_explains_an_accounts_usage_as_of_a_day, the_plan_features_catalogue_is_checked_whole);

async fn send_batch(app: &TestApp, batch: Value) {
    let secret = common::write_key(app).await;
    let res = app.http.post(app.url("/v1/batch")).basic_auth(&secret, Some("")).json(&batch).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

fn track(user: &str, event: &str, at: &str, n: usize) -> Value {
    json!({"type": "track", "userId": user, "event": event, "timestamp": at, "messageId": format!("{user}-{event}-{at}-{n}")})
}

async fn a_summary_explains_an_accounts_usage_as_of_a_day(app: TestApp) {
    let (_, acme) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"name": "Acme", "external_ids": [{"kind": "segment", "value": "g-acme"}]}),
        )
        .await;
    let acme = acme["id"].as_i64().unwrap();
    let (_, quiet) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Quiet Ltd"})).await;
    let quiet = quiet["id"].as_i64().unwrap();
    let period = json!({"subscription_id": "s1", "plan": "pro", "quantity": 4, "currency": "USD", "amount": "400",
        "interval": "month", "starts_on": "2026-01-01"});
    let (status, body) = app.post(&format!("/api/v1/accounts/{acme}/subscriptions"), &app.admin, period).await;
    assert_eq!(status, 201, "{body}");
    let catalogue = json!({"features": [
        {"plan": "pro", "feature": "reports", "events": ["Report Built", "page:Reports"]},
        {"plan": "pro", "feature": "exports", "events": ["Export Run"]},
        {"plan": "pro", "feature": "alerts", "events": ["Alert Created"]},
        {"plan": "starter", "feature": "reports", "events": ["Report Built"]},
    ]});
    let (status, body) = json_call(&app, Method::PUT, "/api/v1/plan-features", &app.admin, catalogue).await;
    assert_eq!(status, 200, "{body}");

    let mut batch = vec![];
    for user in ["u1", "u2", "u3", "u4"] {
        batch.push(json!({"type": "group", "userId": user, "groupId": "g-acme", "messageId": format!("g-{user}"),
            "timestamp": "2026-01-05T09:00:00Z"}));
    }
    // As of 31 March: u1 today, u2 within the week, u3 within 30 days; u4 only in the 30 days
    // before (4 exports, which therefore do not count as adoption now).
    batch.push(track("u1", "Report Built", "2026-03-31T09:00:00Z", 0));
    batch.push(track("u2", "Report Built", "2026-03-28T09:00:00Z", 0));
    batch.push(track("u3", "Report Built", "2026-03-10T09:00:00Z", 0));
    batch.push(json!({"type": "page", "userId": "u3", "name": "Reports", "timestamp": "2026-03-10T10:00:00Z", "messageId": "p1"}));
    for n in 0..4 {
        batch.push(track("u4", "Export Run", "2026-02-20T09:00:00Z", n));
    }
    batch.push(track("u1", "Report Built", "2026-04-01T09:00:00Z", 0));
    send_batch(&app, json!({"batch": batch})).await;

    let (status, s) = app.get(&format!("/api/v1/accounts/{acme}/usage/summary?as_of=2026-03-31"), &app.admin).await;
    assert_eq!(status, 200, "{s}");
    assert_eq!((s["dau"].as_i64(), s["wau"].as_i64(), s["mau"].as_i64()), (Some(1), Some(2), Some(3)), "{s}");
    // 3 users active in 30 days on 4 seats; 1 of the plan's 3 features used; 4 events against
    // 4 the 30 days before.
    assert_eq!(s["seats"], 4);
    assert_eq!(s["license_utilization"], 75.0);
    assert_eq!(s["feature_adoption"], 33.33);
    assert_eq!(
        s["features"],
        json!([{"feature": "alerts", "used": false}, {"feature": "exports", "used": false}, {"feature": "reports", "used": true}])
    );
    assert_eq!((s["events"].as_i64(), s["previous_events"].as_i64()), (Some(4), Some(4)));
    assert_eq!(s["trend"], 0.0);
    assert_eq!(
        s["top_events"],
        json!([{"event": "Report Built", "count": 3, "users": 3}, {"event": "page:Reports", "count": 1, "users": 1}])
    );
    let days = s["daily_active_users"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[0]["date"], "2026-03-02");
    assert_eq!(days[29], json!({"date": "2026-03-31", "users": 1}));
    assert_eq!(s["users"][0]["user_id"], "u1", "the most recently active first: {s}");
    assert_eq!(s["users"][0]["last_seen"], "2026-04-01T09:00:00Z");

    // Three weeks later: u2 and u1 (twice) in the window, u3's two events before it: +50 %.
    let (_, s) = app.get(&format!("/api/v1/accounts/{acme}/usage/summary?as_of=2026-04-22"), &app.admin).await;
    assert_eq!(
        (s["mau"].as_i64(), s["events"].as_i64(), s["previous_events"].as_i64()),
        (Some(2), Some(3), Some(2)),
        "{s}"
    );
    assert_eq!(s["trend"], 50.0);
    let (_, s) = app.get(&format!("/api/v1/accounts/{quiet}/usage/summary?as_of=2026-03-31"), &app.admin).await;
    assert_eq!(
        (s["mau"].as_i64(), &s["seats"], &s["license_utilization"], &s["trend"]),
        (Some(0), &Value::Null, &Value::Null, &Value::Null)
    );
    let (status, bad) = app.get(&format!("/api/v1/accounts/{acme}/usage/summary?as_of=March"), &app.admin).await;
    assert_eq!((status, fields(&bad)), (422, vec!["as_of".to_string()]), "{bad}");

    let names = |body: &Value| -> Vec<String> {
        body["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect()
    };
    let (status, least) = app.get("/api/v1/usage/accounts?as_of=2026-03-31", &app.admin).await;
    assert_eq!(status, 200, "{least}");
    assert_eq!(names(&least), ["Acme"], "customers only: Quiet Ltd has no subscription");
    let (_, least) = app.get("/api/v1/usage/accounts?as_of=2026-03-31&include=all", &app.admin).await;
    assert_eq!(names(&least), ["Quiet Ltd", "Acme"]);
    let (_, before) = app.get("/api/v1/usage/accounts?as_of=2025-12-31", &app.admin).await;
    assert_eq!(names(&before), Vec::<String>::new(), "Acme was not a customer yet");
    let (_, most) = app.get("/api/v1/usage/accounts?order=most&as_of=2026-03-31&limit=1", &app.admin).await;
    assert_eq!(
        most["data"],
        json!([{"account_id": acme, "name": "Acme", "active_users": 3, "events": 4, "last_seen": "2026-04-01T09:00:00Z"}])
    );
    let (status, bad) = app.get("/api/v1/usage/accounts?order=busiest&days=0&include=some", &app.admin).await;
    assert_eq!(
        (status, fields(&bad)),
        (422, vec!["days".to_string(), "include".to_string(), "order".to_string()]),
        "{bad}"
    );
}

async fn json_call(app: &TestApp, method: Method, path: &str, token: &str, body: Value) -> (u16, Value) {
    common::json(app.call(method, path, token, Some(body)).await).await
}

async fn the_plan_features_catalogue_is_checked_whole(app: TestApp) {
    let good = json!({"features": [{"plan": "pro", "feature": "reports", "events": ["Report Built"]}]});
    let (status, _) = json_call(&app, Method::PUT, "/api/v1/plan-features", &app.admin, good).await;
    assert_eq!(status, 200);
    let bad = json!({"features": [
        {"plan": "pro", "feature": "sso", "events": ["SSO Login"]},
        {"plan": "pro", "feature": "sso", "events": []},
    ]});
    let (status, body) = json_call(&app, Method::PUT, "/api/v1/plan-features", &app.admin, bad).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["features[1].events", "features[1].feature"]);
    let (status, body) =
        json_call(&app, Method::PUT, "/api/v1/plan-features", &app.admin, json!({"features": "all"})).await;
    assert_eq!((status, fields(&body)), (422, vec!["features".to_string()]));
    let csm = app.member_token("csm@team.io", Role::Csm).await;
    let any = json!({"features": []});
    assert_eq!(json_call(&app, Method::PUT, "/api/v1/plan-features", &csm, any).await.0, 403);
    let (status, body) = app.get("/api/v1/plan-features", &csm).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["features"],
        json!([{"plan": "pro", "feature": "reports", "events": ["Report Built"]}]),
        "nothing of a refused catalogue is kept"
    );
}
