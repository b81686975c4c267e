//! Forward-only migrations, embedded per backend and applied at start and by `keepwell migrate`.

use crate::{now_micros, Backend, Result, Store, StoreError};
use sqlx::Row;

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Never edit a landed migration: add the next one.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "revenue",
        sqlite: include_str!("../migrations/sqlite/0002_revenue.sql"),
        postgres: include_str!("../migrations/postgres/0002_revenue.sql"),
    },
    Migration {
        version: 3,
        name: "revenue_version",
        sqlite: include_str!("../migrations/sqlite/0003_revenue_version.sql"),
        postgres: include_str!("../migrations/postgres/0003_revenue_version.sql"),
    },
    Migration {
        version: 4,
        name: "usage",
        sqlite: include_str!("../migrations/sqlite/0004_usage.sql"),
        postgres: include_str!("../migrations/postgres/0004_usage.sql"),
    },
    Migration {
        version: 5,
        name: "event_index",
        sqlite: include_str!("../migrations/sqlite/0005_event_index.sql"),
        postgres: include_str!("../migrations/postgres/0005_event_index.sql"),
    },
    Migration {
        version: 6,
        name: "usage_activity",
        sqlite: include_str!("../migrations/sqlite/0006_usage_activity.sql"),
        postgres: include_str!("../migrations/postgres/0006_usage_activity.sql"),
    },
    Migration {
        version: 7,
        name: "health",
        sqlite: include_str!("../migrations/sqlite/0007_health.sql"),
        postgres: include_str!("../migrations/postgres/0007_health.sql"),
    },
    Migration {
        version: 8,
        name: "hardening",
        sqlite: include_str!("../migrations/sqlite/0008_hardening.sql"),
        postgres: include_str!("../migrations/postgres/0008_hardening.sql"),
    },
    Migration {
        version: 9,
        name: "attribution",
        sqlite: include_str!("../migrations/sqlite/0009_attribution.sql"),
        postgres: include_str!("../migrations/postgres/0009_attribution.sql"),
    },
    Migration {
        version: 10,
        name: "terms",
        sqlite: include_str!("../migrations/sqlite/0010_terms.sql"),
        postgres: include_str!("../migrations/postgres/0010_terms.sql"),
    },
    Migration {
        version: 11,
        name: "event_order",
        sqlite: include_str!("../migrations/sqlite/0011_event_order.sql"),
        postgres: include_str!("../migrations/postgres/0011_event_order.sql"),
    },
];

/// The schema version this build expects.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub(crate) async fn run(store: &Store) -> Result<Vec<i64>> {
    run_until(store, latest()).await
}

/// Applies the pending migrations up to `version` (tests upgrade a database of an older schema).
pub(crate) async fn run_until(store: &Store, version: i64) -> Result<Vec<i64>> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS keepwell_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    if store.backend() == Backend::Postgres {
        // Two nodes starting together must not both migrate.
        sqlx::query("SELECT pg_advisory_xact_lock(7201)").execute(&mut *tx).await?;
    }
    let applied: Vec<i64> = sqlx::query("SELECT version FROM keepwell_migrations")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    if let Some(newer) = applied.iter().find(|v| **v > latest()) {
        return Err(StoreError::Config(format!(
            "the database has schema version {newer}, newer than this keepwell ({}): upgrade keepwell",
            latest()
        )));
    }
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version) && m.version <= version) {
        let sql = match store.backend() {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO keepwell_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(now_micros())
            .execute(&mut *tx)
            .await?;
        done.push(m.version);
    }
    tx.commit().await?;
    Ok(done)
}
