//! The account page's health section: its breakdown, history, sentiment, override and stages.

use super::{api_failure, failure, field, problems, FormData, PageResult};
use crate::auth::{Auth, Csm};
use crate::error::ApiError;
use crate::health::{health_of, history_of, override_input, sentiment_input, HealthView};
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{chart, redirect_with, tr};
use axum::extract::{Path, State};
use axum::response::Response;
use axum::{Extension, Form};
use chrono::Days;
use minijinja::{context, Value};

/// The account page's health section.
pub async fn section(state: &AppState, web: &WebSession, account: i64) -> Result<Value, Response> {
    let fail = |e| failure(state, web, e);
    let today = state.store.clock().today();
    let (view, history, sentiments, stages) = tokio::join!(
        health_of(state, account, today),
        history_of(state, account, today - Days::new(89), today),
        state.store.sentiments(account),
        state.store.stage_changes(account),
    );
    let view: Option<HealthView> = match view {
        Ok(v) => Some(v),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(api_failure(state, web, e)),
    };
    let history = history.map_err(|e| api_failure(state, web, e))?;
    let (sentiments, stages) = (sentiments.map_err(fail)?, stages.map_err(fail)?);
    let points: Vec<(String, f64)> =
        history.data.iter().filter_map(|p| p.score.map(|s| (p.day.to_string(), s))).collect();
    let bands = state.store.scorecard(view.as_ref().map_or("default", |v| v.scorecard.as_str())).await.map_err(fail)?;
    let (yellow, green) = bands.map_or((40.0, 70.0), |c| {
        use rust_decimal::prelude::ToPrimitive;
        (c.def.bands.yellow.to_f64().unwrap_or(40.0), c.def.bands.green.to_f64().unwrap_or(70.0))
    });
    let chart =
        (points.len() > 1).then(|| chart::health(&tr(state, web, "health-history", &[]), &points, yellow, green));
    Ok(context! {
        view, chart, history_days => points.len(),
        sentiments => sentiments.into_iter().take(5).collect::<Vec<_>>(),
        stages => stages.into_iter().take(10).collect::<Vec<_>>(),
        expires => (today + Days::new(30)).to_string(),
    })
}

#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn add_sentiment(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let id = super::load_editable(&state, &web, &auth, &raw).await?.id;
    let back = format!("/accounts/{id}#health");
    let rating = field(&f, "rating").and_then(|r| r.parse().ok());
    match sentiment_input(rating, &field(&f, "reason").unwrap_or_default(), None, state.store.clock().today()) {
        Ok((rating, reason, day)) => {
            crate::health::add_sentiment(&state.store, &auth, id, rating, &reason, day)
                .await
                .map_err(|e| failure(&state, &web, e))?;
            Ok(redirect_with(&state, &web, &back, &tr(&state, &web, "health-sentiment-saved", &[])).await)
        }
        Err(e) => Ok(redirect_with(&state, &web, &back, &problems(&e)).await),
    }
}

#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn set_override(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let id = super::load_editable(&state, &web, &auth, &raw).await?.id;
    let back = format!("/accounts/{id}#health");
    let score = field(&f, "score").and_then(|s| s.parse().ok());
    let expires = field(&f, "expires_on").and_then(|d| d.parse().ok());
    match override_input(score, &field(&f, "reason").unwrap_or_default(), expires, state.store.clock().today()) {
        Ok((score, reason, expires_on)) => {
            let today = state.store.clock().today();
            crate::health::add_override(&state.store, &auth, id, score, &reason, (today, expires_on))
                .await
                .map_err(|e| failure(&state, &web, e))?;
            Ok(redirect_with(&state, &web, &back, &tr(&state, &web, "health-override-saved", &[])).await)
        }
        Err(e) => Ok(redirect_with(&state, &web, &back, &problems(&e)).await),
    }
}

#[tracing::instrument(skip_all, fields(raw = %raw))]
pub async fn clear_override(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> PageResult {
    let id = super::load_editable(&state, &web, &auth, &raw).await?.id;
    crate::health::clear_override(&state.store, &auth, id, state.store.clock().today())
        .await
        .map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(
        &state,
        &web,
        &format!("/accounts/{id}#health"),
        &tr(&state, &web, "health-override-cleared", &[]),
    )
    .await)
}
