//! Billing, revenue metrics, renewals and Stripe webhooks, driven over HTTP on both backends.

mod common;

use common::{fields, TestApp, STRIPE_SECRET};
use common::{send_stripe as send, stripe_event as event};
use keepwell_core::account::AccountInput;
use keepwell_core::billing::PeriodInput;
use keepwell_core::Role;
use serde_json::{json, Value};

on_both_backends!(
    metrics_return_the_worked_examples,
    movements_and_retention_over_months,
    a_missing_fx_rate_lists_the_currency_months,
    subscriptions_and_invoices_through_the_api,
    renewals_list_and_record_outcomes,
    renewals_add_up_in_one_currency_contracts_apart_cancellations_saveable,
    stripe_events_are_verified_idempotent_and_mapped,
    reports_follow_every_change_at_once,
);

/// `n` accounts with CRM ids `acc-0…`, each with one monthly period from `rows(i)`.
async fn seed(
    app: &TestApp,
    n: usize,
    rows: impl Fn(usize) -> Vec<(&'static str, &'static str, Option<&'static str>)>,
) {
    let caller = keepwell_server::cause::Caller::system("test");
    let accounts: Vec<_> = (0..n)
        .map(|i| {
            AccountInput {
                name: Some(format!("Account {i}")),
                external_ids: vec![("crm".into(), format!("acc-{i}"))],
                ..Default::default()
            }
            .validate()
            .unwrap()
        })
        .collect();
    keepwell_server::accounts::import(&app.store, &caller, &accounts, false, |_| {}).await.unwrap();
    let mut periods = Vec::new();
    for i in 0..n {
        for (k, (amount, starts, ends)) in rows(i).into_iter().enumerate() {
            periods.push(
                PeriodInput {
                    account_external_id: Some(format!("acc-{i}")),
                    subscription_id: Some(format!("sub-{i}-{k}")),
                    plan: Some("pro".into()),
                    currency: Some("USD".into()),
                    amount: Some(amount.into()),
                    interval: Some("month".into()),
                    starts_on: Some(starts.into()),
                    ends_on: ends.map(str::to_owned),
                    ..Default::default()
                }
                .validate()
                .unwrap(),
            );
        }
    }
    keepwell_server::billing::import_periods(&app.store, &caller, &periods, false, |_| {}).await.unwrap();
}

async fn metric(app: &TestApp, name: &str, query: &str) -> Vec<Value> {
    let (status, body) = app.get(&format!("/api/v1/metrics/{name}?{query}"), &app.admin).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["formula"].as_str().is_some_and(|f| !f.is_empty()));
    body["data"].as_array().unwrap().clone()
}

async fn metrics_return_the_worked_examples(app: TestApp) {
    // DOMAIN.md: 1000 paying at the start of the month, 100 lost → 10 %.
    seed(&app, 1000, |i| vec![("200", "2026-01-10", (i < 100).then_some("2026-02-15"))]).await;
    let rows = metric(&app, "customer_churn", "from=2026-02&to=2026-02").await;
    assert_eq!(
        rows[0],
        json!({"month": "2026-02", "accounts_at_start": 1000, "churned": 100, "voluntary": 100, "involuntary": 0, "rate": 10.0})
    );
    let mrr = metric(&app, "mrr", "from=2026-01&to=2026-02").await;
    assert_eq!(mrr[0]["mrr"], "200000.00");
    assert_eq!(mrr[1]["mrr"], "180000.00");
    assert_eq!(mrr[1]["arr"], "2160000.00");
    assert_eq!(mrr[1]["arpa"], "200.00");
    assert_eq!(mrr[1]["paying_accounts"], 900);
    assert_eq!(mrr[1]["currency"], "USD");
    // CLV: ARPA 200, 1 in 10 lost a month → 10-month lifetime → 2 000 (= 200 × 12 × 10/12).
    let clv = metric(&app, "clv", "from=2026-02&to=2026-02").await;
    assert_eq!(clv[0]["arpa"], "200.00");
    assert_eq!(clv[0]["monthly_churn_rate"], 10.0);
    assert_eq!(clv[0]["expected_lifetime_months"], 10.0);
    assert_eq!(clv[0]["clv"], "2000.00");
    let (status, body) = app.get("/api/v1/metrics/happiness", &app.admin).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = app.get("/api/v1/metrics/mrr?from=2026-13", &app.admin).await;
    assert_eq!((status, fields(&body)), (422, vec!["from".to_string()]));
    let (status, body) = app.get("/api/v1/metrics/mrr?segment=7", &app.admin).await;
    assert_eq!((status, fields(&body)), (422, vec!["segment".to_string()]));
}

async fn movements_and_retention_over_months(app: TestApp) {
    // acc-0: 100 → 150 in March (expansion); acc-1: 300 → 250 in March (contraction);
    // acc-2: 200, gone in March (churn); acc-3: new in March at 50.
    seed(&app, 4, |i| match i {
        0 => vec![("100", "2026-01-10", Some("2026-03-05")), ("150", "2026-03-05", None)],
        1 => vec![("300", "2026-01-10", Some("2026-03-05")), ("250", "2026-03-05", None)],
        2 => vec![("200", "2026-01-10", Some("2026-03-20"))],
        _ => vec![("50", "2026-03-12", None)],
    })
    .await;
    let m = metric(&app, "mrr_movements", "from=2026-03&to=2026-03").await;
    assert_eq!(
        m[0],
        json!({"month": "2026-03", "currency": "USD", "new": "50.00", "expansion": "50.00", "contraction": "50.00",
               "churn": "200.00", "reactivation": "0.00", "net_new": "-150.00"})
    );
    let r = metric(&app, "revenue_churn", "from=2026-03&to=2026-03").await;
    assert_eq!(r[0]["mrr_at_start"], "600.00");
    assert_eq!(r[0]["rate"], 41.666667, "(200 + 50) ÷ 600");
    assert_eq!(r[0]["expansion_rate"], 8.333333);
    let ret = metric(&app, "retention", "from=2026-03&to=2026-03").await;
    assert_eq!(
        ret[0],
        json!({"month": "2026-03", "customers_at_start": 3, "customers_at_end": 3, "new_customers": 1, "rate": 66.666667})
    );
    let nrr = metric(&app, "nrr", "from=2026-03&to=2026-03&window=1").await;
    assert_eq!(nrr[0]["value"], 66.666667, "(600 + 50 − 50 − 200) ÷ 600");
    let grr = metric(&app, "grr", "from=2026-03&to=2026-03&window=1").await;
    assert_eq!(grr[0]["value"], 58.333333, "(600 − 50 − 200) ÷ 600");
    let cohorts = metric(&app, "cohorts", "from=2026-01&to=2026-03").await;
    let jan: Vec<_> = cohorts.iter().filter(|c| c["cohort"] == "2026-01").collect();
    assert_eq!(jan.len(), 3);
    assert_eq!(jan[2]["months_since_start"], 2);
    assert_eq!(jan[2]["accounts_retained_pct"], 66.666667);
    let plan = metric(&app, "mrr", "from=2026-03&to=2026-03&plan=enterprise").await;
    assert_eq!(plan[0]["mrr"], "0.00");
}

async fn a_missing_fx_rate_lists_the_currency_months(app: TestApp) {
    let (_, a) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Euro GmbH"})).await;
    let id = a["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/accounts/{id}/subscriptions"),
            &app.admin,
            json!({"subscription_id": "s-eur", "plan": "pro", "currency": "EUR", "amount": "1200", "interval": "year", "starts_on": "2026-01-15"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["mrr"], "100.00");
    let (status, body) = app.get("/api/v1/metrics/mrr?from=2026-01&to=2026-02", &app.admin).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), vec!["fx_rates"]);
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("EUR 2026-01, EUR 2026-02"), "{message}");
    let (status, body) = app
        .post(
            "/api/v1/fx-rates",
            &app.admin,
            json!({"rates": [{"currency": "EUR", "month": "2026-01", "rate": "1.10"}, {"currency": "EUR", "month": "2026-02", "rate": "1.20"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mrr = metric(&app, "mrr", "from=2026-01&to=2026-02").await;
    assert_eq!((mrr[0]["mrr"].as_str(), mrr[1]["mrr"].as_str()), (Some("110.00"), Some("120.00")));
    let (status, body) = app
        .post("/api/v1/fx-rates", &app.admin, json!({"rates": [{"currency": "EURO", "month": "2026-1", "rate": "-1"}]}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&body), vec!["rates[0].currency", "rates[0].month", "rates[0].rate"]);
}

async fn subscriptions_and_invoices_through_the_api(app: TestApp) {
    let (_, a) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "external_id": "crm-1"})).await;
    let id = a["id"].as_i64().unwrap();
    let path = format!("/api/v1/accounts/{id}/subscriptions");
    let period = json!({"subscription_id": "s1", "plan": "pro", "quantity": 10, "currency": "usd", "amount": 12000,
        "interval": "year", "starts_on": "2026-01-01", "renews_on": "2027-01-01", "payment_terms": "30/70"});
    let (status, body) = app.post(&path, &app.admin, period.clone()).await;
    assert_eq!(status, 201, "{body}");
    // Bad input names every field and writes nothing.
    let (status, body) = app
        .post(&path, &app.admin, json!({"subscription_id": "s1", "plan": "pro", "currency": "XYZ", "amount": "12,00", "interval": "week", "starts_on": "2026-03-01", "ends_on": "2026-02-01"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&body), vec!["amount", "currency", "ends_on", "interval"]);
    let (status, body) = app
        .post(&path, &app.admin, json!({"subscription_id": "s1", "plan": "pro", "currency": "USD", "amount": "10", "interval": "month", "starts_on": "2026-06-01"}))
        .await;
    assert_eq!(status, 422, "an open period overlaps: {body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("overlaps"));
    let (_, list) = app.get(&path, &app.admin).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1);

    let inv = format!("/api/v1/accounts/{id}/invoices");
    let (status, body) = app
        .post(&inv, &app.admin, json!({"invoice_id": "in_1", "currency": "USD", "amount": "3600.00", "issued_on": "2026-01-01", "due_on": "2026-01-31", "status": "open"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, list) = app.get(&format!("{inv}?as_of=2026-02-10"), &app.admin).await;
    assert_eq!(
        (list["data"][0]["overdue"].as_bool(), list["data"][0]["days_overdue"].as_i64()),
        (Some(true), Some(10))
    );
    let (_, c) = app.get(&format!("/api/v1/accounts/{id}/contract?as_of=2026-10-03"), &app.admin).await;
    assert_eq!(c["mrr"], "1000.00");
    assert_eq!(c["arr"], "12000.00");
    assert_eq!(c["contract_value"], "12000.00");
    assert_eq!(c["seats"], 10);
    assert_eq!(c["payment_terms"], "30/70");
    assert_eq!(c["tenure_days"], 275);
    assert_eq!(c["days_to_renewal"], 90);
    assert_eq!(c["overdue_invoices"], 1);
    // A viewer reads but may not write billing.
    let viewer = app.member_token("v@team.io", Role::Viewer).await;
    assert_eq!(app.get(&path, &viewer).await.0, 200);
    assert_eq!(app.post(&path, &viewer, period).await.0, 403);
}

async fn renewals_list_and_record_outcomes(app: TestApp) {
    let csm = app.member("csm@team.io", Role::Csm).await;
    let csm_token = app.member_token("csm@team.io", Role::Csm).await;
    let (_, a) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "owner_id": csm})).await;
    let id = a["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/accounts/{id}/subscriptions"),
        &app.admin,
        json!({"subscription_id": "s1", "plan": "pro", "currency": "USD", "amount": "12000", "interval": "year", "starts_on": "2025-12-01", "renews_on": "2026-12-01"}),
    )
    .await;
    let (status, body) = app.get("/api/v1/renewals?as_of=2026-11-01&within_days=30", &csm_token).await;
    assert_eq!(status, 200, "{body}");
    let r = &body["data"][0];
    assert_eq!(
        (r["account_name"].as_str(), r["arr"].as_str(), r["days_until"].as_i64()),
        (Some("Acme"), Some("12000.00"), Some(30))
    );
    assert_eq!(r["owner_id"], csm);
    assert_eq!(r["forecast_arr"], "12000.00", "no history: forecast at 100 %");
    let rid = r["id"].as_i64().unwrap();
    let (_, none) = app.get("/api/v1/renewals?as_of=2026-11-01&within_days=29", &app.admin).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    let out = format!("/api/v1/renewals/{rid}/outcome");
    let (status, body) = app.post(&out, &csm_token, json!({"outcome": "churned"})).await;
    assert_eq!((status, fields(&body)), (422, vec!["reason".to_string()]));
    let (status, body) = app.post(&out, &csm_token, json!({"outcome": "renewed_with_upsell", "new_arr": "9000"})).await;
    assert_eq!((status, fields(&body)), (422, vec!["new_arr".to_string()]));
    let (status, body) =
        app.post(&out, &csm_token, json!({"outcome": "renewed_with_upsell", "new_arr": "15000"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["outcome"].as_str(), body["new_arr"].as_str()), (Some("renewed_with_upsell"), Some("15000.00")));
    let (_, rates) = app.get("/api/v1/renewals/rates?from=2026-12&to=2026-12", &app.admin).await;
    assert_eq!(rates["data"][0]["gross_rate"], 100.0);
    assert_eq!(rates["data"][0]["net_rate"], 125.0);
    let other = app.member_token("other@team.io", Role::Csm).await;
    assert_eq!(app.post(&out, &other, json!({"outcome": "renewed"})).await.0, 403);
}

async fn stripe_events_are_verified_idempotent_and_mapped(app: TestApp) {
    let jan = 1_767_225_600; // 2026-01-01
    let sub = json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
        "start_date": jan, "current_period_start": jan, "current_period_end": jan + 31 * 86400, "cancel_at_period_end": false,
        "items": {"object": "list", "data": [{"id": "si_1", "quantity": 4, "price": {"id": "price_1", "nickname": "Team",
            "currency": "eur", "unit_amount": 2500, "recurring": {"interval": "month", "interval_count": 1}}}]}});
    // The subscription arrives before the customer: the account is created from it.
    let (status, body) = send(&app, &event("evt_1", "customer.subscription.created", jan, sub.clone()), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, acct) = app.get("/api/v1/accounts/by-external-id/cus_1", &app.admin).await;
    assert_eq!(status, 200);
    let id = acct["id"].as_i64().unwrap();
    send(
        &app,
        &event(
            "evt_2",
            "customer.updated",
            jan,
            json!({"id": "cus_1", "object": "customer", "name": "Globex", "email": "billing@globex.io"}),
        ),
        None,
    )
    .await;
    let (_, acct) = app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await;
    assert_eq!(acct["name"], "Globex");
    let (_, periods) = app.get(&format!("/api/v1/accounts/{id}/subscriptions"), &app.admin).await;
    assert_eq!(periods["data"][0]["mrr"], "100.00");
    assert_eq!(periods["data"][0]["currency"], "EUR");

    // The same event again changes nothing.
    let (status, body) = send(&app, &event("evt_1", "customer.subscription.created", jan, sub.clone()), None).await;
    assert_eq!((status, body["duplicate"].as_bool()), (200, Some(true)));

    // Seats go up on 20 January: a new period from that day.
    let mut more = sub.clone();
    more["items"]["data"][0]["quantity"] = json!(6);
    send(&app, &event("evt_3", "customer.subscription.updated", jan + 19 * 86400, more.clone()), None).await;
    let (_, periods) = app.get(&format!("/api/v1/accounts/{id}/subscriptions"), &app.admin).await;
    let p = periods["data"].as_array().unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(
        (p[0]["ends_on"].as_str(), p[1]["starts_on"].as_str(), p[1]["mrr"].as_str()),
        (Some("2026-01-20"), Some("2026-01-20"), Some("150.00"))
    );

    // A failed payment, then the subscription is deleted: involuntary churn.
    let invoice = json!({"id": "in_1", "object": "invoice", "customer": "cus_1", "currency": "eur", "amount_due": 15000,
        "created": jan + 31 * 86400, "due_date": null, "status": "open"});
    send(&app, &event("evt_4", "invoice.payment_failed", jan + 31 * 86400, invoice.clone()), None).await;
    send(&app, &event("evt_5", "invoice.finalized", jan + 31 * 86400, invoice), None).await;
    let (_, inv) = app.get(&format!("/api/v1/accounts/{id}/invoices"), &app.admin).await;
    assert_eq!(
        (inv["data"][0]["status"].as_str(), inv["data"][0]["amount"].as_str()),
        (Some("failed"), Some("150.00")),
        "a late finalized does not undo failed"
    );
    let mut gone = more;
    gone["status"] = json!("canceled");
    gone["ended_at"] = json!(jan + 40 * 86400);
    send(&app, &event("evt_6", "customer.subscription.deleted", jan + 40 * 86400, gone), None).await;
    app.post("/api/v1/fx-rates", &app.admin, json!({"rates": [{"currency": "EUR", "month": "2026-01", "rate": "1"}, {"currency": "EUR", "month": "2026-02", "rate": "1"}, {"currency": "EUR", "month": "2025-12", "rate": "1"}]})).await;
    let churn = metric(&app, "customer_churn", "from=2026-02&to=2026-02").await;
    assert_eq!((churn[0]["churned"].as_i64(), churn[0]["involuntary"].as_i64()), (Some(1), Some(1)));

    // Unknown types are recorded and acknowledged.
    let (status, body) = send(&app, &event("evt_7", "charge.refunded", jan, json!({"id": "ch_1"})), None).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("ignored")));
    let seen = app.store.stripe_events(10).await.unwrap();
    assert_eq!(seen.len(), 7, "evt_1 to evt_7, the duplicate once");

    // A bad signature, a stale timestamp, or no header: 400 and nothing stored.
    let e = event("evt_8", "customer.created", jan, json!({"id": "cus_9", "name": "Nope"}));
    let body = serde_json::to_string(&e).unwrap();
    let now = chrono::Utc::now().timestamp();
    let forged = keepwell_core::stripe::sign(body.as_bytes(), "whsec_wrong", now);
    assert_eq!(send(&app, &e, Some(forged)).await.0, 400);
    assert_eq!(
        send(&app, &e, Some(keepwell_core::stripe::sign(body.as_bytes(), STRIPE_SECRET, now - 301))).await.0,
        400
    );
    let res = app.http.post(app.url("/webhooks/stripe")).body(body.clone()).send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(app.get("/api/v1/accounts/by-external-id/cus_9", &app.admin).await.0, 404);
    // Several v1 values (as during secret rotation): any may match.
    let good = keepwell_core::stripe::sign(body.as_bytes(), STRIPE_SECRET, now);
    let rotated = format!("t={now},v1={},{}", "ab".repeat(32), good.split(',').nth(1).unwrap());
    assert_eq!(send(&app, &e, Some(rotated)).await.0, 200);
    assert_eq!(app.get("/api/v1/accounts/by-external-id/cus_9", &app.admin).await.0, 200);
}

/// Reports are kept between requests; any change to what they read shows in the next one.
async fn reports_follow_every_change_at_once(app: TestApp) {
    seed(&app, 2, |_| vec![("100", "2026-01-10", None)]).await;
    let q = "from=2026-01&to=2026-03";
    let mrr = |rows: Vec<Value>| rows.iter().map(|r| r["mrr"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(mrr(metric(&app, "mrr", q).await), ["200.00", "200.00", "200.00"]);
    assert_eq!(mrr(metric(&app, "mrr", q).await), ["200.00", "200.00", "200.00"], "the same, from the cache");
    let list = app.get("/api/v1/accounts?limit=10", &app.admin).await.1;
    let id = list["data"][0]["id"].as_i64().unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/accounts/{id}/subscriptions"),
            &app.admin,
            json!({"subscription_id": "s-new", "plan": "pro", "currency": "USD", "amount": "50", "interval": "month", "starts_on": "2026-02-10"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(mrr(metric(&app, "mrr", q).await), ["200.00", "250.00", "250.00"]);
    assert_eq!(mrr(metric(&app, "mrr", &format!("{q}&country=FR")).await), ["0.00", "0.00", "0.00"]);
    let (status, body) = app.patch(&format!("/api/v1/accounts/{id}"), &app.admin, json!({"country": "FR"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(mrr(metric(&app, "mrr", &format!("{q}&country=FR")).await), ["100.00", "150.00", "150.00"]);
}

/// Renewal totals in the reporting currency (a month without a rate borrows the latest known and
/// says which), contract renewals apart from month-to-month ones, and a cancellation dated ahead
/// scheduled (at risk, saveable) until its day.
async fn renewals_add_up_in_one_currency_contracts_apart_cancellations_saveable(app: TestApp) {
    let sub = |name: &'static str, body: Value| {
        let app = &app;
        async move {
            let (_, a) = app.post("/api/v1/accounts", &app.admin, json!({"name": name})).await;
            let id = a["id"].as_i64().unwrap();
            let (status, p) = app.post(&format!("/api/v1/accounts/{id}/subscriptions"), &app.admin, body).await;
            assert_eq!(status, 201, "{name}: {p}");
            id
        }
    };
    let period = |id: &str, currency: &str, amount: &str, interval: &str, end: (&str, &str)| {
        let mut p = json!({"subscription_id": id, "plan": "pro", "currency": currency, "amount": amount,
            "interval": interval, "starts_on": "2025-12-01"});
        p[end.0] = json!(end.1);
        p
    };
    sub("Acme", period("acme", "USD", "12000", "year", ("renews_on", "2026-12-15"))).await;
    sub("Bolt", period("bolt", "EUR", "10000", "year", ("renews_on", "2027-01-10"))).await;
    sub("Cato", period("cato", "GBP", "1000", "year", ("renews_on", "2027-01-20"))).await;
    sub("Dino", period("dino", "USD", "500", "month", ("renews_on", "2026-12-20"))).await;
    let echo = sub("Echo", period("echo", "USD", "2400", "year", ("ends_on", "2026-12-10"))).await;
    let mut fox = period("fox", "USD", "1000", "month", ("renews_on", "2027-02-01"));
    fox["term_months"] = json!(12);
    sub("Fox", fox).await;
    let (status, body) = app
        .post(
            "/api/v1/fx-rates",
            &app.admin,
            json!({"rates": [{"currency": "EUR", "month": "2026-11", "rate": "1.10"}]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, r) = app.get("/api/v1/renewals?as_of=2026-12-01", &app.admin).await;
    assert_eq!(status, 200, "{r}");
    let names: Vec<&str> = r["data"].as_array().unwrap().iter().map(|x| x["account_name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Echo", "Acme", "Bolt", "Cato", "Fox"], "contract renewals only, by due date");
    assert_eq!((r["terms"].as_str(), r["contract_months"].as_i64()), (Some("contract"), Some(3)));
    // 12000 + 10000 EUR × 1.10 (November's rate: none for January yet) + 2400 + 12000; GBP has no rate.
    assert_eq!(
        r["totals"],
        json!({"currency": "USD", "count": 5, "arr": "37400.00", "forecast_arr": "35000.00", "at_latest_rate": 1, "unconverted": 1})
    );
    let row = |name: &str| r["data"].as_array().unwrap().iter().find(|x| x["account_name"] == name).unwrap().clone();
    let bolt = row("Bolt");
    assert_eq!(
        (bolt["currency"].as_str(), bolt["arr"].as_str(), bolt["reporting_arr"].as_str(), bolt["fx_month"].as_str()),
        (Some("EUR"), Some("10000.00"), Some("11000.00"), Some("2026-11"))
    );
    assert_eq!((row("Cato")["reporting_arr"].clone(), row("Acme")["fx_month"].clone()), (Value::Null, Value::Null));
    assert_eq!((row("Fox")["term_months"].as_i64(), row("Fox")["terms"].as_str()), (Some(12), Some("contract")));
    let e = row("Echo");
    assert_eq!(
        (e["status"].as_str(), e["outcome"].clone(), e["forecast_arr"].as_str()),
        (Some("scheduled_to_churn"), Value::Null, Some("0.00")),
        "a cancellation ahead is not churned yet"
    );
    assert_eq!(r["not_listed"]["count"], 1, "Dino's month-to-month renewal is apart: {}", r["not_listed"]);
    assert_eq!(r["not_listed"]["arr"], "6000.00");

    let (_, monthly) = app.get("/api/v1/renewals?as_of=2026-12-01&terms=monthly", &app.admin).await;
    assert_eq!(monthly["data"][0]["account_name"], "Dino");
    assert_eq!(
        (monthly["data"][0]["terms"].as_str(), monthly["data"][0]["term_months"].as_i64()),
        (Some("monthly"), Some(1))
    );
    let (_, pending) = app.get("/api/v1/renewals?as_of=2026-12-01&status=pending", &app.admin).await;
    assert_eq!(pending["totals"]["count"], 5, "scheduled churn is still to work");
    let (_, decided) = app.get("/api/v1/renewals?as_of=2026-12-01&status=decided", &app.admin).await;
    assert_eq!(decided["totals"]["count"], 0);
    let (status, bad) = app.get("/api/v1/renewals?terms=annual", &app.admin).await;
    assert_eq!((status, fields(&bad)), (422, vec!["terms".to_string()]));

    // On its day it is churned; before, the rates do not count it as decided.
    let (_, on) = app.get("/api/v1/renewals?as_of=2026-12-10&status=decided", &app.admin).await;
    assert_eq!(
        (on["data"][0]["account_name"].as_str(), on["data"][0]["outcome"].as_str()),
        (Some("Echo"), Some("churned"))
    );
    let (_, rates) = app.get("/api/v1/renewals/rates?from=2026-12&to=2026-12&as_of=2026-12-01", &app.admin).await;
    assert_eq!((rates["data"][0]["due"].as_i64(), rates["data"][0]["decided"].as_i64()), (Some(2), Some(0)), "{rates}");
    assert_eq!(rates["terms"], "contract");
    let (_, rates) = app.get("/api/v1/renewals/rates?from=2026-12&to=2026-12&as_of=2026-12-11", &app.admin).await;
    assert_eq!((rates["data"][0]["decided"].as_i64(), rates["data"][0]["net_rate"].as_f64()), (Some(1), Some(0.0)));
    let (_, all) =
        app.get("/api/v1/renewals/rates?from=2026-12&to=2026-12&terms=all&as_of=2026-12-11", &app.admin).await;
    assert_eq!(all["data"][0]["due"], 3, "Dino's monthly renewal counts only when asked");

    let (_, contract) = app.get(&format!("/api/v1/accounts/{echo}/contract?as_of=2026-12-01"), &app.admin).await;
    assert_eq!((contract["churns_on"].as_str(), contract["mrr"].as_str()), (Some("2026-12-10"), Some("200.00")));

    // The page says the same: one currency, the borrowed rate, what it leaves apart.
    let (c, _) = common::logged_in(&app, "mia@team.io", Role::Manager).await;
    let (status, html) = common::page(&c, &app, "/renewals?as_of=2026-12-01").await;
    assert_eq!(status, 200);
    for words in [
        "37400.00 USD</b> ARR",
        "One of them is converted at the latest FX rate",
        "One renewal is in a currency with no FX rate to USD",
        "Scheduled to churn on 2026-12-10",
        "one month-to-month subscription renews by itself in this window (6000.00 USD ARR)",
        "≈ 11000.00 USD",
    ] {
        assert!(html.contains(words), "{words}");
    }
}
