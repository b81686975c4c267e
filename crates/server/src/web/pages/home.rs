//! The home page of a book: a member's own (a manager picks a member or everyone) — tasks due,
//! band changes this week, contract renewals in the next 90 days, accounts gone quiet, MRR today
//! and the health mix.

use super::{failure, PageResult};
use crate::auth::{Auth, Viewer};
use crate::params::Params;
use crate::state::AppState;
use crate::web::render;
use crate::web::session::WebSession;
use axum::extract::{Query, State};
use axum::Extension;
use keepwell_core::task::Due;
use keepwell_core::Role;
use keepwell_store::tasks::TaskFilter;
use minijinja::{context, Value};
use std::collections::HashMap;

/// How many rows each section shows.
const SHOWN: usize = 10;

#[tracing::instrument(skip_all)]
pub async fn page(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let today = state.store.clock().today();
    let p = Params::form(&q);
    // Whose book: one's own; a manager (or a member without a book of their own) may pick.
    let owner: Option<i64> = match q.get("owner").map(String::as_str) {
        Some("all") => None,
        Some(_) => {
            let mut invalid = keepwell_core::Invalid::default();
            let o = p.owner(auth.user_id, &mut invalid).flatten();
            invalid.into_result(()).map_err(|e| failure(&state, &web, e))?;
            o.or(auth.user_id)
        }
        None => auth.user_id,
    };
    let store = &state.store;
    let week_end = Due::Week.range(today).1.unwrap_or(today);
    let due_now = TaskFilter {
        owner: owner.map(Some),
        status: Some(keepwell_core::task::Status::Open),
        due: Due::Now.range(today),
        awake_on: Some(today),
        limit: SHOWN as i64,
        ..Default::default()
    };
    let quiet_since = today - chrono::Days::new(keepwell_store::timeline::QUIET_DAYS as u64 - 1);
    let book = keepwell_store::billing::RevenueFilter { owner, ..Default::default() };
    let (tasks, counts, summary, quiet, users) = tokio::try_join!(
        async { Ok(crate::tasks::list(store, &due_now).await?) },
        async { Ok(store.task_counts(owner, today, week_end).await?) },
        crate::digest::content(&state, owner, today),
        async { Ok(store.quiet_accounts(owner, quiet_since, today, 200).await?) },
        async { Ok(store.users().await?) },
    )
    .map_err(|e: crate::error::ApiError| super::api_failure(&state, &web, e))?;
    let mrr = match crate::revenue::mrr_today(&state, &book, &state.settings.reporting_currency).await {
        Ok(d) => Some(d.mrr.round_dp(2).to_string()),
        Err(crate::error::ApiError::Invalid(_)) => None,
        Err(e) => return Err(super::api_failure(&state, &web, e)),
    };
    let members: Vec<_> = users.iter().filter(|u| !u.disabled && u.role >= Role::Csm).collect();
    let whose = owner.and_then(|o| users.iter().find(|u| u.id == o)).map(|u| u.name.clone());
    let rows: Vec<Value> = tasks.data.iter().map(|t| super::workspace::task_row(t, today)).collect();
    Ok(render(
        &state,
        &web,
        "home.html",
        context! {
            nav => "home", today, owner, whose, members,
            can_pick => auth.role >= Role::Manager,
            tasks => rows, overdue => counts.0, due_soon => counts.1,
            quiet_count => quiet.len(),
            quiet => quiet.iter().take(SHOWN).collect::<Vec<_>>(),
            mrr, currency => state.settings.reporting_currency.clone(),
            ..Value::from_serialize(&summary)
        },
    )
    .await)
}
