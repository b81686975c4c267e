//! Forward-only migrations, embedded per backend and applied at start and by `keepwell migrate`.

use crate::{Backend, Result, Store, StoreError};
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
    Migration {
        version: 12,
        name: "deliveries",
        sqlite: include_str!("../migrations/sqlite/0012_deliveries.sql"),
        postgres: include_str!("../migrations/postgres/0012_deliveries.sql"),
    },
    Migration {
        version: 13,
        name: "notifications",
        sqlite: include_str!("../migrations/sqlite/0013_notifications.sql"),
        postgres: include_str!("../migrations/postgres/0013_notifications.sql"),
    },
    Migration {
        version: 14,
        name: "jobs",
        sqlite: include_str!("../migrations/sqlite/0014_jobs.sql"),
        postgres: include_str!("../migrations/postgres/0014_jobs.sql"),
    },
    Migration {
        version: 15,
        name: "delivery_claims",
        sqlite: include_str!("../migrations/sqlite/0015_delivery_claims.sql"),
        postgres: include_str!("../migrations/postgres/0015_delivery_claims.sql"),
    },
    Migration {
        version: 16,
        name: "fold_keeps_links",
        sqlite: include_str!("../migrations/sqlite/0016_fold_keeps_links.sql"),
        postgres: include_str!("../migrations/postgres/0016_fold_keeps_links.sql"),
    },
    Migration {
        version: 17,
        name: "interactions",
        sqlite: include_str!("../migrations/sqlite/0017_interactions.sql"),
        postgres: include_str!("../migrations/postgres/0017_interactions.sql"),
    },
    Migration {
        version: 18,
        name: "workspace",
        sqlite: include_str!("../migrations/sqlite/0018_workspace.sql"),
        postgres: include_str!("../migrations/postgres/0018_workspace.sql"),
    },
    Migration {
        version: 19,
        name: "task_counts",
        sqlite: include_str!("../migrations/sqlite/0019_task_counts.sql"),
        postgres: include_str!("../migrations/postgres/0019_task_counts.sql"),
    },
    Migration {
        version: 20,
        name: "playbooks",
        sqlite: include_str!("../migrations/sqlite/0020_playbooks.sql"),
        postgres: include_str!("../migrations/postgres/0020_playbooks.sql"),
    },
    Migration {
        version: 21,
        name: "playbook_actions",
        sqlite: include_str!("../migrations/sqlite/0021_playbook_actions.sql"),
        postgres: include_str!("../migrations/postgres/0021_playbook_actions.sql"),
    },
    Migration {
        version: 22,
        name: "playbook_waits",
        sqlite: include_str!("../migrations/sqlite/0022_playbook_waits.sql"),
        postgres: include_str!("../migrations/postgres/0022_playbook_waits.sql"),
    },
    Migration {
        version: 23,
        name: "stripe_event_accounts",
        sqlite: include_str!("../migrations/sqlite/0023_stripe_event_accounts.sql"),
        postgres: include_str!("../migrations/postgres/0023_stripe_event_accounts.sql"),
    },
    Migration {
        version: 24,
        name: "account_figures",
        sqlite: include_str!("../migrations/sqlite/0024_account_figures.sql"),
        postgres: include_str!("../migrations/postgres/0024_account_figures.sql"),
    },
];

/// The schema version this build expects.
pub fn latest() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

pub(crate) async fn run(store: &Store) -> Result<Vec<i64>> {
    run_until(store, latest()).await
}

/// What identifies a migration's text: SHA-256 of the backend's SQL (line endings as LF).
fn checksum(sql: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(sql.replace("\r\n", "\n").as_bytes()))
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

/// Applies the pending migrations up to `version` (tests upgrade a database of an older schema),
/// recording each one's checksum. A database that an older keepwell migrated has none: it records
/// this build's for what it has (an edit made before that cannot be told any more); from then on a
/// migration whose text differs from what ran stops the start, naming it.
pub(crate) async fn run_until(store: &Store, version: i64) -> Result<Vec<i64>> {
    let backend = store.backend();
    let mut tx = store.begin().await?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS keepwell_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL, checksum TEXT)",
    )
    .execute(&mut *tx)
    .await?;
    if backend == Backend::Postgres {
        // Two nodes starting together must not both migrate.
        sqlx::query("SELECT pg_advisory_xact_lock(7201)").execute(&mut *tx).await?;
    }
    // Keepwell before checksums made the table without the column.
    let has_checksum = match backend {
        Backend::Sqlite => "SELECT COUNT(*) FROM pragma_table_info('keepwell_migrations') WHERE name = 'checksum'",
        Backend::Postgres => {
            "SELECT COUNT(*) FROM information_schema.columns \
             WHERE table_name = 'keepwell_migrations' AND column_name = 'checksum' AND table_schema = current_schema()"
        }
    };
    if sqlx::query_scalar::<_, i64>(has_checksum).fetch_one(&mut *tx).await? == 0 {
        sqlx::query("ALTER TABLE keepwell_migrations ADD COLUMN checksum TEXT").execute(&mut *tx).await?;
    }
    let applied: Vec<(i64, Option<String>)> =
        sqlx::query("SELECT version, checksum FROM keepwell_migrations ORDER BY version")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<i64, _>(0)?, r.try_get::<Option<String>, _>(1)?)))
            .collect::<Result<_, sqlx::Error>>()?;
    if let Some((newer, _)) = applied.iter().find(|(v, _)| *v > latest()) {
        return Err(StoreError::Config(format!(
            "the database has schema version {newer}, newer than this keepwell ({}): upgrade keepwell",
            latest()
        )));
    }
    for (v, recorded) in &applied {
        let Some(m) = MIGRATIONS.iter().find(|m| m.version == *v) else {
            return Err(StoreError::Config(format!(
                "the database records migration {v}, which this keepwell does not have"
            )));
        };
        let ours = checksum(m.sql(backend));
        match recorded {
            None => {
                sqlx::query("UPDATE keepwell_migrations SET checksum = $1 WHERE version = $2")
                    .bind(&ours)
                    .bind(v)
                    .execute(&mut *tx)
                    .await?;
            }
            Some(theirs) if *theirs != ours => {
                return Err(StoreError::Config(format!(
                    "migration {v:04} ({}) differs from the one this database ran (checksum {theirs}, this \
                     keepwell's {ours}): a landed migration was edited; restore it and put the change in a new one",
                    m.name
                )));
            }
            Some(_) => {}
        }
    }
    let mut done = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| !applied.iter().any(|(v, _)| *v == m.version) && m.version <= version) {
        let sql = m.sql(backend);
        sqlx::raw_sql(sql).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO keepwell_migrations (version, name, applied_at, checksum) VALUES ($1, $2, $3, $4)")
            .bind(m.version)
            .bind(m.name)
            .bind(store.now_micros())
            .bind(checksum(sql))
            .execute(&mut *tx)
            .await?;
        done.push(m.version);
    }
    tx.commit().await?;
    Ok(done)
}

/// Migrates as keepwell did before checksums (issue 15's starting commit): the bookkeeping table
/// without its `checksum` column. Tests upgrade such a database.
pub(crate) async fn run_as_before_checksums(store: &Store, version: i64) -> Result<()> {
    let mut tx = store.begin().await?;
    sqlx::query(
        "CREATE TABLE keepwell_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    for m in MIGRATIONS.iter().filter(|m| m.version <= version) {
        sqlx::raw_sql(m.sql(store.backend())).execute(&mut *tx).await?;
        sqlx::query("INSERT INTO keepwell_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
            .bind(m.version)
            .bind(m.name)
            .bind(store.now_micros())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each landed migration as it landed (SHA-256 of its SQL). An edit fails here before it can
    /// stop a field database's start; a new migration appends its line.
    const LANDED: &[(i64, &str, &str)] = &[
        (
            1,
            "6ebbfd13c80a2b50e6072cac7cfac6ed1958d1f2e8006b10e25b2c4f56a11dab",
            "4be198de03b2cbfef3d303c46748cebc2552dd46e0dfb08baf76611ebb330cbf",
        ),
        (
            2,
            "d7865a9fee38b0a360ff450e4f99948a50bea47877988b8e8dc59470bcca5dcc",
            "8f7b89a1616ea224b31d107a0ac950d072f06833ff4f0bc35375365a4c388f10",
        ),
        (
            3,
            "d9cf85743311775492d90e6975922e9d76c72e4faca190a723fdc7c68e2a84b1",
            "3d60eeb32685b11d0771615cdf8bad75cb8bee6b0f062a84f9c1c11a489d62e7",
        ),
        (
            4,
            "9b3b2fc4eefdeed2c590ec5c88e49381d5f41032ed0781071fef590f7a6ae088",
            "b678f0aafc10d7c6c21c85afb51b42fdddcf4eef32b9c0f0062dcafdaf908572",
        ),
        (
            5,
            "a4d3c399d03a95d4768a314d6836af8dd8127799e99250b7d8b9d64e10b7328f",
            "875d6878aefc18ae236d10c2475f7f97978476252d67b788f732e72501a5c63c",
        ),
        (
            6,
            "de0858f676fbe051df37bfdf69b0ecd5d69adb49860717f98807452a37850cea",
            "de0858f676fbe051df37bfdf69b0ecd5d69adb49860717f98807452a37850cea",
        ),
        (
            7,
            "6ccb55da11fe733c48b06184c7072fedb9d50ab3bb87e9485930d420f58e9e37",
            "fbd9c8dc156332b942c759af2ecc808a06df6337810432cc703af2c59809f039",
        ),
        (
            8,
            "0a99bd142b512aedf15e8ffdad17d8faa5f2af3bb72e05a8295ad977e07b7a44",
            "0a99bd142b512aedf15e8ffdad17d8faa5f2af3bb72e05a8295ad977e07b7a44",
        ),
        (
            9,
            "1e1f331ec790b016362adf804781123b0f01b2c49548d87f4915901ffae40992",
            "1a17f07bee61f149c4fce2ae69600d635a509ff01fc9e43fa6e1484b1c917905",
        ),
        (
            10,
            "b56e6cdc13803e106f7de2234a530a6450a4b0d9239ea27ca3c493a203e9d900",
            "b56e6cdc13803e106f7de2234a530a6450a4b0d9239ea27ca3c493a203e9d900",
        ),
        (
            11,
            "380ce58e52e5fbff1101c8044a6a4bcb9a48682cf8d4f03e4d1ca65f50d59cef",
            "3d4587cc6df2fe749bd09106c746848d7f03b9c898dcb70abf223ebd2a7df8a1",
        ),
        (
            12,
            "4009d438cecf38e0207c106f58918c259368a8b5701cc09733ab1b400906cf5e",
            "b26de782b4ee3162176a3f199d18b2b6edf013ac04a7d10c51d4abc30a85221f",
        ),
        (
            13,
            "c16e043dce28a28b812ea9079c4efcc045c242ad3c92798e36848a50e394fd7b",
            "c16e043dce28a28b812ea9079c4efcc045c242ad3c92798e36848a50e394fd7b",
        ),
        (
            14,
            "3cbe263d2db40366724286cb17893c6817be589bbc8bd050a665301cb23529b9",
            "aa1c3c5eb7f66d0872833b7645b4069d164b3ccb3e85f6b4bb2ff1c6300aa925",
        ),
        (
            15,
            "fdd89b0cf8e4881ab5ab38eef62bd466283df9666d84e37a930fe5262e3b8718",
            "fdd89b0cf8e4881ab5ab38eef62bd466283df9666d84e37a930fe5262e3b8718",
        ),
        (
            16,
            "d77004b8ce20105e556d43f921ff7a1679ded150e7a23b0ab5f42b04c7e672c4",
            "36e9701983e8944c501f5f79a12a6467f1726e09a671d63f5e3a8f469ef786e5",
        ),
        (
            17,
            "089dee4446af1d72576a0896e9924da714ebb1fd6a0d5b0047f1e61fe24827f9",
            "ffc731166e6a373322c4b61b9a3ba0e15671e45d65147a662930130a1f0ca881",
        ),
        (
            18,
            "d86f39aa09085e5e12f4cdfbfa115737a2d040ebd1e13ac422a52e67cd769253",
            "aa2c2c9c1c0fbb2f15e5c9cdd82655052d80ada9e3076db0eb900dc1da63ae86",
        ),
        (
            19,
            "aff30e3efb1f2dc94d681917ef2b7ab0e7a343060ab876996a6ed4881f1010e2",
            "aff30e3efb1f2dc94d681917ef2b7ab0e7a343060ab876996a6ed4881f1010e2",
        ),
        (
            20,
            "8b5d138ae44df697319869eaef074795e894d7c897bdfa36bfad95b65e1cd0cd",
            "4e027f99e6c0977b44b210aefe63a370d45fcfe0efae21deaac41003294b8fd8",
        ),
        (
            21,
            "cbcb91dd9e1dba4a29ef7b7a9fc4bd5aed5c803133776847ff6e2531ce3f0758",
            "cbcb91dd9e1dba4a29ef7b7a9fc4bd5aed5c803133776847ff6e2531ce3f0758",
        ),
        (
            22,
            "72cfa2f09a96c7d04a0ebb7a09e6065d0186545196ea26fd911a639ae60bee08",
            "72cfa2f09a96c7d04a0ebb7a09e6065d0186545196ea26fd911a639ae60bee08",
        ),
        (
            23,
            "27db982bdcbe51fa75268f250f32a9704b3b6d21ece8aa73f2da706bdd616578",
            "2f091571d42d737ce1a716e613f4d5167514eac73151b74c38ee107c72267e22",
        ),
        (
            24,
            "e1bd66f6d1d7898bcfd7879ae0e69785652e8b9ff5cd6f0f512289bbac778b01",
            "08d740358e7f0605650e5fa99d0c5c3f9d795fb1fbfbd539380f06b4e61fd5f5",
        ),
    ];

    #[test]
    fn landed_migrations_are_never_edited() {
        assert_eq!(MIGRATIONS.len(), LANDED.len(), "a new migration appends its checksums to LANDED");
        for (m, (version, sqlite, postgres)) in MIGRATIONS.iter().zip(LANDED) {
            assert_eq!(m.version, *version);
            assert_eq!(checksum(m.sqlite), *sqlite, "sqlite migration {version} was edited");
            assert_eq!(checksum(m.postgres), *postgres, "postgres migration {version} was edited");
        }
    }
}
