//! Notification e-mail, received by a real SMTP server process (Python's `aiosmtpd`, installed by
//! scripts/test): today's pass finds an account's band changed, and its owner gets one e-mail in
//! their language, plain text and HTML, with a working link; a member who turned them off gets none.

mod common;

use common::{python, TestApp};
use keepwell_core::billing::PeriodInput;
use keepwell_core::Role;
use keepwell_server::cause::Caller;
use keepwell_store::Backend;
use serde_json::{json, Value};
use std::process::{Child, Command};
use std::time::Duration;

macro_rules! on_both_backends_with_a_mail_server {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both_backends_with_a_mail_server!(an_owner_is_told_of_a_band_change_in_their_language);

struct SmtpServer(Child);

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// aiosmtpd on a free loopback port, saving every message into `maildir`.
async fn smtp_server(maildir: &std::path::Path) -> (SmtpServer, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server = SmtpServer(
        Command::new(python())
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .spawn()
            .expect("run python3 -m aiosmtpd (scripts/test installs it; KEEPWELL_TEST_PYTHON names the interpreter)"),
    );
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (server, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("aiosmtpd did not start on port {port}");
}

/// Every message in the maildir, decoded by Python's own e-mail parser.
const READ: &str = r#"
import json, mailbox, sys
out = []
for m in mailbox.Maildir(sys.argv[1], create=False):
    from email import policy
    from email.parser import BytesParser
    msg = BytesParser(policy=policy.default).parsebytes(m.as_bytes())
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    out.append({"to": msg["To"], "from": msg["From"], "subject": msg["Subject"], "message_id": msg["Message-ID"],
                "type": msg.get_content_type(), "text": text, "html": html})
print(json.dumps(out))
"#;

fn messages(maildir: &std::path::Path) -> Vec<Value> {
    let out = Command::new(python()).args(["-c", READ]).arg(maildir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn an_owner_is_told_of_a_band_change_in_their_language(backend: Backend) {
    let maildir = std::env::temp_dir().join(format!("kw-mail-{}-{}", std::process::id(), rand::random::<u64>()));
    let (_smtp, port) = smtp_server(&maildir).await;
    let app = TestApp::spawn_with(backend, |s| {
        s.mail = Some(keepwell_server::mail::MailSettings {
            smtp_url: format!("smtp://127.0.0.1:{port}?tls=none"),
            from: "Keepwell <cs@keepwell.test>".into(),
        });
        s.base_url = Some("https://cs.example.com".into());
        s.deliveries.poll = Duration::from_millis(50);
    })
    .await;
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
