//! Lifecycle rules by priority, and the form that adds or changes one.

use super::{api_failure, failure, field, field_errors, FormData, PageResult};
use crate::auth::{Auth, Manager, Viewer};
use crate::definitions::changed;
use crate::refused::Refused;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{redirect_with, render_status, tr};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Form};
use keepwell_core::definitions::LifecycleRuleDef;
use keepwell_core::Invalid;
use minijinja::context;
use std::collections::BTreeMap;

/// Lifecycle rules by priority, and the form that adds or changes one.
#[tracing::instrument(skip_all)]
pub async fn rules(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    rules_page(&state, &web, StatusCode::OK, None, BTreeMap::new()).await
}

async fn rules_page(
    state: &AppState,
    web: &WebSession,
    status: StatusCode,
    form: Option<LifecycleRuleDef>,
    errors: BTreeMap<String, String>,
) -> PageResult {
    let rules = state.store.lifecycle_rules().await.map_err(|e| failure(state, web, e))?;
    let stages: Vec<&str> = keepwell_core::LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
    Ok(render_status(state, web, status, "lifecycle.html", context! { nav => "health", rules, stages, form, errors })
        .await)
}

#[tracing::instrument(skip_all)]
pub async fn save_rule(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let mut invalid = Invalid::default();
    let priority = match field(&f, "priority").map(|p| p.parse::<i64>()) {
        None => 0,
        Some(Ok(p)) => p,
        Some(Err(_)) => {
            invalid.push("priority", "a whole number; lower runs first");
            0
        }
    };
    let def = LifecycleRuleDef {
        key: field(&f, "key").unwrap_or_default(),
        name: field(&f, "name").unwrap_or_default(),
        stage: field(&f, "stage").unwrap_or_default(),
        condition: field(&f, "condition").unwrap_or_default(),
        priority,
    };
    let saved = match invalid.into_result(()) {
        Ok(()) => crate::definitions::save_lifecycle_rule(&state.store, &auth, &def).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(change) => {
            changed(&state, &change).await.map_err(|e| api_failure(&state, &web, e))?;
            Ok(redirect_with(&state, &web, "/lifecycle", &tr(&state, &web, "lifecycle-saved", &[])).await)
        }
        Err(Refused::Invalid(e)) => {
            rules_page(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, Some(def), field_errors(&e)).await
        }
        Err(e) => Err(failure(&state, &web, e)),
    }
}

#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn delete_rule(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> PageResult {
    crate::definitions::delete(&state.store, &auth, "lifecycle_rule", &key)
        .await
        .map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/lifecycle", &tr(&state, &web, "lifecycle-deleted", &[])).await)
}
