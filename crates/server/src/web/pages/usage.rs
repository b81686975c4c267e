//! The Usage pages: accounts ranked by activity (least and most active), the raw events
//! explorer, and the plan → features catalogue (admins edit it).

use super::{api_failure, failure, FormData, PageResult};
use crate::auth::{Admin, Auth, Viewer};
use crate::params::Params;
use crate::refused::Refused;
use crate::state::AppState;
use crate::usage::{activity_request, folded};
use crate::web::session::WebSession;
use crate::web::{redirect_with, render, render_status, tr};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Form};
use keepwell_core::usage::{catalogue_text, parse_catalogue};
use keepwell_core::Invalid;
use keepwell_store::usage::{ActivityQuery, EventFilter, Ranking};
use minijinja::context;
use std::collections::HashMap;

/// Rows each ranking shows.
const RANKED: i64 = 25;

#[tracing::instrument(skip_all)]
pub async fn page(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let p = Params::form(&q);
    let query = activity_request(&p, auth.user_id, state.store.clock().today())
        .map_err(|e| api_failure(&state, &web, e.into()))?;
    let query = ActivityQuery { limit: RANKED, ..query };
    folded(&state).await.map_err(|e| api_failure(&state, &web, e))?;
    let fail = |e| failure(&state, &web, e);
    let (least_query, most_query) = (
        ActivityQuery { ranking: Ranking::LeastActive, ..query },
        ActivityQuery { ranking: Ranking::MostActive, ..query },
    );
    let least = state.store.account_activity(&least_query).await.map_err(fail)?;
    let most = state.store.account_activity(&most_query).await.map_err(fail)?;
    let window = query.window;
    let most: Vec<_> = most.into_iter().filter(|a| a.events > 0).collect();
    let team = state.store.users().await.map_err(fail)?;
    let any_events = state.store.count_events(None).await.map_err(fail)? > 0;
    let waiting = state.store.unmatched(20, None).await.map_err(fail)?;
    Ok(render(
        &state,
        &web,
        "usage.html",
        context! {
            nav => "usage", least, most, any_events, waiting => waiting.data, more_waiting => waiting.next_cursor.is_some(),
            from => window.0, to => window.1,
            days => q.get("days").cloned().unwrap_or_else(|| "30".into()), owner => q.get("owner"),
            include => q.get("include").cloned().unwrap_or_else(|| "customers".into()),
            replay => q.get("replay_accounts").map(|a| context! {
                accounts => a, from => q.get("replay_from"), to => q.get("replay_to"),
            }),
            team => team.iter().map(|u| context! { id => u.id, name => u.name }).collect::<Vec<_>>(),
        },
    )
    .await)
}

/// Links waiting groupIds to accounts from the Usage page: one (`group_id`, `account`: any of
/// its external ids) or many pasted as `group_id,account_external_id` lines; then shows which
/// accounts and days it touched, with the button that replays them.
#[tracing::instrument(skip_all)]
pub async fn link(
    auth: Auth<crate::auth::Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    use crate::waiting::{link_all, links_from_csv, Link};
    let links = match (super::field(&f, "group_id"), super::field(&f, "account"), super::field(&f, "csv")) {
        (Some(group_id), Some(account), _) => {
            Ok(vec![Link { group_id, account: keepwell_core::contact::AccountRef::ExternalId(account) }])
        }
        (_, _, Some(csv)) => links_from_csv(&csv),
        _ => Err(tr(&state, &web, "waiting-link-empty", &[])),
    };
    let links = match links {
        Ok(l) => l,
        Err(message) => return Ok(redirect_with(&state, &web, "/usage#waiting", &message).await),
    };
    folded(&state).await.map_err(|e| api_failure(&state, &web, e))?;
    match link_all(&state, &auth, &links).await {
        Ok(done) => {
            let accounts: Vec<String> = done.accounts.iter().map(i64::to_string).collect();
            let flash = tr(
                &state,
                &web,
                "waiting-linked",
                &[("events", (done.events as f64).into()), ("accounts", (accounts.len() as f64).into())],
            );
            let to = match (done.from, done.to) {
                (Some(from), Some(to)) => {
                    format!("/usage?replay_accounts={}&replay_from={from}&replay_to={to}#waiting", accounts.join(","))
                }
                _ => "/usage#waiting".to_owned(),
            };
            Ok(redirect_with(&state, &web, &to, &flash).await)
        }
        Err(crate::error::ApiError::Invalid(e)) => {
            let message = e.errors.iter().map(|f| f.message.clone()).collect::<Vec<_>>().join("; ");
            Ok(redirect_with(&state, &web, "/usage#waiting", &message).await)
        }
        Err(e) => Err(api_failure(&state, &web, e)),
    }
}

/// Replays the days a link touched, for those accounts only.
#[tracing::instrument(skip_all)]
pub async fn replay(
    _auth: Auth<crate::auth::Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let accounts: Vec<i64> =
        super::field(&f, "accounts").unwrap_or_default().split(',').filter_map(|a| a.trim().parse().ok()).collect();
    let day = |name: &str| super::field(&f, name).and_then(|d| keepwell_core::money::date(&d).ok());
    let (Some(from), Some(to)) = (day("from"), day("to")) else {
        return Ok(redirect_with(&state, &web, "/usage#waiting", &tr(&state, &web, "error-bad-request", &[])).await);
    };
    if accounts.is_empty() || from > to || (to - from).num_days() >= 400 || accounts.len() > 10_000 {
        return Ok(redirect_with(&state, &web, "/usage#waiting", &tr(&state, &web, "error-bad-request", &[])).await);
    }
    let reporting = &state.settings.reporting_currency;
    state
        .store
        .run_days_of(reporting, Some(&accounts), from, to, |_, _| {})
        .await
        .map_err(|e| failure(&state, &web, e))?;
    let n = (to - from).num_days() + 1;
    let flash = tr(
        &state,
        &web,
        "waiting-replayed",
        &[("days", (n as f64).into()), ("accounts", (accounts.len() as f64).into())],
    );
    Ok(redirect_with(&state, &web, "/usage#waiting", &flash).await)
}

#[tracing::instrument(skip_all)]
pub async fn events(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let p = Params::form(&q);
    let mut invalid = Invalid::default();
    let day = |name: &str, invalid: &mut Invalid| {
        p.date(name, invalid).map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
    };
    let filter = EventFilter {
        account_id: p.id("account_id", &mut invalid),
        user_id: p.text("user_id"),
        event: p.text("event"),
        from: day("from", &mut invalid),
        // The `to` day is included.
        to: day("to", &mut invalid).map(|t| t + chrono::Duration::days(1)),
        cursor: p.text("cursor"),
        limit: 50,
    };
    let errors = crate::web::pages::field_errors(&invalid);
    let fail = |e| failure(&state, &web, e);
    let page = if invalid.errors.is_empty() {
        state.store.events(&filter).await.map_err(fail)?
    } else {
        keepwell_store::Page { data: Vec::new(), next_cursor: None }
    };
    let account = match filter.account_id {
        Some(id) => state.store.account(id).await.map_err(fail)?,
        None => None,
    };
    // The next page keeps the filters.
    let next_url = page.next_cursor.as_ref().map(|c| {
        let filters = q.iter().filter(|(k, v)| *k != "cursor" && !v.is_empty());
        let query =
            form_urlencoded::Serializer::new(String::new()).extend_pairs(filters).append_pair("cursor", c).finish();
        format!("/usage/events?{query}")
    });
    let rows: Vec<_> = page
        .data
        .iter()
        .map(|e| {
            context! {
                id => e.id, kind => e.kind, event => e.event, user_id => e.user_id, anonymous_id => e.anonymous_id,
                account_id => e.account_id, timestamp => e.timestamp.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                properties => e.properties.as_ref().map(|p| p.get().to_owned()),
            }
        })
        .collect();
    let status = if errors.is_empty() { StatusCode::OK } else { StatusCode::UNPROCESSABLE_ENTITY };
    Ok(render_status(
        &state,
        &web,
        status,
        "events.html",
        context! {
            nav => "usage", events => rows, next_url, errors, account,
            q => context! { account_id => q.get("account_id"), user_id => q.get("user_id"), event => q.get("event"),
                            from => q.get("from"), to => q.get("to") },
            filtered => ["account_id", "user_id", "event", "from", "to"].iter().any(|k| q.get(*k).is_some_and(|v| !v.is_empty())),
        },
    )
    .await)
}

#[tracing::instrument(skip_all)]
pub async fn features_page(
    _auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    let rows = state.store.plan_features().await.map_err(|e| failure(&state, &web, e))?;
    let text = catalogue_text(&rows);
    Ok(render(&state, &web, "features.html", context! { nav => "usage", text, count => rows.len() }).await)
}

#[tracing::instrument(skip_all)]
pub async fn save_features(
    auth: Auth<Admin>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let text = f.get("catalogue").cloned().unwrap_or_default();
    let saved = match parse_catalogue(&text) {
        Ok(rows) => crate::usage::set_plan_features(&state.store, &auth, &rows).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(()) => Ok(redirect_with(&state, &web, "/settings/features", &tr(&state, &web, "features-saved", &[])).await),
        Err(Refused::Invalid(e)) => {
            let errors: Vec<String> = e.errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            Ok(render_status(
                &state,
                &web,
                StatusCode::UNPROCESSABLE_ENTITY,
                "features.html",
                context! { nav => "usage", text, errors },
            )
            .await)
        }
        Err(e) => Err(failure(&state, &web, e)),
    }
}
