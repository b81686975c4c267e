//! The Revenue page (MRR and its movements, churn, retention, NRR/GRR, ARPA, CLV, cohorts, each
//! with its formula) and the renewals page (upcoming renewals, forecast, outcomes).

use super::{api_failure, failure, FormData, PageResult};
use crate::auth::{Auth, Csm, Viewer};
use crate::error::ApiError;
use crate::params::Params;
use crate::renewals::{self, record_input};
use crate::revenue::{ledger, Request};
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{chart, redirect_with, render, tr};
use axum::extract::{Path, Query, State};
use axum::{Extension, Form};
use keepwell_core::metrics::{Metric, Report};
use keepwell_core::money;
use keepwell_core::renewal::{check_outcome, Terms};
use minijinja::context;
use rust_decimal::prelude::ToPrimitive;
use std::collections::HashMap;

/// The columns of each metric's table, in the API's field order.
fn columns(m: Metric) -> &'static [&'static str] {
    match m {
        Metric::Mrr => &["month", "mrr", "arr", "paying_accounts", "arpa"],
        Metric::MrrMovements => &["month", "new", "expansion", "contraction", "churn", "reactivation", "net_new"],
        Metric::CustomerChurn => &["month", "accounts_at_start", "churned", "voluntary", "involuntary", "rate"],
        Metric::RevenueChurn => &[
            "month",
            "mrr_at_start",
            "churned_mrr",
            "contraction_mrr",
            "rate",
            "expansion_rate",
            "portfolio_growth",
            "churn_change",
        ],
        Metric::Retention => &["month", "customers_at_start", "customers_at_end", "new_customers", "rate"],
        Metric::Nrr | Metric::Grr => &["month", "window_months", "value"],
        Metric::Clv => &["month", "arpa", "monthly_churn_rate", "expected_lifetime_months", "clv"],
        Metric::Cohorts => &["cohort", "months_since_start", "accounts_retained_pct", "mrr_retained_pct"],
    }
}

/// A metric's rows as table cells: money as is, rates with two decimals, undefined as "—".
fn table(report: &Report, m: Metric) -> Vec<Vec<String>> {
    let rows = serde_json::to_value(report.rows(m)).unwrap_or_default();
    rows.as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    columns(m)
                        .iter()
                        .map(|c| match &r[*c] {
                            serde_json::Value::Null => "—".to_owned(),
                            serde_json::Value::String(s) => s.clone(),
                            serde_json::Value::Number(n) if n.is_f64() => format!("{:.2}", n.as_f64().unwrap_or(0.0)),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tracing::instrument(skip_all)]
pub async fn page(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let params = Params::form(&q);
    let today = state.store.clock().today();
    let (request, problem) = match Request::read(&params, &state, today) {
        Ok(r) => (r, None),
        Err(e) => (
            Request::read(&Params(HashMap::new()), &state, today).map_err(|e| api_failure(&state, &web, e.into()))?,
            Some(e.to_string()),
        ),
    };
    let (facets, plans_industries, team) = (
        state.store.account_facets().await.map_err(|e| failure(&state, &web, e))?,
        crate::revenue::facets(&state).await.map_err(|e| api_failure(&state, &web, e))?,
        state.store.users().await.map_err(|e| failure(&state, &web, e))?,
    );
    let filters = context! {
        from => request.range.from.to_string(), to => request.range.to.to_string(),
        plan => q.get("plan"), country => q.get("country"), industry => q.get("industry"), owner => q.get("owner"),
        plans => plans_industries.0.clone(), industries => plans_industries.1.clone(), countries => facets.countries,
        team => team.iter().map(|u| context! { id => u.id, name => u.name }).collect::<Vec<_>>(),
    };
    // The ledger and the renewal rates read different tables: load them side by side.
    let (ledger, rates) = tokio::join!(
        ledger(&state, &request),
        renewals::renewal_rates(&state, request.range.from, request.range.to, Terms::Contract, today)
    );
    let rates = rates.map_err(|e| api_failure(&state, &web, e))?;
    let ledger = match ledger {
        Ok(l) => l,
        Err(ApiError::Invalid(i)) => {
            let problem = i.errors.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; ");
            return Ok(render(
                &state,
                &web,
                "revenue.html",
                context! { nav => "revenue", filters, problem, empty => true },
            )
            .await);
        }
        Err(e) => return Err(api_failure(&state, &web, e)),
    };
    let report = Report::new(&ledger, request.range.clone());
    let months: Vec<_> = report.months().collect();
    let mrr_points: Vec<(String, f64)> =
        months.iter().map(|m| (m.to_string(), report.month(*m).mrr_end.to_f64().unwrap_or(0.0))).collect();
    let net_points: Vec<(String, f64)> =
        months.iter().map(|m| (m.to_string(), report.month(*m).net_new().to_f64().unwrap_or(0.0))).collect();
    let sections: Vec<_> = [
        Metric::Mrr,
        Metric::MrrMovements,
        Metric::CustomerChurn,
        Metric::RevenueChurn,
        Metric::Retention,
        Metric::Nrr,
        Metric::Grr,
        Metric::Clv,
    ]
    .into_iter()
    .map(|m| context! { name => m.name(), formula => m.formula(), columns => columns(m), rows => table(&report, m) })
    .collect();
    let cohorts = cohort_grid(&report);
    let latest = report.month(request.range.to);
    Ok(render(
        &state,
        &web,
        "revenue.html",
        context! {
            nav => "revenue", filters, problem, currency => request.range.currency,
            empty => ledger.accounts.is_empty(),
            headline => match ledger.on_day {
                // Today's figures; the month-end one is what the billing known today projects.
                Some(now) => context! {
                    mrr => money::format(now.mrr), arr => money::format(now.mrr * rust_decimal::Decimal::from(12)),
                    paying => now.paying, arpa => now.arpa().map(money::format), today => now.day,
                    projected => money::format(latest.mrr_end), projected_month => request.range.to.to_string(),
                },
                None => context! {
                    mrr => money::format(latest.mrr_end), arr => money::format(latest.mrr_end * rust_decimal::Decimal::from(12)),
                    paying => latest.paying_end, arpa => latest.arpa().map(money::format),
                    month_end => request.range.to.to_string(),
                },
            },
            contract_months => state.settings.contract_months,
            mrr_chart => chart::columns(&tr(&state, &web, "revenue-mrr-chart", &[]), &mrr_points),
            net_chart => chart::columns(&tr(&state, &web, "revenue-net-chart", &[]), &net_points),
            sections, cohorts, cohort_formula => Metric::Cohorts.formula(),
            renewal_rates => rates.data, renewal_formula => rates.formula,
        },
    )
    .await)
}

#[tracing::instrument(skip_all)]
pub async fn renewals_page(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let (f, day) =
        renewals::filter(&Params::form(&q), auth.user_id, state.settings.contract_months, state.store.clock().today())
            .map_err(|e| api_failure(&state, &web, e.into()))?;
    let list = renewals::upcoming(&state, &f, day).await.map_err(|e| api_failure(&state, &web, e))?;
    let team = state.store.users().await.map_err(|e| failure(&state, &web, e))?;
    Ok(render(
        &state,
        &web,
        "renewals.html",
        context! {
            nav => "renewals",
            within => q.get("within_days").cloned().unwrap_or_else(|| "90".into()),
            owner => q.get("owner"), status => q.get("status"), terms => list.terms,
            team => team.iter().map(|u| context! { id => u.id, name => u.name }).collect::<Vec<_>>(),
            renewals => list.data, forecast_rate => list.forecast_rate,
            totals => list.totals, not_listed => list.not_listed, contract_months => list.contract_months,
            reporting => state.settings.reporting_currency,
            can_record => auth.role != keepwell_core::Role::Viewer,
            outcomes => keepwell_core::renewal::Outcome::ALL.map(|o| o.as_str()),
        },
    )
    .await)
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn record(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<FormData>,
) -> PageResult {
    let id = super::id_of(&state, &web, &id)?;
    let back = "/renewals";
    let r = state.store.renewal(id).await.map_err(|e| failure(&state, &web, e))?;
    let Some(r) = r else {
        return Err(failure(&state, &web, keepwell_store::StoreError::NotFound(format!("no renewal {id}"))));
    };
    if !auth.may_edit(r.owner_id) {
        return Ok(redirect_with(&state, &web, back, &tr(&state, &web, "renewal-not-yours", &[])).await);
    }
    let text = |k: &str| form.get(k).cloned();
    let checked = record_input(text("outcome"), text("new_arr"), text("reason"))
        .and_then(|(o, n, reason)| check_outcome(o, r.arr, n, reason.as_deref()).map(|n| (o, n, reason)));
    let message = match checked {
        Err(e) => e.to_string(),
        Ok((o, n, reason)) => {
            crate::renewals::record(&state.store, &auth, id, o, n, reason.as_deref())
                .await
                .map_err(|e| failure(&state, &web, e))?;
            tr(&state, &web, "renewal-recorded", &[("account", r.account_name.clone().into())])
        }
    };
    Ok(redirect_with(&state, &web, back, &message).await)
}

/// Cohorts as a triangle: one row per start month, one cell per month since, accounts retained.
fn cohort_grid(report: &Report) -> Vec<minijinja::Value> {
    let keepwell_core::metrics::Rows::Cohorts(rows) = report.rows(Metric::Cohorts) else { return vec![] };
    let mut grid: Vec<(String, Vec<String>)> = Vec::new();
    for r in rows {
        if grid.last().is_none_or(|(c, _)| *c != r.cohort) {
            grid.push((r.cohort.clone(), Vec::new()));
        }
        let cell = r.accounts_retained_pct.map_or("—".into(), |p| format!("{p:.0}%"));
        if let Some((_, cells)) = grid.last_mut() {
            cells.push(cell);
        }
    }
    grid.into_iter().map(|(cohort, cells)| context! { cohort, cells }).collect()
}
