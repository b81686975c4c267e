//! The accounts list as a working tool: filters, the columns a member chooses (kept in a
//! cookie), sort by any column, bulk actions on the chosen accounts or on every one matching the
//! filter, and the export of what the filter shows.

use super::{encode, failure, field_errors, PageResult};
use crate::accounts::{bulk, bulk_targets, export_csv, filter_from, Bulk, BulkReport};
use crate::auth::{Auth, Csm, Viewer};
use crate::params::Params;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{chart, redirect_with, render, tr};
use axum::extract::{Query, State};
use axum::http::header;
use axum::{Extension, Form};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use chrono::NaiveDate;
use keepwell_core::{LifecycleStage, Role};
use keepwell_store::accounts::{Account, AccountFilter};
use minijinja::{context, Value};
use std::collections::{BTreeMap, HashMap};

/// The columns beside the name, each with the sort it offers and whether that sort starts
/// with the largest (a click on its header).
const COLUMNS: [(&str, Option<(&str, bool)>); 12] = [
    ("health", Some(("score", false))),
    ("coverage", Some(("coverage", false))),
    ("mrr", Some(("mrr", true))),
    ("arr", Some(("arr", true))),
    ("renews_on", Some(("renews_on", false))),
    ("last_active_on", Some(("last_active_on", true))),
    ("owner", Some(("owner", false))),
    ("lifecycle_stage", None),
    ("country", None),
    ("plan", None),
    ("employees", Some(("employees", true))),
    ("tags", None),
];
/// Every column key, the name's included.
#[cfg(test)]
pub(crate) fn column_keys() -> Vec<&'static str> {
    std::iter::once("name").chain(COLUMNS.iter().map(|(c, _)| *c)).collect()
}

const DEFAULT_COLUMNS: [&str; 7] =
    ["health", "coverage", "mrr", "renews_on", "last_active_on", "owner", "lifecycle_stage"];
const COLUMNS_COOKIE: &str = "kw_columns";
/// The query keys that are the list's filters (kept by every link and by bulk actions).
const FILTERS: [&str; 6] = ["q", "owner", "stage", "tag", "country", "band"];

/// The columns to show: those just chosen (`columns` submitted with a `c_KEY` per column), else
/// the remembered choice, else the default. The cookie to set when the choice is new.
fn columns(q: &HashMap<String, String>, jar: &CookieJar) -> (Vec<&'static str>, Option<String>) {
    let known = |k: &str| COLUMNS.iter().map(|(c, _)| *c).find(|c| *c == k);
    if q.contains_key("columns") {
        let chosen: Vec<&str> = COLUMNS.iter().map(|(c, _)| *c).filter(|c| q.contains_key(&format!("c_{c}"))).collect();
        let remembered = chosen.join(",");
        return (chosen, Some(remembered));
    }
    match jar.get(COLUMNS_COOKIE) {
        Some(c) => (c.value().split(',').filter_map(known).collect(), None),
        None => (DEFAULT_COLUMNS.to_vec(), None),
    }
}

/// The list's filters from a query, as a query string (what links and bulk actions carry).
fn filter_query(q: &HashMap<String, String>) -> Vec<(String, String)> {
    let mut kept: Vec<(String, String)> = q
        .iter()
        .filter(|(k, v)| (FILTERS.contains(&k.as_str()) || *k == "sort") && !v.trim().is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    kept.sort();
    kept
}

fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

/// One row as the template shows it: the account, and its days to renewal and since activity.
fn row(a: &Account, today: NaiveDate) -> Value {
    let f = a.figures.clone().unwrap_or_default();
    context! {
        account => a,
        renews_in => f.renews_on.map(|d| days_between(today, d)),
        active_ago => f.last_active_on.map(|d| days_between(d, today)),
    }
}

#[tracing::instrument(skip_all)]
pub async fn list(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    jar: CookieJar,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let params = Params::form(&q);
    let (filter, errors) = match filter_from(&params, auth.user_id) {
        Ok(f) => (f, BTreeMap::new()),
        Err(e) => (Default::default(), field_errors(&e)),
    };
    let filter = AccountFilter { limit: if q.contains_key("limit") { filter.limit } else { 50 }, ..filter };
    let store = &state.store;
    let fail = |e| failure(&state, &web, e);
    // Independent reads, each on its own connection, at once.
    let (page, total, facets, users, stages) = tokio::try_join!(
        store.accounts(&filter),
        store.count_accounts(&filter),
        store.account_facets(),
        store.users(),
        store.account_stage_counts()
    )
    .map_err(fail)?;
    let today = store.clock().today();
    let filtered = FILTERS.iter().any(|k| params.text(k).is_some());
    let (shown, remember) = columns(&q, &jar);
    let base = filter_query(&q);
    let sort = params.text("sort").unwrap_or_else(|| "name".into());
    let header = |key: &str, sort_by: Option<(&str, bool)>| {
        let link = sort_by.map(|(by, largest_first)| {
            let next = if sort == by {
                format!("-{by}")
            } else if sort == format!("-{by}") || !largest_first {
                by.to_owned()
            } else {
                format!("-{by}")
            };
            let mut p: Vec<(String, String)> = base.iter().filter(|(k, _)| k != "sort").cloned().collect();
            p.push(("sort".into(), next));
            format!("/accounts?{}", encode(&p))
        });
        let order = sort_by.and_then(|(by, _)| match sort.strip_prefix('-') {
            Some(s) if s == by => Some("descending"),
            None if sort == by => Some("ascending"),
            _ => None,
        });
        context! { key, link, order }
    };
    let name_header = header("name", Some(("name", false)));
    let headers: Vec<Value> = COLUMNS.iter().filter(|(c, _)| shown.contains(c)).map(|(c, s)| header(c, *s)).collect();
    let next_url = page.next_cursor.as_ref().map(|c| {
        let mut p = base.clone();
        p.push(("cursor".into(), c.clone()));
        format!("/accounts?{}", encode(&p))
    });
    let first_url = q.contains_key("cursor").then(|| format!("/accounts?{}", encode(&base)));
    let bars: Vec<(String, f64)> =
        stages.iter().map(|(s, n)| (tr(&state, &web, &format!("stage-{s}"), &[]), *n as f64)).collect();
    let svg = chart::bars(&tr(&state, &web, "accounts-by-stage", &[]), &bars);
    let rows: Vec<Value> = page.data.iter().map(|a| row(a, today)).collect();
    let members: Vec<_> = users.iter().filter(|u| !u.disabled && u.role >= Role::Csm).collect();
    let filters_only: Vec<(String, String)> = base.iter().filter(|(k, _)| k != "sort").cloned().collect();
    let mut response = render(
        &state,
        &web,
        "accounts.html",
        context! {
            nav => "accounts",
            rows, total, next_url, first_url, filtered, errors,
            name_header, headers, shown,
            all_columns => COLUMNS.map(|(c, _)| c),
            q => q,
            filter_query => encode(&base),
            export_url => format!("/accounts/export.csv?{}", encode(&base)),
            hidden => filters_only,
            facets, users, members,
            bands => keepwell_core::health::Band::ALL.map(|b| b.as_str()),
            stages => LifecycleStage::ALL.map(|s| s.as_str()),
            task_kinds => keepwell_core::task::Kind::ALL.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            chart => Value::from_safe_string(svg),
            can_create => auth.role.may_create_accounts(),
            can_bulk => auth.role >= Role::Csm,
            may_assign => auth.role >= Role::Manager,
        },
    )
    .await;
    if let Some(value) = remember {
        let cookie = Cookie::build((COLUMNS_COOKIE, value))
            .path("/accounts")
            .http_only(true)
            .same_site(SameSite::Lax)
            .secure(state.settings.secure_cookies)
            .permanent()
            .build();
        if let Ok(v) = cookie.to_string().parse() {
            response.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(response)
}

/// `GET /accounts/export.csv`: what the filter shows, as `import accounts` reads it.
#[tracing::instrument(skip_all)]
pub async fn export(
    auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let filter = filter_from(&Params::form(&q), auth.user_id).map_err(|e| failure(&state, &web, e))?;
    let csv = export_csv(&state.store, &filter).await.map_err(|e| failure(&state, &web, e))?;
    Ok(crate::download::csv("accounts", state.store.clock().today(), csv))
}

/// `POST /accounts/bulk`: the chosen accounts (`ids`), or every one matching the list's filter
/// (`all` with `filter`, the list's query), get a tag, an owner or a task.
#[tracing::instrument(skip_all)]
pub async fn apply(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult {
    let one = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim().to_owned()).filter(|v| !v.is_empty());
    let filter_text = one("filter").unwrap_or_default();
    let q: HashMap<String, String> = form_urlencoded::parse(filter_text.as_bytes()).into_owned().collect();
    // Back to the list as it was, its address made again from what was read (never the raw text).
    let back = format!("/accounts?{}", encode(&filter_query(&q)));
    let say = |key: &str, args: &[(&str, fluent_bundle::FluentValue<'_>)]| tr(&state, &web, key, args);
    let refuse = async |message: String| Ok(redirect_with(&state, &web, &back, &message).await);
    let filter = match filter_from(&Params::form(&q), auth.user_id) {
        Ok(f) => f,
        Err(e) => return refuse(say("bulk-failed", &[("reason", described(&state, &web, &e).into())])).await,
    };
    let chosen: Vec<i64> = form.iter().filter(|(k, _)| k == "ids").filter_map(|(_, v)| v.parse().ok()).collect();
    let action = match one("action").as_deref() {
        Some("tag") => Bulk::Tag(one("tag").unwrap_or_default()),
        Some("owner") => match one("owner_id").and_then(|v| v.parse().ok()) {
            Some(id) => Bulk::Owner(id),
            None => return refuse(say("bulk-no-owner", &[])).await,
        },
        Some("task") => Bulk::Task(keepwell_core::task::Draft {
            title: one("title"),
            kind: one("kind"),
            due_on: one("due_on").and_then(|d| d.parse().ok()),
            ..Default::default()
        }),
        _ => return refuse(say("bulk-no-action", &[])).await,
    };
    let all = one("all").is_some();
    let done = async {
        let ids = bulk_targets(&state.store, &chosen, all.then_some(&filter)).await?;
        bulk(&state.store, &auth, &ids, &action).await
    };
    let message = match done.await {
        Ok(report) => reported(&state, &web, &report),
        Err(crate::refused::Refused::Invalid(e)) => {
            say("bulk-failed", &[("reason", described(&state, &web, &e).into())])
        }
        Err(crate::refused::Refused::Forbidden(_)) => say("bulk-forbidden", &[]),
        Err(e) => return Err(failure(&state, &web, e)),
    };
    Ok(redirect_with(&state, &web, &back, &message).await)
}

/// Errors in words, each field by its label.
fn described(state: &AppState, web: &WebSession, e: &keepwell_core::Invalid) -> String {
    e.errors
        .iter()
        .map(|f| {
            let name = f.field.split(['[', '.']).next().unwrap_or("");
            let key = [format!("bulk-field-{name}"), format!("param-{name}")]
                .into_iter()
                .find(|k| state.i18n.has(web.lang, k))
                .unwrap_or_else(|| "bulk-field-".to_owned());
            let label = state.i18n.text(web.lang, &key, &[]);
            format!("{label}: {}", f.message)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn reported(state: &AppState, web: &WebSession, r: &BulkReport) -> String {
    let n = |v: usize| fluent_bundle::FluentValue::from(v as i64);
    let mut parts = vec![tr(state, web, "bulk-done", &[("changed", n(r.changed)), ("matched", n(r.matched))])];
    if r.unchanged > 0 {
        parts.push(tr(state, web, "bulk-unchanged", &[("count", n(r.unchanged))]));
    }
    if r.refused > 0 {
        parts.push(tr(state, web, "bulk-refused", &[("count", n(r.refused))]));
    }
    parts.join(" ")
}
