//! The contacts list and the contact form.

use super::{failure, field, form_failure, id_of, FormData, PageResult};
use crate::auth::{Auth, Csm, Viewer};
use crate::cause::Caller;
use crate::contacts::require_account_edit;
use crate::input::contact_as_input;
use crate::state::AppState;
use crate::web::session::WebSession;
use crate::web::{error_page, redirect_with, render, render_status, tr};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Form};
use keepwell_core::contact::{AccountRef, ContactInput};
use keepwell_core::ContactRole;
use keepwell_store::contacts::{Contact, ContactFilter};
use minijinja::context;
use std::collections::{BTreeMap, HashMap};

const FORM_FIELDS: [&str; 6] = ["email", "name", "title", "role", "locale", "external_user_ids"];

#[tracing::instrument(skip_all)]
pub async fn list(
    _auth: Auth<Viewer>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let f = ContactFilter { q: q.get("q").cloned(), limit: 50, cursor: q.get("cursor").cloned(), ..Default::default() };
    let page = state.store.contacts(&f).await.map_err(|e| failure(&state, &web, e))?;
    let next_url = page.next_cursor.as_ref().map(|c| {
        form_urlencoded::Serializer::new(String::from("/contacts?"))
            .append_pair("q", q.get("q").map(String::as_str).unwrap_or(""))
            .append_pair("cursor", c)
            .finish()
    });
    Ok(render(
        &state,
        &web,
        "contacts.html",
        context! { nav => "contacts", contacts => page.data, q => q.get("q"), next_url },
    )
    .await)
}

async fn load(state: &AppState, web: &WebSession, id: i64) -> Result<Contact, Response> {
    match state.store.contact(id).await {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(error_page(state, web, StatusCode::NOT_FOUND, "error-not-found")),
        Err(e) => Err(failure(state, web, e)),
    }
}

async fn may_edit(state: &AppState, web: &WebSession, caller: &Caller, account_id: i64) -> Result<(), Response> {
    require_account_edit(&state.store, caller, &AccountRef::Id(account_id))
        .await
        .map_err(|_| error_page(state, web, StatusCode::FORBIDDEN, "error-forbidden"))
}

async fn form_page(
    state: &AppState,
    web: &WebSession,
    status: StatusCode,
    account_id: i64,
    contact: Option<&Contact>,
    values: BTreeMap<&'static str, String>,
    errors: BTreeMap<String, String>,
) -> PageResult {
    let account = state.store.account(account_id).await.map_err(|e| failure(state, web, e))?;
    let Some(account) = account else { return Err(error_page(state, web, StatusCode::NOT_FOUND, "error-not-found")) };
    Ok(render_status(
        state,
        web,
        status,
        "contact_form.html",
        context! {
            nav => "accounts", account, contact, values, errors,
            roles => ContactRole::ALL.map(|r| r.as_str()),
        },
    )
    .await)
}

fn values_of(c: &Contact) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("email", c.email.clone()),
        ("name", c.name.clone().unwrap_or_default()),
        ("title", c.title.clone().unwrap_or_default()),
        ("role", c.role.map(|r| r.to_string()).unwrap_or_default()),
        ("locale", c.locale.clone().unwrap_or_default()),
        ("external_user_ids", c.external_user_ids.join(", ")),
    ])
}

async fn save(
    state: &AppState,
    web: &WebSession,
    caller: &Caller,
    account_id: i64,
    current: Option<&Contact>,
    f: &FormData,
) -> PageResult {
    let values: BTreeMap<&'static str, String> =
        FORM_FIELDS.iter().map(|k| (*k, f.get(*k).cloned().unwrap_or_default())).collect();
    let input = ContactInput {
        account_id: Some(account_id),
        email: field(f, "email"),
        name: field(f, "name"),
        title: field(f, "title"),
        role: field(f, "role"),
        locale: field(f, "locale"),
        external_user_ids: keepwell_core::account::split_tags(&field(f, "external_user_ids").unwrap_or_default()),
        attributes: current.map(|c| contact_as_input(c).attributes).unwrap_or_default(),
        ..Default::default()
    };
    let result = match input.validate() {
        Err(e) => Err(e.into()),
        Ok(new) => match current {
            None => crate::contacts::create(&state.store, caller, &new).await,
            Some(c) => crate::contacts::update(&state.store, caller, c, &new).await,
        },
    };
    match result {
        Ok(c) => Ok(redirect_with(
            state,
            web,
            &format!("/accounts/{account_id}"),
            &tr(state, web, "contact-saved", &[("email", c.email.clone().into())]),
        )
        .await),
        Err(e) => {
            let errors = form_failure(state, web, e)?;
            form_page(state, web, StatusCode::UNPROCESSABLE_ENTITY, account_id, current, values, errors).await
        }
    }
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn new_form(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let account_id = id_of(&state, &web, &id)?;
    may_edit(&state, &web, &auth, account_id).await?;
    form_page(&state, &web, StatusCode::OK, account_id, None, BTreeMap::new(), BTreeMap::new()).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn create(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let account_id = id_of(&state, &web, &id)?;
    may_edit(&state, &web, &auth, account_id).await?;
    save(&state, &web, &auth, account_id, None, &f).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn edit_form(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let c = load(&state, &web, id_of(&state, &web, &id)?).await?;
    may_edit(&state, &web, &auth, c.account_id).await?;
    form_page(&state, &web, StatusCode::OK, c.account_id, Some(&c), values_of(&c), BTreeMap::new()).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn update(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(f): Form<FormData>,
) -> PageResult {
    let c = load(&state, &web, id_of(&state, &web, &id)?).await?;
    may_edit(&state, &web, &auth, c.account_id).await?;
    save(&state, &web, &auth, c.account_id, Some(&c), &f).await
}

#[tracing::instrument(skip_all, fields(id = %id))]
pub async fn delete(
    auth: Auth<Csm>,
    Extension(web): Extension<WebSession>,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> PageResult {
    let c = load(&state, &web, id_of(&state, &web, &id)?).await?;
    may_edit(&state, &web, &auth, c.account_id).await?;
    crate::contacts::delete(&state.store, &auth, &c).await.map_err(|e| failure(&state, &web, e))?;
    Ok(redirect_with(
        &state,
        &web,
        &format!("/accounts/{}", c.account_id),
        &tr(&state, &web, "contact-deleted", &[("email", c.email.clone().into())]),
    )
    .await)
}
