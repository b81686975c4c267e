//! The job queue (`jobs`): work any node may do, claimed by one. A job's key is unique while it is
//! pending, so asking twice for the same work makes one job; [`Store::claim_jobs`] leases a batch
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, one atomic `UPDATE … RETURNING` on SQLite), the
//! claimer renews its lease while it works ([`Store::renew_job`]) and records the outcome
//! ([`Store::finish_job`]). A lease that runs out (its node died) makes the job due again. Times are
//! microseconds the caller reads from its clock.

use crate::sql::{opt_text, text};
use crate::{get_opt_i64, instant, Backend, Result, Store};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::Row;

const PENDING: &str = "status IN ('queued', 'running', 'retrying')";

/// A job claimed to run.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub payload: serde_json::Value,
    /// Attempts so far, this one included: it also tells this claim from a later one.
    pub attempts: i64,
}

/// A job as a person reads it.
#[derive(Debug, Clone, Serialize)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub key: String,
    /// `queued`, `running`, `retrying`, `done` or `dead`.
    pub status: String,
    pub attempts: i64,
    pub run_at: DateTime<Utc>,
    /// The node running it, while it runs.
    pub claimed_by: Option<String>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// What came of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    RetryAt(i64, String),
    Dead(String),
}

fn job_from(r: &AnyRow) -> Result<Job> {
    Ok(Job {
        id: r.try_get("id")?,
        kind: text(r, "kind")?,
        key: text(r, "key")?,
        status: text(r, "status")?,
        attempts: r.try_get("attempts")?,
        run_at: instant(r.try_get("run_at")?),
        claimed_by: opt_text(r, "claimed_by")?,
        last_error: opt_text(r, "last_error")?,
        created_at: instant(r.try_get("created_at")?),
        finished_at: get_opt_i64(r, "finished_at")?.map(instant),
    })
}

const JOB_COLS: &str = "id, kind, key, status, attempts, run_at, claimed_by, last_error, created_at, finished_at";

impl Store {
    /// Queues a job to run from `run_at`; `None` when one with its key is already pending.
    pub async fn enqueue_job(
        &self,
        kind: &str,
        key: &str,
        payload: &serde_json::Value,
        now: i64,
        run_at: i64,
    ) -> Result<Option<i64>> {
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (kind, key, payload, status, run_at, created_at) VALUES ($1, $2, $3, 'queued', $4, $5) \
             ON CONFLICT (key) WHERE {PENDING} DO NOTHING RETURNING id"
        ))
        .bind(kind)
        .bind(key)
        .bind(payload.to_string())
        .bind(run_at)
        .bind(now)
        .fetch_optional(self.pool())
        .await?;
        Ok(row.map(|r| r.try_get("id")).transpose()?)
    }

    /// Claims up to `limit` due jobs of `kind` (or a job whose claimer's lease ran out) for
    /// `node` until `now + lease`, oldest due first; with `only`, that job alone, whenever it is
    /// not running under another claim.
    pub async fn claim_jobs(
        &self,
        node: &str,
        kind: &str,
        only: Option<i64>,
        (now, lease): (i64, i64),
        limit: i64,
    ) -> Result<Vec<Claimed>> {
        // The job asked for by `only` is its asker's to run now, even while it waits to retry.
        let (only, waiting) = match only {
            Some(id) => (format!(" AND id = {id}"), "status IN ('queued', 'retrying')"),
            None => (String::new(), "status IN ('queued', 'retrying') AND run_at <= $1"),
        };
        let due = format!("kind = $5{only} AND (({waiting}) OR (status = 'running' AND claimed_until < $1))");
        let lock = if self.backend() == Backend::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let mut tx = self.begin().await?;
        let rows = sqlx::query(&format!(
            "UPDATE jobs SET status = 'running', claimed_until = $2, claimed_by = $3, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM jobs WHERE {due} ORDER BY run_at, id LIMIT $4{lock}) \
             RETURNING id, kind, key, payload, attempts"
        ))
        .bind(now)
        .bind(now + lease)
        .bind(node)
        .bind(limit)
        .bind(kind)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        rows.iter()
            .map(|r| {
                Ok(Claimed {
                    id: r.try_get("id")?,
                    kind: text(r, "kind")?,
                    key: text(r, "key")?,
                    payload: serde_json::from_str(&text(r, "payload")?).unwrap_or_default(),
                    attempts: r.try_get("attempts")?,
                })
            })
            .collect()
    }

    /// Extends the lease of a job `node` runs to `until`.
    pub async fn renew_job(&self, node: &str, id: i64, until: i64) -> Result<()> {
        sqlx::query("UPDATE jobs SET claimed_until = $1 WHERE id = $2 AND claimed_by = $3 AND status = 'running'")
            .bind(until)
            .bind(id)
            .bind(node)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Records what came of a claimed run; false when the claim was no longer this one (its lease
    /// ran out and another node took the job over).
    pub async fn finish_job(&self, job: &Claimed, now: i64, outcome: &Outcome) -> Result<bool> {
        let (status, run_at, error, finished) = match outcome {
            Outcome::Done => ("done", None, None, Some(now)),
            Outcome::RetryAt(at, e) => ("retrying", Some(*at), Some(e.as_str()), None),
            Outcome::Dead(e) => ("dead", None, Some(e.as_str()), Some(now)),
        };
        let done = sqlx::query(
            "UPDATE jobs SET status = $1, run_at = COALESCE($2, run_at), last_error = $3, finished_at = $4, \
             claimed_until = NULL, claimed_by = NULL WHERE id = $5 AND status = 'running' AND attempts = $6",
        )
        .bind(status)
        .bind(run_at)
        .bind(error)
        .bind(finished)
        .bind(job.id)
        .bind(job.attempts)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn job(&self, id: i64) -> Result<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLS} FROM jobs WHERE id = $1"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(job_from).transpose()
    }

    /// The pending job with `key`, if any.
    pub async fn pending_job(&self, key: &str) -> Result<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLS} FROM jobs WHERE key = $1 AND {PENDING}"))
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(job_from).transpose()
    }

    /// The newest `limit` jobs with `key` (all keys when None), newest first.
    pub async fn jobs(&self, key: Option<&str>, limit: i64) -> Result<Vec<Job>> {
        let rows =
            sqlx::query(&format!("SELECT {JOB_COLS} FROM jobs WHERE ($1 = '' OR key = $1) ORDER BY id DESC LIMIT $2"))
                .bind(key.unwrap_or(""))
                .bind(limit)
                .fetch_all(self.pool())
                .await?;
        rows.iter().map(job_from).collect()
    }

    /// How many jobs wait (queued or retrying and due by `now`) and how many run.
    pub async fn job_depth(&self, now: i64) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT CAST(COUNT(CASE WHEN status IN ('queued', 'retrying') AND run_at <= $1 THEN 1 END) AS BIGINT) AS due, \
             CAST(COUNT(CASE WHEN status = 'running' THEN 1 END) AS BIGINT) AS running FROM jobs",
        )
        .bind(now)
        .fetch_one(self.pool())
        .await?;
        Ok((row.try_get("due")?, row.try_get("running")?))
    }

    /// Forgets a job whatever came of it: one asked for again and again whose history is not
    /// worth keeping (the usage fold, asked for several times a second under ingest).
    pub async fn forget_job(&self, id: i64) -> Result<()> {
        sqlx::query("DELETE FROM jobs WHERE id = $1").bind(id).execute(self.pool()).await?;
        Ok(())
    }

    /// Forgets finished jobs that ended before `before`.
    pub async fn prune_jobs(&self, before: i64) -> Result<u64> {
        Ok(sqlx::query("DELETE FROM jobs WHERE status IN ('done', 'dead') AND finished_at < $1")
            .bind(before)
            .execute(self.pool())
            .await?
            .rows_affected())
    }
}
