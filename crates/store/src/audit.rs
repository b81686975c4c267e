//! The audit log: who changed what, when, before → after. Written in the same transaction as the
//! change it records, so neither exists without the other.

use crate::sql::{opt_text, text, Arg, Page, Sql};
use crate::{get_opt_i64, instant, Result, Store, StoreError, Tx};
use serde::Serialize;
use sqlx::Row;

/// Who is acting: a person (by session or API token) or the system (CLI, importer).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub user_id: Option<i64>,
    /// How the log shows the actor: an e-mail, `token:NAME`, `cli`.
    pub label: String,
}

impl Actor {
    pub fn system(label: &str) -> Actor {
        Actor { user_id: None, label: label.to_owned() }
    }
}

/// One recorded change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub actor: String,
    pub actor_user_id: Option<i64>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
}

/// Records that `actor` did `action` to `entity` at `at` (the store clock's instant of the change).
#[allow(clippy::too_many_arguments)] // one entry's columns, named at every call
pub(crate) async fn record<T: Serialize>(
    tx: &mut Tx,
    at: i64,
    actor: &Actor,
    action: &str,
    entity: &str,
    entity_id: Option<String>,
    before: Option<&T>,
    after: Option<&T>,
) -> Result<()> {
    let json = |v: Option<&T>| v.map(|v| serde_json::to_string(v).unwrap_or_default());
    sqlx::query(
        "INSERT INTO audit_log (at, actor, actor_user_id, action, entity, entity_id, before, after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(at)
    .bind(&actor.label)
    .bind(actor.user_id)
    .bind(action)
    .bind(entity)
    .bind(entity_id)
    .bind(json(before))
    .bind(json(after))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Which part of the log to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub entity: Option<String>,
    pub entity_id: Option<String>,
    pub limit: i64,
    pub cursor: Option<String>,
}

impl Store {
    /// The log, newest first.
    pub async fn audit_log(&self, f: &AuditFilter) -> Result<Page<AuditEntry>> {
        let mut sql = Sql::new("SELECT * FROM audit_log WHERE 1=1");
        if let Some(e) = &f.entity {
            sql.push(" AND entity = ").bind(Arg::Text(e.clone()));
        }
        if let Some(e) = &f.entity_id {
            sql.push(" AND entity_id = ").bind(Arg::Text(e.clone()));
        }
        crate::sql::newest_first(
            sql,
            self.pool(),
            (f.limit, f.cursor.as_deref()),
            |r| {
                let parse = |col: &str| -> Result<Option<serde_json::Value>> {
                    opt_text(r, col)?
                        .map(|s| serde_json::from_str(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
                        .transpose()
                };
                Ok(AuditEntry {
                    id: r.try_get("id")?,
                    at: instant(r.try_get("at")?),
                    actor: text(r, "actor")?,
                    actor_user_id: get_opt_i64(r, "actor_user_id")?,
                    action: text(r, "action")?,
                    entity: text(r, "entity")?,
                    entity_id: opt_text(r, "entity_id")?,
                    before: parse("before")?,
                    after: parse("after")?,
                })
            },
            |e| e.id,
        )
        .await
    }
}
