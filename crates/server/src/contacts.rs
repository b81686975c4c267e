//! The contacts use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::refused::Outcome;
use crate::state::AppState;
use keepwell_core::contact::{AccountRef, NewContact};
use keepwell_core::Invalid;
use keepwell_store::contacts::{self, Contact, ContactFilter};
use keepwell_store::import::{ImportSummary, RowError};
use keepwell_store::Store;

/// ContactPage: one page of contacts.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct ContactPage {
    data: Vec<Contact>,
    next_cursor: Option<String>,
}

pub(crate) fn filter(params: &Params, account_id: Option<i64>) -> Result<ContactFilter, Invalid> {
    let mut invalid = Invalid::default();
    let account_id = account_id.or_else(|| params.id("account_id", &mut invalid));
    let limit = params.limit(&mut invalid);
    invalid.into_result(ContactFilter { account_id, q: params.text("q"), limit, cursor: params.text("cursor") })
}

pub(crate) async fn load(state: &AppState, id: i64) -> ApiResult<Contact> {
    state.store.contact(id).await?.ok_or_else(|| ApiError::NotFound(format!("no contact with id {id}")))
}

/// A contact is edited by whoever may edit its account.
pub async fn require_account_edit(store: &Store, caller: &Caller, account: &AccountRef) -> Outcome<()> {
    if caller.role >= keepwell_core::Role::Manager {
        return Ok(());
    }
    let found = match account {
        AccountRef::Id(id) => store.account(*id).await?,
        AccountRef::ExternalId(v) => store.account_by_external_id(v).await?,
    };
    match found {
        Some(a) => caller.require_edit(a.owner.as_ref().map(|o| o.id)),
        // The store names the missing account precisely.
        None => Ok(()),
    }
}

pub async fn create(store: &Store, caller: &Caller, new: &NewContact) -> Outcome<Contact> {
    require_account_edit(store, caller, &new.account).await?;
    let mut w = store.write(&caller.actor).await?;
    let contact = contacts::create(&mut w, new).await?;
    w.commit().await?;
    Ok(contact)
}

/// Changes a contact by whoever may edit its account, and the account it moves to.
pub async fn update(store: &Store, caller: &Caller, current: &Contact, new: &NewContact) -> Outcome<Contact> {
    require_account_edit(store, caller, &AccountRef::Id(current.account_id)).await?;
    require_account_edit(store, caller, &new.account).await?;
    let mut w = store.write(&caller.actor).await?;
    let contact = contacts::update(&mut w, current.id, new).await?;
    w.commit().await?;
    Ok(contact)
}

pub async fn delete(store: &Store, caller: &Caller, current: &Contact) -> Outcome<Contact> {
    require_account_edit(store, caller, &AccountRef::Id(current.account_id)).await?;
    let mut w = store.write(&caller.actor).await?;
    let gone = contacts::delete(&mut w, current.id).await?;
    w.commit().await?;
    Ok(gone)
}

/// Imports contacts all-or-nothing; a dry run checks everything and writes nothing.
pub async fn import(
    store: &Store,
    caller: &Caller,
    rows: &[NewContact],
    dry_run: bool,
    progress: impl FnMut(usize),
) -> Result<ImportSummary, RowError> {
    caller.import(store, (rows.len(), dry_run), async |w| contacts::import(w, rows, progress).await).await
}

/// The token of contact `id`'s unsubscribe link: its id and a signature of it, so the link needs
/// no login and cannot be forged for another contact.
pub fn unsubscribe_token(state: &AppState, id: i64) -> String {
    format!("{id}-{}", state.settings.secret_key.sign(&format!("unsubscribe:{id}")))
}

/// The contact an unsubscribe token names, when its signature holds.
pub fn unsubscribing(state: &AppState, token: &str) -> Option<i64> {
    let (id, signature) = token.split_once('-')?;
    let id: i64 = id.parse().ok()?;
    state.settings.secret_key.verify(&format!("unsubscribe:{id}"), signature).then_some(id)
}

/// Unsubscribes the contact of a signed link from playbook e-mails (RFC 8058's one click): its
/// address and whether it was already; None for a link that does not hold or a contact gone.
pub async fn unsubscribe(state: &AppState, token: &str) -> Outcome<Option<(String, bool)>> {
    let Some(id) = unsubscribing(state, token) else { return Ok(None) };
    Caller::system("unsubscribe").decide(&state.store, async |w| contacts::unsubscribe(w, id).await).await
}
