//! Two `keepwell serve` nodes on one database send webhooks to a real receiver (Python's, slow to
//! answer) and weekly digests to a real SMTP server (aiosmtpd, as slow) while one is killed with
//! SIGKILL mid-batch: the other takes over what the dead node was sending once its short lease runs
//! out, every occurrence arrives under one `webhook-id` or `Message-ID` (a repeat only for what was
//! in flight when the node died), and each request verifies with the Standard Webhooks reference
//! library. On SQLite, one writer per file, the second node is the same database restarted after
//! the kill.

mod common;

use common::{free_port, python, ready, serve_with};
use keepwell_store::deliveries::DeliveryFilter;
use keepwell_store::testing::fresh_database_url;
use keepwell_store::{Backend, Store};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both_backends!(
    a_node_killed_mid_batch_leaves_its_deliveries_to_another,
    every_node_and_a_tick_act_on_each_event_once,
);

/// Logs each POST's headers and body as a JSON line as it arrives, then answers 200 after a second:
/// a node's batch is in flight for that long.
const SLOW_RECEIVER: &str = r#"
import json, sys, threading, time
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
log = open(sys.argv[1], "a", buffering=1)
lock = threading.Lock()
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        with lock:
            log.write(json.dumps({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}) + "\n")
        time.sleep(1.0)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
ThreadingHTTPServer.daemon_threads = True
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

/// Verifies every logged request with the secret; prints `[{id, account}]`.
const VERIFY: &str = r#"
import json, sys
from standardwebhooks.webhooks import Webhook
hook = Webhook(sys.argv[2])
out = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    payload = hook.verify(r["body"], r["headers"])
    out.append({"id": r["headers"]["webhook-id"], "type": payload["type"], "account": payload["data"]["id"]})
print(json.dumps(out))
"#;

/// An SMTP server that logs each message's recipient and Message-ID as it arrives, then accepts it
/// after a second.
const SLOW_SMTP: &str = r#"
import asyncio, json, sys, threading
from aiosmtpd.controller import Controller
log = open(sys.argv[1], "a", buffering=1)
class Slow:
    async def handle_DATA(self, server, session, envelope):
        text = envelope.content.decode("utf8", errors="replace")
        mid = next((l.split(":", 1)[1].strip() for l in text.splitlines() if l.lower().startswith("message-id:")), "")
        log.write(json.dumps({"to": envelope.rcpt_tos[0], "message_id": mid}) + "\n")
        await asyncio.sleep(1.0)
        return "250 OK"
controller = Controller(Slow(), hostname="127.0.0.1", port=int(sys.argv[2]))
controller.start()
print("ready", flush=True)
threading.Event().wait()
"#;

const ACCOUNTS: usize = 160;

/// Members who asked for the weekly digest: one e-mail each.
const MEMBERS: usize = 40;

fn lines(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path).map(|s| s.lines().count()).unwrap_or(0)
}

async fn a_node_killed_mid_batch_leaves_its_deliveries_to_another(backend: Backend) {
    let url = fresh_database_url(backend).await;
    let log = std::env::temp_dir().join(format!("kw-nodes-{}.jsonl", rand::random::<u64>()));
    let mut receiver = Command::new(python())
        .args(["-c", SLOW_RECEIVER, log.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the Python receiver");
    let mut first = String::new();
    BufReader::new(receiver.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let hook = format!("http://127.0.0.1:{}/hook", first.trim());
    let mail_log = std::env::temp_dir().join(format!("kw-nodes-mail-{}.jsonl", rand::random::<u64>()));
    let smtp_port = free_port();
    let mut smtp = Command::new(python())
        .args(["-c", SLOW_SMTP, mail_log.to_str().unwrap(), &smtp_port.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start aiosmtpd");
    let mut ready_line = String::new();
    BufReader::new(smtp.stdout.take().unwrap()).read_line(&mut ready_line).unwrap();
    assert_eq!(ready_line.trim(), "ready", "aiosmtpd did not start");

    // Members with the digest on, in a zone where this week's is due: the first node's job worker
    // asks for every one as it starts.
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let now = store.clock().now();
    let zone = ["UTC", "Asia/Tokyo"].into_iter().find(|z| keepwell_server::digest::due_week(now, z).is_some()).unwrap();
    let mut members = HashSet::new();
    for i in 0..MEMBERS {
        let email = format!("csm{i}@team.io");
        let mut w = store.write(&keepwell_store::Actor::system("test")).await.unwrap();
        let new = keepwell_store::people::NewUser {
            email: &email,
            name: "CSM",
            role: keepwell_core::Role::Csm,
            password_hash: "unused",
        };
        let user = keepwell_store::people::create_user(&mut w, &new).await.unwrap();
        let settings = keepwell_store::people::NotificationSettings {
            band_changed: true,
            weekly_digest: true,
            time_zone: zone.into(),
        };
        keepwell_store::people::set_notification_settings(&mut w, user.id, &settings).await.unwrap();
        w.commit().await.unwrap();
        members.insert(email);
    }

    let token = Command::new(env!("CARGO_BIN_EXE_keepwell"))
        .args(["token", "create", "--name", "nodes", "--role", "admin", "--database-url", &url])
        .output()
        .unwrap();
    assert!(token.status.success(), "{}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();
    let key = "3".repeat(64);
    let smtp_url = format!("smtp://127.0.0.1:{smtp_port}?tls=none");
    let env = [
        ("KEEPWELL_WEBHOOKS_ALLOW_PRIVATE", "1"),
        ("KEEPWELL_SECRET_KEY", key.as_str()),
        ("KEEPWELL_SMTP_URL", smtp_url.as_str()),
        ("KEEPWELL_MAIL_FROM", "Keepwell <cs@keepwell.test>"),
    ];
    let http = reqwest::Client::new();
    let (port_a, port_b) = (free_port(), free_port());
    let (base_a, base_b) = (format!("http://127.0.0.1:{port_a}"), format!("http://127.0.0.1:{port_b}"));
    let mut a = serve_with(&url, port_a, &env);
    ready(&http, &base_a).await;
    let two_at_once = backend == Backend::Postgres;
    let mut b = two_at_once.then(|| serve_with(&url, port_b, &env));
    if two_at_once {
        ready(&http, &base_b).await;
    }

    let res = http
        .post(format!("{base_a}/api/v1/webhook-endpoints"))
        .bearer_auth(&token)
        .json(&json!({"url": hook, "events": ["account.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let secret = res.json::<Value>().await.unwrap()["secret"].as_str().unwrap().to_owned();
    let mut created = Vec::new();
    for i in 0..ACCOUNTS {
        let base = if two_at_once && i % 2 == 1 { &base_b } else { &base_a };
        let res = http
            .post(format!("{base}/api/v1/accounts"))
            .bearer_auth(&token)
            .json(&json!({"name": format!("Account {i}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
        created.push(res.json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }

    // Once some have arrived, at a moment that differs run to run, node A dies mid-batch.
    let deadline = Instant::now() + Duration::from_secs(60);
    while lines(&log) < 40 {
        assert!(Instant::now() < deadline, "the nodes sent too little");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(u64::from(rand::random::<u16>() % 400))).await;
    a.kill().unwrap(); // SIGKILL
    a.wait().unwrap();
    if !two_at_once {
        b = Some(serve_with(&url, port_b, &env));
        ready(&http, &base_b).await;
    }

    let all = DeliveryFilter { limit: 1_000, ..Default::default() };
    let deadline = Instant::now() + Duration::from_secs(90);
    let deliveries = loop {
        let d = store.deliveries(&all).await.unwrap().data;
        if d.len() == ACCOUNTS + MEMBERS && d.iter().all(|d| d.status == "sent") {
            break d;
        }
        let waiting: Vec<_> = d.iter().filter(|d| d.status != "sent").map(|d| (d.id, d.status.clone())).collect();
        assert!(Instant::now() < deadline, "not all were sent after the kill: {waiting:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut b = b.unwrap();
    b.kill().unwrap();
    b.wait().unwrap();
    receiver.kill().unwrap();
    receiver.wait().unwrap();
    smtp.kill().unwrap();
    smtp.wait().unwrap();
    let taken_over = deliveries.iter().filter(|d| d.attempts >= 2).count();
    assert!(taken_over > 0, "node A had nothing in flight when it died: the kill proved nothing");

    // Every member's digest arrived, under one Message-ID; a repeat only for what was in flight.
    let mails: Vec<Value> = std::fs::read_to_string(&mail_log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut mail_ids: HashMap<String, HashSet<String>> = HashMap::new();
    for m in &mails {
        let id = m["message_id"].as_str().unwrap();
        assert!(id.starts_with("<msg_"), "{m}");
        mail_ids.entry(m["to"].as_str().unwrap().to_owned()).or_default().insert(id.to_owned());
    }
    for email in &members {
        let ids = mail_ids.get(email).map(|s| s.len()).unwrap_or(0);
        assert_eq!(ids, 1, "{email}'s digest arrived under {ids} Message-IDs");
    }
    let mail_taken_over = deliveries.iter().filter(|d| d.channel == "email" && d.attempts >= 2).count();
    assert!(
        mails.len() - MEMBERS <= mail_taken_over,
        "{} e-mail repeats, but only {mail_taken_over} e-mails were in flight on the killed node",
        mails.len() - MEMBERS
    );

    let verified = Command::new(python()).args(["-c", VERIFY, log.to_str().unwrap(), &secret]).output().unwrap();
    assert!(verified.status.success(), "a request failed verification: {}", String::from_utf8_lossy(&verified.stderr));
    let received: Vec<Value> = serde_json::from_slice(&verified.stdout).unwrap();
    let mut ids_of: HashMap<i64, HashSet<String>> = HashMap::new();
    for r in &received {
        assert_eq!(r["type"], "account.created");
        ids_of.entry(r["account"].as_i64().unwrap()).or_default().insert(r["id"].as_str().unwrap().to_owned());
    }
    for id in &created {
        let ids = ids_of.get(id).map(|s| s.len()).unwrap_or(0);
        assert_eq!(ids, 1, "account {id} arrived under {ids} webhook-ids");
    }
    let repeats = received.len() - ACCOUNTS;
    assert!(
        repeats <= taken_over,
        "{repeats} repeats, but only {taken_over} deliveries were in flight on the killed node"
    );
    store.close().await;
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&mail_log);
}

/// An event-triggered playbook on, and every running node's job acting on the events that arrive
/// (two `serve` nodes on PostgreSQL; one on SQLite, one writer per file) while a `keepwell tick`
/// steps the same day: each account's event is acted on once — one run, one task, one tag.
async fn every_node_and_a_tick_act_on_each_event_once(backend: Backend) {
    // More than one round acts on (100 occurrences): the rounds go on from where each stopped.
    const GROUPS: usize = 150;
    let url = fresh_database_url(backend).await;
    let store = Store::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    let caller = keepwell_server::cause::Caller::system("test");
    let (write_key, hash, prefix) = keepwell_server::secrets::new_secret("wk");
    keepwell_server::people::create_write_key(&store, &caller, "web", (&hash, &prefix)).await.unwrap();
    let defs = keepwell_core::definitions::Definitions::from_toml(
        "[[playbook]]\nkey = \"exports\"\nname = \"Exports\"\ntrigger = { kind = \"event\", event = \"Report Exported\" }\n\
         [[playbook.actions]]\nkind = \"task\"\ntitle = \"Offer training\"\n\
         [[playbook.actions]]\nkind = \"tag\"\ntag = \"exporter\"\n",
    )
    .unwrap();
    let mut w = store.write(&keepwell_store::Actor::system("test")).await.unwrap();
    keepwell_store::playbooks::apply(&mut w, &defs.playbooks).await.unwrap();
    keepwell_store::playbooks::switch(&mut w, "exports", true, "new", &[]).await.unwrap();
    w.commit().await.unwrap();

    let http = reqwest::Client::new();
    let two_at_once = backend == Backend::Postgres;
    let ports: Vec<u16> = (0..if two_at_once { 2 } else { 1 }).map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for port in &ports {
        nodes.push(serve_with(&url, *port, &[]));
        ready(&http, &format!("http://127.0.0.1:{port}")).await;
    }
    let send = async |port: u16, batch: Vec<Value>| {
        let res = http
            .post(format!("http://127.0.0.1:{port}/v1/batch"))
            .basic_auth(&write_key, Some(""))
            .json(&json!({ "batch": batch }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    };
    // The accounts, from group calls to the first node; then each node hears of every export.
    let groups = (0..GROUPS)
        .map(|i| {
            json!({"type": "group", "userId": format!("u{i}"), "groupId": format!("g{i}"), "messageId": format!("g{i}"),
            "traits": {"name": format!("Account {i}")}})
        })
        .collect();
    send(ports[0], groups).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.count_accounts(&Default::default()).await.unwrap() < GROUPS as i64 {
        assert!(Instant::now() < deadline, "the group calls made no accounts");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let tick = {
        let url = url.clone();
        std::thread::spawn(move || {
            Command::new(env!("CARGO_BIN_EXE_keepwell")).args(["tick", "--database-url", &url]).output().unwrap()
        })
    };
    for (n, port) in ports.iter().enumerate() {
        let tracks = (0..GROUPS)
            .map(|i| {
                json!({"type": "track", "userId": format!("u{i}"), "event": "Report Exported",
                "messageId": format!("e{n}-{i}")})
            })
            .collect();
        send(*port, tracks).await;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.playbook_runs(Some("exports"), None, 1_000).await.unwrap().len() < GROUPS {
        assert!(Instant::now() < deadline, "the playbook did not act on every account's event");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ticked = tick.join().unwrap();
    assert!(ticked.status.success(), "{}", String::from_utf8_lossy(&ticked.stderr));
    // Time for a node that would act twice to do so.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let runs = store.playbook_runs(Some("exports"), None, 1_000).await.unwrap();
    let accounts: HashSet<i64> = runs.iter().map(|r| r.account_id).collect();
    assert_eq!((runs.len(), accounts.len()), (GROUPS, GROUPS), "{runs:?}");
    assert!(runs.iter().all(|r| r.actions.len() == 2 && r.actions.iter().all(|a| a.outcome == "done")), "{runs:?}");
    let open = store
        .tasks(&keepwell_store::tasks::TaskFilter {
            status: Some(keepwell_core::task::Status::Open),
            limit: 1_000,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.data.iter().filter(|t| t.playbook.as_deref() == Some("exports")).count(), GROUPS);
    for mut node in nodes {
        node.kill().unwrap();
        node.wait().unwrap();
    }
}
