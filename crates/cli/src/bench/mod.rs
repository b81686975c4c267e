//! `keepwell bench NAME`: the project's own benchmarks, printing figures and the machine they ran on.
//!
//! * `import`: writes a CSV of N demo-like accounts and imports it through the same path as
//!   `keepwell import accounts` (read, check every row, one transaction), timing the whole command.
//! * `accounts-api`: imports N accounts, starts `keepwell serve` as its own process, and has C clients
//!   call `GET /api/v1/accounts` (a mix of filters and sorts, pages of 50, some second pages) for S
//!   seconds without pause; reports latency percentiles overall and per query kind, throughput and the
//!   server's peak RSS.
//!
//! * `metrics`: writes N demo accounts with 36 months of demo billing (periods, invoices, FX), then
//!   times every metric of `/api/v1/metrics/{name}` over those 36 months on a freshly started
//!   server (cold: its first request) and again warm, the Revenue page likewise, and shows where
//!   a cold build spends its time (loading, building the ledger, computing each metric).
//!
//! Each run uses a new SQLite database in a temporary directory unless `--target URL` names an empty
//! database (e.g. PostgreSQL).

use crate::demo::{self, DemoArgs};
use crate::import::{self, ImportArgs};
use keepwell_server::cause::Caller;

mod attribution;
mod backtest;
mod deliveries;
mod health;
mod ingest;
mod playbooks;
mod workspace;
use anyhow::{bail, Context};
use keepwell_store::Store;
use rand::{Rng, SeedableRng};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Which benchmark.
    #[arg(value_enum)]
    name: Bench,
    /// Accounts in the workspace (import, accounts-api, metrics, health; attribution: the groupIds).
    #[arg(long)]
    accounts: Option<usize>,
    /// Concurrent clients (accounts-api: 50 unless given; ingest: 8; workspace: 10).
    #[arg(long)]
    clients: Option<usize>,
    /// How long the clients run (accounts-api).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// Requests per second all clients send together, evenly paced (accounts-api); without it
    /// they send without pause.
    #[arg(long)]
    rate: Option<f64>,
    /// An empty database to run against instead of a new SQLite file. `metrics` also accepts
    /// the database of an earlier `metrics` run and reuses its workspace.
    #[arg(long)]
    target: Option<String>,
    /// Warm repetitions of each request (metrics).
    #[arg(long, default_value_t = 20)]
    repeat: usize,
    /// Events to send (ingest, default 2 000 000), to leave waiting (attribution, default 1 000 000)
    /// or deliveries to queue (deliveries, default 10 000).
    #[arg(long)]
    events: Option<usize>,
    /// Days the health benchmark replays over a tenth of the accounts (0: none).
    #[arg(long, default_value_t = 365)]
    replay_days: u64,
    /// Events per /v1/batch request (ingest).
    #[arg(long, default_value_t = 500)]
    batch: usize,
    /// With two event-triggered playbooks on, one acting for every account as its events arrive,
    /// and how soon the other acts on a probe event sent mid-load (ingest).
    #[arg(long)]
    playbooks: bool,
    /// A TOML file whose `[[scorecard]]` with key `default` is backtested instead of the
    /// default scorecard (backtest).
    #[arg(long)]
    scorecard: Option<PathBuf>,
    /// Keep the books written in this directory and reuse them on the next run (backtest).
    #[arg(long)]
    books: Option<PathBuf>,
    /// Added to each book's seed, to backtest on other books of the same kinds (backtest).
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The benchmarks, each printing its figures and the machine it ran on.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Bench {
    /// A CSV of 100 000 accounts imported (rows/s).
    Import,
    /// GET/POST /api/v1/accounts under 50 concurrent clients (requests/s, latency percentiles).
    AccountsApi,
    /// Every revenue metric over three years of 100 000 accounts' billing (cold and warm latency).
    Metrics,
    /// Segment's /v1/batch under 8 clients: 2 000 000 events acknowledged and rolled up (events/s).
    Ingest,
    /// The daily pass over 100 000 accounts, a replay of a year over a tenth, a live segment count.
    Health,
    /// 1 000 000 waiting events reaching the accounts a CRM import brings.
    Attribution,
    /// The default scorecard's ROC AUC on the demo and on differently generated books.
    Backtest,
    /// 10 000 queued webhook deliveries drained to a local receiver (deliveries/s), and one
    /// delivery's wait when the queue is idle.
    Deliveries,
    /// 50 enabled playbooks over 100 000 accounts: the daily pass that acts on four days, the
    /// same pass without playbooks, and a simulation of one over 90 days.
    Playbooks,
    /// The home page, the task inbox and an account's timeline at 100 000 accounts, 1 000 000
    /// interactions (`--events`) and 200 000 tasks, 10 members asking at once (`--clients`).
    Workspace,
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .map(|l| l.split_whitespace().nth(1).unwrap_or("0").parse::<u64>().unwrap_or(0) / 1024 / 1024)
        })
        .unwrap_or(0);
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    format!(
        "machine: {cores} cores ({cpu}), {mem} GiB memory; keepwell {} ({})",
        env!("CARGO_PKG_VERSION"),
        if cfg!(debug_assertions) { "debug build: use --release for figures" } else { "release build" }
    )
}

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    println!("{}", machine());
    let dir = std::env::temp_dir().join(format!("keepwell-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = args.target.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("keepwell.db").display()));
    println!(
        "database: {}",
        if args.target.is_some() { "the given --target" } else { "a new SQLite file (WAL, synchronous=FULL)" }
    );
    let accounts = args.accounts.unwrap_or(100_000);
    let result = match args.name {
        Bench::Import => bench_import(&dir, &url, accounts).await.map(|_| ()),
        Bench::AccountsApi => bench_api(&dir, &url, &args, accounts).await,
        Bench::Metrics => bench_metrics(&url, &args, accounts).await,
        Bench::Ingest => {
            let events = args.events.unwrap_or(2_000_000);
            let a = ingest::IngestArgs {
                events,
                clients: args.clients.unwrap_or(8),
                batch: args.batch,
                playbooks: args.playbooks,
            };
            ingest::run(&dir, &url, &a).await
        }
        Bench::Health => health::run(&url, accounts, args.replay_days).await,
        Bench::Attribution => {
            attribution::run(&url, args.events.unwrap_or(1_000_000), args.accounts.unwrap_or(1_000)).await
        }
        Bench::Deliveries => deliveries::run(&url, args.events.unwrap_or(10_000)).await,
        Bench::Playbooks => playbooks::run(&url, accounts).await,
        Bench::Workspace => {
            let w = workspace::WorkspaceArgs {
                accounts,
                interactions: args.events.unwrap_or(1_000_000),
                tasks: accounts * 2,
                members: 100.min(accounts.max(1)),
                clients: args.clients.unwrap_or(10),
                seconds: args.seconds,
            };
            workspace::run(&url, &w).await
        }
        Bench::Backtest => {
            let b = backtest::BacktestArgs {
                accounts: args.accounts.unwrap_or(300),
                scorecard: args.scorecard.clone(),
                books: args.books.clone(),
                seed: args.seed,
            };
            backtest::run(&b).await
        }
    };
    let _ = std::fs::remove_dir_all(&dir);
    result
}

/// Writes the demo team and a CSV of `n` accounts; imports it; returns the store.
async fn bench_import(dir: &Path, url: &str, n: usize) -> anyhow::Result<Store> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    if store.count_users().await? > 0 {
        bail!("--target must be an empty database");
    }
    let caller = Caller::system("bench");
    demo::write_team(&store, &caller).await?;
    let (accounts, _) = demo::generate(&DemoArgs { accounts: n, days: 0, seed: 1, ..DemoArgs::default() });
    let file = dir.join("accounts.csv");
    write_csv(&file, &accounts)?;
    let size = std::fs::metadata(&file)?.len();
    let start = Instant::now();
    import::run(&store, &caller, ImportArgs::new("accounts", file)).await?;
    let took = start.elapsed();
    println!(
        "import: {n} accounts ({:.1} MB CSV) in {:.2} s = {:.0} rows/s (target: 100 000 in < 10 s)",
        size as f64 / 1e6,
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64()
    );
    Ok(store)
}

fn write_csv(path: &Path, accounts: &[keepwell_core::AccountInput]) -> anyhow::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header = keepwell_core::import::ImportKind::Accounts.fields().to_vec();
    header.push("seats_purchased");
    w.write_record(&header)?;
    for a in accounts {
        let seats = a
            .attributes
            .iter()
            .find(|(k, _)| k == "seats_purchased")
            .and_then(|(_, v)| v.as_ref())
            .map(|v| v.display())
            .unwrap_or_default();
        w.write_record([
            a.external_ids[0].1.as_str(),
            a.name.as_deref().unwrap_or_default(),
            a.domain.as_deref().unwrap_or_default(),
            a.industry.as_deref().unwrap_or_default(),
            a.employees.as_deref().unwrap_or_default(),
            a.country.as_deref().unwrap_or_default(),
            a.plan.as_deref().unwrap_or_default(),
            a.lifecycle_stage.as_deref().unwrap_or_default(),
            a.owner_email.as_deref().unwrap_or_default(),
            &a.tags.join(","),
            &seats,
        ])?;
    }
    w.flush()?;
    Ok(())
}

/// What the benchmark's clients keep of a page.
struct NextCursor {
    next_cursor: Option<String>,
}

impl NextCursor {
    /// The `next_cursor` of a page's JSON (a cursor is URL-safe base64: nothing to unescape).
    fn of(body: &[u8]) -> NextCursor {
        const KEY: &[u8] = b"\"next_cursor\":\"";
        let start = body.windows(KEY.len()).rposition(|w| w == KEY).map(|i| i + KEY.len());
        let next_cursor = start.and_then(|s| {
            let end = body[s..].iter().position(|b| *b == b'"')?;
            std::str::from_utf8(&body[s..s + end]).ok().map(str::to_owned)
        });
        NextCursor { next_cursor }
    }
}

/// The query mix: what a CSM's list and a RevOps script ask for.
const QUERIES: &[(&str, &str)] = &[
    ("first page by name", ""),
    ("owner", "owner=3"),
    ("stage", "stage=renewal"),
    ("country + stage", "country=DE&stage=adoption"),
    ("tag", "tag=strategic"),
    ("newest first", "sort=-created_at"),
    ("largest first", "sort=-employees"),
    ("search name/domain", "q=harbor"),
    ("largest MRR first", "sort=-mrr"),
    ("worst health first", "sort=score"),
    ("renewing soonest", "sort=renews_on"),
    ("least active first", "sort=last_active_on"),
    ("mine by MRR", "owner=3&sort=-mrr"),
];

async fn bench_api(dir: &Path, url: &str, args: &BenchArgs, accounts: usize) -> anyhow::Result<()> {
    let store = bench_import(dir, url, accounts).await?;
    let clients = args.clients.unwrap_or(50);
    let (token, hash, prefix) = keepwell_server::secrets::new_secret("kw");
    keepwell_server::people::create_api_token(
        &store,
        &Caller::system("bench"),
        "bench",
        keepwell_core::Role::Viewer,
        (&hash, &prefix),
    )
    .await?;
    // Today's daily pass first, as a running workspace has it: a server finding it missing runs
    // it at start, over every account, while the clients would be measuring.
    let t = Instant::now();
    let today = store.clock().today();
    keepwell_server::daily::run(
        &store,
        "USD",
        keepwell_server::daily::PassDays::CatchUpTo(today),
        Duration::from_secs(60),
        |_, _| {},
    )
    .await?;
    println!("daily pass of {today} before the server starts: {:.1} s", t.elapsed().as_secs_f64());
    store.close().await;
    let mut server = Server::start(url).await?;
    let (pid, base, http) = (server.pid, server.base.clone(), server.http.clone());
    let rss_idle = rss_mb(pid);
    let stop = Instant::now() + Duration::from_secs(args.seconds);
    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            while Instant::now() < stop {
                peak.fetch_max((rss_mb(pid) * 1024.0) as u64, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut tasks = Vec::new();
    for client in 0..clients {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        // Paced: each client sends one request every `clients / rate` seconds, offset from the others.
        let every = args.rate.map(|r| Duration::from_secs_f64(clients as f64 / r));
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(client as u64);
            let mut samples: Vec<(usize, f64)> = Vec::new();
            let mut errors = 0u64;
            let mut next = Instant::now() + every.map_or(Duration::ZERO, |e| e.mul_f64(client as f64 / clients as f64));
            while Instant::now() < stop {
                if let Some(e) = every {
                    tokio::time::sleep_until(next.into()).await;
                    next += e;
                }
                let k = rng.gen_range(0..QUERIES.len());
                let mut url = format!("{base}/api/v1/accounts?limit=50&{}", QUERIES[k].1);
                let t = Instant::now();
                let res = http.get(&url).bearer_auth(&token).send().await;
                // The client reads the whole body and keeps only the cursor, found without parsing
                // the page (the server's last field): the machine's two cores are the server's to
                // measure, not the client's JSON parser's.
                let ok = match res {
                    Ok(r) if r.status().is_success() => r.bytes().await.ok().map(|b| NextCursor::of(&b)),
                    _ => None,
                };
                samples.push((k, t.elapsed().as_secs_f64() * 1000.0));
                let Some(body) = ok else {
                    errors += 1;
                    continue;
                };
                // One in four goes on to the second page.
                if let (Some(c), true) = (body.next_cursor.as_deref(), rng.gen_bool(0.25)) {
                    url.push_str(&format!("&cursor={c}"));
                    let t = Instant::now();
                    match http.get(&url).bearer_auth(&token).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        _ => errors += 1,
                    }
                    samples.push((k, t.elapsed().as_secs_f64() * 1000.0));
                }
            }
            (samples, errors)
        }));
    }
    let mut all: Vec<(usize, f64)> = Vec::new();
    let mut errors = 0;
    for t in tasks {
        let (s, e) = t.await?;
        all.extend(s);
        errors += e;
    }
    let _ = sampler.await;
    server.stop();
    let pct = |v: &mut Vec<f64>, p: f64| -> f64 {
        v.sort_by(f64::total_cmp);
        percentile(v, p)
    };
    let mut lat: Vec<f64> = all.iter().map(|(_, l)| *l).collect();
    let pace = args.rate.map_or("without pause".to_owned(), |r| format!("paced at {r:.0} requests/s"));
    println!(
        "accounts-api: {} accounts, {} clients {} for {} s: {} requests ({:.0}/s), {} errors",
        accounts,
        clients,
        pace,
        args.seconds,
        lat.len(),
        lat.len() as f64 / args.seconds as f64,
        errors
    );
    println!(
        "  latency ms: p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}   (target: p99 < 20 ms)",
        pct(&mut lat, 0.50),
        pct(&mut lat, 0.90),
        pct(&mut lat, 0.99),
        pct(&mut lat, 1.0)
    );
    for (k, (label, _)) in QUERIES.iter().enumerate() {
        let mut v: Vec<f64> = all.iter().filter(|(q, _)| *q == k).map(|(_, l)| *l).collect();
        println!("  {label:20} n={:6}  p50 {:6.1}  p99 {:6.1}", v.len(), pct(&mut v, 0.5), pct(&mut v, 0.99));
    }
    println!(
        "  server RSS: {:.0} MB idle, {:.0} MB peak under load (target: < 150 MB)",
        rss_idle,
        peak.load(std::sync::atomic::Ordering::Relaxed) as f64 / 1024.0
    );
    Ok(())
}

/// `keepwell serve` started as its own process on a free port, ready when `start` returns.
struct Server {
    child: std::process::Child,
    pid: u32,
    base: String,
    http: reqwest::Client,
}

impl Server {
    async fn start(url: &str) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = std::process::Command::new(std::env::current_exe()?)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", url])
            .env("KEEPWELL_LOG", "error")
            .stdout(std::process::Stdio::null())
            .spawn()
            .context("start the server")?;
        let mut server = Server {
            pid: child.id(),
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder().pool_max_idle_per_host(64).build()?,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while server
            .http
            .get(format!("{}/readyz", server.base))
            .send()
            .await
            .map(|r| !r.status().is_success())
            .unwrap_or(true)
        {
            if Instant::now() > deadline {
                server.stop();
                bail!("the server did not start");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(server)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The demo workspace the metrics benchmark needs: `n` accounts with 36 months of billing.
async fn metrics_workspace(store: &Store, n: usize) -> anyhow::Result<()> {
    let periods = store.count_periods().await?;
    if store.count_users().await? > 0 {
        if periods == 0 {
            bail!("--target holds a workspace without billing: give an empty database or one from `bench metrics`");
        }
        let accounts = store.count_accounts(&Default::default()).await?;
        println!("workspace: reusing {accounts} accounts and {periods} subscription periods already in --target");
        return Ok(());
    }
    let caller = Caller::system("bench");
    demo::write_team(store, &caller).await?;
    let args = DemoArgs { accounts: n, days: 1096, seed: 1, ..DemoArgs::default() };
    let (inputs, _) = demo::generate(&args);
    let start = Instant::now();
    let accounts: Vec<_> = inputs.iter().cloned().map(|a| a.validate()).collect::<Result<_, _>>().context("account")?;
    keepwell_server::accounts::import(store, &caller, &accounts, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let accounts_took = start.elapsed();
    let (periods, invoices) = demo::write_billing(store, &caller, &args, &inputs).await?;
    let periods = periods.len();
    println!(
        "workspace: {n} accounts ({:.1} s), then {periods} subscription periods and {invoices} invoices over 36 months \
         through the import path ({:.1} s)",
        accounts_took.as_secs_f64(),
        (start.elapsed() - accounts_took).as_secs_f64()
    );
    Ok(())
}

/// One GET; its time in ms, after checking the status and reading the whole body.
async fn timed_get(server: &Server, path: &str, auth: &Auth) -> anyhow::Result<(f64, usize)> {
    let t = Instant::now();
    let req = server.http.get(format!("{}{path}", server.base));
    let req = match auth {
        Auth::Token(t) => req.bearer_auth(t),
        Auth::Cookie(c) => req.header("cookie", c),
    };
    let res = req.send().await?;
    let status = res.status();
    let body = res.bytes().await?;
    if !status.is_success() {
        bail!("GET {path}: {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok((t.elapsed().as_secs_f64() * 1000.0, body.len()))
}

enum Auth {
    Token(String),
    Cookie(String),
}

async fn bench_metrics(url: &str, args: &BenchArgs, accounts: usize) -> anyhow::Result<()> {
    use keepwell_core::metrics::{Ledger, Metric, Range, Report};
    let store = Store::connect(url).await?;
    store.migrate().await?;
    metrics_workspace(&store, accounts).await?;
    let today = keepwell_store::Clock::system().today();
    let to = keepwell_core::money::Month::of(today);
    let from = to.plus(-35);
    let range = format!("from={from}&to={to}");

    // Where a cold build spends its time, in this process.
    let t = Instant::now();
    let (periods, invoices) = store.revenue_inputs(&Default::default(), to).await?;
    let fx = store.fx_table().await?;
    let load = t.elapsed();
    let t = Instant::now();
    let currency = "USD".to_owned();
    let ledger = Ledger::build(&periods, &invoices, to, &currency, &fx).map_err(|e| anyhow::anyhow!("{e}"))?;
    let build = t.elapsed();
    let report = Report::new(&ledger, Range { from, to, window: 12, currency });
    let mut compute = Vec::new();
    for m in Metric::ALL {
        let t = Instant::now();
        let rows = serde_json::to_vec(&report.rows(m))?;
        compute.push(format!("{} {:.1}", m.name(), t.elapsed().as_secs_f64() * 1000.0));
        drop(rows);
    }
    println!(
        "in process: load {} periods + {} failed payments + FX {:.0} ms; ledger of {} accounts x {} months {:.0} ms; \
         rows+JSON ms: {}",
        periods.len(),
        invoices.len(),
        load.as_secs_f64() * 1000.0,
        ledger.accounts.len(),
        ledger.months,
        build.as_secs_f64() * 1000.0,
        compute.join(", ")
    );
    drop((periods, invoices, ledger));

    let (token, hash, prefix) = keepwell_server::secrets::new_secret("kw");
    keepwell_server::people::create_api_token(
        &store,
        &Caller::system("bench"),
        "bench",
        keepwell_core::Role::Viewer,
        (&hash, &prefix),
    )
    .await?;
    let admin = store.user_by_email(demo::ADMIN_EMAIL).await?.context("the demo admin")?;
    let session = keepwell_server::secrets::random_token();
    let csrf = keepwell_server::secrets::random_token();
    store.create_session(&keepwell_server::secrets::hash_secret(&session), admin.id, &csrf, None, 3600).await?;
    store.close().await;
    let (token, cookie) = (Auth::Token(token), Auth::Cookie(format!("kw_session={session}")));
    let mut paths: Vec<(String, String, &Auth)> = Metric::ALL
        .iter()
        .map(|m| (m.name().to_owned(), format!("/api/v1/metrics/{}?{range}", m.name()), &token))
        .collect();
    paths.push(("Revenue page".into(), format!("/revenue?{range}"), &cookie));

    // Cold: each request is the first a newly started server answers.
    println!("cold (first request of a newly started server), 36 months {from}..{to}:");
    let mut cold_total = 0.0;
    for (label, path, auth) in &paths {
        let server = Server::start(url).await?;
        let (ms, len) = timed_get(&server, path, auth).await?;
        cold_total += ms;
        println!("  {label:16} {ms:7.1} ms  ({} KB)", len / 1024);
    }
    println!("  every metric and the page, each on a cold server: {cold_total:.0} ms in all (target: each metric < 1 000 ms)");
    let server = Server::start(url).await?;
    let t = Instant::now();
    for (_, path, auth) in &paths[..Metric::ALL.len()] {
        timed_get(&server, path, auth).await?;
    }
    println!(
        "  all {} metrics one after another on one new server: {:.0} ms",
        Metric::ALL.len(),
        t.elapsed().as_secs_f64() * 1000.0
    );

    // Warm: the same server, each request made once untimed and then repeated.
    println!("warm ({} repetitions each after a first untimed one, one client):", args.repeat);
    for (label, path, auth) in &paths {
        timed_get(&server, path, auth).await?;
        let mut v = Vec::new();
        for _ in 0..args.repeat.max(1) {
            v.push(timed_get(&server, path, auth).await?.0);
        }
        v.sort_by(f64::total_cmp);
        let target = if label.ends_with("page") { "  (target: < 200 ms)" } else { "" };
        println!(
            "  {label:16} p50 {:7.1}  p99 {:7.1}  max {:7.1} ms{target}",
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 1.0)
        );
    }
    println!("  server RSS after the warm runs (one ledger cached): {:.0} MB", rss_mb(server.pid));
    Ok(())
}

/// The `p` quantile (0..=1) of sorted values, nearest rank.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted.get(((sorted.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
}

/// Resident memory of a process in MB, from /proc.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}
