//! The CSM's workspace in pages: the home page of a book, the task inbox and a task's page,
//! logging interactions on an account, and the bell's notifications. Every write goes through the
//! same services as the API.

use super::{failure, field, id_of, problems, FormData, PageResult};
use crate::auth::{Auth, Csm, Viewer};
use crate::params::Params;
use crate::refused::Refused;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{local_path, redirect_with, render, tr};
use axum::extract::{Path, Query, RawForm, State};
use axum::response::Response;
use axum::{Extension, Form};
use keepwell_core::task::{Draft, Due, Kind, Priority, Status};
use keepwell_core::Role;
use minijinja::{context, Value};
use std::collections::HashMap;

/// After a form: back to where it was sent from (a same-site path), with the flash.
async fn back(state: &AppState, web: &WebSession, f: &FormData, default: &str, flash: &str) -> Response {
    let to = match field(f, "next") {
        Some(n) => local_path(Some(&n)),
        None => default.to_owned(),
    };
    redirect_with(state, web, &to, flash).await
}

/// A refusal a form can show as its flash, or the error page.
fn said(state: &AppState, web: &WebSession, e: Refused) -> Result<String, Response> {
    match e {
        Refused::Invalid(i) => Ok(problems(&i)),
        Refused::Conflict { field, message } => Ok(format!("{field}: {message}")),
        other => Err(failure(state, web, other)),
    }
}

/// The words a task's kind, priority and status are shown with, for the forms' choices.
fn choices(state: &AppState, web: &WebSession) -> Value {
    let words = |prefix: &str, all: &[&str]| -> Vec<Value> {
        all.iter().map(|w| context! { value => w, label => tr(state, web, &format!("{prefix}-{w}"), &[]) }).collect()
    };
    context! {
        kinds => words("task-kind", &Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()),
        priorities => words("task-priority", &Priority::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()),
        statuses => words("task-status", &Status::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>()),
    }
}

#[tracing::instrument(skip_all)]
pub async fn inbox(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(mut q): Query<HashMap<String, String>>,
) -> PageResult {
    let today = state.store.clock().today();
    // A member lands on their own open tasks due now; "everyone" is owner=all.
    if !q.contains_key("owner") && auth.user_id.is_some() {
        q.insert("owner".into(), "me".into());
    }
    let all_owners = q.get("owner").map(String::as_str) == Some("all");
    if all_owners {
        q.remove("owner");
    }
    let p = Params::form(&q);
    let filter = crate::tasks::filter(&p, auth.user_id, today).map_err(|e| failure(&state, &web, e))?;
    let store = &state.store;
    let (page, users, counts) = tokio::try_join!(
        crate::tasks::list(store, &filter),
        async { store.users().await.map_err(Refused::from) },
        async {
            let week_end = Due::Week.range(today).1.unwrap_or(today);
            store.task_counts(filter.owner.flatten(), today, week_end).await.map_err(Refused::from)
        },
    )
    .map_err(|e| failure(&state, &web, e))?;
    let mut base: Vec<(String, String)> =
        q.iter().filter(|(k, v)| *k != "cursor" && !v.is_empty()).map(|(k, v)| (k.clone(), v.clone())).collect();
    if all_owners {
        base.push(("owner".into(), "all".into()));
    }
    base.sort();
    let next_url = page.next_cursor.as_ref().map(|c| {
        let mut p = base.clone();
        p.push(("cursor".into(), c.clone()));
        format!("/tasks?{}", super::encode(&p))
    });
    let tasks: Vec<Value> = page.data.iter().map(|t| task_row(t, today)).collect();
    let active: Vec<_> = users.iter().filter(|u| !u.disabled && u.role >= Role::Csm).collect();
    Ok(render(
        &state,
        &web,
        "tasks.html",
        context! {
            nav => "tasks",
            tasks, next_url, today, users => active, choices => choices(&state, &web),
            owner => if all_owners { "all".to_owned() } else { q.get("owner").cloned().unwrap_or_default() },
            due => q.get("due").cloned().unwrap_or_default(),
            kind => q.get("kind").cloned().unwrap_or_default(),
            priority => q.get("priority").cloned().unwrap_or_default(),
            status => q.get("status").cloned().unwrap_or_default(),
            overdue => counts.0, due_soon => counts.1,
            here => format!("/tasks?{}", super::encode(&base)),
            can_work => auth.role >= Role::Csm,
        },
    )
    .await)
}

/// A task as a row of a page: its fields and whether it is late.
pub(super) fn task_row(t: &keepwell_store::tasks::Task, today: chrono::NaiveDate) -> Value {
    let overdue = t.status == "open" && t.due_on.is_some_and(|d| d < today);
    let snoozed = t.snoozed_until.is_some_and(|d| d > today);
    context! { task => t, overdue, snoozed, days => t.due_on.map(|d| (d - today).num_days()) }
}

#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn task(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &raw)?;
    let fail = |e| failure(&state, &web, e);
    let task = crate::tasks::get(&state.store, id).await.map_err(fail)?;
    let comments = crate::tasks::comments(&state.store, id).await.map_err(fail)?;
    let users = state.store.users().await.map_err(|e| failure(&state, &web, e))?;
    let today = state.store.clock().today();
    let active: Vec<_> = users.iter().filter(|u| !u.disabled && u.role >= Role::Csm).collect();
    Ok(render(
        &state,
        &web,
        "task.html",
        context! {
            nav => "tasks", row => task_row(&task, today), comments, users => active, today,
            choices => choices(&state, &web), can_work => auth.role >= Role::Csm,
        },
    )
    .await)
}

/// Opens a task from a form (the account page's or the inbox's).
#[tracing::instrument(skip_all)]
pub async fn create_task(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let account_id = field(&f, "account_id").and_then(|a| a.parse().ok());
    let draft = Draft {
        title: field(&f, "title"),
        kind: field(&f, "kind"),
        priority: field(&f, "priority"),
        due_on: field(&f, "due_on").and_then(|d| d.parse().ok()),
        owner_id: field(&f, "owner_id").and_then(|o| o.parse().ok()),
        account_id,
        description: field(&f, "description"),
        ..Default::default()
    };
    let home = account_id.map_or_else(|| "/tasks".to_owned(), |a| format!("/accounts/{a}#tasks"));
    let flash = match crate::tasks::open(&state.store, &auth, draft, None).await {
        Ok((t, _)) => tr(&state, &web, "task-opened", &[("title", t.title.into())]),
        Err(e) => said(&state, &web, e)?,
    };
    Ok(back(&state, &web, &f, &home, &flash).await)
}

/// Works a task from a form: `action` is `done`, `cancelled`, `open` (reopen), `snooze` (until
/// `snoozed_until`, empty wakes it) or `assign` (to `owner_id`).
#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn update_task(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let id = id_of(&state, &web, &raw)?;
    let current = crate::tasks::get(&state.store, id).await.map_err(|e| failure(&state, &web, e))?;
    let mut draft = crate::tasks::as_draft(&current);
    let action = field(&f, "action").unwrap_or_default();
    let key = match action.as_str() {
        "done" | "cancelled" | "open" => {
            draft.status = Some(action.clone());
            format!("task-now-{action}")
        }
        "snooze" => {
            draft.snoozed_until = field(&f, "snoozed_until").and_then(|d| d.parse().ok());
            "task-snoozed".into()
        }
        "assign" => {
            draft.owner_id = field(&f, "owner_id").and_then(|o| o.parse().ok());
            "task-assigned".into()
        }
        _ => return Err(failure(&state, &web, Refused::Invalid(keepwell_core::Invalid::field("action", "unknown")))),
    };
    let flash = match crate::tasks::update(&state.store, &auth, id, draft).await {
        Ok(t) => tr(&state, &web, &key, &[("title", t.title.into())]),
        Err(e) => said(&state, &web, e)?,
    };
    Ok(back(&state, &web, &f, &format!("/tasks/{id}"), &flash).await)
}

#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn comment(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let id = id_of(&state, &web, &raw)?;
    let flash = match crate::tasks::comment(&state.store, &auth, id, field(&f, "body").as_deref()).await {
        Ok(_) => tr(&state, &web, "task-commented", &[]),
        Err(e) => said(&state, &web, e)?,
    };
    Ok(back(&state, &web, &f, &format!("/tasks/{id}#comments"), &flash).await)
}

/// The interaction a form says, over `d` (empty for a new one, the interaction as it is for a
/// change): several `contact_ids` and `user_ids` may be checked; `occurred_at` is
/// `YYYY-MM-DDTHH:MM` in UTC (empty: now for a new one, unchanged for a change). None when the time
/// cannot be read.
fn interaction_form(
    body: &[u8],
    mut d: keepwell_core::interaction::Draft,
) -> Option<keepwell_core::interaction::Draft> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let one = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty());
    let many = |k: &str| pairs.iter().filter(|(n, _)| n == k).filter_map(|(_, v)| v.parse().ok()).collect::<Vec<i64>>();
    if let Some(t) = one("occurred_at") {
        d.occurred_at = Some(chrono::NaiveDateTime::parse_from_str(&t, "%Y-%m-%dT%H:%M").ok()?.and_utc());
    }
    d.kind = one("kind").or(d.kind);
    d.subject = one("subject");
    d.body = one("body");
    d.contact_ids = many("contact_ids");
    d.user_ids = many("user_ids");
    Some(d)
}

/// Logs an interaction from the account page's form: several `contact_ids` and `user_ids` may be
/// checked; `occurred_at` is the member's local time as `YYYY-MM-DDTHH:MM` in UTC (empty: now).
#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn log_interaction(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> PageResult {
    let id = id_of(&state, &web, &raw)?;
    let back_to = format!("/accounts/{id}#interactions");
    let Some(draft) = interaction_form(&body, keepwell_core::interaction::Draft::default()) else {
        let msg = tr(&state, &web, "interaction-bad-time", &[]);
        return Ok(redirect_with(&state, &web, &back_to, &msg).await);
    };
    let flash = match crate::interactions::log(&state.store, &auth, &state.settings.reporting_currency, id, draft).await
    {
        Ok(i) => tr(&state, &web, "interaction-logged", &[("subject", i.subject.into())]),
        Err(e) => said(&state, &web, e)?,
    };
    Ok(redirect_with(&state, &web, &back_to, &flash).await)
}

/// The form that changes an interaction (its author's, or a manager's).
#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn edit_interaction_form(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &raw)?;
    let fail = |e| failure(&state, &web, e);
    let i = crate::interactions::get(&state.store, id).await.map_err(fail)?;
    crate::interactions::may_change(&auth, &i).map_err(|e| failure(&state, &web, e))?;
    let contacts = state
        .store
        .contacts(&keepwell_store::contacts::ContactFilter {
            account_id: Some(i.account_id),
            limit: 500,
            ..Default::default()
        })
        .await
        .map_err(|e| failure(&state, &web, e))?;
    let users = state.store.users().await.map_err(|e| failure(&state, &web, e))?;
    let members: Vec<_> = users.iter().filter(|u| !u.disabled && u.role >= Role::Csm).collect();
    let when = i.occurred_at.format("%Y-%m-%dT%H:%M").to_string();
    let contact_ids: Vec<i64> = i.contacts.iter().map(|c| c.id).collect();
    let user_ids: Vec<i64> = i.users.iter().map(|u| u.id).collect();
    Ok(render(
        &state,
        &web,
        "interaction_form.html",
        context! { nav => "accounts", i, when, contacts => contacts.data, members, contact_ids, user_ids },
    )
    .await)
}

#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn edit_interaction(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    RawForm(body): RawForm,
) -> PageResult {
    let id = id_of(&state, &web, &raw)?;
    let i = crate::interactions::get(&state.store, id).await.map_err(|e| failure(&state, &web, e))?;
    let again = format!("/interactions/{id}/edit");
    let Some(draft) = interaction_form(&body, crate::input::interaction_as_draft(&i)) else {
        let msg = tr(&state, &web, "interaction-bad-time", &[]);
        return Ok(redirect_with(&state, &web, &again, &msg).await);
    };
    match crate::interactions::update(&state.store, &auth, id, draft).await {
        Ok(i) => {
            let flash = tr(&state, &web, "interaction-saved", &[("subject", i.subject.into())]);
            Ok(redirect_with(&state, &web, &format!("/accounts/{}#interactions", i.account_id), &flash).await)
        }
        Err(e) => {
            let flash = said(&state, &web, e)?;
            Ok(redirect_with(&state, &web, &again, &flash).await)
        }
    }
}

#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn delete_interaction(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> PageResult {
    let id = id_of(&state, &web, &raw)?;
    let fail = |e| failure(&state, &web, e);
    let i = crate::interactions::get(&state.store, id).await.map_err(fail)?;
    crate::interactions::delete(&state.store, &auth, id).await.map_err(fail)?;
    let flash = tr(&state, &web, "interaction-deleted", &[("subject", i.subject.into())]);
    Ok(redirect_with(&state, &web, &format!("/accounts/{}#interactions", i.account_id), &flash).await)
}

#[tracing::instrument(skip_all)]
pub async fn notifications(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let cursor = q.get("cursor").cloned();
    let page = crate::notifications::list(&state.store, &auth, false, 50, cursor.as_deref())
        .await
        .map_err(|e| failure(&state, &web, e))?;
    let next_url = page.next_cursor.as_ref().map(|c| format!("/notifications?cursor={}", urlencoding::encode(c)));
    Ok(render(&state, &web, "notifications.html", context! { nav => "notifications", items => page.data, next_url })
        .await)
}

#[tracing::instrument(skip_all)]
pub async fn read_notifications(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let ids: Option<Vec<i64>> = field(&f, "id").and_then(|i| i.parse().ok()).map(|i| vec![i]);
    crate::notifications::mark_read(&state.store, &auth, ids.as_deref()).await.map_err(|e| failure(&state, &web, e))?;
    let to = field(&f, "next").map_or_else(|| "/notifications".to_owned(), |n| local_path(Some(&n)));
    Ok(axum::response::IntoResponse::into_response(axum::response::Redirect::to(&to)))
}
