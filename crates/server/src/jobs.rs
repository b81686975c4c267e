//! Work any node may do, through the job queue (`keepwell_store::jobs`): each job is claimed by
//! one process, which renews its lease while it runs; a process killed in the middle leaves the job
//! to another once the lease runs out. A failed run is retried with exponential backoff and jitter,
//! then the job is dead and shows so. Periodic work names its period in its key, so every node's
//! timer asks for it and it runs once. Deliveries are jobs of their own table (`deliveries`),
//! claimed the same way by the delivery sender.

use crate::state::AppState;
use keepwell_core::webhook::Policy;
use keepwell_store::jobs::{Claimed, Outcome};
use keepwell_store::Store;
use std::future::Future;
use std::time::{Duration, Instant};

/// The daily pass of the day in the payload (`{"day": "2026-12-03"}`), keyed `daily_pass:DAY`.
pub const DAILY_PASS: &str = "daily_pass";

/// How long a claim lasts unless renewed; the claimer renews it every third of that.
const LEASE: Duration = Duration::from_secs(15);

/// Runs before a job is dead.
const MAX_ATTEMPTS: i64 = 8;

/// Finished jobs are kept this long, as the record of what ran.
const KEEP: Duration = Duration::from_secs(30 * 24 * 3_600);

/// This process's name in `jobs.claimed_by`: unique per process.
pub fn node_name() -> String {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| format!("pid {} ({:08x})", std::process::id(), rand::random::<u32>())).clone()
}

fn micros(store: &Store) -> i64 {
    store.clock().now().timestamp_micros()
}

/// The wait before run `attempts + 1` of a job that failed: 10 s doubling to an hour, ± 20 %.
fn backoff(attempts: i64) -> Duration {
    let p = Policy { first_retry: Duration::from_secs(10), max_retry: Duration::from_secs(3_600), ..Policy::default() };
    p.backoff(attempts, rand::random::<f64>())
}

/// Runs `work` for a claimed job, renewing the claim meanwhile, and records what came of it.
/// `store` keeps the queue's time (the real clock), whatever clock the work itself runs on.
pub async fn run_claimed<F: Future<Output = anyhow::Result<()>>>(
    store: &Store,
    job: &Claimed,
    work: F,
) -> anyhow::Result<Outcome> {
    let node = node_name();
    let started = Instant::now();
    let mut renew = tokio::time::interval(LEASE / 3);
    renew.tick().await;
    tokio::pin!(work);
    let result = loop {
        tokio::select! {
            r = &mut work => break r,
            _ = renew.tick() => {
                let until = micros(store) + LEASE.as_micros() as i64;
                if let Err(e) = store.renew_job(&node, job.id, until).await {
                    tracing::warn!(job = job.id, error = %e, "could not renew a job's lease");
                }
            }
        }
    };
    let outcome = match result {
        Ok(()) => Outcome::Done,
        Err(e) if job.attempts >= MAX_ATTEMPTS => Outcome::Dead(format!("{e:#}")),
        Err(e) => Outcome::RetryAt(micros(store) + backoff(job.attempts).as_micros() as i64, format!("{e:#}")),
    };
    let label = match &outcome {
        Outcome::Done => "done",
        Outcome::RetryAt(..) => "retrying",
        Outcome::Dead(_) => "dead",
    };
    metrics::counter!("keepwell_jobs_total", "kind" => job.kind.clone(), "outcome" => label).increment(1);
    metrics::histogram!("keepwell_job_seconds", "kind" => job.kind.clone()).record(started.elapsed().as_secs_f64());
    if let Outcome::RetryAt(_, e) | Outcome::Dead(e) = &outcome {
        tracing::error!(job = job.id, kind = %job.kind, attempts = job.attempts, error = %e, "a job failed");
    }
    if !store.finish_job(job, micros(store), &outcome).await? {
        tracing::warn!(job = job.id, "a job's lease ran out while it ran; another process took it over");
    }
    Ok(outcome)
}

/// How a job asked for by [`run_or_wait`] ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// Here, with this outcome.
    Here(Outcome),
    /// In another process, which ran the same job (its id) meanwhile.
    Elsewhere(i64, Outcome),
}

/// Asks for the job `key` and sees it through: queued (or found pending, when another process
/// asked first), then run here if this process claims it, else waited for while another runs it
/// (taken over if that one dies). With `fresh`, a run that had already started when asked does
/// not count: it is waited for and the job asked for again (a definition changed meanwhile).
/// `work` runs it here.
pub async fn run_or_wait<F, Fut>(
    store: &Store,
    (kind, key, fresh): (&str, &str, bool),
    payload: serde_json::Value,
    work: F,
) -> anyhow::Result<Ran>
where
    F: FnOnce(Claimed) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let id = loop {
        let now = micros(store);
        if let Some(id) = store.enqueue_job(kind, key, &payload, now, now).await? {
            break id;
        }
        match store.pending_job(key).await? {
            Some(job) if fresh && job.status == "running" => tokio::time::sleep(Duration::from_millis(200)).await,
            Some(job) => break job.id,
            // It finished between the two reads: ask again.
            None => {}
        }
    };
    let mut work = Some(work);
    loop {
        let lease = LEASE.as_micros() as i64;
        if let Some(job) = store.claim_jobs(&node_name(), kind, Some(id), (micros(store), lease), 1).await?.pop() {
            let work = work.take().expect("a job is claimed once by its asker");
            let payload = job.clone();
            return Ok(Ran::Here(run_claimed(store, &job, work(payload)).await?));
        }
        match store.job(id).await? {
            Some(job) if job.status == "done" => return Ok(Ran::Elsewhere(id, Outcome::Done)),
            Some(job) if job.status == "dead" => {
                return Ok(Ran::Elsewhere(id, Outcome::Dead(job.last_error.unwrap_or_default())))
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            None => anyhow::bail!("job {id} ({key}) was removed while it was waited for"),
        }
    }
}

/// The key of the daily pass of `day`.
pub fn pass_key(day: chrono::NaiveDate) -> String {
    format!("{DAILY_PASS}:{day}")
}

/// Today's pass (after a definition changed), through the job queue: run here, or waited for
/// when another node already runs it.
pub async fn pass_today(state: &AppState) -> anyhow::Result<()> {
    let today = state.store.clock().today();
    let key = pass_key(today);
    let payload = serde_json::json!({ "day": today });
    match run_or_wait(&state.store, (DAILY_PASS, &key, true), payload, |_| crate::daily::pass_of(state, today)).await? {
        Ran::Here(keepwell_store::jobs::Outcome::Done) | Ran::Elsewhere(_, keepwell_store::jobs::Outcome::Done) => {
            Ok(())
        }
        Ran::Here(o) | Ran::Elsewhere(_, o) => {
            anyhow::bail!("today's pass did not finish: {o:?}")
        }
    }
}

/// PostgreSQL's fold worker: every 100 ms it claims the usage fold if it is asked for, and runs it
/// in steps until the rollups count every event stored when it began. The job is then forgotten,
/// whatever came of it: the writer asks again while its events are not in the rollups, and a
/// fold that failed (logged and counted in `keepwell_jobs_total`) starts afresh at the next ask
/// instead of waiting out a retry's backoff.
fn spawn_folds(store: Store) {
    tokio::spawn(async move {
        loop {
            let lease = LEASE.as_micros() as i64;
            let kind = crate::ingest::writer::FOLD_USAGE;
            match store.claim_jobs(&node_name(), kind, None, (micros(&store), lease), 1).await {
                Ok(claimed) => {
                    for job in claimed {
                        let steps = async { Ok(store.fold_stored(crate::ingest::writer::FOLD_STEP).await?) };
                        if let Err(e) = run_claimed(&store, &job, steps).await {
                            tracing::warn!(error = %format!("{e:#}"), "could not record the usage fold");
                        }
                        if let Err(e) = store.forget_job(job.id).await {
                            tracing::warn!(error = %e, "could not forget a finished usage fold");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "the fold worker could not reach the queue; retrying"),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Every second, the event-triggered playbooks act on the events that reached accounts since
/// they last looked (`Store::act_on_events`): on every node, since each run is unique however
/// many look at once.
fn spawn_event_playbooks(state: AppState) {
    tokio::spawn(async move {
        loop {
            let more = match state.store.act_on_events(&state.settings.reporting_currency).await {
                Ok((n, more)) => {
                    if n > 0 {
                        metrics::counter!("keepwell_playbook_event_runs_total").increment(n as u64);
                        tracing::debug!(runs = n, "event-triggered playbooks acted");
                    }
                    more
                }
                Err(e) => {
                    tracing::warn!(error = %e, "event-triggered playbooks could not act; retrying");
                    false
                }
            };
            // Behind (a round stops at its share of occurrences): on at once, letting writers in.
            match more {
                true => tokio::task::yield_now().await,
                false => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    });
}

/// When the worker last did what it does less often than every turn.
struct Timers {
    pruned: Instant,
    digests_asked: Instant,
}

/// Starts this process's job worker: every second it asks for the periodic work due (the daily
/// pass once per `pass_every`, when set; each minute, the weekly digests due), then runs what is
/// due.
pub fn spawn(state: AppState) {
    if state.store.backend() == keepwell_store::Backend::Postgres {
        spawn_folds(state.store.clone());
    }
    spawn_event_playbooks(state.clone());
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let long_ago = Instant::now() - KEEP;
        let mut timers = Timers { pruned: long_ago, digests_asked: long_ago };
        loop {
            if let Err(e) = turn(&state, &mut timers).await {
                tracing::warn!(error = %format!("{e:#}"), "the job worker could not reach the queue; retrying");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

async fn turn(state: &AppState, timers: &mut Timers) -> anyhow::Result<()> {
    let store = &state.store;
    let now = micros(store);
    if let Some(every) = state.settings.pass_every {
        // Once per period, whichever node asks first; the first period starts a few seconds in.
        let every = every.as_micros().max(1) as i64;
        let today = store.clock().today();
        let period = now - now.rem_euclid(every);
        let key = pass_key(today);
        if store.jobs(Some(&key), 1).await?.first().is_none_or(|j| j.created_at.timestamp_micros() < period) {
            store.enqueue_job(DAILY_PASS, &key, &serde_json::json!({"day": today}), now, now).await?;
        }
    }
    let lease = LEASE.as_micros() as i64;
    for job in store.claim_jobs(&node_name(), DAILY_PASS, None, (now, lease), 1).await? {
        let day = job.payload.get("day").and_then(|d| d.as_str()).and_then(|d| d.parse().ok());
        run_claimed(store, &job, async {
            let day = day.ok_or_else(|| anyhow::anyhow!("the job names no day"))?;
            crate::daily::pass_of(state, day).await
        })
        .await?;
    }
    if timers.digests_asked.elapsed() >= Duration::from_secs(60) {
        timers.digests_asked = Instant::now();
        crate::digest::ask(store).await?;
    }
    for job in store.claim_jobs(&node_name(), crate::digest::WEEKLY_DIGEST, None, (micros(store), lease), 10).await? {
        run_claimed(store, &job, crate::digest::run(state, &job.payload, store.clock().now())).await?;
    }
    let (due, running) = store.job_depth(now).await?;
    metrics::gauge!("keepwell_jobs_due").set(due as f64);
    metrics::gauge!("keepwell_jobs_running").set(running as f64);
    if timers.pruned.elapsed() > Duration::from_secs(3_600) {
        timers.pruned = Instant::now();
        store.prune_jobs(now - KEEP.as_micros() as i64).await?;
        // The bell keeps what was read for 30 days and anything for a year.
        let day = 86_400_000_000_i64;
        store.prune_notifications(now - 30 * day, now - 365 * day).await?;
    }
    Ok(())
}
