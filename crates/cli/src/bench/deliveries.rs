//! `keepwell bench deliveries`: queued webhook deliveries drained by one node's sender to a local
//! receiver that answers 200 (deliveries/s), then one delivery's time from its decision's commit
//! to its arrival with the queue otherwise idle.

use keepwell_core::webhook::{Policy, Secret};
use keepwell_server::{Application, Settings};
use keepwell_store::deliveries;
use keepwell_store::{Actor, Store};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub async fn run(url: &str, n: usize) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let received = Arc::new(AtomicUsize::new(0));
    let counter = received.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            let c = counter.clone();
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, receiver).await });

    let settings =
        Settings { deliveries: Policy { allow_private: true, ..Default::default() }, ..Settings::new("127.0.0.1:0") };
    let actor = Actor::system("bench");
    let mut w = store.write(&actor).await?;
    let secret = Secret::from_bytes(rand::random::<[u8; 24]>().to_vec()).encoded();
    let sealed = settings.secret_key.seal(secret.as_bytes());
    deliveries::create_endpoint(&mut w, (&hook, "standard"), &["account.created".to_owned()], &sealed).await?;
    w.commit().await?;
    let t = Instant::now();
    let mut w = store.write(&actor).await?;
    for i in 0..n {
        deliveries::emit(&mut w, "account.created", Some(i as i64), &json!({"id": i, "name": format!("Account {i}")}))
            .await?;
    }
    w.commit().await?;
    println!("setup: {n} deliveries queued in one write in {:.2} s, untimed", t.elapsed().as_secs_f64());

    let started = Instant::now();
    let app = Application::build(store.clone(), settings).await?;
    tokio::spawn(app.run_until(std::future::pending()));
    while received.load(Ordering::Relaxed) < n {
        tokio::time::sleep(Duration::from_millis(5)).await;
        anyhow::ensure!(started.elapsed() < Duration::from_secs(600), "the deliveries did not drain in 10 minutes");
    }
    let arrived = started.elapsed().as_secs_f64();
    while store.deliveries_pending().await? > 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let recorded = started.elapsed().as_secs_f64();
    println!(
        "deliveries: {n} webhooks to a local receiver arrived in {arrived:.2} s = {:.0}/s; all recorded sent after {recorded:.2} s = {:.0}/s (targets: >= 300/s SQLite, >= 1 000/s PostgreSQL)",
        n as f64 / arrived,
        n as f64 / recorded
    );

    let mut waits = Vec::new();
    for i in 0..5 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = received.load(Ordering::Relaxed);
        let mut w = store.write(&actor).await?;
        deliveries::emit(&mut w, "account.created", None, &json!({"idle": i})).await?;
        w.commit().await?;
        let t = Instant::now();
        while received.load(Ordering::Relaxed) == before {
            tokio::time::sleep(Duration::from_millis(1)).await;
            anyhow::ensure!(t.elapsed() < Duration::from_secs(30), "an idle delivery did not leave in 30 s");
        }
        waits.push(t.elapsed().as_millis());
    }
    waits.sort();
    println!(
        "idle: a delivery arrived {} ms after its decision committed (median of 5; all: {waits:?} ms; target < 1 000 ms)",
        waits[2]
    );
    Ok(())
}
