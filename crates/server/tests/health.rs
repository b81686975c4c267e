//! Health, segments, lifecycle rules and backtests through the API, on both backends: a score
//! explained measure by measure whose contributions add up to it, sentiment and overrides,
//! segments with a live count, members and history, stage rules, scorecards per segment, and a
//! backtest that tells churned accounts apart.

mod common;

use chrono::{Days, Utc};
use common::{fields, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(
    a_score_is_explained_and_follows_sentiment_and_overrides,
    segments_rules_and_scorecards_work_by_key,
    a_backtest_tells_churned_accounts_apart
);

async fn account(app: &TestApp, body: Value) -> i64 {
    let (status, a) = app.post("/api/v1/accounts", &app.admin, body).await;
    assert_eq!(status, 201, "{a}");
    a["id"].as_i64().unwrap()
}

async fn subscribe(app: &TestApp, id: i64, sub: &str, seats: i64, amount: &str, from: &str, to: Option<&str>) {
    let mut period = json!({"subscription_id": sub, "plan": "pro", "quantity": seats, "currency": "USD", "amount": amount,
        "interval": "month", "starts_on": from});
    if let Some(to) = to {
        period["ends_on"] = json!(to);
    }
    let (status, body) = app.post(&format!("/api/v1/accounts/{id}/subscriptions"), &app.admin, period).await;
    assert_eq!(status, 201, "{body}");
}

fn group(user: &str, group: &str) -> Value {
    json!({"type": "group", "userId": user, "groupId": group, "messageId": format!("g-{user}"), "timestamp": "2026-01-05T09:00:00Z"})
}

fn track(user: &str, event: &str, at: &str) -> Value {
    json!({"type": "track", "userId": user, "event": event, "timestamp": at, "messageId": format!("{user}-{event}-{at}")})
}

fn measure<'a>(health: &'a Value, key: &str) -> &'a Value {
    health["measures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {health}"))
}

async fn a_score_is_explained_and_follows_sentiment_and_overrides(app: TestApp) {
    let acme = account(&app, json!({"name": "Acme", "external_ids": [{"kind": "segment", "value": "g-acme"}]})).await;
    subscribe(&app, acme, "s1", 4, "400", "2026-01-01", None).await;
    let mut batch: Vec<Value> = ["u1", "u2", "u3", "u4"].iter().map(|u| group(u, "g-acme")).collect();
    batch.push(track("u1", "Report Built", "2026-03-31T09:00:00Z"));
    batch.push(track("u2", "Report Built", "2026-03-28T09:00:00Z"));
    batch.push(track("u3", "Report Built", "2026-03-10T09:00:00Z"));
    common::send_batch(&app, batch).await;

    let (status, h) = app.get(&format!("/api/v1/accounts/{acme}/health?as_of=2026-03-31"), &app.admin).await;
    assert_eq!(status, 200, "{h}");
    assert_eq!((h["scorecard"].as_str(), h["source"].as_str()), (Some("default"), Some("live")));
    assert_eq!(h["measures"].as_array().unwrap().len(), 12);
    // 3 of 4 seats active in 30 days: 75 %, scored linearly between 20 and 80.
    let util = measure(&h, "license_utilization");
    assert_eq!(
        (util["value"].as_f64(), util["score"].as_f64(), util["weight"].as_f64()),
        (Some(75.0), Some(91.67), Some(1.0))
    );
    // No CSM ever rated any account yet: the workspace never fed sentiment, so the measure does
    // not apply (rather than counting against the coverage of every account); no contribution.
    let sentiment = measure(&h, "sentiment");
    assert_eq!(
        (sentiment["applicable"].as_bool(), sentiment["missing"].as_bool(), sentiment["contribution"].as_f64()),
        (Some(false), Some(false), Some(0.0))
    );
    assert!(h["coverage"].as_f64().is_some_and(|c| c > 50.0), "{h}");
    let sum: f64 = h["measures"].as_array().unwrap().iter().map(|m| m["contribution"].as_f64().unwrap()).sum();
    assert!((sum - h["score"].as_f64().unwrap()).abs() < 1e-9, "contributions {sum} vs score {}", h["score"]);
    assert_eq!(h["score"], h["computed_score"]);
    let before = h["score"].as_f64().unwrap();

    // A sentiment counts from its day, as a measure of its own.
    let path = format!("/api/v1/accounts/{acme}/sentiments");
    let (status, body) = app.post(&path, &app.admin, json!({"rating": 7, "reason": ""})).await;
    assert_eq!((status, fields(&body)), (422, vec!["rating".to_string(), "reason".to_string()]));
    let (status, _) =
        app.post(&path, &app.admin, json!({"rating": 1, "reason": "budget cuts", "day": "2026-03-30"})).await;
    assert_eq!(status, 201);
    let (_, h) = app.get(&format!("/api/v1/accounts/{acme}/health?as_of=2026-03-31"), &app.admin).await;
    assert_eq!(
        (measure(&h, "sentiment")["value"].as_f64(), measure(&h, "sentiment")["score"].as_f64()),
        (Some(1.0), Some(0.0))
    );
    assert!(h["score"].as_f64().unwrap() < before);

    // An override replaces the score in force until it expires or is cleared; the computed
    // score and its explanation stay.
    let expires = (Utc::now().date_naive() + Days::new(30)).to_string();
    let path = format!("/api/v1/accounts/{acme}/health/overrides");
    let (status, body) =
        app.post(&path, &app.admin, json!({"score": 120, "reason": "x", "expires_on": "2020-01-01"})).await;
    assert_eq!((status, fields(&body)), (422, vec!["expires_on".to_string(), "score".to_string()]));
    let (status, o) =
        app.post(&path, &app.admin, json!({"score": 15, "reason": "champion left", "expires_on": expires})).await;
    assert_eq!(status, 201, "{o}");
    let (_, h) = app.get(&format!("/api/v1/accounts/{acme}/health"), &app.admin).await;
    assert_eq!((h["score"].as_f64(), h["band"].as_str()), (Some(15.0), Some("red")));
    assert_eq!(h["override"]["reason"], "champion left");
    assert_ne!(h["computed_score"].as_f64(), Some(15.0));
    assert_eq!(app.delete(&path, &app.admin).await, 204);
    assert_eq!(app.delete(&path, &app.admin).await, 404);
    let (_, h) = app.get(&format!("/api/v1/accounts/{acme}/health"), &app.admin).await;
    assert!(h["override"].is_null());
    let (_, audit) = app.get("/api/v1/audit?entity=health_override", &app.admin).await;
    assert!(audit.to_string().contains("champion left"), "{audit}");

    // Days with a pass have snapshots; the history lists them.
    let (status, _) =
        app.post("/api/v1/segments", &app.admin, json!({"key": "all", "name": "Everyone", "filter": "mrr >= 0"})).await;
    assert_eq!(status, 201);
    let (_, history) = app.get(&format!("/api/v1/accounts/{acme}/health/history"), &app.admin).await;
    let days = history["data"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{history}");
    assert_eq!(days[0]["day"], Utc::now().date_naive().to_string());
    let (status, _) =
        app.get(&format!("/api/v1/accounts/{acme}/health/history?from=2026-02-01&to=2026-01-01"), &app.admin).await;
    assert_eq!(status, 422);
}

async fn segments_rules_and_scorecards_work_by_key(app: TestApp) {
    let acme = account(&app, json!({"name": "Acme", "country": "DE", "employees": 500})).await;
    let bolt = account(&app, json!({"name": "Bolt", "country": "US", "employees": 20})).await;

    // The builder's live count, and a filter that does not parse names its column.
    let (status, p) =
        app.post("/api/v1/segments/preview", &app.admin, json!({"filter": "country in [\"DE\", \"AT\"]"})).await;
    assert_eq!(status, 200, "{p}");
    assert_eq!((p["count"].as_i64(), p["sample"][0]["name"].as_str()), (Some(1), Some("Acme")));
    let (status, p) =
        app.post("/api/v1/segments/preview", &app.admin, json!({"filter": "employees >= 10 and countri = 1"})).await;
    assert_eq!((status, fields(&p)), (422, vec!["filter".to_string()]));
    assert!(p.to_string().contains("column 21: unknown field"), "{p}");
    // A number compared with text never matches: an error naming the column, not an empty segment.
    let (status, p) = app.post("/api/v1/segments/preview", &app.admin, json!({"filter": "mrr >= \"abc\""})).await;
    assert_eq!((status, fields(&p)), (422, vec!["filter".to_string()]));
    assert!(p.to_string().contains("column 8: mrr is a number, and \\\"abc\\\" is text"), "{p}");

    let dach = json!({"key": "dach", "name": "DACH", "filter": "country in [\"DE\", \"AT\", \"CH\"]"});
    let (status, s) = app.post("/api/v1/segments", &app.admin, dach.clone()).await;
    assert_eq!(status, 201, "{s}");
    assert_eq!(s["members"], 1);
    let (status, _) = app.post("/api/v1/segments", &app.admin, dach).await;
    assert_eq!(status, 200);
    let (status, body) =
        app.post("/api/v1/segments", &app.admin, json!({"key": "Bad Key", "name": "", "filter": "x"})).await;
    assert_eq!((status, fields(&body)), (422, vec!["filter".to_string(), "key".to_string(), "name".to_string()]));

    // Bolt moves to Austria; the next pass (run by the definition change) lets it in.
    let (status, _) = app.patch(&format!("/api/v1/accounts/{bolt}"), &app.admin, json!({"country": "AT"})).await;
    assert_eq!(status, 200);
    let rule = json!({"key": "small", "name": "Small accounts adopt", "stage": "adoption", "condition": "employees < 50", "priority": 1});
    let (status, _) = app.post("/api/v1/lifecycle-rules", &app.admin, rule).await;
    assert_eq!(status, 201);
    let (_, members) = app.get("/api/v1/segments/dach/members", &app.admin).await;
    let names: Vec<&str> = members["data"].as_array().unwrap().iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Acme", "Bolt"]);
    let (_, history) = app.get("/api/v1/segments/dach/history", &app.admin).await;
    assert_eq!(history["data"].as_array().unwrap().len(), 2, "{history}");
    assert!(history["data"].as_array().unwrap().iter().all(|c| c["change"] == "entered"));
    let (_, stages) = app.get(&format!("/api/v1/accounts/{bolt}/stages"), &app.admin).await;
    assert_eq!(
        (stages[0]["to_stage"].as_str(), stages[0]["cause"].as_str()),
        (Some("adoption"), Some("rule:small")),
        "{stages}"
    );
    let (_, b) = app.get(&format!("/api/v1/accounts/{bolt}"), &app.admin).await;
    assert_eq!(b["lifecycle_stage"], "adoption");

    // A scorecard for the segment scores its members; the default the rest.
    let card = json!({"key": "dach-health", "name": "DACH health", "segment": "dach", "priority": 1,
        "measures": [{"key": "size", "source": "employees_unused", "weight": 1, "scale": {"kind": "linear", "bad": 0, "good": 1000}}]});
    let (status, body) = app.post("/api/v1/scorecards", &app.admin, card.clone()).await;
    assert_eq!((status, fields(&body)), (422, vec!["measures[0].source".to_string()]));
    let mut card = card;
    card["measures"][0]["source"] = json!("attribute.seats");
    card["measures"][0]["missing_score"] = json!(50);
    // Its one measure has no data (its stand-in score is not data): scored only with no minimum.
    card["min_coverage"] = json!(0);
    let (status, body) = app.post("/api/v1/scorecards", &app.admin, card).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["revision"], 1);
    let (_, h) = app.get(&format!("/api/v1/accounts/{acme}/health"), &app.admin).await;
    assert_eq!((h["scorecard"].as_str(), h["score"].as_f64()), (Some("dach-health"), Some(50.0)), "{h}");
    let (_, weighed) =
        app.post("/api/v1/scorecards/dach-health/weights", &app.admin, json!({"weights": {"size": 3}})).await;
    assert_eq!(
        (weighed["revision"].as_i64(), weighed["measures"][0]["weight"].as_f64()),
        (Some(2), Some(3.0)),
        "{weighed}"
    );
    assert_eq!(app.delete("/api/v1/segments/dach", &app.admin).await, 409);
    assert_eq!(app.delete("/api/v1/scorecards/default", &app.admin).await, 409);
    assert_eq!(app.delete("/api/v1/scorecards/dach-health", &app.admin).await, 204);
    assert_eq!(app.delete("/api/v1/segments/dach", &app.admin).await, 204);
    assert_eq!(app.delete("/api/v1/lifecycle-rules/small", &app.admin).await, 204);
    assert_eq!(app.delete("/api/v1/lifecycle-rules/small", &app.admin).await, 404);

    // A CSM may read but not define.
    let csm = app.member_token("csm@team.io", keepwell_core::Role::Csm).await;
    let (status, _) = app.post("/api/v1/segments", &csm, json!({"key": "x", "name": "X", "filter": "mrr > 0"})).await;
    assert_eq!(status, 403);
    let (status, _) = app.get("/api/v1/scorecards", &csm).await;
    assert_eq!(status, 200);
}

async fn a_backtest_tells_churned_accounts_apart(app: TestApp) {
    // Four customers since January; two stop using the product in February and churn in April.
    let mut batch = Vec::new();
    for (i, churns) in [(1, false), (2, false), (3, true), (4, true)] {
        let g = format!("g-{i}");
        let id =
            account(&app, json!({"name": format!("Customer {i}"), "external_ids": [{"kind": "segment", "value": g}]}))
                .await;
        let until = churns.then_some("2026-04-15");
        subscribe(&app, id, &format!("s{i}"), 2, "100", "2026-01-01", until).await;
        for u in 0..2 {
            let user = format!("u{i}-{u}");
            batch.push(group(&user, &g));
            let last = if churns { 10 } else { 59 };
            for day in (0..last).step_by(3) {
                let at = chrono::NaiveDate::from_ymd_opt(2026, 2, 1).unwrap() + Days::new(day);
                batch.push(track(&user, "Report Built", &format!("{at}T10:00:00Z")));
            }
        }
    }
    common::send_batch(&app, batch).await;
    let (status, b) =
        app.get("/api/v1/health/backtest?horizon_days=30&from=2026-03-20&to=2026-03-31", &app.admin).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!((b["scorecard"].as_str(), b["step_days"].as_i64()), (Some("default"), Some(1)));
    assert_eq!(b["account_days"], 4 * 12);
    // Churn within 30 days: the two leavers from 16 March on, i.e. every day observed.
    assert_eq!(b["churned"], 2 * 12);
    assert_eq!(b["auc"].as_f64(), Some(1.0), "{b}");
    let bands: i64 = b["bands"].as_array().unwrap().iter().map(|r| r["account_days"].as_i64().unwrap()).sum();
    assert_eq!(bands, 48);
    let util = b["measures"].as_array().unwrap().iter().find(|m| m["key"] == "license_utilization").unwrap();
    assert_eq!(util["auc"].as_f64(), Some(1.0));
    assert!(b["roc"].as_array().unwrap().len() >= 2);

    for bad in ["horizon_days=0", "from=2026-04-01&to=2026-03-01", &format!("to={}", Utc::now().date_naive())] {
        let (status, body) = app.get(&format!("/api/v1/health/backtest?{bad}"), &app.admin).await;
        assert_eq!(status, 422, "{bad}: {body}");
    }
    let (status, _) = app.get("/api/v1/health/backtest?scorecard=nope&to=2026-03-31", &app.admin).await;
    assert_eq!(status, 404);
    let _ = Method::GET;
}
