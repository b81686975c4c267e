//! Playbooks on both backends: the example (a measure red for 7 consecutive days opens a
//! risk task for the owner) simulated over past days, then switched on and walked through the
//! same days a tick at a time: it acts once, on the day the simulation said, for the occurrence
//! it said; a tick run again does nothing more; switching it off closes its task when asked.

mod common;

use chrono::{Days, Utc};
use common::{at, tick, TestApp};
use keepwell_core::Role;
use keepwell_server::cause::Caller;
use keepwell_server::playbooks::Switch;
use serde_json::{json, Value};

on_both_backends!(
    a_measure_red_for_seven_days_opens_one_task_as_simulated,
    playbooks_refuse_what_does_not_check,
    a_manager_builds_simulates_and_switches_a_playbook_in_the_pages,
    entering_a_segment_or_a_stage_triggers_in_the_pass,
    an_enabled_playbook_is_edited_as_a_draft_and_started_by_hand,
    a_usage_event_triggers_a_playbook_within_seconds_once_a_day,
    an_interaction_logged_triggers_a_playbook_as_it_is_logged,
    a_stage_set_by_a_playbook_never_fights_the_lifecycle_rules,
    a_run_waits_then_branches_at_the_version_it_started_with,
    a_playbook_starts_another_and_none_may_start_itself,
    accounts_are_assigned_in_turn_or_by_the_first_rule_that_holds,
    leaving_a_segment_and_a_schedule_trigger_in_the_pass,
    quiet_accounts_trigger_after_days_without_usage_or_interaction,
    a_stripe_event_triggers_a_playbook_as_it_arrives,
    renewal_reminders_ask_one_task_at_90_60_and_30_days
);

/// Creates an account of each body (it must be taken); their ids.
async fn accounts(app: &TestApp, bodies: Vec<Value>) -> Vec<i64> {
    let mut ids = Vec::new();
    for body in bodies {
        let (status, a) = app.post("/api/v1/accounts", &app.admin, body).await;
        assert_eq!(status, 201, "{a}");
        ids.push(a["id"].as_i64().unwrap());
    }
    ids
}

async fn open_tasks(app: &TestApp, account: i64) -> Vec<Value> {
    let (status, page) = app.get(&format!("/api/v1/tasks?account_id={account}&status=open"), &app.admin).await;
    assert_eq!(status, 200, "{page}");
    page["data"].as_array().unwrap().clone()
}

async fn a_measure_red_for_seven_days_opens_one_task_as_simulated(app: TestApp) {
    let dee = app.member("dee@team.io", Role::Csm).await;
    let (status, acme) = app
        .post(
            "/api/v1/accounts",
            &app.admin,
            json!({"name": "Acme", "owner_id": dee, "external_ids": [{"kind": "crm", "value": "acme-1"}]}),
        )
        .await;
    assert_eq!(status, 201, "{acme}");
    let acme = acme["id"].as_i64().unwrap();
    // The scorecard in force scores messages received over 7 days: 10 or more is green.
    let card = json!({"key": "default", "name": "Default", "measures": [
        {"key": "messages_received", "source": "events(\"Message Received\", 7)", "weight": 1,
         "scale": {"kind": "linear", "bad": 0, "good": 10}}]});
    let (status, body) = app.post("/api/v1/scorecards", &app.admin, card).await;
    assert!((200..300).contains(&status), "{body}");

    // 20 messages a day until day 2; from day 9 the week holds none: red from day 9, the 7th red
    // day is day 15.
    let d0 = app.store.clock().today() - Days::new(40);
    let day = |n: u64| d0 + Days::new(n);
    let mut batch = vec![json!({"type": "group", "userId": "u1", "groupId": "acme-1", "messageId": "g-u1",
        "timestamp": format!("{}T08:00:00Z", day(0) - Days::new(10))})];
    for d in 0..=12u64 {
        for i in 0..20 {
            let on = day(0) - Days::new(10) + Days::new(d);
            batch.push(json!({"type": "track", "userId": "u1", "event": "Message Received",
                "timestamp": format!("{on}T09:{i:02}:00Z"), "messageId": format!("m-{d}-{i}")}));
        }
    }
    common::send_batch(&app, batch).await;

    let playbook = json!({"key": "messages-red", "name": "Messages received red for a week",
        "trigger": {"kind": "measure", "measure": "messages_received", "band": "red", "days": 7},
        "close_after_days": 2,
        "actions": [{"kind": "task", "title": "Reach out", "task_kind": "risk", "due_days": 3},
                    {"kind": "notify", "message": "Messages stopped a week ago"}]});
    let (status, saved) = app.post("/api/v1/playbooks", &app.admin, playbook).await;
    assert_eq!(status, 201, "{saved}");
    assert_eq!((saved["enabled"].as_bool(), saved["version"].as_i64()), (Some(false), Some(1)));
    let (_, all) = app.get("/api/v1/playbooks", &app.admin).await;
    let keys: Vec<&str> = all.as_array().unwrap().iter().map(|p| p["key"].as_str().unwrap()).collect();
    for built_in in [
        "health-red",
        "invoice-overdue",
        "low-usage",
        "messages-red",
        "reference-candidates",
        "renewal-reminders",
        "seats-nearly-full",
    ] {
        assert!(keys.contains(&built_in), "{keys:?}");
    }

    // The simulation over the 21 days: one firing, on day 15, for the run that began on day 9.
    let path = format!("/api/v1/playbooks/messages-red/simulation?from={}&to={}", day(0), day(20));
    keepwell_store::usage::EventWriter::new(app.store.clone()).fold().await.unwrap();
    let (status, sim) = app.get(&path, &app.admin).await;
    assert_eq!(status, 200, "{sim}");
    let fired: Vec<&Value> = sim["data"].as_array().unwrap().iter().filter(|a| a["act"] == "fire").collect();
    assert_eq!(fired.len(), 1, "{sim}");
    assert_eq!(
        (fired[0]["day"].as_str(), fired[0]["occurrence"].as_str(), fired[0]["account_id"].as_i64()),
        (Some(day(15).to_string().as_str()), Some(day(9).to_string().as_str()), Some(acme)),
        "{sim}"
    );
    assert_eq!((fired[0]["values"]["score"].as_str(), fired[0]["values"]["held_days"].as_i64()), (Some("0"), Some(7)));
    assert!(open_tasks(&app, acme).await.is_empty(), "a simulation acts on nothing");

    // Switched on as of day 0, then a tick a day: nothing until day 15, one task then.
    let on = Switch { enabled: true, enrol: Some("existing".into()), open_tasks: None };
    let caller = Caller::system("test");
    let switched = keepwell_server::playbooks::switch(&at(&app, day(0)), &caller, "USD", "messages-red", &on, day(0))
        .await
        .unwrap();
    assert!(switched.enabled);
    for n in 0..=14 {
        tick(&app, day(n)).await;
    }
    assert!(open_tasks(&app, acme).await.is_empty(), "red for 6 days only");
    tick(&app, day(15)).await;
    let tasks = open_tasks(&app, acme).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    let task = &tasks[0];
    assert_eq!((task["title"].as_str(), task["kind"].as_str()), (Some("Reach out"), Some("risk")));
    assert_eq!((task["playbook"].as_str(), task["owner"]["id"].as_i64()), (Some("messages-red"), Some(dee)));
    assert_eq!(task["due_on"].as_str(), Some(day(18).to_string().as_str()));
    let dee_token = app.member_token("dee@team.io", Role::Csm).await;
    let (_, bell) = app.get("/api/v1/notifications?unread=true", &dee_token).await;
    let told: Vec<&Value> = bell["data"].as_array().unwrap().iter().filter(|n| n["kind"] == "playbook").collect();
    assert_eq!(told.len(), 1, "{bell}");
    assert_eq!(told[0]["data"]["title"], "Messages stopped a week ago");
    // The same tick again, and the next days while still red: still one task, one run.
    tick(&app, day(15)).await;
    for n in 16..=20 {
        tick(&app, day(n)).await;
    }
    assert_eq!(open_tasks(&app, acme).await.len(), 1);
    let (status, runs) = app.get("/api/v1/playbooks/messages-red/runs", &app.admin).await;
    assert_eq!(status, 200, "{runs}");
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    // What it did is what the simulation said it would.
    assert_eq!(
        (runs[0]["day"].as_str(), runs[0]["occurrence"].as_str(), runs[0]["account_id"].as_i64()),
        (fired[0]["day"].as_str(), fired[0]["occurrence"].as_str(), Some(acme))
    );
    assert_eq!(runs[0]["values"], fired[0]["values"]);
    assert_eq!(
        (runs[0]["actions"][0]["outcome"].as_str(), &runs[0]["actions"][0]["task_id"]),
        (Some("done"), &task["id"])
    );

    // Why not on day 12: red for 4 of the 7 days; why on day 15: it fired.
    let why = |d: u64| format!("/api/v1/playbooks/messages-red/why?account_id={acme}&day={}", day(d));
    let (status, not) = app.get(&why(12), &app.admin).await;
    assert_eq!(status, 200, "{not}");
    assert_eq!(not["reason"], "the trigger had held 4 of the 7 consecutive days it needs", "{not}");
    assert_eq!((not["values"]["band"].as_str(), not["held_days"].as_i64()), (Some("red"), Some(4)));
    let (_, yes) = app.get(&why(15), &app.admin).await;
    assert_eq!((yes["fired"].as_bool(), yes["reason"].as_str()), (Some(true), Some("it fired")), "{yes}");
    let (_, before) = app.get(&why(3), &app.admin).await;
    assert_eq!(before["reason"], "the trigger did not hold that day", "{before}");
    assert_eq!(before["values"]["band"], "green");
    let (status, _) = app.get("/api/v1/playbooks/messages-red/why", &app.admin).await;
    assert_eq!(status, 422);

    // Switched off, closing its open tasks: the choice is recorded.
    let (status, off) =
        app.patch("/api/v1/playbooks/messages-red", &app.admin, json!({"enabled": false, "open_tasks": "close"})).await;
    assert_eq!(status, 200, "{off}");
    assert_eq!((off["enabled"].as_bool(), off["switch_choice"].as_str()), (Some(false), Some("close")));
    assert!(open_tasks(&app, acme).await.is_empty());
    let (_, closed) = app.get(&format!("/api/v1/tasks/{}", task["id"]), &app.admin).await;
    assert_eq!((closed["status"].as_str(), closed["closed_by"].as_str()), (Some("done"), Some("token:test")));
}

async fn playbooks_refuse_what_does_not_check(app: TestApp) {
    let bad = json!({"key": "x", "name": "X", "trigger": {"kind": "measure", "measure": "m", "band": "red", "days": 0},
        "actions": []});
    let (status, problem) = app.post("/api/v1/playbooks", &app.admin, bad).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(common::fields(&problem), vec!["actions", "trigger.days"]);
    let viewer = app.member_token("val@team.io", Role::Viewer).await;
    let (status, _) = app.patch("/api/v1/playbooks/health-red", &viewer, json!({"enabled": true})).await;
    assert_eq!(status, 403);
    let (status, problem) =
        app.patch("/api/v1/playbooks/health-red", &app.admin, json!({"enabled": true, "open_tasks": "close"})).await;
    assert_eq!((status, common::fields(&problem)), (422, vec!["open_tasks".to_owned()]), "{problem}");
    let (status, _) = app.patch("/api/v1/playbooks/nothing", &app.admin, json!({"enabled": true})).await;
    assert_eq!(status, 404);
    let (status, problem) =
        app.get("/api/v1/playbooks/health-red/simulation?from=2026-01-10&to=2026-01-01", &app.admin).await;
    assert_eq!(status, 422, "{problem}");
}

/// The pages, in English then Russian: the list with the built-ins, a playbook built in the form
/// (a mistake named at its field), its page with what switching on would do, a simulation, the
/// switch refused without a choice and taken with one.
async fn a_manager_builds_simulates_and_switches_a_playbook_in_the_pages(app: TestApp) {
    use common::{logged_in, page, post};
    let (c, csrf) = logged_in(&app, "lead@team.io", Role::Manager).await;
    let (status, html) = page(&c, &app, "/playbooks").await;
    assert_eq!(status, 200);
    assert!(html.contains("Health turned red") && html.contains("id=\"playbook-form\""), "{html}");
    let form = |days: &'static str| {
        vec![
            ("_csrf", csrf.clone()),
            ("key", "seats-full".to_owned()),
            ("name", "Seats full".to_owned()),
            ("trigger_kind", "condition".to_owned()),
            ("trigger_condition", "license_utilization() >= 90".to_owned()),
            ("days", days.to_owned()),
            ("task_title", "Offer more seats".to_owned()),
            ("task_kind", "opportunity".to_owned()),
        ]
    };
    let as_refs = |f: &Vec<(&'static str, String)>| f.iter().map(|(k, v)| (*k, v.clone())).collect::<Vec<_>>();
    let bad = as_refs(&form("0"));
    let bad: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, html) = post(&c, &app, "/playbooks", &bad).await;
    assert_eq!(status, 422, "{html}");
    assert!(html.contains("a number of days from 1 to 365") && html.contains("value=\"Offer more seats\""), "{html}");
    let good = as_refs(&form("3"));
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, location, _) = post(&c, &app, "/playbooks", &good).await;
    assert_eq!((status, location.as_str()), (303, "/playbooks/seats-full"));
    let (status, html) = page(&c, &app, "/playbooks/seats-full").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("license_utilization() &gt;= 90 for 3 days") && html.contains("id=\"playbook-preview\""));
    let (status, html) = page(&c, &app, "/playbooks/seats-full?preview=1").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("id=\"preview-existing\"") && html.contains("acts for no account today"), "{html}");
    let (status, html) = page(&c, &app, "/playbooks/seats-full?simulate=1").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("It would not have acted in the last 90 days."), "{html}");
    // No choice made: refused, and said; then switched on, enrolling only new occurrences.
    let (status, _, _) = post(&c, &app, "/playbooks/seats-full/switch", &[("_csrf", &csrf), ("enabled", "true")]).await;
    assert_eq!(status, 303);
    let (_, html) = page(&c, &app, "/playbooks/seats-full").await;
    assert!(html.contains("Choose whether accounts that already match are enrolled."), "{html}");
    assert!(!app.store.playbook("seats-full").await.unwrap().unwrap().enabled);
    let on = [("_csrf", csrf.as_str()), ("enabled", "true"), ("enrol", "new")];
    let (status, _, _) = post(&c, &app, "/playbooks/seats-full/switch", &on).await;
    assert_eq!(status, 303);
    let p = app.store.playbook("seats-full").await.unwrap().unwrap();
    assert_eq!((p.enabled, p.switch_choice.as_deref()), (true, Some("new")));
    let (_, html) = page(&c, &app, "/playbooks/seats-full").await;
    assert!(html.contains("id=\"playbook-disable\"") && html.contains("It has not acted yet."), "{html}");

    // Edited while on: a draft, simulated apart, then published as version 2.
    let edit = as_refs(&form("5"));
    let edit: Vec<(&str, &str)> = edit.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, _) = post(&c, &app, "/playbooks", &edit).await;
    assert_eq!(status, 303);
    let (_, html) = page(&c, &app, "/playbooks/seats-full").await;
    assert!(html.contains("Saved as a draft") && html.contains("id=\"playbook-draft\""), "{html}");
    assert!(
        html.contains("license_utilization() &gt;= 90 for 5 days") && html.contains("Publish as version 2"),
        "{html}"
    );
    let (status, html) = page(&c, &app, "/playbooks/seats-full?simulate=1&draft=1").await;
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("What it would have done in the last 90 days · Draft</h2>"), "{html}");
    assert_eq!(app.store.playbook("seats-full").await.unwrap().unwrap().version, 1);
    let (status, _, _) = post(&c, &app, "/playbooks/seats-full/draft", &[("_csrf", &csrf)]).await;
    assert_eq!(status, 303);
    let p = app.store.playbook("seats-full").await.unwrap().unwrap();
    assert_eq!((p.version, p.draft.is_none(), p.definition.trigger.days()), (2, true, 5));

    // In Russian.
    let (status, _, _) = post(&c, &app, "/language", &[("_csrf", &csrf), ("lang", "ru"), ("next", "/playbooks")]).await;
    assert_eq!(status, 303);
    let (_, html) = page(&c, &app, "/playbooks").await;
    assert!(html.contains("Сценарии") && html.contains("Новый сценарий"), "{html}");
    let (_, html) = page(&c, &app, "/playbooks/seats-full").await;
    assert!(html.contains("5 дней подряд") && html.contains("Выключить"), "{html}");
}

/// A segment trigger holds from the day the account enters the segment and a stage trigger from
/// the day it is in that stage; each fires in the pass once its days have passed.
async fn entering_a_segment_or_a_stage_triggers_in_the_pass(app: TestApp) {
    let (status, body) = app
        .post("/api/v1/segments", &app.admin, json!({"key": "big", "name": "Big", "filter": "employees >= 100"}))
        .await;
    assert!((200..300).contains(&status), "{body}");
    let (status, acme) = app
        .post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "employees": 50, "lifecycle_stage": "adoption"}))
        .await;
    assert_eq!(status, 201, "{acme}");
    let acme = acme["id"].as_i64().unwrap();
    let tag = json!([{"kind": "tag", "tag": "big"}]);
    let missing = json!({"key": "x", "name": "X", "trigger": {"kind": "segment", "segment": "huge"}, "actions": tag});
    let (status, refused) = app.post("/api/v1/playbooks", &app.admin, missing).await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["trigger.segment".to_owned()]), "{refused}");
    let big = json!({"key": "big-accounts", "name": "Big accounts",
        "trigger": {"kind": "segment", "segment": "big", "days": 2}, "actions": tag});
    let renewals = json!({"key": "renewals", "name": "In renewal",
        "trigger": {"kind": "stage", "stage": "renewal"},
        "actions": [{"kind": "task", "title": "Prepare the renewal", "task_kind": "renewal"}]});
    for p in [big, renewals] {
        let (status, saved) = app.post("/api/v1/playbooks", &app.admin, p).await;
        assert_eq!(status, 201, "{saved}");
        let key = saved["key"].as_str().unwrap();
        let (status, on) = app.patch(&format!("/api/v1/playbooks/{key}"), &app.admin, json!({"enabled": true})).await;
        assert_eq!(status, 200, "{on}");
    }
    let today = app.store.clock().today();
    let day = |n: u64| today + Days::new(n);
    let tags = async |app: &TestApp| {
        let (_, a) = app.get(&format!("/api/v1/accounts/{acme}"), &app.admin).await;
        a["tags"].as_array().unwrap().clone()
    };
    tick(&app, day(0)).await;
    assert!(open_tasks(&app, acme).await.is_empty());
    // Acme grows and moves to renewal: in the segment and the stage from day 1.
    let (status, moved) = app
        .patch(&format!("/api/v1/accounts/{acme}"), &app.admin, json!({"employees": 500, "lifecycle_stage": "renewal"}))
        .await;
    assert_eq!(status, 200, "{moved}");
    tick(&app, day(1)).await;
    let tasks = open_tasks(&app, acme).await;
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!(
        (tasks[0]["title"].as_str(), tasks[0]["playbook"].as_str()),
        (Some("Prepare the renewal"), Some("renewals"))
    );
    assert!(tags(&app).await.is_empty(), "one day in the segment only");
    tick(&app, day(2)).await;
    assert_eq!(tags(&app).await, [json!("big")]);
    let (_, runs) = app.get("/api/v1/playbooks/big-accounts/runs", &app.admin).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (runs[0]["occurrence"].as_str(), runs[0]["day"].as_str()),
        (Some(day(1).to_string().as_str()), Some(day(2).to_string().as_str()))
    );
    assert_eq!(
        (runs[0]["values"]["segment"].as_str(), runs[0]["values"]["held_days"].as_i64()),
        (Some("big"), Some(2))
    );
    tick(&app, day(3)).await;
    assert_eq!(open_tasks(&app, acme).await.len(), 1, "still in renewal: no second task");
}

/// An edit of an enabled playbook waits as a draft (simulated apart) while the version in force
/// runs on; publishing makes it the next version and runs keep theirs. A manual start acts for the
/// accounts named once a day, refusing an unknown one before doing anything.
async fn an_enabled_playbook_is_edited_as_a_draft_and_started_by_hand(app: TestApp) {
    let ids = accounts(&app, vec![json!({"name": "Acme"}), json!({"name": "Bolt"})]).await;
    let (acme, bolt) = (ids[0], ids[1]);
    let def = |tag: &str| {
        json!({"key": "tagger", "name": "Tagger", "trigger": {"kind": "condition", "condition": "mrr > 1000000"},
               "actions": [{"kind": "tag", "tag": tag}]})
    };
    let (status, _) = app.post("/api/v1/playbooks", &app.admin, def("v1")).await;
    assert_eq!(status, 201);
    let (status, _) = app.patch("/api/v1/playbooks/tagger", &app.admin, json!({"enabled": true})).await;
    assert_eq!(status, 200);
    let (status, drafted) = app.post("/api/v1/playbooks", &app.admin, def("v2")).await;
    assert_eq!(status, 200, "{drafted}");
    assert_eq!(drafted["version"], 1, "{drafted}");
    assert_eq!(drafted["definition"]["actions"][0]["tag"], "v1");
    assert_eq!(drafted["draft"]["actions"][0]["tag"], "v2");
    let (status, sim) = app.get("/api/v1/playbooks/tagger/simulation?draft=true", &app.admin).await;
    assert_eq!(status, 200, "{sim}");
    assert_eq!((sim["draft"].as_bool(), sim["version"].as_i64()), (Some(true), Some(2)), "{sim}");

    // Started by hand: the version in force acts, once a day per account.
    let start = |accounts: Value| json!({ "account_ids": accounts });
    let (status, refused) = app.post("/api/v1/playbooks/tagger/start", &app.admin, start(json!([acme, 999_999]))).await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["account_ids[1]".to_owned()]), "{refused}");
    let (status, started) = app.post("/api/v1/playbooks/tagger/start", &app.admin, start(json!([acme]))).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!((started["started"].clone(), started["already"].clone()), (json!([acme]), json!([])));
    let (_, again) = app.post("/api/v1/playbooks/tagger/start", &app.admin, start(json!([acme]))).await;
    assert_eq!((again["started"].clone(), again["already"].clone()), (json!([]), json!([acme])), "{again}");
    let (status, _) = app.post("/api/v1/playbooks/tagger/start", &app.admin, start(json!([]))).await;
    assert_eq!(status, 422);
    let tags = async |id: i64| app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await.1["tags"].clone();
    assert_eq!(tags(acme).await, json!(["v1"]));

    // Published: version 2 is in force; the next start acts with it; runs keep their version.
    let (status, published) = app.post("/api/v1/playbooks/tagger/publish", &app.admin, json!({})).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!((published["version"].as_i64(), published["draft"].is_null()), (Some(2), true), "{published}");
    let (status, none) = app.post("/api/v1/playbooks/tagger/publish", &app.admin, json!({})).await;
    assert_eq!((status, common::fields(&none)), (422, vec!["draft".to_owned()]), "{none}");
    let (_, started) = app.post("/api/v1/playbooks/tagger/start", &app.admin, start(json!([acme, bolt]))).await;
    assert_eq!(started["started"], json!([acme, bolt]), "a new version is a new run: {started}");
    assert_eq!(tags(bolt).await, json!(["v2"]));
    let (_, runs) = app.get("/api/v1/playbooks/tagger/runs", &app.admin).await;
    let mut versions: Vec<(i64, i64)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["account_id"].as_i64().unwrap(), r["version"].as_i64().unwrap()))
        .collect();
    versions.sort_unstable();
    assert_eq!(versions, [(acme, 1), (acme, 2), (bolt, 2)]);
    assert_eq!(runs[0]["values"]["manual"], true, "{runs}");

    // An account whose owner was disabled since: the task opens unassigned, the run goes on.
    let dee = app.member("dee@team.io", Role::Csm).await;
    let (_, carl) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Carl", "owner_id": dee})).await;
    let carl = carl["id"].as_i64().unwrap();
    let (status, off) = app.patch(&format!("/api/v1/users/{dee}"), &app.admin, json!({"disabled": true})).await;
    assert_eq!(status, 200, "{off}");
    let task = json!({"key": "call", "name": "Call", "trigger": {"kind": "condition", "condition": "mrr > 1000000"},
        "actions": [{"kind": "task", "title": "Call them"}, {"kind": "notify", "message": "Call them"}]});
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, task).await.0, 201);
    let (status, started) = app.post("/api/v1/playbooks/call/start", &app.admin, start(json!([carl]))).await;
    assert_eq!((status, started["started"].clone()), (200, json!([carl])), "{started}");
    let tasks = open_tasks(&app, carl).await;
    assert_eq!((tasks.len(), tasks[0]["owner"].is_null()), (1, true), "{tasks:?}");
    let (_, runs) = app.get("/api/v1/playbooks/call/runs", &app.admin).await;
    assert_eq!(runs[0]["actions"][1]["outcome"], "failed", "{runs}");
    assert_eq!(runs[0]["actions"][1]["detail"], "the account has no owner to tell");

    // A draft dropped leaves the version in force.
    let (_, _) = app.post("/api/v1/playbooks", &app.admin, def("v3")).await;
    assert_eq!(app.delete("/api/v1/playbooks/tagger/draft", &app.admin).await, 200);
    let (_, now) = app.get("/api/v1/playbooks/tagger", &app.admin).await;
    assert_eq!((now["version"].as_i64(), now["draft"].is_null()), (Some(2), true), "{now}");
}

/// An event trigger acts as events arrive, without a tick: a `track` event that reached an account
/// fires it once for that account and day however many more come, where its condition holds; an
/// event from an import of old history does not.
async fn a_usage_event_triggers_a_playbook_within_seconds_once_a_day(app: TestApp) {
    let body = |name: &str, crm: &str| json!({"name": name, "employees": 500, "external_ids": [{"kind": "crm", "value": crm}]});
    let ids = accounts(&app, vec![body("Acme", "acme-1"), body("Bolt", "bolt-1")]).await;
    let (acme, bolt) = (ids[0], ids[1]);
    let exported = |key: &str, condition: Option<&str>| {
        json!({"key": key, "name": key, "trigger": {"kind": "event", "event": "Report Exported"},
               "condition": condition, "actions": [{"kind": "task", "title": format!("{key}: offer training")}]})
    };
    for (key, condition) in
        [("exports", None), ("big-exports", Some("employees >= 100")), ("huge-exports", Some("employees >= 1000"))]
    {
        let (status, saved) = app.post("/api/v1/playbooks", &app.admin, exported(key, condition)).await;
        assert_eq!(status, 201, "{saved}");
        let (status, on) = app.patch(&format!("/api/v1/playbooks/{key}"), &app.admin, json!({"enabled": true})).await;
        assert_eq!(status, 200, "{on}");
    }
    let now = app.store.clock().now();
    let old = now - chrono::Duration::days(10);
    let track = |user: &str, id: &str, at: chrono::DateTime<Utc>| json!({"type": "track", "userId": user, "event": "Report Exported", "messageId": id, "timestamp": at.to_rfc3339()});
    common::send_batch(
        &app,
        vec![
            json!({"type": "group", "userId": "u1", "groupId": "acme-1", "messageId": "g1"}),
            json!({"type": "group", "userId": "u2", "groupId": "bolt-1", "messageId": "g2"}),
            track("u1", "e1", now),
            track("u2", "e-old", old),
        ],
    )
    .await;
    let mut tasks = Vec::new();
    for _ in 0..150 {
        tasks = open_tasks(&app, acme).await;
        if tasks.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut titles: Vec<&str> = tasks.iter().map(|t| t["title"].as_str().unwrap()).collect();
    titles.sort_unstable();
    assert_eq!(titles, ["big-exports: offer training", "exports: offer training"], "{tasks:?}");
    // More of the same event today: nothing more.
    common::send_batch(&app, vec![track("u1", "e2", now), track("u1", "e3", now)]).await;
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let (_, runs) = app.get("/api/v1/playbooks/exports/runs", &app.admin).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(
        (runs[0]["account_id"].as_i64(), runs[0]["values"]["event"].as_str()),
        (Some(acme), Some("Report Exported"))
    );
    assert_eq!(runs[0]["occurrence"].as_str(), Some(now.date_naive().to_string().as_str()));
    assert_eq!(open_tasks(&app, acme).await.len(), 2);
    assert!(open_tasks(&app, bolt).await.is_empty(), "an event of ten days ago is history");
    let (_, huge) = app.get("/api/v1/playbooks/huge-exports/runs", &app.admin).await;
    assert_eq!(huge.as_array().unwrap().len(), 0, "its condition does not hold: {huge}");
}

/// An interaction trigger acts as the interaction is logged (the same request): once per account
/// and day, however many more are logged, and the day's tick then adds nothing; an interaction
/// logged about ten days ago is history.
async fn an_interaction_logged_triggers_a_playbook_as_it_is_logged(app: TestApp) {
    let ids = accounts(&app, vec![json!({"name": "Acme"}), json!({"name": "Bolt"})]).await;
    let (acme, bolt) = (ids[0], ids[1]);
    let def = json!({"key": "follow-up", "name": "Follow up", "trigger": {"kind": "interaction"},
        "actions": [{"kind": "task", "title": "Send the follow-up", "due_days": 1}]});
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, def).await.0, 201);
    let (status, on) = app.patch("/api/v1/playbooks/follow-up", &app.admin, json!({"enabled": true})).await;
    assert_eq!(status, 200, "{on}");
    let log = async |account: i64, at: chrono::DateTime<Utc>| {
        let body = json!({"kind": "call", "subject": "Kickoff", "occurred_at": at.to_rfc3339()});
        let (status, i) = app.post(&format!("/api/v1/accounts/{account}/interactions"), &app.admin, body).await;
        assert_eq!(status, 201, "{i}");
    };
    let now = app.store.clock().now();
    log(acme, now).await;
    let tasks = open_tasks(&app, acme).await;
    assert_eq!(tasks.len(), 1, "acted on as it was logged: {tasks:?}");
    assert_eq!(
        (tasks[0]["title"].as_str(), tasks[0]["playbook"].as_str()),
        (Some("Send the follow-up"), Some("follow-up"))
    );
    log(acme, now).await;
    log(bolt, now - chrono::Duration::days(10)).await;
    tick(&app, now.date_naive()).await;
    let (_, runs) = app.get("/api/v1/playbooks/follow-up/runs", &app.admin).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert_eq!(runs[0]["occurrence"].as_str(), Some(now.date_naive().to_string().as_str()));
    assert_eq!(open_tasks(&app, acme).await.len(), 1);
    assert!(open_tasks(&app, bolt).await.is_empty(), "an interaction of ten days ago is history");
}

/// A playbook's stage action moves an account only where no lifecycle rule holds it (a rule's
/// account: the action fails, naming the rule, and the stage stays the rule's day after day), and
/// playbooks that would move accounts back and forth between stages are refused when saved.
async fn a_stage_set_by_a_playbook_never_fights_the_lifecycle_rules(app: TestApp) {
    let rule = json!({"key": "big-expand", "name": "Big accounts expand", "stage": "expansion", "condition": "employees >= 1000"});
    let (status, body) = app.post("/api/v1/lifecycle-rules", &app.admin, rule).await;
    assert!((200..300).contains(&status), "{body}");
    let ids =
        accounts(&app, vec![json!({"name": "Big", "employees": 5000}), json!({"name": "Small", "employees": 5})]).await;
    let (big, small) = (ids[0], ids[1]);
    let adopt = json!({"key": "adopt", "name": "Adopt", "trigger": {"kind": "condition", "condition": "employees >= 1"},
        "actions": [{"kind": "stage", "stage": "Adoption"}]});
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, adopt).await.0, 201);
    // Switched on enrolling those that match: the pass's own acts for today.
    let (status, on) = app.patch("/api/v1/playbooks/adopt", &app.admin, json!({"enabled": true})).await;
    assert_eq!(status, 200, "{on}");
    let stage =
        async |id: i64| app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await.1["lifecycle_stage"].clone();
    let today = app.store.clock().today();
    for n in 0..3 {
        tick(&app, today + Days::new(n)).await;
        assert_eq!((stage(big).await, stage(small).await), (json!("expansion"), json!("adoption")), "day {n}");
    }
    let (_, runs) = app.get("/api/v1/playbooks/adopt/runs", &app.admin).await;
    let of = |id: i64| runs.as_array().unwrap().iter().find(|r| r["account_id"] == id).cloned().unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    assert_eq!(of(small)["actions"][0]["outcome"], "done", "{runs}");
    let refused = &of(big)["actions"][0];
    assert_eq!(refused["outcome"], "failed", "{runs}");
    let by_rule = "lifecycle rule \"big-expand\" holds the account";
    assert!(refused["detail"].as_str().unwrap().starts_with(by_rule), "{runs}");
    // Started by hand, the same.
    let (status, started) = app.post("/api/v1/playbooks/adopt/start", &app.admin, json!({"account_ids": [big]})).await;
    assert_eq!((status, started["started"].clone()), (200, json!([big])), "{started}");
    let (_, runs) = app.get(&format!("/api/v1/playbooks/adopt/runs?account_id={big}"), &app.admin).await;
    assert!(runs[0]["actions"][0]["detail"].as_str().unwrap().starts_with(by_rule), "{runs}");
    assert_eq!(stage(big).await, json!("expansion"));

    // Two playbooks moving accounts between two stages: the second is refused, saying why.
    let mover = |key: &str, from: &str, to: &str| json!({"key": key, "name": key, "trigger": {"kind": "stage", "stage": from}, "actions": [{"kind": "stage", "stage": to}]});
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, mover("onwards", "onboarding", "adoption")).await.0, 201);
    let (status, refused) =
        app.post("/api/v1/playbooks", &app.admin, mover("backwards", "adoption", "onboarding")).await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["actions[0].stage".to_owned()]), "{refused}");
    assert!(
        refused.to_string().contains("backwards moves adoption → onboarding, onwards moves onboarding → adoption"),
        "{refused}"
    );
}

/// Steps with a wait and a branch: the steps before the wait on the day it fires, the rest the
/// day the wait ends — at the version the run started with, whatever was published meanwhile —
/// each branch as the account reads that day; a tick run again does nothing more; switching the
/// playbook off stops the runs that wait. What does not check names its step.
async fn a_run_waits_then_branches_at_the_version_it_started_with(app: TestApp) {
    let ids =
        accounts(&app, vec![json!({"name": "Big", "employees": 500}), json!({"name": "Small", "employees": 5})]).await;
    let (big, small) = (ids[0], ids[1]);
    let def = |then: &str, otherwise: &str| {
        json!({"key": "follow-up", "name": "Follow up", "reenrol": "once",
        "trigger": {"kind": "condition", "condition": "employees > 0"},
        "actions": [
            {"kind": "task", "title": "Welcome call", "task_kind": "onboarding"},
            {"kind": "wait", "days": 2},
            {"kind": "branch", "condition": "employees >= 100",
             "then": [{"kind": "tag", "tag": then}], "otherwise": [{"kind": "tag", "tag": otherwise}]},
            {"kind": "task", "title": "Check in", "task_kind": "onboarding", "due_days": 1}
        ]})
    };
    let refused = [
        (json!([{"kind": "tag", "tag": "t"}, {"kind": "wait", "days": 2}]), "actions[1]"),
        (json!([{"kind": "wait", "days": 0}, {"kind": "tag", "tag": "t"}]), "actions[0].days"),
        (
            json!([{"kind": "branch", "condition": "mrr > 0", "then": [{"kind": "branch", "condition": "mrr > 1",
                "then": [{"kind": "tag", "tag": "t"}]}]}]),
            "actions[0].then[0].kind",
        ),
        (
            json!([{"kind": "branch", "condition": "mrr >", "then": [{"kind": "tag", "tag": "t"}]}]),
            "actions[0].condition",
        ),
        (
            json!([{"kind": "branch", "condition": "mrr > 0", "then": [{"kind": "assign", "member": "nobody@x.io"}]}]),
            "actions[0].then[0].member",
        ),
    ];
    for (actions, field) in refused {
        let mut body = def("a", "b");
        body["actions"] = actions;
        let (status, answer) = app.post("/api/v1/playbooks", &app.admin, body).await;
        assert_eq!((status, common::fields(&answer)), (422, vec![field.to_owned()]), "{answer}");
    }
    let (status, saved) = app.post("/api/v1/playbooks", &app.admin, def("big", "small")).await;
    assert_eq!(status, 201, "{saved}");
    let (status, on) = app.patch("/api/v1/playbooks/follow-up", &app.admin, json!({"enabled": true})).await;
    assert_eq!(status, 200, "{on}");
    let today = app.store.clock().today();
    let day = |n: u64| today + Days::new(n);
    let titles = async |account: i64| {
        let mut t: Vec<String> =
            open_tasks(&app, account).await.iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect();
        t.sort();
        t
    };
    let tags = async |id: i64| app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await.1["tags"].clone();
    assert_eq!(titles(big).await, ["Welcome call"]);
    let (_, runs) = app.get("/api/v1/playbooks/follow-up/runs", &app.admin).await;
    assert_eq!(runs.as_array().unwrap().len(), 2, "{runs}");
    assert_eq!(runs[0]["waiting_until"], json!(day(2)), "{runs}");
    let steps = |run: &Value| -> Vec<(i64, String, String)> {
        run["actions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (a["step"].as_i64().unwrap(), a["kind"].as_str().unwrap().into(), a["outcome"].as_str().unwrap().into())
            })
            .collect()
    };
    assert_eq!(steps(&runs[0]), [(0, "task".into(), "done".into()), (1, "wait".into(), "waiting".into())]);
    let (c, _) = common::logged_in(&app, "lead@team.io", Role::Manager).await;
    let (status, page) = common::page(&c, &app, "/playbooks/follow-up").await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("waiting until").count(), 2, "both runs wait: {page}");

    // A new version published meanwhile: the waiting runs go on at theirs.
    let (status, drafted) = app.post("/api/v1/playbooks", &app.admin, def("large", "little")).await;
    assert_eq!(status, 200, "{drafted}");
    let (status, published) = app.post("/api/v1/playbooks/follow-up/publish", &app.admin, json!({})).await;
    assert_eq!((status, published["version"].as_i64()), (200, Some(2)), "{published}");
    tick(&app, day(1)).await;
    assert_eq!((titles(big).await, tags(big).await), (vec!["Welcome call".to_owned()], json!([])));
    tick(&app, day(2)).await;
    assert_eq!(titles(big).await, ["Check in", "Welcome call"]);
    assert_eq!((tags(big).await, tags(small).await), (json!(["big"]), json!(["small"])));
    let check_in = open_tasks(&app, small).await.into_iter().find(|t| t["title"] == "Check in").unwrap();
    assert_eq!(check_in["due_on"], json!(day(3)), "due a day after the day it was taken: {check_in}");
    tick(&app, day(2)).await;
    assert_eq!(titles(big).await.len(), 2, "a tick again does nothing more");
    let (_, runs) = app.get(&format!("/api/v1/playbooks/follow-up/runs?account_id={small}"), &app.admin).await;
    let run = &runs.as_array().unwrap()[0];
    assert_eq!((run["version"].as_i64(), run["waiting_until"].is_null()), (Some(1), true), "{run}");
    assert_eq!(
        steps(run),
        [
            (0, "task".into(), "done".into()),
            (1, "wait".into(), "done".into()),
            (2, "branch".into(), "done".into()),
            (5, "tag".into(), "done".into()),
            (6, "task".into(), "done".into())
        ]
    );
    assert_eq!(run["actions"][2]["detail"], "the condition \"employees >= 100\" did not hold: its otherwise steps");

    // A run of the new version that waits when the playbook is switched off stops there.
    let late = accounts(&app, vec![json!({"name": "Late", "employees": 900})]).await[0];
    tick(&app, day(3)).await;
    assert_eq!(titles(late).await, ["Welcome call"]);
    let (status, off) = app.patch("/api/v1/playbooks/follow-up", &app.admin, json!({"enabled": false})).await;
    assert_eq!(status, 200, "{off}");
    let (_, runs) = app.get(&format!("/api/v1/playbooks/follow-up/runs?account_id={late}"), &app.admin).await;
    let run = &runs.as_array().unwrap()[0];
    assert_eq!((run["version"].as_i64(), run["waiting_until"].is_null()), (Some(2), true), "{run}");
    assert_eq!(steps(run)[1], (1, "wait".into(), "stopped".into()), "{run}");
    let (status, on) =
        app.patch("/api/v1/playbooks/follow-up", &app.admin, json!({"enabled": true, "enrol": "new"})).await;
    assert_eq!(status, 200, "{on}");
    tick(&app, day(5)).await;
    assert_eq!((titles(late).await.len(), tags(late).await), (1, json!([])), "a stopped run stays stopped");
}

/// A `start` step begins another playbook's run for the account that day: at once in the pass
/// that takes it, at the day's next pass when the step is taken elsewhere (switching on, here).
/// A playbook that would start itself, directly or through others, is refused when saved.
async fn a_playbook_starts_another_and_none_may_start_itself(app: TestApp) {
    let first = accounts(&app, vec![json!({"name": "First", "employees": 10})]).await[0];
    let welcome = json!({"key": "welcome", "name": "Welcome", "reenrol": "once",
        "trigger": {"kind": "condition", "condition": "employees > 0"},
        "actions": [{"kind": "tag", "tag": "welcomed"}, {"kind": "start", "playbook": "nurture"}]});
    let (status, refused) = app.post("/api/v1/playbooks", &app.admin, welcome.clone()).await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["actions[1].playbook".to_owned()]), "{refused}");
    let nurture = |extra: Vec<Value>| {
        let mut actions = vec![
            json!({"kind": "task", "title": "Nurture"}),
            json!({"kind": "wait", "days": 1}),
            json!({"kind": "tag", "tag": "nurtured"}),
        ];
        actions.extend(extra);
        json!({"key": "nurture", "name": "Nurture", "trigger": {"kind": "condition", "condition": "mrr > 1000000"}, "actions": actions})
    };
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, nurture(vec![])).await.0, 201);
    assert_eq!(app.patch("/api/v1/playbooks/nurture", &app.admin, json!({"enabled": true})).await.0, 200);
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, welcome).await.0, 201);
    let selfish = json!({"key": "selfish", "name": "Selfish", "trigger": {"kind": "health", "band": "red"},
        "actions": [{"kind": "branch", "condition": "mrr > 0", "then": [{"kind": "start", "playbook": "selfish"}]}]});
    let (status, refused) = app.post("/api/v1/playbooks", &app.admin, selfish).await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["actions[0].then[0].playbook".to_owned()]), "{refused}");
    let (status, refused) =
        app.post("/api/v1/playbooks", &app.admin, nurture(vec![json!({"kind": "start", "playbook": "welcome"})])).await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["actions[3].playbook".to_owned()]), "{refused}");
    assert!(refused.to_string().contains("it would start itself: nurture starts welcome starts nurture"), "{refused}");

    // Switched on today: welcome fires for First and starts nurture, whose run begins at the pass.
    assert_eq!(app.patch("/api/v1/playbooks/welcome", &app.admin, json!({"enabled": true})).await.0, 200);
    let today = app.store.clock().today();
    let day = |n: u64| today + Days::new(n);
    let tags = async |id: i64| app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await.1["tags"].clone();
    let titles =
        async |id: i64| -> Vec<Value> { open_tasks(&app, id).await.iter().map(|t| t["title"].clone()).collect() };
    assert_eq!((tags(first).await, titles(first).await), (json!(["welcomed"]), vec![]));
    let (_, runs) = app.get(&format!("/api/v1/playbooks/nurture/runs?account_id={first}"), &app.admin).await;
    assert_eq!(runs[0]["values"], json!({"started_by": "welcome"}), "{runs}");
    assert_eq!(runs[0]["waiting_until"], json!(today), "{runs}");
    tick(&app, day(0)).await;
    assert_eq!(titles(first).await, [json!("Nurture")]);
    tick(&app, day(1)).await;
    assert_eq!(tags(first).await, json!(["welcomed", "nurtured"]));

    // Fired in the pass, the playbook it starts takes its first steps in the same pass.
    let second = accounts(&app, vec![json!({"name": "Second", "employees": 10})]).await[0];
    tick(&app, day(2)).await;
    assert_eq!((tags(second).await, titles(second).await), (json!(["welcomed"]), vec![json!("Nurture")]));
    let (_, runs) = app.get(&format!("/api/v1/playbooks/welcome/runs?account_id={second}"), &app.admin).await;
    assert_eq!(runs[0]["actions"][1]["kind"], "start", "{runs}");
    assert!(runs[0]["actions"][1]["detail"].as_str().unwrap().starts_with("started playbook \"nurture\""), "{runs}");

    // The playbook it starts switched off: the step fails, saying so.
    assert_eq!(app.patch("/api/v1/playbooks/nurture", &app.admin, json!({"enabled": false})).await.0, 200);
    let third = accounts(&app, vec![json!({"name": "Third", "employees": 10})]).await[0];
    tick(&app, day(3)).await;
    let (_, runs) = app.get(&format!("/api/v1/playbooks/welcome/runs?account_id={third}"), &app.admin).await;
    assert_eq!(
        (runs[0]["actions"][1]["outcome"].as_str(), runs[0]["actions"][1]["detail"].as_str()),
        (Some("failed"), Some("playbook \"nurture\" is switched off")),
        "{runs}"
    );
}

/// `assign` in turn hands accounts to the members named one after another, skipping one since
/// disabled; with rules, the first whose filter holds that day decides (none: the owner stays).
async fn accounts_are_assigned_in_turn_or_by_the_first_rule_that_holds(app: TestApp) {
    let ann = app.member("ann@team.io", Role::Csm).await;
    let bob = app.member("bob@team.io", Role::Csm).await;
    let cat = app.member("cat@team.io", Role::Csm).await;
    let sizes = [10, 100, 1000, 5];
    let bodies = sizes.iter().enumerate().map(|(n, e)| json!({"name": format!("A{n}"), "employees": e})).collect();
    let ids = accounts(&app, bodies).await;
    let refused = [
        (json!({"kind": "assign", "member": "ann@team.io", "members": ["bob@team.io"]}), "actions[0].member"),
        (
            json!({"kind": "assign", "rules": [{"filter": "mrr >= 1", "member": "zed@team.io"}]}),
            "actions[0].rules[0].member",
        ),
        (
            json!({"kind": "assign", "rules": [{"filter": "mrr >=", "member": "ann@team.io"}]}),
            "actions[0].rules[0].filter",
        ),
        (json!({"kind": "assign", "members": ["ann@team.io", "nobody"]}), "actions[0].members[1]"),
    ];
    for (action, field) in refused {
        let body = json!({"key": "x", "name": "X", "trigger": {"kind": "health", "band": "red"}, "actions": [action]});
        let (status, answer) = app.post("/api/v1/playbooks", &app.admin, body).await;
        assert_eq!((status, common::fields(&answer)), (422, vec![field.to_owned()]), "{answer}");
    }
    let owner = async |id: i64| app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await.1["owner"]["id"].clone();
    let rotate = json!({"key": "rotate", "name": "Rotate", "reenrol": "once",
        "trigger": {"kind": "condition", "condition": "employees > 0"},
        "actions": [{"kind": "assign", "members": ["ann@team.io", "bob@team.io"]}]});
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, rotate).await.0, 201);
    assert_eq!(app.patch("/api/v1/playbooks/rotate", &app.admin, json!({"enabled": true})).await.0, 200);
    let mut owners = Vec::new();
    for id in &ids {
        owners.push(owner(*id).await.as_i64().unwrap());
    }
    owners.sort_unstable();
    assert_eq!(owners, [ann, ann, bob, bob], "in turn, two each");
    let (status, off) = app.patch(&format!("/api/v1/users/{bob}"), &app.admin, json!({"disabled": true})).await;
    assert_eq!(status, 200, "{off}");
    let late = accounts(&app, vec![json!({"name": "Late", "employees": 7})]).await[0];
    tick(&app, app.store.clock().today()).await;
    assert_eq!(owner(late).await, json!(ann), "bob is disabled: ann's turn again");

    // By rules, started by hand: the first rule that holds decides; none holding leaves the owner.
    let by_size = json!({"key": "by-size", "name": "By size", "trigger": {"kind": "condition", "condition": "mrr > 1000000"},
        "actions": [{"kind": "assign", "rules": [
            {"filter": "employees >= 500", "member": "cat@team.io"},
            {"filter": "employees >= 50", "member": "ann@team.io"}]}]});
    assert_eq!(app.post("/api/v1/playbooks", &app.admin, by_size).await.0, 201);
    let before = owner(ids[0]).await;
    let (status, started) = app.post("/api/v1/playbooks/by-size/start", &app.admin, json!({"account_ids": ids})).await;
    assert_eq!(status, 200, "{started}");
    assert_eq!((owner(ids[2]).await, owner(ids[1]).await), (json!(cat), json!(ann)));
    assert_eq!(owner(ids[0]).await, before, "10 employees: no rule holds");
    let (_, runs) = app.get(&format!("/api/v1/playbooks/by-size/runs?account_id={}", ids[0]), &app.admin).await;
    let ways: Vec<&str> =
        runs[0]["actions"].as_array().unwrap().iter().map(|a| a["detail"].as_str().unwrap()).collect();
    assert_eq!(
        ways,
        [
            "the condition \"employees >= 500\" did not hold: its otherwise steps",
            "the condition \"employees >= 50\" did not hold: its otherwise steps"
        ],
        "{runs}"
    );
}

/// Leaving a segment holds the day the account leaves it; a schedule holds on its days, each an
/// occurrence of its own, for the accounts its condition picks.
async fn leaving_a_segment_and_a_schedule_trigger_in_the_pass(app: TestApp) {
    use chrono::Datelike;
    let (status, body) = app
        .post("/api/v1/segments", &app.admin, json!({"key": "big", "name": "Big", "filter": "employees >= 100"}))
        .await;
    assert!((200..300).contains(&status), "{body}");
    let ids =
        accounts(&app, vec![json!({"name": "Acme", "employees": 500}), json!({"name": "Tiny", "employees": 0})]).await;
    let (acme, tiny) = (ids[0], ids[1]);
    let (status, refused) = app
        .post(
            "/api/v1/playbooks",
            &app.admin,
            json!({"key": "x", "name": "X", "trigger": {"kind": "schedule", "every": "fortnight"},
            "actions": [{"kind": "tag", "tag": "t"}]}),
        )
        .await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["trigger.every".to_owned()]), "{refused}");
    let left = json!({"key": "left-big", "name": "Left big", "trigger": {"kind": "left_segment", "segment": "big"},
        "actions": [{"kind": "tag", "tag": "shrank"}]});
    let weekly = json!({"key": "mondays", "name": "Mondays", "trigger": {"kind": "schedule", "every": "monday"},
        "condition": "employees > 0", "actions": [{"kind": "tag", "tag": "weekly"}]});
    for p in [left, weekly] {
        let (status, saved) = app.post("/api/v1/playbooks", &app.admin, p).await;
        assert_eq!(status, 201, "{saved}");
        let key = saved["key"].as_str().unwrap();
        assert_eq!(app.patch(&format!("/api/v1/playbooks/{key}"), &app.admin, json!({"enabled": true})).await.0, 200);
    }
    let today = app.store.clock().today();
    let day = |n: u64| today + Days::new(n);
    let tags = async |id: i64| app.get(&format!("/api/v1/accounts/{id}"), &app.admin).await.1["tags"].clone();
    tick(&app, day(0)).await;
    tick(&app, day(1)).await;
    assert!(!tags(acme).await.as_array().unwrap().contains(&json!("shrank")));
    let (status, _) = app.patch(&format!("/api/v1/accounts/{acme}"), &app.admin, json!({"employees": 5})).await;
    assert_eq!(status, 200);
    for n in 2..=9 {
        tick(&app, day(n)).await;
    }
    assert!(tags(acme).await.as_array().unwrap().contains(&json!("shrank")), "it left big on day 2");
    let (_, runs) = app.get("/api/v1/playbooks/left-big/runs", &app.admin).await;
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!((runs[0]["day"].clone(), runs[0]["values"]["left_segment"].clone()), (json!(day(2)), json!("big")));
    let mondays: Vec<Value> =
        (0..=9).map(day).filter(|d| d.weekday() == chrono::Weekday::Mon).map(|d| json!(d)).collect();
    let (_, runs) = app.get("/api/v1/playbooks/mondays/runs", &app.admin).await;
    let mut days: Vec<Value> = runs.as_array().unwrap().iter().map(|r| r["day"].clone()).collect();
    days.reverse();
    assert_eq!(days, mondays, "acme on each Monday, tiny (no employees) never: {runs}");
    assert_eq!(tags(tiny).await, json!([]));
}

/// `no_event` holds from the day an account has had no usage for its days (Acme quiet for ten
/// days: at once; Bolt used yesterday: four ticks later), once per quiet spell; an account that
/// never sent usage is not quiet. `no_interaction` counts from the last interaction logged.
async fn quiet_accounts_trigger_after_days_without_usage_or_interaction(app: TestApp) {
    let body = |name: &str, crm: &str| json!({"name": name, "external_ids": [{"kind": "crm", "value": crm}]});
    let ids = accounts(&app, vec![body("Acme", "acme-1"), body("Bolt", "bolt-1"), body("Never", "never-1")]).await;
    let (acme, bolt, never) = (ids[0], ids[1], ids[2]);
    let (status, refused) = app
        .post(
            "/api/v1/playbooks",
            &app.admin,
            json!({"key": "x", "name": "X", "trigger": {"kind": "no_event", "days": 9999},
            "actions": [{"kind": "tag", "tag": "t"}]}),
        )
        .await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["trigger.days".to_owned()]), "{refused}");
    let quiet = json!({"key": "gone-quiet", "name": "Gone quiet", "trigger": {"kind": "no_event", "days": 5},
        "actions": [{"kind": "task", "title": "Check in: no usage for a while"}]});
    let no_call = json!({"key": "no-call", "name": "No call", "trigger": {"kind": "no_interaction", "days": 30},
        "actions": [{"kind": "tag", "tag": "call-them"}]});
    for p in [quiet, no_call] {
        let (status, saved) = app.post("/api/v1/playbooks", &app.admin, p).await;
        assert_eq!(status, 201, "{saved}");
        let key = saved["key"].as_str().unwrap();
        assert_eq!(app.patch(&format!("/api/v1/playbooks/{key}"), &app.admin, json!({"enabled": true})).await.0, 200);
    }
    let now = app.store.clock().now();
    let track = |user: &str, id: &str, days_ago: i64| {
        json!({"type": "track", "userId": user, "event": "Page Viewed",
        "messageId": id, "timestamp": (now - chrono::Duration::days(days_ago)).to_rfc3339()})
    };
    common::send_batch(
        &app,
        vec![
            json!({"type": "group", "userId": "u1", "groupId": "acme-1", "messageId": "g1"}),
            json!({"type": "group", "userId": "u2", "groupId": "bolt-1", "messageId": "g2"}),
            track("u1", "e1", 10),
            track("u2", "e2", 10),
            track("u2", "e3", 1),
        ],
    )
    .await;
    let body =
        json!({"kind": "call", "subject": "QBR", "occurred_at": (now - chrono::Duration::days(40)).to_rfc3339()});
    let (status, i) = app.post(&format!("/api/v1/accounts/{acme}/interactions"), &app.admin, body).await;
    assert_eq!(status, 201, "{i}");
    let today = app.store.clock().today();
    for n in 0..=6 {
        tick(&app, today + Days::new(n)).await;
    }
    let (_, runs) = app.get("/api/v1/playbooks/gone-quiet/runs", &app.admin).await;
    let mut fired: Vec<(i64, Value, Value)> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["account_id"].as_i64().unwrap(), r["day"].clone(), r["values"]["days_since"].clone()))
        .collect();
    fired.sort_by_key(|r| r.0);
    assert_eq!(
        fired,
        [(acme, json!(today), json!("10")), (bolt, json!(today + Days::new(4)), json!("5"))],
        "once per quiet spell, never for an account without usage: {runs}"
    );
    assert_eq!(open_tasks(&app, acme).await.len(), 1);
    assert!(open_tasks(&app, never).await.is_empty());
    let (_, runs) = app.get("/api/v1/playbooks/no-call/runs", &app.admin).await;
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 1, "only Acme had an interaction to count from: {runs:?}");
    assert_eq!((runs[0]["account_id"].as_i64(), runs[0]["values"]["days_since"].clone()), (Some(acme), json!("40")));
}

/// A Stripe event triggers the playbooks waiting for its type in the webhook's request, once per
/// account and day: a failed payment opens a task for the owner at once, a second failure that
/// day does not open another, a type Keepwell only records (a refund) reaches the customer's
/// account too, one Stripe delivered two days late acts on the day it arrived, and an event of
/// ten days ago is history. The pass and the simulation read the same events.
async fn a_stripe_event_triggers_a_playbook_as_it_arrives(app: TestApp) {
    use common::{send_stripe, stripe_event};
    let dee = app.member("dee@team.io", Role::Csm).await;
    let ids = accounts(
        &app,
        vec![
            json!({"name": "Acme", "owner_id": dee, "external_ids": [{"kind": "stripe", "value": "cus_acme"}]}),
            json!({"name": "Bolt", "owner_id": dee, "external_ids": [{"kind": "stripe", "value": "cus_bolt"}]}),
        ],
    )
    .await;
    let (acme, bolt) = (ids[0], ids[1]);
    for (key, kind) in [("dunning", "invoice.payment_failed"), ("refunds", "charge.refunded")] {
        let def = json!({"key": key, "name": key, "trigger": {"kind": "stripe_event", "event": kind},
            "actions": [{"kind": "task", "title": format!("Call them: {kind}"), "due_days": 1}]});
        assert_eq!(app.post("/api/v1/playbooks", &app.admin, def).await.0, 201);
        let (status, on) = app.patch(&format!("/api/v1/playbooks/{key}"), &app.admin, json!({"enabled": true})).await;
        assert_eq!(status, 200, "{on}");
    }
    let now = app.store.clock().now();
    let invoice = |id: &str, customer: &str| {
        json!({"id": id, "object": "invoice", "customer": customer, "currency": "usd", "amount_due": 9900,
               "created": now.timestamp(), "due_date": null, "status": "open"})
    };
    let failed = stripe_event("evt_1", "invoice.payment_failed", now.timestamp(), invoice("in_1", "cus_acme"));
    let (status, body) = send_stripe(&app, &failed, None).await;
    assert_eq!(status, 200, "{body}");
    let tasks = open_tasks(&app, acme).await;
    assert_eq!(tasks.len(), 1, "acted on in the webhook's request: {tasks:?}");
    assert_eq!(
        (tasks[0]["title"].as_str(), tasks[0]["playbook"].as_str(), tasks[0]["owner"]["id"].as_i64()),
        (Some("Call them: invoice.payment_failed"), Some("dunning"), Some(dee))
    );
    // A retry failing again the same day, and a refund of Acme's charge.
    let again = stripe_event("evt_2", "invoice.payment_failed", now.timestamp(), invoice("in_1", "cus_acme"));
    assert_eq!(send_stripe(&app, &again, None).await.0, 200);
    let charge = json!({"id": "ch_1", "object": "charge", "customer": "cus_acme", "amount_refunded": 9900});
    let (status, body) =
        send_stripe(&app, &stripe_event("evt_3", "charge.refunded", now.timestamp(), charge), None).await;
    assert_eq!((status, body["outcome"].as_str()), (200, Some("ignored")), "{body}");
    let mut titles: Vec<String> =
        open_tasks(&app, acme).await.iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect();
    titles.sort();
    assert_eq!(titles, ["Call them: charge.refunded", "Call them: invoice.payment_failed"]);
    // Ten days ago: recorded, not acted on now, nor by today's pass.
    let old = (now - chrono::Duration::days(10)).timestamp();
    let mut late = invoice("in_2", "cus_bolt");
    late["created"] = json!(old);
    assert_eq!(send_stripe(&app, &stripe_event("evt_4", "invoice.payment_failed", old, late), None).await.0, 200);
    assert!(open_tasks(&app, bolt).await.is_empty(), "an event of ten days ago is history");
    // Stripe retried one of two days ago until now: it is today's.
    let two = (now - chrono::Duration::days(2)).timestamp();
    let mut retried = invoice("in_3", "cus_bolt");
    retried["created"] = json!(two);
    assert_eq!(send_stripe(&app, &stripe_event("evt_5", "invoice.payment_failed", two, retried), None).await.0, 200);
    assert_eq!(open_tasks(&app, bolt).await.len(), 1, "a late delivery acts on arrival");
    tick(&app, now.date_naive()).await;
    let (_, runs) = app.get("/api/v1/playbooks/dunning/runs", &app.admin).await;
    let runs = runs.as_array().unwrap();
    let today = now.date_naive().to_string();
    let mut seen: Vec<(i64, &str)> =
        runs.iter().map(|r| (r["account_id"].as_i64().unwrap(), r["occurrence"].as_str().unwrap())).collect();
    seen.sort();
    assert_eq!(seen, [(acme, today.as_str()), (bolt, today.as_str())], "the pass knows the requests acted: {runs:?}");
    assert_eq!(runs[0]["values"]["stripe_event"], "invoice.payment_failed", "{runs:?}");
    assert_eq!(open_tasks(&app, acme).await.len(), 2);
    // The simulation reads the recorded events by their day: Bolt ten and two days ago, Acme today.
    let (from, to) = (now.date_naive() - Days::new(20), now.date_naive());
    let (status, sim) = app.get(&format!("/api/v1/playbooks/dunning/simulation?from={from}&to={to}"), &app.admin).await;
    assert_eq!(status, 200, "{sim}");
    let mut fired: Vec<(i64, String)> = sim["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["act"] == "fire")
        .map(|a| (a["account_id"].as_i64().unwrap(), a["day"].as_str().unwrap().to_owned()))
        .collect();
    fired.sort();
    let day = |d: chrono::NaiveDate| d.to_string();
    let mut expected = vec![(acme, day(to)), (bolt, day(to - Days::new(10))), (bolt, day(to - Days::new(2)))];
    expected.sort();
    assert_eq!(fired, expected, "{sim}");
    // A type that is none is refused, naming the field.
    let wrong = json!({"key": "w", "name": "W", "trigger": {"kind": "stripe_event", "event": "Payment Failed"},
        "actions": [{"kind": "tag", "tag": "t"}]});
    let (status, refused) = app.post("/api/v1/playbooks", &app.admin, wrong).await;
    assert_eq!((status, common::fields(&refused)), (422, vec!["trigger.event".to_owned()]), "{refused}");
}

/// The built-in `renewal-reminders`: one renewal task per renewal, opened 90 days before it and
/// asked again (a new due date, a comment) 60 and 30 days before, not on the days between.
async fn renewal_reminders_ask_one_task_at_90_60_and_30_days(app: TestApp) {
    let dee = app.member("dee@team.io", Role::Csm).await;
    let ids =
        accounts(&app, vec![json!({"name": "Acme", "owner_id": dee}), json!({"name": "Bolt", "owner_id": dee})]).await;
    let (acme, bolt) = (ids[0], ids[1]);
    let today = app.store.clock().today();
    let renews = today + Days::new(90);
    let yearly = json!({"subscription_id": "s1", "plan": "pro", "quantity": 5, "currency": "USD", "amount": "12000",
        "interval": "year", "starts_on": (renews - Days::new(365)).to_string(), "renews_on": renews.to_string()});
    // Bolt pays monthly: 30 days from renewing every month, and no contract renewal.
    let monthly = json!({"subscription_id": "s2", "plan": "pro", "quantity": 5, "currency": "USD", "amount": "100",
        "interval": "month", "starts_on": today.to_string(), "renews_on": (today + Days::new(30)).to_string()});
    for (id, period) in [(acme, yearly), (bolt, monthly)] {
        let (status, body) = app.post(&format!("/api/v1/accounts/{id}/subscriptions"), &app.admin, period).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, on) = app.patch("/api/v1/playbooks/renewal-reminders", &app.admin, json!({"enabled": true})).await;
    assert_eq!(status, 200, "{on}");
    let mut due = Vec::new();
    for (day, checkpoint) in [(0, 90), (1, 90), (30, 60), (45, 60), (60, 30)] {
        tick(&app, today + Days::new(day)).await;
        let tasks = open_tasks(&app, acme).await;
        assert_eq!(tasks.len(), 1, "day {day}: {tasks:?}");
        assert_eq!(
            (tasks[0]["title"].as_str(), tasks[0]["kind"].as_str()),
            (Some("Prepare the renewal"), Some("renewal"))
        );
        due.push((checkpoint, tasks[0]["due_on"].as_str().unwrap().to_owned()));
        assert!(open_tasks(&app, bolt).await.is_empty(), "day {day}: a monthly subscription is no contract");
    }
    let at = |n: u64| (today + Days::new(n)).to_string();
    assert_eq!(
        due,
        [(90, at(14)), (90, at(14)), (60, at(44)), (60, at(44)), (30, at(74))],
        "asked again at each checkpoint, with a due date from it"
    );
    let (_, runs) = app.get("/api/v1/playbooks/renewal-reminders/runs", &app.admin).await;
    let mut days: Vec<&str> = runs.as_array().unwrap().iter().map(|r| r["occurrence"].as_str().unwrap()).collect();
    days.sort();
    assert_eq!(days, [at(0), at(30), at(60)]);
}
