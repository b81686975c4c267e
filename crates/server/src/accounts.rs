//! The accounts use cases, which the API and the pages both call.

use crate::cause::Caller;
use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::refused::{Outcome, Refused};
use crate::state::AppState;
use keepwell_core::account::NewAccount;
use keepwell_core::health::Band;
use keepwell_core::{Invalid, LifecycleStage, Role};
use keepwell_store::accounts::{self, Account, AccountFilter, AccountSort};
use keepwell_store::import::{ImportSummary, RowError};
use keepwell_store::Store;

/// Reads the list filters shared by the API and the accounts page.
pub fn filter_from(params: &Params, me: Option<i64>) -> Result<AccountFilter, Invalid> {
    let mut invalid = Invalid::default();
    let owner = params.owner(me, &mut invalid);
    let stage = params.parsed("stage", &mut invalid, |s| {
        LifecycleStage::ALL.into_iter().find(|st| st.as_str() == s).ok_or_else(|| {
            format!(
                "unknown lifecycle stage {s:?}: expected one of {}",
                LifecycleStage::ALL.map(|s| s.as_str()).join(", ")
            )
        })
    });
    let sort_raw = params.text("sort").unwrap_or_else(|| "name".into());
    let (descending, key) = match sort_raw.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort_raw.as_str()),
    };
    let sort = match key {
        "name" => AccountSort::Name,
        "created_at" => AccountSort::Created,
        "updated_at" => AccountSort::Updated,
        "employees" => AccountSort::Employees,
        other => {
            invalid.push(
                "sort",
                format!("{other:?}: sort by name, created_at, updated_at or employees, with - for descending"),
            );
            AccountSort::Name
        }
    };
    let limit = params.limit(&mut invalid);
    let bands: Vec<(&str, Option<Band>)> = Band::ALL.iter().map(|b| (b.as_str(), Some(*b))).collect();
    let band = params.choice("band", &bands, None, &mut invalid);
    invalid.into_result(AccountFilter {
        q: params.text("q"),
        owner,
        stage,
        tag: params.text("tag"),
        country: params.text("country"),
        band,
        sort,
        descending,
        limit,
        cursor: params.text("cursor"),
    })
}

/// AccountPage: one page of accounts.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct AccountPage {
    data: Vec<Account>,
    next_cursor: Option<String>,
}

pub async fn load(state: &AppState, id: i64) -> ApiResult<Account> {
    state.store.account(id).await?.ok_or_else(|| ApiError::NotFound(format!("no account with id {id}")))
}

/// Creates an account (or adopts the one a Segment group call made for one of its ids), then
/// gives it the events that waited for its ids. A CSM's new account is theirs, and only theirs.
pub async fn create(store: &Store, caller: &Caller, mut new: NewAccount) -> Outcome<Account> {
    if caller.role == Role::Csm {
        let named = match (&new.owner_id, &new.owner_email) {
            (Some(id), _) => Some(*id),
            (None, Some(email)) => store.user_by_email(email).await?.map(|u| u.id).or(Some(-1)),
            (None, None) => None,
        };
        if named.is_some_and(|id| Some(id) != caller.user_id) {
            return Err(Refused::Forbidden("a csm may create accounts only for themselves".into()));
        }
        new.owner_id = caller.user_id;
        new.owner_email = None;
    }
    let mut w = store.write(&caller.actor).await?;
    let account = accounts::create(&mut w, &new).await?;
    w.commit().await?;
    store.pick_up(&account.external_ids).await?;
    Ok(account)
}

/// Replaces an account's fields by whoever may edit it; only a manager hands it to someone else.
pub async fn update(store: &Store, caller: &Caller, id: i64, new: &NewAccount) -> Outcome<Account> {
    let mut w = store.write(&caller.actor).await?;
    let current = store_account(&mut w, id).await?;
    let owner = current.owner.as_ref().map(|o| o.id);
    caller.require_edit(owner)?;
    if caller.role == Role::Csm && (new.owner_id != owner || new.owner_email.is_some()) {
        return Err(Refused::Forbidden("a csm may not hand an account to someone else; ask a manager".into()));
    }
    let changed = accounts::update(&mut w, id, new).await?;
    w.commit().await?;
    store.pick_up(&changed.added_ids()).await?;
    Ok(changed.after)
}

/// Deletes an account with its contacts and external ids; returns it as it was.
pub async fn delete(store: &Store, caller: &Caller, id: i64) -> Outcome<Account> {
    let mut w = store.write(&caller.actor).await?;
    let current = store_account(&mut w, id).await?;
    caller.require_edit(current.owner.as_ref().map(|o| o.id))?;
    let gone = accounts::delete(&mut w, id).await?;
    w.commit().await?;
    Ok(gone)
}

/// Imports accounts all-or-nothing (a dry run checks everything and writes nothing), then gives
/// them the events that waited for their ids.
pub async fn import(
    store: &Store,
    caller: &Caller,
    rows: &[NewAccount],
    dry_run: bool,
    progress: impl FnMut(usize),
) -> Result<ImportSummary, RowError> {
    let mut summary =
        caller.import(store, (rows.len(), dry_run), async |w| accounts::import(w, rows, progress).await).await?;
    if !dry_run {
        let at_end = |error| RowError { index: rows.len(), error };
        // Events that waited for these ids (a Segment history imported first) reach them now.
        let ids: Vec<_> = rows.iter().flat_map(|r| r.external_ids.iter().cloned()).collect();
        summary.attributed = store.pick_up(&ids).await.map_err(at_end)?.events;
    }
    Ok(summary)
}

/// The account as the write sees it.
async fn store_account(w: &mut keepwell_store::Write, id: i64) -> Outcome<Account> {
    accounts::load(w, id).await.map_err(Refused::from)
}
