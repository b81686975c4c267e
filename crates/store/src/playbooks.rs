//! Playbooks: definitions by key with every version kept, switched on and off; where each enabled
//! one stands with each account ([`Enrolment`]); and what they did: runs and their actions, each
//! once under a unique key (playbook × version × account × occurrence, and × step), written in
//! the transaction of the pass that decided them.

use crate::health::Change;
use crate::sql::{corrupt, opt_text, text};
use crate::{get_opt_i64, Result, Store, StoreError, Tx, Write};
use chrono::NaiveDate;
use keepwell_core::facts::{Enrolment, Waiting};
use keepwell_core::playbook::{check_playbook, Act, ActionDef, Playbook, PlaybookDef, Route, Taken};
use keepwell_core::task::{Kind, Priority, Status, TaskInput};
use keepwell_core::Invalid;
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;

/// A stored playbook: its version in force, enabled or not.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StoredPlaybook {
    #[serde(skip)]
    pub id: i64,
    pub key: String,
    pub name: String,
    pub version: i64,
    pub enabled: bool,
    /// When it was last enabled or disabled, and what was chosen then: `existing` or `new`
    /// (which accounts it enrolled), `keep` or `close` (its open tasks).
    pub switched_at: Option<chrono::DateTime<chrono::Utc>>,
    pub switch_choice: Option<String>,
    pub definition: PlaybookDef,
    /// An edit of an enabled playbook saved since, not yet in force: publishing makes it the next
    /// version.
    pub draft: Option<PlaybookDef>,
    /// Why the pass leaves it out (a stored definition that no longer checks), else null.
    pub problem: Option<String>,
}

fn stored(r: &sqlx::any::AnyRow) -> Result<StoredPlaybook> {
    let def: PlaybookDef = serde_json::from_str(&text(r, "definition")?).map_err(|_| corrupt("playbook"))?;
    let mut invalid = Invalid::default();
    check_playbook(&def, "", &mut invalid);
    Ok(StoredPlaybook {
        id: r.try_get("id")?,
        key: text(r, "key")?,
        name: text(r, "name")?,
        version: r.try_get("version")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        switched_at: get_opt_i64(r, "switched_at")?.map(crate::instant),
        switch_choice: opt_text(r, "switch_choice")?,
        definition: def,
        draft: opt_text(r, "draft")?
            .map(|d| serde_json::from_str(&d).map_err(|_| corrupt("playbook draft")))
            .transpose()?,
        problem: (!invalid.errors.is_empty()).then(|| invalid.to_string()),
    })
}

const COLS: &str = "id, key, name, version, enabled, switched_at, switch_choice, definition, draft";

async fn load(tx: &mut Tx, key: &str) -> Result<Option<StoredPlaybook>> {
    let row = sqlx::query(&format!("SELECT {COLS} FROM playbooks WHERE key = $1"))
        .bind(key)
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(stored).transpose()
}

/// Creates or updates playbooks by key (checked by the caller, as a definitions file is): a
/// changed definition becomes the next version; an unchanged one stays as it is.
pub async fn apply(w: &mut Write, defs: &[PlaybookDef]) -> Result<Vec<Change>> {
    let mut invalid = Invalid::default();
    for (i, def) in defs.iter().enumerate() {
        check_references(&mut w.tx, def, &format!("playbook[{i}]."), &mut invalid).await?;
    }
    invalid.into_result(())?;
    let mut changes = Vec::new();
    for def in defs {
        changes.push(upsert(w, def, true).await?);
    }
    Ok(changes)
}

/// Saves one playbook (checked here). A change to an enabled playbook is kept as its draft (the
/// version in force keeps running until it is published); saving the version in force again
/// discards the draft.
pub async fn save(w: &mut Write, def: &PlaybookDef) -> Result<Change> {
    let mut invalid = Invalid::default();
    check_playbook(def, "", &mut invalid);
    if invalid.errors.is_empty() {
        check_references(&mut w.tx, def, "", &mut invalid).await?;
    }
    invalid.into_result(())?;
    let def = PlaybookDef { enabled: None, ..def.clone() };
    match load(&mut w.tx, &def.key).await? {
        Some(b) if b.definition == def && b.draft.is_some() => {
            set_draft(w, &b, None).await?;
            Ok(Change { kind: "playbook".into(), key: def.key.clone(), action: "draft discarded".into() })
        }
        Some(b) if b.enabled && b.definition != def => {
            set_draft(w, &b, Some(&def)).await?;
            Ok(Change { kind: "playbook".into(), key: def.key.clone(), action: "drafted".into() })
        }
        // A switched-off playbook takes the change as its next version, and a draft left from
        // when it was on goes.
        Some(b) if b.draft.is_some() => {
            set_draft(w, &b, None).await?;
            upsert(w, &def, true).await
        }
        _ => upsert(w, &def, true).await,
    }
}

/// Keeps `draft` as the playbook's draft (or none), in the audit log.
async fn set_draft(w: &mut Write, p: &StoredPlaybook, draft: Option<&PlaybookDef>) -> Result<()> {
    let text = draft.map(|d| serde_json::to_string(d).map_err(|e| corrupt(&e.to_string()))).transpose()?;
    sqlx::query("UPDATE playbooks SET draft = $1, updated_at = $2 WHERE id = $3")
        .bind(text)
        .bind(w.at)
        .bind(p.id)
        .execute(&mut *w.tx)
        .await?;
    let action = if draft.is_some() { "playbook.draft" } else { "playbook.discard_draft" };
    w.audit(action, "playbook", Some(p.key.clone()), p.draft.as_ref(), draft).await
}

/// Makes the playbook's draft its next version (runs keep the version they started with, and
/// where each account stands carries over); none to publish is an error naming `draft`.
pub async fn publish(w: &mut Write, key: &str) -> Result<StoredPlaybook> {
    let p = load(&mut w.tx, key).await?.ok_or_else(|| StoreError::NotFound(format!("no playbook {key:?}")))?;
    let Some(draft) = &p.draft else {
        return Err(Invalid::field("draft", "the playbook has no draft to publish").into());
    };
    let mut invalid = Invalid::default();
    check_references(&mut w.tx, draft, "draft.", &mut invalid).await?;
    invalid.into_result(())?;
    upsert(w, draft, true).await?;
    sqlx::query("UPDATE playbooks SET draft = NULL WHERE id = $1").bind(p.id).execute(&mut *w.tx).await?;
    load(&mut w.tx, key).await?.ok_or_else(|| corrupt("playbook"))
}

/// Drops the playbook's draft, if it has one.
pub async fn discard_draft(w: &mut Write, key: &str) -> Result<StoredPlaybook> {
    let p = load(&mut w.tx, key).await?.ok_or_else(|| StoreError::NotFound(format!("no playbook {key:?}")))?;
    if p.draft.is_some() {
        set_draft(w, &p, None).await?;
    }
    load(&mut w.tx, key).await?.ok_or_else(|| corrupt("playbook"))
}

/// Creates or updates one playbook; `audited` unless it is part of setting the workspace up.
async fn upsert(w: &mut Write, def: &PlaybookDef, audited: bool) -> Result<Change> {
    let def = &PlaybookDef { enabled: None, ..def.clone() };
    let definition = serde_json::to_string(def).map_err(|e| corrupt(&e.to_string()))?;
    let before = load(&mut w.tx, &def.key).await?;
    let change = |action: &str| Change { kind: "playbook".into(), key: def.key.clone(), action: action.into() };
    let (id, version, action) = match &before {
        Some(b) if b.definition == *def => return Ok(change("unchanged")),
        Some(b) => {
            sqlx::query("UPDATE playbooks SET name = $1, definition = $2, version = $3, updated_at = $4 WHERE id = $5")
                .bind(&def.name)
                .bind(&definition)
                .bind(b.version + 1)
                .bind(w.at)
                .bind(b.id)
                .execute(&mut *w.tx)
                .await?;
            (b.id, b.version + 1, "updated")
        }
        None => {
            let id: i64 = sqlx::query(
                "INSERT INTO playbooks (key, name, definition, version, enabled, created_at, updated_at) \
                 VALUES ($1, $2, $3, 1, 0, $4, $4) RETURNING id",
            )
            .bind(&def.key)
            .bind(&def.name)
            .bind(&definition)
            .bind(w.at)
            .fetch_one(&mut *w.tx)
            .await?
            .try_get("id")?;
            (id, 1, "created")
        }
    };
    sqlx::query("INSERT INTO playbook_versions (playbook_id, version, definition, created_at) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(version)
        .bind(&definition)
        .bind(w.at)
        .execute(&mut *w.tx)
        .await?;
    if !audited {
        return Ok(change(action));
    }
    let after = Some(def);
    w.audit(
        &format!("playbook.{}", if action == "created" { "create" } else { "update" }),
        "playbook",
        Some(def.key.clone()),
        before.as_ref().map(|b| &b.definition),
        after,
    )
    .await?;
    Ok(change(action))
}

/// The built-in playbooks a workspace lacks, added disabled (part of setting the database up, so
/// not in the audit log).
pub async fn add_built_ins(w: &mut Write) -> Result<()> {
    for def in keepwell_core::playbook::built_in() {
        if load(&mut w.tx, &def.key).await?.is_none() {
            upsert(w, &def, false).await?;
        }
    }
    Ok(())
}

/// Enables a playbook with the enrolments a look back over past days found (`seed`), or
/// disables it, closing its open tasks when `choice` is `close` (else keeping them); records
/// the choice. Returns it as it is now.
pub async fn switch(
    w: &mut Write,
    key: &str,
    enabled: bool,
    choice: &str,
    seed: &[(i64, Enrolment)],
) -> Result<StoredPlaybook> {
    let before = load(&mut w.tx, key).await?.ok_or_else(|| StoreError::NotFound(format!("no playbook {key:?}")))?;
    // Switched already (a second submit, another node): nothing again — no re-seeding, no reset
    // of its event cursor.
    if before.enabled == enabled {
        return Ok(before);
    }
    if let (true, Some(problem)) = (enabled, &before.problem) {
        return Err(Invalid::field("enabled", format!("the playbook does not check: {problem}")).into());
    }
    // An event trigger acts on the events that arrive from now on.
    sqlx::query(
        "UPDATE playbooks SET enabled = $1, switched_at = $2, switch_choice = $3, updated_at = $2, \
         event_cursor = (SELECT COALESCE(MAX(id), 0) FROM events) WHERE id = $4",
    )
    .bind(i64::from(enabled))
    .bind(w.at)
    .bind(choice)
    .bind(before.id)
    .execute(&mut *w.tx)
    .await?;
    sqlx::query("DELETE FROM playbook_enrolments WHERE playbook_id = $1").bind(before.id).execute(&mut *w.tx).await?;
    if !enabled {
        // Its waiting runs stop here: switched on again, it starts afresh.
        sqlx::query(
            "UPDATE playbook_actions SET outcome = 'stopped', detail = $1 WHERE outcome = 'waiting' AND run_id IN \
             (SELECT id FROM playbook_runs WHERE playbook_id = $2 AND resume_on IS NOT NULL)",
        )
        .bind(format!("stopped: {} switched the playbook off", w.actor.label))
        .bind(before.id)
        .execute(&mut *w.tx)
        .await?;
        sqlx::query("UPDATE playbook_runs SET next_step = NULL, resume_on = NULL WHERE playbook_id = $1 AND resume_on IS NOT NULL")
            .bind(before.id)
            .execute(&mut *w.tx)
            .await?;
    }
    if enabled {
        let rows: Vec<(i64, i64, Enrolment)> = seed.iter().map(|(a, e)| (before.id, *a, *e)).collect();
        write_enrolments(&mut w.tx, w.backend, &rows).await?;
    } else if choice == "close" {
        let why =
            format!("Closed: playbook {:?} was switched off, and its open tasks with it.", before.definition.name);
        for source in open_sources(&mut w.tx, key, None).await? {
            crate::tasks::close_of_source(w, &source, &why).await?;
        }
    }
    let after = load(&mut w.tx, key).await?.ok_or_else(|| corrupt("playbook"))?;
    w.audit("playbook.switch", "playbook", Some(key.to_owned()), Some(&before), Some(&after)).await?;
    Ok(after)
}

/// Playbook `key` as the write sees it.
pub(crate) async fn current(w: &mut Write, key: &str) -> Result<Option<StoredPlaybook>> {
    load(&mut w.tx, key).await
}

/// The sources of the open tasks playbook `key` opened (for one account, or all).
async fn open_sources(tx: &mut Tx, key: &str, account: Option<i64>) -> Result<Vec<String>> {
    let prefix = match account {
        Some(a) => format!("playbook:{key}:{a}:"),
        None => format!("playbook:{key}:"),
    };
    // `source` is written by this module alone (`playbook:KEY:ACCOUNT:STEP`). Compared by its first
    // characters, not a range: a range depends on the column's collation, and under a
    // linguistic one `playbook:low:` and `playbook:low-usage:` interleave.
    // The length is written in: PostgreSQL's substr takes an integer, not the BIGINT a bound i64 is.
    let n = prefix.chars().count();
    let mut sql =
        crate::sql::Sql::new(&format!("SELECT source FROM tasks WHERE status = 'open' AND substr(source, 1, {n}) = "));
    sql.bind(crate::sql::Arg::Text(prefix));
    if let Some(a) = account {
        sql.push(" AND account_id = ").bind(crate::sql::Arg::I64(a));
    }
    let rows = sql.query().fetch_all(&mut **tx).await?;
    rows.iter().map(|r| Ok(text(r, "source")?)).collect()
}

/// Writes enrolments that changed: (playbook id, account, where it stands), many rows a statement;
/// one back at nothing (no run, never fired) is deleted.
pub(crate) async fn write_enrolments(
    tx: &mut Tx,
    backend: crate::Backend,
    rows: &[(i64, i64, Enrolment)],
) -> Result<()> {
    use crate::sql::Arg;
    let day = |d: Option<NaiveDate>| Arg::MaybeI64(d.map(keepwell_core::facts::day_number));
    let (gone, kept): (Vec<_>, Vec<_>) = rows.iter().partition(|(_, _, e)| *e == Enrolment::default());
    let kept = kept
        .into_iter()
        .map(|(playbook, account, e)| {
            vec![
                Arg::I64(playbook),
                Arg::I64(account),
                day(e.since),
                Arg::I64(i64::from(e.fired)),
                day(e.last_fired),
                day(e.cleared_on),
            ]
        })
        .collect();
    crate::sql::upsert_rows(
        tx,
        backend,
        "playbook_enrolments",
        &["playbook_id", "account_id", "since", "fired", "last_fired", "cleared_on"],
        kept,
        " ON CONFLICT (playbook_id, account_id) DO UPDATE SET since = excluded.since, fired = excluded.fired, \
         last_fired = excluded.last_fired, cleared_on = excluded.cleared_on",
    )
    .await?;
    let mut by_playbook: HashMap<i64, Vec<String>> = HashMap::new();
    for (playbook, account, _) in gone {
        by_playbook.entry(playbook).or_default().push(account.to_string());
    }
    for (playbook, accounts) in by_playbook {
        for chunk in accounts.chunks(5_000) {
            sqlx::query(&format!(
                "DELETE FROM playbook_enrolments WHERE playbook_id = $1 AND account_id IN ({})",
                chunk.join(",")
            ))
            .bind(playbook)
            .execute(&mut **tx)
            .await?;
        }
    }
    Ok(())
}

/// The most acts a simulation's record keeps (it counts them all).
pub const SIMULATION_KEPT: usize = 10_000;

/// Records what a simulation of playbook `key` found (`acts`, each as JSON, the first
/// [`SIMULATION_KEPT`] kept, of `total`): apart from runs, so nothing reads it as done. Returns its id.
pub async fn record_simulation(
    w: &mut Write,
    key: &str,
    version: i64,
    (from, to): (NaiveDate, NaiveDate),
    enrol: &str,
    (acts, total): (&[serde_json::Value], usize),
) -> Result<i64> {
    let p = load(&mut w.tx, key).await?.ok_or_else(|| StoreError::NotFound(format!("no playbook {key:?}")))?;
    let kept = serde_json::Value::Array(acts.iter().take(SIMULATION_KEPT).cloned().collect());
    let row = sqlx::query(
        "INSERT INTO playbook_simulations (playbook_id, version, first_day, last_day, enrol, total, acts, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(p.id)
    .bind(version)
    .bind(from.to_string())
    .bind(to.to_string())
    .bind(enrol)
    .bind(total as i64)
    .bind(kept.to_string())
    .bind(&w.actor.label)
    .bind(w.at)
    .fetch_one(&mut *w.tx)
    .await?;
    Ok(row.try_get("id")?)
}

/// One run as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Run {
    pub id: i64,
    pub playbook: String,
    pub version: i64,
    pub account_id: i64,
    pub account_name: String,
    /// The first day of the run of days its trigger held.
    pub occurrence: NaiveDate,
    /// The day it fired.
    pub day: NaiveDate,
    /// What made it fire.
    #[schema(value_type = Object)]
    pub values: serde_json::Value,
    /// The day it goes on after a wait; none when it has nothing left to wait for.
    pub waiting_until: Option<NaiveDate>,
    pub actions: Vec<RunAction>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RunAction {
    pub step: i64,
    /// `task`, `tag`, `untag`, `notify`, `assign`, `stage`, `webhook`, `branch` (the way it
    /// went) or `wait`.
    pub kind: String,
    /// `done` or `failed`; a wait is `waiting` (until its day) or `stopped` (switched off).
    pub outcome: String,
    /// What it did, or the error.
    pub detail: Option<String>,
    pub task_id: Option<i64>,
}

impl Store {
    pub async fn playbooks(&self) -> Result<Vec<StoredPlaybook>> {
        let rows = sqlx::query(&format!("SELECT {COLS} FROM playbooks ORDER BY key")).fetch_all(self.pool()).await?;
        rows.iter().map(stored).collect()
    }

    pub async fn playbook(&self, key: &str) -> Result<Option<StoredPlaybook>> {
        let mut tx = self.begin_read().await?;
        let p = load(&mut tx, key).await?;
        tx.commit().await?;
        Ok(p)
    }

    /// The enabled playbooks that check, compiled for the pass.
    pub async fn enabled_playbooks(&self) -> Result<Vec<Playbook>> {
        let mut out = Vec::new();
        for p in self.playbooks().await? {
            if !p.enabled {
                continue;
            }
            match (p.problem, Playbook::compile(p.id, p.version, p.definition)) {
                (None, Ok(compiled)) => out.push(compiled),
                (problem, compiled) => tracing::warn!(
                    key = p.key,
                    problem = problem.or(compiled.err()).unwrap_or_default(),
                    "the daily pass skips a playbook that does not check; fix it"
                ),
            }
        }
        Ok(out)
    }

    /// What the pass that acts steps: the enabled playbooks, and the older versions of them whose
    /// runs still wait (those go on at the version they started with; their triggers are no
    /// longer stepped).
    pub async fn acting_playbooks(&self) -> Result<Vec<Playbook>> {
        let mut out = self.enabled_playbooks().await?;
        if out.is_empty() {
            return Ok(out);
        }
        // The versions with waiting runs, read on the index of waiting runs: through the runs'
        // own key, every run of a playbook was read to find the few that wait.
        let enabled: std::collections::HashSet<i64> = out.iter().map(|p| p.id).collect();
        let mut seen: std::collections::HashSet<(i64, i64)> = out.iter().map(|p| (p.id, p.version)).collect();
        let mut older: Vec<(i64, i64)> = Vec::new();
        for r in sqlx::query("SELECT playbook_id, version FROM playbook_runs WHERE resume_on IS NOT NULL")
            .fetch_all(self.pool())
            .await?
        {
            let (id, version): (i64, i64) = (r.try_get("playbook_id")?, r.try_get("version")?);
            if enabled.contains(&id) && seen.insert((id, version)) {
                older.push((id, version));
            }
        }
        for (id, version) in older {
            let r = sqlx::query("SELECT definition FROM playbook_versions WHERE playbook_id = $1 AND version = $2")
                .bind(id)
                .bind(version)
                .fetch_one(self.pool())
                .await?;
            let compiled = serde_json::from_str::<PlaybookDef>(&text(&r, "definition")?)
                .map_err(|e| e.to_string())
                .and_then(|def| Playbook::compile(id, version, def));
            match compiled {
                Ok(mut older) => {
                    older.resume_only = true;
                    out.push(older);
                }
                // Its runs keep waiting; the pass goes on for everything else.
                Err(problem) => {
                    tracing::warn!(
                        playbook = id,
                        version,
                        problem,
                        "waiting runs of a version that does not check stay waiting"
                    )
                }
            }
        }
        Ok(out)
    }

    /// The runs of `playbooks` that wait, by account.
    pub async fn waiting_runs(&self, playbooks: &[i64]) -> Result<HashMap<i64, Vec<Waiting>>> {
        let mut out: HashMap<i64, Vec<Waiting>> = HashMap::new();
        if playbooks.is_empty() {
            return Ok(out);
        }
        let ids = playbooks.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let rows = sqlx::query(&format!(
            "SELECT playbook_id, version, account_id, occurrence, next_step, resume_on FROM playbook_runs \
             WHERE resume_on IS NOT NULL AND playbook_id IN ({ids})"
        ))
        .fetch_all(self.pool())
        .await?;
        for r in &rows {
            let next: i64 = r.try_get("next_step")?;
            out.entry(r.try_get("account_id")?).or_default().push(Waiting {
                playbook: r.try_get("playbook_id")?,
                version: r.try_get("version")?,
                occurrence: crate::sql::day(r, "occurrence")?,
                next: usize::try_from(next).map_err(|_| corrupt("run step"))?,
                on: crate::sql::day(r, "resume_on")?,
            });
        }
        Ok(out)
    }

    /// Where `playbooks` stand with every account: account → playbook id → enrolment. One scan
    /// of the table in its own order (`+playbook_id` keeps SQLite, and PostgreSQL, off the key's
    /// index: the pass reads the rows of every enabled playbook, most of the table): through the
    /// index, each playbook's rows were fetched one by one from all over the table, which made
    /// this read the longest of a pass once most accounts were enrolled somewhere.
    pub async fn enrolments(&self, playbooks: &[i64]) -> Result<HashMap<i64, HashMap<i64, Enrolment>>> {
        type Row = (i64, i64, Option<i64>, i64, Option<i64>, Option<i64>);
        let mut out: HashMap<i64, HashMap<i64, Enrolment>> = HashMap::new();
        if playbooks.is_empty() {
            return Ok(out);
        }
        let day = |n: Option<i64>| n.and_then(keepwell_core::facts::date_of_number);
        let ids = playbooks.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let sql = crate::sql::json_rows(
            self.backend(),
            "playbook_id, account_id, since, fired, last_fired, cleared_on",
            &format!("FROM playbook_enrolments WHERE +playbook_id IN ({ids})"),
        );
        let rows: Vec<Row> = crate::sql::fetch_json_rows(&sql, self.pool()).await?;
        for (p, account, since, fired, last_fired, cleared_on) in rows {
            let e = Enrolment {
                since: day(since),
                fired: fired != 0,
                last_fired: day(last_fired),
                cleared_on: day(cleared_on),
            };
            out.entry(account).or_default().insert(p, e);
        }
        Ok(out)
    }

    /// The latest runs, newest first: of one playbook, of one account, or both.
    pub async fn playbook_runs(&self, key: Option<&str>, account: Option<i64>, limit: i64) -> Result<Vec<Run>> {
        let mut sql = crate::sql::Sql::new(
            "SELECT r.id, p.key, r.version, r.account_id, a.name, r.occurrence, r.day, r.trigger_values, r.resume_on \
             FROM playbook_runs r JOIN playbooks p ON p.id = r.playbook_id JOIN accounts a ON a.id = r.account_id WHERE 1 = 1",
        );
        if let Some(key) = key {
            sql.push(" AND p.key = ").bind(crate::sql::Arg::Text(key.to_owned()));
        }
        if let Some(account) = account {
            sql.push(" AND r.account_id = ").bind(crate::sql::Arg::I64(account));
        }
        sql.push(" ORDER BY r.id DESC LIMIT ").bind(crate::sql::Arg::I64(limit));
        let rows = sql.query().fetch_all(self.pool()).await?;
        // Their actions in one read, not one per run.
        let ids: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<i64, _>("id").map(|i| i.to_string()))
            .collect::<std::result::Result<_, _>>()?;
        let mut actions: HashMap<i64, Vec<RunAction>> = HashMap::new();
        for chunk in ids.chunks(1_000) {
            let found = sqlx::query(&format!(
                "SELECT run_id, step, kind, outcome, detail, task_id FROM playbook_actions WHERE run_id IN ({}) \
                 ORDER BY run_id, step",
                chunk.join(",")
            ))
            .fetch_all(self.pool())
            .await?;
            for a in &found {
                actions.entry(a.try_get("run_id")?).or_default().push(RunAction {
                    step: a.try_get("step")?,
                    kind: text(a, "kind")?,
                    outcome: text(a, "outcome")?,
                    detail: opt_text(a, "detail")?,
                    task_id: get_opt_i64(a, "task_id")?,
                });
            }
        }
        let mut runs = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: i64 = r.try_get("id")?;
            runs.push(Run {
                id,
                playbook: text(r, "key")?,
                version: r.try_get("version")?,
                account_id: r.try_get("account_id")?,
                account_name: text(r, "name")?,
                occurrence: crate::sql::day(r, "occurrence")?,
                day: crate::sql::day(r, "day")?,
                values: serde_json::from_str(&text(r, "trigger_values")?).map_err(|_| corrupt("run values"))?,
                waiting_until: opt_text(r, "resume_on")?.map(|d| d.parse()).transpose().map_err(|_| corrupt("run"))?,
                actions: actions.remove(&id).unwrap_or_default(),
            });
        }
        Ok(runs)
    }
}

/// Does what a playbook decided for an account on `day`, as the playbook (`playbook:KEY` in
/// the audit log and on its tasks), once: a run already recorded for this version, account and
/// occurrence does nothing.
pub(crate) async fn act(w: &mut Write, p: &Playbook, account: i64, day: NaiveDate, act: &Act) -> Result<()> {
    let actor = std::mem::replace(&mut w.actor, as_playbook(p));
    let done = match act {
        Act::Fire { occurrence, values, route } => {
            fire(w, p, (account, day, *occurrence), values, route).await.map(|_| ())
        }
        Act::Resume { occurrence, from, route } => resume(w, p, (account, day, *occurrence), *from, route).await,
        Act::Close => close(w, p, account).await,
    };
    w.actor = actor;
    done
}

/// Who a playbook's acts are by: `playbook:KEY` in the audit log and on its tasks.
fn as_playbook(p: &Playbook) -> crate::Actor {
    crate::Actor::system(&format!("playbook:{}", p.def.key))
}

/// [`fire`] as the playbook, whoever the write's actor is (a manual start's member, the event
/// job), with the lifecycle rule holding the account (if any) in its values.
async fn fire_as_playbook(
    w: &mut Write,
    p: &Playbook,
    at: (i64, NaiveDate, NaiveDate),
    values: &serde_json::Value,
    route: &Route,
) -> Result<bool> {
    let mut values = values.clone();
    if let (Some(rule), Some(map)) = (&route.rule, values.as_object_mut()) {
        map.insert("lifecycle_rule".into(), rule.clone().into());
    }
    let actor = std::mem::replace(&mut w.actor, as_playbook(p));
    let fired = fire(w, p, at, &values, route).await;
    w.actor = actor;
    fired
}

/// The most accounts one manual start names.
pub const STARTED: usize = 1_000;

/// Starts playbook `p` by hand for `accounts` on `day`: its actions for each as the pass does them
/// (as the playbook, the day its occurrence), once per account and day. Returns the accounts it
/// acted for; one it already acted for that day is left out. The start is in the audit log as
/// the member's.
pub async fn start(
    w: &mut Write,
    p: &Playbook,
    accounts: &[i64],
    day: NaiveDate,
    judged: &crate::health::Judged,
) -> Result<Vec<i64>> {
    let mut ids: Vec<i64> = accounts.to_vec();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() || ids.len() > STARTED {
        return Err(Invalid::field("account_ids", format!("name 1 to {STARTED} accounts")).into());
    }
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    let found: std::collections::HashSet<i64> = sqlx::query(&format!("SELECT id FROM accounts WHERE id IN ({list})"))
        .fetch_all(&mut *w.tx)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<std::result::Result<_, _>>()?;
    let mut invalid = Invalid::default();
    for (i, a) in accounts.iter().enumerate() {
        if !found.contains(a) {
            invalid.push(format!("account_ids[{i}]"), format!("no account has id {a}"));
        }
    }
    invalid.into_result(())?;
    let values = serde_json::json!({"manual": true, "by": w.actor.label});
    let mut started = Vec::new();
    for a in &ids {
        if fire_as_playbook(w, p, (*a, day, day), &values, &judged.route(p, *a)).await? {
            started.push(*a);
        }
    }
    let record = serde_json::json!({"day": day, "accounts": ids, "started": started});
    w.audit("playbook.start", "playbook", Some(p.def.key.clone()), None, Some(&record)).await?;
    Ok(started)
}

/// The account's owner as actions address it (a member since disabled is no one to task or
/// tell) and its name; None when there is no such account.
async fn owner_and_name(w: &mut Write, account: i64) -> Result<Option<(Option<i64>, String)>> {
    let row = sqlx::query(
        "SELECT CASE WHEN u.disabled_at IS NULL THEN a.owner_id END AS owner_id, a.name FROM accounts a \
         LEFT JOIN users u ON u.id = a.owner_id WHERE a.id = $1",
    )
    .bind(account)
    .fetch_optional(&mut *w.tx)
    .await?;
    row.map(|r| Ok((get_opt_i64(&r, "owner_id")?, text(&r, "name")?))).transpose()
}

/// Records a run of `p` for (account, day it fired, occurrence) and takes its route once: false
/// when the run of this version, account and occurrence was already recorded (nothing is done
/// again).
async fn fire(
    w: &mut Write,
    p: &Playbook,
    (account, day, occurrence): (i64, NaiveDate, NaiveDate),
    values: &serde_json::Value,
    route: &Route,
) -> Result<bool> {
    let Some((owner, name)) = owner_and_name(w, account).await? else { return Ok(false) };
    let run = sqlx::query(
        "INSERT INTO playbook_runs (playbook_id, version, account_id, occurrence, day, trigger_values, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (playbook_id, version, account_id, occurrence) DO NOTHING RETURNING id",
    )
    .bind(p.id)
    .bind(p.version)
    .bind(account)
    .bind(occurrence.to_string())
    .bind(day.to_string())
    .bind(values.to_string())
    .bind(w.at)
    .fetch_optional(&mut *w.tx)
    .await?;
    let Some(run) = run else { return Ok(false) };
    let why = format!("Playbook {:?} fired on {day}: {}.", p.def.name, summary(values));
    let fired = Fired { p, run: run.try_get("id")?, account: (account, &name), day, occurrence, values, why: &why };
    take(w, &fired, owner, route).await?;
    Ok(true)
}

/// Goes on with the run of `p` for (account, today, occurrence) that waited at step `from`: its
/// wait is done and it takes `route`, once — a run that is not waiting there (stopped, or gone
/// on already) does nothing.
async fn resume(
    w: &mut Write,
    p: &Playbook,
    (account, day, occurrence): (i64, NaiveDate, NaiveDate),
    from: usize,
    route: &Route,
) -> Result<()> {
    let Some(row) = sqlx::query(
        "UPDATE playbook_runs SET next_step = NULL, resume_on = NULL WHERE playbook_id = $1 AND version = $2 \
         AND account_id = $3 AND occurrence = $4 AND next_step = $5 RETURNING id, day, trigger_values",
    )
    .bind(p.id)
    .bind(p.version)
    .bind(account)
    .bind(occurrence.to_string())
    .bind(from as i64)
    .fetch_optional(&mut *w.tx)
    .await?
    else {
        return Ok(());
    };
    let run: i64 = row.try_get("id")?;
    sqlx::query("UPDATE playbook_actions SET outcome = 'done', detail = $1 WHERE run_id = $2 AND outcome = 'waiting'")
        .bind(format!("waited until {day}"))
        .bind(run)
        .execute(&mut *w.tx)
        .await?;
    let values: serde_json::Value =
        serde_json::from_str(&text(&row, "trigger_values")?).map_err(|_| corrupt("run values"))?;
    let Some((owner, name)) = owner_and_name(w, account).await? else { return Ok(()) };
    let fired_on = crate::sql::day(&row, "day")?;
    let why = format!("Playbook {:?} fired on {fired_on}: {}; it went on on {day}.", p.def.name, summary(&values));
    let fired = Fired { p, run, account: (account, &name), day, occurrence, values: &values, why: &why };
    take(w, &fired, owner, route).await
}

/// Takes a run's route for the day: each action once (its step's idempotency key), each branch
/// recorded with the way it went, and the wait it reaches recorded as waiting until its day.
async fn take(w: &mut Write, f: &Fired<'_>, mut owner: Option<i64>, route: &Route) -> Result<()> {
    let (p, (account, _), day, at) = (f.p, f.account, f.day, w.at);
    // A step's idempotency key: playbook × version × account × occurrence × step.
    let key_of = |step: usize| format!("{}:{}:{account}:{}:{step}", p.def.key, p.version, f.occurrence);
    let record = |step: usize, kind: &'static str, outcome: &'static str, detail: String, task: Option<i64>| {
        sqlx::query(
            "INSERT INTO playbook_actions (run_id, step, idempotency_key, kind, outcome, detail, task_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(f.run)
        .bind(step as i64)
        .bind(key_of(step))
        .bind(kind)
        .bind(outcome)
        .bind(detail)
        .bind(task)
        .bind(at)
    };
    for taken in &route.steps {
        let (step, action) = match *taken {
            Taken::Do(step) => match p.action(step) {
                Some(a) => (step, a),
                None => continue,
            },
            Taken::Branch(step, holds) => {
                let text = p.branch_text(step);
                let detail = if holds {
                    format!("the condition {text:?} held: its then steps")
                } else {
                    format!("the condition {text:?} did not hold: its otherwise steps")
                };
                record(step, "branch", "done", detail, None).execute(&mut *w.tx).await?;
                continue;
            }
        };
        let key = key_of(step);
        let (done, task) = match action {
            ActionDef::Task { title, task_kind, priority, due_days, description } => {
                let input = TaskInput {
                    title: title.clone(),
                    kind: Kind::parse(task_kind).unwrap_or(Kind::Other),
                    priority: Priority::parse(priority).unwrap_or(Priority::Normal),
                    status: Status::Open,
                    due_on: due_days.map(|d| day + chrono::Days::new(u64::from(d))),
                    snoozed_until: None,
                    owner_id: owner,
                    account_id: Some(account),
                    description: if description.is_empty() {
                        f.why.to_owned()
                    } else {
                        format!("{description}\n\n{}", f.why)
                    },
                    source: Some(format!("playbook:{}:{account}:{step}", p.def.key)),
                };
                // What the task's checks refuse (a member disabled meanwhile) fails this action, not
                // the day's pass: they refuse before writing anything.
                match crate::tasks::open_untold(w, &input, Some(f.why)).await {
                    Ok((t, new)) => {
                        let mut d =
                            if new { format!("opened task {}", t.id) } else { format!("asked task {} again", t.id) };
                        if new {
                            // The owner told of the band change that day hears of the task there;
                            // else as of any task given to them.
                            let word = serde_json::json!({"playbook": p.def.name, "title": t.title, "task": true});
                            let joined = match t.owner.as_ref() {
                                Some(o) => {
                                    let about = (account, f.day);
                                    crate::notifications::join_band_change(&mut w.tx, o.id, about, word, Some(t.id))
                                        .await?
                                }
                                None => false,
                            };
                            if joined {
                                d.push_str(" (told in the band-change notification)");
                            } else {
                                crate::tasks::tell_owner(w, &t).await?;
                            }
                        }
                        (Ok(d), Some(t.id))
                    }
                    Err(StoreError::Invalid(e)) => (Err(format!("no task: {e}")), None),
                    Err(e) => return Err(e),
                }
            }
            ActionDef::Tag { tag } => (Ok(crate::accounts::set_tag(w, account, tag, true).await?), None),
            ActionDef::Untag { tag } => (Ok(crate::accounts::set_tag(w, account, tag, false).await?), None),
            ActionDef::Notify { message, email } => (notify(w, f, &key, owner, message, *email).await?, None),
            ActionDef::Assign { member, members, .. } => {
                let chosen = match members.as_slice() {
                    [] => member_id(&mut w.tx, member)
                        .await?
                        .ok_or_else(|| format!("no active team member has the e-mail {member}")),
                    _ => in_turn(&mut w.tx, p.id, step, members).await?,
                };
                match chosen {
                    Ok(id) => {
                        owner = Some(id);
                        (Ok(crate::accounts::set_owner(w, account, id).await?), None)
                    }
                    Err(e) => (Err(e), None),
                }
            }
            ActionDef::Stage { stage } => match &route.rule {
                Some(rule) => (
                    Err(format!(
                        "lifecycle rule {rule:?} holds the account, so it decides the stage: a playbook does not \
                         move it against a rule"
                    )),
                    None,
                ),
                None => {
                    let stage = stage.parse::<keepwell_core::account::LifecycleStage>().map_or("", |s| s.as_str());
                    (Ok(crate::accounts::set_stage(w, account, stage).await?), None)
                }
            },
            ActionDef::Webhook { url, message } => (call(w, f, &key, url, message).await?, None),
            ActionDef::Start { playbook } => (start_other(w, f, playbook).await?, None),
            ActionDef::Email { to, contact_role, texts } => {
                (email(w, f, &key, owner, (to, contact_role.as_deref()), texts).await?, None)
            }
            ActionDef::Wait { .. } | ActionDef::Branch { .. } => continue,
        };
        let (outcome, detail) = match done {
            Ok(d) => ("done", d),
            Err(e) => ("failed", e),
        };
        record(step, action.kind(), outcome, detail, task).execute(&mut *w.tx).await?;
    }
    if let Some(wait) = route.wait {
        let until = day + chrono::Days::new(u64::from(wait.days));
        record(wait.at, "wait", "waiting", format!("until {until}"), None).execute(&mut *w.tx).await?;
        sqlx::query("UPDATE playbook_runs SET next_step = $1, resume_on = $2 WHERE id = $3")
            .bind(wait.next as i64)
            .bind(until.to_string())
            .bind(f.run)
            .execute(&mut *w.tx)
            .await?;
    }
    Ok(())
}

/// A run as its actions address it, on the day they are taken.
struct Fired<'a> {
    p: &'a Playbook,
    run: i64,
    account: (i64, &'a str),
    day: NaiveDate,
    occurrence: NaiveDate,
    values: &'a serde_json::Value,
    why: &'a str,
}

/// The most playbook e-mails one contact gets in seven days.
pub const CONTACT_EMAILS_A_WEEK: i64 = 3;

/// The most contacts one e-mail step writes to.
const CONTACTS_AN_EMAIL: usize = 20;

/// E-mails the account's owner or its contacts (see [`ActionDef::Email`]), each once per
/// occurrence, in the recipient's language; says whom, and whom not and why.
async fn email(
    w: &mut Write,
    f: &Fired<'_>,
    key: &str,
    owner: Option<i64>,
    (to, role): (&str, Option<&str>),
    texts: &std::collections::BTreeMap<String, keepwell_core::playbook::EmailText>,
) -> Result<std::result::Result<String, String>> {
    use keepwell_core::playbook::EmailText;
    let (account, name) = f.account;
    let mut boss: Option<(String, String, Option<String>)> = None;
    if let Some(id) = owner {
        let row = sqlx::query("SELECT email, name, locale FROM users WHERE id = $1 AND disabled_at IS NULL")
            .bind(id)
            .fetch_optional(&mut *w.tx)
            .await?;
        if let Some(r) = row {
            boss = Some((text(&r, "email")?, text(&r, "name")?, opt_text(&r, "locale")?));
        }
    }
    let owner_name = boss.as_ref().map(|b| b.1.clone()).unwrap_or_default();
    let account_json = serde_json::json!({"id": account, "name": name});
    // The subject and body for a recipient: in their language, filled in, the subject on one line.
    let words = |locale: Option<&str>, who: &str| {
        EmailText::pick(texts, locale).map(|t| {
            (
                EmailText::one_line(&EmailText::fill(&t.subject, name, who, &owner_name)),
                EmailText::fill(&t.body, name, who, &owner_name),
            )
        })
    };
    if to == "owner" {
        let Some((address, member, locale)) = boss else {
            return Ok(Err("the account has no owner to e-mail".to_owned()));
        };
        let Some((subject, body)) = words(locale.as_deref(), &member) else { return Ok(Err("no text".to_owned())) };
        let payload = serde_json::json!({
            "kind": "message", "member": {"id": owner, "email": address, "name": member, "locale": locale},
            "account": account_json, "subject": subject, "body": body,
        });
        queue(w, &format!("email:{key}"), account, &address, &payload).await?;
        return Ok(Ok(format!("e-mailed the owner {address}")));
    }
    // The account's contacts (with the role), those unsubscribed apart: the first 20 of the others.
    let mut sql = crate::sql::Sql::new(
        "SELECT id, email, name, locale, CASE WHEN lower(email) IN (SELECT email FROM unsubscribed) THEN 1 ELSE 0 END \
         AS unsubscribed FROM contacts WHERE account_id = ",
    );
    sql.bind(crate::sql::Arg::I64(account));
    if let Some(role) = role.and_then(|r| r.parse::<keepwell_core::contact::ContactRole>().ok()) {
        sql.push(" AND role = ").bind(crate::sql::Arg::Text(role.as_str().to_owned()));
    }
    sql.push(" ORDER BY unsubscribed, id");
    let contacts = sql.query().fetch_all(&mut *w.tx).await?;
    let mut unsubscribed = 0;
    let mut reachable = Vec::new();
    for c in &contacts {
        if c.try_get::<i64, _>("unsubscribed")? == 1 {
            unsubscribed += 1;
        } else if reachable.len() < CONTACTS_AN_EMAIL {
            reachable.push(c);
        }
    }
    // Their playbook e-mails of the last seven days, in one read.
    let mut recent: HashMap<String, i64> = HashMap::new();
    if !reachable.is_empty() {
        let mut count = crate::sql::Sql::new(
            "SELECT recipient, COUNT(*) AS n FROM deliveries WHERE event = 'playbook.email' AND created_at > ",
        );
        count.bind(crate::sql::Arg::I64(w.at - 7 * 86_400 * 1_000_000)).push(" AND recipient IN (");
        for (i, c) in reachable.iter().enumerate() {
            if i > 0 {
                count.push(", ");
            }
            count.bind(crate::sql::Arg::Text(text(c, "email")?));
        }
        count.push(") GROUP BY recipient");
        for r in count.query().fetch_all(&mut *w.tx).await? {
            recent.insert(text(&r, "recipient")?, r.try_get("n")?);
        }
    }
    let (mut sent, mut capped) = (Vec::new(), 0);
    for c in reachable {
        let (id, address): (i64, String) = (c.try_get("id")?, text(c, "email")?);
        if recent.get(&address).copied().unwrap_or(0) >= CONTACT_EMAILS_A_WEEK {
            capped += 1;
            continue;
        }
        let locale = opt_text(c, "locale")?;
        let who = opt_text(c, "name")?.unwrap_or_else(|| address.clone());
        let Some((subject, body)) = words(locale.as_deref(), &who) else { continue };
        let payload = serde_json::json!({
            "kind": "message", "member": {"locale": locale}, "contact": {"id": id, "email": address, "name": who},
            "account": account_json, "subject": subject, "body": body,
            "reply_to": boss.as_ref().map(|b| b.0.clone()), "unsubscribe": id,
        });
        queue(w, &format!("email:{key}:{id}"), account, &address, &payload).await?;
        sent.push(address);
    }
    let mut left_out = Vec::new();
    if unsubscribed > 0 {
        left_out.push(format!("{unsubscribed} unsubscribed"));
    }
    if capped > 0 {
        left_out.push(format!("{capped} already had {CONTACT_EMAILS_A_WEEK} playbook e-mails this week"));
    }
    let left_out = if left_out.is_empty() { String::new() } else { format!(" (not: {})", left_out.join(", ")) };
    Ok(match sent.len() {
        0 if contacts.is_empty() => Err(format!(
            "the account has no contact to e-mail{}",
            role.map(|r| format!(" with the role {r}")).unwrap_or_default()
        )),
        0 => Err(format!("no contact e-mailed{left_out}")),
        _ => Ok(format!("e-mailed {}{left_out}", sent.join(", "))),
    })
}

/// Queues a playbook's e-mail to `address` once per `occurrence`.
async fn queue(
    w: &mut Write,
    occurrence: &str,
    account: i64,
    address: &str,
    payload: &serde_json::Value,
) -> Result<()> {
    crate::deliveries::write_email(&mut w.tx, w.at, occurrence, ("playbook.email", Some(account)), address, payload)
        .await
}

/// Begins a run of playbook `key` (its version in force, switched on) for the account today,
/// waiting at its first step, once per account and day: the pass that acts takes it on — at once
/// when that pass is the one starting it (its route is worked out with the account's facts in
/// hand), else at the day's next pass.
async fn start_other(w: &mut Write, f: &Fired<'_>, key: &str) -> Result<std::result::Result<String, String>> {
    let Some(r) = sqlx::query("SELECT id, version, enabled FROM playbooks WHERE key = $1")
        .bind(key)
        .fetch_optional(&mut *w.tx)
        .await?
    else {
        return Ok(Err(format!("no playbook has the key {key:?}")));
    };
    if r.try_get::<i64, _>("enabled")? == 0 {
        return Ok(Err(format!("playbook {key:?} is switched off")));
    }
    let (account, _) = f.account;
    let run = sqlx::query(
        "INSERT INTO playbook_runs (playbook_id, version, account_id, occurrence, day, trigger_values, created_at, \
         next_step, resume_on) VALUES ($1, $2, $3, $4, $4, $5, $6, 0, $4) \
         ON CONFLICT (playbook_id, version, account_id, occurrence) DO NOTHING RETURNING id",
    )
    .bind(r.try_get::<i64, _>("id")?)
    .bind(r.try_get::<i64, _>("version")?)
    .bind(account)
    .bind(f.day.to_string())
    .bind(serde_json::json!({"started_by": f.p.def.key}).to_string())
    .bind(w.at)
    .fetch_optional(&mut *w.tx)
    .await?;
    Ok(Ok(match run {
        Some(run) => format!("started playbook {key:?} (run {})", run.try_get::<i64, _>("id")?),
        None => format!("playbook {key:?} had already run for the account today"),
    }))
}

/// Tells the owner in the app, and by e-mail when asked, once per occurrence; why not, when the
/// account has no owner.
async fn notify(
    w: &mut Write,
    f: &Fired<'_>,
    key: &str,
    owner: Option<i64>,
    message: &str,
    email: bool,
) -> Result<std::result::Result<String, String>> {
    let Some(user) = owner else { return Ok(Err("the account has no owner to tell".to_owned())) };
    let (account, name) = f.account;
    // One delivery for one occurrence: the member told of the account's band change that day
    // hears of the playbook in that notification (and that e-mail, while it is queued).
    let word = serde_json::json!({"playbook": f.p.def.name, "title": message});
    let joined = crate::notifications::join_band_change(&mut w.tx, user, (account, f.day), word.clone(), None).await?;
    if !joined {
        let data = serde_json::json!({"title": message, "account": name, "playbook": f.p.def.name});
        crate::notifications::notify(&mut w.tx, w.at, user, key, ("playbook", Some(account), None), &data).await?;
    }
    let told = if joined { "in the band-change notification" } else { "in the app" };
    if !email {
        return Ok(Ok(format!("told member {user} {told}")));
    }
    let Some(r) = sqlx::query("SELECT email, name, locale FROM users WHERE id = $1 AND disabled_at IS NULL")
        .bind(user)
        .fetch_optional(&mut *w.tx)
        .await?
    else {
        return Ok(Err(format!("told member {user} in the app; no e-mail: the member is disabled")));
    };
    let to = text(&r, "email")?;
    if crate::deliveries::join_band_email(&mut w.tx, &to, (account, f.day), &word).await? {
        return Ok(Ok(format!("told member {user} {told} and in the band-change e-mail")));
    }
    let member =
        serde_json::json!({"id": user, "email": to, "name": text(&r, "name")?, "locale": opt_text(&r, "locale")?});
    let payload = serde_json::json!({
        "kind": "playbook", "member": member, "account": {"id": account, "name": name},
        "playbook": f.p.def.name, "message": message, "day": f.day, "why": summary(f.values),
    });
    let occurrence = format!("email:{key}");
    crate::deliveries::write_email(&mut w.tx, w.at, &occurrence, ("playbook.fired", Some(account)), &to, &payload)
        .await?;
    Ok(Ok(format!("told member {user} {told} and by e-mail")))
}

/// Sends `playbook.fired` to the endpoint at `url`, once per occurrence.
async fn call(
    w: &mut Write,
    f: &Fired<'_>,
    key: &str,
    url: &str,
    message: &str,
) -> Result<std::result::Result<String, String>> {
    let (account, name) = f.account;
    let said = if message.is_empty() { f.why.to_owned() } else { format!("{message} ({})", f.why) };
    let data = serde_json::json!({
        "playbook": f.p.def.key, "version": f.p.version, "account_id": account, "account": name,
        "occurrence": f.occurrence, "day": f.day, "values": f.values, "message": message,
        "text": format!("{name}: {said}"),
    });
    let sent = crate::deliveries::call(&mut w.tx, w.at, url, key, ("playbook.fired", Some(account)), &data).await?;
    Ok(sent.map(|endpoint| format!("queued for webhook endpoint {endpoint}")))
}

/// An edge of what playbooks do to one another: (from, to, which playbook).
type Edge = (String, String, String);

/// Where one of `mine` (edges out of the playbook being saved) leads back, through `all` (every
/// stored playbook's edges and `mine`), to where it began: the edges walked, if so. Each node is
/// visited once, so the walk ends however the playbooks are wired.
fn back_to_start(mine: &[Edge], all: &[Edge]) -> Option<Vec<Edge>> {
    for first in mine {
        let origin = &first.0;
        let mut seen = std::collections::HashSet::from([first.1.clone()]);
        let mut frontier = vec![(first.1.clone(), vec![first.clone()])];
        while let Some((at, trail)) = frontier.pop() {
            if at == *origin {
                return Some(trail);
            }
            for edge in all.iter().filter(|e| e.0 == at) {
                let mut next = trail.clone();
                next.push(edge.clone());
                if edge.1 == *origin {
                    return Some(next);
                }
                if seen.insert(edge.1.clone()) {
                    frontier.push((edge.1.clone(), next));
                }
            }
        }
    }
    None
}

/// A stage trigger's stage and a stage action's, as moves between stages: where `def`'s moves
/// close a loop with `others`' (in stage A it moves accounts to B, and some playbook in B moves
/// them back to A, directly or through others), it says which: such playbooks would move an
/// account back and forth every day.
fn stage_cycle(def: &PlaybookDef, others: &[PlaybookDef]) -> Option<String> {
    use keepwell_core::playbook::TriggerDef;
    fn moves(def: &PlaybookDef) -> Vec<Edge> {
        let TriggerDef::Stage { stage: from, .. } = &def.trigger else { return Vec::new() };
        let norm = |s: &str| s.trim().to_ascii_lowercase();
        ActionDef::each(&def.actions)
            .into_iter()
            .filter_map(|(_, a)| match a {
                ActionDef::Stage { stage } if norm(stage) != norm(from) => {
                    Some((norm(from), norm(stage), def.key.clone()))
                }
                _ => None,
            })
            .collect()
    }
    let mine = moves(def);
    let all: Vec<Edge> = mine.iter().cloned().chain(others.iter().flat_map(moves)).collect();
    let trail = back_to_start(&mine, &all)?;
    let said: Vec<String> = trail.iter().map(|(f, t, key)| format!("{key} moves {f} → {t}")).collect();
    Some(format!("it would move accounts back and forth every day: {}", said.join(", ")))
}

/// Where `def`'s starts of other playbooks lead with `others`': the trail back to `def` when it
/// would start itself, directly or through others.
fn start_cycle(def: &PlaybookDef, others: &[PlaybookDef]) -> Option<String> {
    fn starts(def: &PlaybookDef) -> Vec<Edge> {
        ActionDef::each(&def.actions)
            .into_iter()
            .filter_map(|(_, a)| match a {
                ActionDef::Start { playbook } => Some((def.key.clone(), playbook.clone(), def.key.clone())),
                _ => None,
            })
            .collect()
    }
    let mine = starts(def);
    let all: Vec<Edge> = mine.iter().cloned().chain(others.iter().flat_map(starts)).collect();
    let trail = back_to_start(&mine, &all)?;
    let keys: Vec<&str> = std::iter::once(def.key.as_str()).chain(trail.iter().map(|e| e.1.as_str())).collect();
    Some(format!("it would start itself: {}", keys.join(" starts ")))
}

/// The next of `members` for the assign step `step` of playbook `playbook`, in turn: the first
/// active one after the member it last chose (in the order named), so a member disabled meanwhile
/// is passed over without reshuffling the others. The choice is recorded in the write that
/// assigns, so concurrent runs each get the next.
async fn in_turn(
    tx: &mut Tx,
    playbook: i64,
    step: usize,
    members: &[String],
) -> Result<std::result::Result<i64, String>> {
    let mut sql = crate::sql::Sql::new(
        "SELECT id, lower(email) AS email, CASE WHEN disabled_at IS NULL THEN 1 ELSE 0 END AS active FROM users \
         WHERE lower(email) IN (",
    );
    for (i, m) in members.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(crate::sql::Arg::Text(m.trim().to_lowercase()));
    }
    sql.push(")");
    let found: HashMap<String, (i64, bool)> = sql
        .query()
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| Ok((text(r, "email")?, (r.try_get("id")?, r.try_get::<i64, _>("active")? == 1))))
        .collect::<Result<_>>()?;
    // In the order named: each member's id and whether they are active.
    let named: Vec<(i64, bool)> = members.iter().filter_map(|m| found.get(&m.trim().to_lowercase()).copied()).collect();
    let last = sqlx::query("SELECT last_member FROM playbook_rotations WHERE playbook_id = $1 AND step = $2")
        .bind(playbook)
        .bind(step as i64)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| r.try_get::<i64, _>("last_member"))
        .transpose()?;
    // The first active one after the last chosen (from the start when it is no longer named).
    let start = last.and_then(|l| named.iter().position(|(id, _)| *id == l)).map_or(0, |at| at + 1);
    let Some(next) =
        (0..named.len()).map(|k| named[(start + k) % named.len()]).find(|(_, active)| *active).map(|m| m.0)
    else {
        return Ok(Err(format!("none of {} is an active team member", members.join(", "))));
    };
    sqlx::query(
        "INSERT INTO playbook_rotations (playbook_id, step, last_member) VALUES ($1, $2, $3) \
         ON CONFLICT (playbook_id, step) DO UPDATE SET last_member = $3",
    )
    .bind(playbook)
    .bind(step as i64)
    .bind(next)
    .execute(&mut **tx)
    .await?;
    Ok(Ok(next))
}

/// The active member with e-mail `email`.
async fn member_id(tx: &mut Tx, email: &str) -> Result<Option<i64>> {
    let row = sqlx::query("SELECT id FROM users WHERE lower(email) = lower($1) AND disabled_at IS NULL")
        .bind(email.trim())
        .fetch_optional(&mut **tx)
        .await?;
    row.map(|r| r.try_get("id")).transpose().map_err(Into::into)
}

/// What a playbook names that must exist when it is saved: the segment its trigger watches, the
/// members it assigns, the webhook endpoints it calls (subscribed to `playbook.fired`). Errors are
/// named under `at`.
async fn check_references(tx: &mut Tx, def: &PlaybookDef, at: &str, invalid: &mut Invalid) -> Result<()> {
    use keepwell_core::playbook::TriggerDef;
    if let TriggerDef::Segment { segment, .. } | TriggerDef::LeftSegment { segment } = &def.trigger {
        let found =
            sqlx::query("SELECT id FROM segments WHERE key = $1").bind(segment).fetch_optional(&mut **tx).await?;
        if found.is_none() {
            invalid.push(format!("{at}trigger.segment"), format!("no segment has the key {segment:?}"));
        }
    }
    // Every other stored playbook, for the loops this one would close with them.
    let mut others = Vec::new();
    for r in sqlx::query("SELECT definition FROM playbooks WHERE key <> $1").bind(&def.key).fetch_all(&mut **tx).await?
    {
        if let Ok(other) = serde_json::from_str::<PlaybookDef>(&text(&r, "definition")?) {
            others.push(other);
        }
    }
    if let Some(why) = start_cycle(def, &others) {
        let steps = ActionDef::each(&def.actions);
        let path = steps.iter().find(|(_, a)| matches!(a, ActionDef::Start { .. })).map_or("actions[0]", |s| &s.0);
        invalid.push(format!("{at}{path}.playbook"), why);
    }
    if let Some(why) = stage_cycle(def, &others) {
        let steps = ActionDef::each(&def.actions);
        let path = steps.iter().find(|(_, a)| matches!(a, ActionDef::Stage { .. })).map_or("actions[0]", |s| &s.0);
        invalid.push(format!("{at}{path}.stage"), why);
    }
    for (path, a) in ActionDef::each(&def.actions) {
        match a {
            ActionDef::Assign { member, members, rules } => {
                let named = std::iter::once(("member".to_owned(), member))
                    .filter(|(_, m)| !m.is_empty())
                    .chain(members.iter().enumerate().map(|(j, m)| (format!("members[{j}]"), m)))
                    .chain(rules.iter().enumerate().map(|(j, r)| (format!("rules[{j}].member"), &r.member)));
                for (field, m) in named {
                    if member_id(tx, m).await?.is_none() {
                        invalid
                            .push(format!("{at}{path}.{field}"), format!("no active team member has the e-mail {m}"));
                    }
                }
            }
            ActionDef::Webhook { url, .. } => {
                if let Some(why) = crate::deliveries::unreachable(tx, url, "playbook.fired").await? {
                    invalid.push(format!("{at}{path}.url"), why);
                }
            }
            ActionDef::Start { playbook } if *playbook != def.key => {
                let found = sqlx::query("SELECT id FROM playbooks WHERE key = $1")
                    .bind(playbook)
                    .fetch_optional(&mut **tx)
                    .await?;
                if found.is_none() {
                    invalid.push(format!("{at}{path}.playbook"), format!("no playbook has the key {playbook:?}"));
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The values that made a playbook fire, in words: `score 20 (red), held 7 days`.
pub fn summary(values: &serde_json::Value) -> String {
    let get = |k: &str| {
        values.get(k).filter(|v| !v.is_null()).map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
    };
    let mut parts = Vec::new();
    if let Some(m) = get("measure") {
        parts.push(format!("{m} = {}", get("value").unwrap_or_default()));
    }
    if let (Some(s), Some(b)) = (get("score"), get("band")) {
        parts.push(format!("score {s} ({b})"));
    } else if let Some(b) = get("band") {
        parts.push(format!("band {b}"));
    }
    if let Some(c) = get("condition") {
        parts.push(c);
    }
    if let Some(seg) = get("segment") {
        parts.push(format!("in segment {seg}"));
    }
    if let Some(stage) = get("stage") {
        parts.push(format!("in stage {stage}"));
    }
    if let Some(e) = get("event") {
        parts.push(format!("{} × {e}", get("events").unwrap_or_else(|| "1".into())));
    }
    if values.get("interaction").is_some() {
        parts.push("an interaction was logged".to_owned());
    }
    if let Some(kind) = get("stripe_event") {
        parts.push(format!("Stripe sent {kind}"));
    }
    if let Some(seg) = get("left_segment") {
        parts.push(format!("left segment {seg}"));
    }
    if let Some(every) = get("scheduled") {
        parts.push(format!("scheduled every {every}"));
    }
    if values.get("manual").is_some() {
        parts.push(format!("started by hand by {}", get("by").unwrap_or_default()));
    }
    if let Some(by) = get("started_by") {
        parts.push(format!("started by playbook {by}"));
    }
    if let Some(n) = get("held_days") {
        parts.push(format!("for {n} days"));
    }
    parts.join(", ")
}

async fn close(w: &mut Write, p: &Playbook, account: i64) -> Result<()> {
    let Some(days) = p.def.close_after_days else { return Ok(()) };
    let why = format!("Closed by playbook {:?}: its trigger has not held for {days} days.", p.def.name);
    for source in open_sources(&mut w.tx, &p.def.key, Some(account)).await? {
        crate::tasks::close_of_source(w, &source, &why).await?;
    }
    Ok(())
}

/// The most event ids one round of [`Store::act_on_events`] reads past.
const EVENTS_A_ROUND: i64 = 200_000;

/// The most occurrences (playbook × account × day) one round acts on.
const OCCURRENCES_A_ROUND: usize = 100;

impl Store {
    /// Acts for the event-triggered playbooks that are on: every `track` event that reached an
    /// account since a playbook last looked (its `event_cursor`), dated from the day it was
    /// switched on and at most a day before today (an import of history never acts), fires it
    /// once per account and day of the event — the same run and keys the daily pass would use for
    /// that day — where its condition and re-enrolment allow. All in one write with the cursors,
    /// so a round cut short leaves nothing half done, and two nodes at once act once. Returns
    /// the runs it made, and whether events are left to read (the caller goes on at once).
    pub async fn act_on_events(&self, reporting: &str) -> Result<(usize, bool)> {
        let playbooks: Vec<Playbook> =
            self.enabled_playbooks().await?.into_iter().filter(|p| p.event().is_some()).collect();
        if playbooks.is_empty() {
            return Ok((0, false));
        }
        let today = self.clock().today();
        let ids: Vec<String> = playbooks.iter().map(|p| p.id.to_string()).collect();
        let rows = sqlx::query(&format!(
            "SELECT id, event_cursor, switched_at, (SELECT COALESCE(MAX(id), 0) FROM events) AS newest \
             FROM playbooks WHERE id IN ({})",
            ids.join(",")
        ))
        .fetch_all(self.pool())
        .await?;
        let mut cursors: HashMap<i64, (i64, NaiveDate)> = HashMap::new();
        let mut newest = 0;
        for r in &rows {
            let on = get_opt_i64(r, "switched_at")?.map_or(today, |at| crate::instant(at).date_naive());
            cursors.insert(r.try_get("id")?, (r.try_get("event_cursor")?, on));
            newest = r.try_get("newest")?;
        }
        let low = cursors.values().map(|c| c.0).min().unwrap_or(newest);
        let upto = newest.min(low + EVENTS_A_ROUND);
        if upto <= low {
            return Ok((0, false));
        }
        let mut names: Vec<String> = playbooks.iter().filter_map(|p| p.event().map(str::to_owned)).collect();
        names.sort();
        names.dedup();
        let mut sql = crate::sql::Sql::new("SELECT event, account_id, timestamp, id FROM events WHERE id > ");
        sql.bind(crate::sql::Arg::I64(low)).push(" AND id <= ").bind(crate::sql::Arg::I64(upto));
        sql.push(" AND account_id IS NOT NULL AND kind = 'track' AND event IN (");
        for (i, n) in names.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.bind(crate::sql::Arg::Text(n.clone()));
        }
        sql.push(") ORDER BY id");
        let seen = sql.query().fetch_all(self.pool()).await?;
        // Per playbook: (account, day of the event) → how many such events. At most
        // OCCURRENCES_A_ROUND of them a round, so its write holds the one SQLite writer (and
        // ingestion with it) only briefly: the round then ends before the event that would exceed
        // them, and the next goes on from there at once.
        let mut hits: HashMap<i64, std::collections::BTreeMap<(i64, NaiveDate), i64>> = HashMap::new();
        // The occurrences already acted on (where each account stands: fired for a run that began
        // yesterday or today): skipped, so they neither count towards a round's share nor cost a write.
        let mut done: std::collections::HashSet<(i64, i64, NaiveDate)> = std::collections::HashSet::new();
        let since = keepwell_core::facts::day_number(today - chrono::Days::new(1));
        for p in &playbooks {
            let rows = sqlx::query(
                "SELECT account_id, since FROM playbook_enrolments WHERE playbook_id = $1 AND fired = 1 AND since >= $2",
            )
            .bind(p.id)
            .bind(since)
            .fetch_all(self.pool())
            .await?;
            for r in &rows {
                let day =
                    keepwell_core::facts::date_of_number(r.try_get("since")?).ok_or_else(|| corrupt("enrolment"))?;
                done.insert((p.id, r.try_get("account_id")?, day));
            }
        }
        let (mut upto, mut occurrences) = (upto, 0);
        'events: for r in &seen {
            let (event, account, at, id): (String, i64, i64, i64) =
                (text(r, "event")?, r.try_get("account_id")?, r.try_get("timestamp")?, r.try_get("id")?);
            let day = crate::instant(at).date_naive();
            for p in playbooks.iter().filter(|p| p.event() == Some(event.as_str())) {
                let (cursor, on) = cursors[&p.id];
                let fresh = !done.contains(&(p.id, account, day));
                if fresh && id > cursor && day >= on.max(today - chrono::Days::new(1)) && day <= today {
                    let h = hits.entry(p.id).or_default();
                    if !h.contains_key(&(account, day)) {
                        if occurrences == OCCURRENCES_A_ROUND {
                            upto = id - 1;
                            break 'events;
                        }
                        occurrences += 1;
                    }
                    *h.entry((account, day)).or_default() += 1;
                }
            }
        }
        let mut judged: HashMap<i64, crate::health::Judged> = HashMap::new();
        for p in &playbooks {
            let Some(h) = hits.get(&p.id) else { continue };
            let mut accounts: Vec<i64> = h.keys().map(|(a, _)| *a).collect();
            accounts.dedup();
            judged.insert(p.id, self.judge(reporting, p, (&accounts, today), true).await?);
        }
        let mut w = self.write(&crate::Actor::system("playbooks")).await?;
        let mut runs = 0;
        for p in &playbooks {
            if let Some(h) = hits.get(&p.id) {
                let occurrences: Vec<_> =
                    h.iter().map(|(at, n)| (*at, serde_json::json!({"event": p.event(), "events": n}))).collect();
                runs += fire_occurrences(&mut w, p, &occurrences, &judged[&p.id], today).await?;
            }
            sqlx::query("UPDATE playbooks SET event_cursor = $1 WHERE id = $2 AND event_cursor < $1")
                .bind(upto)
                .bind(p.id)
                .execute(&mut *w.tx)
                .await?;
        }
        w.commit().await?;
        Ok((runs, upto < newest))
    }

    /// Acts for the interaction-triggered playbooks that are on, for an interaction just logged on
    /// `account` that happened on `day` (from yesterday on: one logged about longer ago is history,
    /// left to the daily pass of its day, as an import's are): once per account and day, where the
    /// condition and re-enrolment allow. Its own write, after the interaction's: were it lost in
    /// between, the day's pass acts for it. Returns the runs it made.
    pub async fn act_on_interaction(&self, reporting: &str, account: i64, day: NaiveDate) -> Result<usize> {
        let values = serde_json::json!({"interaction": true});
        self.act_now(reporting, (account, day), Playbook::on_interaction, values).await
    }

    /// Acts for the playbooks triggered by a Stripe event of type `kind` just applied to
    /// `account`, dated `day`, as [`Store::act_on_interaction`] does for an interaction. Stripe
    /// retries a delivery for up to three days: an event of two or three days ago arrived after
    /// the passes of its day, and is an occurrence of the day it arrived.
    pub async fn act_on_stripe(&self, reporting: &str, account: i64, day: NaiveDate, kind: &str) -> Result<usize> {
        let today = self.clock().today();
        let late = day < today - chrono::Days::new(1) && day >= today - chrono::Days::new(3);
        let values = serde_json::json!({"stripe_event": kind});
        let on = if late { today } else { day };
        self.act_now(reporting, (account, on), |p: &Playbook| p.on_stripe() == Some(kind), values).await
    }

    /// Fires the enabled playbooks `on` picks for one occurrence (account, day) that just
    /// happened, in a write of its own: from yesterday on (older is history, left to the daily
    /// pass of its day).
    async fn act_now(
        &self,
        reporting: &str,
        (account, day): (i64, NaiveDate),
        on: impl Fn(&Playbook) -> bool,
        values: serde_json::Value,
    ) -> Result<usize> {
        let today = self.clock().today();
        if day > today || day < today - chrono::Days::new(1) {
            return Ok(0);
        }
        let playbooks: Vec<Playbook> = self.enabled_playbooks().await?.into_iter().filter(|p| on(p)).collect();
        let mut judged = Vec::with_capacity(playbooks.len());
        for p in &playbooks {
            judged.push(self.judge(reporting, p, (&[account], today), true).await?);
        }
        if playbooks.is_empty() {
            return Ok(0);
        }
        let mut w = self.write(&crate::Actor::system("playbooks")).await?;
        let mut runs = 0;
        for (p, judged) in playbooks.iter().zip(&judged) {
            let occurrence = [((account, day), values.clone())];
            runs += fire_occurrences(&mut w, p, &occurrence, judged, today).await?;
        }
        w.commit().await?;
        Ok(runs)
    }
}

/// Fires `p` as of `today` for each (account, day of its occurrence) with the values that made it
/// fire (and the lifecycle rule holding it), where its condition held and its re-enrolment allows, as the playbook, and
/// records where each account then stands as the day's pass would leave it (so that pass knows
/// the occurrence was acted on). Returns the runs it made.
async fn fire_occurrences(
    w: &mut Write,
    p: &Playbook,
    occurrences: &[((i64, NaiveDate), serde_json::Value)],
    judged: &crate::health::Judged,
    today: NaiveDate,
) -> Result<usize> {
    let held = &judged.held;
    let accounts: Vec<i64> = occurrences.iter().map(|((a, _), _)| *a).filter(|a| held.contains(a)).collect();
    let mut blocked = reenrol_blocked(&mut w.tx, p, &accounts, today).await?;
    let (mut runs, mut enrolled) = (0, Vec::new());
    for ((account, day), values) in occurrences {
        if !held.contains(account) || blocked.contains(account) {
            continue;
        }
        if fire_as_playbook(w, p, (*account, today, *day), values, &judged.route(p, *account)).await? {
            runs += 1;
            let e = Enrolment { since: Some(*day), fired: true, last_fired: Some(*day), cleared_on: None };
            enrolled.push((p.id, *account, e));
            if p.def.reenrol != keepwell_core::playbook::Reenrol::EveryTime {
                blocked.insert(*account);
            }
        }
    }
    write_enrolments(&mut w.tx, w.backend, &enrolled).await?;
    Ok(runs)
}

/// Of `accounts`, those playbook `p`'s re-enrolment keeps from firing again as of `day`: any run
/// ever (`once`), or one within `reenrol_days` (`after_days`).
async fn reenrol_blocked(
    tx: &mut Tx,
    p: &Playbook,
    accounts: &[i64],
    day: NaiveDate,
) -> Result<std::collections::HashSet<i64>> {
    use keepwell_core::playbook::Reenrol;
    let since = match p.def.reenrol {
        Reenrol::EveryTime => return Ok(Default::default()),
        Reenrol::Once => "0000-00-00".to_owned(),
        Reenrol::AfterDays => (day - chrono::Days::new(u64::from(p.def.reenrol_days.unwrap_or(0)))).to_string(),
    };
    let mut blocked = std::collections::HashSet::new();
    for chunk in accounts.chunks(5_000) {
        let list = chunk.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
        let rows = sqlx::query(&format!(
            "SELECT DISTINCT account_id FROM playbook_runs WHERE playbook_id = $1 AND day > $2 AND account_id IN ({list})"
        ))
        .bind(p.id)
        .bind(&since)
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            blocked.insert(r.try_get("account_id")?);
        }
    }
    Ok(blocked)
}
