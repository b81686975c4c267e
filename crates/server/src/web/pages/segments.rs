//! Segments: the list with member counts, the builder with its live count, one segment's members
//! and history.

use super::{api_failure, failure, field, field_errors, problems, FormData, PageResult};
use crate::auth::{Auth, Manager, Viewer};
use crate::definitions::{changed, preview_of};
use crate::error::ApiError;
use crate::refused::Refused;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{error_page, redirect_with, render, render_status, tr};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::Days;
use keepwell_core::definitions::SegmentDef;
use minijinja::context;
use std::collections::{BTreeMap, HashMap};

/// Segments: the list with member counts, and the builder.
#[tracing::instrument(skip_all)]
pub async fn segments(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    segments_page(&state, &web, StatusCode::OK, None, BTreeMap::new()).await
}

async fn segments_page(
    state: &AppState,
    web: &WebSession,
    status: StatusCode,
    form: Option<SegmentDef>,
    errors: BTreeMap<String, String>,
) -> PageResult {
    let fail = |e| failure(state, web, e);
    let today = state.store.clock().today();
    let mut rows = Vec::new();
    for s in state.store.segments().await.map_err(fail)? {
        let members = state.store.count_segment_members(s.id, today).await.map_err(fail)?;
        rows.push(
            context! { key => s.def.key, name => s.def.name, filter => s.def.filter, members, problem => s.problem },
        );
    }
    Ok(render_status(
        state,
        web,
        status,
        "segments.html",
        context! { nav => "segments", segments => rows, form, errors },
    )
    .await)
}

/// Creates or updates a segment from the builder (or its own page's form).
#[tracing::instrument(skip_all)]
pub async fn save_segment(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let def = SegmentDef {
        key: field(&f, "key").unwrap_or_default(),
        name: field(&f, "name").unwrap_or_default(),
        filter: field(&f, "filter").unwrap_or_default(),
    };
    match crate::definitions::save_segment(&state.store, &auth, &def).await {
        Ok(change) => {
            changed(&state, &change).await.map_err(|e| api_failure(&state, &web, e))?;
            let to = format!("/segments/{}", urlencoding::encode(&def.key));
            Ok(redirect_with(&state, &web, &to, &tr(&state, &web, "segment-saved", &[])).await)
        }
        Err(Refused::Invalid(e)) => {
            segments_page(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, Some(def), field_errors(&e)).await
        }
        Err(e) => Err(failure(&state, &web, e)),
    }
}

/// The builder's live count: `{"count": N}` or `{"error": "column …"}`.
#[tracing::instrument(skip_all)]
pub async fn count(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let filter = q.get("filter").cloned().unwrap_or_default();
    if filter.trim().is_empty() {
        return Json(serde_json::json!({"count": null})).into_response();
    }
    match preview_of(&state, &filter).await {
        Ok(p) => Json(serde_json::json!({"count": p.count, "sample": p.sample})).into_response(),
        Err(ApiError::Invalid(e)) => Json(serde_json::json!({"error": problems(&e)})).into_response(),
        Err(e) => e.into_response(),
    }
}

/// One segment: its members, who entered and left, and its definition.
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn segment(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> PageResult {
    let fail = |e| failure(&state, &web, e);
    let Some(s) = state.store.segment(&key).await.map_err(fail)? else {
        return Err(error_page(&state, &web, StatusCode::NOT_FOUND, "error-not-found"));
    };
    let today = state.store.clock().today();
    let members = state.store.segment_members(s.id, today, 0, 200).await.map_err(fail)?;
    let total = state.store.count_segment_members(s.id, today).await.map_err(fail)?;
    let history = state.store.segment_history(s.id, today - Days::new(89), today, 100).await.map_err(fail)?;
    Ok(render(&state, &web, "segment.html", context! { nav => "segments", segment => s.def, members, total, history })
        .await)
}

#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn delete_segment(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> PageResult {
    match crate::definitions::delete(&state.store, &auth, "segment", &key).await {
        Ok(()) => Ok(redirect_with(&state, &web, "/segments", &tr(&state, &web, "segment-deleted", &[])).await),
        Err(Refused::Conflict { message, .. }) => {
            Ok(redirect_with(&state, &web, &format!("/segments/{}", urlencoding::encode(&key)), &message).await)
        }
        Err(e) => Err(failure(&state, &web, e)),
    }
}
