//! Segment's own Python library (`segment-analytics-python`, installed by scripts/test) sends
//! identify, group, track and page calls to a running `keepwell serve`, unchanged but for its
//! host and write key.

mod common;

use common::{free_port, python, ready, serve, write_key};
use keepwell_store::testing::fresh_database_url;
use keepwell_store::usage::EventFilter;
use keepwell_store::{Backend, Store};
use std::process::Command;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::fresh_database_url(super::Backend::Sqlite).await).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::fresh_database_url(super::Backend::Postgres).await).await } )* }
    };
}

on_both_backends!(segments_python_library_works_unchanged);

const CLIENT: &str = r#"
import sys
import segment.analytics as analytics

host, key = sys.argv[1], sys.argv[2]
errors = []
client = analytics.Client(key, host=host, gzip=True, on_error=lambda e, batch: errors.append(repr(e)))
client.track(anonymous_id="anon-7", event="Pricing Viewed")
client.identify("u-ann", {"email": "Ann@Acme.io", "name": "Ann Lee", "title": "Head of Ops"}, anonymous_id="anon-7")
client.group("u-ann", "g-acme", {"name": "Acme Corp", "employees": 120, "industry": "Logistics"})
for n in range(3):
    client.track("u-ann", "Report Built", {"rows": n})
client.page("u-ann", name="Settings", properties={"path": "/settings"})
client.flush()
client.shutdown()
if errors:
    sys.exit("the library reported: " + "; ".join(errors))
print("sent")
"#;

async fn segments_python_library_works_unchanged(url: String) {
    let key = write_key(&url);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(&url, port);
    let http = reqwest::Client::new();
    ready(&http, &base).await;
    let out = Command::new(python()).args(["-c", CLIENT, &base, &key]).output().expect("run python3");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "the Segment client failed (scripts/test installs segment-analytics-python; KEEPWELL_TEST_PYTHON names \
         the interpreter): {said}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_keepwell"))
        .args(["token", "create", "--name", "read", "--role", "viewer", "--database-url", &url])
        .output()
        .unwrap();
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();

    let store = Store::connect(&url).await.unwrap();
    let all = store.events(&EventFilter { limit: 100, ..Default::default() }).await.unwrap().data;
    assert_eq!(all.len(), 7, "every call arrived once: {:?}", all.iter().map(|e| &e.kind).collect::<Vec<_>>());
    assert!(all.iter().all(|e| e.context.as_ref().is_some_and(|c| c.get().contains("analytics-python"))));
    assert!(all.iter().all(|e| e.sent_at.is_some()), "the library's sentAt is kept");
    let acme = store.account_id_by_external_id("segment", "g-acme").await.unwrap().expect("the group made the account");
    let account = store.account(acme).await.unwrap().unwrap();
    assert_eq!((account.name.as_str(), account.employees), ("Acme Corp", Some(120)));
    let contacts =
        store.contacts(&keepwell_store::contacts::ContactFilter { limit: 10, ..Default::default() }).await.unwrap();
    let ann = &contacts.data[0];
    assert_eq!((ann.email.as_str(), ann.name.as_deref(), ann.account_id), ("ann@acme.io", Some("Ann Lee"), acme));
    // Through the API, which counts what the server acknowledged before it answers.
    let today = chrono::Utc::now().date_naive();
    let from = today - chrono::Days::new(1);
    let res = http
        .get(format!("{base}/api/v1/accounts/{acme}/usage?from={from}&to={today}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let usage: serde_json::Value = res.json().await.unwrap();
    server.kill().unwrap();
    server.wait().unwrap();
    let count = |name: &str| {
        let rows = usage["data"].as_array().unwrap().iter().filter(|u| u["event"] == name);
        rows.fold((0, 0), |a, u| (a.0 + u["count"].as_i64().unwrap(), a.1.max(u["users"].as_i64().unwrap())))
    };
    assert_eq!(count("Report Built"), (3, 1), "{usage}");
    assert_eq!(count("page:Settings"), (1, 1), "{usage}");
    assert_eq!(count("Pricing Viewed"), (1, 1), "the anonymous call became Ann's, then Acme's: {usage}");
    store.close().await;
}
