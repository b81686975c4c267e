//! Invoices: imported and saved by invoice id, never moving between accounts.

use super::{account_exists, decimal, first_row, opt_day, with_account_ids};
use crate::import::{finish_import, ImportSummary, RowError};
use crate::sql::{corrupt, day};
use crate::sql::{in_list, text, upsert_rows, Arg, Sql};
use crate::{Backend, Result, Store, Tx, Write};
use keepwell_core::billing::{Invoice, InvoiceStatus};
use keepwell_core::Invalid;
use sqlx::any::AnyRow;
use sqlx::Row;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceRecord {
    pub id: i64,
    pub account_id: i64,
    pub invoice: Invoice,
    pub source: String,
}

pub(super) const INVOICE_COLS: &str =
    "id, account_id, invoice_id, currency, amount, issued_on, due_on, paid_on, status, source";

pub async fn import_invoices(
    w: &mut Write,
    rows: &[(String, Invoice)],
    progress: impl Fn(usize),
) -> Result<ImportSummary, RowError> {
    let rows = with_account_ids(&mut w.tx, rows).await?;
    progress(rows.len() / 2);
    let summary = write_invoices(&mut w.tx, w.backend, w.at, &rows, "import").await?;
    progress(rows.len());
    finish_import(w, "invoice", summary).await.map_err(first_row)
}

/// Creates or updates one invoice of an account by its id, audited.
pub async fn save_invoice(w: &mut Write, account_id: i64, invoice: &Invoice) -> Result<InvoiceRecord> {
    account_exists(&mut w.tx, account_id).await?;
    let rec = store_invoice(w, account_id, invoice, "api").await?;
    w.audit("invoice.save", "account", Some(account_id.to_string()), None, Some(&rec.invoice)).await?;
    Ok(rec)
}

/// Creates or updates one invoice by its id, as told by `source` (the Stripe event that says so
/// is its record).
pub async fn store_invoice(w: &mut Write, account_id: i64, invoice: &Invoice, source: &str) -> Result<InvoiceRecord> {
    write_invoices(&mut w.tx, w.backend, w.at, &[(account_id, invoice.clone())], source).await.map_err(|e| e.error)?;
    let row = sqlx::query(&format!("SELECT {INVOICE_COLS} FROM invoices WHERE invoice_id = $1"))
        .bind(&invoice.invoice_id)
        .fetch_one(&mut *w.tx)
        .await?;
    invoice_from(&row)
}

pub async fn invoice_by_id(w: &mut Write, invoice_id: &str) -> Result<Option<InvoiceRecord>> {
    sqlx::query(&format!("SELECT {INVOICE_COLS} FROM invoices WHERE invoice_id = $1"))
        .bind(invoice_id)
        .fetch_optional(&mut *w.tx)
        .await?
        .as_ref()
        .map(invoice_from)
        .transpose()
}

impl Store {
    pub async fn account_invoices(&self, account_id: i64) -> Result<Vec<InvoiceRecord>> {
        sqlx::query(&format!(
            "SELECT {INVOICE_COLS} FROM invoices WHERE account_id = $1 ORDER BY issued_on DESC, id DESC"
        ))
        .bind(account_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(invoice_from)
        .collect()
    }
}

pub(super) fn invoice_from(r: &AnyRow) -> Result<InvoiceRecord> {
    Ok(InvoiceRecord {
        id: r.try_get("id")?,
        account_id: r.try_get("account_id")?,
        source: text(r, "source")?,
        invoice: Invoice {
            invoice_id: text(r, "invoice_id")?,
            currency: text(r, "currency")?,
            amount: decimal(r, "amount")?,
            issued_on: day(r, "issued_on")?,
            due_on: opt_day(r, "due_on")?,
            paid_on: opt_day(r, "paid_on")?,
            status: InvoiceStatus::parse(&text(r, "status")?).map_err(|_| corrupt("status"))?,
        },
    })
}

pub(super) async fn write_invoices(
    tx: &mut Tx,
    backend: Backend,
    now: i64,
    rows: &[(i64, Invoice)],
    source: &str,
) -> Result<ImportSummary, RowError> {
    let fail =
        |index: usize, field: &str, message: String| RowError { index, error: Invalid::field(field, message).into() };
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, (_, inv)) in rows.iter().enumerate() {
        if let Some(first) = seen.insert(&inv.invoice_id, i) {
            return Err(fail(
                i,
                "invoice_id",
                format!("invoice {:?} appears twice (rows {} and {})", inv.invoice_id, first + 1, i + 1),
            ));
        }
    }
    let ids: Vec<&str> = seen.keys().copied().collect();
    let mut owner: HashMap<String, i64> = HashMap::new();
    for chunk in ids.chunks(500) {
        let mut sql = Sql::new("SELECT invoice_id, account_id FROM invoices WHERE invoice_id IN ");
        in_list(&mut sql, chunk);
        for r in sql.query().fetch_all(&mut **tx).await.map_err(|e| first_row(e.into()))? {
            owner.insert(text(&r, "invoice_id").unwrap_or_default(), r.try_get("account_id").unwrap_or_default());
        }
    }
    let mut summary = ImportSummary::default();
    for (i, (account, inv)) in rows.iter().enumerate() {
        match owner.get(&inv.invoice_id) {
            Some(o) if o != account => {
                return Err(fail(
                    i,
                    "invoice_id",
                    format!("invoice {:?} belongs to another account (id {o})", inv.invoice_id),
                ))
            }
            Some(_) => summary.updated += 1,
            None => summary.created += 1,
        }
    }
    let cols = [
        "account_id",
        "invoice_id",
        "currency",
        "amount",
        "issued_on",
        "due_on",
        "paid_on",
        "status",
        "source",
        "created_at",
        "updated_at",
    ];
    let values = rows
        .iter()
        .map(|(account, inv)| {
            vec![
                Arg::I64(*account),
                Arg::Text(inv.invoice_id.clone()),
                Arg::Text(inv.currency.clone()),
                Arg::Text(inv.amount.normalize().to_string()),
                Arg::Text(inv.issued_on.to_string()),
                Arg::MaybeText(inv.due_on.map(|d| d.to_string())),
                Arg::MaybeText(inv.paid_on.map(|d| d.to_string())),
                Arg::Text(inv.status.as_str().into()),
                Arg::Text(source.into()),
                Arg::I64(now),
                Arg::I64(now),
            ]
        })
        .collect();
    let update = " ON CONFLICT (invoice_id) DO UPDATE SET currency = excluded.currency, amount = excluded.amount, \
        issued_on = excluded.issued_on, due_on = excluded.due_on, paid_on = excluded.paid_on, status = excluded.status, \
        source = excluded.source, updated_at = excluded.updated_at";
    upsert_rows(tx, backend, "invoices", &cols, values, update).await.map_err(|e| first_row(e.into()))?;
    Ok(summary)
}
