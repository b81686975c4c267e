//! `keepwell tick`, `replay`, `apply` and `export`: the daily pass run by hand, and definitions
//! as code.

use anyhow::{anyhow, Context};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use keepwell_core::definitions::Definitions;
use keepwell_server::cause::Caller;
use keepwell_server::daily::{self, PassDays, Passed};
use keepwell_server::jobs;
use keepwell_server::refused::Refused;
use keepwell_store::jobs::Outcome;
use keepwell_store::usage::EventWriter;
use keepwell_store::{Clock, Store};
use std::path::Path;
use std::time::Duration;

/// An instant as `tick --as-of` takes it: RFC 3339, or a date (its end, 23:59:59 UTC).
pub fn parse_instant(raw: &str) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.to_utc());
    }
    let day = keepwell_core::money::date(raw)
        .map_err(|_| anyhow!("--as-of: {raw:?} is neither an RFC 3339 instant nor a date (YYYY-MM-DD)"))?;
    Ok(day.and_hms_opt(23, 59, 59).unwrap_or_default().and_utc())
}

pub fn parse_day(flag: &str, raw: &str) -> anyhow::Result<NaiveDate> {
    keepwell_core::money::date(raw).map_err(|e| anyhow!("{flag}: {e}"))
}

/// How long `tick` and `replay` wait for a pass another process is running.
const WAIT_FOR_PASS: Duration = Duration::from_secs(120);

/// `keepwell tick`: usage not yet rolled up folded, then the pass of every day since the last
/// one through `at`'s day (a year at most), as the server's timer runs it, with the store's clock
/// set to `at`. An instant after tomorrow is refused: the days after today have not happened.
pub async fn tick(store: &Store, reporting: &str, at: DateTime<Utc>) -> anyhow::Result<String> {
    let tomorrow = store.clock().today() + chrono::Days::new(1);
    if at.date_naive() > tomorrow {
        return Err(anyhow!(
            "--as-of {} is in the future: a tick runs up to today ({})",
            at.date_naive(),
            tomorrow.pred_opt().unwrap_or(tomorrow)
        ));
    }
    let passer = store.clone().with_clock(Clock::fixed(at));
    EventWriter::new(passer.clone()).fold().await.context("cannot roll up usage")?;
    let mut days: Vec<(NaiveDate, String)> = Vec::new();
    let mut left = None;
    let bar = days_bar("ticking", None);
    let day = at.date_naive();
    // Through the job queue: a tick beside another for the same day (or a server's pass of it)
    // runs one pass between them.
    let key = jobs::pass_key(day);
    let ran = jobs::run_or_wait(store, (jobs::DAILY_PASS, &key, false), serde_json::json!({ "day": day }), |_| async {
        let passed = daily::run(&passer, reporting, PassDays::CatchUpTo(day), WAIT_FOR_PASS, |d, out| {
            days.push((
                d,
                format!(
                    "{d}: scored {} accounts, {} segment changes, {} stage changes",
                    out.snapshots.len(),
                    out.membership.len(),
                    out.stages.len()
                ),
            ));
            bar.set_message(d.to_string());
            bar.inc(1);
        })
        .await;
        left = held(passed?)?;
        Ok(())
    })
    .await;
    bar.finish_and_clear();
    match ran? {
        jobs::Ran::Here(Outcome::Done) => {}
        jobs::Ran::Elsewhere(id, Outcome::Done) => {
            return Ok(format!("{day}: run by another process at the same time (job {id}); nothing more to do"))
        }
        jobs::Ran::Here(Outcome::RetryAt(_, e) | Outcome::Dead(e)) => return Err(anyhow!("{e}")),
        jobs::Ran::Elsewhere(id, Outcome::RetryAt(_, e) | Outcome::Dead(e)) => {
            return Err(anyhow!("the pass of {day} failed in another process (job {id}): {e}"))
        }
    }
    // A long catch-up names its first days in one line, then the last week day by day.
    let mut lines: Vec<String> = Vec::new();
    if let Some((first, last)) = left {
        lines.push(format!(
            "{first} to {last}: not run, more than {} days before {}: keepwell replay --from {first} --to {last} runs them",
            daily::MAX_CATCH_UP_DAYS,
            at.date_naive()
        ));
    }
    let shown = days.len().saturating_sub(7);
    if shown > 0 {
        lines.push(format!("{} to {}: {shown} days caught up", days[0].0, days[shown - 1].0));
    }
    lines.extend(days.into_iter().skip(shown).map(|(_, line)| line));
    Ok(lines.join("\n"))
}

/// A progress bar over days (a count when how many is not known beforehand); drawn only on a
/// terminal.
fn days_bar(verb: &str, len: Option<u64>) -> ProgressBar {
    let (bar, template) = match len {
        Some(n) => (ProgressBar::new(n), format!("{verb} [{{bar:40}}] {{pos}}/{{len}} days ({{eta}}) {{msg}}")),
        None => (ProgressBar::no_length(), format!("{verb}: {{pos}} days {{msg}}")),
    };
    bar.set_style(ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar
}

/// The days a catch-up left, or an error saying who runs the pass when another process does.
fn held(passed: Passed) -> anyhow::Result<Option<(NaiveDate, NaiveDate)>> {
    match passed {
        Passed::Ran { left, .. } => Ok(left),
        Passed::HeldBy(who) => {
            Err(anyhow!("{who}; waited {} s: run this again when it has finished", WAIT_FOR_PASS.as_secs()))
        }
    }
}

/// The daily pass for every day from `from` to `to`, oldest first, with a progress bar.
pub async fn replay(
    store: &Store,
    reporting: &str,
    from: NaiveDate,
    to: NaiveDate,
    dry_run: bool,
) -> anyhow::Result<String> {
    if from > to {
        return Err(anyhow!("--from {from} is after --to {to}"));
    }
    EventWriter::new(store.clone()).fold().await.context("cannot roll up usage")?;
    if dry_run {
        return dry_replay(store, reporting, from, to).await;
    }
    let bar = days_bar("replaying", Some(((to - from).num_days() + 1) as u64));
    let (mut snapshots, mut changes, mut moves) = (0usize, 0usize, 0usize);
    let t0 = std::time::Instant::now();
    let passed = daily::run(store, reporting, PassDays::Range(from, to), WAIT_FOR_PASS, |d, out| {
        snapshots += out.snapshots.len();
        changes += out.membership.len();
        moves += out.stages.len();
        bar.set_message(d.to_string());
        bar.inc(1);
    })
    .await;
    bar.finish_and_clear();
    held(passed?)?;
    Ok(format!(
        "replayed {} days from {from} to {to} in {:.1} s: {snapshots} snapshots, {changes} segment changes, {moves} stage changes",
        (to - from).num_days() + 1,
        t0.elapsed().as_secs_f64()
    ))
}

/// `replay --dry-run`: rewrites nothing; records what each enabled playbook would have done over
/// the days (as if switched on at the start of `from`), apart from what playbooks did.
async fn dry_replay(store: &Store, reporting: &str, from: NaiveDate, to: NaiveDate) -> anyhow::Result<String> {
    let caller = Caller::system("cli");
    let mut lines = vec![format!(
        "dry run: would replay {} days from {from} to {to}; nothing was rewritten or acted on",
        (to - from).num_days() + 1
    )];
    let enabled: Vec<_> = store.playbooks().await?.into_iter().filter(|p| p.enabled).collect();
    if enabled.is_empty() {
        lines.push("no playbook is enabled, so none would act".into());
    }
    for p in enabled {
        let sim =
            keepwell_server::playbooks::simulate(store, &caller, reporting, (&p.key, false), (from, to), "existing")
                .await
                .map_err(|e| anyhow!("playbook {}: {e}", p.key))?;
        lines.push(format!(
            "playbook {} (version {}): would fire {} times for {} accounts and close tasks {} times (simulation {})",
            p.key,
            sim.version,
            sim.fires,
            sim.accounts,
            sim.total - sim.fires,
            sim.id
        ));
    }
    Ok(lines.join("\n"))
}

/// `keepwell apply FILE.toml`: every definition of the file, or none; then today's pass again.
pub async fn apply(
    store: &Store,
    caller: &Caller,
    path: &Path,
    dry_run: bool,
    reporting: &str,
) -> anyhow::Result<String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?;
    let defs = Definitions::from_toml(&text).map_err(|e| anyhow!("{name}: {e}"))?;
    let changes = match keepwell_server::definitions::apply(store, caller, &defs, dry_run, reporting).await {
        Ok(c) => c,
        Err(Refused::Invalid(invalid)) => {
            let first = &invalid.errors[0];
            let more = match invalid.errors.len() {
                1 => String::new(),
                n => format!(" (and {} more)", n - 1),
            };
            return Err(anyhow!("{name}: {}: {}{more}; nothing was applied", first.field, first.message));
        }
        Err(e) => return Err(anyhow!("{name}: {e}; nothing was applied")),
    };
    let mut lines: Vec<String> = changes.iter().map(|c| format!("{} {} {}", c.kind, c.key, c.action)).collect();
    let changed = changes.iter().filter(|c| c.action != "unchanged").count();
    lines.push(format!("{}{changed} of {} definitions changed", if dry_run { "dry run: " } else { "" }, changes.len()));
    if changed > 0 && !dry_run {
        // Membership, stages and scores follow the new definitions at once, as in the UI.
        lines.push(format!("today's pass: {}", tick(store, reporting, store.clock().now()).await?));
    }
    Ok(lines.join("\n"))
}

/// `keepwell export [KIND]`: the definitions as `apply` reads them.
pub async fn export(store: &Store, kind: Option<&str>) -> anyhow::Result<String> {
    let mut defs = store.definitions().await?;
    match kind {
        None => {}
        Some("segments" | "segment") => defs = Definitions { segments: defs.segments, ..Definitions::default() },
        Some("lifecycle_rules" | "lifecycle_rule") => {
            defs = Definitions { lifecycle_rules: defs.lifecycle_rules, ..Definitions::default() }
        }
        Some("scorecards" | "scorecard") => {
            defs = Definitions { scorecards: defs.scorecards, ..Definitions::default() }
        }
        Some("playbooks" | "playbook") => defs = Definitions { playbooks: defs.playbooks, ..Definitions::default() },
        Some(other) => {
            return Err(anyhow!(
                "cannot export {other:?}: this version has segments, lifecycle_rules, scorecards and playbooks \
                 (surveys and onboarding templates come with their features)"
            ))
        }
    }
    Ok(defs.to_toml())
}
