//! The accounts list's figures: per account, what the list shows and sorts by (MRR and ARR,
//! the next renewal, the last day of usage, the health in force with its coverage, the owner),
//! stored with an index each (`account_figures`, migration 0024).
//!
//! Who keeps them current: the owner's name and the last day of usage by database triggers on
//! every write of those; revenue by every billing write (as of the write's day) and by the daily
//! pass of the newest day (time moves periods in and out of force); health by that pass and by
//! a score override set or ended.

use crate::health::Scope;
use crate::sql::{fetch_json_rows, json_rows, opt_text, upsert_rows, Arg, Sql};
use crate::{get_opt_i64, Backend, Result, StoreError, Tx};
use chrono::NaiveDate;
use keepwell_core::billing::{Contract, Period};
use keepwell_core::health::Band;
use keepwell_core::metrics::FxTable;
use keepwell_core::money::{self, Month};
use keepwell_core::renewal::Converter;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::Row;
use std::collections::HashMap;
use std::str::FromStr;

/// "No renewal": sorts after every date.
const NO_RENEWAL: &str = "9999-12-31";

/// What the accounts list shows of an account beside its profile.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// The currency of `mrr` and `arr`: the account's own.
    pub currency: Option<String>,
    #[schema(value_type = Option<String>, example = "1250.00")]
    pub mrr: Option<String>,
    /// 12 × MRR.
    #[schema(value_type = Option<String>, example = "15000.00")]
    pub arr: Option<String>,
    /// MRR in the reporting currency (what the list sorts by), null without a rate to convert it.
    #[schema(value_type = Option<String>, example = "1375.00")]
    pub mrr_reporting: Option<String>,
    /// The next renewal of what is in force.
    pub renews_on: Option<NaiveDate>,
    /// The last day any usage event reached the account.
    pub last_active_on: Option<NaiveDate>,
    /// The score in force, 0–100 (a JSON number, as the health API gives it).
    #[schema(value_type = Option<f64>, example = 72.5)]
    #[serde(serialize_with = "as_number")]
    pub score: Option<Decimal>,
    /// `red`, `yellow`, `green`, `unscored` or `churned`.
    pub band: Option<String>,
    /// Percent of the applicable measures' weight with data.
    #[schema(value_type = Option<f64>, example = 80)]
    #[serde(serialize_with = "as_number")]
    pub coverage: Option<Decimal>,
    /// A person's override is in force.
    pub overridden: bool,
}

fn as_number<S: serde::Serializer>(d: &Option<Decimal>, s: S) -> std::result::Result<S::Ok, S::Error> {
    match d.and_then(|d| d.to_f64()) {
        Some(f) => s.serialize_f64(f),
        None => s.serialize_none(),
    }
}

/// The figures' columns as a list reads them, in [`Stored`]'s order.
pub(crate) const COLS: [&str; 9] = [
    "f.currency",
    "f.mrr",
    "f.mrr_key",
    "f.renews_on",
    "f.last_active",
    "f.score_key",
    "f.band",
    "f.coverage_key",
    "f.overridden",
];

/// An account's figures as stored: currency, MRR, its key, renewal, last active day, score key,
/// band, coverage key, overridden.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Stored(Option<String>, Option<String>, i64, String, i64, i64, Option<String>, i64, i64);

fn key(k: i64) -> Option<i64> {
    (k >= 0).then_some(k)
}

impl Stored {
    pub(crate) fn figures(self) -> Result<Figures> {
        let Stored(currency, mrr, mrr_key, renews_on, last_active, score_key, band, coverage_key, overridden) = self;
        let mrr = mrr
            .map(|m| Decimal::from_str(&m).map_err(|_| StoreError::Corrupt("account_figures.mrr".into())))
            .transpose()?;
        Ok(Figures {
            currency,
            mrr: mrr.map(money::format),
            arr: mrr.map(|m| money::format(m * Decimal::from(12))),
            mrr_reporting: key(mrr_key).map(|c| money::format(Decimal::new(c, 2))),
            renews_on: (renews_on != NO_RENEWAL).then(|| NaiveDate::from_str(&renews_on).ok()).flatten(),
            last_active_on: key(last_active).and_then(keepwell_core::facts::date_of_number),
            score: key(score_key).map(|s| Decimal::new(s, 2).normalize()),
            band,
            coverage: key(coverage_key).map(|c| Decimal::new(c, 2).normalize()),
            overridden: overridden != 0,
        })
    }
}

/// × 100, rounded, as a sort key (-1: none).
fn hundredths(d: Option<Decimal>) -> i64 {
    d.and_then(|d| (d * Decimal::from(100)).round().to_i64()).unwrap_or(-1)
}

/// One account's health as the list keeps it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HealthFigure {
    pub account: i64,
    pub score: Option<Decimal>,
    pub band: Option<Band>,
    pub coverage: Option<Decimal>,
    pub overridden: bool,
}

/// Writes the health of `day`'s pass for the accounts of `scope` (`rows`: those it scored; the
/// others have none); the caller knows that pass is the newest. Only what changed is written.
pub(crate) async fn write_health(
    tx: &mut Tx,
    backend: Backend,
    scope: Scope<'_>,
    day: NaiveDate,
    rows: Vec<HealthFigure>,
) -> Result<()> {
    let scored: HashMap<i64, (i64, Option<&'static str>, i64, i64)> = rows
        .iter()
        .map(|h| {
            (
                h.account,
                (hundredths(h.score), h.band.map(Band::as_str), hundredths(h.coverage), i64::from(h.overridden)),
            )
        })
        .collect();
    let mut current = Sql::new(
        "SELECT account_id, health_on, score_key, band, coverage_key, overridden FROM account_figures WHERE 1 = 1",
    );
    scope.push(&mut current, "account_id");
    let day = day.to_string();
    let mut changed = Vec::new();
    for r in current.query().fetch_all(&mut **tx).await? {
        let account: i64 = r.try_get("account_id")?;
        let (score, band, coverage, overridden) = scored.get(&account).copied().unwrap_or((-1, None, -1, 0));
        let same = opt_text(&r, "health_on")?.is_some()
            && get_opt_i64(&r, "score_key")? == Some(score)
            && opt_text(&r, "band")?.as_deref() == band
            && get_opt_i64(&r, "coverage_key")? == Some(coverage)
            && get_opt_i64(&r, "overridden")? == Some(overridden);
        if !same {
            changed.push(vec![
                Arg::I64(account),
                Arg::Text(day.clone()),
                Arg::I64(score),
                Arg::MaybeText(band.map(str::to_owned)),
                Arg::I64(coverage),
                Arg::I64(overridden),
            ]);
        }
    }
    write_changed(tx, backend, &["health_on", "score_key", "band", "coverage_key", "overridden"], changed).await
}

/// Writes `rows` (the account id, then `columns`) over the accounts' figures.
async fn write_changed(tx: &mut Tx, backend: Backend, columns: &[&str], rows: Vec<Vec<Arg>>) -> Result<()> {
    let all: Vec<&str> = std::iter::once("account_id").chain(columns.iter().copied()).collect();
    let set: Vec<String> = columns.iter().map(|c| format!("{c} = excluded.{c}")).collect();
    let clause = format!(" ON CONFLICT (account_id) DO UPDATE SET {}", set.join(", "));
    upsert_rows(tx, backend, "account_figures", &all, rows, &clause).await?;
    Ok(())
}

/// Is `day` the newest day the daily pass has run for (or the first)?
pub(crate) async fn newest(tx: &mut Tx, day: NaiveDate) -> Result<bool> {
    let last: Option<String> =
        sqlx::query("SELECT MAX(day) AS d FROM daily_passes").fetch_one(&mut **tx).await?.try_get("d")?;
    Ok(last.is_none_or(|l| l.as_str() <= day.to_string().as_str()))
}

type Reckoned = (Option<String>, Option<Decimal>, i64, String);

/// Reckons the revenue figures of `scope` as of `day` from their subscription periods, in the
/// reporting currency at the rate of `day`'s month (the latest before it when it has none), and
/// writes those that changed.
pub(crate) async fn write_revenue(
    tx: &mut Tx,
    backend: Backend,
    reporting: &str,
    scope: Scope<'_>,
    day: NaiveDate,
) -> Result<()> {
    let mut periods_sql = json_rows(
        backend,
        "account_id, subscription_id, plan, quantity, currency, amount, billing_interval, starts_on, ends_on, renews_on, payment_terms, term_months",
        "FROM subscription_periods WHERE starts_on <= ",
    );
    periods_sql.bind(Arg::Text(day.to_string()));
    scope.push(&mut periods_sql, "account_id");
    let rows: Vec<crate::health::PeriodRow> = fetch_json_rows(&periods_sql, &mut **tx).await?;
    let mut periods: HashMap<i64, Vec<Period>> = HashMap::new();
    for row in rows {
        let (account, period) = crate::health::period_of(row)?;
        periods.entry(account).or_default().push(period);
    }
    let fx: FxTable = crate::billing::fx_table_in(tx).await?;
    let rates = Converter::new(&fx, reporting, Month::of(day));
    let reckon = |ps: Option<&Vec<Period>>| -> Reckoned {
        let refs: Vec<&Period> = ps.map(|ps| ps.iter().collect()).unwrap_or_default();
        let c = Contract::as_of(&refs, day);
        let Some(currency) = c.currency else { return (None, None, -1, NO_RENEWAL.to_owned()) };
        let cents =
            rates.rate(&currency, Month::of(day)).map_or(-1, |r| hundredths(Some((c.mrr * r.rate).round_dp(2))));
        (Some(currency), Some(c.mrr), cents, c.next_renewal.map_or_else(|| NO_RENEWAL.to_owned(), |d| d.to_string()))
    };
    let mut current =
        Sql::new("SELECT account_id, revenue_on, currency, mrr, mrr_key, renews_on FROM account_figures WHERE 1 = 1");
    scope.push(&mut current, "account_id");
    let day_s = day.to_string();
    let mut changed = Vec::new();
    for r in current.query().fetch_all(&mut **tx).await? {
        let account: i64 = r.try_get("account_id")?;
        let (currency, mrr, cents, renews) = reckon(periods.get(&account));
        let stored_mrr = opt_text(&r, "mrr")?.and_then(|m| Decimal::from_str(&m).ok());
        // `revenue_on` is the day the figures last changed: an unchanged day writes nothing.
        let same = opt_text(&r, "revenue_on")?.is_some()
            && opt_text(&r, "currency")? == currency
            && stored_mrr == mrr
            && get_opt_i64(&r, "mrr_key")? == Some(cents)
            && opt_text(&r, "renews_on")?.as_deref() == Some(renews.as_str());
        if !same {
            changed.push(vec![
                Arg::I64(account),
                Arg::Text(day_s.clone()),
                Arg::MaybeText(currency),
                Arg::MaybeText(mrr.map(|m| m.normalize().to_string())),
                Arg::I64(cents),
                Arg::Text(renews),
            ]);
        }
    }
    write_changed(tx, backend, &["revenue_on", "currency", "mrr", "mrr_key", "renews_on"], changed).await
}

/// After a billing write: the revenue figures of `accounts` (all: `None`) as of the write's day.
pub(crate) async fn revenue_changed(w: &mut crate::Write, accounts: Option<&[i64]>) -> Result<()> {
    let (day, reporting) = (w.day(), w.reporting.clone());
    let scope = accounts.map_or(Scope::All, Scope::Accounts);
    write_revenue(&mut w.tx, w.backend, &reporting, scope, day).await
}

/// The daily pass's revenue figures of `day` for every account: only those whose periods
/// started or ended since the last reckoning, whose renewal has passed, or that were never
/// reckoned — every account when none was made, or in a new month (its FX rate).
pub(crate) async fn write_revenue_moved(tx: &mut Tx, backend: Backend, reporting: &str, day: NaiveDate) -> Result<()> {
    let row = sqlx::query("SELECT day, currency FROM account_figures_reckoned WHERE id = 1")
        .fetch_optional(&mut **tx)
        .await?;
    let last = match row {
        // Reckoned in another reporting currency: every key is in the wrong money.
        Some(r) if crate::sql::text(&r, "currency")? == reporting => {
            NaiveDate::from_str(&crate::sql::text(&r, "day")?).ok()
        }
        _ => None,
    };
    match last {
        Some(last) if last == day => {}
        Some(last) if last < day && Month::of(last) == Month::of(day) => {
            let (from, to) = (last.to_string(), day.to_string());
            let rows = sqlx::query(
                "SELECT DISTINCT account_id FROM subscription_periods WHERE (starts_on > $1 AND starts_on <= $2) \
                 OR (ends_on > $1 AND ends_on <= $2) \
                 UNION SELECT account_id FROM account_figures WHERE renews_on < $2 OR revenue_on IS NULL",
            )
            .bind(&from)
            .bind(&to)
            .fetch_all(&mut **tx)
            .await?;
            let ids: Vec<i64> = rows.iter().map(|r| r.try_get(0)).collect::<std::result::Result<_, _>>()?;
            for chunk in ids.chunks(5_000) {
                write_revenue(tx, backend, reporting, Scope::Accounts(chunk), day).await?;
            }
        }
        _ => write_revenue(tx, backend, reporting, Scope::All, day).await?,
    }
    if last.is_none_or(|l| l < day) {
        reckoned(tx, day, reporting).await?;
    }
    Ok(())
}

/// Records that every account's revenue figures are reckoned as of `day`.
async fn reckoned(tx: &mut Tx, day: NaiveDate, reporting: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO account_figures_reckoned (id, day, currency) VALUES (1, $1, $2) \
         ON CONFLICT (id) DO UPDATE SET day = excluded.day, currency = excluded.currency",
    )
    .bind(day.to_string())
    .bind(reporting)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Reckons every account's figures afresh: revenue as of `day`, health from the newest pass.
/// For a restored backup and a workspace whose figures were never reckoned (an upgrade).
pub(crate) async fn refresh_all(tx: &mut Tx, backend: Backend, reporting: &str, day: NaiveDate) -> Result<()> {
    write_revenue(tx, backend, reporting, Scope::All, day).await?;
    reckoned(tx, day, reporting).await?;
    let last: Option<String> =
        sqlx::query("SELECT MAX(day) AS d FROM daily_passes").fetch_one(&mut **tx).await?.try_get("d")?;
    let Some(last) = last.and_then(|d| NaiveDate::from_str(&d).ok()) else { return Ok(()) };
    let health = crate::health::health_in_force(tx, last, Scope::All)
        .await?
        .into_iter()
        .map(|h| HealthFigure {
            account: h.account,
            score: h.score,
            band: h.band,
            coverage: h.coverage,
            overridden: h.overridden,
        })
        .collect();
    write_health(tx, backend, Scope::All, last, health).await
}

impl crate::Store {
    /// Reckons the accounts list's figures when they never were (a workspace upgraded to the
    /// release that keeps them): at start, before anything reads them.
    pub async fn reckon_figures_once(&self) -> Result<bool> {
        let mut w = self.write(&crate::Actor::system("figures")).await?;
        let pending = sqlx::query(
            "SELECT 1 FROM accounts WHERE NOT EXISTS (SELECT 1 FROM account_figures WHERE revenue_on IS NOT NULL) LIMIT 1",
        )
        .fetch_optional(&mut *w.tx)
        .await?
        .is_some();
        if pending {
            let (day, reporting) = (w.day(), w.reporting.clone());
            refresh_all(&mut w.tx, w.backend, &reporting, day).await?;
            w.commit().await?;
        }
        Ok(pending)
    }
}
