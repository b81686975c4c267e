//! The one writer of accepted Segment calls. A request is parsed and checked whole
//! (`keepwell_core::ingest`), then handed to the writer, which commits every request waiting at
//! that moment in one transaction (group commit: one fsync for many requests) and only then lets
//! each answer 200. The queue is bounded in events; a request that does not fit is answered 429
//! with `Retry-After`.
//!
//! Folding what was written into the rollups: on SQLite, the one writer, the writer folds itself
//! (when idle, at least every ten seconds, or when asked). On PostgreSQL a fold would hold every
//! node's writers off for its whole length, so the writer instead asks for the `fold_usage` job
//! ([`FOLD_USAGE`]), which a fold worker on any node runs in short steps
//! (`Store::fold_stored`), each holding the writers off for a moment only.

use keepwell_core::ingest::Event;
use keepwell_store::usage::{EventWriter, IngestSummary};
use keepwell_store::{Backend, Store};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, OwnedSemaphorePermit, Semaphore};

/// Events waiting for the writer at most; beyond, requests are answered 429.
const QUEUE_EVENTS: usize = 100_000;

/// Events the writer commits in one transaction at most.
const GROUP_EVENTS: usize = 20_000;

/// How long the writer waits, idle, before folding what it wrote into the rollups.
const FOLD_AFTER: std::time::Duration = std::time::Duration::from_millis(200);

/// How long the rollups lag what was acknowledged at most when the writer is never idle (steady
/// traffic): it folds at least this often, besides every `FOLD_EVERY` events.
const FOLD_WITHIN: std::time::Duration = std::time::Duration::from_secs(10);

/// Events one step of a PostgreSQL fold takes. A writer inserting events does not wait for it; one
/// applying identify or group calls waits for one step at most.
pub const FOLD_STEP: i64 = 20_000;

/// On PostgreSQL, the job folding the events written so far into the rollups, run by
/// `jobs::spawn_folds`; keyed by its name, so one is pending at a time whichever writer asks.
pub const FOLD_USAGE: &str = "fold_usage";

/// Asks for the usage fold; nothing when one is already pending.
async fn ask_fold(store: &Store) -> keepwell_store::Result<()> {
    let now = store.clock().now().timestamp_micros();
    store.enqueue_job(FOLD_USAGE, FOLD_USAGE, &serde_json::json!({}), now, now).await?;
    Ok(())
}

/// How often a PostgreSQL writer asks for the fold job while it writes.
const ASK_EVERY: std::time::Duration = std::time::Duration::from_millis(250);

enum Job {
    Write {
        events: Vec<Event>,
        _permit: OwnedSemaphorePermit,
        done: oneshot::Sender<Result<IngestSummary, String>>,
    },
    /// Fold every event written so far into the rollups, then answer.
    Fold {
        done: oneshot::Sender<Result<(), String>>,
    },
}

/// The handle requests use to reach the writer.
#[derive(Clone)]
pub struct Ingest {
    jobs: mpsc::UnboundedSender<Job>,
    room: Arc<Semaphore>,
    store: Store,
}

pub enum Refusal {
    Busy,
    Failed(String),
}

impl Ingest {
    /// Starts the writer on the current runtime.
    pub fn start(store: Store) -> Ingest {
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(checkpointer(store.clone()));
        tokio::spawn(writer(store.clone(), rx, FOLD_WITHIN));
        Ingest { jobs, room: Arc::new(Semaphore::new(QUEUE_EVENTS)), store }
    }

    /// Has every event acknowledged so far counted in the rollups, for a read that must see them.
    pub async fn fold(&self) -> Result<(), String> {
        if self.store.backend() == Backend::Postgres {
            // In steps, here, beside the fold job if it runs: the writers are held off briefly.
            return self.store.fold_stored(FOLD_STEP).await.map_err(|e| e.to_string());
        }
        let (done, answer) = oneshot::channel();
        self.jobs.send(Job::Fold { done }).map_err(|_| "the writer stopped".to_owned())?;
        answer.await.map_err(|_| "the writer stopped".to_owned())?
    }

    /// Queues events and waits until they are committed.
    pub async fn submit(&self, events: Vec<Event>) -> Result<IngestSummary, Refusal> {
        let n = u32::try_from(events.len().max(1)).unwrap_or(u32::MAX);
        let permit = self.room.clone().try_acquire_many_owned(n).map_err(|_| Refusal::Busy)?;
        let (done, answer) = oneshot::channel();
        self.jobs
            .send(Job::Write { events, _permit: permit, done })
            .map_err(|_| Refusal::Failed("the writer stopped".into()))?;
        answer.await.map_err(|_| Refusal::Failed("the writer stopped".into()))?.map_err(Refusal::Failed)
    }
}

/// Keeps SQLite's WAL short on another connection, so the writer's commits do not copy it.
async fn checkpointer(store: Store) {
    let mut every = tokio::time::interval(std::time::Duration::from_millis(250));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if let Err(e) = store.checkpoint().await {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// The node's one event writer: takes every request waiting, writes them in one transaction,
/// answers each; folds into the rollups when idle, when asked, or when it has not for
/// `fold_within`.
async fn writer(store: Store, mut rx: mpsc::UnboundedReceiver<Job>, fold_within: std::time::Duration) {
    if store.backend() == Backend::Postgres {
        return writer_asking_for_folds(store, rx).await;
    }
    let mut events_writer = EventWriter::new(store);
    let mut unfolded_since: Option<std::time::Instant> = None;
    // A read's fold is answered at once when everything this writer wrote is folded (after one
    // fold has caught up with what an earlier process left): a page read then never waits for
    // the writer's lock while a daily pass holds it.
    let mut caught_up = false;
    loop {
        match (events_writer.unfolded(), unfolded_since) {
            (false, _) => unfolded_since = None,
            (true, None) => unfolded_since = Some(std::time::Instant::now()),
            (true, Some(since)) if since.elapsed() >= fold_within => {
                if let Err(e) = events_writer.fold().await {
                    tracing::error!(error = %e, "folding events into the rollups failed");
                    unfolded_since = Some(std::time::Instant::now());
                }
                continue;
            }
            (true, Some(_)) => {}
        }
        let next = if events_writer.unfolded() {
            match tokio::time::timeout(FOLD_AFTER, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    if let Err(e) = events_writer.fold().await {
                        tracing::error!(error = %e, "folding events into the rollups failed");
                    }
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = next else { break };
        let (jobs, folds) = gather(first, &mut rx);
        if !jobs.is_empty() {
            write(&mut events_writer, jobs).await;
        }
        if !folds.is_empty() {
            let result = if caught_up && !events_writer.unfolded() {
                Ok(())
            } else {
                events_writer.fold().await.map_err(|e| e.to_string())
            };
            caught_up |= result.is_ok();
            for done in folds {
                let _ = done.send(result.clone());
            }
        }
    }
}

/// Takes every job waiting (up to `GROUP_EVENTS` events): the writes, and the folds asked for.
fn gather(
    first: Job,
    rx: &mut mpsc::UnboundedReceiver<Job>,
) -> (Vec<Waiting>, Vec<oneshot::Sender<Result<(), String>>>) {
    let (mut jobs, mut folds) = (Vec::new(), Vec::new());
    let (mut next, mut size) = (Some(first), 0);
    while let Some(job) = next.take() {
        match job {
            Job::Write { events, _permit, done } => {
                size += events.len();
                jobs.push((events, _permit, done));
            }
            Job::Fold { done } => folds.push(done),
        }
        if size < GROUP_EVENTS {
            next = rx.try_recv().ok();
        }
    }
    (jobs, folds)
}

/// PostgreSQL's writer: writes as SQLite's does, and never folds; while what it wrote is not in
/// the rollups it asks for the fold job (at most every `ASK_EVERY`, and again when idle, until the
/// rollups caught up: a fold job running when asked may have looked before the last commit).
async fn writer_asking_for_folds(store: Store, mut rx: mpsc::UnboundedReceiver<Job>) {
    // Neither folds nor bulk-indexes: the fold job does both, in steps, beside it.
    let mut events_writer = EventWriter::new(store.clone()).beside_fold_job();
    let mut lagging = false;
    let mut asked = std::time::Instant::now() - ASK_EVERY;
    let ask = |store: &Store| {
        let store = store.clone();
        tokio::spawn(async move {
            if let Err(e) = ask_fold(&store).await {
                tracing::warn!(error = %e, "could not ask for the usage fold");
            }
        });
    };
    loop {
        let next = if lagging {
            match tokio::time::timeout(FOLD_AFTER, rx.recv()).await {
                Ok(next) => next,
                Err(_) => {
                    match store.unfolded_events().await {
                        Ok(0) => lagging = false,
                        Ok(_) => ask(&store),
                        Err(e) => tracing::warn!(error = %e, "could not read how far the rollups are"),
                    }
                    continue;
                }
            }
        } else {
            rx.recv().await
        };
        let Some(first) = next else { break };
        let (jobs, folds) = gather(first, &mut rx);
        if !jobs.is_empty() {
            write(&mut events_writer, jobs).await;
            lagging = true;
            if asked.elapsed() >= ASK_EVERY {
                asked = std::time::Instant::now();
                ask(&store);
            }
        }
        for done in folds {
            // Not asked for on PostgreSQL (`Ingest::fold` folds itself); answered all the same.
            let _ = done.send(Ok(()));
        }
    }
}

type Waiting = (Vec<Event>, OwnedSemaphorePermit, oneshot::Sender<Result<IngestSummary, String>>);

/// Writes the waiting requests' events in one transaction and answers each.
#[tracing::instrument(skip_all, fields(requests = jobs.len()))]
async fn write(events_writer: &mut EventWriter, mut jobs: Vec<Waiting>) {
    {
        let events: Vec<Event> = jobs.iter_mut().flat_map(|j| std::mem::take(&mut j.0)).collect();
        let started = std::time::Instant::now();
        match events_writer.write(&events).await {
            Ok(summary) => {
                metrics::counter!("keepwell_ingested_events_total").increment(summary.stored as u64);
                metrics::histogram!("keepwell_ingest_commit_seconds").record(started.elapsed().as_secs_f64());
                // The group's summary is not split per request: each learns the commit happened.
                for (_, _, done) in jobs {
                    let _ = done.send(Ok(summary));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, events = events.len(), "ingestion write failed");
                for (_, _, done) in jobs {
                    let _ = done.send(Err(e.to_string()));
                }
            }
        }
    }
}

/// Write keys seen lately, so a busy client does not cost a lookup per request. A revoked key
/// stops working within `TTL`.
#[derive(Default)]
pub struct WriteKeys(std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>);

impl WriteKeys {
    const TTL: std::time::Duration = std::time::Duration::from_secs(5);

    pub async fn check(&self, store: &Store, key: &str) -> keepwell_store::Result<bool> {
        let hash = crate::secrets::hash_secret(key);
        let now = std::time::Instant::now();
        if let Some(at) = self.0.lock().unwrap_or_else(|e| e.into_inner()).get(&hash) {
            if now.duration_since(*at) < Self::TTL {
                return Ok(true);
            }
        }
        let live = store.write_key_by_hash(&hash).await?.is_some();
        let mut seen = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if live {
            seen.insert(hash, now);
        } else {
            seen.remove(&hash);
        }
        Ok(live)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use keepwell_store::Backend;
    use std::time::Duration;

    fn calls(body: &str) -> Vec<Event> {
        let mut n = 0;
        keepwell_core::ingest::parse(None, body.as_bytes(), keepwell_store::Clock::system().now(), || {
            n += 1;
            format!("gen-{n}-{}", crate::secrets::random_id())
        })
        .unwrap()
        .events
    }

    #[tokio::test]
    async fn steady_traffic_is_folded_within_the_bound() {
        let store = keepwell_store::testing::fresh_store(Backend::Sqlite).await;
        store.ingest(&calls(r#"{"batch":[{"type":"group","userId":"u1","groupId":"g1"}]}"#)).await.unwrap();
        let (jobs, rx) = mpsc::unbounded_channel();
        tokio::spawn(writer(store.clone(), rx, Duration::from_millis(300)));
        let ingest = Ingest { jobs, room: Arc::new(Semaphore::new(QUEUE_EVENTS)), store: store.clone() };
        // A call every 50 ms: never idle for the 200 ms that would fold, far from 700 000 events.
        for _ in 0..20 {
            let track = calls(r#"{"batch":[{"type":"track","userId":"u1","event":"Run"}]}"#);
            assert!(ingest.submit(track).await.is_ok());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(store.count_usage().await.unwrap() >= 5, "folded while the traffic went on");
    }
}
