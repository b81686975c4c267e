//! Page handlers, one file per area. Each returns a rendered page or a redirect with a flash.
// The error of a page is the ready error page, returned once per request: boxing it buys nothing.
#![allow(clippy::result_large_err)]

pub mod account_list;
pub mod accounts;
pub mod api_access;
pub mod audit;
pub mod auth;
pub mod contacts;
pub mod deliveries;
pub mod health;
pub mod home;
pub mod lifecycle;
pub mod me;
pub mod playbooks;
pub mod revenue;
pub mod scorecards;
pub mod segments;
pub mod team;
pub mod unsubscribe;
pub mod usage;
pub mod workspace;

use super::error_page;
use super::session::WebSession;
use crate::cause::Caller;
use crate::refused::Refused;
use crate::state::AppState;
use axum::http::StatusCode;
use axum::response::Response;
use keepwell_core::Invalid;
use keepwell_store::accounts::Account;
use std::collections::{BTreeMap, HashMap};

/// A page or the error page that replaces it.
pub type PageResult = Result<Response, Response>;

/// Form fields by name.
pub type FormData = HashMap<String, String>;

/// Turns a store failure into the page a person should see: a missing record, a bad cursor or
/// filter in the address, a busy database, each said in the visitor's language.
pub fn failure(state: &AppState, web: &WebSession, e: impl Into<Refused>) -> Response {
    api_failure(state, web, crate::error::ApiError::from(e.into()))
}

/// Turns an API function's failure into the translated page a person should see (never raw
/// problem+json in a browser).
pub fn api_failure(state: &AppState, web: &WebSession, e: crate::error::ApiError) -> Response {
    use crate::error::ApiError;
    let (status, key) = match &e {
        ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "error-not-found"),
        ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "error-forbidden"),
        ApiError::Invalid(_) | ApiError::BadRequest(_) | ApiError::Conflict { .. } | ApiError::TooLarge => {
            (StatusCode::UNPROCESSABLE_ENTITY, "error-bad-request")
        }
        ApiError::Unavailable | ApiError::TooMany(_) => (StatusCode::SERVICE_UNAVAILABLE, "error-busy"),
        ApiError::Unauthorized | ApiError::Internal(_) => {
            tracing::error!(error = ?e, "page failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "error-internal")
        }
    };
    let mut page = error_page(state, web, status, key);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        page.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("2"));
    }
    page
}

/// Field → message, for showing errors beside form fields. Field names like `external_ids[1]`
/// or `attributes.x` attach to their form field.
pub fn field_errors(e: &Invalid) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for f in &e.errors {
        let field = f.field.split(['[', '.']).next().unwrap_or(&f.field).to_owned();
        map.entry(field)
            .and_modify(|m: &mut String| {
                m.push_str("; ");
                m.push_str(&f.message)
            })
            .or_insert_with(|| f.message.clone());
    }
    map
}

/// The errors of a store write that a form can show, or the error page.
pub fn form_failure(
    state: &AppState,
    web: &WebSession,
    e: impl Into<Refused>,
) -> Result<BTreeMap<String, String>, Response> {
    match e.into() {
        Refused::Invalid(i) => Ok(field_errors(&i)),
        Refused::Conflict { field, message } => Ok(BTreeMap::from([(field, message)])),
        other => Err(failure(state, web, other)),
    }
}

pub fn id_of(state: &AppState, web: &WebSession, raw: &str) -> Result<i64, Response> {
    raw.parse().map_err(|_| error_page(state, web, StatusCode::NOT_FOUND, "error-not-found"))
}

/// A form field, trimmed; empty is None.
pub fn field(f: &FormData, name: &str) -> Option<String> {
    f.get(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub(super) fn account_owner(a: &Account) -> Option<i64> {
    a.owner.as_ref().map(|o| o.id)
}

/// The account at `id`, or the page saying it is not there.
pub(super) async fn load(state: &AppState, web: &WebSession, id: i64) -> Result<Account, Response> {
    match state.store.account(id).await {
        Ok(Some(a)) => Ok(a),
        Ok(None) => Err(error_page(state, web, StatusCode::NOT_FOUND, "error-not-found")),
        Err(e) => Err(failure(state, web, e)),
    }
}

/// The account at `raw_id`, if the caller may edit it.
pub(super) async fn load_editable(
    state: &AppState,
    web: &WebSession,
    caller: &Caller,
    raw_id: &str,
) -> Result<Account, Response> {
    let account = load(state, web, id_of(state, web, raw_id)?).await?;
    if caller.may_edit(account_owner(&account)) {
        Ok(account)
    } else {
        Err(error_page(state, web, StatusCode::FORBIDDEN, "error-forbidden"))
    }
}

/// A form's problem, shown as the flash of the page it came from.
pub(super) fn problems(e: &Invalid) -> String {
    e.errors.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ")
}

/// Query pairs as a URL query string.
pub(super) fn encode(pairs: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}
