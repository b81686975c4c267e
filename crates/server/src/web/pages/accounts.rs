//! An account's page and the account form (the list: `account_list`).

use super::{
    account_owner, api_failure, encode, failure, field, form_failure, id_of, load, load_editable, FormData, PageResult,
};
use crate::auth::{Auth, Csm, Viewer};
use crate::cause::Caller;
use crate::input::account_as_input;
use crate::params::Params;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{redirect_with, render, render_status, tr};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Extension, Form};
use keepwell_core::account::{around_profile, split_tags, AccountInput, PROFILE_FIELDS};
use keepwell_core::{AttrValue, LifecycleStage, Role};
use keepwell_store::accounts::Account;
use keepwell_store::contacts::ContactFilter;
use minijinja::{context, Value};
use std::collections::{BTreeMap, HashMap};

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn show(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let id = id_of(&state, &web, &id)?;
    let fail = |e| failure(&state, &web, e);
    let account = load(&state, &web, id).await?;
    let today = state.store.clock().today();
    let params = Params::form(&q);
    let tl_filter = crate::timeline::filter(&params, id, today).map_err(|e| failure(&state, &web, e))?;
    let tasks_filter = keepwell_store::tasks::TaskFilter {
        account_id: Some(id),
        status: Some(keepwell_core::task::Status::Open),
        limit: 50,
        ..Default::default()
    };
    let interactions_filter =
        keepwell_store::interactions::InteractionFilter { account_id: Some(id), limit: 5, ..Default::default() };
    let chart_title = tr(&state, &web, "usage-active-chart", &[]);
    // The sections read side by side: a page of a dozen sections is as slow as its slowest.
    let (listed, billing, health, usage) = tokio::join!(
        async {
            tokio::try_join!(
                crate::timeline::page(&state.store, &state.i18n, web.lang, &tl_filter),
                crate::tasks::list(&state.store, &tasks_filter),
                crate::interactions::list(&state.store, &interactions_filter),
                async { state.store.users().await.map_err(crate::refused::Refused::from) },
                async {
                    let contacts = ContactFilter { account_id: Some(id), limit: 500, ..Default::default() };
                    state.store.contacts(&contacts).await.map_err(crate::refused::Refused::from)
                },
            )
        },
        billing(&state, id),
        super::health::section(&state, &web, id),
        usage(&state, id, &chart_title),
    );
    let (timeline, tasks, interactions, users, contacts) = listed.map_err(fail)?;
    let (billing, health) = (billing.map_err(|e| api_failure(&state, &web, e))?, health?);
    let usage = usage.map_err(|e| api_failure(&state, &web, e))?;
    let kinds = tl_filter.kinds.join(",");
    let older_url = timeline.next_cursor.as_ref().map(|c| {
        let mut p = vec![("before".to_owned(), c.clone())];
        if !kinds.is_empty() {
            p.push(("kind".into(), kinds.clone()));
        }
        format!("/accounts/{id}?{}#timeline", encode(&p))
    });
    let tasks: Vec<Value> = tasks.data.iter().map(|t| super::workspace::task_row(t, today)).collect();
    let members: Vec<_> = users.iter().filter(|u| !u.disabled && u.role >= Role::Csm).collect();
    let attributes: Vec<Value> = account
        .attributes
        .iter()
        .map(|(k, v)| context! { name => k, kind => v.type_name(), value => v.display() })
        .collect();
    Ok(render(
        &state,
        &web,
        "account.html",
        context! {
            nav => "accounts",
            account, attributes, billing, usage, health, tasks, members, today,
            timeline => timeline.data, older_url, kinds, timeline_kinds => keepwell_store::timeline::KINDS,
            interactions => interactions.data,
            contacts => contacts.data,
            can_edit => auth.may_edit(account_owner(&account)),
            is_manager_role => auth.role >= Role::Manager,
        },
    )
    .await)
}

const FORM_FIELDS: [&str; 11] = around_profile(&[], &["owner_id", "tags", "external_ids", "attributes"]);

/// The form's fields as text, from an account (edit) or what was posted (errors).
fn form_values(input: &AccountInput) -> BTreeMap<&'static str, String> {
    let owner = input.owner_id.map(|id| id.to_string()).unwrap_or_default();
    // A new account starts onboarding.
    let shown = |f: &str| input.profile(f).or((f == "lifecycle_stage").then_some("onboarding"));
    let mut values: BTreeMap<&'static str, String> =
        PROFILE_FIELDS.iter().map(|f| (*f, shown(f).unwrap_or_default().to_owned())).collect();
    values.extend([
        ("owner_id", owner),
        ("tags", input.tags.join(", ")),
        ("external_ids", input.external_ids.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join("\n")),
        (
            "attributes",
            input
                .attributes
                .iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} = {}", v.display())))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
    ]);
    values
}

/// Reads the posted form. External ids are `kind: value` lines; attributes `name = value` lines.
/// The input and the errors of lines that could not be read; validation adds the rest.
fn form_input(f: &FormData) -> (AccountInput, keepwell_core::Invalid) {
    let mut invalid = keepwell_core::Invalid::default();
    let owner_id =
        field(f, "owner_id").and_then(|o| o.parse().map_err(|_| invalid.push("owner_id", "pick a team member")).ok());
    let mut external_ids = Vec::new();
    for (i, line) in
        field(f, "external_ids").unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()).enumerate()
    {
        match line.split_once(':') {
            Some((k, v)) => external_ids.push((k.trim().to_owned(), v.trim().to_owned())),
            None => invalid.push(
                format!("external_ids[{i}]"),
                format!("{line:?}: write one per line as kind: value, e.g. crm: 0015g00000ABC"),
            ),
        }
    }
    let mut attributes = Vec::new();
    for line in field(f, "attributes").unwrap_or_default().lines().map(str::trim).filter(|l| !l.is_empty()) {
        match line.split_once('=') {
            Some((k, v)) => attributes.push((k.trim().to_owned(), AttrValue::infer(v))),
            None => invalid.push("attributes", format!("{line:?}: write one per line as name = value")),
        }
    }
    let mut input = AccountInput {
        owner_id,
        tags: split_tags(&field(f, "tags").unwrap_or_default()),
        external_ids,
        attributes,
        ..AccountInput::default()
    };
    for name in PROFILE_FIELDS {
        input.set_profile(name, field(f, name));
    }
    (input, invalid)
}

async fn form_page(
    state: &AppState,
    web: &WebSession,
    status: StatusCode,
    caller: &Caller,
    account: Option<&Account>,
    values: BTreeMap<&'static str, String>,
    errors: BTreeMap<String, String>,
) -> PageResult {
    let users = state.store.users().await.map_err(|e| failure(state, web, e))?;
    Ok(render_status(
        state,
        web,
        status,
        "account_form.html",
        context! {
            nav => "accounts",
            account, values, errors, users,
            stages => LifecycleStage::ALL.map(|s| s.as_str()),
            may_assign => caller.role >= Role::Manager,
        },
    )
    .await)
}

#[tracing::instrument(skip_all)]
pub async fn new_form(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
) -> PageResult {
    let mut values = form_values(&AccountInput::default());
    values.insert("owner_id", auth.user_id.map(|i| i.to_string()).unwrap_or_default());
    form_page(&state, &web, StatusCode::OK, &auth, None, values, BTreeMap::new()).await
}

/// Checks and saves the form: creates when `current` is None.
async fn save(
    state: &AppState,
    web: &WebSession,
    caller: &Caller,
    current: Option<&Account>,
    f: &FormData,
) -> PageResult {
    let values: BTreeMap<&'static str, String> =
        FORM_FIELDS.iter().map(|k| (*k, f.get(*k).cloned().unwrap_or_default())).collect();
    let (mut input, shape) = form_input(f);
    if caller.role < Role::Manager {
        // A CSM keeps their accounts; only managers hand accounts over.
        input.owner_id = current.map_or(caller.user_id, account_owner);
    }
    let result = match shape.and(input.validate()) {
        Err(e) => Err(e.into()),
        Ok(new) => match current {
            None => crate::accounts::create(&state.store, caller, new).await,
            Some(a) => crate::accounts::update(&state.store, caller, a.id, &new).await,
        },
    };
    match result {
        Ok(a) => {
            let key = if current.is_some() { "account-saved" } else { "account-created" };
            Ok(redirect_with(
                state,
                web,
                &format!("/accounts/{}", a.id),
                &tr(state, web, key, &[("name", a.name.clone().into())]),
            )
            .await)
        }
        Err(e) => {
            let errors = form_failure(state, web, e)?;
            form_page(state, web, StatusCode::UNPROCESSABLE_ENTITY, caller, current, values, errors).await
        }
    }
}

#[tracing::instrument(skip_all)]
pub async fn create(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(f): Form<FormData>,
) -> PageResult {
    save(&state, &web, &auth, None, &f).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn edit_form(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let account = load_editable(&state, &web, &auth, &id).await?;
    let values = form_values(&account_as_input(&account));
    form_page(&state, &web, StatusCode::OK, &auth, Some(&account), values, BTreeMap::new()).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let account = load_editable(&state, &web, &auth, &id).await?;
    save(&state, &web, &auth, Some(&account), &f).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let account = load_editable(&state, &web, &auth, &id).await?;
    crate::accounts::delete(&state.store, &auth, account.id).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(
        &state,
        &web,
        "/accounts",
        &tr(&state, &web, "account-deleted", &[("name", account.name.clone().into())]),
    )
    .await)
}

/// The account page's usage section: the summary as of today and its active users per day.
async fn usage(state: &AppState, id: i64, chart_title: &str) -> Result<Value, crate::error::ApiError> {
    let summary = crate::usage::summary_of(state, id, state.store.clock().today()).await?;
    let days: Vec<(String, f64)> =
        summary.daily_active_users.iter().map(|d| (d.date.to_string(), d.users as f64)).collect();
    let any = summary.events > 0 || summary.previous_events > 0 || !summary.users.is_empty();
    let chart = (summary.events > 0).then(|| crate::web::chart::columns(chart_title, &days));
    let used = summary.features.iter().filter(|f| f.used).count();
    Ok(context! { summary, chart, any, used })
}

/// The account page's billing section: the contract today, its MRR by month (in the contract's
/// currency) as a sparkline, and the last invoices with overdue ones marked.
async fn billing(state: &AppState, id: i64) -> Result<Value, crate::error::ApiError> {
    use keepwell_core::metrics::{FxTable, Ledger, PeriodLine};
    let today = state.store.clock().today();
    let contract = crate::revenue::contract(state, id, today).await?;
    let periods = state.store.account_periods(id).await?;
    let invoices = state.store.account_invoices(id).await?;
    let lines: Vec<PeriodLine> = periods
        .iter()
        .map(|p| PeriodLine {
            account: id,
            currency: "=".into(),
            mrr: p.period.mrr(),
            starts_on: p.period.starts_on,
            ends_on: p.period.ends_on,
        })
        .collect();
    let history =
        Ledger::build(&lines, &[], keepwell_core::money::Month::of(today), "=", &FxTable::new()).unwrap_or_default();
    let values: Vec<f64> = history
        .accounts
        .first()
        .map(|a| a.mrr.iter().map(|d| rust_decimal::prelude::ToPrimitive::to_f64(d).unwrap_or(0.0)).collect())
        .unwrap_or_default();
    let sparkline = (values.len() > 1).then(|| crate::web::chart::sparkline("MRR", &values));
    let invoices: Vec<_> = invoices.iter().take(24).map(|i| crate::billing::InvoiceView::new(i, today)).collect();
    Ok(context! { contract, sparkline, invoices })
}
