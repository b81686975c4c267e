//! The definitions use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::{ApiError, ApiResult};
use crate::refused::Outcome;
use crate::state::AppState;
use axum::http::StatusCode;
use chrono::NaiveDate;
use keepwell_core::definitions::{Definitions, LifecycleRuleDef, ScorecardDef, SegmentDef};
use keepwell_core::{expr, measure, Invalid};
use keepwell_store::health as store_health;
use keepwell_store::health::{Change, MemberRow, SegmentChange, StoredScorecard, StoredSegment};
use keepwell_store::Store;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentView {
    pub id: i64,
    pub key: String,
    pub name: String,
    pub filter: String,
    /// Members as of the latest daily pass.
    pub members: i64,
    /// Why the daily pass skips it (a definition stored before a limit it breaks), else null.
    pub problem: Option<String>,
}

pub(crate) async fn segment_view(state: &AppState, key: &str) -> ApiResult<SegmentView> {
    let s = state.store.segment(key).await?.ok_or_else(|| ApiError::NotFound(format!("no segment {key:?}")))?;
    view_of(state, s).await
}

pub(crate) async fn view_of(state: &AppState, s: StoredSegment) -> ApiResult<SegmentView> {
    let members = state.store.count_segment_members(s.id, state.store.clock().today()).await?;
    Ok(SegmentView { id: s.id, key: s.def.key, name: s.def.name, filter: s.def.filter, members, problem: s.problem })
}

/// 201 for a new definition, 200 for a changed or unchanged one.
pub(crate) fn status(change: &Change) -> StatusCode {
    if change.action == "created" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

/// After a definition changed: today's pass again, so membership, stages and scores follow.
pub async fn changed(state: &AppState, change: &Change) -> ApiResult<()> {
    if change.action != "unchanged" {
        crate::jobs::pass_today(state).await.map_err(ApiError::Internal)?;
    }
    Ok(())
}

/// MemberPage: one page of a segment's members.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MemberPage {
    pub data: Vec<MemberRow>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SegmentHistory {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Who entered and who left, newest first.
    pub data: Vec<SegmentChange>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preview {
    pub filter: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewAccount {
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PreviewResult {
    /// Accounts the filter holds for today.
    pub count: i64,
    /// The first 20 of them by id.
    pub sample: Vec<PreviewAccount>,
}

/// How long the live count's facts serve the next keystrokes while nothing changes.
const LIVE_FOR: std::time::Duration = std::time::Duration::from_secs(300);

/// The live count of a filter, or why it does not parse (naming the column). The facts it reads
/// are kept while the data they come from does not change, so typing a filter costs one load.
pub async fn preview_of(state: &AppState, filter: &str) -> ApiResult<PreviewResult> {
    let e = expr::parse(filter, &measure::SCHEMA)
        .map_err(|e| ApiError::Invalid(Invalid::field("filter", e.to_string())))?;
    let needs = keepwell_core::daily::needs_of(&[&e], Vec::new());
    let today = state.store.clock().today();
    crate::usage::folded(state).await?;
    let version = state.store.live_version().await?;
    let live = {
        let mut cached = state.live.lock().await;
        let fresh = |at: &std::time::Instant, f: &keepwell_store::health::LiveFacts| {
            at.elapsed() < LIVE_FOR && f.day == today && f.version == version
        };
        match cached.as_ref() {
            Some((at, f)) if fresh(at, f) && f.covers(&needs) => f.clone(),
            _ => {
                let wanted = match cached.as_ref() {
                    Some((at, f)) if fresh(at, f) => keepwell_store::health::union(&f.needs, &needs),
                    _ => needs,
                };
                let f = std::sync::Arc::new(state.store.live_facts(&wanted, today).await?);
                *cached = Some((std::time::Instant::now(), f.clone()));
                f
            }
        }
    };
    let (count, ids) = live.count(&state.settings.reporting_currency, &e, 20);
    let mut sample = Vec::new();
    for id in ids {
        if let Some(a) = state.store.account(id).await? {
            sample.push(PreviewAccount { id, name: a.name });
        }
    }
    Ok(PreviewResult { count, sample })
}

pub(crate) async fn scorecard_of(state: &AppState, key: &str) -> ApiResult<StoredScorecard> {
    state.store.scorecard(key).await?.ok_or_else(|| ApiError::NotFound(format!("no scorecard {key:?}")))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Weights {
    /// Measure key → new weight (0 removes the measure).
    pub weights: HashMap<String, f64>,
}

pub async fn save_segment(store: &Store, caller: &Caller, def: &SegmentDef) -> Outcome<Change> {
    caller.decide(store, async |w| store_health::save_segment(w, def).await).await
}

pub async fn save_lifecycle_rule(store: &Store, caller: &Caller, def: &LifecycleRuleDef) -> Outcome<Change> {
    caller.decide(store, async |w| store_health::save_lifecycle_rule(w, def).await).await
}

pub async fn save_scorecard(store: &Store, caller: &Caller, def: &ScorecardDef) -> Outcome<Change> {
    caller.decide(store, async |w| store_health::save_scorecard(w, def).await).await
}

/// Deletes a segment or lifecycle rule, or retires a scorecard, by kind and key.
pub async fn delete(store: &Store, caller: &Caller, kind: &str, key: &str) -> Outcome<()> {
    caller.decide(store, async |w| store_health::delete_definition(w, kind, key).await).await
}

/// Creates or updates every definition of a file by key, after checking all of it; a dry run
/// reports what would change and writes nothing. A playbook that says `enabled` is then switched
/// on (enrolling the accounts that already match, as of the store's today) or off (keeping its
/// open tasks).
pub async fn apply(
    store: &Store,
    caller: &Caller,
    defs: &Definitions,
    dry_run: bool,
    reporting: &str,
) -> Outcome<Vec<Change>> {
    let mut w = store.write(&caller.actor).await?;
    let mut changes = store_health::apply(&mut w, defs).await?;
    changes.extend(keepwell_store::playbooks::apply(&mut w, &defs.playbooks).await?);
    if dry_run {
        return Ok(changes);
    }
    w.commit().await?;
    for (i, p) in defs.playbooks.iter().enumerate() {
        let Some(enabled) = p.enabled else { continue };
        if store.playbook(&p.key).await?.is_some_and(|s| s.enabled == enabled) {
            continue;
        }
        let on = crate::playbooks::Switch { enabled, enrol: None, open_tasks: None };
        crate::playbooks::switch(store, caller, reporting, &p.key, &on, store.clock().today())
            .await
            .map_err(|e| Invalid::field(format!("playbook[{i}].enabled"), e.to_string()))?;
        let action = if enabled { "enabled" } else { "disabled" };
        changes.push(Change { kind: "playbook".into(), key: p.key.clone(), action: action.into() });
    }
    Ok(changes)
}
