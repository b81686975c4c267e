//! The daily pass's bulk reads (every account's facts in a handful of queries) and its writes
//! (one transaction per day: snapshots, latest scores, membership and stage changes).

use crate::sql::corrupt;
use crate::sql::{fetch_json_rows, in_list, insert_rows, json_rows, Arg, Sql};
use crate::{Result, Store, StoreError, Tx};
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

/// How far before a simulation's first day (beyond its trigger's days) it looks for runs of days
/// under way.
pub const LOOK_BACK_DAYS: u64 = 30;

/// What a simulated playbook did: (day, account, act), and where it stands with each account.
#[derive(Debug, Clone, Default)]
pub struct Simulated {
    pub acts: Vec<(NaiveDate, i64, keepwell_core::playbook::Act)>,
    pub enrolments: Vec<(i64, keepwell_core::facts::Enrolment)>,
    /// The accounts whose run of days had already fired when `from` began (in the look-back):
    /// enrolling only new occurrences leaves exactly their acts of that day out.
    pub already: std::collections::HashSet<i64>,
}

/// What [`Store::judge`] found.
#[derive(Debug, Clone, Default)]
pub struct Judged {
    /// The accounts for which the playbook's condition holds.
    pub held: std::collections::HashSet<i64>,
    /// What a run does for each account that day, where that depends on its facts (a branch
    /// before the first wait, a lifecycle rule holding it against a stage action).
    pub routes: HashMap<i64, keepwell_core::playbook::Route>,
}

impl Judged {
    /// What a run of `p` started today does for `account`.
    pub fn route(&self, p: &keepwell_core::playbook::Playbook, account: i64) -> keepwell_core::playbook::Route {
        self.routes.get(&account).cloned().unwrap_or_else(|| p.route(0, None))
    }
}

/// What [`Store::look_back`] read.
struct LookBack {
    start: NaiveDate,
    plan: Plan,
    facts: Vec<keepwell_core::facts::Facts>,
    members: Members,
    fx: keepwell_core::metrics::FxTable,
    catalogue: Vec<keepwell_core::usage::Feature>,
    fed: keepwell_core::facts::Fed,
}

/// Which accounts a pass reads.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    All,
    Accounts(&'a [i64]),
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
pub(crate) type PeriodRow = (
    i64,
    String,
    String,
    i64,
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<u32>,
);
/// A subscription period as [`PeriodRow`] reads it, with its account.
pub(crate) fn period_of(row: PeriodRow) -> Result<(i64, Period)> {
    let (account, subscription_id, plan, quantity, currency, amount, interval, starts, ends, renews, terms, term) = row;
    Ok((
        account,
        Period {
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
            term_months: term,
        },
    ))
}

type InvoiceRow = (i64, String, String, String, String, Option<String>, Option<String>, String);

/// [`fetch_json_rows`] when `needed`, else nothing.
async fn maybe<T: serde::de::DeserializeOwned>(needed: bool, sql: &Sql, pool: &sqlx::AnyPool) -> Result<Vec<T>> {
    if needed {
        fetch_json_rows(sql, pool).await
    } else {
        Ok(Vec::new())
    }
}

impl Scope<'_> {
    /// ` AND column IN (…)` for a list of accounts.
    pub(crate) fn push(&self, sql: &mut Sql, column: &str) {
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
        let first = from - ChronoDays::new(needs.lookback_days.max(1) as u64);
        let settled = needs.usage && self.usage_settled_by(from).await?;

        // Every read at once, each on a connection of its own.
        let profile = if needs.profile { "tags, attributes" } else { "'[]', '{}'" };
        let mut accounts_sql = json_rows(
            backend,
            &format!("id, plan, country, industry, employees, lifecycle_stage, {profile}"),
            "FROM accounts WHERE 1 = 1",
        );
        scope.push(&mut accounts_sql, "id");
        let mut periods_sql = json_rows(
            backend,
            "account_id, subscription_id, plan, quantity, currency, amount, billing_interval, starts_on, ends_on, renews_on, payment_terms, term_months",
            "FROM subscription_periods WHERE starts_on <= ",
        );
        periods_sql.bind(Arg::Text(to_s.clone()));
        scope.push(&mut periods_sql, "account_id");
        let mut invoices_sql = json_rows(
            backend,
            "account_id, invoice_id, currency, amount, issued_on, due_on, paid_on, status",
            "FROM invoices WHERE due_on IS NOT NULL AND (paid_on IS NULL OR paid_on > due_on) AND issued_on <= ",
        );
        invoices_sql.bind(Arg::Text(to_s.clone()));
        invoices_sql.push(" AND (paid_on IS NULL OR paid_on >= ").bind(Arg::Text(from_s.clone())).push(")");
        scope.push(&mut invoices_sql, "account_id");
        // Nobody active after `from`: each user's and name's last day says it all; else the bits.
        let mut last_sql = json_rows(
            backend,
            "account_id, kind, CASE WHEN kind = 'e' THEN name ELSE '' END, last_day",
            "FROM usage_last WHERE last_day >= ",
        );
        last_sql.bind(Arg::I64(day_number(first)));
        scope.push(&mut last_sql, "account_id");
        let mut bits_sql = json_rows(backend, "account_id, kind, name, block, bits", "FROM usage_bits WHERE block >= ");
        bits_sql.bind(Arg::I64(day_bit(first).0)).push(" AND block <= ").bind(Arg::I64(day_bit(to).0));
        scope.push(&mut bits_sql, "account_id");
        // Each account's first and last day of any usage: whether it ever had usage by a day,
        // and how long it has been quiet.
        let mut spans_sql = json_rows(backend, "account_id, first_day, last_day", "FROM usage_accounts WHERE 1 = 1");
        scope.push(&mut spans_sql, "account_id");
        let mut totals_sql = json_rows(backend, "account_id, block, counts", "FROM usage_totals WHERE block >= ");
        totals_sql.bind(Arg::I64(day_bit(first).0)).push(" AND block <= ").bind(Arg::I64(day_bit(to).0));
        scope.push(&mut totals_sql, "account_id");
        // The last block with usage before the loaded ones, for a past day whose account went
        // quiet before them and came back after (a pass of today never needs it).
        let mut before_sql = json_rows(
            backend,
            "t.account_id, t.block, t.counts",
            "FROM usage_totals t JOIN (SELECT account_id, MAX(block) AS block FROM usage_totals WHERE block < ",
        );
        before_sql.bind(Arg::I64(day_bit(first).0));
        scope.push(&mut before_sql, "account_id");
        before_sql.push(" GROUP BY account_id) m ON m.account_id = t.account_id AND m.block = t.block");
        let mut counts_sql = json_rows(backend, "account_id, event, day, count", "FROM usage_daily WHERE day >= ");
        counts_sql.bind(Arg::Text(first.to_string())).push(" AND day <= ").bind(Arg::Text(to_s.clone()));
        counts_sql.push(" AND event IN ");
        let names: Vec<&str> = needs.counted.iter().map(String::as_str).collect();
        in_list(&mut counts_sql, &names);
        scope.push(&mut counts_sql, "account_id");
        let mut sentiments_sql = json_rows(backend, "account_id, day, id, rating", "FROM sentiments WHERE day <= ");
        sentiments_sql.bind(Arg::Text(to_s.clone()));
        scope.push(&mut sentiments_sql, "account_id");
        // One row per account and day: a day of ten calls is a day with an interaction.
        let mut interactions_sql = json_rows(
            backend,
            "account_id, occurred_on",
            "FROM (SELECT DISTINCT account_id, occurred_on FROM interactions WHERE occurred_on <= ",
        );
        interactions_sql.bind(Arg::Text(to_s.clone()));
        scope.push(&mut interactions_sql, "account_id");
        interactions_sql.push(") t");
        // The Stripe events of the types counted, applied to accounts over the look back
        // (`created`: Unix seconds), on their index.
        let mut stripe_sql =
            json_rows(backend, "account_id, created, event_type", "FROM stripe_events WHERE event_type IN ");
        let types: Vec<&str> = needs.stripe.iter().map(String::as_str).collect();
        in_list(&mut stripe_sql, &types);
        let unix = |d: NaiveDate| d.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp());
        stripe_sql.push(" AND created >= ").bind(Arg::I64(unix(first)));
        stripe_sql.push(" AND created < ").bind(Arg::I64(unix(to + ChronoDays::new(1))));
        stripe_sql.push(" AND account_id IS NOT NULL");
        scope.push(&mut stripe_sql, "account_id");
        let mut overrides_sql = json_rows(
            backend,
            "account_id, starts_on, expires_on, score, cleared_at",
            "FROM health_overrides WHERE starts_on <= ",
        );
        overrides_sql.bind(Arg::Text(to_s.clone()));
        scope.push(&mut overrides_sql, "account_id");
        let mut stages_sql =
            json_rows(backend, "account_id, day, id, from_stage, to_stage, cause", "FROM stage_changes WHERE day >= ");
        stages_sql.bind(Arg::Text(from_s.clone()));
        scope.push(&mut stages_sql, "account_id");
        type Later = (i64, String, i64, Option<String>, String, String);
        let (
            mut rows,
            periods,
            invoices,
            lasts,
            bits,
            counts,
            mut sentiments,
            mut interactions,
            mut stripe,
            overrides,
            mut later,
            spans,
            totals,
            before,
        ) = tokio::try_join!(
            fetch_json_rows::<AccountRow>(&accounts_sql, pool),
            maybe::<PeriodRow>(needs.billing, &periods_sql, pool),
            maybe::<InvoiceRow>(needs.invoices, &invoices_sql, pool),
            maybe::<(i64, String, String, i64)>(settled, &last_sql, pool),
            maybe::<(i64, String, String, i64, i64)>(needs.usage && !settled, &bits_sql, pool),
            maybe::<(i64, String, String, i64)>(!needs.counted.is_empty(), &counts_sql, pool),
            maybe::<(i64, String, i64, i64)>(needs.sentiments, &sentiments_sql, pool),
            maybe::<(i64, String)>(needs.interactions, &interactions_sql, pool),
            maybe::<(i64, i64, String)>(!needs.stripe.is_empty(), &stripe_sql, pool),
            maybe::<(i64, String, String, String, Option<i64>)>(needs.health, &overrides_sql, pool),
            fetch_json_rows::<Later>(&stages_sql, pool),
            maybe::<(i64, i64, i64)>(needs.usage, &spans_sql, pool),
            maybe::<(i64, i64, String)>(needs.totals || (needs.last_active && !settled), &totals_sql, pool),
            maybe::<(i64, i64, String)>(needs.last_active && !settled, &before_sql, pool),
        )?;

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
        for row in periods {
            let Some(i) = at(row.0) else { continue };
            facts[i].periods.push(period_of(row)?.1);
        }
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
        for (account, kind, name, last) in lasts {
            let Some(i) = at(account) else { continue };
            let mut days = Days::default();
            days.add(last.div_euclid(BLOCK_DAYS), 1 << last.rem_euclid(BLOCK_DAYS));
            if kind == "u" {
                facts[i].users.push(days);
            } else {
                facts[i].names.insert(name, days);
            }
        }
        if !bits.is_empty() {
            let mut users: Vec<HashMap<String, Days>> = vec![HashMap::new(); facts.len()];
            for (account, kind, name, block, b) in bits {
                let Some(i) = at(account) else { continue };
                let target = if kind == "u" { users[i].entry(name) } else { facts[i].names.entry(name) };
                target.or_default().add(block, b);
            }
            for (f, u) in facts.iter_mut().zip(users) {
                f.users = u.into_values().collect();
            }
        }
        for (account, first_day, last_day) in spans {
            let Some(i) = at(account) else { continue };
            facts[i].first_usage = Some(first_day);
            facts[i].last_usage = Some(last_day);
        }
        for (account, block, text) in totals {
            let Some(i) = at(account) else { continue };
            let base = block * BLOCK_DAYS;
            facts[i].totals.extend(keepwell_core::facts::parse_counts(&text).into_iter().map(|(o, n)| (base + o, n)));
        }
        for (account, block, text) in before {
            let Some(i) = at(account) else { continue };
            let last = keepwell_core::facts::parse_counts(&text).into_iter().map(|(o, _)| o).max();
            facts[i].last_before = last.map(|o| block * BLOCK_DAYS + o);
        }
        for (account, event, day, count) in counts {
            let Some(i) = at(account) else { continue };
            facts[i].counts.entry(event).or_default().push((day_number(date(&day)?), count));
        }
        sentiments.sort_unstable_by(|a, b| (&a.1, a.2).cmp(&(&b.1, b.2)));
        for (account, day, _, rating) in sentiments {
            if let Some(i) = at(account) {
                facts[i].sentiments.push((date(&day)?, rating));
            }
        }
        interactions.sort_unstable();
        for (account, day) in interactions {
            if let Some(i) = at(account) {
                facts[i].interactions.push(date(&day)?);
            }
        }
        stripe.sort_unstable();
        for (account, created, kind) in stripe {
            if let Some(i) = at(account) {
                let day = keepwell_core::stripe::day(created).ok_or_else(|| corrupt("stripe_events"))?;
                facts[i].stripe.push((day, kind));
            }
        }
        for (account, starts, expires, score, cleared) in overrides {
            let Some(i) = at(account) else { continue };
            let mut until = date(&expires)?;
            if let Some(c) = cleared {
                until = until.min(crate::instant(c).date_naive());
            }
            facts[i].overrides.push((date(&starts)?, until, dec(&score)?));
        }
        // The stage a pass of `from` starts from: the account's stage by the end of that day,
        // without what rules decided that day or later (the pass decides it again). The
        // earliest change from `from` on says it: a hand move on `from` itself stands; anything
        // later, or a rule's, did not happen yet.
        later.sort_unstable_by(|a, b| (a.0, &a.1, a.2).cmp(&(b.0, &b.1, b.2)));
        let mut settled_stage: std::collections::HashSet<i64> = std::collections::HashSet::new();
        for (account, day, _, from_stage, to_stage, cause) in later {
            let Some(i) = at(account) else { continue };
            if settled_stage.insert(account) {
                facts[i].stage =
                    if day == from_s && cause == "manual" { to_stage } else { from_stage.unwrap_or(to_stage) };
            }
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
            facts[i].health = (score, band.as_deref().and_then(Band::parse));
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
    pub async fn members_before(&self, scope: Scope<'_>, from: NaiveDate) -> Result<Members> {
        let mut sql =
            json_rows(self.backend(), "segment_id, account_id, day, entered", "FROM segment_changes WHERE day < ");
        sql.bind(Arg::Text(from.to_string()));
        scope.push(&mut sql, "account_id");
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

    /// Writes days of a full pass in one transaction, replacing what an earlier run of the same
    /// days wrote. The accounts list's figures are reckoned as of `last` (the pass's last day)
    /// when it is among them and no later day has been passed.
    pub async fn write_days(
        &self,
        plan: &Plan,
        reporting: &str,
        accounts: Option<&[i64]>,
        days: &[(NaiveDate, Day)],
        last: NaiveDate,
    ) -> Result<()> {
        let t = std::time::Instant::now();
        let mut w = self.write(&crate::Actor::system("pass")).await?;
        let sqlite = self.backend() == crate::Backend::Sqlite;
        if sqlite {
            // A day touches every account's page of the snapshots' account index: with the usual
            // 8 MiB cache each of them is read back from the OS for every day written.
            sqlx::query("PRAGMA cache_size = -262144").execute(&mut *w.tx).await?;
        }
        // Today's pass (and yesterday's, caught up) tells the endpoints what changed; a replay of
        // history or of some accounts rewrites the past and tells no one.
        let subscribers = crate::deliveries::Subscribers::load(&mut w.tx).await?;
        let live_from = self.clock().today() - chrono::Days::new(1);
        for (day, out) in days {
            if *day == last {
                write_figures(&mut w.tx, self.backend(), reporting, accounts, *day, out).await?;
            }
            write_day(&mut w.tx, self.backend(), self.now_micros(), plan, accounts, *day, out).await?;
            if accounts.is_none() && *day >= live_from {
                emit_day(&mut w.tx, self.now_micros(), plan, (*day, out), &subscribers).await?;
            }
            // What the playbooks decided, in the transaction that records the day (a plan has
            // playbooks only for a pass that acts).
            let t = std::time::Instant::now();
            crate::playbooks::write_enrolments(&mut w.tx, w.backend, &out.enrolments).await?;
            let enrolled = t.elapsed();
            for a in &out.acts {
                crate::playbooks::act(&mut w, &plan.playbooks[a.playbook], a.account, *day, &a.act).await?;
            }
            if !plan.playbooks.is_empty() {
                tracing::debug!(
                    %day,
                    enrolments = out.enrolments.len(),
                    enrolments_ms = enrolled.as_millis() as u64,
                    acts = out.acts.len(),
                    acts_ms = (t.elapsed() - enrolled).as_millis() as u64,
                    "playbooks wrote"
                );
            }
        }
        let written = t.elapsed();
        if sqlite {
            sqlx::query(&format!("PRAGMA cache_size = {}", crate::SQLITE_CACHE)).execute(&mut *w.tx).await?;
        }
        w.commit().await?;
        tracing::debug!(
            days = days.len(),
            write_ms = written.as_millis() as u64,
            commit_ms = (t.elapsed() - written).as_millis() as u64,
            "wrote days"
        );
        Ok(())
    }

    /// [`Store::run_days`] as the pass that acts (the timer's, `tick`'s): the enabled playbooks
    /// are stepped on from where the last such pass left them, and do what they decide.
    pub async fn act_days(
        &self,
        reporting: &str,
        from: NaiveDate,
        to: NaiveDate,
        progress: impl FnMut(NaiveDate, &Day),
    ) -> Result<()> {
        let t = std::time::Instant::now();
        let mut plan = self.plan().await?;
        plan.playbooks = self.acting_playbooks().await?;
        tracing::debug!(playbooks = plan.playbooks.len(), load_ms = t.elapsed().as_millis() as u64, "plan");
        self.pass_days(plan, reporting, None, from, to, progress).await
    }

    /// Runs the daily pass for every day from `from` to `to`, oldest first, a week of whole days
    /// per transaction (a failure keeps the weeks before it, never part of a day); `progress`
    /// hears of each day written. Running a day again rewrites it alike.
    pub async fn run_days(
        &self,
        reporting: &str,
        from: NaiveDate,
        to: NaiveDate,
        progress: impl FnMut(NaiveDate, &Day),
    ) -> Result<()> {
        self.run_days_of(reporting, None, from, to, progress).await
    }

    /// [`Store::run_days`] for some accounts only (`Some`): their snapshots, membership and
    /// stage changes of those days are rewritten, everyone else's left alone (after their usage
    /// was linked late, say). Never acts: playbooks are left out.
    pub async fn run_days_of(
        &self,
        reporting: &str,
        accounts: Option<&[i64]>,
        from: NaiveDate,
        to: NaiveDate,
        progress: impl FnMut(NaiveDate, &Day),
    ) -> Result<()> {
        let plan = self.plan().await?;
        self.pass_days(plan, reporting, accounts, from, to, progress).await
    }

    async fn pass_days(
        &self,
        plan: Plan,
        reporting: &str,
        accounts: Option<&[i64]>,
        from: NaiveDate,
        to: NaiveDate,
        mut progress: impl FnMut(NaiveDate, &Day),
    ) -> Result<()> {
        let needs = plan.needs();
        let scope = accounts.map_or(Scope::All, Scope::Accounts);
        // Independent reads, at once: the facts are the pass's longest, the enrolments (a row per
        // account in a playbook's run) its second, decoded on another worker thread meanwhile.
        let ids: Vec<i64> = plan.playbooks.iter().map(|p| p.id).collect();
        let store = self.clone();
        let enrolments = tokio::spawn(async move {
            let t = std::time::Instant::now();
            if ids.is_empty() {
                return Ok((HashMap::new(), HashMap::new()));
            }
            let (enrolled, waiting) = tokio::try_join!(store.enrolments(&ids), store.waiting_runs(&ids))?;
            tracing::debug!(
                playbooks = ids.len(),
                enrolments = enrolled.values().map(HashMap::len).sum::<usize>(),
                waiting = waiting.values().map(Vec::len).sum::<usize>(),
                load_ms = t.elapsed().as_millis() as u64,
                "enrolments"
            );
            Ok::<_, StoreError>((enrolled, waiting))
        });
        let t = std::time::Instant::now();
        let (mut facts, mut members, fx, catalogue, fed) = tokio::try_join!(
            self.pass_facts(scope, from, to, &needs),
            self.members_before(scope, from),
            self.fx_table(),
            self.plan_features(),
            self.fed(),
        )?;
        tracing::debug!(accounts = facts.len(), load_ms = t.elapsed().as_millis() as u64, "facts");
        let (mut enrolled, mut waiting) =
            enrolments.await.map_err(|e| corrupt(&format!("the enrolments could not be read: {e}")))??;
        for f in &mut facts {
            f.enrolments = enrolled.remove(&f.id).unwrap_or_default();
            f.waiting = waiting.remove(&f.id).unwrap_or_default();
        }
        // A week (or 200 000 snapshots) per transaction: a replay rewrites the same index pages
        // day after day, and each commit costs a sync. The next week is worked out on other
        // threads while this one is written.
        let plan = std::sync::Arc::new(plan);
        let (send, mut receive) = tokio::sync::mpsc::channel::<Vec<(NaiveDate, Day)>>(1);
        let (worker_plan, reporting_owned) = (plan.clone(), reporting.to_owned());
        let worker = tokio::task::spawn_blocking(move || {
            let mut batch: Vec<(NaiveDate, Day)> = Vec::new();
            let mut day = from;
            while day <= to {
                let ctx = Context { day, reporting: &reporting_owned, fx: &fx, catalogue: &catalogue, fed };
                let t = std::time::Instant::now();
                let out = keepwell_core::daily::run(&worker_plan, ctx, &mut facts, &mut members);
                tracing::debug!(%day, compute_ms = t.elapsed().as_millis() as u64, "computed day");
                batch.push((day, out));
                let size: usize = batch.iter().map(|(_, d)| d.snapshots.len()).sum();
                if (batch.len() >= 7 || size >= 200_000 || day == to)
                    && send.blocking_send(std::mem::take(&mut batch)).is_err()
                {
                    return;
                }
                let Some(next) = day.succ_opt() else { return };
                day = next;
            }
        });
        while let Some(batch) = receive.recv().await {
            self.write_days(&plan, reporting, accounts, &batch, to).await?;
            for (d, out) in &batch {
                progress(*d, out);
            }
        }
        worker.await.map_err(|e| corrupt(&format!("the daily pass stopped: {e}")))?;
        Ok(())
    }

    /// What stepping playbook `p` alone over `from` to `to` needs, read at once: the plan with it,
    /// the facts from the look-back's first day (a run of days under way is found back to its
    /// first day if that lies within the trigger's days, its closing margin and
    /// [`LOOK_BACK_DAYS`] before `from`), segment membership then, rates, catalogue, what was fed.
    async fn look_back(
        &self,
        p: keepwell_core::playbook::Playbook,
        scope: Scope<'_>,
        (from, to): (NaiveDate, NaiveDate),
    ) -> Result<LookBack> {
        let warm = u64::from(p.def.trigger.days()) + u64::from(p.def.close_after_days.unwrap_or(0)) + LOOK_BACK_DAYS;
        let start = from - ChronoDays::new(warm);
        let mut plan = self.plan().await?;
        plan.playbooks = vec![p];
        let needs = plan.needs();
        let (facts, members, fx, catalogue, fed) = tokio::try_join!(
            self.pass_facts(scope, start, to, &needs),
            self.members_before(scope, start),
            self.fx_table(),
            self.plan_features(),
            self.fed(),
        )?;
        Ok(LookBack { start, plan, facts, members, fx, catalogue, fed })
    }

    /// What playbook `p` would have done from `from` to `to`, computed from the facts as they were
    /// and written nowhere: its trigger is first stepped over the days before `from` it needs
    /// (its days, its closing margin and [`LOOK_BACK_DAYS`]), and
    /// with `existing` the accounts it then already holds for fire on `from` (what enabling it
    /// that day with "enrol accounts that already match" does). Returns each day's acts and where
    /// it stands with every account after `to`.
    pub async fn simulate_playbook(
        &self,
        reporting: &str,
        p: keepwell_core::playbook::Playbook,
        (from, to): (NaiveDate, NaiveDate),
        existing: bool,
    ) -> Result<Simulated> {
        let LookBack { start, plan, mut facts, mut members, fx, catalogue, fed } =
            self.look_back(p, Scope::All, (from, to)).await?;
        // The real last firing of each account: the look-back's own firings are hypothetical, and
        // must neither block `once` nor `after_days` nor hide a real one.
        let id = plan.playbooks[0].id;
        let mut last = json_rows(
            self.backend(),
            "account_id, last",
            "FROM (SELECT account_id, MAX(day) AS last \
             FROM playbook_runs WHERE playbook_id = ",
        );
        last.bind(Arg::I64(id)).push(" GROUP BY account_id) r");
        let last: HashMap<i64, NaiveDate> = fetch_json_rows::<(i64, String)>(&last, self.pool())
            .await?
            .into_iter()
            .filter_map(|(a, d)| Some((a, d.parse().ok()?)))
            .collect();
        let reporting = reporting.to_owned();
        tokio::task::spawn_blocking(move || {
            let (mut acts, mut already) = (Vec::new(), std::collections::HashSet::new());
            let mut day = start;
            while day <= to {
                if day == from {
                    for f in &mut facts {
                        // The look-back's firings are hypothetical: their waits go on nowhere.
                        f.waiting.clear();
                        if f.enrolments.get(&id).is_some_and(|e| e.fired) {
                            already.insert(f.id);
                        }
                        let real = last.get(&f.id).copied();
                        if real.is_none() && !f.enrolments.contains_key(&id) {
                            continue;
                        }
                        let e = f.enrolments.entry(id).or_default();
                        e.last_fired = real;
                        if existing {
                            e.fired = false;
                        }
                    }
                }
                let ctx = Context { day, reporting: &reporting, fx: &fx, catalogue: &catalogue, fed };
                let out = keepwell_core::daily::run(&plan, ctx, &mut facts, &mut members);
                if day >= from {
                    acts.extend(out.acts.into_iter().map(|a| (day, a.account, a.act)));
                }
                let Some(next) = day.succ_opt() else { break };
                day = next;
            }
            let enrolments = facts.iter().filter_map(|f| f.enrolments.get(&id).map(|e| (f.id, *e))).collect();
            Simulated { acts, enrolments, already }
        })
        .await
        .map_err(|e| corrupt(&format!("the simulation stopped: {e}")))
    }

    /// What decides whether and how playbook `p` acts for `accounts` on `day` outside the daily
    /// pass (an event, an interaction, a manual start), read from the facts as the pass reads
    /// them: those for which its condition holds (all without one, or `with_condition` false: a
    /// manual start), and what a run does for each (its branches before the first wait, the
    /// lifecycle rule that holds the account against a stage action). The facts are read only
    /// when one of these needs them.
    pub async fn judge(
        &self,
        reporting: &str,
        p: &keepwell_core::playbook::Playbook,
        (accounts, day): (&[i64], NaiveDate),
        with_condition: bool,
    ) -> Result<Judged> {
        let mut plan = self.plan().await?;
        let condition = with_condition && p.def.condition.is_some();
        if !condition && (!p.sets_stage() || plan.rules.is_empty()) && !p.branches_from(0) {
            return Ok(Judged { held: accounts.iter().copied().collect(), routes: HashMap::new() });
        }
        plan.playbooks = vec![p.clone()];
        let needs = plan.needs();
        let (facts, fx, catalogue, fed) = tokio::try_join!(
            self.pass_facts(Scope::Accounts(accounts), day, day, &needs),
            self.fx_table(),
            self.plan_features(),
            self.fed(),
        )?;
        let ctx = Context { day, reporting, fx: &fx, catalogue: &catalogue, fed };
        let mut judged = Judged::default();
        for f in &facts {
            let env = keepwell_core::facts::AccountDay::new(f, ctx);
            if !with_condition || p.condition_holds(&env) {
                judged.held.insert(f.id);
            }
            let mut route = p.route(0, Some(&env));
            route.rule = plan.ruling(&env).filter(|_| p.sets_stage()).map(str::to_owned);
            judged.routes.insert(f.id, route);
        }
        Ok(judged)
    }

    /// Why playbook `p` did or did not fire for `account` on `day`, had it been on from the
    /// simulation's look-back before it (the same steps as [`Store::simulate_playbook`] for one
    /// account). None when there is no such account.
    pub async fn explain_playbook(
        &self,
        reporting: &str,
        p: keepwell_core::playbook::Playbook,
        account: i64,
        day: NaiveDate,
    ) -> Result<Option<keepwell_core::playbook::Why>> {
        let ids = [account];
        let LookBack { start, plan, mut facts, mut members, fx, catalogue, fed } =
            self.look_back(p, Scope::Accounts(&ids), (day, day)).await?;
        if facts.is_empty() {
            return Ok(None);
        }
        let reporting = reporting.to_owned();
        tokio::task::spawn_blocking(move || {
            let id = plan.playbooks[0].id;
            let mut d = start;
            while d < day {
                let ctx = Context { day: d, reporting: &reporting, fx: &fx, catalogue: &catalogue, fed };
                keepwell_core::daily::run(&plan, ctx, &mut facts, &mut members);
                d = d.succ_opt().unwrap_or(day);
            }
            let before = facts[0].enrolments.get(&id).copied().unwrap_or_default();
            let holds = |members: &keepwell_core::daily::Members| -> std::collections::HashSet<String> {
                let holds =
                    |s: &&keepwell_core::daily::Segment| members.get(&s.id).is_some_and(|m| m.contains(&account));
                plan.segments.iter().filter(holds).map(|s| s.key.clone()).collect()
            };
            let was_in = holds(&members);
            let ctx = Context { day, reporting: &reporting, fx: &fx, catalogue: &catalogue, fed };
            let out = keepwell_core::daily::run(&plan, ctx, &mut facts, &mut members);
            let p = &plan.playbooks[0];
            let env = keepwell_core::facts::AccountDay::new(&facts[0], ctx);
            let scored = out.snapshots.first().map(|s| {
                let card = &plan.scorecards[s.scorecard];
                keepwell_core::playbook::Scored {
                    measures: card.measures(),
                    bands: card.bands,
                    readings: &s.readings,
                    score: s.effective,
                    band: s.effective_band,
                }
            });
            let is_in = holds(&members);
            let in_segment = |key: &str| is_in.contains(key);
            let was_in_segment = |key: &str| was_in.contains(key);
            let seen =
                keepwell_core::playbook::Seen { scored, in_segment: &in_segment, was_in_segment: &was_in_segment };
            Some(p.explain(&before, day, p.read(&env, seen), p.condition_holds(&env)))
        })
        .await
        .map_err(|e| corrupt(&format!("the explanation stopped: {e}")))
    }

    /// Does what a simulation of `p` found for `day` (the acts of that day), and switches it on
    /// with where it then stands with every account, in one write: enabling a playbook.
    pub async fn enable_playbook(
        &self,
        w: &mut crate::Write,
        p: &keepwell_core::playbook::Playbook,
        choice: &str,
        day: NaiveDate,
        simulated: &Simulated,
    ) -> Result<crate::playbooks::StoredPlaybook> {
        // On already (a second submit that read it off): as it is, acting on nothing again.
        if let Some(on) = crate::playbooks::current(w, &p.def.key).await?.filter(|c| c.enabled) {
            return Ok(on);
        }
        let stored = crate::playbooks::switch(w, &p.def.key, true, choice, &simulated.enrolments).await?;
        for (d, account, act) in &simulated.acts {
            if *d == day {
                crate::playbooks::act(w, p, *account, day, act).await?;
            }
        }
        Ok(stored)
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
        let ctx = Context { day: from, reporting, fx: &fx, catalogue: &catalogue, fed: self.fed().await? };
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
        let mut members = self.members_before(Scope::Accounts(&[account]), day).await?;
        let fx = self.fx_table().await?;
        let catalogue = self.plan_features().await?;
        let ctx = Context { day, reporting, fx: &fx, catalogue: &catalogue, fed: self.fed().await? };
        let out = keepwell_core::daily::run(&plan, ctx, &mut facts, &mut members);
        Ok(out.snapshots.into_iter().next().map(|s| (plan, s)))
    }

    /// Moves whenever anything a live count reads changes: accounts (created, changed, deleted),
    /// revenue, folded usage, sentiments, overrides, a pass. Cheap enough to ask per keystroke.
    pub async fn live_version(&self) -> Result<String> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM accounts) AS a, (SELECT COALESCE(MAX(updated_at), 0) FROM accounts) AS u, \
             (SELECT version FROM revenue_version WHERE id = 1) AS r, (SELECT rolled_to FROM event_index WHERE id = 1) AS e, \
             (SELECT COALESCE(MAX(id), 0) FROM sentiments) AS s, \
             (SELECT version FROM interaction_version WHERE id = 1) AS i, \
             (SELECT COALESCE(MAX(id), 0) + COALESCE(MAX(cleared_at), 0) FROM health_overrides) AS o, \
             (SELECT COALESCE(MAX(ran_at), 0) FROM daily_passes) AS p",
        )
        .fetch_one(self.pool())
        .await?;
        let cols = ["a", "u", "r", "e", "s", "i", "o", "p"];
        Ok(cols
            .iter()
            .map(|c| row.try_get::<i64, _>(*c).map(|v| v.to_string()))
            .collect::<Result<Vec<_>, _>>()?
            .join("-"))
    }

    /// Every account's facts as of `day` for what `needs` reads, with the latest scores: what the
    /// segment builder's live counts evaluate (the server keeps them a few seconds for the next
    /// keystrokes).
    pub async fn live_facts(&self, needs: &Needs, day: NaiveDate) -> Result<LiveFacts> {
        let version = self.live_version().await?;
        let mut facts = self.pass_facts(Scope::All, day, day, needs).await?;
        if needs.health {
            // Today's scores when today's pass has run.
            if let Some(last) = self.last_pass_before(day + ChronoDays::new(1)).await? {
                let index: HashMap<i64, usize> = facts.iter().enumerate().map(|(i, f)| (f.id, i)).collect();
                self.prior_health(Scope::All, &mut facts, &index, last).await?;
            }
        }
        Ok(LiveFacts {
            version,
            needs: needs.clone(),
            day,
            fx: self.fx_table().await?,
            catalogue: if needs.usage { self.plan_features().await? } else { Vec::new() },
            fed: self.fed().await?,
            facts,
        })
    }

    /// Writes usage bits (and the last days, daily totals and spans they imply: each active
    /// user-day counts as one event) directly: benchmarks build 90 days of rollups this way.
    pub async fn write_usage_bits(&self, rows: Vec<(i64, &'static str, String, i64, i64)>) -> Result<()> {
        let mut bits = crate::usage::DayBits::default();
        let mut totals = crate::usage::Totals::default();
        for (account, kind, name, block, b) in rows {
            if kind == "u" {
                for offset in (0..BLOCK_DAYS).filter(|o| b & (1 << o) != 0) {
                    totals.add(account, block * BLOCK_DAYS + offset, 1);
                }
            }
            bits.add_block(account, kind, name, block, b);
        }
        let mut tx = self.begin().await?;
        bits.write(&mut tx, self.backend()).await?;
        totals.write(&mut tx, self.backend()).await?;
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

    /// Which sources the workspace ever fed (a measure of a source never fed does not apply).
    pub async fn fed(&self) -> Result<keepwell_core::facts::Fed> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM usage_accounts LIMIT 1) u) AS usage, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM sentiments LIMIT 1) s) AS sentiments, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM interactions LIMIT 1) i) AS interactions, \
             (SELECT COUNT(*) FROM (SELECT 1 FROM stripe_events WHERE account_id IS NOT NULL LIMIT 1) t) AS stripe",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(keepwell_core::facts::Fed {
            usage: row.try_get::<i64, _>("usage")? > 0,
            sentiments: row.try_get::<i64, _>("sentiments")? > 0,
            interactions: row.try_get::<i64, _>("interactions")? > 0,
            stripe: row.try_get::<i64, _>("stripe")? > 0,
        })
    }

    /// Whether any usage was ever folded.
    pub async fn usage_tracked(&self) -> Result<bool> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM (SELECT 1 FROM usage_bits LIMIT 1) t")
            .fetch_one(self.pool())
            .await?;
        Ok(row.try_get::<i64, _>("n")? > 0)
    }

    /// Becomes the one process that runs the daily pass, until the returned guard is released or
    /// dropped, waiting up to `wait` for another to finish: [`Lead::HeldBy`] says who holds it then.
    /// PostgreSQL holds an advisory lock in a transaction kept open meanwhile, so every node of a
    /// database agrees; SQLite a lock on the file `DB.pass-lock` beside the database, so a `tick`
    /// beside a running `serve` waits for its pass. Either goes when its process dies.
    pub async fn lead_pass(&self, wait: std::time::Duration) -> Result<Lead> {
        let start = std::time::Instant::now();
        loop {
            match self.try_lead_pass().await? {
                Lead::HeldBy(who) if start.elapsed() >= wait => return Ok(Lead::HeldBy(who)),
                Lead::HeldBy(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
                lead => return Ok(lead),
            }
        }
    }

    async fn try_lead_pass(&self) -> Result<Lead> {
        if let Some(db) = &self.sqlite_file {
            return pass_file_lock(db);
        }
        let mut tx = self.begin().await?;
        let row =
            sqlx::query("SELECT CAST(pg_try_advisory_xact_lock(7202) AS INTEGER) AS got").fetch_one(&mut *tx).await?;
        if row.try_get::<i32, _>("got")? == 1 {
            return Ok(Lead::Leader(Leader(Some(tx), None)));
        }
        let holder = sqlx::query(
            "SELECT CAST(a.pid AS BIGINT) AS pid, COALESCE(CAST(a.client_addr AS TEXT), 'a local socket') AS addr \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.objid = 7202 AND l.granted LIMIT 1",
        )
        .fetch_optional(&mut *tx)
        .await?;
        Ok(Lead::HeldBy(match holder {
            Some(r) => format!(
                "another keepwell is running the daily pass on this database (PostgreSQL backend {} for {})",
                r.try_get::<i64, _>("pid")?,
                crate::sql::text(&r, "addr")?
            ),
            None => "another keepwell is running the daily pass on this database".into(),
        }))
    }

    /// The latest day a full pass ran for.
    pub async fn last_pass(&self) -> Result<Option<NaiveDate>> {
        let row = sqlx::query("SELECT MAX(day) AS day FROM daily_passes").fetch_one(self.pool()).await?;
        opt_date(crate::sql::opt_text(&row, "day")?)
    }
}

/// Every account's facts of a day, for live counts (see [`Store::live_facts`]).
pub struct LiveFacts {
    /// [`Store::live_version`] when they were read (read before them: a change meanwhile makes
    /// them older, never newer, than they claim).
    pub version: String,
    pub needs: Needs,
    pub day: NaiveDate,
    fx: keepwell_core::metrics::FxTable,
    catalogue: Vec<keepwell_core::usage::Feature>,
    fed: keepwell_core::facts::Fed,
    facts: Vec<Facts>,
}

impl LiveFacts {
    /// Whether these facts hold all that `needs` reads.
    pub fn covers(&self, needs: &Needs) -> bool {
        let n = &self.needs;
        (n.usage || !needs.usage)
            && n.lookback_days >= needs.lookback_days
            && needs.counted.is_subset(&n.counted)
            && (n.billing || !needs.billing)
            && (n.invoices || !needs.invoices)
            && (n.sentiments || !needs.sentiments)
            && (n.interactions || !needs.interactions)
            && needs.stripe.is_subset(&n.stripe)
            && (n.profile || !needs.profile)
            && (n.health || !needs.health)
            && (n.totals || !needs.totals)
            && (n.last_active || !needs.last_active)
    }

    /// How many accounts `filter` holds, and the first `sample` of them by id.
    pub fn count(&self, reporting: &str, filter: &Expr, sample: usize) -> (i64, Vec<i64>) {
        let ctx = Context { day: self.day, reporting, fx: &self.fx, catalogue: &self.catalogue, fed: self.fed };
        let mut count = 0;
        let mut first = Vec::new();
        for f in &self.facts {
            if filter.eval(&AccountDay::new(f, ctx)) {
                count += 1;
                if first.len() < sample {
                    first.push(f.id);
                }
            }
        }
        (count, first)
    }
}

/// What `a` and `b` read together.
pub fn union(a: &Needs, b: &Needs) -> Needs {
    Needs {
        usage: a.usage || b.usage,
        lookback_days: a.lookback_days.max(b.lookback_days),
        counted: a.counted.union(&b.counted).cloned().collect(),
        totals: a.totals || b.totals,
        last_active: a.last_active || b.last_active,
        billing: a.billing || b.billing,
        invoices: a.invoices || b.invoices,
        sentiments: a.sentiments || b.sentiments,
        interactions: a.interactions || b.interactions,
        stripe: a.stripe.union(&b.stripe).cloned().collect(),
        profile: a.profile || b.profile,
        health: a.health || b.health,
    }
}

/// Whether this process leads the daily pass (see [`Store::lead_pass`]).
pub enum Lead {
    Leader(Leader),
    /// Another process does, as said.
    HeldBy(String),
}

/// The daily pass's leadership: the PostgreSQL transaction holding the advisory lock, or the
/// locked file on SQLite.
pub struct Leader(Option<Tx>, Option<std::fs::File>);

impl Leader {
    pub async fn release(self) -> Result<()> {
        if let Some(tx) = self.0 {
            tx.commit().await?;
        }
        drop(self.1);
        Ok(())
    }
}

/// Locks `DB.pass-lock` (created when missing) and writes this process's id into it; when
/// another process holds it, says which.
fn pass_file_lock(db: &std::path::Path) -> Result<Lead> {
    use std::io::{Read, Seek, Write};
    let mut name = db.as_os_str().to_owned();
    name.push(".pass-lock");
    let path = std::path::PathBuf::from(name);
    let io = |e: std::io::Error| StoreError::Config(format!("cannot use the lock file {}: {e}", path.display()));
    let mut file =
        std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
    match file.try_lock() {
        Ok(()) => {
            file.set_len(0).map_err(io)?;
            file.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
            write!(file, "{}", std::process::id()).map_err(io)?;
            Ok(Lead::Leader(Leader(None, Some(file))))
        }
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            file.read_to_string(&mut pid).map_err(io)?;
            let pid = pid.trim();
            let who = if pid.is_empty() { String::new() } else { format!(" (process {pid})") };
            Ok(Lead::HeldBy(format!(
                "another keepwell{who} is running the daily pass on this database (it holds {})",
                path.display()
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => Err(io(e)),
    }
}

/// The accounts list's health and revenue of `day` (before the day's pass is recorded: it
/// counts as the newest when no later one is).
async fn write_figures(
    tx: &mut Tx,
    backend: crate::Backend,
    reporting: &str,
    accounts: Option<&[i64]>,
    day: NaiveDate,
    out: &Day,
) -> Result<()> {
    // A replay of older days leaves the list's figures, which are today's, alone.
    if !crate::figures::newest(tx, day).await? {
        return Ok(());
    }
    let t = std::time::Instant::now();
    let scope = accounts.map_or(Scope::All, Scope::Accounts);
    let health = out
        .snapshots
        .iter()
        .map(|s| crate::figures::HealthFigure {
            account: s.account,
            score: s.effective,
            band: s.effective_band,
            coverage: s.coverage,
            overridden: s.overridden,
        })
        .collect();
    crate::figures::write_health(tx, backend, scope, day, health).await?;
    match accounts {
        Some(_) => crate::figures::write_revenue(tx, backend, reporting, scope, day).await?,
        None => crate::figures::write_revenue_moved(tx, backend, reporting, day).await?,
    }
    tracing::debug!(%day, figures_ms = t.elapsed().as_millis() as u64, "figures");
    Ok(())
}

/// Writes one day of a pass (of every account, or of `accounts`), replacing what an earlier run
/// of the same day wrote for them.
async fn write_day(
    tx: &mut Tx,
    backend: crate::Backend,
    now: i64,
    plan: &Plan,
    accounts: Option<&[i64]>,
    day: NaiveDate,
    out: &Day,
) -> Result<()> {
    let day_s = day.to_string();
    let scope = accounts.map_or(Scope::All, Scope::Accounts);
    for table in ["health_snapshots", "segment_changes"] {
        let mut sql = Sql::new(&format!("DELETE FROM {table} WHERE day = "));
        sql.bind(Arg::Text(day_s.clone()));
        scope.push(&mut sql, "account_id");
        sql.query().execute(&mut **tx).await?;
    }
    let mut sql = Sql::new("DELETE FROM stage_changes WHERE cause LIKE 'rule:%' AND day = ");
    sql.bind(Arg::Text(day_s.clone()));
    scope.push(&mut sql, "account_id");
    sql.query().execute(&mut **tx).await?;
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
        tx,
        backend,
        "health_snapshots",
        &["account_id", "day", "scorecard_id", "revision", "score", "band", "vals"],
        rows,
    )
    .await?;
    let rows = out
        .membership
        .iter()
        .map(|(segment, account, entered)| {
            vec![Arg::I64(*segment), Arg::I64(*account), Arg::Text(day_s.clone()), Arg::I64(i64::from(*entered))]
        })
        .collect();
    insert_rows(tx, backend, "segment_changes", &["segment_id", "account_id", "day", "entered"], rows).await?;
    write_stage_moves(tx, now, day, out).await?;
    if accounts.is_some() {
        // A pass of some accounts is not the day's pass.
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO daily_passes (day, ran_at, accounts) VALUES ($1, $2, $3) \
         ON CONFLICT (day) DO UPDATE SET ran_at = excluded.ran_at, accounts = excluded.accounts",
    )
    .bind(&day_s)
    .bind(now)
    .bind(out.snapshots.len() as i64)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The webhook deliveries of a day's changes: segments entered and left, and bands in force that
/// changed since the day before (an account first scored that day has no change). Each is an
/// occurrence of its own key, so running the day again sends nothing twice.
async fn emit_day(
    tx: &mut Tx,
    at: i64,
    plan: &Plan,
    (day, out): (NaiveDate, &Day),
    subscribers: &crate::deliveries::Subscribers,
) -> Result<()> {
    if subscribers.want("segment.entered") || subscribers.want("segment.left") {
        let keys: HashMap<i64, &str> = plan.segments.iter().map(|s| (s.id, s.key.as_str())).collect();
        for (segment, account, entered) in &out.membership {
            let event = if *entered { "segment.entered" } else { "segment.left" };
            let key = keys.get(segment).copied().unwrap_or_default();
            let data = serde_json::json!({"segment": key, "account_id": account, "day": day});
            let occurrence = format!("{event}:{segment}:{account}:{day}");
            subscribers.write(tx, at, Some(&occurrence), (event, Some(*account)), &data).await?;
        }
    }
    if subscribers.want("account.stage_changed") {
        emit_stage_moves(tx, at, (day, out), subscribers).await?;
    }
    let Some(before) = day.pred_opt() else { return Ok(()) };
    let rows = sqlx::query("SELECT account_id, band FROM health_snapshots WHERE day = $1")
        .bind(before.to_string())
        .fetch_all(&mut **tx)
        .await?;
    let mut was: HashMap<i64, Option<String>> = HashMap::with_capacity(rows.len());
    for r in &rows {
        was.insert(r.try_get("account_id")?, crate::sql::opt_text(r, "band")?);
    }
    let mut changes = Vec::new();
    for s in &out.snapshots {
        let to = s.effective_band.map(|b| b.as_str());
        let Some(from) = was.get(&s.account) else { continue };
        if from.as_deref() == to {
            continue;
        }
        let data = serde_json::json!({
            "account_id": s.account, "day": day, "from": from, "to": to,
            "score": s.effective.map(|d| d.normalize().to_string()),
        });
        let occurrence =
            format!("health.band_changed:{}:{day}:{}:{}", s.account, from.as_deref().unwrap_or("-"), to.unwrap_or("-"));
        subscribers.write(tx, at, Some(&occurrence), ("health.band_changed", Some(s.account)), &data).await?;
        changes.push(data);
    }
    email_band_changes(tx, at, day, changes).await?;
    Ok(())
}

/// `account.stage_changed` of each stage rule's move of the day, with the cause `rule:KEY` as a
/// person's move says `person`; keyed by account, day and rule, so running the day again sends
/// nothing twice.
async fn emit_stage_moves(
    tx: &mut Tx,
    at: i64,
    (day, out): (NaiveDate, &Day),
    subscribers: &crate::deliveries::Subscribers,
) -> Result<()> {
    for moves in out.stages.chunks(5_000) {
        let list: Vec<String> = moves.iter().map(|m| m.account.to_string()).collect();
        let mut sql = Sql::new("SELECT id, name FROM accounts WHERE id IN ");
        sql.push(&format!("({})", list.join(", ")));
        let names: HashMap<i64, String> = sql
            .query()
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| Ok((r.try_get("id")?, crate::sql::text(r, "name")?)))
            .collect::<Result<_>>()?;
        for m in moves {
            let cause = format!("rule:{}", m.rule);
            let data = serde_json::json!({
                "account_id": m.account, "name": names.get(&m.account), "from": m.from, "to": m.to,
                "cause": cause, "day": day,
            });
            let occurrence = format!("account.stage_changed:{}:{day}:{}", m.account, m.rule);
            subscribers.write(tx, at, Some(&occurrence), ("account.stage_changed", Some(m.account)), &data).await?;
        }
    }
    Ok(())
}

/// An account's owner as the band-change e-mail needs them: id, the account's name, e-mail, name,
/// locale, and whether they want the e-mail.
type OwnerOf = (i64, String, String, String, Option<String>, bool);

/// A notification in each owner's bell for every change, and one e-mail per owner who wants them
/// and day, summing up the band changes of their accounts the day's first pass that found any (a
/// definition change that moves hundreds of bands is one e-mail each, not hundreds).
async fn email_band_changes(tx: &mut Tx, at: i64, day: NaiveDate, changes: Vec<serde_json::Value>) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut by_owner: std::collections::BTreeMap<i64, (serde_json::Value, Vec<serde_json::Value>)> = Default::default();
    for ids in changes.chunks(5_000) {
        let mut sql = Sql::new(
            "SELECT a.id, a.name, u.id AS owner, u.email, u.name AS owner_name, u.locale, \
             COALESCE(n.band_changed, 1) AS by_email FROM accounts a \
             JOIN users u ON u.id = a.owner_id LEFT JOIN notification_settings n ON n.user_id = u.id \
             WHERE u.disabled_at IS NULL AND a.id IN ",
        );
        let list: Vec<String> = ids.iter().filter_map(|c| c["account_id"].as_i64()).map(|i| i.to_string()).collect();
        if list.is_empty() {
            continue;
        }
        sql.push(&format!("({})", list.join(", ")));
        let names: HashMap<i64, OwnerOf> = sql
            .query()
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.try_get("id")?,
                    (
                        r.try_get("owner")?,
                        crate::sql::text(r, "name")?,
                        crate::sql::text(r, "email")?,
                        crate::sql::text(r, "owner_name")?,
                        crate::sql::opt_text(r, "locale")?,
                        r.try_get::<i64, _>("by_email")? != 0,
                    ),
                ))
            })
            .collect::<Result<_>>()?;
        for c in ids {
            let Some((account, (owner, name, email, owner_name, locale, by_email))) =
                c["account_id"].as_i64().and_then(|id| Some((id, names.get(&id)?)))
            else {
                continue;
            };
            // The bell hears of every change of the member's accounts; e-mail only if they want it.
            let occurrence = crate::notifications::band_changed(account, day, &c["from"], &c["to"]);
            let data = serde_json::json!({"account": name, "from": c["from"], "to": c["to"], "day": day});
            let what = ("band_changed", Some(account), None);
            crate::notifications::notify(tx, at, *owner, &occurrence, what, &data).await?;
            if !by_email {
                continue;
            }
            let entry = by_owner.entry(*owner).or_insert_with(|| {
                (serde_json::json!({"id": owner, "email": email, "name": owner_name, "locale": locale}), Vec::new())
            });
            let mut c = c.clone();
            c["name"] = serde_json::Value::from(name.clone());
            entry.1.push(c);
        }
    }
    for (owner, (member, changes)) in by_owner {
        let email = member["email"].as_str().unwrap_or_default().to_owned();
        let fingerprint: Vec<String> =
            changes.iter().map(|c| format!("{}:{}:{}", c["account_id"], c["from"], c["to"])).collect();
        let occurrence = format!("email:band_changed:{owner}:{day}:{}", fingerprint.join(","));
        let only = (changes.len() == 1).then(|| changes[0]["account_id"].as_i64()).flatten();
        let payload = serde_json::json!({"kind": "band_changed", "day": day, "member": member, "changes": changes});
        crate::deliveries::write_email(tx, at, &occurrence, ("health.band_changed", only), &email, &payload).await?;
    }
    Ok(())
}

/// Stage moves of a day: recorded, and the account's stage set unless a later change exists
/// (a replay of the past leaves today's stage alone).
async fn write_stage_moves(tx: &mut Tx, at: i64, day: NaiveDate, out: &Day) -> Result<()> {
    let day_s = day.to_string();
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
