//! `keepwell serve` killed with SIGKILL while clients send events: every event it acknowledged
//! is in the database after the kill, and a restarted server counts each exactly once.

mod common;

use common::{free_port, ready, serve, write_key};
use keepwell_store::testing::fresh_database_url;
use keepwell_store::usage::{EventFilter, EventWriter};
use keepwell_store::{Backend, Store};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::fresh_database_url(super::Backend::Sqlite).await).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::fresh_database_url(super::Backend::Postgres).await).await } )* }
    };
}

on_both_backends!(a_killed_server_keeps_every_acknowledged_event);

/// A batch of `n` track calls of client `c`, numbered from `from`, half of them naming the
/// account and half attributed through their user's group call.
fn batch(c: usize, from: usize, n: usize) -> (Vec<String>, Vec<u8>) {
    let ids: Vec<String> = (from..from + n).map(|i| format!("c{c}-{i}")).collect();
    let calls: Vec<serde_json::Value> = ids
        .iter()
        .enumerate()
        .map(|(k, id)| {
            let mut call =
                serde_json::json!({"type": "track", "event": "Run", "userId": format!("u{c}"), "messageId": id});
            if k % 2 == 0 {
                call["context"] = serde_json::json!({"groupId": "acme"});
            }
            call
        })
        .collect();
    (ids, serde_json::to_vec(&serde_json::json!({"batch": calls})).unwrap())
}

async fn a_killed_server_keeps_every_acknowledged_event(url: String) {
    let key = write_key(&url);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let mut server = serve(&url, port);
    ready(&http, &base).await;
    let group = serde_json::json!({"batch": (0..4).map(|c| serde_json::json!(
        {"type": "group", "userId": format!("u{c}"), "groupId": "acme", "messageId": format!("g{c}")})).collect::<Vec<_>>()});
    let res = http.post(format!("{base}/v1/batch")).basic_auth(&key, Some("")).json(&group).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // Four clients send without pause; the server is killed while they do.
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let sent = Arc::new(Mutex::new(Vec::<(Vec<String>, Vec<u8>)>::new()));
    let mut clients = Vec::new();
    for c in 0..4 {
        let (http, base, key, acknowledged, sent) =
            (http.clone(), base.clone(), key.clone(), acknowledged.clone(), sent.clone());
        clients.push(tokio::spawn(async move {
            for round in 0.. {
                let (ids, body) = batch(c, round * 200, 200);
                sent.lock().unwrap().push((ids.clone(), body.clone()));
                let res = http.post(format!("{base}/v1/batch")).basic_auth(&key, Some("")).body(body).send().await;
                match res {
                    Ok(r) if r.status() == 200 => acknowledged.lock().unwrap().extend(ids),
                    _ => break,
                }
            }
        }));
    }
    // At a moment that differs run to run, once the server has acknowledged some.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 2_000 {
        assert!(Instant::now() < deadline, "the server acknowledged too little");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(rand_ms())).await;
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    for c in clients {
        c.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();

    let store = Store::connect(&url).await.unwrap();
    let all = EventFilter { limit: 1_000_000, ..Default::default() };
    let stored: HashSet<String> = store.events(&all).await.unwrap().data.into_iter().map(|e| e.message_id).collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost, e.g. {:?}", lost.len(), lost.first());
    store.close().await;

    // Restarted, the server takes every batch again (as clients retry what was not answered):
    // duplicates are dropped and each event is counted once.
    let mut server = serve(&url, port);
    ready(&http, &base).await;
    let sent = sent.lock().unwrap().clone();
    for (_, body) in &sent {
        let res =
            http.post(format!("{base}/v1/batch")).basic_auth(&key, Some("")).body(body.clone()).send().await.unwrap();
        assert_eq!(res.status(), 200);
    }
    server.kill().unwrap();
    server.wait().unwrap();
    let store = Store::connect(&url).await.unwrap();
    EventWriter::new(store.clone()).fold().await.unwrap();
    let unique: usize = sent.iter().map(|(ids, _)| ids.len()).sum();
    assert_eq!(store.count_events(None).await.unwrap() as usize, unique + 4, "each call once, group calls included");
    assert_eq!(store.count_usage().await.unwrap() as usize, unique, "the rollups count each event once");
    store.close().await;
}

/// 0–300 ms, from the clock: where in the write cycle the kill lands varies run to run.
fn rand_ms() -> u64 {
    u64::from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() % 300)
}
