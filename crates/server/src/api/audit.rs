//! `/api/v1/audit`: the audit log, newest first.

use crate::auth::{Auth, Manager};
use crate::error::ApiResult;
use crate::params::Params;
use crate::state::AppState;
use axum::extract::{Query, State};
use axum::Json;
use keepwell_core::Invalid;
use keepwell_store::audit::{AuditEntry, AuditFilter};
use keepwell_store::Page;
use std::collections::HashMap;

/// AuditPage: one page of the audit log.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AuditPage {
    data: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(("entity" = Option<String>, Query, description = "account, contact, user, api_token, write_key"),
        ("entity_id" = Option<String>, Query), ("limit" = Option<i64>, Query), ("cursor" = Option<String>, Query)),
    responses((status = 200, body = AuditPage)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(
    _auth: Auth<Manager>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Page<AuditEntry>>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let limit = p.limit(&mut invalid);
    invalid.into_result(())?;
    let f = AuditFilter { entity: p.text("entity"), entity_id: p.text("entity_id"), limit, cursor: p.text("cursor") };
    Ok(Json(state.store.audit_log(&f).await?))
}
