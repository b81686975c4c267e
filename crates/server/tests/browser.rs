//! The pages a CSM uses, in headless Chromium driven through WebDriver: login, search, creating an
//! account by form, opening it, switching to Russian, logout. Needs Debian's `chromium` and
//! `chromium-driver` (scripts/test installs them); without them this test fails, never skips.

mod common;

use common::{TestApp, PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use keepwell_core::account::AccountInput;
use keepwell_core::Role;
use keepwell_store::Backend;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver process, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start() -> (Driver, Client) {
    let port = free_port();
    let bin = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into());
    let child = Command::new(&bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start {bin} ({e}): install chromium and chromium-driver, or run scripts/test")
        });
    let profile = std::env::temp_dir().join(format!("kw-chrome-{port}"));
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}"), _profile: profile.clone() };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--window-size=1280,900", "--lang=en-US", format!("--user-data-dir={}", profile.display())],
            "prefs": {"intl.accept_languages": "en-US,en"}
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client =
        ClientBuilder::new(connector).capabilities(caps).connect(&driver.url).await.expect("a WebDriver session");
    (driver, client)
}

async fn shot(client: &Client, name: &str) {
    if let Ok(png) = client.screenshot().await {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

/// The text of the element `css`, waiting for it to exist.
async fn text(client: &Client, css: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match read_text(client, css).await {
            Ok(t) => return t,
            Err(e) if Instant::now() > deadline => panic!("{css}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

async fn read_text(client: &Client, css: &str) -> Result<String, fantoccini::error::CmdError> {
    client.find(Locator::Css(css)).await?.text().await
}

/// Waits until `css` shows `want`. A page that is loading meanwhile (the element missing, or gone
/// stale between finding and reading it) is simply not there yet.
async fn wait_for_text(client: &Client, css: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let last = match read_text(client, css).await {
            Ok(got) if got.contains(want) => return,
            Ok(got) => got,
            Err(e) => e.to_string(),
        };
        if Instant::now() > deadline {
            shot(client, "failure").await;
            panic!("{css} says {last:?}, expected {want:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Orbit Labs, known by `external` (kind, value), on the Growth plan with (seats, amount,
/// interval) from `starts_on`.
async fn customer(
    app: &TestApp,
    external: (&str, &str),
    (seats, amount, interval): (&str, &str, &str),
    starts_on: chrono::NaiveDate,
    renews_on: Option<chrono::NaiveDate>,
) -> keepwell_store::accounts::Account {
    let a = AccountInput {
        name: Some("Orbit Labs".into()),
        external_ids: vec![(external.0.into(), external.1.into())],
        ..Default::default()
    };
    let account = keepwell_server::accounts::create(
        &app.store,
        &keepwell_server::cause::Caller::system("test"),
        a.validate().unwrap(),
    )
    .await
    .unwrap();
    let period = keepwell_core::billing::PeriodInput {
        account_external_id: Some(external.1.into()),
        subscription_id: Some("sub-o".into()),
        plan: Some("Growth".into()),
        quantity: Some(seats.into()),
        currency: Some("USD".into()),
        amount: Some(amount.into()),
        interval: Some(interval.into()),
        starts_on: Some(starts_on.to_string()),
        renews_on: renews_on.map(|d| d.to_string()),
        ..Default::default()
    };
    keepwell_server::billing::import_periods(
        &app.store,
        &keepwell_server::cause::Caller::system("test"),
        &[period.validate().unwrap()],
        false,
        |_| {},
    )
    .await
    .unwrap();
    account
}

/// Fills the login form the browser was sent to.
async fn log_in(c: &Client, email: &str) {
    let field = c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#email")).await.unwrap();
    field.send_keys(email).await.unwrap();
    c.find(Locator::Css("#password")).await.unwrap().send_keys(PASSWORD).await.unwrap();
    c.find(Locator::Css("#login-submit")).await.unwrap().click().await.unwrap();
}

#[tokio::test]
async fn a_csm_works_through_the_pages() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.member("ann@team.io", Role::Manager).await;
    for (name, domain) in
        [("Acme Robotics", "acme.example"), ("Blue Foods", "bluefoods.example"), ("Cedar Health", "cedar.example")]
    {
        let a = AccountInput { name: Some(name.into()), domain: Some(domain.into()), ..Default::default() }
            .validate()
            .unwrap();
        keepwell_server::accounts::create(&app.store, &keepwell_server::cause::Caller::system("test"), a.clone())
            .await
            .unwrap();
    }
    let (_driver, c) = start().await;

    // Login, arriving from a deep link.
    c.goto(&app.url("/accounts")).await.unwrap();
    log_in(&c, "ann@team.io").await;
    wait_for_text(&c, "#accounts-total", "3 accounts").await;
    shot(&c, "accounts").await;

    // Search.
    c.find(Locator::Css("#search")).await.unwrap().send_keys("acme").await.unwrap();
    c.find(Locator::Css("#search-submit")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#accounts-total", "1 account").await;
    assert!(text(&c, "#accounts-table").await.contains("Acme Robotics"));

    // Create an account by form, with one mistake first.
    c.find(Locator::Css("#new-account")).await.unwrap().click().await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("#f-name"))
        .await
        .unwrap()
        .send_keys("Zenith Labs")
        .await
        .unwrap();
    c.find(Locator::Css("#f-country")).await.unwrap().send_keys("Sweden").await.unwrap();
    c.find(Locator::Css("#save-account")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#error-country", "two-letter").await;
    let country = c.find(Locator::Css("#f-country")).await.unwrap();
    country.clear().await.unwrap();
    country.send_keys("se").await.unwrap();
    c.find(Locator::Css("#f-domain")).await.unwrap().send_keys("zenith.example").await.unwrap();
    c.find(Locator::Css("#f-tags")).await.unwrap().send_keys("pilot").await.unwrap();
    c.find(Locator::Css("#save-account")).await.unwrap().click().await.unwrap();

    // Open it.
    wait_for_text(&c, "#account-name", "Zenith Labs").await;
    assert!(text(&c, ".flash").await.contains("Zenith Labs"));
    assert!(text(&c, "main").await.contains("SE"));
    shot(&c, "account").await;

    // Switch to Russian: the select submits itself.
    c.find(Locator::Css("#lang")).await.unwrap().select_by_value("ru").await.unwrap();
    wait_for_text(&c, "header.top nav", "Аккаунты").await;
    assert!(c.current_url().await.unwrap().path().starts_with("/accounts/"), "stays on the page");
    shot(&c, "account-ru").await;

    // Logout.
    c.find(Locator::Css("#logout")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main", "Вы вышли из системы").await;
    assert_eq!(c.current_url().await.unwrap().path(), "/login");
    c.goto(&app.url("/accounts")).await.unwrap();
    c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#login-submit")).await.unwrap();
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_manager_reads_revenue_and_records_a_renewal() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.member("mia@team.io", Role::Manager).await;
    let today = chrono::Utc::now().date_naive();
    let renews = Some(today + chrono::Days::new(20));
    // Started within the Revenue page's default twelve months whatever today is (345 days ago
    // fell before them on the first days of a month), renewing in 20 days.
    let account = customer(&app, ("crm", "o-1"), ("12", "1200", "year"), today - chrono::Days::new(300), renews).await;
    let (_driver, c) = start().await;
    c.goto(&app.url("/revenue")).await.unwrap();
    log_in(&c, "mia@team.io").await;

    // The Revenue page: headline MRR, charts, and each formula beside its table.
    wait_for_text(&c, "#headline-mrr", "100.00").await;
    assert!(text(&c, "#metric-customer_churn").await.contains("paying accounts at the start"));
    assert!(text(&c, "#metric-cohorts").await.contains("100%"));
    shot(&c, "revenue").await;

    // The account's billing section.
    c.goto(&app.url(&format!("/accounts/{}", account.id))).await.unwrap();
    wait_for_text(&c, "#billing-mrr", "100.00 / 1200.00 USD").await;

    // Renewals in the next 30 days; record a churn, first without its reason.
    c.goto(&app.url("/renewals?within_days=30")).await.unwrap();
    wait_for_text(&c, "#renewals-table", "Orbit Labs").await;
    shot(&c, "renewals").await;
    c.find(Locator::Css(".outcome-form select")).await.unwrap().select_by_value("churned").await.unwrap();
    c.find(Locator::Css(".outcome-form button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "reason").await;
    c.find(Locator::Css(".outcome-form select")).await.unwrap().select_by_value("churned").await.unwrap();
    c.find(Locator::Css(".outcome-form input[name=reason]"))
        .await
        .unwrap()
        .send_keys("moved to a competitor")
        .await
        .unwrap();
    c.find(Locator::Css(".outcome-form button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Orbit Labs").await;
    assert!(text(&c, "#renewals-table").await.contains("Churned"));
    c.close().await.unwrap();
}

#[tokio::test]
async fn an_admin_configures_features_and_reads_usage() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.member("ada@team.io", Role::Admin).await;
    let today = chrono::Utc::now().date_naive();
    let account =
        customer(&app, ("segment", "g-orbit"), ("4", "400", "month"), today - chrono::Days::new(60), None).await;
    // Three people active in the last 30 days, through Segment's batch call.
    let key = common::write_key(&app).await;
    let ago = |hours: i64| (chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339();
    let mut batch = vec![];
    for (user, hours, event) in [("u1", 1, "Report Built"), ("u2", 48, "Report Built"), ("u3", 240, "Signed In")] {
        batch.push(
            serde_json::json!({"type": "group", "userId": user, "groupId": "g-orbit", "timestamp": ago(hours + 1)}),
        );
        batch.push(serde_json::json!({"type": "track", "userId": user, "event": event, "timestamp": ago(hours)}));
    }
    let res = app.http.post(app.url("/v1/batch")).basic_auth(&key, Some("")).json(&serde_json::json!({"batch": batch}));
    assert_eq!(res.send().await.unwrap().status(), 200);

    let (_driver, c) = start().await;
    c.goto(&app.url("/settings/features")).await.unwrap();
    log_in(&c, "ada@team.io").await;

    // The plan → features catalogue, with a mistake first.
    let area =
        c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#features-form textarea")).await.unwrap();
    area.send_keys("Growth: reports = Report Built\nGrowth: exports = Export Run\nGrowth exports").await.unwrap();
    c.find(Locator::Css("#features-form button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "main", "line 3: is not `plan: feature = Event, Event`").await;
    let area = c.find(Locator::Css("#features-form textarea")).await.unwrap();
    area.clear().await.unwrap();
    area.send_keys("Growth: reports = Report Built, page:Reports\nGrowth: exports = Export Run").await.unwrap();
    c.find(Locator::Css("#features-form button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Plan features saved").await;

    // The account's usage: 3 of 4 seats active in 30 days, 1 of its plan's 2 features used.
    c.goto(&app.url(&format!("/accounts/{}", account.id))).await.unwrap();
    wait_for_text(&c, "#usage-license", "75.0 % (3 of 4 seats)").await;
    assert!(text(&c, "#usage-active").await.ends_with("/ 3"), "{}", text(&c, "#usage-active").await);
    assert!(text(&c, "#usage-adoption").await.contains("1 of 2 features"));
    assert!(text(&c, "#top-events").await.contains("Report Built"));
    assert!(text(&c, "#product-users").await.contains("u1"));
    assert!(c.find(Locator::Css("#usage svg.chart")).await.is_ok(), "the active-users chart");
    c.execute("document.getElementById('usage').scrollIntoView()", vec![]).await.unwrap();
    shot(&c, "account-usage").await;

    // The Usage page ranks it; the explorer filters its events.
    c.find(Locator::Css("header.top nav a[href='/usage']")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#least-active", "Orbit Labs").await;
    assert!(text(&c, "#most-active").await.contains("Orbit Labs"));
    shot(&c, "usage").await;
    c.find(Locator::Css("#explore-events")).await.unwrap().click().await.unwrap();
    let event =
        c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#event-filters input[name=event]")).await;
    event.unwrap().send_keys("Report Built").await.unwrap();
    c.find(Locator::Css("#event-filters button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#events-table", "u2").await;
    let rows = text(&c, "#events-table").await;
    assert!(rows.contains("u1") && !rows.contains("Signed In"), "{rows}");
    shot(&c, "events").await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn a_manager_builds_a_segment_reads_health_and_backtests() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.member("max@team.io", Role::Manager).await;
    let today = chrono::Utc::now().date_naive();
    let account =
        customer(&app, ("segment", "g-orbit"), ("4", "400", "month"), today - chrono::Days::new(200), None).await;
    let other = AccountInput { name: Some("Quiet Ltd".into()), country: Some("US".into()), ..Default::default() };
    keepwell_server::accounts::create(
        &app.store,
        &keepwell_server::cause::Caller::system("test"),
        other.validate().unwrap(),
    )
    .await
    .unwrap();
    let key = common::write_key(&app).await;
    let ago = |hours: i64| (chrono::Utc::now() - chrono::Duration::hours(hours)).to_rfc3339();
    let batch = serde_json::json!({"batch": [
        {"type": "group", "userId": "u1", "groupId": "g-orbit", "timestamp": ago(30)},
        {"type": "track", "userId": "u1", "event": "Report Built", "timestamp": ago(2)},
    ]});
    let res = app.http.post(app.url("/v1/batch")).basic_auth(&key, Some("")).json(&batch);
    assert_eq!(res.send().await.unwrap().status(), 200);

    let (_driver, c) = start().await;
    c.goto(&app.url("/segments")).await.unwrap();
    log_in(&c, "max@team.io").await;

    // The builder counts as the filter is typed, and names the column of a mistake.
    wait_for_text(&c, "#empty-state", "No segments yet").await;
    let filter = c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#segment-filter")).await.unwrap();
    filter.send_keys("mrr >= 400 and countri = 1").await.unwrap();
    wait_for_text(&c, "#live-count", "column 16: unknown field \"countri\"").await;
    filter.clear().await.unwrap();
    filter.send_keys("mrr >= 400 and active_users(30) >= 1").await.unwrap();
    wait_for_text(&c, "#live-count", "1 accounts").await;
    c.find(Locator::Css("#segment-key")).await.unwrap().send_keys("engaged").await.unwrap();
    c.find(Locator::Css("#segment-name")).await.unwrap().send_keys("Engaged payers").await.unwrap();
    c.find(Locator::Css("#segment-save")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Segment saved").await;
    wait_for_text(&c, "#members", "Orbit Labs").await;
    assert!(text(&c, "#segment-history").await.contains("entered"));
    shot(&c, "segment").await;

    // The account's health, measure by measure; a sentiment and an override.
    c.goto(&app.url(&format!("/accounts/{}", account.id))).await.unwrap();
    let score: f64 = text(&c, "#health-score").await.parse().unwrap();
    assert!((0.0..=100.0).contains(&score));
    let measures = text(&c, "#health-measures").await;
    assert!(measures.contains("license_utilization") && measures.contains("no data"), "{measures}");
    c.find(Locator::Css("#sentiment-rating option[value='1']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#sentiment-reason")).await.unwrap().send_keys("budget frozen").await.unwrap();
    c.find(Locator::Css("#sentiment-save")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Sentiment recorded").await;
    assert!(text(&c, "#sentiments").await.contains("1/5 budget frozen"));
    let after: f64 = text(&c, "#health-score").await.parse().unwrap();
    assert!(after < score, "a gloomy sentiment lowers the score: {score} → {after}");
    c.find(Locator::Css("#override-score")).await.unwrap().send_keys("12").await.unwrap();
    c.find(Locator::Css("#override-reason")).await.unwrap().send_keys("champion left").await.unwrap();
    c.find(Locator::Css("#override-save")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#health-override", "champion left").await;
    assert_eq!(text(&c, "#health-band").await, "Red");
    c.execute("document.getElementById('health').scrollIntoView()", vec![]).await.unwrap();
    shot(&c, "account-health").await;

    // The accounts list shows it and filters by band.
    c.goto(&app.url("/accounts?band=red")).await.unwrap();
    wait_for_text(&c, "#accounts-table", "Orbit Labs").await;
    assert!(!text(&c, "#accounts-table").await.contains("Quiet Ltd"));

    // The scorecard editor refuses a mistake whole, then saves a new revision.
    c.goto(&app.url("/scorecards/default")).await.unwrap();
    let area =
        c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#scorecard-definition")).await.unwrap();
    let toml = area.prop("value").await.unwrap().unwrap_or_default();
    area.clear().await.unwrap();
    area.send_keys(&toml.replacen("weight = 1\n", "weight = -1\n", 1)).await.unwrap();
    c.find(Locator::Css("#scorecard-save")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".scorecard-error", "measures[0].weight").await;
    let area = c.find(Locator::Css("#scorecard-definition")).await.unwrap();
    area.clear().await.unwrap();
    area.send_keys(&toml.replacen("weight = 2", "weight = 3", 1)).await.unwrap();
    c.find(Locator::Css("#scorecard-save")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Scorecard saved").await;
    c.goto(&app.url("/scorecards")).await.unwrap();
    wait_for_text(&c, "#scorecards-table", "Default").await;

    // A lifecycle rule from the UI moves the account at once, with the rule as the cause.
    c.goto(&app.url("/lifecycle")).await.unwrap();
    wait_for_text(&c, "#empty-state", "No rules").await;
    c.find(Locator::Css("#rule-key")).await.unwrap().send_keys("paying-expands").await.unwrap();
    c.find(Locator::Css("#rule-name")).await.unwrap().send_keys("Paying accounts expand").await.unwrap();
    c.find(Locator::Css("#rule-stage option[value='expansion']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#rule-condition")).await.unwrap().send_keys("mrr >= 400").await.unwrap();
    wait_for_text(&c, "#rule-count", "1 accounts").await;
    c.find(Locator::Css("#rule-save")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Rule saved").await;
    assert!(text(&c, "#rules-table").await.contains("Paying accounts expand"));
    c.goto(&app.url(&format!("/accounts/{}", account.id))).await.unwrap();
    wait_for_text(&c, "#stage-history", "rule:paying-expands").await;

    // The backtest report draws its ROC curve and band table (no churn here to predict).
    c.goto(&app.url("/health/backtest?horizon_days=30")).await.unwrap();
    wait_for_text(&c, "#backtest-bands", "Red").await;
    assert!(text(&c, "#backtest-no-churn").await.contains("No account churned"));
    shot(&c, "backtest").await;
    c.close().await.unwrap();
}

/// A CSM's day in both languages: the home page lists the task due, a call is logged on the
/// account with its notes in Markdown, the task is completed from the inbox, and the timeline
/// tells both, worded in the page's language.
#[tokio::test]
async fn a_csm_logs_a_call_completes_a_task_and_reads_the_timeline() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let dee = app.member("dee@team.io", Role::Csm).await;
    let system = keepwell_server::cause::Caller::system("test");
    let yesterday = app.store.clock().today() - chrono::Days::new(1);
    let (_driver, c) = start().await;
    c.goto(&app.url("/home")).await.unwrap();
    log_in(&c, "dee@team.io").await;
    wait_for_text(&c, "h1", "dee").await;
    let words = [("en", "Call", "Task done", "Done"), ("ru", "Звонок", "Задача выполнена", "Выполнено")];
    for (lang, call, done, done_flash) in words {
        let name = format!("Orbit {lang}");
        let a = AccountInput { name: Some(name.clone()), owner_id: Some(dee), ..Default::default() };
        let account = keepwell_server::accounts::create(&app.store, &system, a.validate().unwrap()).await.unwrap();
        let title = format!("Send the recap ({lang})");
        let task = keepwell_core::task::Draft {
            title: Some(title.clone()),
            account_id: Some(account.id),
            owner_id: Some(dee),
            due_on: Some(yesterday),
            ..Default::default()
        };
        keepwell_server::tasks::open(&app.store, &system, task, None).await.unwrap();
        if lang == "ru" {
            c.find(Locator::Css("#lang")).await.unwrap().select_by_value("ru").await.unwrap();
            wait_for_text(&c, "header.top nav", "Задачи").await;
        }

        // Home: the overdue task is there.
        c.goto(&app.url("/home")).await.unwrap();
        wait_for_text(&c, "#home-tasks", &title).await;
        shot(&c, &format!("home-{lang}")).await;

        // Log a call on the account.
        c.goto(&app.url(&format!("/accounts/{}", account.id))).await.unwrap();
        wait_for_text(&c, "#account-name", &name).await;
        c.find(Locator::Css("#interaction-kind")).await.unwrap().select_by_value("call").await.unwrap();
        c.find(Locator::Css("#interaction-subject")).await.unwrap().send_keys("Kick-off").await.unwrap();
        c.find(Locator::Css("#interaction-body")).await.unwrap().send_keys("**Goals** agreed").await.unwrap();
        c.find(Locator::Css("#interaction-save")).await.unwrap().click().await.unwrap();
        wait_for_text(&c, ".flash", "Kick-off").await;
        wait_for_text(&c, "#interaction-list", &format!("{call}: Kick-off")).await;
        let bold = text(&c, "#interaction-list .md strong").await;
        assert_eq!(bold, "Goals", "the notes are rendered as Markdown");

        // Complete the task from the inbox.
        c.goto(&app.url("/tasks?due=overdue")).await.unwrap();
        wait_for_text(&c, "#task-list", &title).await;
        shot(&c, &format!("tasks-{lang}")).await;
        c.find(Locator::Css("#task-list button.task-done")).await.unwrap().click().await.unwrap();
        wait_for_text(&c, ".flash", &format!("{done_flash}: {title}")).await;
        wait_for_text(&c, "#tasks-empty", "").await;

        // The timeline tells both, newest first.
        c.goto(&app.url(&format!("/accounts/{}#timeline", account.id))).await.unwrap();
        wait_for_text(&c, "#timeline-entries", &format!("{done}: {title}")).await;
        let timeline = text(&c, "#timeline-entries").await;
        let (task_at, call_at) = (timeline.find(done).unwrap(), timeline.find(&format!("{call}: Kick-off")));
        assert!(call_at.is_some_and(|c| c > task_at), "the task closed after the call was logged: {timeline}");
        assert!(!timeline.contains('{') && !timeline.contains("tl-"), "worded for people: {timeline}");
        shot(&c, &format!("timeline-{lang}")).await;
    }
    c.close().await.unwrap();
}

/// A manager builds a playbook in the form, simulates it over 90 days, switches it on enrolling
/// the accounts that already match, and finds its task in their inbox.
#[tokio::test]
async fn a_manager_builds_simulates_and_switches_on_a_playbook() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let max = app.member("max@team.io", Role::Manager).await;
    let today = chrono::Utc::now().date_naive();
    let account = customer(&app, ("crm", "c-orbit"), ("4", "400", "month"), today - chrono::Days::new(200), None).await;
    let (status, body) =
        app.patch(&format!("/api/v1/accounts/{}", account.id), &app.admin, serde_json::json!({"owner_id": max})).await;
    assert_eq!(status, 200, "{body}");

    let (_driver, c) = start().await;
    c.goto(&app.url("/playbooks")).await.unwrap();
    log_in(&c, "max@team.io").await;
    wait_for_text(&c, "#playbooks-table", "Health turned red").await;
    c.find(Locator::Css("#playbook-key")).await.unwrap().send_keys("payers-check").await.unwrap();
    c.find(Locator::Css("#playbook-name")).await.unwrap().send_keys("Check in with payers").await.unwrap();
    c.find(Locator::Css("#playbook-trigger-kind option[value='condition']")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#playbook-trigger-condition")).await.unwrap().send_keys("mrr >= 400").await.unwrap();
    c.find(Locator::Css("#playbook-days")).await.unwrap().send_keys("1").await.unwrap();
    c.find(Locator::Css("#playbook-task-title")).await.unwrap().send_keys("Check in").await.unwrap();
    c.find(Locator::Css("#playbook-due-days")).await.unwrap().send_keys("0").await.unwrap();
    shot(&c, "playbook-form").await;
    c.find(Locator::Css("#playbook-save")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Playbook saved").await;
    assert!(text(&c, "#playbook-trigger").await.contains("mrr >= 400 for 1 day"));
    c.find(Locator::Css("#playbook-preview")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#preview-existing", "acts for 1 account today (1 task)").await;

    c.find(Locator::Css("#playbook-simulate")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, "#simulation-total", "1 action in 90 days.").await;
    assert!(text(&c, "#simulation-table").await.contains("Orbit Labs"));
    shot(&c, "playbook-simulation").await;

    c.find(Locator::Css("#enrol-existing")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#playbook-enable-button")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Playbook switched on.").await;
    wait_for_text(&c, "#runs-table", "Orbit Labs").await;
    shot(&c, "playbook-runs").await;
    c.goto(&app.url("/tasks")).await.unwrap();
    wait_for_text(&c, "main", "Check in").await;
    assert!(text(&c, "main").await.contains("Orbit Labs"));
    shot(&c, "playbook-task-in-inbox").await;
}

#[tokio::test]
async fn a_manager_sorts_acts_on_and_exports_the_accounts_list() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.member("mia@team.io", Role::Manager).await;
    let today = chrono::Utc::now().date_naive();
    let mut ids = vec![];
    for (name, crm, amount) in
        [("Acme Robotics", "c-1", "3000"), ("Blue Foods", "c-2", "1000"), ("Cedar Health", "c-3", "2000")]
    {
        let (status, a) =
            app.post("/api/v1/accounts", &app.admin, serde_json::json!({"name": name, "external_id": crm})).await;
        assert_eq!(status, 201, "{a}");
        let id = a["id"].as_i64().unwrap();
        let period = serde_json::json!({"subscription_id": format!("s-{crm}"), "plan": "pro", "currency": "USD", "amount": amount,
            "interval": "month", "starts_on": today - chrono::Days::new(40)});
        let (status, body) = app.post(&format!("/api/v1/accounts/{id}/subscriptions"), &app.admin, period).await;
        assert_eq!(status, 201, "{body}");
        ids.push(id);
    }
    let (_driver, c) = start().await;
    c.goto(&app.url("/accounts")).await.unwrap();
    log_in(&c, "mia@team.io").await;
    wait_for_text(&c, "#accounts-total", "3 accounts").await;

    // A click on MRR sorts by it, largest first; a second click turns the order.
    let first_row = "#accounts-table tbody tr:first-child";
    c.find(Locator::Css("a[data-sort=mrr]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, first_row, "Acme Robotics").await;
    assert!(text(&c, first_row).await.contains("$3,000.00"), "{}", text(&c, first_row).await);
    c.find(Locator::Css("a[data-sort=mrr]")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, first_row, "Blue Foods").await;
    shot(&c, "accounts-list").await;

    // Two accounts chosen get a tag.
    for id in &ids[..2] {
        c.find(Locator::Css(&format!("input[name=ids][value='{id}']"))).await.unwrap().click().await.unwrap();
    }
    c.find(Locator::Css("#bulk-action")).await.unwrap().select_by_value("tag").await.unwrap();
    c.find(Locator::Css("#bulk-tag")).await.unwrap().send_keys("champion").await.unwrap();
    c.find(Locator::Css("#bulk-submit")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Done: 2 of 2 accounts changed.").await;

    // The export is what the filter shows, in the import's format.
    c.find(Locator::Css("#account-filters select[name=tag]")).await.unwrap().select_by_value("champion").await.unwrap();
    wait_for_text(&c, "#accounts-total", "2 accounts").await;
    let fetch_export = "const done = arguments[0]; \
        fetch(document.getElementById('export-csv').href).then(r => r.text()).then(done, e => done('failed: ' + e));";
    let csv = c.execute_async(fetch_export, vec![]).await.unwrap();
    let csv = csv.as_str().unwrap().to_owned();
    assert!(csv.starts_with("external_id,name,domain"), "{csv}");
    assert_eq!(csv.lines().count(), 3, "{csv}");
    assert!(csv.contains("c-1,Acme Robotics") && csv.contains("3000.00"), "{csv}");

    // In Russian: the same list, numbers as Russian writes them, a task on every matching account.
    c.find(Locator::Css("#lang")).await.unwrap().select_by_value("ru").await.unwrap();
    wait_for_text(&c, "header.top nav", "Аккаунты").await;
    c.goto(&app.url("/accounts?sort=-mrr")).await.unwrap();
    // (WebDriver reads the no-break spaces as spaces.)
    wait_for_text(&c, first_row, "3 000,00 $").await;
    c.find(Locator::Css("a[data-sort=owner]")).await.unwrap().click().await.unwrap();
    c.wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::Css("th[aria-sort] a[data-sort=owner]"))
        .await
        .unwrap();
    c.find(Locator::Css("#bulk-all")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("#bulk-action")).await.unwrap().select_by_value("task").await.unwrap();
    c.find(Locator::Css("#bulk-title")).await.unwrap().send_keys("Позвонить до QBR").await.unwrap();
    c.find(Locator::Css("#bulk-submit")).await.unwrap().click().await.unwrap();
    wait_for_text(&c, ".flash", "Готово: изменено 3 из 3 аккаунтов.").await;
    shot(&c, "accounts-list-ru").await;
    let csv = c.execute_async(fetch_export, vec![]).await.unwrap();
    assert_eq!(csv.as_str().unwrap().lines().count(), 4, "{csv}");
    let (_, tasks) = app.get("/api/v1/tasks?limit=50", &app.admin).await;
    assert_eq!(tasks["data"].as_array().unwrap().len(), 3, "{tasks}");
    c.close().await.unwrap();
}
