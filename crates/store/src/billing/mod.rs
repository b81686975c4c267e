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
pub(crate) use revenue::fx_table_in;
pub use revenue::{save_fx_rates, RevenueFilter};
pub use stripe::{record_stripe_event, stripe_event_seen};

pub(crate) use crate::import::{first_row, with_account_ids};

use crate::sql::{corrupt, opt_text, text};
use crate::{Result, StoreError, Tx};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use sqlx::any::AnyRow;
use sqlx::Row;
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
