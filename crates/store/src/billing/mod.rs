//! Billing: subscription periods, invoices, FX rates and renewals. Every write checks the whole
//! input first (unknown accounts, overlapping periods, ids moving between accounts) and lands in
//! one transaction, so a refused file or request leaves nothing behind.

mod invoices;
mod periods;
mod renewals;
mod revenue;
mod stripe;

pub use invoices::{import_invoices, invoice_by_id, save_invoice, store_invoice, InvoiceRecord};
pub use periods::{
    delete_period, import_periods, replace_subscription, save_period, subscription_periods, PeriodRecord,
};
pub use renewals::{record_renewal, Renewal, RenewalFilter, RenewalValue};
pub use revenue::{save_fx_rates, RevenueFilter};
pub use stripe::{record_stripe_event, stripe_event_seen};

use crate::import::{resolve_external_id, RowError};
use crate::sql::{corrupt, opt_text, text};
use crate::{Result, StoreError, Tx};
use chrono::NaiveDate;
use keepwell_core::Invalid;
use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;
use std::str::FromStr;

pub(super) fn opt_day(row: &AnyRow, col: &str) -> Result<Option<NaiveDate>> {
    opt_text(row, col)?.map(|t| NaiveDate::from_str(&t).map_err(|_| corrupt(col))).transpose()
}

pub(super) fn decimal(row: &AnyRow, col: &str) -> Result<Decimal> {
    Decimal::from_str(&text(row, col)?).map_err(|_| corrupt(col))
}

pub(super) fn opt_decimal(row: &AnyRow, col: &str) -> Result<Option<Decimal>> {
    opt_text(row, col)?.map(|t| Decimal::from_str(&t).map_err(|_| corrupt(col))).transpose()
}

/// `'a', 'b'` for an `IN (…)` list of text values, bound as arguments.
/// A failure not tied to one row, reported on the first.
pub(super) fn first_row(error: StoreError) -> RowError {
    RowError { index: 0, error }
}

/// Replaces each row's account external id by the account's id (answers are remembered); an
/// unknown id fails its row.
pub(super) async fn with_account_ids<T: Clone>(tx: &mut Tx, rows: &[(String, T)]) -> Result<Vec<(i64, T)>, RowError> {
    let mut known: HashMap<&str, i64> = HashMap::new();
    let mut out = Vec::with_capacity(rows.len());
    for (index, (ext, row)) in rows.iter().enumerate() {
        let id = match known.get(ext.as_str()) {
            Some(id) => *id,
            None => {
                let found = resolve_external_id(tx, ext).await.map_err(|error| RowError { index, error })?;
                let id = found.ok_or_else(|| RowError {
                    index,
                    error: Invalid::field("account_external_id", format!("no account has the external id {ext:?}"))
                        .into(),
                })?;
                known.insert(ext, id);
                id
            }
        };
        out.push((id, row.clone()));
    }
    Ok(out)
}

pub(super) fn opt_term(r: &AnyRow) -> Result<Option<u32>> {
    let t: Option<i64> = r.try_get("term_months")?;
    t.map(|t| u32::try_from(t).map_err(|_| corrupt("term_months"))).transpose()
}

pub(super) async fn account_exists(tx: &mut Tx, id: i64) -> Result<()> {
    sqlx::query("SELECT 1 FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut **tx)
        .await?
        .map(|_| ())
        .ok_or_else(|| StoreError::NotFound(format!("no account with id {id}")))
}
