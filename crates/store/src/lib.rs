//! Keepwell's persistence: one [`Store`] API, two backends (SQLite and PostgreSQL) picked by the
//! URL scheme. SQL is written once with `$N` placeholders, which both backends accept, and run through
//! `sqlx::Any`; each backend has its own migrations folder because DDL differs.

pub mod accounts;
pub mod audit;
pub mod backup;
pub mod billing;
pub mod clock;
pub mod contacts;
pub mod deliveries;
pub mod digest;
pub mod figures;
pub mod health;
pub mod import;
pub mod interactions;
pub mod jobs;
mod migrate;
pub mod notifications;
pub mod people;
pub mod playbooks;
mod sql;
pub mod tasks;
pub mod testing;
pub mod timeline;
pub mod usage;
mod write;

use keepwell_core::Invalid;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::ConnectOptions;
use sqlx::{AnyPool, Executor, Row};
use std::time::Duration;

pub use audit::{Actor, AuditEntry};
pub use clock::Clock;
pub use sql::Page;
/// The database driver's error, for callers that tell its kinds apart (a busy pool).
pub use sqlx::Error as DbError;
pub use write::Write;

/// SQLite's page cache per connection, in KiB when negative: 8 MiB (eight connections stay well
/// under the server's memory budget; an import raises its own).
pub(crate) const SQLITE_CACHE: i64 = -8192;
/// WAL pages after which a committing connection copies the WAL into the database itself: far
/// above what [`Store::checkpoint`], run in the background by the server, lets the WAL reach, so
/// a commit seldom pays for it.
const SQLITE_AUTOCHECKPOINT: i64 = 16_384;

/// Which database a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Every way a store operation can fail that a caller may want to tell apart.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The input was checked and found wrong; each field is named.
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The write would break a uniqueness rule; the message names who holds the value.
    #[error("{message}")]
    Conflict { field: String, message: String },
    /// A database URL that names no supported backend.
    #[error("{0}")]
    Config(String),
    #[error("database error: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// The pool had no free connection in time: the database is busy, not broken.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Db(sqlx::Error::PoolTimedOut))
    }

    pub fn conflict(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::Conflict { field: field.into(), message: message.into() }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The database handle: cheap to clone, shared by every request and job.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: Clock,
    /// The SQLite database file (the daily pass's lock file lives beside it).
    sqlite_file: Option<std::sync::Arc<std::path::PathBuf>>,
    /// The ISO 4217 code the accounts list converts MRR to when a billing write reckons it.
    reporting: std::sync::Arc<str>,
}

/// A transaction over either backend.
pub type Tx = sqlx::Transaction<'static, sqlx::Any>;

impl Store {
    /// Opens the database named by `url` (`sqlite://PATH` or `postgres://…`), creating an SQLite
    /// file when missing. Does not migrate: call [`Store::migrate`].
    pub async fn connect(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let mut sqlite_file = None;
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite:") {
            let path = path.trim_start_matches("//");
            if path.is_empty() {
                return Err(StoreError::Config("sqlite:// URL names no file".into()));
            }
            sqlite_file = Some(std::sync::Arc::new(path.split('?').next().unwrap_or(path).into()));
            let sep = if path.contains('?') { '&' } else { '?' };
            (Backend::Sqlite, format!("sqlite://{path}{sep}mode=rwc"))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else {
            return Err(StoreError::Config(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                url.split('@').next_back().unwrap_or_default()
            )));
        };
        // SQLite runs a worker thread per connection: four keep two cores busy without the
        // threads' memory (measured: 94 MB peak under load with four, 153 MB with eight).
        let options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 4 } else { 16 })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // WAL lets readers run beside the writer; FULL makes every commit durable.
                        conn.execute(
                            format!(
                                "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; \
                                 PRAGMA busy_timeout=10000; PRAGMA cache_size={SQLITE_CACHE}; \
                                 PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT};"
                            )
                            .as_str(),
                        )
                        .await?;
                    }
                    Ok(())
                })
            });
        // A slow statement is the operator's to look into, not a warning on every big import:
        // logged at debug (KEEPWELL_LOG=sqlx=debug shows them).
        let connect = url
            .parse::<sqlx::any::AnyConnectOptions>()?
            .log_slow_statements(log::LevelFilter::Debug, Duration::from_secs(1));
        let pool = options.connect_with(connect).await?;
        Ok(Store { pool, backend, clock: Clock::system(), sqlite_file, reporting: "USD".into() })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The clock every write and every "today" of this store reads.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// This store on another clock (`tick --as-of`, tests); the pool is shared.
    pub fn with_clock(mut self, clock: Clock) -> Store {
        self.clock = clock;
        self
    }

    /// This store reporting in `currency` (`KEEPWELL_REPORTING_CURRENCY`; default USD).
    pub fn with_reporting_currency(mut self, currency: &str) -> Store {
        self.reporting = currency.into();
        self
    }

    pub fn reporting_currency(&self) -> &str {
        &self.reporting
    }

    /// The store clock's instant in microseconds since the Unix epoch, as stored.
    pub(crate) fn now_micros(&self) -> i64 {
        self.clock.now_micros()
    }

    /// Applies pending migrations; returns the versions applied now.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let applied = migrate::run(self).await?;
        self.ensure_default_scorecard().await?;
        if applied.contains(&20) {
            // The built-in playbooks, disabled, once: when the schema gains playbooks.
            let mut w = self.write(&Actor::system("setup")).await?;
            playbooks::add_built_ins(&mut w).await?;
            w.commit().await?;
        }
        Ok(applied)
    }

    /// Copies what the WAL holds into the SQLite database file without waiting for anyone
    /// (`PRAGMA wal_checkpoint(PASSIVE)`); nothing on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<()> {
        if self.backend == Backend::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Answers when the database does (for `/readyz`).
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once (`BEGIN IMMEDIATE`) so
    /// the busy timeout applies instead of failing when a read would later upgrade to a write.
    pub async fn begin(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        })
    }

    /// Begins a read transaction: one consistent view of the data that never takes SQLite's write
    /// lock (a deferred `BEGIN` in WAL mode), so readers do not queue behind the single writer;
    /// `READ ONLY` on PostgreSQL. Reads of one statement use the pool directly.
    pub async fn begin_read(&self) -> Result<Tx> {
        Ok(match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN DEFERRED").await?,
            Backend::Postgres => self.pool.begin_with("BEGIN READ ONLY").await?,
        })
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub async fn close(&self) {
        self.pool.close().await
    }
}

/// Converts stored microseconds to an RFC 3339 UTC instant.
pub fn instant(micros: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

pub(crate) fn get_opt_i64(row: &AnyRow, col: &str) -> Result<Option<i64>> {
    Ok(row.try_get::<Option<i64>, _>(col)?)
}
