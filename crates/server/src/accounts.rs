//! The accounts use cases, which the API and the pages both call.

use crate::error::{ApiError, ApiResult};
use crate::params::Params;
use crate::state::AppState;
use keepwell_core::health::Band;
use keepwell_core::{Invalid, LifecycleStage};
use keepwell_store::accounts::{Account, AccountFilter, AccountSort};

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
