//! Outgoing webhooks, received by a real HTTP server process (Python's) and verified with the
//! Standard Webhooks reference library (`standardwebhooks`, installed by scripts/test): a healthy
//! endpoint gets each occurrence once; one failing three times then answering 200 gets the
//! delivery once, under one id; one failing always dead-letters it with its error shown.

mod common;

use common::{python, receiver, Receiver, TestApp, VERIFY};
use keepwell_store::Backend;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

macro_rules! on_both_backends_with_a_receiver {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both_backends_with_a_receiver!(
    webhooks_are_signed_retried_and_dead_lettered,
    a_rotated_secret_signs_with_both_meanwhile,
    accounts_written_by_an_import_stripe_or_segment_are_announced,
    stage_rules_and_linked_groups_are_announced,
    a_playbook_assigns_emails_and_calls_a_webhook_and_slack_once,
    a_playbook_emails_contacts_who_can_unsubscribe_in_one_click,
);

async fn webhooks_are_signed_retried_and_dead_lettered(backend: Backend) {
    let dir = tempdir();
    let log = dir.join("requests.jsonl");
    let (_receiver, port) = receiver(&log);
    let app = TestApp::spawn_with(backend, |s| {
        s.deliveries.allow_private = true;
        s.deliveries.first_retry = Duration::from_millis(150);
        s.deliveries.max_retry = Duration::from_millis(600);
        s.deliveries.max_attempts = 4;
        s.deliveries.poll = Duration::from_millis(50);
    })
    .await;
    let mut secrets = serde_json::Map::new();
    let mut ids = serde_json::Map::new();
    for (path, events) in [
        ("/ok", json!(["account.created", "account.stage_changed", "account.deleted"])),
        ("/flaky", json!(["account.created"])),
        ("/down", json!(["account.created"])),
    ] {
        let (status, created) = app
            .post(
                "/api/v1/webhook-endpoints",
                &app.admin,
                json!({"url": format!("http://127.0.0.1:{port}{path}"), "events": events}),
            )
            .await;
        assert_eq!(status, 201, "{created}");
        let secret = created["secret"].as_str().unwrap();
        assert!(secret.starts_with("whsec_"), "{created}");
        secrets.insert(path.into(), secret.into());
        ids.insert(path.into(), created["id"].clone());
    }
    // The secret is shown once: the list never has it.
    let (_, listed) = app.get("/api/v1/webhook-endpoints", &app.admin).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    assert!(!listed.to_string().contains("whsec_"), "{listed}");

    let (status, account) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"name": "Acme", "external_ids": [{"kind": "crm", "value": "c-1"}]}),
        )
        .await;
    assert_eq!(status, 201, "{account}");
    let id = account["id"].as_i64().unwrap();
    let (status, _) =
        app.patch(&format!("/api/v1/accounts/{id}"), &app.admin, json!({"lifecycle_stage": "adoption"})).await;
    assert_eq!(status, 200);

    // Everything settles: sent, or dead after four attempts.
    let mut settled = Value::Null;
    for _ in 0..200 {
        let (_, page) = app.get("/api/v1/deliveries?limit=50", &app.admin).await;
        let busy = page["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| matches!(d["status"].as_str(), Some("queued" | "retrying" | "sending")));
        if !busy && page["data"].as_array().unwrap().len() == 4 {
            settled = page;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rows = settled["data"].as_array().unwrap_or_else(|| panic!("deliveries did not settle in 20 s"));
    let of = |path: &str| -> Vec<&Value> { rows.iter().filter(|d| d["endpoint_id"] == ids[path]).collect() };
    let ok = of("/ok");
    assert_eq!(ok.len(), 2, "{settled}");
    assert!(ok.iter().all(|d| d["status"] == "sent" && d["attempts"] == 1), "{settled}");
    let flaky = of("/flaky");
    assert_eq!((flaky.len(), &flaky[0]["status"], &flaky[0]["attempts"]), (1, &json!("sent"), &json!(4)), "{settled}");
    let down = of("/down");
    assert_eq!((down.len(), &down[0]["status"]), (1, &json!("dead")), "{settled}");
    assert_eq!(down[0]["attempts"], 4);
    // Each attempt is on record with its answer and how long it took.
    let (status, detail) = app.get(&format!("/api/v1/deliveries/{}", flaky[0]["id"]), &app.admin).await;
    assert_eq!(status, 200, "{detail}");
    let codes: Vec<i64> =
        detail["attempts_log"].as_array().unwrap().iter().map(|a| a["status_code"].as_i64().unwrap()).collect();
    assert_eq!(codes, [500, 500, 500, 200], "{detail}");
    assert!(detail["attempts_log"].as_array().unwrap().iter().all(|a| a["duration_ms"].as_i64().unwrap() >= 0));
    assert_eq!(detail["attempts_log"][0]["error"], "the endpoint answered HTTP 500", "{detail}");
    assert_eq!(app.get("/api/v1/deliveries/99999", &app.admin).await.0, 404);
    assert!(down[0]["last_error"].as_str().unwrap().contains("HTTP 500"), "{settled}");

    // The reference library verifies every request the receiver got.
    let out = Command::new(python())
        .args(["-c", VERIFY, log.to_str().unwrap(), &Value::Object(secrets).to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "standardwebhooks refused a delivery: {}", String::from_utf8_lossy(&out.stderr));
    let got: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let at = |path: &str| -> Vec<&Value> { got.iter().filter(|r| r["path"] == path).collect() };
    // Deliveries are sent concurrently: they may arrive in any order (each says when it happened).
    let mut ok = at("/ok");
    ok.sort_by_key(|r| r["type"].as_str().unwrap().to_owned());
    assert_eq!(
        ok.iter().map(|r| r["type"].as_str().unwrap()).collect::<Vec<_>>(),
        ["account.created", "account.stage_changed"]
    );
    assert_eq!(ok[0]["data"]["name"], "Acme");
    assert_eq!((ok[1]["data"]["from"].as_str(), ok[1]["data"]["to"].as_str()), (Some("onboarding"), Some("adoption")));
    // Four attempts of one occurrence carry one id.
    let flaky = at("/flaky");
    assert_eq!(flaky.len(), 4);
    assert!(flaky.iter().all(|r| r["id"] == flaky[0]["id"] && r["type"] == "account.created"));
    assert_eq!(at("/down").len(), 4);

    // A dead delivery is retried by hand with the same id; a sent one cannot be.
    let dead = down_id(rows, &ids["/down"]);
    let (status, again) = app.post(&format!("/api/v1/deliveries/{dead}/retry"), &app.admin, json!({})).await;
    assert_eq!((status, again["status"].as_str()), (200, Some("queued")), "{again}");
    let sent = ok_id(rows, &ids["/ok"]);
    let (status, _) = app.post(&format!("/api/v1/deliveries/{sent}/retry"), &app.admin, json!({})).await;
    assert_eq!(status, 409);
    // Deleting the account is an event too.
    let res = app.call(reqwest::Method::DELETE, &format!("/api/v1/accounts/{id}"), &app.admin, None).await;
    assert_eq!(res.status(), 204);
    let mut deleted = false;
    for _ in 0..100 {
        let (_, page) = app.get("/api/v1/deliveries?status=sent", &app.admin).await;
        if page["data"].as_array().unwrap().len() == 4 {
            deleted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(deleted, "account.deleted was not delivered");
}

/// An app sending to a fresh receiver (private addresses allowed), its log and port.
async fn app_with_receiver(backend: Backend) -> (TestApp, std::path::PathBuf, Receiver, u16) {
    let log = tempdir().join("requests.jsonl");
    let (receiver, port) = receiver(&log);
    let app = TestApp::spawn_with(backend, |s| {
        s.deliveries.allow_private = true;
        s.deliveries.poll = Duration::from_millis(50);
    })
    .await;
    (app, log, receiver, port)
}

/// Every request the receiver got, verified by the reference library with `secrets` (path → secret).
fn verified(log: &std::path::Path, secrets: &Value) -> Vec<Value> {
    let out =
        Command::new(python()).args(["-c", VERIFY, log.to_str().unwrap(), &secrets.to_string()]).output().unwrap();
    assert!(out.status.success(), "standardwebhooks refused a delivery: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn accounts_written_by_an_import_stripe_or_segment_are_announced(backend: Backend) {
    let (app, log, _receiver, port) = app_with_receiver(backend).await;
    let events = json!(["account.created", "account.updated", "account.stage_changed"]);
    let url = format!("http://127.0.0.1:{port}/ok");
    let (status, endpoint) =
        app.post("/api/v1/webhook-endpoints", &app.admin, json!({"url": url, "events": events})).await;
    assert_eq!(status, 201, "{endpoint}");
    let (status, acme) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"name": "Acme", "external_ids": [{"kind": "crm", "value": "c-1"}]}),
        )
        .await;
    assert_eq!(status, 201, "{acme}");

    // An import updating Acme (moving its stage) and creating Bolt, named on two rows.
    let row = |name: &str, crm: &str, stage: Option<&str>| {
        keepwell_core::account::AccountInput {
            name: Some(name.into()),
            lifecycle_stage: stage.map(str::to_owned),
            external_ids: vec![("crm".into(), crm.into())],
            ..Default::default()
        }
        .validate()
        .unwrap()
    };
    let rows = [row("Acme", "c-1", Some("adoption")), row("Bolt", "c-2", None), row("Bolt Inc", "c-2", None)];
    let system = keepwell_server::cause::Caller::system("cli");
    let summary = keepwell_server::accounts::import(&app.store, &system, &rows, false, |_| ()).await.unwrap();
    assert_eq!((summary.created, summary.updated), (1, 2), "{summary:?}");
    // A dry run announces nothing.
    keepwell_server::accounts::import(&app.store, &system, &[row("Cobalt", "c-3", None)], true, |_| ()).await.unwrap();

    // A Stripe subscription for an unknown customer makes its account.
    let jan = 1_767_225_600; // 2026-01-01
    let sub = json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
        "start_date": jan, "current_period_start": jan, "current_period_end": jan + 31 * 86400, "cancel_at_period_end": false,
        "items": {"object": "list", "data": [{"id": "si_1", "quantity": 1, "price": {"id": "price_1", "nickname": "Team",
            "currency": "eur", "unit_amount": 2500, "recurring": {"interval": "month", "interval_count": 1}}}]}});
    let event = common::stripe_event("evt_1", "customer.subscription.created", jan, sub);
    let (status, body) = common::send_stripe(&app, &event, None).await;
    assert_eq!(status, 200, "{body}");

    // A Segment group call naming a new group makes its account.
    let (secret, hash, prefix) = keepwell_server::secrets::new_secret("wk");
    keepwell_server::people::create_write_key(&app.store, &system, "web", (&hash, &prefix)).await.unwrap();
    let group = json!({"type": "group", "userId": "u-1", "groupId": "g-7", "traits": {"name": "Gamma"},
                       "messageId": "m-1", "timestamp": "2026-11-30T10:00:00Z"});
    let res = app.http.post(app.url("/v1/group")).basic_auth(&secret, Some("")).json(&group).send().await.unwrap();
    assert_eq!(res.status(), 200);

    // Acme: created, updated, stage changed; Bolt once; Stripe's and Segment's accounts.
    for _ in 0..150 {
        if log.exists() && verified(&log, &json!({"/ok": endpoint["secret"]})).len() >= 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = verified(&log, &json!({"/ok": endpoint["secret"]}));
    let mut seen: Vec<(String, String)> = got
        .iter()
        .map(|r| (r["type"].as_str().unwrap().to_owned(), r["data"]["name"].as_str().unwrap_or_default().to_owned()))
        .collect();
    seen.sort();
    let want = [
        ("account.created", "Acme"),
        ("account.created", "Bolt Inc"),
        ("account.created", "Gamma"),
        ("account.created", "cus_1"),
        ("account.stage_changed", "Acme"),
        ("account.updated", "Acme"),
    ];
    assert_eq!(seen, want.map(|(t, n)| (t.to_owned(), n.to_owned())), "{got:?}");
    let moved = got.iter().find(|r| r["type"] == "account.stage_changed").unwrap();
    assert_eq!(moved["data"]["from"], "onboarding");
    assert_eq!((moved["data"]["to"].as_str(), moved["data"]["cause"].as_str()), (Some("adoption"), Some("import")));
}

/// A lifecycle rule's move (by the daily pass the new rule runs) says which rule made it; a
/// groupId linked to an account is an update of it, naming the new external id.
async fn stage_rules_and_linked_groups_are_announced(backend: Backend) {
    let (app, log, _receiver, port) = app_with_receiver(backend).await;
    let url = format!("http://127.0.0.1:{port}/ok");
    let events = json!(["account.updated", "account.stage_changed"]);
    let (status, endpoint) =
        app.post("/api/v1/webhook-endpoints", &app.admin, json!({"url": url, "events": events})).await;
    assert_eq!(status, 201, "{endpoint}");
    let (status, bolt) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Bolt", "employees": 20})).await;
    assert_eq!(status, 201, "{bolt}");
    let (status, big) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Big", "employees": 900})).await;
    assert_eq!(status, 201, "{big}");
    let rule = json!({"key": "small", "name": "Small accounts adopt", "stage": "adoption", "condition": "employees < 50", "priority": 1});
    let (status, body) = app.post("/api/v1/lifecycle-rules", &app.admin, rule).await;
    assert_eq!(status, 201, "{body}");
    let links = json!({"links": [{"group_id": "g-big", "account_id": big["id"]}]});
    let (status, body) = app.post("/api/v1/usage/unmatched/links", &app.admin, links).await;
    assert_eq!(status, 200, "{body}");

    let secrets = json!({"/ok": endpoint["secret"]});
    for _ in 0..150 {
        if log.exists() && verified(&log, &secrets).len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = verified(&log, &secrets);
    assert_eq!(got.len(), 2, "one stage move and one update: {got:?}");
    let moved = got.iter().find(|r| r["type"] == "account.stage_changed").expect("the rule's move is announced");
    assert_eq!(
        (&moved["data"]["account_id"], moved["data"]["name"].as_str(), moved["data"]["to"].as_str()),
        (&bolt["id"], Some("Bolt"), Some("adoption"))
    );
    assert_eq!(
        (moved["data"]["from"].as_str(), moved["data"]["cause"].as_str()),
        (Some("onboarding"), Some("rule:small"))
    );
    let linked = got.iter().find(|r| r["type"] == "account.updated").expect("the link is announced");
    assert_eq!(linked["data"]["id"], big["id"]);
    let ids = linked["data"]["external_ids"].as_array().unwrap();
    assert!(ids.iter().any(|e| e["kind"] == "segment" && e["value"] == "g-big"), "{linked}");
}

fn down_id(rows: &[Value], endpoint: &Value) -> i64 {
    rows.iter().find(|d| &d["endpoint_id"] == endpoint).unwrap()["id"].as_i64().unwrap()
}

fn ok_id(rows: &[Value], endpoint: &Value) -> i64 {
    down_id(rows, endpoint)
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kw-webhooks-{}-{}", std::process::id(), rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Endpoints are HTTPS on public hosts unless the operator allows otherwise, checked when they
/// are made (and again when connecting).
#[tokio::test]
async fn private_and_plain_endpoints_are_refused_by_default() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    for url in ["http://hooks.example.com/", "https://127.0.0.1/x", "https://10.0.0.1/", "https://[::1]/"] {
        let (status, problem) =
            app.post("/api/v1/webhook-endpoints", &app.admin, json!({"url": url, "events": ["account.created"]})).await;
        assert_eq!(status, 422, "{url}: {problem}");
        assert_eq!(problem["errors"][0]["field"], "url", "{problem}");
    }
    let (status, problem) = app
        .post(
            "/api/v1/webhook-endpoints",
            &app.admin,
            json!({"url": "https://hooks.example.com/", "events": ["account.eaten"]}),
        )
        .await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("events[0]")), "{problem}");
    let viewer = app.member_token("v@team.io", keepwell_core::Role::Manager).await;
    let (status, _) = app
        .post(
            "/api/v1/webhook-endpoints",
            &viewer,
            json!({"url": "https://hooks.example.com/", "events": ["account.created"]}),
        )
        .await;
    assert_eq!(status, 403, "only admins subscribe endpoints");
}

/// After a rotation, each delivery is signed with the new secret and the replaced one, so a
/// receiver verifies with either while it switches over; only admins rotate.
async fn a_rotated_secret_signs_with_both_meanwhile(backend: Backend) {
    let (app, log, _receiver, port) = app_with_receiver(backend).await;
    let url = format!("http://127.0.0.1:{port}/ok");
    let (status, created) =
        app.post("/api/v1/webhook-endpoints", &app.admin, json!({"url": url, "events": ["account.created"]})).await;
    assert_eq!(status, 201, "{created}");
    let (id, old) = (created["id"].as_i64().unwrap(), created["secret"].as_str().unwrap().to_owned());
    let manager = app.member_token("m@team.io", keepwell_core::Role::Manager).await;
    let rotate = format!("/api/v1/webhook-endpoints/{id}/rotate-secret");
    assert_eq!(app.post(&rotate, &manager, json!({})).await.0, 403, "only admins rotate");
    assert_eq!(app.post("/api/v1/webhook-endpoints/999/rotate-secret", &app.admin, json!({})).await.0, 404);
    let (status, rotated) = app.post(&rotate, &app.admin, json!({})).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    assert!(new.starts_with("whsec_") && new != old, "{rotated}");
    let (_, listed) = app.get("/api/v1/webhook-endpoints", &app.admin).await;
    assert!(!listed.to_string().contains("whsec_"), "{listed}");

    let (status, _) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme"})).await;
    assert_eq!(status, 201);
    for _ in 0..200 {
        let (_, page) = app.get("/api/v1/deliveries", &app.admin).await;
        if page["data"].as_array().unwrap().iter().any(|d| d["status"] == "sent") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for secret in [&old, &new] {
        let out = Command::new(python())
            .args(["-c", VERIFY, log.to_str().unwrap(), &json!({"/ok": secret}).to_string()])
            .output()
            .unwrap();
        assert!(out.status.success(), "standardwebhooks refused: {}", String::from_utf8_lossy(&out.stderr));
        let got: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(got.len(), 1, "one delivery: {got:?}");
        assert_eq!(got[0]["type"], "account.created");
    }
}

/// A playbook's actions beyond tasks, through real receivers: it assigns the account, tells the new
/// owner in the app and by e-mail (aiosmtpd), calls a Standard Webhooks endpoint (verified by the
/// reference library) and a Slack-compatible one (`{"text": …}`, unsigned), each once however
/// often the day's pass runs; a call to an endpoint deleted since is a failed action, with why.
async fn a_playbook_assigns_emails_and_calls_a_webhook_and_slack_once(backend: Backend) {
    let maildir = tempdir().join("mail");
    let (_smtp, smtp_port) = common::smtp_server(&maildir).await;
    let log = tempdir().join("requests.jsonl");
    let (_receiver, port) = receiver(&log);
    let app = TestApp::spawn_with(backend, |s| {
        s.mail = Some(keepwell_server::mail::MailSettings {
            smtp_url: format!("smtp://127.0.0.1:{smtp_port}?tls=none"),
            from: "Keepwell <cs@keepwell.test>".into(),
        });
        s.deliveries.allow_private = true;
        s.deliveries.poll = Duration::from_millis(50);
    })
    .await;
    let dee = app.member("dee@team.io", keepwell_core::Role::Csm).await;
    let sam = app.member("sam@team.io", keepwell_core::Role::Csm).await;
    let (status, acme) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "owner_id": dee})).await;
    assert_eq!(status, 201, "{acme}");
    let acme = acme["id"].as_i64().unwrap();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let mut secrets = serde_json::Map::new();
    for (path, format) in [("/hook", "standard"), ("/slack", "slack"), ("/gone", "standard")] {
        let body = json!({"url": url(path), "events": ["playbook.fired"], "format": format});
        let (status, created) = app.post("/api/v1/webhook-endpoints", &app.admin, body).await;
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["format"], format);
        secrets.insert(path.into(), created["secret"].clone());
    }
    let (status, wrong) = app
        .post(
            "/api/v1/webhook-endpoints",
            &app.admin,
            json!({"url": url("/x"), "events": ["account.created"], "format": "teams"}),
        )
        .await;
    assert_eq!((status, common::fields(&wrong)), (422, vec!["format".to_owned()]), "{wrong}");

    // What a playbook names must exist when it is saved.
    let playbook = |key: &str, actions: Value| {
        json!({"key": key, "name": format!("Onboarding {key}"),
               "trigger": {"kind": "condition", "condition": "stage = \"onboarding\""}, "actions": actions})
    };
    let bad = playbook(
        "bad",
        json!([{"kind": "assign", "member": "nobody@team.io"},
                                     {"kind": "webhook", "url": url("/unknown")}]),
    );
    let (status, refused) = app.post("/api/v1/playbooks", &app.admin, bad).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(common::fields(&refused), ["actions[0].member", "actions[1].url"], "{refused}");

    let actions = json!([
        {"kind": "assign", "member": "sam@team.io"},
        {"kind": "notify", "message": "Welcome call due", "email": true},
        {"kind": "webhook", "url": url("/hook"), "message": "Book the welcome call"},
        {"kind": "webhook", "url": url("/slack"), "message": "Acme is new: book the welcome call"},
    ]);
    let (status, saved) = app.post("/api/v1/playbooks", &app.admin, playbook("welcome", actions)).await;
    assert_eq!(status, 201, "{saved}");
    let (status, _) = app
        .post("/api/v1/playbooks", &app.admin, playbook("gone", json!([{"kind": "webhook", "url": url("/gone")}])))
        .await;
    assert_eq!(status, 201);
    let (_, endpoints) = app.get("/api/v1/webhook-endpoints", &app.admin).await;
    let gone = endpoints["data"].as_array().unwrap().iter().find(|e| e["url"] == url("/gone")).unwrap()["id"].clone();
    assert_eq!(app.delete(&format!("/api/v1/webhook-endpoints/{gone}"), &app.admin).await, 204);
    for key in ["welcome", "gone"] {
        let (status, on) = app.patch(&format!("/api/v1/playbooks/{key}"), &app.admin, json!({"enabled": true})).await;
        assert_eq!(status, 200, "{on}");
    }
    // The day's pass, three times: each action once.
    let today = app.store.clock().today();
    for _ in 0..3 {
        keepwell_server::daily::run(
            &app.store,
            "USD",
            keepwell_server::daily::PassDays::CatchUpTo(today),
            Duration::from_secs(30),
            |_, _| {},
        )
        .await
        .unwrap();
    }
    let (_, account) = app.get(&format!("/api/v1/accounts/{acme}"), &app.admin).await;
    assert_eq!(account["owner"]["id"].as_i64(), Some(sam), "{account}");
    let (_, runs) = app.get("/api/v1/playbooks/welcome/runs", &app.admin).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let outcomes: Vec<(&str, &str)> = runs[0]["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["kind"].as_str().unwrap(), a["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcomes,
        [("assign", "done"), ("notify", "done"), ("webhook", "done"), ("webhook", "done")],
        "{runs:?}"
    );
    let (_, gone_runs) = app.get("/api/v1/playbooks/gone/runs", &app.admin).await;
    let failed = &gone_runs[0]["actions"][0];
    assert_eq!(failed["outcome"], "failed", "{gone_runs}");
    assert!(failed["detail"].as_str().unwrap().starts_with("no webhook endpoint is subscribed at"), "{gone_runs}");

    // The new owner's e-mail, once.
    let mail = common::arrived(&maildir, 1).await;
    assert_eq!(mail.len(), 1, "{mail:?}");
    assert_eq!(mail[0]["to"], "sam@team.io");
    assert_eq!(mail[0]["subject"], "Acme: Welcome call due");
    assert!(mail[0]["text"].as_str().unwrap().contains("Onboarding welcome"), "{}", mail[0]["text"]);
    let sam_token = app.member_token("sam@team.io", keepwell_core::Role::Csm).await;
    let (_, bell) = app.get("/api/v1/notifications?unread=true", &sam_token).await;
    assert_eq!(bell["data"].as_array().unwrap().iter().filter(|n| n["kind"] == "playbook").count(), 1, "{bell}");

    // The webhook and the Slack message, once each.
    let read = || -> Vec<Value> {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        text.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    for _ in 0..100 {
        if read().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let lines = read();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let slack = lines.iter().find(|l| l["path"] == "/slack").expect("the Slack message");
    let text: Value = serde_json::from_str(slack["body"].as_str().unwrap()).unwrap();
    assert!(text["text"].as_str().unwrap().starts_with("Acme: Acme is new: book the welcome call"), "{text}");
    assert!(slack["headers"].get("webhook-signature").is_none(), "{slack}");
    let hook = lines.iter().find(|l| l["path"] == "/hook").expect("the webhook");
    let only_hook = tempdir().join("hook.jsonl");
    std::fs::write(&only_hook, format!("{hook}\n")).unwrap();
    let got = verified(&only_hook, &Value::Object(secrets));
    assert_eq!(got[0]["type"], "playbook.fired");
    let data = &got[0]["data"];
    assert_eq!((data["playbook"].as_str(), data["account_id"].as_i64()), (Some("welcome"), Some(acme)), "{data}");
    assert_eq!(data["message"], "Book the welcome call");
    assert_eq!(data["day"].as_str(), Some(today.to_string().as_str()));
}

/// A playbook e-mails an account's contacts each in their language (aiosmtpd), with replies to the
/// owner and a one-click unsubscribe (RFC 8058) that every later send honours; no contact gets
/// more than three playbook e-mails a week; the owner can be e-mailed too.
async fn a_playbook_emails_contacts_who_can_unsubscribe_in_one_click(backend: Backend) {
    let maildir = tempdir().join("mail");
    let (_smtp, smtp_port) = common::smtp_server(&maildir).await;
    let app = TestApp::spawn_with(backend, |s| {
        s.mail = Some(keepwell_server::mail::MailSettings {
            smtp_url: format!("smtp://127.0.0.1:{smtp_port}?tls=none"),
            from: "Keepwell <cs@keepwell.test>".into(),
        });
        s.deliveries.poll = Duration::from_millis(50);
    })
    .await;
    let dee = app.member("dee@team.io", keepwell_core::Role::Csm).await;
    let (_, acme) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "owner_id": dee})).await;
    let acme = acme["id"].as_i64().unwrap();
    for (email, name, locale, role) in
        [("ana@acme.io", "Ana", "ru-RU", "champion"), ("ben@acme.io", "Ben", "en", "user")]
    {
        let body = json!({"account_id": acme, "email": email, "name": name, "locale": locale, "role": role});
        let (status, c) = app.post("/api/v1/contacts", &app.admin, body).await;
        assert_eq!(status, 201, "{c}");
    }
    let hello = |key: &str, to: &str| {
        json!({"key": key, "name": key, "trigger": {"kind": "condition", "condition": "mrr > 1000000"},
            "actions": [{"kind": "email", "to": to, "texts": {
                "en": {"subject": "Hello {name}", "body": "Hi {name},\n\nWelcome to {account}. Your CSM is {owner}."},
                "ru": {"subject": "Привет, {name}", "body": "Здравствуйте, {name}!\n\nВаш менеджер: {owner}."}}}]})
    };
    let mut bad = hello("bad", "everyone");
    bad["actions"][0]["texts"]["de"] = json!({"subject": "Hallo", "body": "Hallo"});
    let (status, refused) = app.post("/api/v1/playbooks", &app.admin, bad).await;
    assert_eq!(
        common::fields(&refused),
        ["actions[0].texts", "actions[0].texts.de", "actions[0].to"],
        "{status} {refused}"
    );
    for n in 1..=4 {
        assert_eq!(app.post("/api/v1/playbooks", &app.admin, hello(&format!("hello-{n}"), "contacts")).await.0, 201);
    }
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, hello("tell-dee", "owner")).await.0, 201);
    let start = async |key: &str| {
        let (status, started) =
            app.post(&format!("/api/v1/playbooks/{key}/start"), &app.admin, json!({"account_ids": [acme]})).await;
        assert_eq!(status, 200, "{started}");
    };
    start("hello-1").await;
    let mail = common::arrived(&maildir, 2).await;

    assert_eq!(mail.len(), 2, "{mail:?}");
    let to = |m: &str| mail.iter().find(|x| x["to"] == m).unwrap().clone();
    let (ana, ben) = (to("ana@acme.io"), to("ben@acme.io"));
    assert_eq!((ana["subject"].as_str(), ben["subject"].as_str()), (Some("Привет, Ana"), Some("Hello Ben")));
    assert!(ben["text"].as_str().unwrap().contains("Welcome to Acme. Your CSM is dee."), "{}", ben["text"]);
    assert_eq!(ana["reply_to"], "dee@team.io", "replies go to the owner");
    assert_eq!(ana["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    let link = ana["list_unsubscribe"].as_str().unwrap().trim().trim_matches(['<', '>']).to_owned();
    assert!(ana["text"].as_str().unwrap().contains(&link), "the link is in the text too: {link:?} {}", ana["text"]);
    let path = &link[link.find("/unsubscribe/").unwrap()..];

    // The link: a GET only asks; a one-click POST (no session, no CSRF token) unsubscribes; a forged one does nothing.
    let client = reqwest::Client::new();
    let asked = client.get(app.url(path)).send().await.unwrap();
    assert_eq!(asked.status(), 200);
    assert!(asked.text().await.unwrap().contains("unsubscribe-button"));
    let forged = format!("{}-{}", &path[13..path.find('-').unwrap()], "0".repeat(32));
    let refused = client
        .post(app.url(&format!("/unsubscribe/{forged}")))
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404);
    let clicked = client
        .post(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(clicked.status(), 200);
    assert!(clicked.text().await.unwrap().contains("ana@acme.io is unsubscribed"));

    // Ana deleted and entered again: her address stays unsubscribed.
    let (_, found) = app.get(&format!("/api/v1/contacts?account_id={acme}"), &app.admin).await;
    let ana_id = found["data"].as_array().unwrap().iter().find(|c| c["email"] == "ana@acme.io").unwrap()["id"].clone();
    assert_eq!(app.delete(&format!("/api/v1/contacts/{ana_id}"), &app.admin).await, 204);
    let again = json!({"account_id": acme, "email": "Ana@acme.io", "name": "Ana", "locale": "ru", "role": "champion"});
    assert_eq!(app.post("/api/v1/contacts", &app.admin, again).await.0, 201);

    // Later sends: Ana never again; Ben up to three a week.
    for key in ["hello-2", "hello-3", "hello-4"] {
        start(key).await;
    }
    let mail = common::arrived(&maildir, 4).await;
    let (to_ana, to_ben) = (
        mail.iter().filter(|m| m["to"] == "ana@acme.io").count(),
        mail.iter().filter(|m| m["to"] == "ben@acme.io").count(),
    );
    assert_eq!((to_ana, to_ben), (1, 3), "{mail:?}");
    let (_, runs) = app.get("/api/v1/playbooks/hello-4/runs", &app.admin).await;
    assert_eq!(
        (runs[0]["actions"][0]["outcome"].as_str(), runs[0]["actions"][0]["detail"].as_str()),
        (Some("failed"), Some("no contact e-mailed (not: 1 unsubscribed, 1 already had 3 playbook e-mails this week)")),
        "{runs}"
    );
    start("tell-dee").await;
    let mail = common::arrived(&maildir, 5).await;
    let dee_mail: Vec<&Value> = mail.iter().filter(|m| m["to"] == "dee@team.io").collect();
    assert_eq!(dee_mail.len(), 1, "{mail:?}");
    assert!(dee_mail[0]["list_unsubscribe"].is_null(), "a member's e-mail has no unsubscribe: {:?}", dee_mail[0]);
}
