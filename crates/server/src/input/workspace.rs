//! The workspace's bodies: interactions and tasks.

use super::{text, unknown, READ_ONLY};
use keepwell_core::Invalid;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A list of ids (null is none).
fn ids(field: &str, v: &Value, invalid: &mut Invalid) -> Vec<i64> {
    match v {
        Value::Null => Vec::new(),
        Value::Array(items) if items.len() > keepwell_core::limits::PEOPLE => {
            // Refused before anything is read of it, with the message validation gives.
            keepwell_core::limits::count(invalid, field, items.len(), keepwell_core::limits::PEOPLE, "people");
            Vec::new()
        }
        Value::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item.as_i64() {
                    Some(id) => out.push(id),
                    None => {
                        invalid.push(format!("{field}[{i}]"), "must be an id");
                        break;
                    }
                }
            }
            out
        }
        _ => {
            invalid.push(field, "must be a list of ids");
            Vec::new()
        }
    }
}

/// An interaction body over `d` (empty for a new one, the interaction as it is for a change).
pub fn interaction_input(
    body: &Map<String, Value>,
    mut d: keepwell_core::interaction::Draft,
) -> (keepwell_core::interaction::Draft, Invalid) {
    const KNOWN: &[&str] = &["kind", "occurred_at", "subject", "body", "contact_ids", "user_ids", "external_id"];
    const SHOWN: &[&str] = &["account_id", "contacts", "users", "author", "author_id"];
    let mut invalid = Invalid::default();
    for (k, v) in body {
        match k.as_str() {
            "kind" => d.kind = text(k, v, &mut invalid),
            "occurred_at" => match text(k, v, &mut invalid) {
                None => d.occurred_at = None,
                Some(t) => match chrono::DateTime::parse_from_rfc3339(t.trim()) {
                    Ok(at) => d.occurred_at = Some(at.with_timezone(&chrono::Utc)),
                    Err(_) => invalid.push(k, format!("{t:?} is not a time such as \"2026-11-30T14:00:00Z\"")),
                },
            },
            "subject" => d.subject = text(k, v, &mut invalid),
            "body" => d.body = text(k, v, &mut invalid),
            "contact_ids" => d.contact_ids = ids(k, v, &mut invalid),
            "user_ids" => d.user_ids = ids(k, v, &mut invalid),
            "external_id" => d.external_id = text(k, v, &mut invalid),
            k if READ_ONLY.contains(&k) || SHOWN.contains(&k) => {}
            k => unknown(k, KNOWN, &mut invalid),
        }
    }
    (d, invalid)
}

pub fn interaction_as_draft(i: &keepwell_store::interactions::Interaction) -> keepwell_core::interaction::Draft {
    keepwell_core::interaction::Draft {
        kind: Some(i.kind.clone()),
        occurred_at: Some(i.occurred_at),
        subject: Some(i.subject.clone()),
        body: Some(i.body.clone()),
        contact_ids: i.contacts.iter().map(|p| p.id).collect(),
        user_ids: i.users.iter().map(|p| p.id).collect(),
        external_id: i.external_id.clone(),
    }
}

/// An interaction body.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct InteractionBody {
    /// `email`, `call`, `meeting`, `note` or `qbr`.
    kind: String,
    /// When it happened (RFC 3339), default now; at most a year ahead.
    occurred_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Default the body's first line.
    #[schema(max_length = 300)]
    subject: Option<String>,
    /// Markdown.
    #[schema(max_length = 20000)]
    body: Option<String>,
    /// Contacts of the account who took part (at most 50).
    #[schema(max_items = 50)]
    contact_ids: Option<Vec<i64>>,
    /// Team members who took part (at most 50).
    #[schema(max_items = 50)]
    user_ids: Option<Vec<i64>>,
    /// Its id in the tool it came from: unique.
    #[schema(max_length = 255)]
    external_id: Option<String>,
}

/// A day: `"2026-12-01"`, or `null` for none.
fn day(field: &str, v: &Value, invalid: &mut Invalid) -> Option<chrono::NaiveDate> {
    let t = text(field, v, invalid)?;
    keepwell_core::money::date(&t).map_err(|e| invalid.push(field, e)).ok()
}

/// An id, or `null` for none.
fn id(field: &str, v: &Value, invalid: &mut Invalid) -> Option<i64> {
    match v {
        Value::Null => None,
        v => v.as_i64().or_else(|| {
            invalid.push(field, "must be an id");
            None
        }),
    }
}

/// A task body over `d` (empty for a new one, the task as it is for a change), and the comment
/// a re-ask of its source adds (`comment`, POST only).
pub fn task_input(
    body: &Map<String, Value>,
    mut d: keepwell_core::task::Draft,
) -> (keepwell_core::task::Draft, Option<String>, Invalid) {
    const KNOWN: &[&str] = &[
        "title",
        "kind",
        "priority",
        "status",
        "due_on",
        "snoozed_until",
        "owner_id",
        "account_id",
        "description",
        "source",
        "comment",
    ];
    const SHOWN: &[&str] = &["created_by", "closed_at", "closed_by", "comments", "playbook"];
    let mut invalid = Invalid::default();
    let mut comment = None;
    for (k, v) in body {
        match k.as_str() {
            "title" => d.title = text(k, v, &mut invalid),
            "kind" => d.kind = text(k, v, &mut invalid),
            "priority" => d.priority = text(k, v, &mut invalid),
            "status" => d.status = text(k, v, &mut invalid),
            "due_on" => d.due_on = day(k, v, &mut invalid),
            "snoozed_until" => d.snoozed_until = day(k, v, &mut invalid),
            "owner_id" => d.owner_id = id(k, v, &mut invalid),
            "account_id" => d.account_id = id(k, v, &mut invalid),
            // As the task is shown ({"id": …, "name": …}) or as a bare id: a task read, changed and
            // sent back works.
            "owner" | "account" => {
                let value = v.get("id").unwrap_or(v);
                let field = format!("{k}_id");
                let got = id(&field, value, &mut invalid);
                if k == "owner" {
                    d.owner_id = got;
                } else {
                    d.account_id = got;
                }
            }
            "description" => d.description = text(k, v, &mut invalid),
            "source" => d.source = text(k, v, &mut invalid),
            "comment" => comment = text(k, v, &mut invalid),
            k if READ_ONLY.contains(&k) || SHOWN.contains(&k) => {}
            k => unknown(k, KNOWN, &mut invalid),
        }
    }
    (d, comment, invalid)
}

/// A task body. On `PATCH` every field is optional: `status` `done` completes, `cancelled`
/// cancels, `open` reopens; `owner_id` reassigns; `snoozed_until` snoozes (`null` wakes).
#[derive(ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct TaskBody {
    #[schema(max_length = 300)]
    title: String,
    /// `risk`, `opportunity`, `onboarding`, `renewal` or `other` (default).
    kind: Option<String>,
    /// `low`, `normal` (default), `high` or `urgent`.
    priority: Option<String>,
    /// `open` (default), `done` or `cancelled`.
    status: Option<String>,
    due_on: Option<chrono::NaiveDate>,
    snoozed_until: Option<chrono::NaiveDate>,
    /// Default the account's owner, else the caller.
    owner_id: Option<i64>,
    account_id: Option<i64>,
    /// Markdown.
    #[schema(max_length = 20000)]
    description: Option<String>,
    /// What the task is about in the tool that opens it (`renewal:123`): while its task is open,
    /// a second `POST` with the same source updates that task (due date, priority and a comment)
    /// and answers 200 instead of 201. Cannot be changed.
    #[schema(max_length = 255)]
    source: Option<String>,
    /// `POST` only: why a source asks again, added as a comment.
    #[schema(max_length = 20000)]
    comment: Option<String>,
}

/// A comment body.
#[derive(ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    /// Markdown, at most 20 000 characters.
    #[schema(max_length = 20000, min_length = 1)]
    body: String,
}

/// A bulk action's body: which accounts (`ids`, or `filter` for every one matching it) and the
/// one thing to do to them. The filter is the list's query parameters, as strings.
pub fn bulk_input(body: &Map<String, Value>) -> (BulkRequest, Invalid) {
    use crate::accounts::{Bulk, BULK_MAX};
    const KNOWN: &[&str] = &["ids", "filter", "add_tag", "set_owner_id", "create_task"];
    const FILTERS: &[&str] = &["q", "owner", "stage", "tag", "country", "band"];
    let mut invalid = Invalid::default();
    let (mut chosen, mut filter, mut actions) = (None, None, Vec::new());
    for (k, v) in body {
        match k.as_str() {
            "ids" => match v {
                Value::Array(items) if items.len() > BULK_MAX => {
                    keepwell_core::limits::count(&mut invalid, "ids", items.len(), BULK_MAX, "accounts");
                }
                Value::Array(items) => {
                    let read: Vec<Option<i64>> = items.iter().map(Value::as_i64).collect();
                    match read.iter().position(Option::is_none) {
                        Some(i) => invalid.push(format!("ids[{i}]"), "must be an account id (a whole number)"),
                        None => chosen = Some(read.into_iter().flatten().collect()),
                    }
                }
                _ => invalid.push("ids", "must be a list of account ids"),
            },
            "filter" => match v {
                Value::Object(f) => {
                    let mut out = std::collections::HashMap::new();
                    for (name, value) in f {
                        let field = format!("filter.{name}");
                        if !FILTERS.contains(&name.as_str()) {
                            invalid.push(field, format!("is not a filter; expected one of {}", FILTERS.join(", ")));
                        } else if let Some(t) = text(&field, value, &mut invalid) {
                            out.insert(name.clone(), t);
                        }
                    }
                    filter = Some(out);
                }
                _ => {
                    invalid.push("filter", "must be an object of the list's filters, such as {\"stage\": \"adoption\"}")
                }
            },
            "add_tag" => actions.push(text(k, v, &mut invalid).map(Bulk::Tag)),
            "set_owner_id" => actions.push(id(k, v, &mut invalid).map(Bulk::Owner)),
            "create_task" => match v {
                Value::Object(task) => {
                    let (draft, _, mut e) = task_input(task, keepwell_core::task::Draft::default());
                    if draft.source.is_some() {
                        // One source is one open task in the workspace: a bulk task's is its own.
                        e.push("source", "is given by the bulk action (one per account), not by the request");
                    }
                    for f in &mut e.errors {
                        f.field = format!("create_task.{}", f.field);
                    }
                    invalid.errors.extend(e.errors);
                    actions.push(Some(Bulk::Task(draft)));
                }
                _ => invalid.push("create_task", "must be a task: {\"title\": …, \"kind\": …, \"due_on\": …}"),
            },
            k => unknown(k, KNOWN, &mut invalid),
        }
    }
    if body.contains_key("ids") == body.contains_key("filter") {
        invalid.push("ids", "give either ids (the accounts chosen) or filter (every account matching it)");
    }
    if actions.len() != 1 {
        invalid.push("add_tag", "give exactly one of add_tag, set_owner_id and create_task");
    }
    let action = actions.into_iter().next().flatten();
    (BulkRequest { ids: chosen, filter, action }, invalid)
}

/// A bulk action's body as read: what [`bulk_input`] could make of each part.
pub struct BulkRequest {
    pub ids: Option<Vec<i64>>,
    pub filter: Option<std::collections::HashMap<String, String>>,
    pub action: Option<crate::accounts::Bulk>,
}

/// A bulk action: `ids` or `filter`, and one of `add_tag`, `set_owner_id`, `create_task`.
#[derive(ToSchema)]
#[allow(dead_code)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// The accounts chosen (at most 5 000). Give this or `filter`.
    ids: Option<Vec<i64>>,
    /// Every account matching these list filters (`q`, `owner`, `stage`, `tag`, `country`,
    /// `band`, as `GET /api/v1/accounts` takes them); refused when more than 5 000 match.
    filter: Option<std::collections::HashMap<String, String>>,
    /// Adds this tag.
    #[schema(max_length = 50)]
    add_tag: Option<String>,
    /// Makes this member the owner (a manager or an admin only).
    set_owner_id: Option<i64>,
    /// Opens this task on each account (owner: the account's unless given). Asked again while
    /// open, the same title updates the account's task instead of opening a second.
    create_task: Option<TaskBody>,
}
