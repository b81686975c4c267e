//! Tasks, the timeline and the bell through the API, on both backends: opened by an account's
//! owner (not by another CSM or a viewer), asked again by their source without a second task,
//! filtered in the inbox by due date, kind and snoozing, reassigned with a notification to the new
//! owner, completed; and an account's timeline merging what happened, with causes and a cursor.

mod common;

use chrono::Days;
use common::{fields, TestApp};
use keepwell_core::Role;
use serde_json::{json, Value};

on_both_backends!(a_csm_works_tasks_from_the_inbox, the_timeline_tells_what_happened_newest_first);

fn ids(page: &Value) -> Vec<i64> {
    page["data"].as_array().unwrap().iter().map(|t| t["id"].as_i64().unwrap()).collect()
}

async fn a_csm_works_tasks_from_the_inbox(app: TestApp) {
    let dee = app.member("dee@team.io", Role::Csm).await;
    let dee_token = app.member_token("dee@team.io", Role::Csm).await;
    let eve = app.member("eve@team.io", Role::Csm).await;
    let eve_token = app.member_token("eve@team.io", Role::Csm).await;
    let viewer = app.member_token("val@team.io", Role::Viewer).await;
    let (_, acme) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "owner_id": dee})).await;
    let acme = acme["id"].as_i64().unwrap();
    let today = app.store.clock().today();
    let day = |n: i64| (today + chrono::Duration::days(n)).to_string();

    // The account's owner opens; the owner defaults to them; another CSM and a viewer may not.
    let call = json!({"title": "Call the champion", "kind": "risk", "account_id": acme, "due_on": day(-2)});
    let (status, late) = app.post("/api/v1/tasks", &dee_token, call.clone()).await;
    assert_eq!(status, 201, "{late}");
    assert_eq!((late["owner"]["id"].as_i64(), late["status"].as_str()), (Some(dee), Some("open")));
    assert_eq!((late["priority"].as_str(), late["account"]["name"].as_str()), (Some("normal"), Some("Acme")));
    for token in [&eve_token, &viewer] {
        let (status, body) = app.post("/api/v1/tasks", token, call.clone()).await;
        assert_eq!(status, 403, "{body}");
    }

    // A source asking again updates its open task: 200, one task, a comment saying why.
    let renewal = json!({"title": "Renewal in 90 days", "kind": "renewal", "account_id": acme, "due_on": day(30),
        "source": "renewal:acme-2027"});
    let (status, first) = app.post("/api/v1/tasks", &app.admin, renewal.clone()).await;
    assert_eq!(status, 201, "{first}");
    let mut again = renewal.clone();
    again["due_on"] = json!(day(3));
    again["priority"] = json!("high");
    again["comment"] = json!("30 days to go");
    let (status, second) = app.post("/api/v1/tasks", &app.admin, again).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["id"], first["id"]);
    assert_eq!((second["due_on"].as_str(), second["priority"].as_str()), (Some(day(3).as_str()), Some("high")));
    let (_, open) = app.get(&format!("/api/v1/tasks?account_id={acme}&status=open&kind=renewal"), &viewer).await;
    assert_eq!(ids(&open), vec![first["id"].as_i64().unwrap()], "{open}");
    let renewal_id = first["id"].as_i64().unwrap();
    let (_, comments) = app.get(&format!("/api/v1/tasks/{renewal_id}/comments"), &viewer).await;
    let said = comments["data"][0]["body"].as_str().unwrap();
    assert!(said.contains("30 days to go") && said.contains(&day(3)), "{comments}");

    // The inbox: soonest due first; overdue; this week; snoozed ones out until their day.
    let (status, later) =
        app.post("/api/v1/tasks", &dee_token, json!({"title": "Send the deck", "due_on": day(20)})).await;
    assert_eq!(status, 201, "a csm opens a task of their own without an account: {later}");
    let (_, mine) = app.get("/api/v1/tasks?owner=me", &dee_token).await;
    let want = vec![late["id"].as_i64().unwrap(), renewal_id, later["id"].as_i64().unwrap()];
    assert_eq!(ids(&mine), want, "{mine}");
    let (_, overdue) = app.get("/api/v1/tasks?owner=me&due=overdue", &dee_token).await;
    assert_eq!(ids(&overdue), vec![want[0]]);
    let (_, page) = app.get("/api/v1/tasks?owner=me&limit=2", &dee_token).await;
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, rest) = app.get(&format!("/api/v1/tasks?owner=me&limit=2&cursor={cursor}"), &dee_token).await;
    assert_eq!((ids(&rest), rest["next_cursor"].clone()), (vec![want[2]], Value::Null));
    let (status, snoozed) =
        app.patch(&format!("/api/v1/tasks/{}", want[0]), &dee_token, json!({"snoozed_until": day(1)})).await;
    assert_eq!(status, 200, "{snoozed}");
    let (_, awake) = app.get("/api/v1/tasks?owner=me", &dee_token).await;
    assert_eq!(ids(&awake), want[1..].to_vec());
    let (_, all) = app.get("/api/v1/tasks?owner=me&snoozed=include", &dee_token).await;
    assert_eq!(ids(&all), want);
    let (_, tomorrow) = app.get(&format!("/api/v1/tasks?owner=me&as_of={}", day(1)), &dee_token).await;
    assert_eq!(ids(&tomorrow), want, "the snooze ends on its day");

    // Reassigned to Eve: she is told, reads and marks it; Dee's bell is quiet.
    // The task as it was read, with its owner changed, is a change too.
    let (_, mut task) = app.get(&format!("/api/v1/tasks/{}", want[0]), &dee_token).await;
    task["owner"] = json!({"id": eve, "name": "eve"});
    let (status, given) = app.patch(&format!("/api/v1/tasks/{}", want[0]), &dee_token, task).await;
    assert_eq!((status, given["owner"]["id"].as_i64()), (200, Some(eve)), "{given}");
    let (_, bell) = app.get("/api/v1/notifications?unread=true", &eve_token).await;
    let told = &bell["data"][0];
    assert_eq!((told["kind"].as_str(), told["task_id"].as_i64()), (Some("task_assigned"), Some(want[0])), "{bell}");
    assert_eq!(told["data"]["by"], "dee");
    let (_, hers) = app.get("/api/v1/notifications", &dee_token).await;
    let told: Vec<i64> = hers["data"].as_array().unwrap().iter().map(|n| n["task_id"].as_i64().unwrap()).collect();
    assert_eq!(told, vec![renewal_id], "told of what the admin gave her, not of what she gave herself: {hers}");
    let (status, marked) = app.post("/api/v1/notifications/read", &eve_token, json!({})).await;
    assert_eq!((status, marked["marked"].as_u64()), (200, Some(1)), "{marked}");
    let (_, unread) = app.get("/api/v1/notifications?unread=true", &eve_token).await;
    assert_eq!(unread["data"], json!([]));
    // Pruning forgets what was read before the cut, and keeps what is unread.
    let cut = app.store.clock().now_micros() + 1;
    assert_eq!(app.store.prune_notifications(cut, 0).await.unwrap(), 1);
    let (_, hers) = app.get("/api/v1/notifications", &eve_token).await;
    assert_eq!(hers["data"], json!([]));
    let (_, still) = app.get("/api/v1/notifications", &dee_token).await;
    assert_eq!(still["data"].as_array().unwrap().len(), 1, "{still}");

    // Eve works her task; Dee completes the renewal; done tasks leave the open inbox.
    let (status, body) =
        app.post(&format!("/api/v1/tasks/{}/comments", want[0]), &eve_token, json!({"body": "Left a voicemail"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, _) = app.patch(&format!("/api/v1/tasks/{renewal_id}"), &eve_token, json!({"status": "done"})).await;
    assert_eq!(status, 403, "neither hers nor of an account she owns");
    let (status, done) = app.patch(&format!("/api/v1/tasks/{renewal_id}"), &dee_token, json!({"status": "done"})).await;
    assert_eq!((status, done["status"].as_str(), done["closed_by"].as_str()), (200, Some("done"), Some("token:test")));
    let (_, open) = app.get(&format!("/api/v1/tasks?account_id={acme}&snoozed=include"), &viewer).await;
    assert_eq!(ids(&open), vec![want[0]]);
    let (_, closed) = app.get(&format!("/api/v1/tasks?account_id={acme}&status=done"), &viewer).await;
    assert_eq!(ids(&closed), vec![renewal_id]);
    // A closed source asks again: a new task.
    let (status, reopened) = app.post("/api/v1/tasks", &app.admin, renewal).await;
    assert_eq!(status, 201, "{reopened}");
    assert_ne!(reopened["id"].as_i64(), Some(renewal_id));

    // Refusals name their fields and write nothing.
    let cases = [
        (json!({"kind": "risk"}), vec!["title"]),
        (json!({"title": "x", "kind": "chore"}), vec!["kind"]),
        (json!({"title": "x", "priority": "asap"}), vec!["priority"]),
        (json!({"title": "x", "due_on": "soon"}), vec!["due_on"]),
        (json!({"title": "x".repeat(301)}), vec!["title"]),
        (json!({"title": "x", "account_id": 987654}), vec!["account_id"]),
        (json!({"title": "x", "colour": "red"}), vec!["colour"]),
    ];
    for (body, want) in cases {
        let (status, answer) = app.post("/api/v1/tasks", &app.admin, body.clone()).await;
        assert_eq!((status, fields(&answer)), (422, want.iter().map(|s| s.to_string()).collect()), "{body}: {answer}");
    }
    for q in ["due=someday", "status=maybe", "kind=chore", "owner=nobody", "snoozed=never", "cursor=nope"] {
        let (status, answer) = app.get(&format!("/api/v1/tasks?{q}"), &viewer).await;
        assert_eq!(status, 422, "{q}: {answer}");
    }
}

async fn the_timeline_tells_what_happened_newest_first(app: TestApp) {
    let dee = app.member("dee@team.io", Role::Csm).await;
    let dee_token = app.member_token("dee@team.io", Role::Csm).await;
    let (_, acme) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "owner_id": dee})).await;
    let acme = acme["id"].as_i64().unwrap();
    let today = app.store.clock().today();
    let started = (today - Days::new(40)).to_string();
    let period = json!({"subscription_id": "sub_1", "plan": "pro", "quantity": 5, "currency": "USD", "amount": "500",
        "interval": "month", "starts_on": started});
    let (status, body) = app.post(&format!("/api/v1/accounts/{acme}/subscriptions"), &app.admin, period).await;
    assert_eq!(status, 201, "{body}");
    let invoice = json!({"invoice_id": "in_1", "currency": "USD", "amount": "500", "issued_on": started,
        "due_on": (today - Days::new(30)).to_string(), "status": "open"});
    let (status, body) = app.post(&format!("/api/v1/accounts/{acme}/invoices"), &app.admin, invoice).await;
    assert_eq!(status, 201, "{body}");
    let call = json!({"kind": "call", "subject": "Kick-off", "body": "**Goals** agreed",
        "occurred_at": (chrono::Utc::now() - chrono::Duration::days(2)).to_rfc3339()});
    let (status, body) = app.post(&format!("/api/v1/accounts/{acme}/interactions"), &dee_token, call).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = app
        .post(
            &format!("/api/v1/accounts/{acme}/sentiments"),
            &dee_token,
            json!({"rating": 4, "reason": "happy after the kick-off"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, task) = app.post("/api/v1/tasks", &dee_token, json!({"title": "Send the recap", "account_id": acme})).await;
    let (status, _) = app.patch(&format!("/api/v1/tasks/{}", task["id"]), &dee_token, json!({"status": "done"})).await;
    assert_eq!(status, 200);

    let segment = json!({"key": "paying", "name": "Paying", "filter": "mrr > 0"});
    let (status, body) = app.post("/api/v1/segments", &app.admin, segment).await;
    assert!((200..300).contains(&status), "{body}");
    // A band change: yesterday's pass, then a score set by hand that today's pass takes up.
    let yesterday = today - Days::new(1);
    app.store.run_days("USD", yesterday, yesterday, |_, _| {}).await.unwrap();
    let until = (today + Days::new(30)).to_string();
    let hand = json!({"score": 10, "reason": "champion left", "expires_on": until});
    let (status, body) = app.post(&format!("/api/v1/accounts/{acme}/health/overrides"), &app.admin, hand).await;
    assert_eq!(status, 201, "{body}");
    app.store.run_days("USD", today, today, |_, _| {}).await.unwrap();

    let path = format!("/api/v1/accounts/{acme}/timeline");
    let (status, all) = app.get(&path, &app.admin).await;
    assert_eq!(status, 200, "{all}");
    let entries = all["data"].as_array().unwrap();
    let titles: Vec<&str> = entries.iter().map(|e| e["title"].as_str().unwrap()).collect();
    for want in [
        "Task done: Send the recap",
        "Task opened: Send the recap",
        "Call: Kick-off",
        "Sentiment recorded: 4 of 5",
        "Entered the segment Paying",
        "Health went from ",
        "Invoice in_1 is overdue: 500 USD",
        "Subscription sub_1 started on pro at 500",
    ] {
        assert!(titles.iter().any(|t| t.starts_with(want)), "{want:?} not in {titles:?}");
    }
    let ats: Vec<&str> = entries.iter().map(|e| e["at"].as_str().unwrap()).collect();
    let mut sorted = ats.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(ats, sorted, "newest first");
    let call = entries.iter().find(|e| e["kind"] == "interaction").unwrap();
    assert_eq!((call["cause"]["kind"].as_str(), call["cause"]["id"].as_i64()), (Some("member"), Some(dee)), "{call}");
    assert_eq!(call["cause"]["name"], "dee", "a token acts for its member");
    assert_eq!(call["detail"], "**Goals** agreed");
    assert!(entries.iter().all(|e| !e["title"].as_str().unwrap().contains('{')), "no raw JSON: {titles:?}");

    // A page at a time, every entry once, in the same order. Entries are told apart by instant and
    // kind, not title: an e-mail's title says its delivery's status, which the delivery worker
    // may move on between two reads.
    let key = |e: &serde_json::Value| format!("{} {}", e["at"], e["kind"]);
    let keys: Vec<String> = entries.iter().map(key).collect();
    let mut paged = Vec::new();
    let mut before = String::new();
    loop {
        let (status, page) = app.get(&format!("{path}?limit=2{before}"), &app.admin).await;
        assert_eq!(status, 200, "{page}");
        paged.extend(page["data"].as_array().unwrap().iter().map(key));
        match page["next_cursor"].as_str() {
            Some(c) => before = format!("&before={c}"),
            None => break,
        }
        assert!(paged.len() <= keys.len(), "paging does not end: {paged:?}");
    }
    assert_eq!(paged, keys);

    let (_, tasks) = app.get(&format!("{path}?kind=task,interaction"), &app.admin).await;
    let kinds: Vec<&str> = tasks["data"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["task", "task", "interaction"], "{tasks}");
    let band = entries.iter().find(|e| e["kind"] == "health").unwrap();
    assert!(band["title"].as_str().unwrap().ends_with("to Red"), "{band}");
    assert_eq!(entries.iter().filter(|e| e["kind"] == "health").count(), 1, "one change over two days");
    let segment = entries.iter().find(|e| e["kind"] == "segment").unwrap();
    assert_eq!(
        (segment["cause"]["kind"].as_str(), segment["cause"]["name"].as_str()),
        (Some("segment"), Some("Paying"))
    );
    let (status, answer) = app.get(&format!("{path}?kind=gossip"), &app.admin).await;
    assert_eq!((status, fields(&answer)), (422, vec!["kind".to_string()]));
    let (status, _) = app.get("/api/v1/accounts/987654/timeline", &app.admin).await;
    assert_eq!(status, 404);
}
