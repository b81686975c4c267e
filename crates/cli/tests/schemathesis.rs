//! schemathesis (installed by scripts/test, pinned in scripts/test-requirements.txt) fuzzes every
//! operation of `/api/v1/openapi.json` against a running `keepwell serve` holding a little data,
//! with every check of the issue that asked for it: no 5xx, every status and content type
//! documented, every response matching its schema, every schema-violating request refused.
//! `KEEPWELL_SCHEMATHESIS_ARGS="--max-examples 500"` runs it longer by hand. One worker: with
//! two, schemathesis 4.32.5 trips over its own shared caches (internal `KeyError`s).

mod common;

use common::{free_port, ready, serve};
use keepwell_store::testing::fresh_database_url;
use keepwell_store::Backend;
use serde_json::json;
use std::process::Command;

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::fresh_database_url(super::Backend::Sqlite).await).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::fresh_database_url(super::Backend::Postgres).await).await } )* }
    };
}

on_both_backends!(the_openapi_document_is_the_contract);

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance,negative_data_rejection";

fn python() -> String {
    std::env::var("KEEPWELL_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// An operator's admin token (`keepwell token create`): it keeps its role whatever the fuzzer
/// does to the team.
fn admin_token(url: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_keepwell"))
        .args(["token", "create", "--name", "fuzz", "--role", "admin", "--database-url", url])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn the_openapi_document_is_the_contract(url: String) {
    let token = admin_token(&url);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(&url, port);
    let http = reqwest::Client::new();
    ready(&http, &base).await;
    // A little of everything, so ids 1, 2, 3 and the keys below name something.
    let post = |path: &str, body: serde_json::Value| {
        let req = http.post(format!("{base}/api/v1{path}")).bearer_auth(&token).json(&body);
        async move {
            let res = req.send().await.unwrap();
            assert!(res.status().is_success(), "{}", res.text().await.unwrap_or_default());
        }
    };
    for (n, plan) in [(1, "Growth"), (2, "Starter"), (3, "Growth")] {
        post(
            "/accounts",
            json!({"name": format!("Account {n}"), "external_id": format!("crm-{n}"), "plan": plan,
                   "country": "DE", "tags": ["fuzz"], "attributes": {"seats": 10}}),
        )
        .await;
    }
    post("/contacts", json!({"account_id": 1, "email": "ann@example.com", "name": "Ann"})).await;
    post("/segments", json!({"key": "growth", "name": "Growth", "filter": "plan = \"Growth\""})).await;
    post(
        "/lifecycle-rules",
        json!({"key": "gone", "name": "Gone", "stage": "churned", "condition": "mrr = 0 and tenure_days > 30"}),
    )
    .await;
    let report = std::env::temp_dir().join(format!("kw-schemathesis-{port}"));
    std::fs::create_dir_all(&report).unwrap();
    // A body larger than the documented limit is refused with 413 (in the document, `TooLarge`): a
    // rejection of invalid data like 400 and 422. Schemathesis's default list for
    // `negative_data_rejection` does not name it; this adds it, and leaves 5xx out.
    let config = report.join("schemathesis.toml");
    std::fs::write(
        &config,
        "[checks.negative_data_rejection]\nexpected-statuses = [\"400\", \"401\", \"403\", \"404\", \"405\", \"406\", \
         \"409\", \"413\", \"415\", \"422\", \"428\", \"429\"]\n",
    )
    .unwrap();
    let out = Command::new(python())
        // Its example cache (.schemathesis/) goes there too, not into the repository.
        .current_dir(&report)
        .args(["-m", "schemathesis.cli", "--config-file", &config.display().to_string()])
        .args(["run", &format!("{base}/api/v1/openapi.json"), "--checks", CHECKS])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--max-examples", "50", "--workers", "1", "--no-color", "--suppress-health-check", "all"])
        .args(
            std::env::var("KEEPWELL_SCHEMATHESIS_ARGS")
                .map(|a| a.split(' ').map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_default(),
        )
        .args(["--report-dir", &report.display().to_string()])
        .output()
        .expect("run schemathesis");
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let _ = server.kill();
    let _ = server.wait();
    let failures = said.find("FAILURES").map_or(said.as_str(), |at| &said[at..]);
    assert!(
        out.status.success(),
        "schemathesis found what the document does not say (scripts/test installs it into target/pyenv; \
         KEEPWELL_TEST_PYTHON names the interpreter):\n{}",
        failures.chars().take(20_000).collect::<String>()
    );
    assert!(said.contains("passed"), "schemathesis ran no test: {said}");
}
