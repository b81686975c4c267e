//! What every import shares: its summary, its failed row, its audit entry, and the account each
//! row's external id names.

use crate::sql::text;
use crate::{Result, StoreError, Tx, Write};
use keepwell_core::Invalid;
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub created: u64,
    pub updated: u64,
    /// Rows that repeat what is already there (a re-import).
    #[serde(skip_serializing_if = "is_nothing")]
    pub unchanged: u64,
    /// Waiting usage events that reached the imported accounts.
    #[serde(skip_serializing_if = "is_zero")]
    pub attributed: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_nothing(n: &u64) -> bool {
    *n == 0
}

/// An import row that failed: its index in the input and why.
#[derive(Debug, thiserror::Error)]
#[error("row {index}: {error}")]
pub struct RowError {
    pub index: usize,
    pub error: StoreError,
}

/// Ends an import: records what it did in the import's write (a dry run is a write its caller
/// does not commit).
pub(crate) async fn finish_import(w: &mut Write, entity: &str, summary: ImportSummary) -> Result<ImportSummary> {
    w.audit(&format!("{entity}.import"), entity, None, None, Some(&summary)).await?;
    Ok(summary)
}

/// The one account that holds `value` under any kind.
pub(crate) async fn resolve_external_id(conn: &mut sqlx::AnyConnection, value: &str) -> Result<Option<i64>> {
    let rows = sqlx::query(
        "SELECT DISTINCT e.account_id, a.name FROM external_ids e JOIN accounts a ON a.id = e.account_id WHERE e.value = $1 ORDER BY e.account_id",
    )
    .bind(value.trim())
    .fetch_all(&mut *conn)
    .await?;
    match rows.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.try_get(0)?)),
        many => {
            let names = many
                .iter()
                .map(|r| Ok(format!("{} (id {})", text(r, "name")?, r.try_get::<i64, _>(0)?)))
                .collect::<Result<Vec<_>>>()?;
            Err(StoreError::conflict(
                "external_id",
                format!("external id {value:?} is held by more than one account: {}", names.join(" and ")),
            ))
        }
    }
}

/// A failure not tied to one row, reported on the first.
pub(crate) fn first_row(error: StoreError) -> RowError {
    RowError { index: 0, error }
}

/// Replaces each row's account external id by the account's id (answers are remembered); an
/// unknown id fails its row.
pub(crate) async fn with_account_ids<T: Clone>(tx: &mut Tx, rows: &[(String, T)]) -> Result<Vec<(i64, T)>, RowError> {
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
