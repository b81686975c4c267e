//! Notification e-mail, received by a real SMTP server process (Python's `aiosmtpd`, installed by
//! scripts/test): today's pass finds an account's band changed, and its owner gets one e-mail in
//! their language, plain text and HTML, with a working link; a member who turned them off gets none.

mod common;

use common::{arrived, messages, smtp_server, SmtpServer, TestApp};
use keepwell_core::billing::PeriodInput;
use keepwell_core::Role;
use keepwell_server::cause::Caller;
use keepwell_store::Backend;
use serde_json::json;
use std::time::Duration;

macro_rules! on_both_backends_with_a_mail_server {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both_backends_with_a_mail_server!(
    an_owner_is_told_of_a_band_change_in_their_language,
    a_member_gets_one_weekly_digest_of_their_book,
    the_admin_is_told_when_a_failing_endpoint_is_switched_off,
    a_playbook_and_the_owner_s_own_band_change_notice_are_one_delivery,
);

/// An app sending e-mail to a fresh aiosmtpd, the maildir it fills, and the server process.
async fn app_with_mail(backend: Backend) -> (TestApp, std::path::PathBuf, SmtpServer) {
    let maildir = std::env::temp_dir().join(format!("kw-mail-{}-{}", std::process::id(), rand::random::<u64>()));
    let (smtp, port) = smtp_server(&maildir).await;
    let app = TestApp::spawn_with(backend, |s| {
        s.mail = Some(keepwell_server::mail::MailSettings {
            smtp_url: format!("smtp://127.0.0.1:{port}?tls=none"),
            from: "Keepwell <cs@keepwell.test>".into(),
        });
        s.base_url = Some("https://cs.example.com".into());
        s.deliveries.poll = Duration::from_millis(50);
        s.deliveries.allow_private = true;
    })
    .await;
    (app, maildir, smtp)
}

fn period(
    crm: &str,
    (amount, interval): (&str, &str),
    (starts_on, renews_on): (chrono::NaiveDate, Option<chrono::NaiveDate>),
) -> (String, keepwell_core::billing::Period) {
    PeriodInput {
        account_external_id: Some(crm.into()),
        subscription_id: Some(format!("sub_{crm}")),
        plan: Some("pro".into()),
        currency: Some("USD".into()),
        amount: Some(amount.into()),
        interval: Some(interval.into()),
        starts_on: Some(starts_on.to_string()),
        renews_on: renews_on.map(|d| d.to_string()),
        ..Default::default()
    }
    .validate()
    .unwrap()
}

async fn a_member_gets_one_weekly_digest_of_their_book(backend: Backend) {
    let (app, maildir, _smtp) = app_with_mail(backend).await;
    let dee = app.member("dee@team.io", Role::Csm).await;
    let token = app.member_token("dee@team.io", Role::Csm).await;
    // A zone where it is past Monday 08:00 of this week (Tokyo runs 9 hours ahead of UTC, so one
    // of the two always is).
    let now = app.store.clock().now();
    let zone = ["UTC", "Asia/Tokyo"].into_iter().find(|z| keepwell_server::digest::due_week(now, z).is_some()).unwrap();
    let week = keepwell_server::digest::due_week(now, zone).unwrap();

    let today = app.store.clock().today();
    let week_ago = today - chrono::Days::new(7);
    let mut ids = Vec::new();
    for (name, crm) in [("Acme", "c-1"), ("Bolt", "c-2")] {
        let body = json!({"name": name, "owner_id": dee, "external_ids": [{"kind": "crm", "value": crm}]});
        let (status, a) = app.post("/api/v1/accounts", &app.admin, body).await;
        assert_eq!(status, 201, "{a}");
        ids.push(a["id"].as_i64().unwrap());
    }
    // Acme: a yearly contract renewing in 65 days; Bolt: monthly, so not a contract renewal.
    let periods = [
        period("c-1", ("12000", "year"), (today - chrono::Days::new(300), Some(today + chrono::Days::new(65)))),
        period("c-2", ("100", "month"), (today - chrono::Days::new(300), Some(today + chrono::Days::new(10)))),
    ];
    let system = Caller::system("test");
    keepwell_server::billing::import_periods(&app.store, &system, &periods, false, |_| {}).await.unwrap();
    // Acme was green a week ago and is red today.
    let health = |score: i64, from: chrono::NaiveDate| {
        keepwell_server::health::add_override(
            &app.store,
            &system,
            ids[0],
            score.into(),
            "as seen",
            (from, from + chrono::Days::new(1)),
        )
    };
    health(95, week_ago).await.unwrap();
    health(10, today).await.unwrap();
    app.store.run_days("USD", week_ago, week_ago, |_, _| {}).await.unwrap();
    app.store.run_days("USD", today, today, |_, _| {}).await.unwrap();

    // Subscribed once the book is in place (the job worker asks too, every minute).
    let settings = json!({"band_changed": false, "weekly_digest": true, "time_zone": zone});
    let (status, body) = app.put(&format!("/api/v1/users/{dee}/notifications"), &token, settings).await;
    assert_eq!(status, 200, "{body}");
    keepwell_server::digest::ask(&app.store).await.unwrap();
    assert_eq!(keepwell_server::digest::ask(&app.store).await.unwrap(), 0, "asked for once a week");
    assert_eq!(app.store.jobs(Some(&format!("weekly_digest:{dee}:{week}")), 5).await.unwrap().len(), 1);
    let got = arrived(&maildir, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    // A second run of the same week's digest (another node, a retried job) sends nothing more.
    let payload = json!({"user": dee, "week": week});
    let at = app.store.clock().now().timestamp_micros();
    app.store.enqueue_job("weekly_digest", "weekly_digest:again", &payload, at, at).await.unwrap();
    for _ in 0..100 {
        if app.store.jobs(Some("weekly_digest:again"), 1).await.unwrap()[0].status == "done" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.store.jobs(Some("weekly_digest:again"), 1).await.unwrap()[0].status, "done");
    // The job wrote what it would write: a second delivery would be queued already.
    let got = arrived(&maildir, 1).await;
    assert_eq!(got.len(), 1, "one digest a week: {got:?}");

    let m = &got[0];
    assert_eq!(m["to"], "dee@team.io");
    assert_eq!(m["subject"], format!("Your book this week ({week}): 1 red, 0 yellow, 1 green"), "{m}");
    let text = m["text"].as_str().unwrap();
    for part in [
        "Your book as of ".to_owned() + &today.to_string() + ": 2 accounts.",
        "Green 1 · Yellow 0 · Red 1 · Unscored 0".into(),
        format!("Band changes since {week_ago}:"),
        "- Acme: Green → Red".into(),
        format!("https://cs.example.com/accounts/{}", ids[0]),
        "One contract renewal in the next 90 days, 12000.00 USD ARR:".into(),
        format!("- Acme: 12000.00 USD, due {}, in 65 days", today + chrono::Days::new(65)),
        format!("https://cs.example.com/accounts?owner={dee}"),
        "https://cs.example.com/me".into(),
    ] {
        assert!(text.contains(&part), "{part:?} is not in:\n{text}");
    }
    assert!(!text.contains("Bolt:"), "Bolt neither changed band nor renews a contract:\n{text}");
    let html = m["html"].as_str().unwrap().replace("&#x2f;", "/");
    assert!(html.contains(&format!("href=\"https://cs.example.com/accounts?owner={dee}\"")), "{html}");
    let (_, page) = app.get("/api/v1/deliveries?channel=email", &app.admin).await;
    let rows = page["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{page}");
    assert_eq!((rows[0]["event"].as_str(), rows[0]["status"].as_str()), (Some("weekly_digest"), Some("sent")));
}

async fn the_admin_is_told_when_a_failing_endpoint_is_switched_off(backend: Backend) {
    let (app, maildir, _smtp) = app_with_mail(backend).await;
    // Nothing listens on this port: every delivery fails.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let (status, endpoint) =
        app.post("/api/v1/webhook-endpoints", &app.admin, json!({"url": url, "events": ["account.created"]})).await;
    assert_eq!(status, 201, "{endpoint}");
    let id = endpoint["id"].as_i64().unwrap();
    // It has been failing for 25 hours, the last time a minute ago.
    let now = app.store.clock().now().timestamp_micros();
    let hour = 3_600_000_000i64;
    keepwell_store::testing::execute(
        &app.store,
        &format!(
            "UPDATE webhook_endpoints SET failing_since = {}, last_failed_at = {} WHERE id = {id}",
            now - 25 * hour,
            now - 60_000_000
        ),
    )
    .await;
    let (status, a) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme"})).await;
    assert_eq!(status, 201, "{a}");
    let got = arrived(&maildir, 1).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let m = &got[0];
    assert_eq!(m["to"], "admin@team.io");
    assert_eq!(m["subject"], format!("Webhooks to http://127.0.0.1:{port}/… are switched off"), "{m}");
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("failed for a day") && text.contains("https://cs.example.com/settings/webhooks"), "{text}");
    let (_, endpoints) = app.get("/api/v1/webhook-endpoints", &app.admin).await;
    assert!(endpoints["data"][0]["disabled_at"].is_string(), "{endpoints}");
}

async fn an_owner_is_told_of_a_band_change_in_their_language(backend: Backend) {
    let (app, maildir, _smtp) = app_with_mail(backend).await;
    let ann = app.member("ann@team.io", Role::Csm).await;
    app.store.set_user_locale(ann, Some("ru")).await.unwrap();
    let bob = app.member("bob@team.io", Role::Csm).await;
    let bob_token = app.member_token("bob@team.io", Role::Csm).await;
    let (status, off) = app
        .put(
            &format!("/api/v1/users/{bob}/notifications"),
            &bob_token,
            json!({"band_changed": false, "weekly_digest": false, "time_zone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(status, 200, "{off}");
    let (status, _) = app.get(&format!("/api/v1/users/{ann}/notifications"), &bob_token).await;
    assert_eq!(status, 403, "a member reads only their own");
    let (status, problem) = app
        .put(
            &format!("/api/v1/users/{bob}/notifications"),
            &bob_token,
            json!({"band_changed": true, "weekly_digest": false, "time_zone": "Mars/Olympus"}),
        )
        .await;
    assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("time_zone")), "{problem}");

    let today = app.store.clock().today();
    let yesterday = today.pred_opt().unwrap();
    let mut ids = Vec::new();
    for (name, owner, crm) in [("Acme", ann, "c-1"), ("Bolt", bob, "c-2")] {
        let (status, a) = app
            .post(
                "/api/v1/accounts",
                &app.admin,
                json!({"name": name, "owner_id": owner, "external_ids": [{"kind": "crm", "value": crm}]}),
            )
            .await;
        assert_eq!(status, 201, "{a}");
        ids.push(a["id"].as_i64().unwrap());
    }
    let periods: Vec<_> = ["c-1", "c-2"]
        .iter()
        .enumerate()
        .map(|(i, crm)| {
            PeriodInput {
                account_external_id: Some((*crm).into()),
                subscription_id: Some(format!("sub_{i}")),
                plan: Some("pro".into()),
                currency: Some("USD".into()),
                amount: Some("1000".into()),
                interval: Some("month".into()),
                starts_on: Some("2026-01-01".into()),
                ..Default::default()
            }
            .validate()
            .unwrap()
        })
        .collect();
    let system = Caller::system("test");
    keepwell_server::billing::import_periods(&app.store, &system, &periods, false, |_| {}).await.unwrap();
    app.store.run_days("USD", yesterday, yesterday, |_, _| {}).await.unwrap();
    for id in &ids {
        let until = today + chrono::Days::new(30);
        keepwell_server::health::add_override(&app.store, &system, *id, 10.into(), "champion left", (today, until))
            .await
            .unwrap();
    }
    app.store.run_days("USD", today, today, |_, _| {}).await.unwrap();
    // The day again: nothing more is sent.
    app.store.run_days("USD", today, today, |_, _| {}).await.unwrap();

    for _ in 0..100 {
        if maildir.join("new").exists() && !messages(&maildir).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Time for a second message, were one (wrongly) on its way.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = messages(&maildir);
    assert_eq!(got.len(), 1, "one e-mail, to Ann only: {got:?}");
    let m = &got[0];
    assert_eq!(m["to"], "ann@team.io");
    assert_eq!(m["from"], "Keepwell <cs@keepwell.test>");
    assert_eq!(m["type"], "multipart/alternative");
    assert_eq!(m["subject"], "Acme: теперь Красный", "{m}");
    let link = format!("https://cs.example.com/accounts/{}", ids[0]);
    let text = m["text"].as_str().unwrap();
    assert!(text.contains("Здравствуйте, ann!") && text.contains(&link) && text.contains("Красный"), "{text}");
    // The HTML escapes "/" as &#x2f;, which every mail client decodes.
    let html = m["html"].as_str().unwrap().replace("&#x2f;", "/");
    assert!(html.contains(&format!("href=\"{link}\"")) && html.contains("<strong>Красный</strong>"), "{html}");
    assert!(m["message_id"].as_str().unwrap().starts_with("<msg_"), "{m}");
    // The delivery says so where a manager looks.
    let (_, page) = app.get("/api/v1/deliveries?channel=email", &app.admin).await;
    let rows = page["data"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{page}");
    assert_eq!((rows[0]["status"].as_str(), rows[0]["recipient"].as_str()), (Some("sent"), Some("ann@team.io")));
}

/// A playbook fired by a band change (a task and a notice with `email = true`) and the owner's
/// own band-change notice for the same occurrence are one bell entry and one e-mail, which name
/// the playbook's words; a day with no band change gets the playbook's own.
async fn a_playbook_and_the_owner_s_own_band_change_notice_are_one_delivery(backend: Backend) {
    let (app, maildir, _smtp) = app_with_mail(backend).await;
    let ann = app.member("ann@team.io", Role::Csm).await;
    let ann_token = app.member_token("ann@team.io", Role::Csm).await;
    let today = app.store.clock().today();
    let yesterday = today.pred_opt().unwrap();
    let body = json!({"name": "Acme", "owner_id": ann, "external_ids": [{"kind": "crm", "value": "c-1"}]});
    let (status, a) = app.post("/api/v1/accounts", &app.admin, body).await;
    assert_eq!(status, 201, "{a}");
    let acme = a["id"].as_i64().unwrap();
    let periods = [period("c-1", ("1000", "month"), (today - chrono::Days::new(300), None))];
    let system = Caller::system("test");
    keepwell_server::billing::import_periods(&app.store, &system, &periods, false, |_| {}).await.unwrap();
    let red = json!({"key": "red-alert", "name": "Red alert", "trigger": {"kind": "health", "band": "red"},
        "actions": [{"kind": "task", "title": "Find out why"}, {"kind": "notify", "message": "Call them this week", "email": true}]});
    let (status, saved) = app.post("/api/v1/playbooks", &app.admin, red).await;
    assert_eq!(status, 201, "{saved}");
    common::tick(&app, yesterday).await;
    let (status, on) = app.patch("/api/v1/playbooks/red-alert", &app.admin, json!({"enabled": true})).await;
    assert_eq!(status, 200, "{on}");
    let until = today + chrono::Days::new(30);
    keepwell_server::health::add_override(&app.store, &system, acme, 10.into(), "champion left", (today, until))
        .await
        .unwrap();
    common::tick(&app, today).await;

    let (_, runs) = app.get("/api/v1/playbooks/red-alert/runs", &app.admin).await;
    assert_eq!(runs.as_array().map(Vec::len), Some(1), "it fired on the band change: {runs}");
    let (_, bell) = app.get("/api/v1/notifications", &ann_token).await;
    let items = bell["data"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one bell entry for the occurrence: {bell}");
    assert_eq!(items[0]["kind"], "band_changed", "{bell}");
    let words: Vec<&str> =
        items[0]["data"]["playbooks"].as_array().unwrap().iter().map(|w| w["title"].as_str().unwrap()).collect();
    assert_eq!(words, ["Find out why", "Call them this week"], "{bell}");
    assert!(items[0]["task_id"].as_i64().is_some(), "it links the task the playbook opened: {bell}");
    let got = arrived(&maildir, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got = if got.len() == 1 { messages(&maildir) } else { got };
    assert_eq!(got.len(), 1, "one e-mail for the occurrence: {got:?}");
    let text = got[0]["text"].as_str().unwrap();
    assert!(text.contains("Acme") && text.contains("Call them this week (playbook Red alert)"), "{text}");
    let (_, page) = app.get("/api/v1/deliveries?channel=email", &app.admin).await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1), "{page}");
    let (status, html) =
        common::page(&common::logged_in(&app, "ann@team.io", Role::Csm).await.0, &app, "/notifications").await;
    assert_eq!(status, 200);
    assert!(html.contains("Call them this week (playbook Red alert)"), "{html}");
}
