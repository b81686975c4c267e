//! Playbooks through the API: list, save by key (a changed definition is a new version), switch
//! on and off, preview what switching on would do today, simulate past days, and the runs.

use crate::auth::{Auth, Manager, Viewer};
use crate::definitions::status;
use crate::error::ApiResult;
use crate::health::body;
use crate::params::Params;
use crate::playbooks::{stored, Preview, Simulation, Start, Started, Switch};
use crate::state::AppState;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use keepwell_core::playbook::PlaybookDef;
use keepwell_core::Invalid;
use keepwell_store::playbooks::{Run, StoredPlaybook};
use std::collections::HashMap;

#[utoipa::path(get, path = "/api/v1/playbooks", tag = "playbooks",
    description = "Every playbook by key: its version in force, whether it is enabled, and its definition.",
    responses((status = 200, body = Vec<StoredPlaybook>)), security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn list(_auth: Auth<Viewer>, State(state): State<AppState>) -> ApiResult<Json<Vec<StoredPlaybook>>> {
    Ok(Json(state.store.playbooks().await?))
}

#[utoipa::path(get, path = "/api/v1/playbooks/{key}", tag = "playbooks",
    params(("key" = String, Path)),
    responses((status = 200, body = StoredPlaybook), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn show(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<StoredPlaybook>> {
    Ok(Json(stored(&state.store, &key).await?))
}

#[utoipa::path(post, path = "/api/v1/playbooks", tag = "playbooks",
    description = "Creates or updates (by `key`) a playbook: its trigger (a measure's band, the health band or a \
                   condition, held for `days` consecutive days), condition, re-enrolment and actions. A changed \
                   definition of a disabled playbook becomes its next version; runs keep the version they started \
                   with. A change to an enabled playbook is kept as its `draft` (the version in force runs on) \
                   until `POST /playbooks/{key}/publish`. A new playbook is disabled.",
    request_body = PlaybookDef,
    responses((status = 201, body = StoredPlaybook), (status = 200, body = StoredPlaybook), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all)]
pub async fn save(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    raw: Bytes,
) -> ApiResult<(StatusCode, Json<StoredPlaybook>)> {
    let def: PlaybookDef = body(&raw)?;
    let change = crate::playbooks::save(&state.store, &auth, &def).await?;
    Ok((status(&change), Json(stored(&state.store, &def.key).await?)))
}

#[utoipa::path(patch, path = "/api/v1/playbooks/{key}", tag = "playbooks",
    description = "Switches a playbook on (`{\"enabled\": true, \"enrol\": \"existing\"|\"new\"}`, default `existing`: \
                   accounts that already match are acted on today) or off (`{\"enabled\": false, \"open_tasks\": \
                   \"keep\"|\"close\"}`, default `keep`). The choice is recorded.",
    params(("key" = String, Path)),
    request_body = Switch,
    responses((status = 200, body = StoredPlaybook), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn switch(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    raw: Bytes,
) -> ApiResult<Json<StoredPlaybook>> {
    let s: Switch = body(&raw)?;
    let today = state.store.clock().today();
    crate::usage::folded(&state).await?;
    Ok(Json(crate::playbooks::switch(&state.store, &auth, &state.settings.reporting_currency, &key, &s, today).await?))
}

#[utoipa::path(get, path = "/api/v1/playbooks/{key}/preview", tag = "playbooks",
    description = "What switching the playbook on today would do: how many accounts it would act for with each \
                   choice of `enrol`, and how many tasks that opens.",
    params(("key" = String, Path)),
    responses((status = 200, body = Preview), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn preview(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<Preview>> {
    let today = state.store.clock().today();
    crate::usage::folded(&state).await?;
    Ok(Json(crate::playbooks::preview(&state.store, &state.settings.reporting_currency, &key, today).await?))
}

#[utoipa::path(get, path = "/api/v1/playbooks/{key}/simulation", tag = "playbooks",
    description = "What the playbook would have done each day from `from` to `to` (default: the last 90 days), had \
                   it been switched on at the start of `from` (`enrol`: `existing`, the default, or `new`): every \
                   action, for which account, on which day, and the values that made it fire. Acts on nothing; \
                   the result is kept as a simulation record (`id`), apart from the runs. `draft=true` \
                   simulates the playbook's draft instead of the version in force.",
    params(("key" = String, Path), ("from" = Option<String>, Query), ("to" = Option<String>, Query), ("enrol" = Option<String>, Query), ("draft" = Option<bool>, Query)),
    responses((status = 200, body = Simulation), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn simulation(
    auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Simulation>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let today = state.store.clock().today();
    let (from, to) = p.range(90, crate::playbooks::MAX_SIMULATED_DAYS as u64, today, &mut invalid);
    let enrol = p.choice("enrol", &[("existing", "existing"), ("new", "new")], "existing", &mut invalid);
    let draft = p.choice("draft", &[("true", true), ("false", false)], false, &mut invalid);
    invalid.into_result(())?;
    crate::usage::folded(&state).await?;
    let reporting = &state.settings.reporting_currency;
    Ok(Json(crate::playbooks::simulate(&state.store, &auth, reporting, (&key, draft), (from, to), enrol).await?))
}

#[utoipa::path(get, path = "/api/v1/playbooks/{key}/runs", tag = "playbooks",
    description = "The playbook's latest runs, newest first: the account, the trigger occurrence and the values that \
                   made it fire, and each action's outcome (the task it opened). `account_id` narrows to one account.",
    params(("key" = String, Path), ("account_id" = Option<i64>, Query), ("limit" = Option<i64>, Query)),
    responses((status = 200, body = Vec<Run>), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn runs(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<Vec<Run>>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let account = p.id("account_id", &mut invalid);
    let limit = p.limit(&mut invalid);
    invalid.into_result(())?;
    stored(&state.store, &key).await?;
    Ok(Json(state.store.playbook_runs(Some(&key), account, limit).await?))
}

#[utoipa::path(get, path = "/api/v1/playbooks/{key}/why", tag = "playbooks",
    description = "Why the playbook did or did not fire for an account on a day (default today), had it been on: \
                   whether its trigger held and what it read, how many of its days it had held, whether its \
                   condition held, and the first check that failed, in words (`reason`).",
    params(("key" = String, Path), ("account_id" = i64, Query), ("day" = Option<String>, Query)),
    responses((status = 200, body = keepwell_core::playbook::Why), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn why(
    _auth: Auth<Viewer>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Json<keepwell_core::playbook::Why>> {
    let p = Params(q);
    let mut invalid = Invalid::default();
    let account = p.id("account_id", &mut invalid);
    let day = p.date("day", &mut invalid).unwrap_or(state.store.clock().today());
    if account.is_none() && invalid.errors.is_empty() {
        invalid.push("account_id", "is required");
    }
    invalid.into_result(())?;
    crate::usage::folded(&state).await?;
    let reporting = &state.settings.reporting_currency;
    Ok(Json(crate::playbooks::why(&state.store, reporting, &key, account.unwrap_or_default(), day).await?))
}

#[utoipa::path(post, path = "/api/v1/playbooks/{key}/publish", tag = "playbooks",
    description = "Makes the playbook's draft its next version: runs keep the version they started with, and where \
                   each account stands carries over.",
    params(("key" = String, Path)),
    responses((status = 200, body = StoredPlaybook), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn publish(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<StoredPlaybook>> {
    Ok(Json(crate::playbooks::publish(&state.store, &auth, &key).await?))
}

#[utoipa::path(delete, path = "/api/v1/playbooks/{key}/draft", tag = "playbooks",
    description = "Drops the playbook's draft; the version in force is untouched.",
    params(("key" = String, Path)),
    responses((status = 200, body = StoredPlaybook), (status = 404, body = crate::error::Problem)), security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn discard_draft(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> ApiResult<Json<StoredPlaybook>> {
    Ok(Json(crate::playbooks::discard_draft(&state.store, &auth, &key).await?))
}

#[utoipa::path(post, path = "/api/v1/playbooks/{key}/start", tag = "playbooks",
    description = "Starts the playbook (its version in force, enabled or not) by hand for the accounts named: its \
                   actions now, as the daily pass does them, once per account and day (the day is the run's \
                   occurrence; its values say `manual` and who started it). Accounts it already acted for today \
                   are listed in `already`.",
    params(("key" = String, Path)),
    request_body = Start,
    responses((status = 200, body = Started), (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)),
    security(("bearer" = [])))]
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn start(
    auth: Auth<Manager>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    raw: Bytes,
) -> ApiResult<Json<Started>> {
    let s: Start = body(&raw)?;
    let today = state.store.clock().today();
    let reporting = &state.settings.reporting_currency;
    Ok(Json(crate::playbooks::start(&state.store, &auth, reporting, &key, &s, today).await?))
}
