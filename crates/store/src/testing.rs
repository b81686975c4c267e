//! Fresh, migrated databases for tests: every test gets its own, on either backend.
//! PostgreSQL tests need `KEEPWELL_TEST_POSTGRES_URL` (the test command starts a throwaway cluster
//! and sets it); without it they fail rather than pass unseen.

use crate::{Backend, Store};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn unique_name() -> String {
    // A random part (std's per-process hash keys) keeps names apart across runs that reuse a pid.
    use std::hash::{BuildHasher, RandomState};
    let random = RandomState::new().hash_one(COUNTER.load(Ordering::Relaxed)) % 1_000_000_000_000;
    format!("kw_test_{}_{random}_{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A URL naming a new, empty database of `backend`.
pub async fn fresh_database_url(backend: Backend) -> String {
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(unique_name());
            std::fs::create_dir_all(&dir).expect("create a temp dir");
            format!("sqlite://{}", dir.join("keepwell.db").display())
        }
        Backend::Postgres => {
            let admin = std::env::var("KEEPWELL_TEST_POSTGRES_URL").expect(
                "KEEPWELL_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts PostgreSQL",
            );
            let name = unique_name();
            let store = Store::connect(&admin).await.expect("connect to the test PostgreSQL");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(store.pool())
                .await
                .expect("create a test database");
            store.close().await;
            let (base, _) = admin.rsplit_once('/').expect("a postgres URL with a database name");
            format!("{base}/{name}")
        }
    }
}

/// A new, migrated store of `backend`.
pub async fn fresh_store(backend: Backend) -> Store {
    let store = Store::connect(&fresh_database_url(backend).await).await.expect("connect to the test database");
    store.migrate().await.expect("migrate the test database");
    store
}

/// A new store of `backend` migrated only up to schema `version`, as an older release left it.
pub async fn store_at_version(backend: Backend, version: i64) -> Store {
    let store = Store::connect(&fresh_database_url(backend).await).await.expect("connect to the test database");
    crate::migrate::run_until(&store, version).await.expect("migrate the test database");
    store
}

/// Runs SQL as written (tests fill an older schema with what its release wrote).
pub async fn execute(store: &Store, sql: &str) {
    sqlx::raw_sql(sql).execute(store.pool()).await.expect("run the SQL");
}

/// A new store of `backend` at schema `version` as keepwell migrated before it recorded checksums
/// (issue 15's starting commit): what an upgrade meets in the field.
pub async fn store_before_checksums(backend: Backend, version: i64) -> Store {
    let store = Store::connect(&fresh_database_url(backend).await).await.expect("connect to the test database");
    crate::migrate::run_as_before_checksums(&store, version).await.expect("migrate the test database as before");
    store
}

/// The one integer `sql` answers (tests read what the code under test wrote).
pub async fn scalar(store: &Store, sql: &str) -> i64 {
    sqlx::query_scalar::<_, i64>(sql).fetch_one(store.pool()).await.expect("run the SQL")
}
