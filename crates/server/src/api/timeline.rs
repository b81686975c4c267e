//! An account's timeline and the caller's notifications.

use crate::accounts::load;
use crate::auth::{Auth, Viewer};
use crate::error::ApiResult;
use crate::i18n::Lang;
use crate::params::{json_object, path_id, Params};
use crate::state::AppState;
use crate::timeline::Timeline;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::Json;
use keepwell_core::Invalid;
use keepwell_store::notifications::Notification;
use keepwell_store::Page;
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/accounts/{id}/timeline", tag = "timeline",
    description = "Everything that happened to the account, newest first, each entry saying who or what caused it: \
                   interactions, tasks opened and closed, stage, health band and segment changes, sentiment and \
                   overrides, subscriptions started, changed and ended, invoices paid, failed and overdue, usage \
                   milestones (first activity, quiet for 14 days, back) and the deliveries sent about it. Titles \
                   are in English.",
    params(
        ("id" = i64, Path),
        ("kind" = Option<String>, Query, description = "a comma-separated list of `interaction`, `task`, `stage`, \
          `health`, `segment`, `sentiment`, `override`, `subscription`, `invoice`, `usage`, `delivery`"),
        ("before" = Option<String>, Query, description = "next_cursor of the previous page"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
    ),
    responses((status = 200, body = Timeline)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn of_account(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Timeline>> {
    let account = load(&state, path_id(&id)?).await?;
    let filter = crate::timeline::filter(&Params(q), account.id, state.store.clock().today())?;
    Ok(Json(crate::timeline::page(&state.store, &state.i18n, Lang::En, &filter).await?))
}

/// NotificationPage: one page of the caller's notifications, newest first.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NotificationPage {
    data: Vec<Notification>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications",
    description = "The caller's in-app notifications (a task given to them, an account of theirs changing band), \
                   newest first.",
    params(
        ("unread" = Option<bool>, Query, description = "`true`: only those not read yet"),
        ("limit" = Option<i64>, Query, description = "1 to 500, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses((status = 200, body = NotificationPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn notifications(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<Notification>>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let unread = p.choice("unread", &[("true", true), ("false", false)], false, &mut invalid);
    let limit = p.limit(&mut invalid);
    invalid.into_result(())?;
    let cursor = p.text("cursor");
    Ok(Json(crate::notifications::list(&state.store, &auth, unread, limit, cursor.as_deref()).await?))
}

/// ReadBody: which notifications to mark read.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReadBody {
    /// The ids to mark read; left out, every unread one.
    ids: Option<Vec<i64>>,
}

/// ReadCount: how many notifications were marked read.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ReadCount {
    marked: u64,
}

#[utoipa::path(post, path = "/api/v1/notifications/read", tag = "notifications",
    description = "Marks the caller's notifications read: those whose ids are given, or all of them.",
    request_body = ReadBody, responses((status = 200, body = ReadCount)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn read(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    body: Bytes,
) -> ApiResult<Json<serde_json::Value>> {
    let body = if body.is_empty() { serde_json::Map::new() } else { json_object(&body)? };
    let mut invalid = Invalid::default();
    crate::input::only(&body, &["ids"], &mut invalid);
    let ids = match body.get("ids") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::Array(a)) if a.len() <= 500 => {
            let ids: Vec<i64> = a.iter().filter_map(serde_json::Value::as_i64).collect();
            if ids.len() != a.len() {
                invalid.push("ids", "must be a list of notification ids (whole numbers)");
            }
            Some(ids)
        }
        Some(serde_json::Value::Array(_)) => {
            invalid.push("ids", "may name at most 500 notifications; leave it out to mark all read");
            None
        }
        Some(_) => {
            invalid.push("ids", "must be a list of notification ids");
            None
        }
    };
    invalid.into_result(())?;
    let marked = crate::notifications::mark_read(&state.store, &auth, ids.as_deref()).await?;
    Ok(Json(serde_json::json!({ "marked": marked })))
}
