//! The `keepwell` binary as an operator runs it, on SQLite and PostgreSQL.

use keepwell_store::accounts::AccountFilter;
use keepwell_store::testing::fresh_database_url;
use keepwell_store::{Backend, Store};
use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn kw(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keepwell"))
        .args(args)
        .env("KEEPWELL_DATABASE_URL", url)
        .env("KEEPWELL_DATA_DIR", std::env::temp_dir().join("kw-cli-unused"))
        .output()
        .expect("run keepwell")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failed command: non-zero exit, and exactly one line on stderr.
fn one_line_error(o: &Output) -> String {
    assert!(!o.status.success(), "expected failure, got {}", stdout(o));
    let err = stderr(o);
    assert_eq!(err.trim_end().lines().count(), 1, "one line expected: {err}");
    err
}

fn csv(name: &str, body: &str) -> String {
    let dir = std::env::temp_dir().join(format!("kw-cli-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

async fn count(url: &str) -> i64 {
    let s = Store::connect(url).await.unwrap();
    let n = s.count_accounts(&AccountFilter::default()).await.unwrap();
    s.close().await;
    n
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $( #[tokio::test] async fn $name() { super::$name(super::fresh_database_url(super::Backend::Sqlite).await).await } )* }
        mod postgres { $( #[tokio::test] async fn $name() { super::$name(super::fresh_database_url(super::Backend::Postgres).await).await } )* }
    };
}

on_both_backends!(
    billing_files_import_all_or_nothing,
    users_and_tokens_are_created_with_one_line_errors,
    a_crm_export_imports_with_a_map,
    a_bad_row_fails_the_whole_file_naming_line_and_column,
    contacts_import_by_any_external_id,
    demo_writes_a_workspace_once,
    backup_restores_across_backends,
    event_history_imports_all_or_nothing_once,
    an_archive_of_many_gzipped_files_waits_then_reaches_its_accounts,
    the_first_serve_demo_logs_no_warnings_and_no_colour,
    definitions_apply_whole_export_round_trips_and_passes_rerun_alike,
    two_ticks_for_one_instant_run_one_pass,
    interaction_history_imports_all_or_nothing_and_once,
    a_playbook_as_code_acts_once_and_a_dry_run_only_records,
);

/// Two `keepwell tick`s for the same instant at once (two nodes' cron): one runs the pass, the
/// other sees it run and says so; the queue holds one job for the day.
async fn two_ticks_for_one_instant_run_one_pass(url: String) {
    let accounts = csv("accounts.csv", "name,crm_id\nAcme,c-1\nBolt,c-2\n");
    assert!(kw(&url, &["import", "accounts", &accounts]).status.success());
    // Whichever tick claims the day's job waits inside it while the test leads the pass, so the
    // two overlap whatever the machine's speed.
    let store = Store::connect(&url).await.unwrap();
    // A playbook switched on that fires for both accounts on the day: it acts once for each.
    let defs = keepwell_core::definitions::Definitions::from_toml(
        "[[playbook]]\nkey = \"all\"\nname = \"Everyone\"\ntrigger = { kind = \"condition\", condition = \"mrr >= 0\" }\n\
         [[playbook.actions]]\nkind = \"task\"\ntitle = \"Say hello\"\n",
    )
    .unwrap();
    let mut w = store.write(&keepwell_store::Actor::system("test")).await.unwrap();
    keepwell_store::playbooks::apply(&mut w, &defs.playbooks).await.unwrap();
    keepwell_store::playbooks::switch(&mut w, "all", true, "new", &[]).await.unwrap();
    w.commit().await.unwrap();
    let keepwell_store::health::Lead::Leader(leader) = store.lead_pass(Duration::ZERO).await.unwrap() else {
        panic!("nobody else leads the pass")
    };
    let ticks: Vec<_> = (0..2)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || kw(&url, &["tick", "--as-of", "2026-11-20T10:00:00Z"]))
        })
        .collect();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while store.pending_job("daily_pass:2026-11-20").await.unwrap().is_none_or(|j| j.status != "running") {
        assert!(std::time::Instant::now() < deadline, "no tick claimed the day's pass");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(ticks.iter().all(|t| !t.is_finished()), "both ticks wait for the pass");
    leader.release().await.unwrap();
    let mut outs: Vec<String> = ticks
        .into_iter()
        .map(|t| {
            let o = t.join().unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
            stdout(&o)
        })
        .collect();
    outs.sort();
    let jobs = store.jobs(Some("daily_pass:2026-11-20"), 10).await.unwrap();
    assert_eq!(jobs.len(), 1, "one job for the day: {jobs:?}");
    assert_eq!(jobs[0].status, "done");
    let elsewhere =
        format!("2026-11-20: run by another process at the same time (job {}); nothing more to do\n", jobs[0].id);
    assert_eq!(outs[0], elsewhere);
    assert!(outs[1].starts_with("2026-11-20: scored 2 accounts,") && outs[1].lines().count() == 1, "{}", outs[1]);
    let runs = store.playbook_runs(Some("all"), None, 10).await.unwrap();
    let mut names: Vec<&str> = runs.iter().map(|r| r.account_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["Acme", "Bolt"], "one run per account however many ticks: {runs:?}");
    store.close().await;
}

async fn users_and_tokens_are_created_with_one_line_errors(url: String) {
    let o = kw(&url, &["migrate"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&kw(&url, &["migrate"])).contains("up to date"));
    let e = one_line_error(&kw(&url, &["user", "create", "--email", "a@b.io", "--name", "A", "--role", "boss"]));
    assert!(e.contains("unknown role") && e.contains("admin, manager, csm or viewer"), "{e}");
    let e = one_line_error(&kw(&url, &["user", "create", "--email", "not-an-email", "--name", "A", "--role", "csm"]));
    assert!(e.contains("email"), "{e}");
    let o = kw(&url, &["user", "create", "--email", "ann@team.io", "--name", "Ann", "--role", "admin"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("with password: "));
    let e =
        one_line_error(&kw(&url, &["user", "create", "--email", "ann@team.io", "--name", "Ann", "--role", "admin"]));
    assert!(e.contains("already exists"), "{e}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keepwell"))
        .args(["user", "create", "--email", "bo@team.io", "--name", "Bo", "--role", "viewer", "--password-stdin"])
        .env("KEEPWELL_DATABASE_URL", &url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success());
    assert!(!stdout(&o).contains("password"), "a given password is not echoed");
    let o = kw(&url, &["token", "create", "--name", "ci", "--role", "manager"]);
    assert!(o.status.success() && stdout(&o).trim().starts_with("kw_"));
    let o = kw(&url, &["writekey", "create", "--name", "web"]);
    assert!(o.status.success() && stdout(&o).trim().starts_with("wk_"));
    one_line_error(&kw(&url, &["token", "create", "--name", "x", "--role", "root"]));
}

async fn a_crm_export_imports_with_a_map(url: String) {
    kw(&url, &["user", "create", "--email", "ann@team.io", "--name", "Ann", "--role", "csm"]);
    let file = csv(
        "hubspot.csv",
        "\u{feff}Record ID,Company name,Company Domain Name,Number of Employees,Country/Region,Lifecycle Stage,Owner,Internal notes,Seats\n\
         101,Acme,acme.io,120,DE,adoption,ann@team.io,secret,25\n\
         102,\"Blue, Inc.\",blue.io,,US,,,,\n",
    );
    let map = [
        "--map",
        "Record ID=external_id",
        "--map",
        "Company name=name",
        "--map",
        "Company Domain Name=domain",
        "--map",
        "Number of Employees=employees",
        "--map",
        "Country/Region=country",
        "--map",
        "Lifecycle Stage=lifecycle_stage",
        "--map",
        "Owner=owner_email",
        "--map",
        "Internal notes=",
    ];
    let mut args = vec!["import", "accounts", file.as_str(), "--dry-run"];
    args.extend(map);
    let o = kw(&url, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("2 accounts would be imported (2 created, 0 updated)"), "{}", stdout(&o));
    assert_eq!(count(&url).await, 0, "a dry run writes nothing");
    args.retain(|a| *a != "--dry-run");
    let o = kw(&url, &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("imported 2 accounts"), "{}", stdout(&o));
    let store = Store::connect(&url).await.unwrap();
    let acme = store.account_by_external_id("101").await.unwrap().unwrap();
    assert_eq!((acme.employees, acme.owner.unwrap().email.as_str()), (Some(120), "ann@team.io"));
    assert_eq!(
        acme.attributes.keys().collect::<Vec<_>>(),
        ["Seats"],
        "unknown columns become attributes; ignored ones do not"
    );
    assert_eq!(store.account_by_external_id("102").await.unwrap().unwrap().name, "Blue, Inc.");
    // Importing again updates by the CRM id.
    let o = kw(&url, &args);
    assert!(stdout(&o).contains("0 created, 2 updated"), "{}", stdout(&o));
}

async fn a_bad_row_fails_the_whole_file_naming_line_and_column(url: String) {
    let file = csv(
        "accounts.csv",
        "external_id,name,domain,industry,employees,country,plan,lifecycle_stage,owner_email,tags\n\
         1,Good,good.io,,10,DE,,,,\n\
         2,Bad,bad.io,,many,DE,,,,\n\
         3,Worse,,,,Germany,,,,\n",
    );
    let e = one_line_error(&kw(&url, &["import", "accounts", &file]));
    assert!(e.contains("line 3, column 5 (employees)"), "{e}");
    assert!(e.contains("nothing was imported"), "{e}");
    assert_eq!(count(&url).await, 0);
    let ragged = csv("ragged.csv", "name,domain\nAcme,acme.io\nOops\n");
    let e = one_line_error(&kw(&url, &["import", "accounts", &ragged]));
    assert!(e.contains("line 3") && e.contains("1 fields"), "{e}");
    let owner = csv("owner.csv", "name,owner_email\nA,ghost@team.io\n");
    let e = one_line_error(&kw(&url, &["import", "accounts", &owner]));
    assert!(e.contains("line 2, column 2 (owner_email)") && e.contains("no team member"), "{e}");
    let e = one_line_error(&kw(&url, &["import", "accounts", &csv("x.csv", "Company\nAcme\n")]));
    assert!(e.contains("--map \"Your column=name\""), "{e}");
    let e = one_line_error(&kw(&url, &["import", "widgets", &file]));
    assert!(e.contains("accounts, contacts, subscriptions"), "{e}");
    assert_eq!(count(&url).await, 0);
}

async fn contacts_import_by_any_external_id(url: String) {
    let accounts = csv("a.csv", "external_id,name\nc-1,Acme\n");
    assert!(kw(&url, &["import", "accounts", &accounts]).status.success());
    let store = Store::connect(&url).await.unwrap();
    let acme = store.account_by_external_id("c-1").await.unwrap().unwrap();
    let mut change = keepwell_core::account::AccountInput { name: Some("Acme".into()), ..Default::default() };
    change.external_ids = vec![("crm".into(), "c-1".into()), ("segment".into(), "grp_9".into())];
    keepwell_server::accounts::update(
        &store,
        &keepwell_server::cause::Caller::system("t"),
        acme.id,
        &change.validate().unwrap(),
    )
    .await
    .unwrap();
    let contacts = csv(
        "c.csv",
        "account_external_id,email,name,title,role,locale,external_user_id\n\
         c-1,ann@acme.io,Ann,CTO,decision_maker,de,u1\n\
         grp_9,bob@acme.io,Bob,,champion,,u2\n",
    );
    let o = kw(&url, &["import", "contacts", &contacts]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = store
        .contacts(&keepwell_store::contacts::ContactFilter {
            account_id: Some(acme.id),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(page.data.len(), 2);
    let bad = csv("bad.csv", "account_external_id,email\nnope,x@y.io\n");
    let e = one_line_error(&kw(&url, &["import", "contacts", &bad]));
    assert!(e.contains("line 2, column 1 (account_external_id)"), "{e}");
}

async fn demo_writes_a_workspace_once(url: String) {
    let o = kw(&url, &["demo", "--accounts", "40", "--seed", "3"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("40 accounts"));
    assert_eq!(count(&url).await, 40);
    let e = one_line_error(&kw(&url, &["demo"]));
    assert!(e.contains("empty"), "{e}");
}

async fn backup_restores_across_backends(url: String) {
    assert!(kw(&url, &["demo", "--accounts", "15"]).status.success());
    let file = csv("backup.jsonl", "");
    let o = kw(&url, &["backup", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    for target in [Backend::Sqlite, Backend::Postgres] {
        let other = fresh_database_url(target).await;
        let o = kw(&other, &["restore", &file]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(count(&other).await, 15);
        one_line_error(&kw(&other, &["restore", &file]));
    }
}

async fn billing_files_import_all_or_nothing(url: String) {
    assert!(kw(&url, &["import", "accounts", &csv("a.csv", "external_id,name\nc-1,Acme\nc-2,Beta\n")])
        .status
        .success());
    let header = "account_external_id,subscription_id,plan,quantity,currency,amount,interval,starts_on,ends_on,renews_on,payment_terms\n";
    let good = format!(
        "{header}c-1,s1,pro,10,EUR,1200.00,year,2025-01-01,2026-01-01,,prepaid\n\
         c-1,s1,pro,12,EUR,1440.00,year,2026-01-01,,2027-01-01,net30\n\
         c-2,s2,basic,3,USD,90,month,2025-06-15,,,\n"
    );
    let checks = [
        ("overlap", "c-2,s2,basic,3,USD,90,month,2025-07-01,,,\n", "line 5, column 8 (starts_on)", "overlaps"),
        ("currency", "c-2,s3,basic,3,XYZ,90,month,2025-07-01,,,\n", "line 5, column 5 (currency)", "ISO 4217"),
        ("amount", "c-2,s3,basic,3,USD,9o,month,2025-07-01,,,\n", "line 5, column 6 (amount)", "decimal"),
        ("order", "c-2,s3,basic,3,USD,90,month,2025-07-01,2025-06-01,,\n", "line 5, column 9 (ends_on)", "not after"),
        ("account", "c-9,s3,basic,3,USD,90,month,2025-07-01,,,\n", "line 5, column 1 (account_external_id)", "c-9"),
    ];
    for (what, row, place, words) in checks {
        let e = one_line_error(&kw(&url, &["import", "subscriptions", &csv("s.csv", &format!("{good}{row}"))]));
        assert!(e.contains(place) && e.contains(words) && e.contains("nothing was imported"), "{what}: {e}");
    }
    let store = Store::connect(&url).await.unwrap();
    let acme = store.account_by_external_id("c-1").await.unwrap().unwrap();
    assert!(store.account_periods(acme.id).await.unwrap().is_empty(), "a refused file writes nothing");
    let o = kw(&url, &["import", "subscriptions", &csv("s.csv", &good)]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 created"), "{}", stdout(&o));
    assert_eq!(store.account_periods(acme.id).await.unwrap().len(), 2);
    let invoices = csv(
        "i.csv",
        "account_external_id,invoice_id,currency,amount,issued_on,due_on,paid_on,status\n\
         c-1,in_1,EUR,1440.00,2026-01-01,2026-01-31,,failed\n\
         c-2,in_2,USD,90,2026-01-01,2026-01-15,2026-01-10,paid\n",
    );
    assert!(kw(&url, &["import", "invoices", &invoices]).status.success());
    assert_eq!(store.account_invoices(acme.id).await.unwrap().len(), 1);
    let fx = csv("fx.csv", "currency,month,rate\nEUR,2026-01,1.08\nEUR,2026-02,1.09\n");
    let o = kw(&url, &["import", "fx_rates", &fx]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(store.fx_rates().await.unwrap().len(), 2);
    let e = one_line_error(&kw(
        &url,
        &["import", "fx_rates", &csv("fx.csv", "currency,month,rate,source\nEUR,2026-01,1.08,ecb\n")],
    ));
    assert!(e.contains("\"source\" is not part of the fx_rates format"), "{e}");
    store.close().await;
}

async fn event_history_imports_all_or_nothing_once(url: String) {
    assert!(kw(&url, &["import", "accounts", &csv("a.csv", "external_id,name\nc-1,Acme\nc-2,Beta\n")])
        .status
        .success());
    let header = "timestamp,account_external_id,user_id,event,properties_json\n";
    let good = format!(
        "{header}2026-03-01T09:00:00Z,c-1,u1,Report Built,\"{{\"\"rows\"\": 3}}\"\n\
         2026-03-01T10:00:00Z,c-1,u2,Report Built,\n\
         2026-03-02 08:00:00,c-2,u3,Export Run,{{}}\n"
    );
    let checks = [
        ("time", "yesterday,c-1,u1,Report Built,\n", "line 5, column 1 (timestamp)", "ISO 8601"),
        ("account", "2026-03-02T08:00:00Z,c-9,u1,Report Built,\n", "line 5, column 2 (account_external_id)", "c-9"),
        ("user", "2026-03-02T08:00:00Z,c-1,,Report Built,\n", "line 5, column 3 (user_id)", "empty"),
        (
            "properties",
            "2026-03-02T08:00:00Z,c-1,u1,Report Built,[1]\n",
            "line 5, column 5 (properties_json)",
            "object",
        ),
        ("shape", "2026-03-02T08:00:00Z,c-1,u1\n", "line 5", "fields"),
    ];
    for (what, row, place, words) in checks {
        let e = one_line_error(&kw(&url, &["import", "events", &csv("e.csv", &format!("{good}{row}"))]));
        assert!(e.contains(place) && e.contains(words) && e.contains("nothing was imported"), "{what}: {e}");
    }
    let store = Store::connect(&url).await.unwrap();
    assert_eq!(store.count_events(None).await.unwrap(), 0, "a refused file writes nothing");
    let file = csv("e.csv", &good);
    let o = kw(&url, &["import", "events", &file, "--dry-run"]);
    assert!(stdout(&o).contains("3 would be imported"), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(store.count_events(None).await.unwrap(), 0, "a dry run writes nothing");
    let o = kw(&url, &["import", "events", &file]);
    assert!(stdout(&o).contains("3 new, 0 there already"), "{}{}", stdout(&o), stderr(&o));
    let o = kw(&url, &["import", "events", &file]);
    assert!(stdout(&o).contains("0 new, 3 there already"), "importing twice adds nothing: {}", stdout(&o));
    let acme = store.account_by_external_id("c-1").await.unwrap().unwrap().id;
    let days = store.usage_days(acme, "2026-03-01", "2026-03-31").await.unwrap();
    assert_eq!((days.len(), days[0].count, days[0].users), (1, 2, 2), "{days:?}");
    let users = store.product_users(acme, 10).await.unwrap();
    assert_eq!(users.len(), 2, "the rows' users belong to the account they name: {users:?}");

    // NDJSON in Segment's format: calls as archived, their own times kept.
    let lines = [
        r#"{"type":"group","userId":"u9","groupId":"g-9","traits":{"name":"Gamma"},"timestamp":"2026-02-01T08:00:00Z","messageId":"n1"}"#,
        r#"{"type":"track","userId":"u9","event":"Report Built","timestamp":"2026-02-03T08:00:00Z","receivedAt":"2026-02-03T08:00:02Z","sentAt":"2026-02-03T08:00:01Z","messageId":"n2"}"#,
        "",
        r#"{"type":"page","userId":"u9","name":"Home","timestamp":"2026-02-04T08:00:00Z"}"#,
    ];
    let good = lines.join("\n") + "\n";
    let e = one_line_error(&kw(
        &url,
        &[
            "import",
            "events",
            &csv(
                "h.ndjson",
                &format!("{good}{{\"type\":\"track\",\"userId\":\"u9\",\"timestamp\":\"2026-02-05T00:00:00Z\"}}\n"),
            ),
        ],
    ));
    assert!(e.contains("line 5: a track call needs `event`") && e.contains("nothing was imported"), "{e}");
    let e = one_line_error(&kw(&url, &["import", "events", &csv("h.txt", &format!("{good}{{\"type\": tr\n"))]));
    assert!(e.contains("line 5, column 11 (JSON): invalid JSON: EOF while parsing a value (nothing"), "{e}");
    assert!(store.account_by_external_id("g-9").await.unwrap().is_none(), "a refused file creates no account");
    let o = kw(&url, &["import", "events", &csv("h.jsonl", &good)]);
    assert!(stdout(&o).contains("3 new"), "{}{}", stdout(&o), stderr(&o));
    let gamma = store.account_by_external_id("g-9").await.unwrap().unwrap().id;
    let days = store.usage_days(gamma, "2026-02-01", "2026-02-28").await.unwrap();
    let days: Vec<(&str, &str, i64)> = days.iter().map(|d| (d.date.as_str(), d.event.as_str(), d.count)).collect();
    assert_eq!(days, [("2026-02-03", "Report Built", 1), ("2026-02-04", "page:Home", 1)]);
    let o = kw(&url, &["import", "events", &csv("h.jsonl", &good)]);
    assert!(stdout(&o).contains("0 new, 3 there already"), "{}", stdout(&o));
    store.close().await;
}

/// Segment's archive as it comes: one gzipped NDJSON file per day (and one plain), imported
/// before the CRM accounts their `context.groupId` names. The import says what waits and for
/// which groupIds; a later import of more history still works; the accounts' import picks the
/// events up; a replay gives usage measures values.
async fn an_archive_of_many_gzipped_files_waits_then_reaches_its_accounts(url: String) {
    use flate2::write::GzEncoder;
    let dir = std::env::temp_dir().join(format!("kw-archive-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    let line = |n: usize, day: usize, group: &str| {
        format!(
            r#"{{"type":"track","userId":"u{}","event":"Report Built","messageId":"m{n}","context":{{"groupId":"{group}"}},"timestamp":"2026-11-{day:02}T09:00:00Z"}}"#,
            n % 3
        )
    };
    let mut files = Vec::new();
    for day in 20..=22 {
        let body: String =
            (0..10).map(|i| line(day * 100 + i, day, if i < 7 { "crm-1" } else { "crm-2" }) + "\n").collect();
        let path = dir.join(format!("2026-11-{day}.ndjson.gz"));
        let mut gz = GzEncoder::new(std::fs::File::create(&path).unwrap(), flate2::Compression::default());
        gz.write_all(body.as_bytes()).unwrap();
        gz.finish().unwrap();
        files.push(path.display().to_string());
    }
    let plain = dir.join("2026-11-23.ndjson");
    std::fs::write(&plain, (0..4).map(|i| line(2300 + i, 23, "crm-1") + "\n").collect::<String>()).unwrap();
    files.push(plain.display().to_string());
    files.reverse();

    let mut args = vec!["import", "events"];
    args.extend(files.iter().map(String::as_str));
    let o = kw(&url, &args);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("2026-11-20.ndjson.gz: 10 new, 0 there already"), "{out}");
    assert!(out.contains("imported 34 events from 4 files: 34 new, 0 there already"), "{out}");
    assert!(out.contains("0 reached accounts, 10 wait for their account"), "{out}");
    assert!(out.contains("34 usage events wait for an account") && out.contains("crm-1 (25), crm-2 (9)"), "{out}");
    assert!(out.contains("Usage page"), "says what to do: {out}");

    // More history while those wait: still imports (it once failed on the waiting rows).
    let more = dir.join("2026-11-24.ndjson");
    std::fs::write(&more, line(2400, 24, "crm-2") + "\n").unwrap();
    let o = kw(&url, &["import", "events", &more.display().to_string()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("(same messageId); 0 reached accounts, 1 wait"), "{}", stdout(&o));
    let o = kw(&url, &["import", "events", &files[0]]);
    assert!(stdout(&o).contains("0 new, 4 there already"), "any number of runs: {}", stdout(&o));

    let o = kw(&url, &["import", "accounts", &csv("a.csv", "external_id,name\ncrm-1,Acme\ncrm-2,Beta\n")]);
    assert!(stdout(&o).contains("35 waiting usage events reached them"), "{}{}", stdout(&o), stderr(&o));
    let o = kw(&url, &["replay", "--from", "2026-11-24", "--to", "2026-11-25"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));

    let store = Store::connect(&url).await.unwrap();
    let acme = store.account_by_external_id("crm-1").await.unwrap().unwrap().id;
    assert_eq!(store.count_events(Some(acme)).await.unwrap(), 25);
    let measures = keepwell_core::definitions::default_scorecard().measures;
    let at = |key: &str| measures.iter().position(|m| m.key == key).unwrap();
    let snap = store.snapshot(acme, "2026-11-25".parse().unwrap()).await.unwrap().expect("a snapshot");
    assert_eq!(snap.readings[at("active_users")].value, Some(3.into()), "{:?}", snap.readings);
    assert_eq!(snap.readings[at("days_since_activity")].value, Some(2.into()), "last seen the 23rd");
    store.close().await;

    // Once they exist: a file of two usage events for them, one for nobody's groupId and an
    // identify call (not usage) counts each usage event once.
    let mixed = dir.join("2026-11-25.ndjson");
    let identify = r#"{"type":"identify","userId":"u9","messageId":"i1","traits":{"email":"u9@acme.example"},"timestamp":"2026-11-25T10:00:00Z"}"#;
    let body = [line(2500, 25, "crm-1"), line(2501, 25, "crm-2"), line(2502, 25, "crm-9"), identify.into()];
    std::fs::write(&mixed, body.join("\n") + "\n").unwrap();
    let o = kw(&url, &["import", "events", &mixed.display().to_string()]);
    assert!(
        stdout(&o).contains("4 new, 0 there already (same messageId); 2 reached accounts, 1 wait"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
}

/// A new user's first `serve --demo`: the demo is written, the server listens, and its log —
/// not a terminal here — has no colour codes and no warning about its own work.
async fn the_first_serve_demo_logs_no_warnings_and_no_colour(url: String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_keepwell"))
        .args(["serve", "--demo", "--listen", "127.0.0.1:0"])
        .env("KEEPWELL_DATABASE_URL", &url)
        .env("KEEPWELL_DATA_DIR", std::env::temp_dir().join("kw-cli-unused"))
        .env_remove("KEEPWELL_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run keepwell serve");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let mut said = String::new();
    for line in stdout.lines() {
        let line = line.unwrap();
        said.push_str(&line);
        said.push('\n');
        if line.contains("is listening on") {
            break;
        }
    }
    assert!(said.contains("Demo workspace written") && said.contains("listening"), "{said}");
    // The first background pass runs a few seconds after the start: wait for it, then stop.
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut log = String::new();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !log.contains("daily pass") && std::time::Instant::now() < until {
        if let Ok(line) = rx.recv_timeout(std::time::Duration::from_millis(200)) {
            log.push_str(&line);
            log.push('\n');
        }
    }
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let _ = child.wait();
    log.extend(rx.try_iter().map(|l| l + "\n"));
    assert!(log.contains("daily pass"), "the first pass ran: {log}");
    assert!(!log.contains('\u{1b}'), "colour codes in a log that is not a terminal: {log}");
    assert!(!log.contains(" WARN ") && !log.contains(" ERROR "), "warnings on a first start: {log}");
}

const DEFINITIONS: &str = r#"
[[segment]]
key = "big"
name = "Big accounts"
filter = "employees >= 1000"

[[lifecycle_rule]]
key = "big-expands"
name = "Big accounts expand"
stage = "expansion"
condition = "employees >= 1000"
priority = 1

[[scorecard]]
key = "big"
name = "Big accounts"
segment = "big"

[[scorecard.measures]]
key = "employees"
source = "attribute.headcount"
weight = 1
scale = { kind = "linear", bad = 0, good = 5000 }
missing_score = 50
"#;

async fn definitions_apply_whole_export_round_trips_and_passes_rerun_alike(url: String) {
    let file = csv("health.toml", DEFINITIONS);
    let o = kw(&url, &["apply", "--dry-run", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).ends_with("dry run: 3 of 3 definitions changed\n"), "{}", stdout(&o));
    assert!(!stdout(&kw(&url, &["export"])).contains("big"), "a dry run writes nothing");

    // A file with a mistake is refused whole, naming where.
    let bad =
        csv("bad.toml", &DEFINITIONS.replace("employees >= 1000\"\n\n[[lifecycle", "employees >=\"\n\n[[lifecycle"));
    let e = one_line_error(&kw(&url, &["apply", &bad]));
    assert!(e.contains("segment[0].filter: column 13") && e.contains("nothing was applied"), "{e}");
    let e = one_line_error(&kw(&url, &["apply", &csv("syntax.toml", "[[segment]]\nkey = \"x\"\nname = \n")]));
    assert!(e.contains("line 3"), "{e}");

    let o = kw(&url, &["apply", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("segment big created") && out.contains("scorecard big created"), "{out}");
    assert!(stdout(&kw(&url, &["apply", &file])).contains("0 of 3 definitions changed"));
    let exported = stdout(&kw(&url, &["export"]));
    assert!(exported.contains("[[scorecard]]") && exported.contains("key = \"default\""), "{exported}");
    let o = kw(&url, &["apply", &csv("again.toml", &exported)]);
    // The file's three, the default scorecard and the six built-in playbooks.
    assert!(stdout(&o).contains("0 of 10 definitions changed"), "{}{}", stdout(&o), stderr(&o));
    let segments = stdout(&kw(&url, &["export", "segments"]));
    assert!(segments.contains("[[segment]]") && !segments.contains("[[scorecard]]"), "{segments}");
    let playbooks = stdout(&kw(&url, &["export", "playbooks"]));
    assert!(playbooks.contains("key = \"health-red\"") && playbooks.contains("enabled = false"), "{playbooks}");
    assert!(one_line_error(&kw(&url, &["export", "surveys"])).contains("surveys"));

    // Accounts, then the pass of a day, twice: the same.
    let accounts = csv("accounts.csv", "name,crm_id,employees\nAcme,c-1,4000\nBolt,c-2,12\n");
    assert!(kw(&url, &["import", "accounts", &accounts]).status.success());
    let first = kw(&url, &["tick", "--as-of", "2026-11-20T10:00:00Z"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(stdout(&first), "2026-11-20: scored 2 accounts, 1 segment changes, 1 stage changes\n");
    let again = kw(&url, &["tick", "--as-of", "2026-11-20"]);
    assert_eq!(stdout(&again), "2026-11-20: scored 2 accounts, 1 segment changes, 1 stage changes\n");
    let store = Store::connect(&url).await.unwrap();
    let big = store.segment("big").await.unwrap().unwrap();
    let history =
        store.segment_history(big.id, "2026-11-01".parse().unwrap(), "2026-11-30".parse().unwrap(), 10).await.unwrap();
    assert_eq!(history.len(), 1, "running a day twice changes nothing");
    store.close().await;
    assert!(one_line_error(&kw(&url, &["tick", "--as-of", "yesterday"])).contains("--as-of"));

    // A tick runs every day since the last pass before its own, through its own.
    let caught = kw(&url, &["tick", "--as-of", "2026-11-23"]);
    assert!(caught.status.success(), "{}", stderr(&caught));
    let out = stdout(&caught);
    let days: Vec<&str> = out.lines().map(|l| l.split(':').next().unwrap_or_default()).collect();
    assert_eq!(days, ["2026-11-21", "2026-11-22", "2026-11-23"], "{out}");
    // Beside a process that leads the pass (a running serve, another node), a tick waits for it.
    let store = Store::connect(&url).await.unwrap();
    let keepwell_store::health::Lead::Leader(leader) = store.lead_pass(Duration::ZERO).await.unwrap() else {
        panic!("nobody else leads the pass")
    };
    let beside = {
        let url = url.clone();
        std::thread::spawn(move || kw(&url, &["tick", "--as-of", "2026-11-23"]))
    };
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!beside.is_finished(), "the tick waits while another process runs the pass");
    leader.release().await.unwrap();
    let o = beside.join().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "2026-11-23: scored 2 accounts, 0 segment changes, 0 stage changes\n");
    store.close().await;

    let o = kw(&url, &["replay", "--from", "2026-11-01", "--to", "2026-11-05"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("replayed 5 days from 2026-11-01 to 2026-11-05"), "{}", stdout(&o));
    assert!(one_line_error(&kw(&url, &["replay", "--from", "2026-11-05", "--to", "2026-11-01"])).contains("after"));

    // A tick runs a year at most and names the older days it left; the future has not happened.
    assert!(kw(&url, &["tick", "--as-of", "2025-01-01"]).status.success());
    let o = kw(&url, &["tick", "--as-of", "2026-03-01"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("2025-01-02 to 2025-02-28: not run") && lines[0].contains("keepwell replay"), "{out}");
    assert_eq!(lines[1], "2025-03-01 to 2026-02-22: 359 days caught up", "{out}");
    assert_eq!(lines.len(), 9, "{out}");
    assert!(one_line_error(&kw(&url, &["tick", "--as-of", "9999-12-31"])).contains("in the future"));
}

/// The issue's example as code: a scorecard measuring messages received and a playbook opening a
/// risk task once that measure has been red for 7 days, applied switched on. The account has been
/// red for 13 days, so switching on (enrolling accounts that already match) acts today, once; a
/// tick of the same day again does nothing more; `replay --dry-run` records what it would have
/// done and does it not.
async fn a_playbook_as_code_acts_once_and_a_dry_run_only_records(url: String) {
    let today = chrono::Utc::now().date_naive();
    let day = |n: u64| today - chrono::Days::new(n);
    assert!(kw(&url, &["import", "accounts", &csv("a.csv", "external_id,name\nacme-1,Acme\n")]).status.success());
    // 20 messages a day until 19 days ago: the 7-day count is 0 (red) from 12 days ago.
    let mut events = vec![format!(
        r#"{{"type":"group","userId":"u1","groupId":"acme-1","messageId":"g1","timestamp":"{}T08:00:00Z"}}"#,
        day(40)
    )];
    for d in 19..=40 {
        for i in 0..20 {
            events.push(format!(
                r#"{{"type":"track","userId":"u1","event":"Message Received","messageId":"m{d}-{i}","timestamp":"{}T09:{i:02}:00Z"}}"#,
                day(d)
            ));
        }
    }
    let o = kw(&url, &["import", "events", &csv("events.ndjson", &(events.join("\n") + "\n"))]);
    assert!(o.status.success(), "{}", stderr(&o));
    let file = csv(
        "playbook.toml",
        r#"
[[scorecard]]
key = "default"
name = "Default"

[[scorecard.measures]]
key = "messages_received"
source = 'events("Message Received", 7)'
weight = 1
scale = { kind = "linear", bad = 0, good = 10 }

[[playbook]]
key = "messages-red"
name = "Messages received red for a week"
trigger = { kind = "measure", measure = "messages_received", band = "red", days = 7 }
enabled = true

[[playbook.actions]]
kind = "task"
title = "Reach out"
task_kind = "risk"
"#,
    );
    let o = kw(&url, &["apply", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("playbook messages-red created") && out.contains("playbook messages-red enabled"), "{out}");
    let store = Store::connect(&url).await.unwrap();
    let runs = store.playbook_runs(Some("messages-red"), None, 10).await.unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!((runs[0].occurrence, runs[0].day, runs[0].account_name.as_str()), (day(12), today, "Acme"));
    assert_eq!(runs[0].values["held_days"], 13);
    assert_eq!(runs[0].actions[0].outcome, "done");
    let o = kw(&url, &["tick", "--as-of", &today.to_string()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(store.playbook_runs(Some("messages-red"), None, 10).await.unwrap().len(), 1, "acted once");
    assert!(stdout(&kw(&url, &["export", "playbooks"])).contains("enabled = true"));

    let (from, to) = (day(30).to_string(), day(1).to_string());
    let o = kw(&url, &["replay", "--from", &from, "--to", &to, "--dry-run"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("playbook messages-red (version 1): would fire 1 times for 1 accounts"), "{out}");
    assert_eq!(
        store.playbook_runs(Some("messages-red"), None, 10).await.unwrap().len(),
        1,
        "a dry run acts on nothing"
    );
    store.close().await;
}

/// A CRM's engagement history: rows by external id or not, people by e-mail (several per cell);
/// a bad row fails the file naming line and column; importing the same file again adds nothing,
/// and a row whose external id is known updates its interaction.
async fn interaction_history_imports_all_or_nothing_and_once(url: String) {
    assert!(kw(&url, &["import", "accounts", &csv("a.csv", "external_id,name\nc-1,Acme\nc-2,Beta\n")])
        .status
        .success());
    let contacts = csv("c.csv", "account_external_id,email,name\nc-1,ann@acme.io,Ann\nc-1,bob@acme.io,Bob\n");
    assert!(kw(&url, &["import", "contacts", &contacts]).status.success());
    let o = kw(&url, &["user", "create", "--email", "csm@team.io", "--name", "Cat", "--role", "csm"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let header = "account_external_id,occurred_at,kind,subject,body,contact_email,user_email,external_id\n";
    let good = format!(
        "{header}c-1,2026-10-01T14:00:00Z,call,Kick-off,\"Went **well**.\",ann@acme.io; Bob@acme.io,csm@team.io,hs-1\n\
         c-1,2026-11-02,note,,Champion moved on,,,\n\
         c-2,2026-11-20 09:30:00,QBR,Q4 review,,,csm@team.io,\n"
    );
    let checks = [
        (
            "contact",
            "c-2,2026-11-21,call,x,,ann@acme.io,,\n",
            "line 5, column 6 (contact_email)",
            "import contacts first",
        ),
        ("member", "c-2,2026-11-21,call,x,,,nobody@team.io,\n", "line 5, column 7 (user_email)", "no member"),
        ("kind", "c-2,2026-11-21,fax,x,,,,\n", "line 5, column 3 (kind)", "not a kind"),
        ("time", "c-2,last week,call,x,,,,\n", "line 5, column 2 (occurred_at)", "not a time"),
        ("account", "c-9,2026-11-21,call,x,,,,\n", "line 5, column 1 (account_external_id)", "c-9"),
    ];
    for (what, row, place, words) in checks {
        let e = one_line_error(&kw(&url, &["import", "interactions", &csv("i.csv", &format!("{good}{row}"))]));
        assert!(e.contains(place) && e.contains(words) && e.contains("nothing was imported"), "{what}: {e}");
    }
    let store = Store::connect(&url).await.unwrap();
    let all = |store: Store| async move {
        let f = keepwell_store::interactions::InteractionFilter { limit: 50, ..Default::default() };
        let page = store.interactions(&f).await.unwrap();
        (store, page.data)
    };
    let (store, none) = all(store).await;
    assert!(none.is_empty(), "a refused file writes nothing");
    let file = csv("i.csv", &good);
    let o = kw(&url, &["import", "interactions", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("3 created, 0 updated"), "{}", stdout(&o));
    let (store, rows) = all(store).await;
    let kinds: Vec<&str> = rows.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["qbr", "note", "call"], "newest first");
    assert_eq!(rows[1].subject, "Champion moved on", "a note without a subject takes its body's first line");
    let people: Vec<&str> = rows[2].contacts.iter().map(|p| p.email.as_str()).collect();
    assert_eq!(people, ["ann@acme.io", "bob@acme.io"]);
    assert_eq!(rows[2].users[0].email, "csm@team.io");
    let o = kw(&url, &["import", "interactions", &file]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("0 created, 0 updated, 3 already there"), "{}", stdout(&o));
    let changed = csv("i.csv", &format!("{header}c-1,2026-10-01T14:00:00Z,call,Kick-off call,,,,hs-1\n"));
    let o = kw(&url, &["import", "interactions", &changed]);
    assert!(stdout(&o).contains("0 created, 1 updated"), "{}", stdout(&o));
    let (store, rows) = all(store).await;
    assert_eq!((rows.len(), rows[2].subject.as_str(), rows[2].contacts.len()), (3, "Kick-off call", 0));
    store.close().await;
}
