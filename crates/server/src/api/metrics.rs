//! `GET /api/v1/metrics/{name}`: one row per month of a revenue or retention metric.

use crate::auth::{Auth, Viewer};
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::revenue::{self, Request};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::Json;
use keepwell_core::metrics::{Metric, Report, Rows};
use serde::Serialize;
use std::collections::HashMap;

/// A metric's rows, with its formula and the currency its money is in.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MetricResponse {
    pub metric: String,
    pub currency: String,
    pub formula: String,
    pub data: Rows,
}

#[utoipa::path(get, path = "/api/v1/metrics/{name}", tag = "metrics",
    description = "One row per month from `from` to `to`. Month-end snapshots are taken at 00:00 UTC of the next month's first day. Money is a decimal string in the reporting currency; rates are percent (10 % → 10.0), null when undefined (nothing at the start). Names: mrr, mrr_movements, customer_churn, revenue_churn, retention, nrr, grr, clv, cohorts.",
    params(
        ("name" = String, Path, description = "mrr, mrr_movements, customer_churn, revenue_churn, retention, nrr, grr, clv or cohorts"),
        ("from" = Option<String>, Query, description = "YYYY-MM; default 11 months before `to`"),
        ("to" = Option<String>, Query, description = "YYYY-MM; default this month"),
        ("window" = Option<u32>, Query, description = "nrr and grr: months, default 12"),
        ("plan" = Option<String>, Query), ("country" = Option<String>, Query), ("industry" = Option<String>, Query),
        ("owner" = Option<i64>, Query), ("segment" = Option<String>, Query, description = "reserved for segments"),
    ),
    responses((status = 200, body = MetricResponse), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(name = %name))]
pub async fn show(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<MetricResponse>> {
    let metric = Metric::parse(&name).ok_or_else(|| {
        ApiError::NotFound(format!("no metric {name:?}: use one of {}", Metric::ALL.map(|m| m.name()).join(", ")))
    })?;
    let request = Request::read(&Params(q), &state, state.store.clock().today())?;
    let ledger = revenue::ledger(&state, &request).await?;
    let report = Report::new(&ledger, request.range.clone());
    Ok(Json(MetricResponse {
        metric: metric.name().into(),
        currency: request.range.currency.clone(),
        formula: metric.formula().into(),
        data: report.rows(metric),
    }))
}
