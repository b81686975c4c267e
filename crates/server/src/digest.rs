//! The weekly digest: each member who asked for it is sent, once per ISO week, a summary of their
//! book at Monday 08:00 in their time zone — accounts by band, the band changes of the past week,
//! the contract renewals of the next 90 days. A node that was down on Monday sends it when it
//! comes back, within the same week. The job worker asks for each member's digest once the hour
//! has passed (a job keyed by member and week, so every node asks for it and it runs once); the
//! job writes the e-mail to the outbox, keyed the same way, so a job run twice still sends one.

use crate::cause::Caller;
use crate::renewals;
use crate::state::AppState;
use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use keepwell_core::health::Band;
use keepwell_core::renewal::Terms;
use keepwell_store::billing::RenewalFilter;
use keepwell_store::Store;
use serde_json::json;

/// The job kind; its payload is `{"user": 7, "week": "2026-W49"}`.
pub const WEEKLY_DIGEST: &str = "weekly_digest";

/// The local hour on Monday from which the week's digest is due.
const HOUR: u32 = 8;

/// Band changes listed in one e-mail; the rest are counted.
const MAX_CHANGES: usize = 50;

/// Renewals listed in one e-mail, soonest first; the rest are counted in the totals.
const MAX_RENEWALS: usize = 20;

/// The ISO week (`2026-W49`) whose digest is due at `now` for a member in `time_zone`: the week
/// of their local date, once it is past Monday 08:00 there; none before that on a Monday (last
/// week's was due already). An unknown zone counts as UTC.
pub fn due_week(now: DateTime<Utc>, time_zone: &str) -> Option<String> {
    let tz: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
    let local = now.with_timezone(&tz);
    if local.weekday() == chrono::Weekday::Mon && local.hour() < HOUR {
        return None;
    }
    let week = local.iso_week();
    Some(format!("{}-W{:02}", week.year(), week.week()))
}

fn job_key(user: i64, week: &str) -> String {
    format!("{WEEKLY_DIGEST}:{user}:{week}")
}

/// Asks for every digest due at the store's time that was not asked for yet.
pub async fn ask(store: &Store) -> anyhow::Result<usize> {
    let now = store.clock().now();
    let mut asked = 0;
    for s in store.digest_subscribers().await? {
        let Some(week) = due_week(now, &s.time_zone) else { continue };
        let key = job_key(s.user, &week);
        if store.jobs(Some(&key), 1).await?.is_empty() {
            let at = now.timestamp_micros();
            store.enqueue_job(WEEKLY_DIGEST, &key, &json!({"user": s.user, "week": week}), at, at).await?;
            asked += 1;
        }
    }
    Ok(asked)
}

/// The member's own date at `now` in `time_zone` (an unknown zone counts as UTC): what their
/// digest is as of.
pub fn local_day(now: DateTime<Utc>, time_zone: &str) -> NaiveDate {
    let tz: chrono_tz::Tz = time_zone.parse().unwrap_or(chrono_tz::UTC);
    now.with_timezone(&tz).date_naive()
}

/// Runs one digest job at `now`: writes `user`'s digest of `week` to the outbox, as of the
/// member's local date (Monday morning in Tokyo is still Sunday in UTC). Nothing is written for
/// a member who was disabled or turned the digest off meanwhile.
pub async fn run(state: &AppState, payload: &serde_json::Value, now: DateTime<Utc>) -> anyhow::Result<()> {
    let (Some(user), Some(week)) = (payload["user"].as_i64(), payload["week"].as_str()) else {
        anyhow::bail!("the job names no member and week: {payload}");
    };
    let store = &state.store;
    let Some(member) = store.user(user).await?.filter(|u| !u.disabled) else { return Ok(()) };
    let settings = store.notification_settings(user).await?;
    if !settings.weekly_digest {
        return Ok(());
    }
    let as_of = local_day(now, &settings.time_zone);
    let content = content(state, Some(user), as_of).await?;
    let mut payload = json!({
        "kind": "weekly_digest", "week": week, "as_of": as_of,
        "member": {"id": member.id, "email": member.email, "name": member.name, "locale": member.locale},
    });
    payload.as_object_mut().expect("an object").extend(content);
    Caller::system("weekly digest")
        .decide(store, async |w| keepwell_store::digest::queue_digest(w, (user, week), &member.email, &payload).await)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))
}

/// What a member's digest (and the home page of a book) says as of `as_of`: `book` (accounts by
/// band, as of `pass`), `changes` over the week before, `renewals` due within 90 days and their
/// `renewal_totals`. With no member, the whole team's.
pub async fn content(
    state: &AppState,
    user: Option<i64>,
    as_of: NaiveDate,
) -> crate::error::ApiResult<serde_json::Map<String, serde_json::Value>> {
    let filter = RenewalFilter {
        due_from: Some(as_of),
        due_to: Some(as_of + chrono::Days::new(90)),
        owner: user.map(Some),
        account_id: None,
        decided: Some(false),
        as_of,
        terms: Terms::Contract,
        contract_months: state.settings.contract_months,
        limit: 5000,
    };
    // The book and its renewals side by side: each reads a seek or two per account.
    let book = async { Ok(state.store.book(user, as_of).await?) };
    let (book, list) = tokio::try_join!(book, renewals::upcoming_listed(state, &filter, as_of))?;
    // No snapshot and an unscored one say the same: no score.
    let band = |b: Option<Band>| b.unwrap_or(Band::Unscored);
    let count = |b: Band| book.accounts.iter().filter(|a| band(a.band) == b).count();
    let mut changes: Vec<serde_json::Value> = Vec::new();
    if book.week_before.is_some() {
        // Worse news first: into red, then into yellow, then the rest.
        let mut moved: Vec<_> = book.accounts.iter().filter(|a| band(a.band) != band(a.was)).collect();
        moved.sort_by_key(|a| match band(a.band) {
            Band::Red => 0,
            Band::Yellow => 1,
            Band::Green => 2,
            Band::Unscored | Band::Churned => 3,
        });
        changes = moved
            .iter()
            .map(|a| {
                json!({"account_id": a.account, "name": a.name, "from": band(a.was).as_str(), "to": band(a.band).as_str()})
            })
            .collect();
    }
    let more_changes = changes.len().saturating_sub(MAX_CHANGES);
    changes.truncate(MAX_CHANGES);
    let renewals: Vec<serde_json::Value> = list
        .data
        .iter()
        .take(MAX_RENEWALS)
        .map(|r| {
            json!({"account_id": r.account_id, "name": r.account_name, "due_on": r.due_on, "days_until": r.days_until,
                   "arr": r.arr, "currency": r.currency, "reporting_arr": r.reporting_arr})
        })
        .collect();
    let out = json!({
        "book": {"accounts": book.accounts.len(), "green": count(Band::Green), "yellow": count(Band::Yellow),
                 "red": count(Band::Red), "unscored": count(Band::Unscored) + count(Band::Churned)},
        "pass": book.pass, "week_before": book.week_before,
        "changes": changes, "more_changes": more_changes,
        "renewals": renewals, "renewal_totals": list.totals,
    });
    Ok(out.as_object().cloned().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_week_is_due_from_monday_eight_in_the_members_zone() {
        // Monday 2026-11-30 06:59 UTC is 07:59 in Berlin: not yet; 07:00 UTC is 08:00 there.
        let at = |h, m| Utc.with_ymd_and_hms(2026, 11, 30, h, m, 0).unwrap();
        assert_eq!(due_week(at(6, 59), "Europe/Berlin"), None);
        assert_eq!(due_week(at(7, 0), "Europe/Berlin").as_deref(), Some("2026-W49"));
        // In New York it is 02:00; in Honolulu still Sunday night: last week's digest, due since
        // last Monday.
        assert_eq!(due_week(at(7, 0), "America/New_York"), None);
        assert_eq!(due_week(at(13, 0), "America/New_York").as_deref(), Some("2026-W49"));
        assert_eq!(due_week(at(7, 0), "Pacific/Honolulu").as_deref(), Some("2026-W48"));
        // Later in the week it is still this week's (a node down on Monday catches up).
        assert_eq!(due_week(Utc.with_ymd_and_hms(2026, 12, 3, 12, 0, 0).unwrap(), "UTC").as_deref(), Some("2026-W49"));
        // An unknown zone counts as UTC; ISO weeks cross the year.
        assert_eq!(due_week(at(7, 59), "Mars/Olympus"), None);
        assert_eq!(due_week(Utc.with_ymd_and_hms(2027, 1, 1, 9, 0, 0).unwrap(), "UTC").as_deref(), Some("2026-W53"));
    }

    #[test]
    fn a_digest_is_as_of_the_members_own_date() {
        // Monday 08:30 in Tokyo is Sunday 23:30 UTC: the book as of Monday, not Sunday.
        let now = Utc.with_ymd_and_hms(2026, 11, 29, 23, 30, 0).unwrap();
        assert_eq!(local_day(now, "Asia/Tokyo"), NaiveDate::from_ymd_opt(2026, 11, 30).unwrap());
        assert_eq!(local_day(now, "UTC"), NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
        assert_eq!(local_day(now, "Mars/Olympus"), NaiveDate::from_ymd_opt(2026, 11, 29).unwrap());
    }
}
