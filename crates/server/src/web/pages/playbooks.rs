//! Playbooks: the list and a form for a new one; one playbook with what switching it on would do
//! today, what it would have done over the last 90 days (on request), its runs, and the forms that
//! switch it on (enrolling the accounts that already match, or not) and off (keeping or closing
//! its open tasks).

use super::{api_failure, failure, field, FormData, PageResult};
use crate::auth::{Auth, Manager, Viewer};
use crate::error::ApiError;
use crate::playbooks::Switch;
use crate::refused::Refused;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{error_page, redirect_with, render, render_status, tr};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Form};
use chrono::Days;
use keepwell_core::health::Band;
use keepwell_core::playbook::{ActionDef, Playbook, PlaybookDef, Reenrol, Route, Taken, TriggerDef};
use keepwell_core::Invalid;
use minijinja::context;
use std::collections::{BTreeMap, HashMap};

/// The list, and the form for a new playbook.
#[tracing::instrument(skip_all)]
pub async fn playbooks(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    list_page(&state, &web, StatusCode::OK, FormData::new(), BTreeMap::new()).await
}

async fn list_page(
    state: &AppState,
    web: &WebSession,
    status: StatusCode,
    form: FormData,
    errors: BTreeMap<String, String>,
) -> PageResult {
    let rows: Vec<_> = state
        .store
        .playbooks()
        .await
        .map_err(|e| failure(state, web, e))?
        .into_iter()
        .map(|p| {
            let trigger = when_words(state, web, &p.definition);
            context! { key => p.key, name => p.name, enabled => p.enabled, version => p.version, trigger, problem => p.problem }
        })
        .collect();
    let segments: Vec<String> =
        state.store.segments().await.map_err(|e| failure(state, web, e))?.into_iter().map(|s| s.def.key).collect();
    let stages: Vec<&str> = keepwell_core::account::LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
    Ok(render_status(
        state,
        web,
        status,
        "playbooks.html",
        context! { nav => "playbooks", playbooks => rows, form, errors, segments, stages },
    )
    .await)
}

/// When a playbook acts, in words: its trigger, and its condition when it has one ("on schedule:
/// every day, if days_to_renewal in [90, 60, 30]"): for a schedule the condition is the point.
fn when_words(state: &AppState, web: &WebSession, def: &PlaybookDef) -> String {
    let trigger = trigger_words(state, web, &def.trigger);
    match def.condition.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(c) => {
            tr(state, web, "playbook-trigger-if", &[("trigger", trigger.into()), ("condition", c.to_owned().into())])
        }
        None => trigger,
    }
}

/// A trigger in words: "messages_received red for 7 days".
fn trigger_words(state: &AppState, web: &WebSession, t: &TriggerDef) -> String {
    let days = i64::from(t.days());
    let (key, what) = match t {
        TriggerDef::Measure { measure, band, .. } => {
            ("playbook-trigger-measure", format!("{measure}: {}", band_word(state, web, *band)))
        }
        TriggerDef::Health { band, .. } => ("playbook-trigger-health", band_word(state, web, *band)),
        TriggerDef::Condition { condition, .. } => ("playbook-trigger-condition", condition.clone()),
        TriggerDef::Segment { segment, .. } => ("playbook-trigger-segment", segment.clone()),
        TriggerDef::Stage { stage, .. } => ("playbook-trigger-stage", tr(state, web, &format!("stage-{stage}"), &[])),
        TriggerDef::Event { event } => ("playbook-trigger-event", event.clone()),
        TriggerDef::StripeEvent { event } => ("playbook-trigger-stripe-event", event.clone()),
        TriggerDef::Interaction {} => ("playbook-trigger-interaction", String::new()),
        TriggerDef::LeftSegment { segment } => ("playbook-trigger-left-segment", segment.clone()),
        TriggerDef::NoEvent { event: Some(event), days } => {
            return tr(
                state,
                web,
                "playbook-trigger-no-named-event",
                &[("what", event.clone().into()), ("days", (*days).into())],
            )
        }
        TriggerDef::NoEvent { event: None, days } => {
            return tr(state, web, "playbook-trigger-no-event", &[("days", (*days).into())])
        }
        TriggerDef::NoInteraction { days } => {
            return tr(state, web, "playbook-trigger-no-interaction", &[("days", (*days).into())])
        }
        TriggerDef::Schedule { every } => (
            "playbook-trigger-schedule",
            tr(state, web, &format!("playbook-every-{}", every.trim().to_ascii_lowercase()), &[]),
        ),
    };
    tr(state, web, key, &[("what", what.into()), ("days", days.into())])
}

/// What made a playbook fire, in words: "messages_received = 2, score 20 (Red), for 7 days".
fn why_words(state: &AppState, web: &WebSession, values: &serde_json::Value) -> String {
    let get = |k: &str| {
        values.get(k).filter(|v| !v.is_null()).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    let mut parts = Vec::new();
    if let Some(m) = get("measure") {
        parts.push(format!("{m} = {}", get("value").unwrap_or_default()));
    }
    let band = get("band").and_then(|b| Band::parse(&b)).map(|b| band_word(state, web, b));
    match (get("score"), band) {
        (Some(score), Some(band)) => {
            parts.push(tr(state, web, "playbook-why-score", &[("score", score.into()), ("band", band.into())]))
        }
        (None, Some(band)) => parts.push(band),
        _ => {}
    }
    if let Some(c) = get("condition") {
        parts.push(c);
    }
    if let Some(seg) = get("segment") {
        parts.push(tr(state, web, "playbook-why-segment", &[("segment", seg.into())]));
    }
    if let Some(stage) = get("stage") {
        let stage = tr(state, web, &format!("stage-{stage}"), &[]);
        parts.push(tr(state, web, "playbook-why-stage", &[("stage", stage.into())]));
    }
    if let Some(e) = get("event") {
        let n = values.get("events").and_then(|v| v.as_i64()).unwrap_or(1);
        parts.push(tr(state, web, "playbook-why-event", &[("event", e.into()), ("n", n.into())]));
    }
    if values.get("interaction").is_some() {
        parts.push(tr(state, web, "playbook-why-interaction", &[]));
    }
    if let Some(e) = get("stripe_event") {
        parts.push(tr(state, web, "playbook-why-stripe-event", &[("event", e.into())]));
    }
    if values.get("no_event").is_some() || values.get("no_interaction").is_some() {
        let days = get("days_since").unwrap_or_default();
        let key = if values.get("no_interaction").is_some() {
            "playbook-why-no-interaction"
        } else {
            "playbook-why-no-event"
        };
        parts.push(tr(state, web, key, &[("days", days.into())]));
    }
    if let Some(seg) = get("left_segment") {
        parts.push(tr(state, web, "playbook-why-left-segment", &[("segment", seg.into())]));
    }
    if let Some(every) = get("scheduled") {
        let every = tr(state, web, &format!("playbook-every-{}", every.trim().to_ascii_lowercase()), &[]);
        parts.push(tr(state, web, "playbook-trigger-schedule", &[("what", every.into())]));
    }
    if values.get("manual").is_some() {
        parts.push(tr(state, web, "playbook-why-manual", &[("by", get("by").unwrap_or_default().into())]));
    }
    if let Some(by) = get("started_by") {
        parts.push(tr(state, web, "playbook-why-started", &[("playbook", by.into())]));
    }
    if let Some(n) = values.get("held_days").and_then(|v| v.as_i64()) {
        parts.push(tr(state, web, "playbook-why-held", &[("days", n.into())]));
    }
    parts.join(", ")
}

/// A playbook's actions in words, as taken on `day` (due on a date), or as defined (due in days).
fn action_list(
    state: &AppState,
    web: &WebSession,
    actions: &[ActionDef],
    day: Option<chrono::NaiveDate>,
) -> Vec<String> {
    actions
        .iter()
        .map(|a| match a {
            ActionDef::Task { title, task_kind, due_days, .. } => {
                let kind = tr(state, web, &format!("task-kind-{task_kind}"), &[]);
                let task =
                    tr(state, web, "playbook-action-task", &[("title", title.clone().into()), ("kind", kind.into())]);
                let due = match (due_days, day) {
                    (Some(d), Some(day)) => {
                        let on = (day + Days::new(u64::from(*d))).to_string();
                        tr(state, web, "playbook-due-on", &[("day", on.into())])
                    }
                    (Some(d), None) => tr(state, web, "playbook-due-in", &[("days", i64::from(*d).into())]),
                    (None, _) => return task,
                };
                format!("{task} · {due}")
            }
            ActionDef::Tag { tag } => tr(state, web, "playbook-action-tag", &[("tag", tag.clone().into())]),
            ActionDef::Untag { tag } => tr(state, web, "playbook-action-untag", &[("tag", tag.clone().into())]),
            ActionDef::Notify { message, email } => {
                let key = if *email { "playbook-action-notify-email" } else { "playbook-action-notify" };
                tr(state, web, key, &[("message", message.clone().into())])
            }
            ActionDef::Assign { member, members, rules } => match (members.is_empty(), rules.is_empty()) {
                (true, true) => tr(state, web, "playbook-action-assign", &[("member", member.clone().into())]),
                (false, _) => tr(state, web, "playbook-action-assign-turn", &[("members", members.join(", ").into())]),
                (true, false) => {
                    let each: Vec<String> = rules.iter().map(|r| format!("{} ← {}", r.member, r.filter)).collect();
                    tr(state, web, "playbook-action-assign-rules", &[("rules", each.join("; ").into())])
                }
            },
            ActionDef::Stage { stage } => {
                let stage = tr(state, web, &format!("stage-{stage}"), &[]);
                tr(state, web, "playbook-action-stage", &[("stage", stage.into())])
            }
            ActionDef::Webhook { url, .. } => {
                let url = keepwell_core::webhook::origin_only(url);
                tr(state, web, "playbook-action-webhook", &[("url", url.into())])
            }
            ActionDef::Start { playbook } => {
                tr(state, web, "playbook-action-start", &[("playbook", playbook.clone().into())])
            }
            ActionDef::Email { to, texts, .. } => {
                let lang = Some(web.lang.code());
                let subject = keepwell_core::playbook::EmailText::pick(texts, lang)
                    .map(|t| t.subject.clone())
                    .unwrap_or_default();
                let key =
                    if to == "contacts" { "playbook-action-email-contacts" } else { "playbook-action-email-owner" };
                tr(state, web, key, &[("subject", subject.into())])
            }
            ActionDef::Wait { days } => tr(state, web, "playbook-action-wait", &[("days", i64::from(*days).into())]),
            ActionDef::Branch { condition, then, otherwise } => {
                // A branch's own steps cannot branch (checked when saved): one level down.
                let steps = |list: &[ActionDef]| match list {
                    [] => tr(state, web, "playbook-nothing", &[]),
                    _ => action_list(state, web, list, day).join(", "),
                };
                let otherwise = if otherwise.is_empty() { "none".to_owned() } else { steps(otherwise) };
                let args = [
                    ("condition", condition.clone().into()),
                    ("then", steps(then).into()),
                    ("otherwise", otherwise.into()),
                ];
                tr(state, web, "playbook-action-branch", &args)
            }
        })
        .collect()
}

/// What a simulated run does on `day`, step by step (`p` the version simulated).
fn route_list(state: &AppState, web: &WebSession, p: &Playbook, route: &Route, day: chrono::NaiveDate) -> Vec<String> {
    let mut words: Vec<String> = route
        .steps
        .iter()
        .map(|t| match *t {
            Taken::Do(at) => p
                .action(at)
                .map(|a| action_list(state, web, std::slice::from_ref(a), Some(day)).join(""))
                .unwrap_or_default(),
            Taken::Branch(at, holds) => {
                let condition = p.branch_text(at).to_owned();
                let key = if holds { "playbook-branch-held" } else { "playbook-branch-not-held" };
                tr(state, web, key, &[("condition", condition.into())])
            }
        })
        .collect();
    if let Some(w) = route.wait {
        let until = (day + Days::new(u64::from(w.days))).to_string();
        words.push(tr(state, web, "playbook-wait-until", &[("day", until.into())]));
    }
    words
}

fn band_word(state: &AppState, web: &WebSession, band: Band) -> String {
    tr(state, web, &format!("band-{}", band.as_str()), &[])
}

/// Where a definition's field is on the form.
fn form_field(path: &str) -> &str {
    match path {
        "trigger.measure" => "measure",
        "trigger.band" => "band",
        "trigger.condition" => "trigger_condition",
        "trigger.segment" => "segment",
        "trigger.stage" => "stage",
        "trigger.every" => "every",
        "trigger.event" => "event",
        "trigger.days" => "days",
        "actions[0].title" => "task_title",
        "actions[0].task_kind" => "task_kind",
        "actions[0].due_days" => "due_days",
        other => other,
    }
}

/// The form's playbook: a trigger, a condition and one task for the owner.
fn def_of(f: &FormData, invalid: &mut Invalid) -> PlaybookDef {
    let number = |name: &str, invalid: &mut Invalid| -> Option<u32> {
        let v = field(f, name)?;
        v.parse().map_err(|_| invalid.push(name, format!("{v:?} is not a whole number of days"))).ok()
    };
    let days = number("days", invalid).unwrap_or(1);
    let band = field(f, "band").and_then(|b| Band::parse(&b)).unwrap_or(Band::Red);
    let trigger = match field(f, "trigger_kind").as_deref() {
        Some("health") => TriggerDef::Health { band, days },
        Some("condition") => {
            TriggerDef::Condition { condition: field(f, "trigger_condition").unwrap_or_default(), days }
        }
        Some("segment") => TriggerDef::Segment { segment: field(f, "segment").unwrap_or_default(), days },
        Some("stage") => TriggerDef::Stage { stage: field(f, "stage").unwrap_or_default(), days },
        Some("left_segment") => TriggerDef::LeftSegment { segment: field(f, "segment").unwrap_or_default() },
        Some("no_event") => TriggerDef::NoEvent { event: field(f, "event"), days },
        Some("no_interaction") => TriggerDef::NoInteraction { days },
        Some("event") => TriggerDef::Event { event: field(f, "event").unwrap_or_default() },
        Some("interaction") => TriggerDef::Interaction {},
        Some("stripe_event") => TriggerDef::StripeEvent { event: field(f, "event").unwrap_or_default() },
        Some("schedule") => TriggerDef::Schedule { every: field(f, "every").unwrap_or_else(|| "day".into()) },
        _ => TriggerDef::Measure { measure: field(f, "measure").unwrap_or_default(), band, days },
    };
    PlaybookDef {
        key: field(f, "key").unwrap_or_default(),
        name: field(f, "name").unwrap_or_default(),
        description: String::new(),
        trigger,
        condition: field(f, "condition"),
        reenrol: Reenrol::EveryTime,
        reenrol_days: None,
        close_after_days: number("close_after_days", invalid),
        actions: vec![ActionDef::Task {
            title: field(f, "task_title").unwrap_or_default(),
            task_kind: field(f, "task_kind").unwrap_or_else(|| "risk".into()),
            priority: "normal".into(),
            due_days: number("due_days", invalid),
            description: String::new(),
        }],
        enabled: None,
    }
}

/// Saves the form's playbook (new ones are switched off) and shows it.
#[tracing::instrument(skip_all)]
pub async fn save(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    let mut invalid = Invalid::default();
    let def = def_of(&f, &mut invalid);
    let outcome = if invalid.errors.is_empty() {
        crate::playbooks::save(&state.store, &auth, &def).await
    } else {
        Err(Refused::Invalid(invalid))
    };
    match outcome {
        Ok(change) => {
            let to = format!("/playbooks/{}", urlencoding::encode(&def.key));
            let said = if change.action == "drafted" { "playbook-drafted" } else { "playbook-saved" };
            Ok(redirect_with(&state, &web, &to, &tr(&state, &web, said, &[])).await)
        }
        Err(Refused::Invalid(e)) => {
            let errors = e.errors.iter().map(|e| (form_field(&e.field).to_owned(), e.message.clone())).collect();
            list_page(&state, &web, StatusCode::UNPROCESSABLE_ENTITY, f, errors).await
        }
        Err(e) => Err(failure(&state, &web, e)),
    }
}

/// One playbook: its definition and runs; with `?preview=1` what switching it on would do today,
/// with `?simulate=1` what it would have done over the last 90 days.
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn playbook(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let fail = |e: ApiError| api_failure(&state, &web, e);
    let Some(p) = state.store.playbook(&key).await.map_err(|e| failure(&state, &web, e))? else {
        return Err(error_page(&state, &web, StatusCode::NOT_FOUND, "error-not-found"));
    };
    let today = state.store.clock().today();
    let reporting = &state.settings.reporting_currency;
    let draft = q.contains_key("draft") && p.draft.is_some();
    crate::usage::folded(&state).await.map_err(fail)?;
    // Counting what switching on would do steps every account through the look-back: seconds
    // in a large workspace, so only when asked.
    let preview = match (p.enabled, &p.problem, q.contains_key("preview")) {
        (false, None, true) => {
            Some(crate::playbooks::preview(&state.store, reporting, &key, today).await.map_err(fail)?)
        }
        _ => None,
    };
    let simulation = match (q.contains_key("simulate"), &p.problem) {
        (true, None) => {
            let days = (today - Days::new(89), today);
            Some(
                crate::playbooks::simulate(&state.store, &auth, reporting, (&key, draft), days, "existing")
                    .await
                    .map_err(fail)?,
            )
        }
        _ => None,
    };
    let runs = state.store.playbook_runs(Some(&key), None, 100).await.map_err(|e| failure(&state, &web, e))?;
    let runs: Vec<_> = runs
        .into_iter()
        .map(|r| {
            let why = why_words(&state, &web, &r.values);
            context! { run => r, why }
        })
        .collect();
    let trigger = when_words(&state, &web, &p.definition);
    let actions = action_list(&state, &web, &p.definition.actions, None);
    let simulated = if draft { p.draft.as_ref().unwrap_or(&p.definition) } else { &p.definition };
    let draft_words = p.draft.as_ref().map(|d| {
        context! { trigger => when_words(&state, &web, d), actions => action_list(&state, &web, &d.actions, None) }
    });
    let version = Playbook::compile(p.id, p.version, simulated.clone()).ok();
    let sim_rows: Option<Vec<_>> = simulation.as_ref().map(|s| {
        s.data
            .iter()
            .take(500)
            .map(|a| {
                let why = a.values.as_ref().map(|v| why_words(&state, &web, v)).unwrap_or_default();
                let then = match (a.act.as_str(), &version) {
                    ("close", _) => tr(&state, &web, "playbook-cleared", &[]),
                    (_, Some(p)) => route_list(&state, &web, p, &a.route, a.day).join("; "),
                    (_, None) => a.actions.join("; "),
                };
                context! { act => a, why, then }
            })
            .collect()
    });
    let sim_total = simulation.as_ref().map(|s| s.total);
    Ok(render(
        &state,
        &web,
        "playbook.html",
        context! {
            nav => "playbooks", playbook => p, trigger, actions, draft => draft_words, simulated_draft => draft,
            preview, simulation => sim_rows, sim_total, runs,
        },
    )
    .await)
}

/// Switches a playbook on or off with the choice the form made.
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn switch(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let enabled = field(&f, "enabled").as_deref() == Some("true");
    let s = Switch {
        enabled,
        enrol: if enabled { Some(field(&f, "enrol").unwrap_or_default()) } else { None },
        open_tasks: if enabled { None } else { Some(field(&f, "open_tasks").unwrap_or_default()) },
    };
    let to = format!("/playbooks/{}", urlencoding::encode(&key));
    let today = state.store.clock().today();
    crate::usage::folded(&state).await.map_err(|e| api_failure(&state, &web, e))?;
    let reporting = &state.settings.reporting_currency;
    match crate::playbooks::switch(&state.store, &auth, reporting, &key, &s, today).await {
        Ok(p) => {
            let said = if p.enabled { "playbook-enabled" } else { "playbook-disabled" };
            Ok(redirect_with(&state, &web, &to, &tr(&state, &web, said, &[])).await)
        }
        Err(ApiError::Invalid(e)) => {
            let choose = tr(&state, &web, if enabled { "playbook-choose-enrol" } else { "playbook-choose-tasks" }, &[]);
            let said = if e.errors.iter().any(|e| e.field == "enrol" || e.field == "open_tasks") {
                choose
            } else {
                e.to_string()
            };
            Ok(redirect_with(&state, &web, &to, &said).await)
        }
        Err(e) => Err(api_failure(&state, &web, e)),
    }
}

/// Publishes the playbook's draft, or (`discard`) drops it.
#[tracing::instrument(skip_all, fields(key = %key))]
pub async fn draft(
    auth: Auth<Manager>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(key): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let to = format!("/playbooks/{}", urlencoding::encode(&key));
    let (done, said) = if field(&f, "discard").is_some() {
        (crate::playbooks::discard_draft(&state.store, &auth, &key).await, "playbook-draft-discarded")
    } else {
        (crate::playbooks::publish(&state.store, &auth, &key).await, "playbook-published")
    };
    match done {
        Ok(_) => Ok(redirect_with(&state, &web, &to, &tr(&state, &web, said, &[])).await),
        Err(Refused::Invalid(e)) => Ok(redirect_with(&state, &web, &to, &e.to_string()).await),
        Err(e) => Err(failure(&state, &web, e)),
    }
}
