//! The accounts list as a working tool (issue 19), on both backends: figures kept current by
//! writes and by the pass, sorting by each of them with cursors, bulk actions checked per
//! account, and an export that `import accounts` reads back as it was.

mod common;

use chrono::{Days, NaiveDate};
use common::{fields, logged_in, page, post, send_batch, tick, TestApp};
use keepwell_core::Role;
use serde_json::{json, Value};

on_both_backends!(
    the_list_shows_and_sorts_by_what_a_csm_needs,
    bulk_actions_change_only_what_the_caller_may,
    an_export_reads_back_as_it_was,
    the_page_chooses_columns_sorts_and_acts_in_both_languages,
);

fn today(app: &TestApp) -> NaiveDate {
    app.store.clock().today()
}

async fn account(app: &TestApp, name: &str, crm: &str, owner: Option<&str>) -> i64 {
    let mut body = json!({"name": name, "external_id": crm});
    if let Some(o) = owner {
        body["owner_email"] = json!(o);
    }
    let (status, a) = app.post("/api/v1/accounts", &app.admin, body).await;
    assert_eq!(status, 201, "{a}");
    a["id"].as_i64().unwrap()
}

/// The names of a list's accounts, in order.
async fn names(app: &TestApp, query: &str) -> Vec<String> {
    let (status, body) = app.get(&format!("/api/v1/accounts?{query}"), &app.admin).await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()).collect()
}

async fn figures(app: &TestApp, name: &str) -> Value {
    let (_, body) = app.get(&format!("/api/v1/accounts?q={name}"), &app.admin).await;
    body["data"][0]["figures"].clone()
}

async fn the_list_shows_and_sorts_by_what_a_csm_needs(app: TestApp) {
    let today = today(&app);
    app.member("ann@team.io", Role::Csm).await;
    let bob = app.member("bob@team.io", Role::Csm).await;
    let alpha = account(&app, "Alpha", "c-1", Some("ann@team.io")).await;
    let beta = account(&app, "Beta", "c-2", Some("bob@team.io")).await;
    account(&app, "Gamma", "c-3", None).await;
    // Alpha: 1 200 USD a year (100 a month), renewing in 335 days. Beta: 120 EUR a month, worth
    // 180 USD at this month's rate, so it sorts above Alpha although 120 < the other's 1 200.
    let started = today - Days::new(30);
    let renews = started + Days::new(365);
    let yearly = json!({"subscription_id": "s-a", "plan": "pro", "currency": "USD", "amount": "1200", "interval": "year",
        "starts_on": started, "renews_on": renews});
    let (status, body) = app.post(&format!("/api/v1/accounts/{alpha}/subscriptions"), &app.admin, yearly).await;
    assert_eq!(status, 201, "{body}");
    let month = today.format("%Y-%m").to_string();
    let (status, body) = app
        .post("/api/v1/fx-rates", &app.admin, json!({"rates": [{"currency": "EUR", "month": month, "rate": "1.5"}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let monthly = json!({"subscription_id": "s-b", "plan": "pro", "currency": "EUR", "amount": "120", "interval": "month",
        "starts_on": today - Days::new(10)});
    let (status, body) = app.post(&format!("/api/v1/accounts/{beta}/subscriptions"), &app.admin, monthly).await;
    assert_eq!(status, 201, "{body}");

    // A billing write shows in the list at once, before any pass.
    let f = figures(&app, "Alpha").await;
    assert_eq!(
        (&f["mrr"], &f["arr"], &f["currency"], &f["mrr_reporting"]),
        (&json!("100.00"), &json!("1200.00"), &json!("USD"), &json!("100.00")),
        "{f}"
    );
    assert_eq!(f["renews_on"], json!(renews));
    let f = figures(&app, "Beta").await;
    assert_eq!(
        (&f["mrr"], &f["currency"], &f["mrr_reporting"]),
        (&json!("120.00"), &json!("EUR"), &json!("180.00")),
        "{f}"
    );
    assert_eq!(figures(&app, "Gamma").await["mrr"], Value::Null);
    assert_eq!(names(&app, "sort=-mrr").await, ["Beta", "Alpha", "Gamma"]);
    assert_eq!(names(&app, "sort=arr").await, ["Gamma", "Alpha", "Beta"]);
    // The soonest renewal first; none last.
    assert_eq!(names(&app, "sort=renews_on").await.last().unwrap(), "Gamma");

    // Usage: the last day of activity, kept as events are folded in.
    let mut batch = vec![];
    for (user, group, day) in [("u1", "c-1", today - Days::new(1)), ("u2", "c-2", today - Days::new(5))] {
        let at = format!("{day}T09:00:00Z");
        batch.push(json!({"type": "group", "userId": user, "groupId": group, "messageId": format!("g-{user}"), "timestamp": at}));
        batch.push(json!({"type": "track", "userId": user, "event": "Report Built", "messageId": format!("t-{user}"), "timestamp": at}));
    }
    send_batch(&app, batch).await;
    tick(&app, today).await;
    assert_eq!(figures(&app, "Alpha").await["last_active_on"], json!(today - Days::new(1)));
    assert_eq!(figures(&app, "Beta").await["last_active_on"], json!(today - Days::new(5)));
    assert_eq!(figures(&app, "Gamma").await["last_active_on"], Value::Null);
    assert_eq!(names(&app, "sort=-last_active_on").await, ["Alpha", "Beta", "Gamma"]);

    // Health as the pass left it: the same as the account's health.
    for name in ["Alpha", "Beta", "Gamma"] {
        let f = figures(&app, name).await;
        let (_, list) = app.get(&format!("/api/v1/accounts?q={name}"), &app.admin).await;
        let id = list["data"][0]["id"].as_i64().unwrap();
        let (status, h) = app.get(&format!("/api/v1/accounts/{id}/health"), &app.admin).await;
        assert_eq!(status, 200, "{h}");
        assert_eq!((&f["band"], &f["coverage"]), (&h["band"], &h["coverage"]), "{name}: {f} against {h}");
        match h["score"].as_f64() {
            Some(s) => assert!((f["score"].as_f64().unwrap() - s).abs() < 0.01, "{name}: {f} against {h}"),
            None => assert_eq!(f["score"], Value::Null, "{name}"),
        }
    }
    // An override is in the list at once, and sorts it.
    let (_, list) = app.get("/api/v1/accounts?q=Gamma", &app.admin).await;
    let gamma = list["data"][0]["id"].as_i64().unwrap();
    let expires = today + Days::new(30);
    let (status, body) = app
        .post(
            &format!("/api/v1/accounts/{gamma}/health/overrides"),
            &app.admin,
            json!({"score": 99, "reason": "exec sponsor is thrilled", "expires_on": expires}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let f = figures(&app, "Gamma").await;
    assert_eq!((f["score"].as_f64(), &f["band"], &f["overridden"]), (Some(99.0), &json!("green"), &json!(true)), "{f}");
    assert_eq!(names(&app, "sort=-score").await[0], "Gamma");
    let covered = names(&app, "sort=-coverage").await;
    assert_eq!(covered.len(), 3);

    // The owner's name orders the list (none first), and a rename moves it.
    assert_eq!(names(&app, "sort=owner").await, ["Gamma", "Alpha", "Beta"]);
    let (status, body) = app.patch(&format!("/api/v1/users/{bob}"), &app.admin, json!({"name": "Aaron"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&app, "sort=owner").await, ["Gamma", "Beta", "Alpha"]);

    // Pages by a figure: every account once, in order, whatever the page size.
    let mut seen = vec![];
    let mut query = "sort=-mrr&limit=1".to_owned();
    loop {
        let (_, body) = app.get(&format!("/api/v1/accounts?{query}"), &app.admin).await;
        seen.extend(body["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap().to_owned()));
        match body["next_cursor"].as_str() {
            Some(c) => query = format!("sort=-mrr&limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["Beta", "Alpha", "Gamma"]);
    // A cursor of one order is refused by another.
    let (_, body) = app.get("/api/v1/accounts?sort=renews_on&limit=1", &app.admin).await;
    let cursor = body["next_cursor"].as_str().unwrap().to_owned();
    let (status, body) = app.get(&format!("/api/v1/accounts?sort=-mrr&cursor={cursor}"), &app.admin).await;
    assert_eq!((status, fields(&body)), (422, vec!["cursor".to_owned()]));
    let (status, body) = app.get("/api/v1/accounts?sort=health", &app.admin).await;
    assert_eq!((status, fields(&body)), (422, vec!["sort".to_owned()]));
    let (status, body) = app.get(&format!("/api/v1/accounts?q={}", "a".repeat(201)), &app.admin).await;
    assert_eq!((status, fields(&body)), (422, vec!["q".to_owned()]));

    // Time moves periods into force: one that starts in two days shows then, by the pass.
    let later = json!({"subscription_id": "s-c", "plan": "pro", "currency": "USD", "amount": "50", "interval": "month",
        "starts_on": today + Days::new(2)});
    let (status, body) = app.post(&format!("/api/v1/accounts/{gamma}/subscriptions"), &app.admin, later).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(figures(&app, "Gamma").await["mrr"], Value::Null, "not yet in force");
    tick(&app, today + Days::new(1)).await;
    assert_eq!(figures(&app, "Gamma").await["mrr"], Value::Null, "not yet in force");
    tick(&app, today + Days::new(2)).await;
    assert_eq!(figures(&app, "Gamma").await["mrr"], json!("50.00"));

    // A deleted subscription leaves the list at once.
    let (_, periods) = app.get(&format!("/api/v1/accounts/{alpha}/subscriptions"), &app.admin).await;
    let period = periods["data"][0]["id"].as_i64().unwrap();
    assert_eq!(app.delete(&format!("/api/v1/accounts/{alpha}/subscriptions/{period}"), &app.admin).await, 204);
    assert_eq!(figures(&app, "Alpha").await["mrr"], Value::Null);
}

async fn bulk_actions_change_only_what_the_caller_may(app: TestApp) {
    let ann = app.member_token("ann@team.io", Role::Csm).await;
    app.member("bob@team.io", Role::Csm).await;
    let manager = app.member_token("mia@team.io", Role::Manager).await;
    let viewer = app.member_token("vic@team.io", Role::Viewer).await;
    let alpha = account(&app, "Alpha", "c-1", Some("ann@team.io")).await;
    let beta = account(&app, "Beta", "c-2", Some("bob@team.io")).await;
    let gamma = account(&app, "Gamma", "c-3", None).await;

    // A CSM tags what they own; the account someone else owns is counted, not changed.
    let (status, r) = app.post("/api/v1/accounts/bulk", &ann, json!({"ids": [alpha, beta], "add_tag": "VIP "})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        (r["matched"].as_i64(), r["changed"].as_i64(), r["unchanged"].as_i64(), r["refused"].as_i64()),
        (Some(2), Some(1), Some(0), Some(1)),
        "{r}"
    );
    assert!(r["refused_reason"].as_str().unwrap().contains("own"), "{r}");
    assert_eq!(names(&app, "tag=vip").await, ["Alpha"]);
    let (_, r) = app.post("/api/v1/accounts/bulk", &ann, json!({"ids": [alpha, beta], "add_tag": "vip"})).await;
    assert_eq!(
        (r["changed"].as_i64(), r["unchanged"].as_i64(), r["refused"].as_i64()),
        (Some(0), Some(1), Some(1)),
        "{r}"
    );
    // Only a manager hands accounts over; a viewer changes nothing.
    let (status, _) = app.post("/api/v1/accounts/bulk", &ann, json!({"ids": [alpha], "set_owner_id": 1})).await;
    assert_eq!(status, 403);
    let (status, _) = app.post("/api/v1/accounts/bulk", &viewer, json!({"ids": [alpha], "add_tag": "x"})).await;
    assert_eq!(status, 403);

    // Every account matching a filter (here: none, so all three) gets a task, owned by the
    // account's owner; asked again, the same tasks are asked again, not doubled.
    let due = today(&app) + Days::new(7);
    let task = json!({"title": "Check in before the QBR", "kind": "risk", "due_on": due});
    let (status, r) = app.post("/api/v1/accounts/bulk", &manager, json!({"filter": {}, "create_task": task})).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!((r["matched"].as_i64(), r["changed"].as_i64()), (Some(3), Some(3)), "{r}");
    let (_, r) = app.post("/api/v1/accounts/bulk", &manager, json!({"filter": {}, "create_task": task})).await;
    assert_eq!((r["changed"].as_i64(), r["unchanged"].as_i64()), (Some(0), Some(3)), "{r}");
    let (_, tasks) = app.get("/api/v1/tasks?limit=50", &manager).await;
    let tasks = tasks["data"].as_array().unwrap();
    assert_eq!(tasks.len(), 3, "{tasks:?}");
    let owner_of = |account: i64| {
        tasks.iter().find(|t| t["account"]["id"] == json!(account)).map(|t| t["owner"]["email"].clone()).unwrap()
    };
    assert_eq!(owner_of(alpha), "ann@team.io");
    assert_eq!(owner_of(beta), "bob@team.io");
    assert_eq!(owner_of(gamma), "mia@team.io");

    // A filter: only the tagged account moves to another owner.
    let ann_id = app.member("ann@team.io", Role::Csm).await;
    let (status, r) =
        app.post("/api/v1/accounts/bulk", &manager, json!({"filter": {"tag": "vip"}, "set_owner_id": ann_id})).await;
    assert_eq!((status, r["matched"].as_i64(), r["unchanged"].as_i64()), (200, Some(1), Some(1)), "{r}");
    let (_, r) =
        app.post("/api/v1/accounts/bulk", &manager, json!({"ids": [beta, gamma], "set_owner_id": ann_id})).await;
    assert_eq!(r["changed"].as_i64(), Some(2), "{r}");
    assert_eq!(names(&app, &format!("owner={ann_id}")).await, ["Alpha", "Beta", "Gamma"]);

    // Bad input is refused naming the field, and changes nothing.
    for (body, expected) in [
        (json!({}), vec!["add_tag", "ids"]),
        (json!({"ids": [alpha], "add_tag": "  "}), vec!["tag"]),
        (json!({"ids": [alpha], "add_tag": "emea,apac"}), vec!["tag"]),
        (json!({"ids": [alpha], "create_task": {"title": "x", "source": "renewal:1"}}), vec!["create_task.source"]),
        (json!({"ids": [alpha], "add_tag": "x", "set_owner_id": ann_id}), vec!["add_tag"]),
        (json!({"ids": [alpha, "two"], "add_tag": "x"}), vec!["ids[1]"]),
        (json!({"ids": [alpha, 999_999], "add_tag": "x"}), vec!["ids"]),
        (json!({"ids": vec![alpha; 5001], "add_tag": "x"}), vec!["ids"]),
        (json!({"filter": {"nope": "1"}, "add_tag": "x"}), vec!["filter.nope"]),
        (json!({"filter": {"stage": "sleeping"}, "add_tag": "x"}), vec!["filter.stage"]),
        (json!({"filter": {"q": "x".repeat(201)}, "add_tag": "x"}), vec!["filter.q"]),
        (json!({"ids": [alpha], "create_task": {"kind": "risk"}}), vec!["title"]),
        (json!({"ids": [alpha], "set_owner_id": 999_999}), vec!["owner_id"]),
        (json!({"ids": [alpha], "add_tag": "x", "color": "red"}), vec!["color"]),
    ] {
        let (status, problem) = app.post("/api/v1/accounts/bulk", &manager, body.clone()).await;
        assert_eq!(
            (status, fields(&problem)),
            (422, expected.iter().map(|s| s.to_string()).collect()),
            "{body}: {problem}"
        );
    }
    assert_eq!(names(&app, "tag=x").await, Vec::<String>::new());
}

async fn an_export_reads_back_as_it_was(app: TestApp) {
    app.member("ann@team.io", Role::Csm).await;
    for (name, crm, owner, stage) in [
        ("Alpha, Inc.", "c-1", Some("ann@team.io"), "adoption"),
        ("Beta \"the\" Bank", "c-2", None, "adoption"),
        ("Gamma", "c-3", None, "onboarding"),
    ] {
        let mut body = json!({"name": name, "external_id": crm, "lifecycle_stage": stage, "domain": format!("{crm}.example"),
            "employees": 40, "country": "de", "plan": "Pro", "tags": ["emea", "beta program"],
            "attributes": {"seats": 25, "region": "EMEA", "signed": "2026-01-31"}});
        if let Some(o) = owner {
            body["owner_email"] = json!(o);
        }
        let (status, a) = app.post("/api/v1/accounts", &app.admin, body).await;
        assert_eq!(status, 201, "{a}");
    }
    let res =
        app.call(reqwest::Method::GET, "/api/v1/accounts/export?stage=adoption&sort=-name", &app.admin, None).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(res.headers()["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"accounts-"));
    let csv = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        headers,
        [
            "external_id",
            "name",
            "domain",
            "industry",
            "employees",
            "country",
            "plan",
            "lifecycle_stage",
            "owner_email",
            "tags",
            "mrr",
            "arr",
            "currency",
            "renews_on",
            "last_active_on",
            "health_score",
            "health_band",
            "coverage",
            "attribute.region",
            "attribute.seats",
            "attribute.signed",
        ]
    );
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.iter().map(|r| r[1].to_owned()).collect::<Vec<_>>(), ["Beta \"the\" Bank", "Alpha, Inc."]);
    assert_eq!(&records[1][8], "ann@team.io");

    // Read back as `keepwell import accounts` reads a file: the same accounts, updated in place.
    let (_, before) = app.get("/api/v1/accounts?sort=name", &app.admin).await;
    let plan =
        keepwell_core::import::ColumnPlan::new(keepwell_core::import::ImportKind::Accounts, &headers, &[]).unwrap();
    let rows: Vec<_> = records
        .iter()
        .map(|r| plan.account(&r.iter().collect::<Vec<&str>>()).validate().expect("a row the export wrote"))
        .collect();
    let caller = keepwell_server::cause::Caller::system("test");
    let summary = keepwell_server::accounts::import(&app.store, &caller, &rows, false, |_| {}).await.unwrap();
    assert_eq!((summary.created, summary.updated), (0, 2), "{summary:?}");
    let (_, after) = app.get("/api/v1/accounts?sort=name", &app.admin).await;
    let same = |v: &Value| {
        let mut v = v.clone();
        for a in v["data"].as_array_mut().unwrap() {
            a.as_object_mut().unwrap().remove("updated_at");
        }
        v
    };
    assert_eq!(same(&after), same(&before));
}

async fn the_page_chooses_columns_sorts_and_acts_in_both_languages(app: TestApp) {
    let today = today(&app);
    let alpha = account(&app, "Alpha", "c-1", None).await;
    account(&app, "Beta", "c-2", None).await;
    let yearly = json!({"subscription_id": "s-a", "plan": "pro", "currency": "EUR", "amount": "98695261.08", "interval": "year",
        "starts_on": today - Days::new(30), "renews_on": today + Days::new(1)});
    let (status, body) = app.post(&format!("/api/v1/accounts/{alpha}/subscriptions"), &app.admin, yearly).await;
    assert_eq!(status, 201, "{body}");
    let month = today.format("%Y-%m").to_string();
    let (status, body) = app
        .post("/api/v1/fx-rates", &app.admin, json!({"rates": [{"currency": "EUR", "month": month, "rate": "1.1"}]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (c, csrf) = logged_in(&app, "mia@team.io", Role::Manager).await;

    // Figures as people write them, and the renewal in words.
    let (status, html) = page(&c, &app, "/accounts?sort=-mrr").await;
    assert_eq!(status, 200);
    assert!(html.contains("€8,224,605.09"), "{html}");
    assert!(html.contains("in 1 day"));
    assert!(html.find(">Alpha<").unwrap() < html.find(">Beta<").unwrap(), "sorted by MRR, largest first");
    assert!(html.contains("aria-sort=\"descending\""));
    let mrr_header = html.split("data-sort=\"mrr\"").next().unwrap().rsplit("<a ").next().unwrap();
    assert!(mrr_header.contains("sort=mrr\""), "a click on the header turns the order: {mrr_header}");

    // Chosen columns stay chosen.
    let (_, html) = page(&c, &app, "/accounts?columns=1&c_mrr=1&c_owner=1").await;
    let column = |html: &str, key: &str| html.contains(&format!("data-sort=\"{key}\""));
    assert!(column(&html, "mrr") && column(&html, "owner") && !column(&html, "renews_on"), "only the chosen columns");
    let (_, html) = page(&c, &app, "/accounts").await;
    assert!(column(&html, "mrr") && !column(&html, "coverage") && !column(&html, "score"), "remembered");

    // A bulk action from the page, with the filter it was chosen under; the flash says what it did.
    let (status, location, _) = post(
        &c,
        &app,
        "/accounts/bulk",
        &[("_csrf", &csrf), ("filter", "q=alp"), ("all", "1"), ("action", "tag"), ("tag", "champion")],
    )
    .await;
    assert_eq!((status, location.as_str()), (303, "/accounts?q=alp"));
    let (_, html) = page(&c, &app, &location).await;
    assert!(html.contains("Done: 1 of 1 account changed."), "{html}");
    assert_eq!(names(&app, "tag=champion").await, ["Alpha"]);
    let (_, location, _) =
        post(&c, &app, "/accounts/bulk", &[("_csrf", &csrf), ("filter", ""), ("action", "tag"), ("tag", "x")]).await;
    let (_, html) = page(&c, &app, &location).await;
    assert!(html.contains("Accounts: choose at least one account"), "the field's label, not its name: {html}");

    // The export link downloads what the filter shows.
    let res = c.get(app.url("/accounts/export.csv?tag=champion")).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 2, "{csv}");

    // The same page in Russian.
    let (status, _, _) = post(&c, &app, "/language", &[("_csrf", &csrf), ("lang", "ru"), ("next", "/accounts")]).await;
    assert_eq!(status, 303);
    let (_, html) = page(&c, &app, "/accounts?sort=-mrr").await;
    assert!(html.contains("8\u{a0}224\u{a0}605,09\u{a0}€"), "{html}");
    assert!(html.contains(">Ответственный") && html.contains("Выгрузить CSV"));
    let (_, location, _) = post(
        &c,
        &app,
        "/accounts/bulk",
        &[("_csrf", &csrf), ("filter", ""), ("ids", &alpha.to_string()), ("action", "tag"), ("tag", "champion")],
    )
    .await;
    let (_, html) = page(&c, &app, &location).await;
    assert!(html.contains("Уже были такими: 1."), "{html}");
}
