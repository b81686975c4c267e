//! `keepwell bench ingest`: Segment batches sent to `/v1/batch` by concurrent clients, and the
//! limit it is measured against.
//!
//! 1. A workspace with a write key; `keepwell serve` started as its own process.
//! 2. Untimed: one group call per user (accounts × users), so events have accounts to count for.
//! 3. Timed: `--events` track and page calls in batches of `--batch`, prepared before the clock
//!    starts, sent by `--clients` connections without pause. Each request's time to its 200 is its
//!    acknowledgement latency; a 429 is waited out as its `Retry-After` says and counted.
//! 4. Checked: every event is in the database, and the rollups count them all.
//! 5. The limit: the same rows, as the server stores them, inserted by a minimal program into a bare
//!    table (no index) in one transaction, on the backend measured: SQLite with the server's
//!    durability (WAL, synchronous=FULL), a prepared INSERT per row; PostgreSQL with its own bulk
//!    `COPY … FROM STDIN` (CSV prepared before the clock starts), on the same server and settings.

use super::{percentile, Server};
use anyhow::{bail, Context};
use keepwell_server::cause::Caller;
use keepwell_store::Store;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ACCOUNTS: usize = 1_000;
const USERS_PER_ACCOUNT: usize = 20;
const EVENT_NAMES: &[&str] = &[
    "Report Viewed",
    "Report Exported",
    "Dashboard Created",
    "Invite Sent",
    "Integration Connected",
    "Alert Configured",
    "Comment Added",
    "Search Performed",
    "File Uploaded",
    "Workflow Run",
];

pub struct IngestArgs {
    pub events: usize,
    pub clients: usize,
    pub batch: usize,
    /// Event-triggered playbooks on while it runs (`--playbooks`).
    pub playbooks: bool,
}

/// Two event-triggered playbooks, on: one tags every account as its first "Report Exported" of
/// the day arrives (1 000 runs under the load), the other waits for the probe.
async fn event_playbooks(store: &Store) -> anyhow::Result<()> {
    use keepwell_core::playbook::{ActionDef, PlaybookDef, Reenrol, TriggerDef};
    let def = |key: &str, event: &str, tag: &str| PlaybookDef {
        key: key.into(),
        name: key.into(),
        description: String::new(),
        trigger: TriggerDef::Event { event: event.into() },
        condition: None,
        reenrol: Reenrol::EveryTime,
        reenrol_days: None,
        close_after_days: None,
        actions: vec![ActionDef::Tag { tag: tag.into() }],
        enabled: None,
    };
    let defs = [def("bench-exported", "Report Exported", "exported"), def("bench-probe", PROBE, "probed")];
    let mut w = store.write(&keepwell_store::Actor::system("bench")).await?;
    keepwell_store::playbooks::apply(&mut w, &defs).await?;
    for d in &defs {
        keepwell_store::playbooks::switch(&mut w, &d.key, true, "new", &[]).await?;
    }
    w.commit().await?;
    Ok(())
}

/// The event the probe playbook waits for.
const PROBE: &str = "Playbook Probe";

/// Sends one probe event `after` the load began and waits for the probe playbook's run: how long
/// from its acknowledgement to the run (polling every 20 ms).
async fn probe(server: &Server, key: &str, url: &str, after: Duration) -> anyhow::Result<Duration> {
    tokio::time::sleep(after).await;
    let store = Store::connect(url).await?;
    let body = serde_json::json!({"batch": [{"type": "track", "event": PROBE, "userId": "u0-0", "messageId": "probe-1",
        "context": {"groupId": "acct-0"}}]});
    let sent = send_all(server, key, vec![serde_json::to_vec(&body)?], 1).await?;
    let t = Instant::now();
    anyhow::ensure!(sent.latencies_ms.len() == 1, "the probe was not acknowledged");
    while store.playbook_runs(Some("bench-probe"), None, 1).await?.is_empty() {
        anyhow::ensure!(t.elapsed() < Duration::from_secs(120), "the probe playbook did not act in 2 minutes");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t.elapsed();
    store.close().await;
    Ok(took)
}

/// One call as the Python library sends it (without the batch-level fields).
fn call(i: usize, client_tag: &str, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    let account = i % ACCOUNTS;
    let user = format!("u{account}-{}", (i / ACCOUNTS) % USERS_PER_ACCOUNT);
    // Live traffic: up to a minute old, as clients batch and retry.
    let at = now - chrono::Duration::milliseconds(((i * 7919) % 60_000) as i64);
    let library = serde_json::json!({"library": {"name": "analytics-python", "version": "2.3.3"}});
    let mut c = if i % 5 == 4 {
        serde_json::json!({"type": "page", "name": "Settings", "properties": {"path": "/settings", "title": "Settings"}})
    } else {
        serde_json::json!({
            "type": "track",
            "event": EVENT_NAMES[(i / ACCOUNTS * 7 + i / 3) % EVENT_NAMES.len()],
            "properties": {"plan": "growth", "items": i % 17, "source": "web"},
        })
    };
    c["messageId"] = format!("{client_tag}-{i}").into();
    c["userId"] = user.into();
    c["timestamp"] = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true).into();
    c["context"] = library;
    if i.is_multiple_of(2) {
        // Half name their account; the others are attributed through their user's group call.
        c["context"]["groupId"] = format!("acct-{account}").into();
    }
    c
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    retries: u64,
}

async fn send_all(server: &Server, key: &str, bodies: Vec<Vec<u8>>, clients: usize) -> anyhow::Result<Tally> {
    let bodies = Arc::new(bodies);
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..clients.max(1) {
        let (bodies, next, http) = (bodies.clone(), next.clone(), server.http.clone());
        let url = format!("{}/v1/batch", server.base);
        let key = key.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(body) = bodies.get(i) else { break };
                loop {
                    let t = Instant::now();
                    let res = http
                        .post(&url)
                        .basic_auth(&key, Some(""))
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await?;
                    let status = res.status();
                    let text = res.text().await?;
                    if status.as_u16() == 429 {
                        tally.retries += 1;
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                    if !status.is_success() {
                        bail!("POST /v1/batch: {status}: {text}");
                    }
                    tally.latencies_ms.push(t.elapsed().as_secs_f64() * 1000.0);
                    break;
                }
            }
            anyhow::Ok(tally)
        }));
    }
    let mut all = Tally::default();
    for t in tasks {
        let t = t.await??;
        all.latencies_ms.extend(t.latencies_ms);
        all.retries += t.retries;
    }
    Ok(all)
}

/// A line of a process's /proc status in MB: `VmHWM` (peak resident memory), `RssAnon`.
fn status_mb(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

pub async fn run(dir: &Path, url: &str, args: &IngestArgs) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    if store.count_users().await? > 0 {
        bail!("--target must be an empty database");
    }
    let (key, hash, prefix) = keepwell_server::secrets::new_secret("wk");
    keepwell_server::people::create_write_key(&store, &Caller::system("bench"), "bench", (&hash, &prefix)).await?;
    if args.playbooks {
        event_playbooks(&store).await?;
    }
    store.close().await;

    let now = keepwell_store::Clock::system().now();
    // Group calls: every user into its account, the account made from the traits.
    let groups: Vec<serde_json::Value> = (0..ACCOUNTS * USERS_PER_ACCOUNT)
        .map(|i| {
            let account = i % ACCOUNTS;
            serde_json::json!({
                "type": "group", "messageId": format!("g-{i}"), "userId": format!("u{account}-{}", i / ACCOUNTS),
                "groupId": format!("acct-{account}"),
                "traits": {"name": format!("Account {account}"), "plan": "growth", "employees": 120},
            })
        })
        .collect();
    let group_bodies: Vec<Vec<u8>> = groups
        .chunks(args.batch)
        .map(|c| serde_json::to_vec(&serde_json::json!({"batch": c})).unwrap_or_default())
        .collect();
    let t = Instant::now();
    let bodies: Vec<Vec<u8>> = (0..args.events)
        .collect::<Vec<_>>()
        .chunks(args.batch)
        .map(|chunk| {
            let calls: Vec<_> = chunk.iter().map(|i| call(*i, "b", now)).collect();
            serde_json::to_vec(&serde_json::json!({"batch": calls, "sentAt": now.to_rfc3339()})).unwrap_or_default()
        })
        .collect();
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    println!(
        "load: {} events in {} batches of {} ({:.0} MB of JSON, {:.0} bytes per event), prepared in {:.1} s; \
         {ACCOUNTS} accounts x {USERS_PER_ACCOUNT} users",
        args.events,
        bodies.len(),
        args.batch,
        bytes as f64 / 1e6,
        bytes as f64 / args.events.max(1) as f64,
        t.elapsed().as_secs_f64()
    );

    let server = Server::start(url).await?;
    let t = Instant::now();
    send_all(&server, &key, group_bodies, args.clients).await.context("the group calls")?;
    println!(
        "setup: {} group calls (creating {ACCOUNTS} accounts) in {:.1} s, untimed",
        groups.len(),
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    // The process's own memory, sampled, beside its peak resident set (which also counts file
    // pages it maps: its binary, and the database file were SQLite to map it).
    let (pid, sampling) = (server.pid, std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true)));
    let sampler = tokio::spawn({
        let sampling = sampling.clone();
        async move {
            let mut peak: f64 = 0.0;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(status_mb(pid, "RssAnon:"));
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            peak
        }
    });
    let probed = async {
        match args.playbooks {
            true => probe(&server, &key, url, Duration::from_secs(5)).await.map(Some),
            false => Ok(None),
        }
    };
    let (tally, probed) = tokio::join!(send_all(&server, &key, bodies, args.clients), probed);
    let mut tally = tally?;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let anon = sampler.await?;
    let took = t.elapsed().as_secs_f64();
    let rate = args.events as f64 / took;
    let lat = &mut tally.latencies_ms;
    lat.sort_by(f64::total_cmp);
    println!(
        "ingest: {} events through /v1/batch by {} connections in {took:.2} s = {rate:.0} events/s \
         (target: >= 100 000), {} answers 429 waited out",
        args.events, args.clients, tally.retries
    );
    println!(
        "  acknowledgement latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}  (target: p99 < 100 ms)",
        percentile(lat, 0.50),
        percentile(lat, 0.90),
        percentile(lat, 0.99),
        percentile(lat, 1.0)
    );
    println!(
        "  server peak memory of its own (anonymous, sampled every 100 ms): {anon:.0} MB (target: < 300 MB); \
         peak RSS {:.0} MB",
        status_mb(server.pid, "VmHWM:")
    );
    if let Some(took) = probed? {
        println!(
            "  event playbooks on: the probe event, sent 5 s into the load, acted on {:.2} s after it was \
             acknowledged (target < 5 s); compare events/s with a run without --playbooks (target: at most 10 % less)",
            took.as_secs_f64()
        );
    }
    drop(server);

    // The server was stopped at once: what it had not folded into the rollups yet, the next
    // writer folds (as a restarted server does).
    let store = Store::connect(url).await?;
    keepwell_store::usage::EventWriter::new(store.clone()).fold().await?;
    let stored = store.count_events(None).await? as usize;
    let probes = usize::from(args.playbooks);
    let expected = args.events + groups.len() + probes;
    if stored != expected {
        bail!("{stored} events are stored; {expected} were acknowledged");
    }
    let counted = store.count_usage().await? as usize;
    if counted != args.events + probes {
        bail!("the rollups count {counted} events; {} were sent", args.events + probes);
    }
    if args.playbooks {
        let runs = store.playbook_runs(Some("bench-exported"), None, 10_000).await?.len();
        println!("  bench-exported acted for {runs} of the {ACCOUNTS} accounts (once each, on their first export)");
    }
    println!("  checked: all {stored} acknowledged calls stored; the rollups count all {counted} events");
    let filter = keepwell_store::usage::EventFilter { limit: stored as i64, ..Default::default() };
    let rows = store.events(&filter).await?.data;
    store.close().await;

    let limit = if url.starts_with("postgres") {
        let limit = copy_limit(url, &rows).await?;
        println!(
            "limit: the same {} rows COPY'd into a bare PostgreSQL table (no index) on the same server, one \
             transaction: {limit:.0} rows/s",
            rows.len()
        );
        limit
    } else {
        let limit = bare_limit(dir, &rows)?;
        println!(
            "limit: the same {} rows into a bare SQLite table (no index), one transaction, WAL + synchronous=FULL, \
             prepared statement: {limit:.0} rows/s",
            rows.len()
        );
        limit
    };
    println!("ratio: ingestion / limit = {:.2} (aim: >= 0.5)", rate / limit);
    Ok(())
}

/// PostgreSQL's limit: `rows` as CSV, `COPY`'d into a new bare table in one transaction.
async fn copy_limit(url: &str, rows: &[keepwell_store::usage::StoredEvent]) -> anyhow::Result<f64> {
    use sqlx::Connection;
    let mut csv = csv::Writer::from_writer(Vec::new());
    let micros = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp_micros().to_string());
    for r in rows {
        csv.write_record(
            [
                Some(r.message_id.clone()),
                Some(r.kind.clone()),
                r.event.clone(),
                r.user_id.clone(),
                r.anonymous_id.clone(),
                r.group_id.clone(),
                r.account_id.map(|a| a.to_string()),
                micros(Some(r.timestamp)),
                micros(r.original_timestamp),
                micros(r.sent_at),
                micros(Some(r.received_at)),
                r.properties.as_ref().map(|p| p.get().to_owned()),
                r.context.as_ref().map(|c| c.get().to_owned()),
            ]
            .map(Option::unwrap_or_default),
        )?;
    }
    let data = csv.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut db = sqlx::PgConnection::connect(url).await?;
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS bench_bare_events; CREATE TABLE bench_bare_events (id BIGSERIAL PRIMARY KEY, \
         message_id TEXT NOT NULL, kind TEXT NOT NULL, event TEXT, user_id TEXT, anonymous_id TEXT, group_id TEXT, \
         account_id BIGINT, timestamp BIGINT NOT NULL, original_timestamp BIGINT, sent_at BIGINT, \
         received_at BIGINT NOT NULL, properties TEXT, context TEXT)",
    )
    .execute(&mut db)
    .await?;
    let t = Instant::now();
    let mut tx = db.begin().await?;
    let mut copy = tx
        .copy_in_raw(
            "COPY bench_bare_events (message_id, kind, event, user_id, anonymous_id, group_id, account_id, timestamp, \
             original_timestamp, sent_at, received_at, properties, context) FROM STDIN WITH (FORMAT csv)",
        )
        .await?;
    for chunk in data.chunks(1 << 20) {
        copy.send(chunk).await?;
    }
    copy.finish().await?;
    tx.commit().await?;
    let took = t.elapsed().as_secs_f64();
    sqlx::raw_sql("DROP TABLE bench_bare_events").execute(&mut db).await?;
    Ok(rows.len() as f64 / took)
}

/// The limit: `rows` inserted into a new bare table in one transaction.
fn bare_limit(dir: &Path, rows: &[keepwell_store::usage::StoredEvent]) -> anyhow::Result<f64> {
    let path = dir.join("bare.db");
    let _ = std::fs::remove_file(&path);
    let mut db = rusqlite::Connection::open(&path)?;
    db.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;
    db.execute_batch(
        "CREATE TABLE events (id INTEGER PRIMARY KEY, message_id TEXT NOT NULL, kind TEXT NOT NULL, event TEXT, \
         user_id TEXT, anonymous_id TEXT, group_id TEXT, account_id INTEGER, timestamp INTEGER NOT NULL, \
         original_timestamp INTEGER, sent_at INTEGER, received_at INTEGER NOT NULL, properties TEXT, context TEXT)",
    )?;
    let t = Instant::now();
    let tx = db.transaction()?;
    {
        let mut insert = tx.prepare(
            "INSERT INTO events (message_id, kind, event, user_id, anonymous_id, group_id, account_id, timestamp, \
             original_timestamp, sent_at, received_at, properties, context) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
        )?;
        for r in rows {
            insert.execute(rusqlite::params![
                r.message_id,
                r.kind,
                r.event,
                r.user_id,
                r.anonymous_id,
                r.group_id,
                r.account_id,
                r.timestamp.timestamp_micros(),
                r.original_timestamp.map(|t| t.timestamp_micros()),
                r.sent_at.map(|t| t.timestamp_micros()),
                r.received_at.timestamp_micros(),
                r.properties.as_ref().map(|p| p.get()),
                r.context.as_ref().map(|c| c.get())
            ])?;
        }
    }
    tx.commit()?;
    Ok(rows.len() as f64 / t.elapsed().as_secs_f64())
}
