//! `keepwell import events FILE…`: product usage history, as NDJSON in Segment's format (one call
//! per line, as Segment archives them: `.ndjson`, `.jsonl`, or any file starting with `{`) or as
//! CSV with the columns `timestamp,account_external_id,user_id,event[,properties_json]`; each file
//! gzipped or not (Segment's archives are `.gz`, one file per hour or day).
//!
//! Files are taken in turn, under one progress bar. Each is checked whole first, and its first
//! problem is reported with its line (and, in CSV, its column); then it is read again and written
//! in one transaction, in groups, so memory stays flat however long the file. A file is all or
//! nothing, and one that fails stops the run (the files before it stay imported). Events are
//! deduplicated on messageId like live ones; rows and lines without one get an id made from
//! their content, so importing a file twice adds nothing the second time. What reached no
//! account is said, with the groupIds it names most and what to do.

use anyhow::{anyhow, bail, Context};
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use keepwell_core::ingest::{instant, parse_record, track_row, Event};
use keepwell_core::Invalid;
use keepwell_store::usage::EventWriter;
use keepwell_store::{Store, StoreError};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read as _};
use std::path::{Path, PathBuf};

/// Events written per statement group.
const GROUP: usize = 5_000;
const COLUMNS: [&str; 5] = ["timestamp", "account_external_id", "user_id", "event", "properties_json"];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Ndjson,
    Csv,
}

fn format_of(path: &Path) -> anyhow::Result<Format> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_ascii_lowercase();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    let ext = name.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match ext {
        "ndjson" | "jsonl" | "json" => return Ok(Format::Ndjson),
        "csv" => return Ok(Format::Csv),
        _ => {}
    }
    let mut head = [0u8; 512];
    let n = open(path, &BytesRead::default())?.read(&mut head)?;
    let first = head[..n].iter().find(|b| !b.is_ascii_whitespace() && **b != 0xEF && **b != 0xBB && **b != 0xBF);
    Ok(if first == Some(&b'{') { Format::Ndjson } else { Format::Csv })
}

/// The bytes of the files read so far (compressed, for gzipped ones), for the progress bar.
type BytesRead = std::sync::Arc<std::sync::atomic::AtomicU64>;

/// Counts what is read from the file underneath, before any gunzipping.
struct Counted<R> {
    inner: R,
    read: BytesRead,
}

impl<R: std::io::Read> std::io::Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// A file's text, gunzipped when it is gzip (by its first two bytes, whatever its name).
fn open(path: &Path, read: &BytesRead) -> anyhow::Result<Box<dyn std::io::Read + Send>> {
    let mut file = File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut magic = [0u8; 2];
    let gzip = file.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    use std::io::Seek;
    file.rewind()?;
    let counted = Counted { inner: file, read: read.clone() };
    Ok(if gzip { Box::new(flate2::read::MultiGzDecoder::new(counted)) } else { Box::new(counted) })
}

/// The messageId of a row or line that has none: a digest of its content.
fn content_id(content: &str) -> String {
    let digest = Sha256::digest(content.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("import-{hex}")
}

/// A failed check, placed: "line 7, column 1 (timestamp): …".
struct Problem {
    line: u64,
    column: Option<(usize, String)>,
    message: String,
}

impl Problem {
    fn describe(&self, name: &str, more: usize) -> String {
        let place = match &self.column {
            Some((col, header)) => format!("line {}, column {col} ({header})", self.line),
            None => format!("line {}", self.line),
        };
        let more = if more > 0 { format!("{more} more line(s) have problems; ") } else { String::new() };
        format!("{name}: {place}: {} ({more}nothing was imported)", self.message)
    }
}

/// Where each CSV column is.
struct CsvColumns {
    index: [Option<usize>; 5],
}

impl CsvColumns {
    fn new(headers: &csv::StringRecord) -> anyhow::Result<CsvColumns> {
        let mut index = [None; 5];
        for (i, h) in headers.iter().enumerate() {
            let h = h.trim_start_matches('\u{feff}').trim();
            match COLUMNS.iter().position(|c| *c == h) {
                Some(k) => index[k] = Some(i),
                None => {
                    bail!("line 1, column {} ({h}) is not a column of an events file: use {}", i + 1, COLUMNS.join(","))
                }
            }
        }
        let missing: Vec<&str> = COLUMNS[..4].iter().zip(index).filter(|(_, i)| i.is_none()).map(|(c, _)| *c).collect();
        if !missing.is_empty() {
            bail!("line 1: the header row lacks {}; an events file has {}", missing.join(", "), COLUMNS.join(","));
        }
        Ok(CsvColumns { index })
    }

    fn cell<'r>(&self, record: &'r csv::StringRecord, k: usize) -> &'r str {
        self.index[k].and_then(|i| record.get(i)).unwrap_or_default().trim()
    }

    fn problem(&self, line: u64, k: usize, message: impl Into<String>) -> Problem {
        Problem { line, column: Some((self.index[k].unwrap_or(0) + 1, COLUMNS[k].into())), message: message.into() }
    }

    /// The row as an event, its account looked up in `accounts` (external id → account).
    fn event(
        &self,
        r: &csv::StringRecord,
        line: u64,
        accounts: &HashMap<String, Vec<i64>>,
        now: DateTime<Utc>,
    ) -> Result<Event, Problem> {
        let timestamp = instant(self.cell(r, 0), "timestamp", None).map_err(|e| self.problem(line, 0, e.reason))?;
        if keepwell_core::ingest::impossible(timestamp, now) {
            return Err(self.problem(
                line,
                0,
                format!("{timestamp} is impossible: before 2000 or more than a day from now; fix or drop the row"),
            ));
        }
        let external = self.cell(r, 1);
        let account = match accounts.get(external).map(Vec::as_slice) {
            _ if external.is_empty() => return Err(self.problem(line, 1, "is empty")),
            None | Some([]) => {
                return Err(self.problem(
                    line,
                    1,
                    format!("no account has the external id {external:?}; import the accounts first"),
                ))
            }
            Some([one]) => *one,
            Some(many) => {
                let ids: Vec<String> = many.iter().map(i64::to_string).collect();
                return Err(self.problem(
                    line,
                    1,
                    format!("{external:?} is an external id of accounts {}", ids.join(" and ")),
                ));
            }
        };
        use keepwell_core::limits::{control_character, EVENT_NAME, EXTERNAL_ID};
        for (k, max) in [(2, EXTERNAL_ID), (3, EVENT_NAME)] {
            let cell = self.cell(r, k);
            if cell.is_empty() {
                return Err(self.problem(line, k, "is empty"));
            }
            if cell.chars().count() > max {
                return Err(self.problem(line, k, format!("is longer than {max} characters")));
            }
            if let Some(e) = control_character(cell) {
                return Err(self.problem(line, k, e));
            }
        }
        let (user, event) = (self.cell(r, 2), self.cell(r, 3));
        let properties = match self.cell(r, 4) {
            "" => None,
            raw => match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(v) if v.is_object() => Some(v.to_string()),
                Ok(_) => return Err(self.problem(line, 4, "is not a JSON object")),
                Err(e) => return Err(self.problem(line, 4, format!("is not JSON: {e}"))),
            },
        };
        let id = content_id(&r.iter().collect::<Vec<_>>().join("\u{1f}"));
        Ok(track_row(account, user.into(), event.into(), timestamp, properties, id))
    }
}

type Text = BufReader<Box<dyn std::io::Read + Send>>;

fn csv_reader(path: &Path, read: &BytesRead) -> anyhow::Result<csv::Reader<Text>> {
    Ok(csv::ReaderBuilder::new().flexible(false).from_reader(BufReader::new(open(path, read)?)))
}

fn csv_problem(e: &csv::Error) -> Problem {
    let line = e.position().map(|p| p.line()).unwrap_or_default();
    Problem { line, column: None, message: super::csv_message(e) }
}

/// A line of NDJSON as an event.
fn ndjson_event(line: &str, n: u64, now: DateTime<Utc>) -> Result<Event, Problem> {
    if let Err(e) = serde_json::from_str::<&serde_json::value::RawValue>(line) {
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        return Err(Problem {
            line: n,
            column: Some((e.column(), "JSON".into())),
            message: format!("invalid JSON: {message}"),
        });
    }
    parse_record(line, now, || content_id(line)).map_err(|e| Problem { line: n, column: None, message: e.reason })
}

/// Reads the file's events in turn, `Err` for the first that does not check.
struct Events {
    format: Format,
    csv: Option<(csv::Reader<Text>, CsvColumns)>,
    lines: Option<std::io::Lines<Text>>,
    line: u64,
    accounts: HashMap<String, Vec<i64>>,
    /// When the import runs (the store's clock): what "received" means and the future's bound.
    now: DateTime<Utc>,
}

impl Events {
    fn open(
        path: &Path,
        format: Format,
        accounts: HashMap<String, Vec<i64>>,
        read: &BytesRead,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Events> {
        let mut events = Events { format, csv: None, lines: None, line: 0, accounts, now };
        match format {
            Format::Csv => {
                let mut reader = csv_reader(path, read)?;
                let headers = reader.headers().map_err(|e| anyhow!(csv_problem(&e).message))?.clone();
                let columns = CsvColumns::new(&headers)?;
                events.csv = Some((reader, columns));
            }
            Format::Ndjson => events.lines = Some(BufReader::new(open(path, read)?).lines()),
        }
        Ok(events)
    }

    fn next_event(&mut self) -> Option<Result<Event, Problem>> {
        match self.format {
            Format::Csv => {
                let (reader, columns) = self.csv.as_mut()?;
                let mut record = csv::StringRecord::new();
                match reader.read_record(&mut record) {
                    Ok(false) => None,
                    Err(e) => Some(Err(csv_problem(&e))),
                    Ok(true) => {
                        let pos = record.position().cloned().unwrap_or_else(csv::Position::new);
                        Some(columns.event(&record, pos.line(), &self.accounts, self.now))
                    }
                }
            }
            Format::Ndjson => loop {
                let line = self.lines.as_mut()?.next()?;
                self.line += 1;
                let n = self.line;
                match line {
                    Err(_) => {
                        return Some(Err(Problem { line: n, column: None, message: "is not UTF-8 text".into() }));
                    }
                    Ok(text) => {
                        let text = text.trim_start_matches('\u{feff}').trim();
                        if !text.is_empty() {
                            return Some(ndjson_event(text, n, self.now));
                        }
                    }
                }
            },
        }
    }
}

/// The external ids a CSV file names, once each. Malformed rows are passed over: the check
/// that follows reports them with their lines.
fn csv_external_ids(path: &Path) -> anyhow::Result<Vec<String>> {
    let mut reader = csv_reader(path, &BytesRead::default())?;
    let headers = reader.headers().map_err(|e| anyhow!(csv_problem(&e).message))?.clone();
    let columns = CsvColumns::new(&headers)?;
    let mut ids = std::collections::HashSet::new();
    for record in reader.records() {
        match record {
            Ok(record) => ids.insert(columns.cell(&record, 1).to_owned()),
            Err(e) if e.is_io_error() => return Err(anyhow!(csv_problem(&e).message)),
            Err(_) => continue,
        };
    }
    Ok(ids.into_iter().collect())
}

fn bar(len: u64, template: &str, message: &'static str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()));
    bar.set_message(message);
    bar
}

/// What one file did.
#[derive(Default)]
struct FileSummary {
    total: u64,
    new: usize,
    known: usize,
    waiting: keepwell_store::usage::Waiting,
}

/// Imports each of `paths` in turn, each all or nothing, under one progress bar (bytes of all
/// the files, checked and then written); prints a line per file, a total, and what reached no
/// account with what to do about it.
pub async fn run(store: &Store, paths: &[PathBuf], dry_run: bool) -> anyhow::Result<()> {
    let mut size = 0u64;
    for p in paths {
        size += std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?.len();
    }
    let t0 = std::time::Instant::now();
    let read = BytesRead::default();
    let label = if dry_run { "dry run" } else { "importing" };
    let progress = bar(size * 2, "{msg:10} [{bar:40}] {percent}% of the files ({eta})", label);
    let mut all = FileSummary::default();
    let mut waiting: HashMap<String, i64> = HashMap::new();
    for (n, path) in paths.iter().enumerate() {
        let s = import_file(store, path, dry_run, &read, &progress).await;
        let s = match s {
            Ok(s) => s,
            Err(e) => {
                progress.finish_and_clear();
                let done =
                    if n == 0 || dry_run { String::new() } else { format!(" ({n} file(s) before it were imported)") };
                return Err(anyhow!("{e}{done}"));
            }
        };
        let name = path.display();
        progress.suspend(|| {
            if dry_run {
                println!(
                    "dry run: {name} is valid: {} events, {} would be imported, {} are there already (same messageId)",
                    s.total, s.new, s.known
                );
            } else {
                println!(
                    "imported {} events from {name}: {} new, {} there already (same messageId){}",
                    s.total,
                    s.new,
                    s.known,
                    match s.waiting.events {
                        0 => String::new(),
                        w => format!("; {} reached accounts, {w} wait for their account", s.waiting.reached),
                    }
                );
            }
        });
        all.total += s.total;
        all.new += s.new;
        all.known += s.known;
        all.waiting.events += s.waiting.events;
        for (g, c) in s.waiting.top {
            *waiting.entry(g).or_default() += c;
        }
    }
    progress.finish_and_clear();
    tracing::info!(took_ms = t0.elapsed().as_millis() as u64, "imported");
    if paths.len() > 1 {
        let what = if dry_run { "would import" } else { "imported" };
        println!(
            "{what} {} events from {} files: {} new, {} there already",
            all.total,
            paths.len(),
            all.new,
            all.known
        );
    }
    if dry_run {
        println!("dry run: nothing was written");
    } else if all.waiting.events > 0 {
        let mut top: Vec<(String, i64)> = waiting.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let named: Vec<String> = top.iter().take(5).map(|(g, c)| format!("{g} ({c})")).collect();
        println!(
            "{} usage events wait for an account: no account holds their groupId \
             (most: {}). Import those accounts (a CRM export with the groupId as external_id), or link the groupIds \
             on the Usage page or with POST /api/v1/usage/unmatched/links; then `keepwell replay` the days",
            all.waiting.events,
            named.join(", ")
        );
    }
    Ok(())
}

/// Checks one file whole, then writes it in one transaction.
async fn import_file(
    store: &Store,
    path: &Path,
    dry_run: bool,
    read: &BytesRead,
    progress: &ProgressBar,
) -> anyhow::Result<FileSummary> {
    let name = path.display().to_string();
    let format = format_of(path)?;
    let t0 = std::time::Instant::now();
    // Every line is checked before anything is written.
    let accounts = match format {
        Format::Ndjson => HashMap::new(),
        Format::Csv => {
            let ids = csv_external_ids(path).map_err(|e| anyhow!("{name}: {e}"))?;
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            store.accounts_by_external_values(&refs).await?
        }
    };
    let now = store.clock().now();
    let mut events = Events::open(path, format, accounts, read, now).map_err(|e| anyhow!("{name}: {e}"))?;
    let (mut total, mut first, mut failed) = (0u64, None, 0usize);
    while let Some(e) = events.next_event() {
        match e {
            Ok(_) => total += 1,
            Err(p) => {
                failed += 1;
                first.get_or_insert(p);
            }
        }
        if total.is_multiple_of(10_000) {
            progress.set_position(read.load(std::sync::atomic::Ordering::Relaxed));
        }
    }
    if let Some(p) = first {
        bail!(p.describe(&name, failed - 1));
    }
    tracing::info!(file = %name, events = total, took_ms = t0.elapsed().as_millis() as u64, "checked");

    let mut events = Events::open(path, format, std::mem::take(&mut events.accounts), read, now)?;
    let groups = std::iter::from_fn(move || {
        let mut group = Vec::with_capacity(GROUP);
        while group.len() < GROUP {
            match events.next_event() {
                None => break,
                Some(Ok(e)) => group.push(e),
                Some(Err(p)) => {
                    let e =
                        Invalid::field("file", format!("line {} changed while it was imported: {}", p.line, p.message));
                    return Some(Err(StoreError::from(e)));
                }
            }
        }
        (!group.is_empty()).then_some(Ok(group))
    });
    let (bar, counter) = (progress.clone(), read.clone());
    let summary = EventWriter::new(store.clone())
        .import(groups, dry_run, &mut move |_| bar.set_position(counter.load(std::sync::atomic::Ordering::Relaxed)))
        .await
        .map_err(|e| anyhow!("{name}: {e} (nothing of it was imported)"))?;
    let waiting =
        if dry_run { Default::default() } else { store.waiting_between(summary.ids.0, summary.ids.1).await? };
    Ok(FileSummary { total, new: summary.stored, known: summary.duplicates, waiting })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_without_an_id_get_one_from_their_content() {
        assert_eq!(content_id("a"), content_id("a"));
        assert_ne!(content_id("a"), content_id("b"));
        assert!(content_id("a").starts_with("import-"));
    }
}
