//! What every import shares: its summary, its failed row, its audit entry, and the account each
//! row's external id names.

use crate::sql::text;
use crate::{Result, StoreError, Write};
use serde::Serialize;
use sqlx::Row;

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ImportSummary {
    pub created: u64,
    pub updated: u64,
    /// Waiting usage events that reached the imported accounts.
    #[serde(skip_serializing_if = "is_zero")]
    pub attributed: i64,
}

fn is_zero(n: &i64) -> bool {
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
