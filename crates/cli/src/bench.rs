//! `keepwell bench NAME`: the project's own benchmarks, printing figures and the machine they ran on.
//!
//! * `import`: writes a CSV of N demo-like accounts and imports it through the same path as
//!   `keepwell import accounts` (read, check every row, one transaction), timing the whole command.
//! * `accounts-api`: imports N accounts, starts `keepwell serve` as its own process, and has C clients
//!   call `GET /api/v1/accounts` (a mix of filters and sorts, pages of 50, some second pages) for S
//!   seconds without pause; reports latency percentiles overall and per query kind, throughput and the
//!   server's peak RSS.
//!
//! Each run uses a new SQLite database in a temporary directory unless `--target URL` names an empty
//! database (e.g. PostgreSQL).

use crate::demo::{self, DemoArgs};
use crate::import::{self, ImportArgs};
use anyhow::{bail, Context};
use keepwell_store::{Actor, Store};
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// import or accounts-api.
    name: String,
    #[arg(long, default_value_t = 100_000)]
    accounts: usize,
    /// Concurrent clients (accounts-api).
    #[arg(long, default_value_t = 50)]
    clients: usize,
    /// How long the clients run (accounts-api).
    #[arg(long, default_value_t = 20)]
    seconds: u64,
    /// An empty database to run against instead of a new SQLite file.
    #[arg(long)]
    target: Option<String>,
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
    let result = match args.name.as_str() {
        "import" => bench_import(&dir, &url, args.accounts).await.map(|_| ()),
        "accounts-api" => bench_api(&dir, &url, &args).await,
        other => bail!("unknown benchmark {other:?}: try import or accounts-api"),
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
    let actor = Actor::system("bench");
    demo::write_team(&store, &actor).await?;
    let (accounts, _) = demo::generate(&DemoArgs { accounts: n, days: 0, seed: 1 });
    let file = dir.join("accounts.csv");
    write_csv(&file, &accounts)?;
    let size = std::fs::metadata(&file)?.len();
    let start = Instant::now();
    import::run(&store, &actor, ImportArgs::new("accounts", file)).await?;
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
];

async fn bench_api(dir: &Path, url: &str, args: &BenchArgs) -> anyhow::Result<()> {
    let store = bench_import(dir, url, args.accounts).await?;
    let (token, hash, prefix) = keepwell_server::auth::new_secret("kw");
    store.create_api_token(&Actor::system("bench"), "bench", keepwell_core::Role::Viewer, &hash, &prefix).await?;
    store.close().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let exe = std::env::current_exe()?;
    let mut server = std::process::Command::new(exe)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--database-url", url])
        .env("KEEPWELL_LOG", "error")
        .stdout(std::process::Stdio::null())
        .spawn()
        .context("start the server")?;
    let pid = server.id();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder().pool_max_idle_per_host(args.clients).build()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/readyz")).send().await.map(|r| !r.status().is_success()).unwrap_or(true) {
        if Instant::now() > deadline {
            let _ = server.kill();
            bail!("the server did not start");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
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
    for client in 0..args.clients {
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(client as u64);
            let mut samples: Vec<(usize, f64)> = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < stop {
                let k = rng.gen_range(0..QUERIES.len());
                let mut url = format!("{base}/api/v1/accounts?limit=50&{}", QUERIES[k].1);
                let t = Instant::now();
                let res = http.get(&url).bearer_auth(&token).send().await;
                let ok = match res {
                    Ok(r) if r.status().is_success() => r.json::<serde_json::Value>().await.ok(),
                    _ => None,
                };
                samples.push((k, t.elapsed().as_secs_f64() * 1000.0));
                let Some(body) = ok else {
                    errors += 1;
                    continue;
                };
                // One in four goes on to the second page.
                if let (Some(c), true) = (body["next_cursor"].as_str(), rng.gen_bool(0.25)) {
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
    let _ = server.kill();
    let _ = server.wait();
    let pct = |v: &mut Vec<f64>, p: f64| -> f64 {
        v.sort_by(f64::total_cmp);
        v.get(((v.len() as f64 * p).ceil() as usize).saturating_sub(1)).copied().unwrap_or(0.0)
    };
    let mut lat: Vec<f64> = all.iter().map(|(_, l)| *l).collect();
    println!(
        "accounts-api: {} accounts, {} clients without pause for {} s: {} requests ({:.0}/s), {} errors",
        args.accounts,
        args.clients,
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
