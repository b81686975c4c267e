//! `keepwell import accounts|contacts FILE`: CSV in, all or nothing. Every row is checked before
//! anything is written; the first problem is reported with its line and column, and nothing lands.
//! Usage history (`import events`) is the submodule `events`.

mod events;

use anyhow::{anyhow, Context};
use indicatif::{ProgressBar, ProgressStyle};
use keepwell_core::import::{parse_mapping, ColumnPlan, ImportKind};
use keepwell_core::Invalid;
use keepwell_server::cause::Caller;
use keepwell_store::import::RowError;
use keepwell_store::{Store, StoreError};
use std::path::{Path, PathBuf};

#[derive(clap::Args)]
pub struct ImportArgs {
    /// What the file holds: accounts, contacts, subscriptions, invoices, fx_rates, interactions or
    /// events.
    kind: String,
    /// A CSV file with a header row. For events, one or more files (`archive/*.gz`), each NDJSON
    /// in Segment's format (one call per line) or CSV timestamp,account_external_id,user_id,
    /// event[,properties_json], gzipped or not.
    #[arg(required = true, num_args = 1..)]
    files: Vec<PathBuf>,
    /// Check everything, write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Rename a column: "Company name=name". "Column=" ignores it. Repeatable.
    #[arg(long = "map", value_name = "SOURCE=FIELD")]
    map: Vec<String>,
}

impl ImportArgs {
    /// An import of `file` as `kind`, for the benchmarks.
    pub fn new(kind: &str, file: PathBuf) -> ImportArgs {
        ImportArgs { kind: kind.into(), files: vec![file], dry_run: false, map: Vec::new() }
    }
}

/// A file read into records, with the line each starts on.
pub struct Records {
    pub headers: Vec<String>,
    pub rows: Vec<(u64, Vec<String>)>,
}

pub fn read_csv(path: &Path) -> anyhow::Result<Records> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut reader = csv::ReaderBuilder::new().flexible(false).from_reader(std::io::BufReader::new(file));
    let name = path.display();
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| anyhow!("{name}: line 1: {}", csv_message(&e)))?
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').trim().to_owned())
        .collect();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or_default();
            anyhow!("{name}: line {line}: {}", csv_message(&e))
        })?;
        let line = record.position().map(|p| p.line()).unwrap_or_default();
        rows.push((line, record.iter().map(str::to_owned).collect()));
    }
    Ok(Records { headers, rows })
}

pub(crate) fn csv_message(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields but the header row has {expected_len}; quote values that contain commas")
        }
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text; save the file as UTF-8".into(),
        _ => e.to_string(),
    }
}

/// Describes an invalid row: "line 7, column 3 (Website): …".
/// `failed_rows` is how many rows have problems (this one included).
fn row_message(name: &str, line: u64, plan: &ColumnPlan, e: &Invalid, failed_rows: usize) -> String {
    let first = &e.errors[0];
    let place = match plan.column_of(&first.field) {
        Some((col, header)) => format!("line {line}, column {col} ({header})"),
        None => format!("line {line}, {}", first.field),
    };
    let more = e.errors.len() - 1;
    let mut tail = Vec::new();
    if more > 0 {
        tail.push(format!("and {more} more problem(s)"));
    }
    if failed_rows > 1 {
        tail.push(format!("{failed_rows} rows have problems"));
    }
    tail.push("nothing was imported".into());
    format!("{name}: {place}: {} ({})", first.message, tail.join("; "))
}

pub async fn run(store: &Store, caller: &Caller, args: ImportArgs) -> anyhow::Result<()> {
    if args.kind == "events" {
        if !args.map.is_empty() {
            anyhow::bail!(
                "--map does not apply to events: an events file has fixed columns (see `keepwell import --help`)"
            );
        }
        return events::run(store, &args.files, args.dry_run).await;
    }
    let [file] = args.files.as_slice() else {
        anyhow::bail!("import {} takes one file; only events take several", args.kind);
    };
    let kind = ImportKind::parse(&args.kind).ok_or_else(|| {
        anyhow!(
            "cannot import {:?}: this version imports accounts, contacts, subscriptions, invoices, fx_rates, interactions and events (tickets come with their feature)",
            args.kind
        )
    })?;
    let name = file.display().to_string();
    let t0 = std::time::Instant::now();
    let records = read_csv(file)?;
    tracing::info!(rows = records.rows.len(), took_ms = t0.elapsed().as_millis() as u64, "read the file");
    let mapping = parse_mapping(&args.map).map_err(anyhow::Error::msg)?;
    let plan = ColumnPlan::new(kind, &records.headers, &mapping).map_err(|e| anyhow!("{name}: {e}"))?;
    let total = records.rows.len() as u64;
    let bar = ProgressBar::new(total * 2);
    bar.set_style(
        ProgressStyle::with_template("{msg:10} [{bar:40}] {pos}/{len} rows ({eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("checking");

    let lines: Vec<u64> = records.rows.iter().map(|(l, _)| *l).collect();
    let mut first_error: Option<(u64, Invalid)> = None;
    let mut error_count = 0usize;
    let mut note = |line: u64, e: Invalid| {
        if first_error.is_none() {
            first_error = Some((line, e));
        }
        error_count += 1;
    };
    // Checks every row with `validate`, then reports the first bad one or hands all to the store.
    let mut checked = |validate: &dyn Fn(&[&str]) -> Result<(), Invalid>| {
        for (line, cells) in &records.rows {
            let cells: Vec<&str> = cells.iter().map(String::as_str).collect();
            if let Err(e) = validate(&cells) {
                note(*line, e);
            }
            bar.inc(1);
        }
    };
    let progress = |n: usize| bar.set_position(total + n as u64);
    let rows = records.rows.iter().map(|(_, c)| c.iter().map(String::as_str).collect::<Vec<&str>>());
    let summary = match kind {
        ImportKind::Accounts => {
            checked(&|c| plan.account(c).validate().map(drop));
            check(&name, &plan, first_error, error_count)?;
            let rows: Vec<_> = rows.filter_map(|c| plan.account(&c).validate().ok()).collect();
            bar.set_message(if args.dry_run { "dry run" } else { "writing" });
            keepwell_server::accounts::import(store, caller, &rows, args.dry_run, progress).await
        }
        ImportKind::Contacts => {
            checked(&|c| plan.contact(c).validate().map(drop));
            check(&name, &plan, first_error, error_count)?;
            let rows: Vec<_> = rows.filter_map(|c| plan.contact(&c).validate().ok()).collect();
            bar.set_message(if args.dry_run { "dry run" } else { "writing" });
            keepwell_server::contacts::import(store, caller, &rows, args.dry_run, progress).await
        }
        ImportKind::Subscriptions => {
            checked(&|c| plan.period(c).validate().map(drop));
            check(&name, &plan, first_error, error_count)?;
            let rows: Vec<_> = rows.filter_map(|c| plan.period(&c).validate().ok()).collect();
            bar.set_message(if args.dry_run { "dry run" } else { "writing" });
            keepwell_server::billing::import_periods(store, caller, &rows, args.dry_run, progress).await
        }
        ImportKind::Invoices => {
            checked(&|c| plan.invoice(c).validate().map(drop));
            check(&name, &plan, first_error, error_count)?;
            let rows: Vec<_> = rows.filter_map(|c| plan.invoice(&c).validate().ok()).collect();
            bar.set_message(if args.dry_run { "dry run" } else { "writing" });
            keepwell_server::billing::import_invoices(store, caller, &rows, args.dry_run, progress).await
        }
        ImportKind::FxRates => {
            checked(&|c| plan.fx_rate(c).validate().map(drop));
            check(&name, &plan, first_error, error_count)?;
            let rows: Vec<_> = rows.filter_map(|c| plan.fx_rate(&c).validate().ok()).collect();
            bar.set_message(if args.dry_run { "dry run" } else { "writing" });
            keepwell_server::billing::save_fx_rates(store, caller, &rows, args.dry_run).await
        }
        ImportKind::Interactions => {
            let now = store.clock().now();
            checked(&|c| plan.interaction(c).validate(now).map(drop));
            check(&name, &plan, first_error, error_count)?;
            let rows: Vec<_> = rows.filter_map(|c| plan.interaction(&c).validate(now).ok()).collect();
            bar.set_message(if args.dry_run { "dry run" } else { "writing" });
            keepwell_server::interactions::import(store, caller, &rows, args.dry_run, progress).await
        }
    };
    bar.finish_and_clear();
    tracing::info!(took_ms = t0.elapsed().as_millis() as u64, "wrote");
    let summary = summary.map_err(|RowError { index, error }| {
        let line = lines.get(index).copied().unwrap_or_default();
        match error {
            StoreError::Invalid(e) => anyhow!(row_message(&name, line, &plan, &e, 1)),
            StoreError::Conflict { field, message } => {
                anyhow!(row_message(&name, line, &plan, &Invalid::field(field, message), 1))
            }
            other => anyhow!("{name}: line {line}: {other} (nothing was imported)"),
        }
    })?;
    let what = kind.name();
    if args.dry_run {
        println!(
            "dry run: {name} is valid: {total} {what} would be imported ({} created, {} updated{}); nothing was written",
            summary.created,
            summary.updated,
            already(summary.unchanged)
        );
    } else {
        let reached = match summary.attributed {
            0 => String::new(),
            n => format!("; {n} waiting usage events reached them"),
        };
        println!(
            "imported {total} {what} from {name}: {} created, {} updated{}{reached}",
            summary.created,
            summary.updated,
            already(summary.unchanged)
        );
    }
    Ok(())
}

fn check(name: &str, plan: &ColumnPlan, first: Option<(u64, Invalid)>, failed_rows: usize) -> anyhow::Result<()> {
    match first {
        None => Ok(()),
        Some((line, e)) => Err(anyhow!(row_message(name, line, plan, &e, failed_rows))),
    }
}

/// ", 12 already there" for rows a re-import found unchanged.
fn already(unchanged: u64) -> String {
    match unchanged {
        0 => String::new(),
        n => format!(", {n} already there"),
    }
}
