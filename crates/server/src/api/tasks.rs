//! Tasks: the inbox, opening (or re-asking by source), changing, and comments.

use crate::auth::{Auth, Csm, Viewer};
use crate::error::ApiResult;
use crate::input::{task_input, CommentBody, TaskBody};
use crate::params::{json_object, path_id, Params};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::task::Draft;
use keepwell_core::Invalid;
use keepwell_store::tasks::{Comment, Task};
use keepwell_store::Page;
use std::collections::HashMap;

/// TaskPage: one page of tasks, soonest due first (undated last).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct TaskPage {
    data: Vec<Task>,
    next_cursor: Option<String>,
}

/// CommentList: a task's comments, oldest first.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct CommentList {
    data: Vec<Comment>,
}

#[utoipa::path(get, path = "/api/v1/tasks", tag = "tasks",
    description = "Tasks, soonest due first (undated last). Open and awake ones by default: a task snoozed until a \
                   later day is left out until that day.",
    params(
        ("owner" = Option<String>, Query, description = "a team member id, `me` or `none`"),
        ("account_id" = Option<i64>, Query),
        ("status" = Option<String>, Query, description = "`open` (default), `done`, `cancelled` or `all`"),
        ("kind" = Option<String>, Query, description = "`risk`, `opportunity`, `onboarding`, `renewal` or `other`"),
        ("priority" = Option<String>, Query, description = "`low`, `normal`, `high` or `urgent`"),
        ("due" = Option<String>, Query, description = "`overdue` (before `as_of`), `today`, `week` (from `as_of` \
          through its Sunday), `now` (overdue and this week) or `none` (no due date)"),
        ("as_of" = Option<chrono::NaiveDate>, Query, description = "the day `due` and snoozing are judged on; default today"),
        ("snoozed" = Option<String>, Query, description = "`hide` (default) or `include`"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = TaskPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Task>>> {
    let filter = crate::tasks::filter(&Params(q), auth.user_id, state.store.clock().today())?;
    Ok(Json(crate::tasks::list(&state.store, &filter).await?))
}

#[utoipa::path(post, path = "/api/v1/tasks", tag = "tasks",
    description = "Opens a task (a csm on the accounts they own, or for themselves; a manager on any). With a \
                   `source` whose task is open, updates that task instead and answers 200.",
    request_body = TaskBody,
    responses((status = 201, body = Task), (status = 200, body = Task), (status = 409, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn create(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Task>)> {
    let (draft, comment, mut shape) = task_input(&json_object(&body)?, Draft::default());
    if let Some(Err(e)) = comment.as_deref().map(|c| keepwell_core::task::comment(Some(c))) {
        shape.errors.extend(e.errors.into_iter().map(|mut f| {
            f.field = "comment".into();
            f
        }));
    }
    shape.into_result(())?;
    let (task, new) = crate::tasks::open(&state.store, &auth, draft, comment.as_deref()).await?;
    Ok((if new { StatusCode::CREATED } else { StatusCode::OK }, Json(task)))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}", tag = "tasks", params(("id" = i64, Path)),
    responses((status = 200, body = Task)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn show(_auth: Auth<Viewer>, State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Task>> {
    Ok(Json(crate::tasks::get(&state.store, path_id(&id)?).await?))
}

#[utoipa::path(patch, path = "/api/v1/tasks/{id}", tag = "tasks",
    description = "Changes the fields sent (its owner, the owner of its account, or a manager): `status` completes, \
                   cancels or reopens; `owner_id` reassigns; `snoozed_until` snoozes; `null` clears a date, the \
                   owner or the account.",
    params(("id" = i64, Path)), request_body = TaskBody,
    responses((status = 200, body = Task), (status = 409, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Json<Task>> {
    let current = crate::tasks::get(&state.store, path_id(&id)?).await?;
    let (draft, comment, mut shape) = task_input(&json_object(&body)?, crate::tasks::as_draft(&current));
    if comment.is_some() {
        shape.push("comment", "is for a POST; add a comment with POST /api/v1/tasks/{id}/comments");
    }
    shape.into_result(())?;
    Ok(Json(crate::tasks::update(&state.store, &auth, current.id, draft).await?))
}

#[utoipa::path(get, path = "/api/v1/tasks/{id}/comments", tag = "tasks", params(("id" = i64, Path)),
    responses((status = 200, body = CommentList)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn comments(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<serde_json::Value>> {
    let data = crate::tasks::comments(&state.store, path_id(&id)?).await?;
    Ok(Json(serde_json::json!({ "data": data })))
}

#[utoipa::path(post, path = "/api/v1/tasks/{id}/comments", tag = "tasks", params(("id" = i64, Path)),
    description = "Comments on the task (whoever may work it).",
    request_body = CommentBody, responses((status = 201, body = Comment)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn comment(
    auth: Auth<Csm>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<(StatusCode, Json<Comment>)> {
    let id = path_id(&id)?;
    let body = json_object(&body)?;
    let mut invalid = Invalid::default();
    crate::input::only(&body, &["body"], &mut invalid);
    let text = body.get("body").and_then(|v| crate::input::text("body", v, &mut invalid));
    invalid.into_result(())?;
    let c = crate::tasks::comment(&state.store, &auth, id, text.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(c)))
}
