//! The daily pass's bulk reads (every account's facts in a handful of queries) and its writes
//! (one transaction per day: snapshots, latest scores, membership and stage changes).

use crate::sql::{fetch_json_rows, in_list, insert_rows, json_rows, Arg, Sql};
use crate::{now_micros, Result, Store, StoreError, Tx};
use chrono::{Days as ChronoDays, NaiveDate};
use keepwell_core::billing::{Interval, Invoice, InvoiceStatus, Period};
use keepwell_core::daily::{encode, Day, Members, Needs, Plan, Snapshot};
use keepwell_core::expr::Expr;
use keepwell_core::facts::{day_bit, day_number, Days, Facts, BLOCK_DAYS};
use keepwell_core::facts::{AccountDay, Context};
use keepwell_core::health::Band;
use rust_decimal::Decimal;
use sqlx::Row;
use std::collections::HashMap;
use std::str::FromStr;

/// Which accounts a pass reads.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    All,
    Accounts(&'a [i64]),
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(what.to_owned())
}

fn date(s: &str) -> Result<NaiveDate> {
    NaiveDate::from_str(s).map_err(|_| corrupt("date"))
}

fn opt_date(s: Option<String>) -> Result<Option<NaiveDate>> {
    s.map(|s| date(&s)).transpose()
}

fn dec(s: &str) -> Result<Decimal> {
    Decimal::from_str(s).map_err(|_| corrupt("decimal"))
}

type AccountRow = (i64, Option<String>, Option<String>, Option<String>, Option<i64>, String, String, String);
type PeriodRow =
    (i64, String, String, i64, String, String, String, String, Option<String>, Option<String>, Option<String>);
type InvoiceRow = (i64, String, String, String, String, Option<String>, Option<String>, String);

impl Scope<'_> {
    /// ` AND column IN (…)` for a list of accounts.
    fn push(&self, sql: &mut Sql, column: &str) {
        if let Scope::Accounts(ids) = self {
            sql.push(&format!(" AND {column} IN ("));
            for (i, id) in ids.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.bind(Arg::I64(*id));
            }
            if ids.is_empty() {
                sql.push("NULL");
            }
            sql.push(")");
        }
    }
}

impl Store {
    /// Every account's facts for passes from `from` to `to`: profile, stage as it was the day
    /// before `from`, subscriptions, invoices that were ever overdue, usage bits over the look
    /// back, counted usage names, sentiments, overrides, and (when `needs.health`) the score of
    /// the day before.
    pub async fn pass_facts(
        &self,
        scope: Scope<'_>,
        from: NaiveDate,
        to: NaiveDate,
        needs: &Needs,
    ) -> Result<Vec<Facts>> {
        let backend = self.backend();
        let pool = self.pool();
        let (from_s, to_s) = (from.to_string(), to.to_string());
        let profile = if needs.profile { "tags, attributes" } else { "'[]', '{}'" };
        let mut sql = json_rows(
            backend,
            &format!("id, plan, country, industry, employees, lifecycle_stage, {profile}"),
            "FROM accounts WHERE 1 = 1",
        );
        scope.push(&mut sql, "id");
        let mut rows: Vec<AccountRow> = fetch_json_rows(&sql, pool).await?;
        rows.sort_unstable_by_key(|r| r.0);
        let index: HashMap<i64, usize> = rows.iter().enumerate().map(|(i, r)| (r.0, i)).collect();
        let mut facts: Vec<Facts> = rows
            .into_iter()
            .map(|(id, plan, country, industry, employees, stage, tags, attributes)| {
                Ok(Facts {
                    id,
                    plan,
                    country,
                    industry,
                    employees,
                    stage,
                    tags: serde_json::from_str(&tags).map_err(|_| corrupt("tags"))?,
                    attributes: serde_json::from_str(&attributes).map_err(|_| corrupt("attributes"))?,
                    ..Facts::default()
                })
            })
            .collect::<Result<_>>()?;
        let at = |id: i64| index.get(&id).copied();

        let mut sql = json_rows(
            backend,
            "account_id, subscription_id, plan, quantity, currency, amount, billing_interval, starts_on, ends_on, renews_on, payment_terms",
            "FROM subscription_periods WHERE starts_on <= ",
        );
        sql.bind(Arg::Text(to_s.clone()));
        scope.push(&mut sql, "account_id");
        let periods: Vec<PeriodRow> = if needs.billing { fetch_json_rows(&sql, pool).await? } else { Vec::new() };
        for (account, subscription_id, plan, quantity, currency, amount, interval, starts, ends, renews, terms) in
            periods
        {
            let Some(i) = at(account) else { continue };
            facts[i].periods.push(Period {
                subscription_id,
                plan,
                quantity,
                currency,
                amount: dec(&amount)?,
                interval: Interval::parse(&interval).map_err(|e| corrupt(&e))?,
                starts_on: date(&starts)?,
                ends_on: opt_date(ends)?,
                renews_on: opt_date(renews)?,
                payment_terms: terms,
            });
        }

        let mut sql = json_rows(
            backend,
            "account_id, invoice_id, currency, amount, issued_on, due_on, paid_on, status",
            "FROM invoices WHERE due_on IS NOT NULL AND (paid_on IS NULL OR paid_on > due_on) AND issued_on <= ",
        );
        sql.bind(Arg::Text(to_s.clone()));
        sql.push(" AND (paid_on IS NULL OR paid_on >= ").bind(Arg::Text(from_s.clone())).push(")");
        scope.push(&mut sql, "account_id");
        let invoices: Vec<InvoiceRow> = if needs.invoices { fetch_json_rows(&sql, pool).await? } else { Vec::new() };
        for (account, invoice_id, currency, amount, issued, due, paid, status) in invoices {
            let Some(i) = at(account) else { continue };
            facts[i].invoices.push(Invoice {
                invoice_id,
                currency,
                amount: dec(&amount)?,
                issued_on: date(&issued)?,
                due_on: opt_date(due)?,
                paid_on: opt_date(paid)?,
                status: InvoiceStatus::parse(&status).map_err(|e| corrupt(&e))?,
            });
        }

        let first = from - ChronoDays::new(needs.lookback_days.max(1) as u64);
        if needs.usage && self.usage_settled_by(from).await? {
            // Nobody was active after `from`: each user's and name's last day says it all.
            let mut sql = json_rows(
                backend,
                "account_id, kind, CASE WHEN kind = 'e' THEN name ELSE '' END, last_day",
                "FROM usage_last WHERE last_day >= ",
            );
            sql.bind(Arg::I64(day_number(first)));
            scope.push(&mut sql, "account_id");
            for (account, kind, name, last) in fetch_json_rows::<(i64, String, String, i64)>(&sql, pool).await? {
                let Some(i) = at(account) else { continue };
                let mut days = Days::default();
                days.add(last.div_euclid(BLOCK_DAYS), 1 << last.rem_euclid(BLOCK_DAYS));
                if kind == "u" {
                    facts[i].users.push(days);
                } else {
                    facts[i].names.insert(name, days);
                }
            }
        } else if needs.usage {
            let mut sql = json_rows(backend, "account_id, kind, name, block, bits", "FROM usage_bits WHERE block >= ");
            sql.bind(Arg::I64(day_bit(first).0)).push(" AND block <= ").bind(Arg::I64(day_bit(to).0));
            scope.push(&mut sql, "account_id");
            let mut users: Vec<HashMap<String, Days>> = vec![HashMap::new(); facts.len()];
            for (account, kind, name, block, bits) in
                fetch_json_rows::<(i64, String, String, i64, i64)>(&sql, pool).await?
            {
                let Some(i) = at(account) else { continue };
                let target = if kind == "u" { users[i].entry(name) } else { facts[i].names.entry(name) };
                target.or_default().add(block, bits);
            }
            for (f, u) in facts.iter_mut().zip(users) {
                f.users = u.into_values().collect();
            }
        }

        if !needs.counted.is_empty() {
            let mut sql = json_rows(backend, "account_id, event, day, count", "FROM usage_daily WHERE day >= ");
            sql.bind(Arg::Text(first.to_string())).push(" AND day <= ").bind(Arg::Text(to_s.clone()));
            sql.push(" AND event IN ");
            let names: Vec<&str> = needs.counted.iter().map(String::as_str).collect();
            in_list(&mut sql, &names);
            scope.push(&mut sql, "account_id");
            for (account, event, day, count) in fetch_json_rows::<(i64, String, String, i64)>(&sql, pool).await? {
                let Some(i) = at(account) else { continue };
                facts[i].counts.entry(event).or_default().push((day_number(date(&day)?), count));
            }
        }

        let mut sql = json_rows(backend, "account_id, day, id, rating", "FROM sentiments WHERE day <= ");
        sql.bind(Arg::Text(to_s.clone()));
        scope.push(&mut sql, "account_id");
        let mut sentiments: Vec<(i64, String, i64, i64)> =
            if needs.sentiments { fetch_json_rows(&sql, pool).await? } else { Vec::new() };
        sentiments.sort_unstable_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
        for (account, day, _, rating) in sentiments {
            if let Some(i) = at(account) {
                facts[i].sentiments.push((date(&day)?, rating));
            }
        }

        let mut sql = json_rows(
            backend,
            "account_id, starts_on, expires_on, score, cleared_at",
            "FROM health_overrides WHERE starts_on <= ",
        );
        sql.bind(Arg::Text(to_s.clone()));
        scope.push(&mut sql, "account_id");
        let overrides: Vec<(i64, String, String, String, Option<i64>)> =
            if needs.health { fetch_json_rows(&sql, pool).await? } else { Vec::new() };
        for (account, starts, expires, score, cleared) in overrides {
            let Some(i) = at(account) else { continue };
            let mut until = date(&expires)?;
            if let Some(c) = cleared {
                until = until.min(crate::instant(c).date_naive());
            }
            facts[i].overrides.push((date(&starts)?, until, dec(&score)?));
        }

        // The stage a pass of `from` starts from: the account's stage by the end of that day,
        // without what rules decided that day or later (the pass decides it again).
        let mut sql =
            json_rows(backend, "account_id, day, id, from_stage, to_stage, cause", "FROM stage_changes WHERE day >= ");
        sql.bind(Arg::Text(from_s.clone()));
        scope.push(&mut sql, "account_id");
        let mut later: Vec<(i64, String, i64, Option<String>, String, String)> = fetch_json_rows(&sql, pool).await?;
        later.sort_unstable_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
        let mut settled: std::collections::HashSet<i64> = std::collections::HashSet::new();
        for (account, day, _, from_stage, to_stage, cause) in later {
            let Some(i) = at(account) else { continue };
            if !settled.insert(account) {
                continue;
            }
            // The earliest change from `from` on: a hand move on `from` itself stands; anything
            // later, or a rule's, did not happen yet.
            facts[i].stage = if day == from_s && cause == "manual" { to_stage } else { from_stage.unwrap_or(to_stage) };
        }

        if needs.health {
            if let Some(last) = self.last_pass_before(from).await? {
                self.prior_health(scope, &mut facts, &index, last).await?;
            }
        }
        Ok(facts)
    }

    /// Sets each account's `health` to its score in force on `day` (its snapshot's).
    async fn prior_health(
        &self,
        scope: Scope<'_>,
        facts: &mut [Facts],
        index: &HashMap<i64, usize>,
        day: NaiveDate,
    ) -> Result<()> {
        let mut sql = json_rows(self.backend(), "account_id, score, band", "FROM health_snapshots WHERE day = ");
        sql.bind(Arg::Text(day.to_string()));
        scope.push(&mut sql, "account_id");
        for (account, score, band) in
            fetch_json_rows::<(i64, Option<String>, Option<String>)>(&sql, self.pool()).await?
        {
            let Some(&i) = index.get(&account) else { continue };
            let score = score.map(|s| dec(&s)).transpose()?;
            facts[i].health = score.zip(band.as_deref().and_then(Band::parse));
        }
        Ok(())
    }

    /// The latest day before `day` a full pass ran for.
    pub async fn last_pass_before(&self, day: NaiveDate) -> Result<Option<NaiveDate>> {
        let row = sqlx::query("SELECT MAX(day) AS day FROM daily_passes WHERE day < $1")
            .bind(day.to_string())
            .fetch_one(self.pool())
            .await?;
        opt_date(crate::sql::opt_text(&row, "day")?)
    }

    /// Segment membership the day before `from`, from the change history.
    pub async fn members_before(&self, from: NaiveDate) -> Result<Members> {
        let mut sql =
            json_rows(self.backend(), "segment_id, account_id, day, entered", "FROM segment_changes WHERE day < ");
        sql.bind(Arg::Text(from.to_string()));
        let mut rows: Vec<(i64, i64, String, i64)> = fetch_json_rows(&sql, self.pool()).await?;
        rows.sort_unstable_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        let mut latest: HashMap<(i64, i64), bool> = HashMap::new();
        for (segment, account, _, entered) in rows {
            latest.insert((segment, account), entered != 0);
        }
        let mut members = Members::new();
        for ((segment, account), inside) in latest {
            if inside {
                members.entry(segment).or_default().insert(account);
            }
        }
        Ok(members)
    }

    /// Writes one day of a full pass, replacing what an earlier run of the same day wrote.
    pub async fn write_day(&self, plan: &Plan, day: NaiveDate, out: &Day) -> Result<()> {
        let backend = self.backend();
        let day_s = day.to_string();
        let t = std::time::Instant::now();
        let mut tx = self.begin().await?;
        for table in ["health_snapshots", "segment_changes"] {
            sqlx::query(&format!("DELETE FROM {table} WHERE day = $1")).bind(&day_s).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM stage_changes WHERE day = $1 AND cause LIKE 'rule:%'")
            .bind(&day_s)
            .execute(&mut *tx)
            .await?;
        let deleted = t.elapsed();
        let text = |d: Option<Decimal>| Arg::MaybeText(d.map(|d| d.normalize().to_string()));
        let band = |b: Option<Band>| Arg::MaybeText(b.map(|b| b.as_str().to_owned()));
        let rows = out
            .snapshots
            .iter()
            .map(|s| {
                let card = &plan.scorecards[s.scorecard];
                vec![
                    Arg::I64(s.account),
                    Arg::Text(day_s.clone()),
                    Arg::I64(card.id),
                    Arg::I64(card.revision),
                    text(s.effective),
                    band(s.effective_band),
                    Arg::Text(encode(&s.readings)),
                ]
            })
            .collect();
        insert_rows(
            &mut tx,
            backend,
            "health_snapshots",
            &["account_id", "day", "scorecard_id", "revision", "score", "band", "vals"],
            rows,
        )
        .await?;
        let inserted = t.elapsed();
        let rows = out
            .membership
            .iter()
            .map(|(segment, account, entered)| {
                vec![Arg::I64(*segment), Arg::I64(*account), Arg::Text(day_s.clone()), Arg::I64(i64::from(*entered))]
            })
            .collect();
        insert_rows(&mut tx, backend, "segment_changes", &["segment_id", "account_id", "day", "entered"], rows).await?;
        write_stage_moves(&mut tx, day, out).await?;
        sqlx::query(
            "INSERT INTO daily_passes (day, ran_at, accounts) VALUES ($1, $2, $3) \
             ON CONFLICT (day) DO UPDATE SET ran_at = excluded.ran_at, accounts = excluded.accounts",
        )
        .bind(&day_s)
        .bind(now_micros())
        .bind(out.snapshots.len() as i64)
        .execute(&mut *tx)
        .await?;
        let written = t.elapsed();
        tx.commit().await?;
        tracing::debug!(
            delete_ms = deleted.as_millis() as u64,
            snapshots_ms = (inserted - deleted).as_millis() as u64,
            rest_ms = (written - inserted).as_millis() as u64,
            commit_ms = (t.elapsed() - written).as_millis() as u64,
            "wrote a day"
        );
        Ok(())
    }

    /// Runs the daily pass for every day from `from` to `to`, oldest first, each day in its own
    /// transaction; `progress` hears of each day done. Running a day again rewrites it alike.
    pub async fn run_days(
        &self,
        reporting: &str,
        from: NaiveDate,
        to: NaiveDate,
        mut progress: impl FnMut(NaiveDate, &Day),
    ) -> Result<()> {
        let plan = self.plan().await?;
        let needs = plan.needs();
        let mut facts = self.pass_facts(Scope::All, from, to, &needs).await?;
        let mut members = self.members_before(from).await?;
        let fx = self.fx_table().await?;
        let catalogue = self.plan_features().await?;
        let tracked = self.usage_tracked().await?;
        let mut day = from;
        while day <= to {
            let ctx = Context { day, reporting, fx: &fx, catalogue: &catalogue, tracked };
            let out = keepwell_core::daily::run(&plan, ctx, &mut facts, &mut members);
            self.write_day(&plan, day, &out).await?;
            progress(day, &out);
            day = day.succ_opt().ok_or_else(|| corrupt("date"))?;
        }
        Ok(())
    }

    /// Backtests scorecard `key` from `from` to `to` with churn within `horizon` days: every
    /// account-day the scorecard applies to (every n-th day when there would be more than
    /// 400 000), recomputed from the facts as they were. None when there is no such scorecard.
    pub async fn backtest(
        &self,
        reporting: &str,
        key: &str,
        horizon: u64,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Option<(u64, keepwell_core::backtest::Report)>> {
        let plan = self.plan().await?;
        let Some(card) = plan.scorecards.iter().find(|c| c.def.key == key) else { return Ok(None) };
        let mut needs = plan.needs();
        needs.billing = true;
        // Through the horizon: a renewal after `to` keeps MRR up across the old period's end.
        let facts = self.pass_facts(Scope::All, from, to + chrono::Days::new(horizon), &needs).await?;
        let fx = self.fx_table().await?;
        let catalogue = self.plan_features().await?;
        let ctx =
            Context { day: from, reporting, fx: &fx, catalogue: &catalogue, tracked: self.usage_tracked().await? };
        let days = (to - from).num_days().max(0) as u64 + 1;
        let step = (facts.len() as u64 * days).div_ceil(400_000).max(1);
        let obs = keepwell_core::backtest::observe(&plan, card, ctx, &facts, (from, to, step), horizon);
        Ok(Some((step, keepwell_core::backtest::report(card, card.measures(), &obs))))
    }

    /// One account's pass of a day, computed and not written: its health when no snapshot
    /// exists yet. None when no scorecard applies.
    pub async fn evaluate(&self, reporting: &str, account: i64, day: NaiveDate) -> Result<Option<(Plan, Snapshot)>> {
        let plan = self.plan().await?;
        let mut needs = plan.needs();
        needs.health = true;
        let mut facts = self.pass_facts(Scope::Accounts(&[account]), day, day, &needs).await?;
        let mut members = self.members_before(day).await?;
        let fx = self.fx_table().await?;
        let catalogue = self.plan_features().await?;
        let ctx = Context { day, reporting, fx: &fx, catalogue: &catalogue, tracked: self.usage_tracked().await? };
        let out = keepwell_core::daily::run(&plan, ctx, &mut facts, &mut members);
        Ok(out.snapshots.into_iter().next().map(|s| (plan, s)))
    }

    /// How many accounts match `filter` as of `day`, and the first `sample` of them by id: the
    /// segment builder's live count. Reads only what the filter needs.
    pub async fn matching(
        &self,
        reporting: &str,
        filter: &Expr,
        day: NaiveDate,
        sample: usize,
    ) -> Result<(i64, Vec<i64>)> {
        let needs = keepwell_core::daily::needs_of(&[filter], Vec::new());
        let mut facts = self.pass_facts(Scope::All, day, day, &needs).await?;
        if needs.health {
            // The live count reads the latest scores, today's when today's pass has run.
            if let Some(last) = self.last_pass_before(day + ChronoDays::new(1)).await? {
                let index: HashMap<i64, usize> = facts.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
                self.prior_health(Scope::All, &mut facts, &index, last).await?;
            }
        }
        let fx = self.fx_table().await?;
        let catalogue = if needs.usage { self.plan_features().await? } else { Vec::new() };
        let ctx = Context {
            day,
            reporting,
            fx: &fx,
            catalogue: &catalogue,
            tracked: needs.usage && self.usage_tracked().await?,
        };
        let mut count = 0;
        let mut first = Vec::new();
        for f in &facts {
            if filter.eval(&AccountDay::new(f, ctx)) {
                count += 1;
                if first.len() < sample {
                    first.push(f.id);
                }
            }
        }
        Ok((count, first))
    }

    /// Writes usage bits (and the last days they imply) directly: benchmarks build 90 days of
    /// rollups this way.
    pub async fn write_usage_bits(&self, rows: Vec<(i64, &str, String, i64, i64)>) -> Result<()> {
        let mut tx = self.begin().await?;
        let mut last: HashMap<(i64, String, String), i64> = HashMap::new();
        for (a, k, n, block, bits) in &rows {
            let day = block * BLOCK_DAYS + 63 - i64::from(bits.leading_zeros());
            let l = last.entry((*a, k.to_string(), n.clone())).or_insert(day);
            *l = (*l).max(day);
        }
        let last =
            last.into_iter().map(|((a, k, n), d)| vec![Arg::I64(a), Arg::Text(k), Arg::Text(n), Arg::I64(d)]).collect();
        crate::sql::upsert_rows(
            &mut tx,
            self.backend(),
            "usage_last",
            &["account_id", "kind", "name", "last_day"],
            last,
            " ON CONFLICT (account_id, kind, name) DO UPDATE SET last_day = CASE \
             WHEN excluded.last_day > usage_last.last_day THEN excluded.last_day ELSE usage_last.last_day END",
        )
        .await?;
        let rows = rows
            .into_iter()
            .map(|(a, k, n, b, bits)| vec![Arg::I64(a), Arg::Text(k.into()), Arg::Text(n), Arg::I64(b), Arg::I64(bits)])
            .collect();
        crate::sql::upsert_rows(
            &mut tx,
            self.backend(),
            "usage_bits",
            &["account_id", "kind", "name", "block", "bits"],
            rows,
            " ON CONFLICT (block, account_id, kind, name) DO UPDATE SET bits = usage_bits.bits | excluded.bits",
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether no usage after `day` was folded (a pass of today, usually).
    async fn usage_settled_by(&self, day: NaiveDate) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM (SELECT 1 FROM usage_last WHERE last_day > $1 LIMIT 1) t")
            .bind(day_number(day))
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? == 0)
    }

    /// Whether any usage was ever folded.
    pub async fn usage_tracked(&self) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM (SELECT 1 FROM usage_bits LIMIT 1) t")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Becomes the one node that runs the daily pass, until the returned guard is released:
    /// None when another node holds it. PostgreSQL holds an advisory lock in a transaction
    /// kept open meanwhile; SQLite has one process.
    pub async fn lead_pass(&self) -> Result<Option<Leader>> {
        if self.backend() == crate::Backend::Sqlite {
            return Ok(Some(Leader(None)));
        }
        let mut tx = self.begin().await?;
        let row =
            sqlx::query("SELECT CAST(pg_try_advisory_xact_lock(7202) AS INTEGER) AS got").fetch_one(&mut *tx).await?;
        Ok((row.try_get::<i32, _>("got")? == 1).then_some(Leader(Some(tx))))
    }

    /// The latest day a full pass ran for.
    pub async fn last_pass(&self) -> Result<Option<NaiveDate>> {
        let row = sqlx::query("SELECT MAX(day) AS day FROM daily_passes").fetch_one(self.pool()).await?;
        opt_date(crate::sql::opt_text(&row, "day")?)
    }
}

/// The daily pass's leadership (see [`Store::lead_pass`]).
pub struct Leader(Option<Tx>);

impl Leader {
    pub async fn release(self) -> Result<()> {
        if let Some(tx) = self.0 {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// Stage moves of a day: recorded, and the account's stage set unless a later change exists
/// (a replay of the past leaves today's stage alone).
async fn write_stage_moves(tx: &mut Tx, day: NaiveDate, out: &Day) -> Result<()> {
    let day_s = day.to_string();
    let at = now_micros();
    for m in &out.stages {
        sqlx::query(
            "INSERT INTO stage_changes (account_id, day, at, from_stage, to_stage, cause, actor) \
             VALUES ($1, $2, $3, $4, $5, $6, 'keepwell')",
        )
        .bind(m.account)
        .bind(&day_s)
        .bind(at)
        .bind(&m.from)
        .bind(&m.to)
        .bind(format!("rule:{}", m.rule))
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "UPDATE accounts SET lifecycle_stage = $1 WHERE id = $2 \
             AND NOT EXISTS (SELECT 1 FROM stage_changes WHERE account_id = $2 AND day > $3)",
        )
        .bind(&m.to)
        .bind(m.account)
        .bind(&day_s)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}
