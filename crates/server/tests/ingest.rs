//! Segment-compatible ingestion over HTTP, on both backends: write keys, Segment's limits and
//! reasons, gzip, deduplication, attribution and rollups.

mod common;

use common::TestApp;
use serde_json::{json, Value};
use std::io::Write;

on_both_backends!(
    calls_are_authenticated_checked_and_stored,
    limits_and_gzip_are_segments,
    acknowledged_events_reach_the_rollups_unasked
);

/// Posts raw bytes to `/v1/{path}` with an optional Basic write key and extra headers.
async fn send(app: &TestApp, path: &str, key: Option<&str>, body: Vec<u8>, gzip: bool) -> (u16, Value) {
    let mut req = app.http.post(app.url(&format!("/v1/{path}"))).header("content-type", "application/json");
    if let Some(k) = key {
        req = req.basic_auth(k, Some(""));
    }
    if gzip {
        req = req.header("content-encoding", "gzip");
    }
    let res = req.body(body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn calls_are_authenticated_checked_and_stored(app: TestApp) {
    let key = common::write_key(&app).await;
    let batch = json!({"batch": [
        {"type": "group", "userId": "u1", "groupId": "g-acme", "traits": {"name": "Acme"}, "messageId": "m1"},
        {"type": "identify", "userId": "u1", "traits": {"email": "ann@acme.io", "name": "Ann"}, "messageId": "m2"},
        {"type": "track", "userId": "u1", "event": "Report Built", "messageId": "m3", "timestamp": "2026-11-20T10:00:00Z"},
    ], "sentAt": "2026-11-20T10:00:01Z"});
    let body = serde_json::to_vec(&batch).unwrap();
    assert_eq!(send(&app, "batch", None, body.clone(), false).await.0, 401);
    assert_eq!(send(&app, "batch", Some("wk_nope"), body.clone(), false).await.0, 401);
    assert_eq!(app.store.count_events(None).await.unwrap(), 0);
    let (status, answer) = send(&app, "batch", Some(&key), body.clone(), false).await;
    assert_eq!((status, answer), (200, json!({"success": true})));
    let acme = app.store.account_id_by_external_id("segment", "g-acme").await.unwrap().unwrap();
    assert_eq!(app.store.count_events(Some(acme)).await.unwrap(), 3);

    // The key in the body works too; a retry of the same messageIds stores nothing new.
    let track = json!({"writeKey": key, "userId": "u1", "event": "Report Built", "messageId": "m4"});
    assert_eq!(send(&app, "track", None, serde_json::to_vec(&track).unwrap(), false).await.0, 200);
    assert_eq!(send(&app, "batch", Some(&key), body, false).await.0, 200);
    assert_eq!(app.store.count_events(None).await.unwrap(), 4);

    // One bad call refuses the whole batch, naming its index.
    let bad = json!({"batch": [
        {"type": "track", "userId": "u1", "event": "Ok", "messageId": "m5"},
        {"type": "track", "userId": "u1", "messageId": "m6"},
    ]});
    let (status, answer) = send(&app, "batch", Some(&key), serde_json::to_vec(&bad).unwrap(), false).await;
    assert_eq!(status, 400);
    assert_eq!(answer["message"], "batch[1]: a track call needs `event`");
    let (status, answer) = send(&app, "track", Some(&key), b"{not json".to_vec(), false).await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().starts_with("invalid JSON"), "{answer}");
    assert_eq!(app.store.count_events(None).await.unwrap(), 4, "nothing of a refused request is kept");
    // Corrected as Segment does: received now, sent 1 s after it happened, so it happened 1 s
    // before it was received — today (or, at midnight, yesterday), not on the client's date.
    let today = chrono::Utc::now().date_naive();
    let (from, to) = ((today - chrono::Days::new(1)).to_string(), today.to_string());
    // Read through the API, which counts what was acknowledged before it answers.
    let (status, usage) = app.get(&format!("/api/v1/accounts/{acme}/usage?from={from}&to={to}"), &app.admin).await;
    assert_eq!(status, 200, "{usage}");
    let rows = usage["data"].as_array().unwrap();
    let built = rows.iter().filter(|u| u["event"] == "Report Built");
    assert_eq!(built.map(|u| u["count"].as_i64().unwrap()).sum::<i64>(), 2, "{usage}");
    assert!(rows.iter().all(|u| u["users"] == 1), "{usage}");
    let (status, bad) = app.get(&format!("/api/v1/accounts/{acme}/usage?from={to}&to={from}"), &app.admin).await;
    assert_eq!((status, bad["errors"][0]["field"].as_str()), (422, Some("from")), "{bad}");
    let (status, page) =
        app.get(&format!("/api/v1/events?account_id={acme}&event=Report%20Built&limit=1"), &app.admin).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["type"], "track", "{page}");
    assert!(page["data"][0]["received_at"].is_string() && page["next_cursor"].is_string(), "{page}");
    assert_eq!(send(&app, "alias", Some(&key), b"{}".to_vec(), false).await.0, 404);
}

async fn limits_and_gzip_are_segments(app: TestApp) {
    let key = common::write_key(&app).await;
    let call =
        |i: usize| json!({"type": "track", "userId": format!("u{i}"), "event": "Login", "messageId": format!("z{i}")});
    let batch = |n: usize| serde_json::to_vec(&json!({"batch": (0..n).map(call).collect::<Vec<_>>()})).unwrap();
    let (status, answer) = send(&app, "batch", Some(&key), batch(2_501), false).await;
    assert_eq!(status, 400, "{answer}");
    assert!(answer["message"].as_str().unwrap().contains("2501 calls"), "{answer}");
    let big = json!({"userId": "u", "event": "Big", "properties": {"blob": "x".repeat(33 * 1024)}});
    let (status, answer) = send(&app, "track", Some(&key), serde_json::to_vec(&big).unwrap(), false).await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().contains("limit is 32768"), "{answer}");

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&batch(2_000)).unwrap();
    let (status, answer) = send(&app, "batch", Some(&key), gz.finish().unwrap(), true).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(app.store.count_events(None).await.unwrap(), 2_000);
    // A gzip body that inflates past 500 KB is refused whole.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&serde_json::to_vec(&json!({"batch": [], "pad": "x".repeat(600 * 1024)})).unwrap()).unwrap();
    let (status, answer) = send(&app, "batch", Some(&key), gz.finish().unwrap(), true).await;
    assert_eq!(status, 400);
    assert!(answer["message"].as_str().unwrap().contains("limit is 512000"), "{answer}");
}

/// Nothing asks for a fold: the writer folds when idle (SQLite), or the fold job does, on any node
/// (PostgreSQL), and the rollups come to count every acknowledged event.
async fn acknowledged_events_reach_the_rollups_unasked(app: TestApp) {
    let key = common::write_key(&app).await;
    let group = json!({"batch": [{"type": "group", "userId": "u1", "groupId": "g1", "traits": {"name": "Gamma"}}]});
    assert_eq!(send(&app, "batch", Some(&key), group.to_string().into_bytes(), false).await.0, 200);
    for i in 0..30 {
        let calls: Vec<Value> = (0..100)
            .map(|j| json!({"type": "track", "userId": "u1", "event": "Run", "messageId": format!("m-{i}-{j}")}))
            .collect();
        let (status, body) =
            send(&app, "batch", Some(&key), json!({"batch": calls}).to_string().into_bytes(), false).await;
        assert_eq!(status, 200, "{body}");
    }
    let mut counted = 0;
    for _ in 0..100 {
        counted = app.store.count_usage().await.unwrap();
        if counted == 3_000 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(counted, 3_000, "the rollups count every acknowledged event within 10 s");
    if app.store.backend() == keepwell_store::Backend::Postgres {
        // Only the fold job folds there, and it is forgotten once it ran: they do not pile up.
        let mut folds = Vec::new();
        for _ in 0..50 {
            folds = app.store.jobs(Some("fold_usage"), 10).await.unwrap();
            if folds.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(folds.is_empty(), "finished folds are forgotten: {folds:?}");
    }
}
