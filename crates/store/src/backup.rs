//! Consistent online backup and restore as JSON lines: one header, then one line per row, read in
//! one snapshot transaction. The format is the same for both backends, so a backup of an SQLite
//! workspace restores into PostgreSQL and back.

use crate::{migrate, Backend, Result, Store, StoreError};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::{Column, Row};
use std::io::{BufRead, Write};

/// Every table, parents before children, so rows restore without breaking foreign keys.
const TABLES: &[&str] = &[
    "users",
    "sessions",
    "api_tokens",
    "write_keys",
    "accounts",
    "account_tags",
    "external_ids",
    "contacts",
    "contact_user_ids",
    "audit_log",
    "subscription_periods",
    "invoices",
    "fx_rates",
    "renewals",
    "stripe_events",
    "events",
    "event_ids",
    "event_index",
    "usage_users",
    "usage_anonymous",
    "usage_daily",
    "usage_user_days",
    "plan_features",
    "usage_bits",
    "usage_last",
    "usage_totals",
    "usage_accounts",
    "segments",
    "segment_changes",
    "lifecycle_rules",
    "stage_changes",
    "scorecards",
    "scorecard_revisions",
    "health_snapshots",
    "sentiments",
    "health_overrides",
    "daily_passes",
    "webhook_endpoints",
    "deliveries",
    "delivery_attempts",
    "notification_settings",
    "interactions",
    "interaction_contacts",
    "interaction_members",
    "tasks",
    "task_comments",
    "notifications",
    "playbooks",
    "playbook_versions",
    "playbook_enrolments",
    "playbook_runs",
    "playbook_actions",
    "playbook_simulations",
];

/// Tables whose `id` comes from a sequence on PostgreSQL.
const SERIAL: &[&str] = &[
    "users",
    "api_tokens",
    "write_keys",
    "accounts",
    "contacts",
    "audit_log",
    "subscription_periods",
    "invoices",
    "renewals",
    "events",
    "segments",
    "lifecycle_rules",
    "stage_changes",
    "scorecards",
    "sentiments",
    "health_overrides",
    "webhook_endpoints",
    "deliveries",
    "delivery_attempts",
    "interactions",
    "tasks",
    "task_comments",
    "notifications",
    "playbooks",
    "playbook_runs",
    "playbook_actions",
    "playbook_simulations",
];

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    format: String,
    schema: i64,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Line {
    table: String,
    row: Map<String, Value>,
}

/// How many rows a backup or restore moved.
#[derive(Debug, Default, Clone, Serialize)]
pub struct BackupSummary {
    pub rows: u64,
    pub tables: usize,
}

const FORMAT: &str = "keepwell-backup/1";

impl Store {
    /// Writes every row to `out` from one consistent snapshot, while the server keeps running.
    pub async fn backup(&self, out: &mut impl Write) -> Result<BackupSummary> {
        let begin = match self.backend() {
            Backend::Sqlite => "BEGIN",
            Backend::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        };
        let mut tx = self.pool().begin_with(begin).await?;
        let header = Header { format: FORMAT.into(), schema: migrate::latest(), created_at: self.clock().now() };
        let io = |e: std::io::Error| StoreError::Config(format!("cannot write the backup: {e}"));
        writeln!(out, "{}", serde_json::to_string(&header).unwrap_or_default()).map_err(io)?;
        let mut summary = BackupSummary { rows: 0, tables: TABLES.len() };
        for table in TABLES {
            let rows = sqlx::query(&format!("SELECT * FROM {table}")).fetch_all(&mut *tx).await?;
            for r in rows {
                let mut row = Map::new();
                for (i, col) in r.columns().iter().enumerate() {
                    let v = match r.try_get::<Option<i64>, _>(i) {
                        Ok(Some(n)) => Value::from(n),
                        Ok(None) => Value::Null,
                        Err(_) => r.try_get::<Option<String>, _>(i)?.map(Value::from).unwrap_or(Value::Null),
                    };
                    row.insert(col.name().to_owned(), v);
                }
                let line = Line { table: (*table).to_owned(), row };
                writeln!(out, "{}", serde_json::to_string(&line).unwrap_or_default()).map_err(io)?;
                summary.rows += 1;
            }
        }
        tx.rollback().await?;
        out.flush().map_err(io)?;
        Ok(summary)
    }

    /// Loads a backup into this database, which must be migrated and empty. All or nothing.
    pub async fn restore(&self, input: impl BufRead) -> Result<BackupSummary> {
        let mut lines = input.lines().enumerate();
        let bad = |n: usize, m: String| StoreError::Config(format!("backup line {}: {m}", n + 1));
        let (n, first) = lines.next().ok_or_else(|| StoreError::Config("the backup file is empty".into()))?;
        let first = first.map_err(|e| bad(n, e.to_string()))?;
        let header: Header = serde_json::from_str(&first).map_err(|_| bad(n, "not a keepwell backup".into()))?;
        if header.format != FORMAT {
            return Err(bad(n, format!("unknown format {:?}", header.format)));
        }
        if header.schema != migrate::latest() {
            return Err(bad(
                n,
                format!("made by schema version {}, this keepwell has {}", header.schema, migrate::latest()),
            ));
        }
        let mut tx = self.begin().await?;
        for table in ["users", "accounts"] {
            let count: i64 =
                sqlx::query(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&mut *tx).await?.try_get(0)?;
            if count > 0 {
                return Err(StoreError::Config(format!(
                    "the database already holds {table}; restore into a new, empty data dir or database"
                )));
            }
        }
        // The migrations made this one-row table; the backup's row says where its rollups stand.
        sqlx::query("DELETE FROM event_index").execute(&mut *tx).await?;
        // A migrated database starts with the default scorecard; the backup has its own.
        sqlx::query("DELETE FROM scorecards").execute(&mut *tx).await?;
        // … and with the built-in playbooks.
        sqlx::query("DELETE FROM playbooks").execute(&mut *tx).await?;
        let mut summary = BackupSummary { rows: 0, tables: TABLES.len() };
        for (n, line) in lines {
            let line = line.map_err(|e| bad(n, e.to_string()))?;
            if line.trim().is_empty() {
                continue;
            }
            let Line { table, row } = serde_json::from_str(&line).map_err(|e| bad(n, e.to_string()))?;
            if !TABLES.contains(&table.as_str()) {
                return Err(bad(n, format!("unknown table {table:?}")));
            }
            let mut cols = Vec::new();
            let mut values = Vec::new();
            let mut args = sqlx::any::AnyArguments::default();
            let mut k = 0;
            for (col, v) in &row {
                if !col.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(bad(n, format!("bad column name {col:?}")));
                }
                cols.push(col.clone());
                use sqlx::Arguments;
                let added = match v {
                    Value::Null => {
                        values.push("NULL".to_owned());
                        continue;
                    }
                    Value::Number(x) => args.add(x.as_i64().ok_or_else(|| bad(n, format!("{col}: not an integer")))?),
                    Value::String(s) => args.add(s.clone()),
                    other => return Err(bad(n, format!("{col}: unexpected value {other}"))),
                };
                added.map_err(|e| bad(n, e.to_string()))?;
                k += 1;
                values.push(format!("${k}"));
            }
            let sql = format!("INSERT INTO {table} ({}) VALUES ({})", cols.join(", "), values.join(", "));
            sqlx::query_with(&sql, args).execute(&mut *tx).await.map_err(|e| bad(n, e.to_string()))?;
            summary.rows += 1;
        }
        // The bulk event index is derived, not backed up: build it for the restored events.
        crate::usage::reindex(&mut tx, self.clock().now()).await?;
        // So are the accounts list's figures.
        crate::figures::refresh_all(&mut tx, self.backend(), self.reporting_currency(), self.clock().today()).await?;
        if self.backend() == Backend::Postgres {
            for table in SERIAL {
                sqlx::query(&format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                ))
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(summary)
    }
}
