//! Scorecards: the list with the bands today, the editor (TOML, as `keepwell apply` reads it), the
//! backtest and the weights it suggests.

use super::{api_failure, failure, field_errors, problems, FormData, PageResult};
use crate::auth::{Auth, Manager, Viewer};
use crate::definitions::changed;
use crate::error::ApiError;
use crate::health::{backtest_of, backtest_request, reweigh};
use crate::params::Params;
use crate::refused::Refused;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{chart, error_page, redirect_with, render, render_status, tr};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Form};
use keepwell_core::definitions::Definitions;
use minijinja::context;
use std::collections::{BTreeMap, HashMap};

/// Scorecards by priority, and the workspace's bands today.
#[tracing::instrument(skip_all)]
pub async fn scorecards(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    let cards = state.store.scorecards().await.map_err(|e| failure(&state, &web, e))?;
    Ok(render(&state, &web, "scorecards.html", context! { nav => "health", scorecards => cards }).await)
}

/// A scorecard in the editor, as TOML (the format `keepwell apply` reads).
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn scorecard(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> PageResult {
    let fail = |e: Refused| failure(&state, &web, e);
    let text = if key == "new" {
        let mut d = keepwell_core::definitions::default_scorecard();
        d.key = "my-scorecard".into();
        d.name = "My scorecard".into();
        d.segment = Some("enterprise".into());
        d.priority = 10;
        Definitions { scorecards: vec![d], ..Definitions::default() }.to_toml()
    } else {
        let Some(card) = state.store.scorecard(&key).await.map_err(|e| fail(e.into()))? else {
            return Err(error_page(&state, &web, StatusCode::NOT_FOUND, "error-not-found"));
        };
        Definitions { scorecards: vec![card.def], ..Definitions::default() }.to_toml()
    };
    Ok(render(&state, &web, "scorecard.html", context! { nav => "health", key, text, errors => Vec::<String>::new() })
        .await)
}

/// Saves the editor's TOML: exactly one scorecard, checked whole.
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn save_scorecard(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let text = f.get("definition").cloned().unwrap_or_default();
    let saved = match Definitions::from_toml(&text) {
        Err(e) => Err(vec![e]),
        Ok(d) if d.scorecards.len() != 1 || !d.segments.is_empty() || !d.lifecycle_rules.is_empty() => {
            Err(vec![tr(&state, &web, "scorecard-one", &[])])
        }
        Ok(mut d) => match crate::definitions::save_scorecard(&state.store, &auth, &d.scorecards[0]).await {
            Ok(change) => Ok((d.scorecards.remove(0).key, change)),
            Err(Refused::Invalid(e)) => Err(e.errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect()),
            Err(Refused::Conflict { message, .. }) => Err(vec![message]),
            Err(e) => return Err(failure(&state, &web, e)),
        },
    };
    match saved {
        Ok((saved_key, change)) => {
            changed(&state, &change).await.map_err(|e| api_failure(&state, &web, e))?;
            let to = format!("/scorecards/{}", urlencoding::encode(&saved_key));
            Ok(redirect_with(&state, &web, &to, &tr(&state, &web, "scorecard-saved", &[])).await)
        }
        Err(errors) => Ok(render_status(
            &state,
            &web,
            StatusCode::UNPROCESSABLE_ENTITY,
            "scorecard.html",
            context! { nav => "health", key, text, errors },
        )
        .await),
    }
}

/// The backtest report of a scorecard.
#[tracing::instrument(skip_all)]
pub async fn backtest(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let fail = |e: keepwell_store::StoreError| failure(&state, &web, e);
    let cards = state.store.scorecards().await.map_err(fail)?;
    let p = Params::form(&q);
    let (report, errors) = match backtest_request(&p, state.store.clock().today()) {
        Ok((key, horizon, from, to)) => match backtest_of(&state, &key, horizon, from, to).await {
            Ok(r) => (Some(r), BTreeMap::new()),
            Err(ApiError::NotFound(m)) => (None, BTreeMap::from([("scorecard".to_string(), m)])),
            Err(e) => return Err(api_failure(&state, &web, e)),
        },
        Err(e) => (None, field_errors(&e)),
    };
    let roc = report.as_ref().map(|r| chart::roc(&tr(&state, &web, "backtest-roc", &[]), &r.report.roc));
    let bars: Option<String> = report.as_ref().map(|r| {
        let items: Vec<(String, f64)> = r
            .report
            .bands
            .iter()
            .map(|b| (tr(&state, &web, &format!("band-{}", b.band.as_str()), &[]), b.churn_rate.unwrap_or(0.0)))
            .collect();
        chart::bars(&tr(&state, &web, "backtest-churn-by-band", &[]), &items)
    });
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    let key = report
        .as_ref()
        .map(|r| r.scorecard.clone())
        .or_else(|| p.text("scorecard"))
        .unwrap_or_else(|| "default".into());
    let suggested: BTreeMap<String, f64> = report
        .as_ref()
        .map(|r| r.report.measures.iter().filter_map(|m| m.suggested_weight.map(|w| (m.key.clone(), w))).collect())
        .unwrap_or_default();
    Ok(render_status(
        &state,
        &web,
        status,
        "backtest.html",
        context! {
            nav => "health", report, roc, bars, errors, key, suggested,
            scorecards => cards.iter().map(|c| c.def.key.clone()).collect::<Vec<_>>(),
            q => q, can_apply => auth.role >= keepwell_core::Role::Manager,
        },
    )
    .await)
}

/// Applies the weights a backtest suggested (posted as `w.KEY` fields).
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn apply_weights(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let fail = |e: Refused| failure(&state, &web, e);
    let Some(card) = state.store.scorecard(&key).await.map_err(|e| fail(e.into()))? else {
        return Err(error_page(&state, &web, StatusCode::NOT_FOUND, "error-not-found"));
    };
    let weights: HashMap<String, f64> =
        f.iter().filter_map(|(k, v)| Some((k.strip_prefix("w.")?.to_owned(), v.trim().parse().ok()?))).collect();
    let to = format!("/scorecards/{}", urlencoding::encode(&key));
    match reweigh(&card.def, &weights) {
        Ok(def) => {
            let change = crate::definitions::save_scorecard(&state.store, &auth, &def).await.map_err(fail)?;
            changed(&state, &change).await.map_err(|e| api_failure(&state, &web, e))?;
            Ok(redirect_with(&state, &web, &to, &tr(&state, &web, "backtest-applied", &[])).await)
        }
        Err(e) => Ok(redirect_with(&state, &web, &to, &problems(&e)).await),
    }
}
