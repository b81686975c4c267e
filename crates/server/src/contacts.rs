//! The contacts use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use keepwell_core::contact::AccountRef;
use keepwell_core::Invalid;
use keepwell_store::contacts::{Contact, ContactFilter};

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
pub async fn require_account_edit(state: &AppState, caller: &Caller, account: &AccountRef) -> ApiResult<()> {
    if caller.role >= keepwell_core::Role::Manager {
        return Ok(());
    }
    let found = match account {
        AccountRef::Id(id) => state.store.account(*id).await?,
        AccountRef::ExternalId(v) => state.store.account_by_external_id(v).await?,
    };
    match found {
        Some(a) => caller.require_edit(a.owner.as_ref().map(|o| o.id)),
        // The store names the missing account precisely.
        None => Ok(()),
    }
}
