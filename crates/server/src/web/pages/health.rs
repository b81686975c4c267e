//! Health pages: the account page's health section (breakdown, history, sentiment, override,
//! stages), segments with the builder's live count, the scorecard editor, and backtests.

use super::{api_failure, failure, field, field_errors, FormData, PageResult};
use crate::auth::{Auth, Csm, Manager, Viewer};
use crate::definitions::{changed, preview_of};
use crate::error::ApiError;
use crate::health::{
    backtest_of, backtest_request, health_of, history_of, override_input, reweigh, sentiment_input, HealthView,
};
use crate::params::Params;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{chart, error_page, redirect_with, render, render_status, tr};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Form, Json};
use chrono::Days;
use keepwell_core::definitions::{Definitions, LifecycleRuleDef, SegmentDef};
use keepwell_core::Invalid;
use keepwell_store::StoreError;
use minijinja::{context, Value};
use std::collections::{BTreeMap, HashMap};

/// The account page's health section.
pub async fn section(state: &AppState, web: &WebSession, account: i64) -> Result<Value, Response> {
    let fail = |e| failure(state, web, e);
    let today = state.store.clock().today();
    let view: Option<HealthView> = match health_of(state, account, today).await {
        Ok(v) => Some(v),
        Err(ApiError::NotFound(_)) => None,
        Err(e) => return Err(api_failure(state, web, e)),
    };
    let history =
        history_of(state, account, today - Days::new(89), today).await.map_err(|e| api_failure(state, web, e))?;
    let points: Vec<(String, f64)> =
        history.data.iter().filter_map(|p| p.score.map(|s| (p.day.to_string(), s))).collect();
    let bands = state.store.scorecard(view.as_ref().map_or("default", |v| v.scorecard.as_str())).await.map_err(fail)?;
    let (yellow, green) = bands.map_or((40.0, 70.0), |c| {
        use rust_decimal::prelude::ToPrimitive;
        (c.def.bands.yellow.to_f64().unwrap_or(40.0), c.def.bands.green.to_f64().unwrap_or(70.0))
    });
    let chart =
        (points.len() > 1).then(|| chart::health(&tr(state, web, "health-history", &[]), &points, yellow, green));
    let sentiments = state.store.sentiments(account).await.map_err(fail)?;
    let stages = state.store.stage_changes(account).await.map_err(fail)?;
    Ok(context! {
        view, chart, history_days => points.len(),
        sentiments => sentiments.into_iter().take(5).collect::<Vec<_>>(),
        stages => stages.into_iter().take(10).collect::<Vec<_>>(),
        expires => (today + Days::new(30)).to_string(),
    })
}

/// A form's problem, shown as the flash of the page it came from.
fn problems(e: &Invalid) -> String {
    e.errors.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
}

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
            state
                .store
                .add_sentiment(&auth.actor, id, rating, &reason, day)
                .await
                .map_err(|e| failure(&state, &web, e))?;
            Ok(redirect_with(&state, &web, &back, &tr(&state, &web, "health-sentiment-saved", &[])).await)
        }
        Err(e) => Ok(redirect_with(&state, &web, &back, &problems(&e)).await),
    }
}

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
            state
                .store
                .add_override(&auth.actor, id, score, &reason, today, expires_on)
                .await
                .map_err(|e| failure(&state, &web, e))?;
            Ok(redirect_with(&state, &web, &back, &tr(&state, &web, "health-override-saved", &[])).await)
        }
        Err(e) => Ok(redirect_with(&state, &web, &back, &problems(&e)).await),
    }
}

pub async fn clear_override(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(raw): Path<String>,
) -> PageResult {
    let id = super::load_editable(&state, &web, &auth, &raw).await?.id;
    state.store.clear_override(&auth.actor, id).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(
        &state,
        &web,
        &format!("/accounts/{id}#health"),
        &tr(&state, &web, "health-override-cleared", &[]),
    )
    .await)
}

/// Segments: the list with member counts, and the builder.
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
    match state.store.save_segment(&auth.actor, &def).await {
        Ok(change) => {
            changed(&state, &change).await.map_err(|e| api_failure(&state, &web, e))?;
            let to = format!("/segments/{}", urlencoding::encode(&def.key));
            Ok(redirect_with(&state, &web, &to, &tr(&state, &web, "segment-saved", &[])).await)
        }
        Err(StoreError::Invalid(e)) => {
            segments_page(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, Some(def), field_errors(&e)).await
        }
        Err(e) => Err(failure(&state, &web, e)),
    }
}

/// The builder's live count: `{"count": N}` or `{"error": "column …"}`.
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

pub async fn delete_segment(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> PageResult {
    match state.store.delete_definition(&auth.actor, "segment", &key).await {
        Ok(()) => Ok(redirect_with(&state, &web, "/segments", &tr(&state, &web, "segment-deleted", &[])).await),
        Err(StoreError::Conflict { message, .. }) => {
            Ok(redirect_with(&state, &web, &format!("/segments/{}", urlencoding::encode(&key)), &message).await)
        }
        Err(e) => Err(failure(&state, &web, e)),
    }
}

/// Lifecycle rules by priority, and the form that adds or changes one.
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
        Ok(()) => state.store.save_lifecycle_rule(&auth.actor, &def).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(change) => {
            changed(&state, &change).await.map_err(|e| api_failure(&state, &web, e))?;
            Ok(redirect_with(&state, &web, "/lifecycle", &tr(&state, &web, "lifecycle-saved", &[])).await)
        }
        Err(StoreError::Invalid(e)) => {
            rules_page(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, Some(def), field_errors(&e)).await
        }
        Err(e) => Err(failure(&state, &web, e)),
    }
}

pub async fn delete_rule(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> PageResult {
    state.store.delete_definition(&auth.actor, "lifecycle_rule", &key).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(&state, &web, "/lifecycle", &tr(&state, &web, "lifecycle-deleted", &[])).await)
}

/// Scorecards by priority, and the workspace's bands today.
pub async fn scorecards(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    let cards = state.store.scorecards().await.map_err(|e| failure(&state, &web, e))?;
    Ok(render(&state, &web, "scorecards.html", context! { nav => "health", scorecards => cards }).await)
}

/// A scorecard in the editor, as TOML (the format `keepwell apply` reads).
pub async fn scorecard(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> PageResult {
    let fail = |e| failure(&state, &web, e);
    let text = if key == "new" {
        let mut d = keepwell_core::definitions::default_scorecard();
        d.key = "my-scorecard".into();
        d.name = "My scorecard".into();
        d.segment = Some("enterprise".into());
        d.priority = 10;
        Definitions { scorecards: vec![d], ..Definitions::default() }.to_toml()
    } else {
        let Some(card) = state.store.scorecard(&key).await.map_err(fail)? else {
            return Err(error_page(&state, &web, StatusCode::NOT_FOUND, "error-not-found"));
        };
        Definitions { scorecards: vec![card.def], ..Definitions::default() }.to_toml()
    };
    Ok(render(&state, &web, "scorecard.html", context! { nav => "health", key, text, errors => Vec::<String>::new() })
        .await)
}

/// Saves the editor's TOML: exactly one scorecard, checked whole.
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
        Ok(mut d) => match state.store.save_scorecard(&auth.actor, &d.scorecards[0]).await {
            Ok(change) => Ok((d.scorecards.remove(0).key, change)),
            Err(StoreError::Invalid(e)) => {
                Err(e.errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect())
            }
            Err(StoreError::Conflict { message, .. }) => Err(vec![message]),
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
pub async fn backtest(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let fail = |e| failure(&state, &web, e);
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
pub async fn apply_weights(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let fail = |e| failure(&state, &web, e);
    let Some(card) = state.store.scorecard(&key).await.map_err(fail)? else {
        return Err(error_page(&state, &web, StatusCode::NOT_FOUND, "error-not-found"));
    };
    let weights: HashMap<String, f64> =
        f.iter().filter_map(|(k, v)| Some((k.strip_prefix("w.")?.to_owned(), v.trim().parse().ok()?))).collect();
    let to = format!("/scorecards/{}", urlencoding::encode(&key));
    match reweigh(&card.def, &weights) {
        Ok(def) => {
            let change = state.store.save_scorecard(&auth.actor, &def).await.map_err(fail)?;
            changed(&state, &change).await.map_err(|e| api_failure(&state, &web, e))?;
            Ok(redirect_with(&state, &web, &to, &tr(&state, &web, "backtest-applied", &[])).await)
        }
        Err(e) => Ok(redirect_with(&state, &web, &to, &problems(&e)).await),
    }
}
