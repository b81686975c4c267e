//! Health: definitions (segments, lifecycle rules, scorecards with their revisions), the daily
//! pass's bulk reads and writes (`pass`), and what the API and pages read back (`read`).

mod pass;
mod read;

pub(crate) use pass::{period_of, PeriodRow};
pub use pass::{union, Judged, Lead, Leader, LiveFacts, Scope, Simulated};
pub use read::{
    add_override, add_sentiment, clear_override, Health, MemberRow, Override, SegmentChange, Sentiment, Snapshot,
    StageChange,
};
pub(crate) use read::{health_in_force, record_stage_change};

use crate::audit::{record, Actor};
use crate::sql::corrupt;
use crate::sql::{text, Arg, Sql};
use crate::{Result, Store, StoreError, Tx, Write};
use keepwell_core::daily::{Plan, Rule, Segment, Skipped};
use keepwell_core::definitions::{
    check_rule, check_scorecard, check_segment, default_scorecard, Definitions, LifecycleRuleDef, Scorecard,
    ScorecardDef, SegmentDef,
};
use keepwell_core::expr;
use keepwell_core::measure::SCHEMA;
use keepwell_core::Invalid;
use serde::Serialize;
use sqlx::Row;
use std::collections::{BTreeSet, HashMap};

/// A stored segment.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredSegment {
    pub id: i64,
    #[serde(flatten)]
    pub def: SegmentDef,
    /// Why the daily pass skips it (a definition stored before a limit it breaks); its
    /// membership stays as it was until it is fixed.
    pub problem: Option<String>,
}

/// A stored scorecard and its revision (raised by every change).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredScorecard {
    pub id: i64,
    pub revision: i64,
    #[serde(flatten)]
    pub def: ScorecardDef,
    /// Why the daily pass skips it; accounts it would score fall to the next scorecard.
    pub problem: Option<String>,
}

/// A stored lifecycle rule.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StoredRule {
    #[serde(flatten)]
    pub def: LifecycleRuleDef,
    /// Why the daily pass skips it.
    pub problem: Option<String>,
}

/// The first problem of a stored definition, as one line.
fn problem_of(check: impl FnOnce(&mut Invalid)) -> Option<String> {
    let mut invalid = Invalid::default();
    check(&mut invalid);
    invalid.errors.first().map(|e| format!("{}: {}", e.field, e.message))
}

/// What `apply` did to one definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Change {
    /// `segment`, `lifecycle_rule` or `scorecard`.
    pub kind: String,
    pub key: String,
    /// `created`, `updated` or `unchanged`.
    pub action: String,
}

fn json<T: serde::de::DeserializeOwned>(raw: &str, what: &str) -> Result<T> {
    serde_json::from_str(raw).map_err(|_| corrupt(what))
}

impl Store {
    pub async fn segments(&self) -> Result<Vec<StoredSegment>> {
        segments_in(&mut *self.pool().acquire().await?).await
    }

    pub async fn segment(&self, key: &str) -> Result<Option<StoredSegment>> {
        Ok(self.segments().await?.into_iter().find(|s| s.def.key == key))
    }

    pub async fn lifecycle_rules(&self) -> Result<Vec<StoredRule>> {
        sqlx::query("SELECT key, name, stage, condition, priority FROM lifecycle_rules ORDER BY priority, key")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| {
                let def = LifecycleRuleDef {
                    key: text(r, "key")?,
                    name: text(r, "name")?,
                    stage: text(r, "stage")?,
                    condition: text(r, "condition")?,
                    priority: r.try_get("priority")?,
                };
                let problem = problem_of(|i| check_rule(&def, "", i));
                Ok(StoredRule { def, problem })
            })
            .collect()
    }

    pub async fn scorecards(&self) -> Result<Vec<StoredScorecard>> {
        scorecards_in(&mut *self.pool().acquire().await?).await
    }

    pub async fn scorecard(&self, key: &str) -> Result<Option<StoredScorecard>> {
        Ok(self.scorecards().await?.into_iter().find(|s| s.def.key == key))
    }

    /// Every scorecard's key by id, retired ones too (what old snapshots name).
    pub async fn scorecard_keys(&self) -> Result<HashMap<i64, String>> {
        sqlx::query("SELECT id, key FROM scorecards")
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, text(r, "key")?)))
            .collect()
    }

    /// A scorecard as it was at a revision (what a snapshot was scored with).
    pub async fn scorecard_revision(&self, id: i64, revision: i64) -> Result<Option<ScorecardDef>> {
        let row = sqlx::query("SELECT definition FROM scorecard_revisions WHERE scorecard_id = $1 AND revision = $2")
            .bind(id)
            .bind(revision)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| json(&text(&r, "definition")?, "scorecard revision")).transpose()
    }

    /// Every definition, as `keepwell export` writes it.
    pub async fn definitions(&self) -> Result<Definitions> {
        Ok(Definitions {
            segments: self.segments().await?.into_iter().map(|s| s.def).collect(),
            lifecycle_rules: self.lifecycle_rules().await?.into_iter().map(|r| r.def).collect(),
            scorecards: self.scorecards().await?.into_iter().map(|s| s.def).collect(),
            playbooks: self
                .playbooks()
                .await?
                .into_iter()
                .map(|p| keepwell_core::playbook::PlaybookDef { enabled: Some(p.enabled), ..p.definition })
                .collect(),
        })
    }

    /// The pass's plan: rules by priority, segments, scorecards by priority, all compiled. A
    /// stored definition that no longer checks (one saved before a limit it breaks) is left out
    /// and listed in `skipped`, logged: the rest of the pass runs.
    pub async fn plan(&self) -> Result<Plan> {
        let mut plan = Plan::default();
        let mut skip = |kind: &'static str, key: &str, problem: String| {
            tracing::warn!(kind, key, %problem, "the daily pass skips a definition that does not check; fix it on its page");
            plan.skipped.push(Skipped { kind, key: key.to_owned(), problem });
        };
        let mut rules = Vec::new();
        for r in self.lifecycle_rules().await? {
            match (r.problem, expr::parse(&r.def.condition, &SCHEMA)) {
                (None, Ok(condition)) => rules.push(Rule { condition, key: r.def.key, stage: r.def.stage }),
                (problem, parsed) => skip(
                    "lifecycle_rule",
                    &r.def.key,
                    problem.or(parsed.err().map(|e| e.to_string())).unwrap_or_default(),
                ),
            }
        }
        let mut segments = Vec::new();
        for s in self.segments().await? {
            match (s.problem, expr::parse(&s.def.filter, &SCHEMA)) {
                (None, Ok(filter)) => segments.push(Segment { id: s.id, filter, key: s.def.key }),
                (problem, parsed) => {
                    skip("segment", &s.def.key, problem.or(parsed.err().map(|e| e.to_string())).unwrap_or_default())
                }
            }
        }
        let mut scorecards = Vec::new();
        for s in self.scorecards().await? {
            let key = s.def.key.clone();
            match Scorecard::compile(s.id, s.revision, s.def) {
                Ok(card) => scorecards.push(card),
                Err(problem) => skip("scorecard", &key, problem),
            }
        }
        plan.rules = rules;
        plan.segments = segments;
        plan.scorecards = scorecards;
        Ok(plan)
    }

    /// A new workspace's scorecard: written once, when there is none (part of setting the
    /// database up, so not in the audit log).
    pub async fn ensure_default_scorecard(&self) -> Result<()> {
        let n: i64 = sqlx::query("SELECT COUNT(*) AS n FROM scorecards WHERE retired_at IS NULL")
            .fetch_one(self.pool())
            .await?
            .try_get("n")?;
        if n > 0 {
            return Ok(());
        }
        let def = default_scorecard();
        let definition = serde_json::to_string(&def).map_err(|e| corrupt(&e.to_string()))?;
        let now = self.now_micros();
        let mut tx = self.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO scorecards (key, name, definition, revision, created_at, updated_at) \
             VALUES ($1, $2, $3, 1, $4, $4) RETURNING id",
        )
        .bind(&def.key)
        .bind(&def.name)
        .bind(&definition)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?
        .try_get("id")?;
        sqlx::query(
            "INSERT INTO scorecard_revisions (scorecard_id, revision, definition, created_at) VALUES ($1, 1, $2, $3)",
        )
        .bind(id)
        .bind(&definition)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn segments_in(conn: &mut sqlx::AnyConnection) -> Result<Vec<StoredSegment>> {
    sqlx::query("SELECT id, key, name, filter FROM segments ORDER BY key")
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(|r| {
            let def = SegmentDef { key: text(r, "key")?, name: text(r, "name")?, filter: text(r, "filter")? };
            let problem = problem_of(|i| check_segment(&def, "", i));
            Ok(StoredSegment { id: r.try_get("id")?, def, problem })
        })
        .collect()
}

async fn scorecards_in(conn: &mut sqlx::AnyConnection) -> Result<Vec<StoredScorecard>> {
    let mut cards: Vec<StoredScorecard> =
        sqlx::query("SELECT id, revision, definition FROM scorecards WHERE retired_at IS NULL")
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| {
                let (id, revision) = (r.try_get("id")?, r.try_get("revision")?);
                let def: ScorecardDef = json(&text(r, "definition")?, "scorecard")?;
                let problem = Scorecard::compile(id, revision, def.clone()).err();
                Ok(StoredScorecard { id, revision, def, problem })
            })
            .collect::<Result<_>>()?;
    cards.sort_by(|a, b| (a.def.priority, &a.def.key).cmp(&(b.def.priority, &b.def.key)));
    Ok(cards)
}

/// Creates or updates every definition of `defs` by key after checking the whole of it; reports
/// what changed. A dry run is a write its caller does not commit.
pub async fn apply(w: &mut Write, defs: &Definitions) -> Result<Vec<Change>> {
    defs.check(&segment_keys(w).await?)?;
    let mut changes = Vec::new();
    for s in &defs.segments {
        changes.push(upsert_segment(&mut w.tx, w.at, &w.actor, s).await?);
    }
    for r in &defs.lifecycle_rules {
        changes.push(upsert_rule(&mut w.tx, w.at, &w.actor, r).await?);
    }
    for s in &defs.scorecards {
        changes.push(upsert_scorecard(&mut w.tx, w.at, &w.actor, s).await?);
    }
    check_one_default(&mut w.tx).await?;
    Ok(changes)
}

async fn segment_keys(w: &mut Write) -> Result<BTreeSet<String>> {
    Ok(segments_in(&mut w.tx).await?.into_iter().map(|s| s.def.key).collect())
}

/// Saves one segment (created or updated by key).
pub async fn save_segment(w: &mut Write, s: &SegmentDef) -> Result<Change> {
    let mut invalid = Invalid::default();
    check_segment(s, "", &mut invalid);
    invalid.into_result(())?;
    upsert_segment(&mut w.tx, w.at, &w.actor, s).await
}

pub async fn save_lifecycle_rule(w: &mut Write, r: &LifecycleRuleDef) -> Result<Change> {
    let mut invalid = Invalid::default();
    check_rule(r, "", &mut invalid);
    invalid.into_result(())?;
    upsert_rule(&mut w.tx, w.at, &w.actor, r).await
}

pub async fn save_scorecard(w: &mut Write, s: &ScorecardDef) -> Result<Change> {
    let known = segment_keys(w).await?;
    let mut invalid = Invalid::default();
    check_scorecard(s, "", &known, &mut invalid);
    invalid.into_result(())?;
    let change = upsert_scorecard(&mut w.tx, w.at, &w.actor, s).await?;
    check_one_default(&mut w.tx).await?;
    Ok(change)
}

/// Deletes a definition by kind and key (a scorecard is retired: its snapshots keep their
/// explanation). A segment a scorecard scores, or the last default scorecard, cannot go.
pub async fn delete_definition(w: &mut Write, kind: &str, key: &str) -> Result<()> {
    let table = match kind {
        "segment" => "segments",
        "lifecycle_rule" => "lifecycle_rules",
        "scorecard" => "scorecards",
        other => return Err(StoreError::NotFound(format!("no kind of definition {other:?}"))),
    };
    if kind == "segment" {
        if let Some(card) = scorecards_in(&mut w.tx).await?.into_iter().find(|c| c.def.segment.as_deref() == Some(key))
        {
            return Err(StoreError::conflict(
                "key",
                format!("scorecard {:?} scores this segment: change or delete it first", card.def.key),
            ));
        }
    }
    let gone = if kind == "scorecard" {
        sqlx::query("UPDATE scorecards SET retired_at = $1 WHERE key = $2 AND retired_at IS NULL")
            .bind(w.at)
            .bind(key)
            .execute(&mut *w.tx)
            .await?
    } else {
        sqlx::query(&format!("DELETE FROM {table} WHERE key = $1")).bind(key).execute(&mut *w.tx).await?
    };
    if gone.rows_affected() == 0 {
        return Err(StoreError::NotFound(format!("no {kind} {key:?}")));
    }
    check_one_default(&mut w.tx).await?;
    w.audit::<()>(&format!("{kind}.delete"), kind, Some(key.to_owned()), None, None).await
}

async fn check_one_default(tx: &mut Tx) -> Result<()> {
    let defaults = sqlx::query("SELECT definition FROM scorecards WHERE retired_at IS NULL")
        .fetch_all(&mut **tx)
        .await?
        .iter()
        .map(|r| json::<ScorecardDef>(&text(r, "definition")?, "scorecard"))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .filter(|d| d.is_default())
        .count();
    if defaults == 1 {
        return Ok(());
    }
    Err(StoreError::conflict(
        "segment",
        if defaults == 0 {
            "there must be one default scorecard (with neither segment nor onboarding_days) to score everyone else"
        } else {
            "there can be only one default scorecard (with neither segment nor onboarding_days)"
        },
    ))
}

fn change(kind: &str, key: &str, action: &str) -> Change {
    Change { kind: kind.into(), key: key.into(), action: action.into() }
}

/// Writes `after` over `before` (None: a new row) in `table`: the columns after `key`, with their
/// values; audited. Unchanged definitions are left alone.
#[allow(clippy::too_many_arguments)] // a definition's row and its audit entry, named at each call
async fn upsert<T: Serialize + PartialEq>(
    tx: &mut Tx,
    now: i64,
    actor: &Actor,
    (kind, table): (&str, &str),
    key: &str,
    before: Option<(i64, T)>,
    after: &T,
    columns: Vec<(&str, Arg)>,
) -> Result<(Change, i64)> {
    match before {
        Some((id, old)) if old == *after => Ok((change(kind, key, "unchanged"), id)),
        Some((id, old)) => {
            let mut sql = Sql::new(&format!("UPDATE {table} SET updated_at = "));
            sql.bind(Arg::I64(now));
            for (c, v) in columns {
                sql.push(&format!(", {c} = ")).bind(v);
            }
            sql.push(" WHERE id = ").bind(Arg::I64(id));
            sql.query().execute(&mut **tx).await?;
            record(tx, now, actor, &format!("{kind}.update"), kind, Some(key.to_owned()), Some(&old), Some(after))
                .await?;
            Ok((change(kind, key, "updated"), id))
        }
        None => {
            let names: Vec<&str> = columns.iter().map(|c| c.0).collect();
            let mut sql =
                Sql::new(&format!("INSERT INTO {table} (key, created_at, updated_at, {}) VALUES (", names.join(", ")));
            sql.bind(Arg::Text(key.to_owned())).push(", ").bind(Arg::I64(now)).push(", ").bind(Arg::I64(now));
            for (_, v) in columns {
                sql.push(", ").bind(v);
            }
            sql.push(") RETURNING id");
            let id: i64 = sql.query().fetch_one(&mut **tx).await?.try_get("id")?;
            record(tx, now, actor, &format!("{kind}.create"), kind, Some(key.to_owned()), None, Some(after)).await?;
            Ok((change(kind, key, "created"), id))
        }
    }
}

async fn upsert_segment(tx: &mut Tx, now: i64, actor: &Actor, s: &SegmentDef) -> Result<Change> {
    let row = sqlx::query("SELECT id, name, filter FROM segments WHERE key = $1")
        .bind(&s.key)
        .fetch_optional(&mut **tx)
        .await?;
    let before = row
        .map(|r| -> Result<_> {
            Ok((
                r.try_get("id")?,
                SegmentDef { key: s.key.clone(), name: text(&r, "name")?, filter: text(&r, "filter")? },
            ))
        })
        .transpose()?;
    let cols = vec![("name", Arg::Text(s.name.clone())), ("filter", Arg::Text(s.filter.clone()))];
    Ok(upsert(tx, now, actor, ("segment", "segments"), &s.key, before, s, cols).await?.0)
}

async fn upsert_rule(tx: &mut Tx, now: i64, actor: &Actor, r: &LifecycleRuleDef) -> Result<Change> {
    let row = sqlx::query("SELECT id, name, stage, condition, priority FROM lifecycle_rules WHERE key = $1")
        .bind(&r.key)
        .fetch_optional(&mut **tx)
        .await?;
    let before = row
        .map(|row| -> Result<_> {
            Ok((
                row.try_get("id")?,
                LifecycleRuleDef {
                    key: r.key.clone(),
                    name: text(&row, "name")?,
                    stage: text(&row, "stage")?,
                    condition: text(&row, "condition")?,
                    priority: row.try_get("priority")?,
                },
            ))
        })
        .transpose()?;
    let cols = vec![
        ("name", Arg::Text(r.name.clone())),
        ("stage", Arg::Text(r.stage.clone())),
        ("condition", Arg::Text(r.condition.clone())),
        ("priority", Arg::I64(r.priority)),
    ];
    Ok(upsert(tx, now, actor, ("lifecycle_rule", "lifecycle_rules"), &r.key, before, r, cols).await?.0)
}

/// A changed scorecard gets the next revision, kept in `scorecard_revisions`.
async fn upsert_scorecard(tx: &mut Tx, now: i64, actor: &Actor, s: &ScorecardDef) -> Result<Change> {
    let definition = serde_json::to_string(s).map_err(|e| corrupt(&e.to_string()))?;
    let row = sqlx::query("SELECT id, revision, definition, retired_at FROM scorecards WHERE key = $1")
        .bind(&s.key)
        .fetch_optional(&mut **tx)
        .await?;
    let (before, revision) = match &row {
        Some(r) => (
            Some((r.try_get("id")?, json::<ScorecardDef>(&text(r, "definition")?, "scorecard")?)),
            r.try_get::<i64, _>("revision")? + 1,
        ),
        None => (None, 1),
    };
    let cols = vec![
        ("name", Arg::Text(s.name.clone())),
        ("definition", Arg::Text(definition.clone())),
        ("revision", Arg::I64(revision)),
    ];
    // A retired scorecard of the same key comes back as a new one, with its next revision.
    let retired = row.as_ref().map(|r| crate::get_opt_i64(r, "retired_at")).transpose()?.flatten().is_some();
    let (change, id) = match before {
        Some((id, _)) if retired => {
            sqlx::query(
                "UPDATE scorecards SET name = $1, definition = $2, revision = $3, retired_at = NULL, updated_at = $4 WHERE id = $5",
            )
            .bind(&s.name)
            .bind(&definition)
            .bind(revision)
            .bind(now)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            record(tx, now, actor, "scorecard.create", "scorecard", Some(s.key.clone()), None, Some(s)).await?;
            (change("scorecard", &s.key, "created"), id)
        }
        before => upsert(tx, now, actor, ("scorecard", "scorecards"), &s.key, before, s, cols).await?,
    };
    if change.action != "unchanged" {
        sqlx::query(
            "INSERT INTO scorecard_revisions (scorecard_id, revision, definition, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(revision)
        .bind(definition)
        .bind(now)
        .execute(&mut **tx)
        .await?;
    }
    Ok(change)
}
