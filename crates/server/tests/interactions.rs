//! Interactions through the API, on both backends: logged by the account's owner with the people
//! on both sides, paged newest first, changed and deleted by their author or a manager only, and
//! counted by `days_since_interaction()` (from the first subscription when there is none).

mod common;

use chrono::{Days, Utc};
use common::{fields, TestApp};
use keepwell_core::Role;
use reqwest::Method;
use serde_json::{json, Value};

on_both_backends!(an_owner_logs_calls_that_the_score_counts, interactions_are_refused_with_their_fields_named);

fn measure<'a>(health: &'a Value, key: &str) -> &'a Value {
    health["measures"].as_array().unwrap().iter().find(|m| m["key"] == key).unwrap()
}

async fn an_owner_logs_calls_that_the_score_counts(app: TestApp) {
    let dee = app.member("dee@team.io", Role::Csm).await;
    let dee_token = app.member_token("dee@team.io", Role::Csm).await;
    let eve_token = app.member_token("eve@team.io", Role::Csm).await;
    let viewer = app.member_token("val@team.io", Role::Viewer).await;
    let (status, acme) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme", "owner_id": dee})).await;
    assert_eq!(status, 201, "{acme}");
    let acme = acme["id"].as_i64().unwrap();
    let today = app.store.clock().today();
    let started = (today - Days::new(40)).to_string();
    let period = json!({"subscription_id": "s1", "plan": "pro", "quantity": 5, "currency": "USD", "amount": "500",
        "interval": "month", "starts_on": started});
    let (_, bolt) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Bolt"})).await;
    let bolt = bolt["id"].as_i64().unwrap();
    for (id, sub) in [(acme, "s1"), (bolt, "s2")] {
        let mut period = period.clone();
        period["subscription_id"] = json!(sub);
        let (status, body) = app.post(&format!("/api/v1/accounts/{id}/subscriptions"), &app.admin, period).await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, sarah) = app
        .post("/api/v1/contacts", &app.admin, json!({"account_id": acme, "email": "sarah@acme.com", "name": "Sarah"}))
        .await;
    assert_eq!(status, 201, "{sarah}");

    // Never contacted: days since the first subscription began.
    let (_, h) = app.get(&format!("/api/v1/accounts/{acme}/health"), &app.admin).await;
    assert_eq!(
        measure(&h, "days_since_interaction")["value"].as_f64(),
        None,
        "no interaction logged anywhere yet: {h}"
    );

    let five_days_ago = (Utc::now() - chrono::Duration::days(5)).to_rfc3339();
    let call = json!({"kind": "call", "occurred_at": five_days_ago, "subject": "Renewal check-in",
        "body": "Sarah wants **SSO** before renewing.", "contact_ids": [sarah["id"]], "user_ids": [dee]});
    let (status, logged) = app.post(&format!("/api/v1/accounts/{acme}/interactions"), &dee_token, call.clone()).await;
    assert_eq!(status, 201, "{logged}");
    assert_eq!((logged["kind"].as_str(), logged["author_id"].as_i64()), (Some("call"), Some(dee)));
    assert_eq!(logged["contacts"][0]["email"], "sarah@acme.com");
    assert_eq!(logged["users"][0]["id"], dee);
    let note = json!({"kind": "note", "body": "Champion is\nhappy"});
    let (status, noted) = app.post(&format!("/api/v1/accounts/{acme}/interactions"), &dee_token, note).await;
    assert_eq!((status, noted["subject"].as_str()), (201, Some("Champion is")), "{noted}");
    // Another CSM may not log on Dee's account; a viewer may not log at all.
    let (status, _) = app.post(&format!("/api/v1/accounts/{acme}/interactions"), &eve_token, call.clone()).await;
    assert_eq!(status, 403);
    let (status, _) = app.post(&format!("/api/v1/accounts/{acme}/interactions"), &viewer, call.clone()).await;
    assert_eq!(status, 403);

    // Newest first, paged, by kind; the viewer reads.
    let (status, page) = app.get(&format!("/api/v1/accounts/{acme}/interactions?limit=1"), &viewer).await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["data"][0]["id"], noted["id"]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = app.get(&format!("/api/v1/accounts/{acme}/interactions?limit=1&cursor={cursor}"), &viewer).await;
    assert_eq!((next["data"][0]["id"].clone(), next["next_cursor"].clone()), (logged["id"].clone(), Value::Null));
    let (_, calls) = app.get("/api/v1/interactions?kind=call&owner=me", &dee_token).await;
    assert_eq!(calls["data"].as_array().unwrap().len(), 1, "{calls}");
    let (_, none) = app.get("/api/v1/interactions?owner=me", &eve_token).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0, "{none}");

    // Bolt was never contacted: it counts from its first subscription, 40 days ago.
    let (_, h) = app.get(&format!("/api/v1/accounts/{bolt}/health"), &app.admin).await;
    assert_eq!(measure(&h, "days_since_interaction")["value"].as_f64(), Some(40.0), "{h}");
    // Today's score counts the call (the later note is of today).
    let (_, h) = app.get(&format!("/api/v1/accounts/{acme}/health"), &app.admin).await;
    assert_eq!(measure(&h, "days_since_interaction")["value"].as_f64(), Some(0.0), "{h}");
    let id = noted["id"].as_i64().unwrap();
    let res = app.call(Method::DELETE, &format!("/api/v1/interactions/{id}"), &eve_token, None).await;
    assert_eq!(res.status(), 403, "only its author or a manager deletes it");
    let res = app.call(Method::DELETE, &format!("/api/v1/interactions/{id}"), &dee_token, None).await;
    assert_eq!(res.status(), 204);
    let (_, h) = app.get(&format!("/api/v1/accounts/{acme}/health"), &app.admin).await;
    assert_eq!(measure(&h, "days_since_interaction")["value"].as_f64(), Some(5.0), "{h}");

    // Its author changes it; a manager may too; the change is audited.
    let call_id = logged["id"].as_i64().unwrap();
    let (status, changed) = app
        .patch(&format!("/api/v1/interactions/{call_id}"), &dee_token, json!({"kind": "meeting", "contact_ids": []}))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!((changed["kind"].as_str(), changed["subject"].as_str()), (Some("meeting"), Some("Renewal check-in")));
    assert_eq!(changed["contacts"], json!([]));
    let (status, _) = app.patch(&format!("/api/v1/interactions/{call_id}"), &eve_token, json!({"subject": "x"})).await;
    assert_eq!(status, 403);
    let (status, _) =
        app.patch(&format!("/api/v1/interactions/{call_id}"), &app.admin, json!({"subject": "QBR prep"})).await;
    assert_eq!(status, 200);
    let (_, audit) = app.get("/api/v1/audit?entity=interaction", &app.admin).await;
    let actions: Vec<&str> = audit["data"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"interaction.update") && actions.contains(&"interaction.delete"), "{audit}");

    // An imported id is unique.
    let tagged = json!({"kind": "email", "subject": "Hi", "external_id": "crm-1"});
    let (status, _) = app.post(&format!("/api/v1/accounts/{acme}/interactions"), &dee_token, tagged.clone()).await;
    assert_eq!(status, 201);
    let (status, body) = app.post(&format!("/api/v1/accounts/{acme}/interactions"), &dee_token, tagged).await;
    assert_eq!((status, fields(&body)), (409, vec!["external_id".to_string()]), "{body}");
}

async fn interactions_are_refused_with_their_fields_named(app: TestApp) {
    let (_, acme) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Acme"})).await;
    let (_, bolt) = app.post("/api/v1/accounts", &app.admin, json!({"name": "Bolt"})).await;
    let (_, theirs) =
        app.post("/api/v1/contacts", &app.admin, json!({"account_id": bolt["id"], "email": "x@bolt.io"})).await;
    let path = format!("/api/v1/accounts/{}/interactions", acme["id"]);
    let cases = [
        (json!({"kind": "fax", "subject": "x"}), vec!["kind"]),
        (json!({"subject": "x"}), vec!["kind"]),
        (json!({"kind": "call"}), vec!["subject"]),
        (json!({"kind": "call", "subject": "x", "occurred_at": "yesterday"}), vec!["occurred_at"]),
        (json!({"kind": "call", "subject": "x", "contact_ids": [theirs["id"]]}), vec!["contact_ids"]),
        (json!({"kind": "call", "subject": "x", "user_ids": [987654]}), vec!["user_ids"]),
        (json!({"kind": "call", "subject": "x", "contact_ids": ["a"]}), vec!["contact_ids[0]"]),
        (json!({"kind": "call", "subject": "x".repeat(301)}), vec!["subject"]),
        (json!({"kind": "call", "subject": "x", "user_ids": (0..51).collect::<Vec<i64>>()}), vec!["user_ids"]),
        (json!({"kind": "call", "subject": "x", "mood": "great"}), vec!["mood"]),
    ];
    for (body, want) in cases {
        let (status, answer) = app.post(&path, &app.admin, body.clone()).await;
        assert_eq!((status, fields(&answer)), (422, want.iter().map(|s| s.to_string()).collect()), "{body}: {answer}");
    }
    let (status, _) =
        app.post("/api/v1/accounts/999999/interactions", &app.admin, json!({"kind": "call", "subject": "x"})).await;
    assert_eq!(status, 404);
    let (status, answer) = app.get(&format!("{path}?kind=fax"), &app.admin).await;
    assert_eq!((status, fields(&answer)), (422, vec!["kind".to_string()]));
    let (status, answer) = app.get(&format!("{path}?cursor=nope"), &app.admin).await;
    assert_eq!((status, fields(&answer)), (422, vec!["cursor".to_string()]));
    let (_, page) = app.get(&path, &app.admin).await;
    assert_eq!(page["data"], json!([]), "nothing refused was written");
}
