//! `keepwell`: one binary for the whole product. A thin layer over the library crates: it reads
//! configuration, opens the store, and runs one command.

mod bench;
mod config;
mod daily;
mod demo;
mod import;

use anyhow::Context;
use clap::{Parser, Subcommand};
use config::Config;
use keepwell_core::Role;
use keepwell_server::cause::Caller;
use keepwell_store::people::NewUser;
use keepwell_store::Store;
use std::io::{BufRead, IsTerminal};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "keepwell", version, about = "Keepwell: the open-source customer success platform")]
struct Cli {
    /// Where Keepwell keeps its files (SQLite database, keepwell.toml).
    #[arg(long, global = true, env = "KEEPWELL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// sqlite://PATH or postgres://…; the scheme picks the backend.
    #[arg(long, global = true, env = "KEEPWELL_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the web UI, the REST API and the background work.
    Serve {
        /// The address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "KEEPWELL_LISTEN")]
        listen: Option<String>,
        /// Fill an empty database with the demo workspace and print the login.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Team members.
    User {
        #[command(subcommand)]
        action: UserAction,
    },
    /// REST API tokens.
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Ingestion write keys.
    Writekey {
        #[command(subcommand)]
        action: WritekeyAction,
    },
    /// Import a file (CSV; events also NDJSON), all or nothing.
    Import(import::ImportArgs),
    /// Write a realistic, reproducible demo workspace into an empty database.
    Demo(demo::DemoArgs),
    /// Write a consistent backup of the running workspace to FILE.
    Backup {
        /// Where to write it (written beside as FILE.partial, then renamed).
        file: PathBuf,
    },
    /// Load a backup into a new, empty database.
    Restore {
        /// A file `keepwell backup` wrote.
        file: PathBuf,
    },
    /// One pass of the periodic work (usage rollups, health snapshots, segment membership,
    /// lifecycle rules) as of an instant (default: now). Running it twice changes nothing.
    Tick {
        /// RFC 3339 instant or YYYY-MM-DD.
        #[arg(long)]
        as_of: Option<String>,
    },
    /// Run the daily pass for every day from --from to --to, oldest first (backfill after an import).
    /// A replay rewrites history and never acts: playbooks act only in the pass of the days since
    /// the last one (the timer's, `tick`'s).
    Replay {
        /// The first day, YYYY-MM-DD.
        #[arg(long)]
        from: String,
        /// The last day, YYYY-MM-DD (included).
        #[arg(long)]
        to: String,
        /// Rewrite nothing; record what each enabled playbook would have done over the days (a
        /// simulation, apart from what playbooks did) and say it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Create or update the segments, lifecycle rules, scorecards and playbooks of a TOML file by key.
    Apply {
        /// A TOML file of [[segment]], [[lifecycle_rule]] and [[scorecard]] tables.
        file: PathBuf,
        /// Check the file and report what would change without writing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Write the current definitions (or one kind: segments, lifecycle_rules, scorecards, playbooks) as TOML.
    Export {
        /// segments, lifecycle_rules, scorecards or playbooks (default: all of them).
        kind: Option<String>,
    },
    /// The project's own benchmarks: import, accounts-api, metrics, ingest, health, attribution,
    /// backtest, deliveries, playbooks, workspace (`keepwell bench --help` says what each measures).
    Bench(bench::BenchArgs),
}

#[derive(Subcommand)]
enum UserAction {
    /// Add a team member. Prints a generated password once unless --password-stdin is given.
    Create {
        /// Their e-mail, the login.
        #[arg(long)]
        email: String,
        /// Their name as the team sees it.
        #[arg(long)]
        name: String,
        /// admin, manager, csm or viewer.
        #[arg(long)]
        role: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Print a new REST API token once (only its hash is stored).
    Create {
        /// What the token is for (shown under API & keys).
        #[arg(long)]
        name: String,
        /// admin, manager, csm or viewer (default viewer).
        #[arg(long, default_value = "viewer")]
        role: String,
    },
}

#[derive(Subcommand)]
enum WritekeyAction {
    /// Print a new ingestion write key once.
    Create {
        /// Which source sends with it (web, backend, …).
        #[arg(long)]
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let verbose = matches!(cli.command, Command::Serve { .. });
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("KEEPWELL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if verbose { "info" } else { "warn" })),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal; a file, a pipe or journald gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line, whatever the cause chain.
            eprintln!("error: {}", format!("{e:#}").replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}

const CLI_ACTOR: &str = "cli";

async fn open(config: &Config) -> anyhow::Result<Store> {
    let store = Store::connect(&config.database_url).await.context("cannot open the database")?;
    store.migrate().await.context("cannot migrate the database")?;
    let store = store.with_reporting_currency(&config.reporting_currency);
    store.reckon_figures_once().await.context("cannot reckon the accounts list's figures")?;
    Ok(store)
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen_flag = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let config = Config::resolve(cli.data_dir.clone(), cli.database_url.clone(), listen_flag)?;
    let caller = Caller::system(CLI_ACTOR);
    match cli.command {
        Command::Serve { demo, .. } => serve(config, demo).await,
        Command::Migrate => {
            let store = Store::connect(&config.database_url).await.context("cannot open the database")?;
            let applied = store.migrate().await?;
            println!(
                "{}",
                if applied.is_empty() {
                    "the database is up to date".to_owned()
                } else {
                    format!("applied migrations {applied:?}")
                }
            );
            Ok(())
        }
        Command::User { action: UserAction::Create { email, name, role, password_stdin } } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin().lock().read_line(&mut line)?;
                (line.trim_end_matches(['\n', '\r']).to_owned(), false)
            } else {
                (keepwell_server::secrets::generate_password(), true)
            };
            keepwell_core::people::check_password(&password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
            let store = open(&config).await?;
            let hash = keepwell_server::secrets::hash_password(password.clone()).await?;
            let user = keepwell_server::people::create_user(
                &store,
                &caller,
                &NewUser { email: &email, name: &name, role, password_hash: &hash },
            )
            .await?;
            if generated {
                println!("created {} ({}) with password: {password}", user.email, user.role);
                println!("the password is shown only now");
            } else {
                println!("created {} ({})", user.email, user.role);
            }
            Ok(())
        }
        Command::Token { action: TokenAction::Create { name, role } } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let store = open(&config).await?;
            let (secret, hash, prefix) = keepwell_server::secrets::new_secret("kw");
            keepwell_server::people::create_api_token(&store, &caller, &name, role, (&hash, &prefix)).await?;
            println!("{secret}");
            if std::io::stdout().is_terminal() {
                eprintln!("API token {name:?} ({role}); it is shown only now. Use it as: Authorization: Bearer TOKEN");
            }
            Ok(())
        }
        Command::Writekey { action: WritekeyAction::Create { name } } => {
            let store = open(&config).await?;
            let (secret, hash, prefix) = keepwell_server::secrets::new_secret("wk");
            keepwell_server::people::create_write_key(&store, &caller, &name, (&hash, &prefix)).await?;
            println!("{secret}");
            Ok(())
        }
        Command::Import(args) => import::run(&open(&config).await?, &caller, args).await,
        Command::Demo(args) => {
            let store = open(&config).await?;
            let summary = demo::write(&store, &args, &config.reporting_currency).await?;
            println!("{summary}");
            Ok(())
        }
        Command::Backup { file } => {
            let store = open(&config).await?;
            let tmp = file.with_extension("partial");
            let mut out = std::io::BufWriter::new(
                std::fs::File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?,
            );
            let summary = store.backup(&mut out).await?;
            drop(out);
            std::fs::rename(&tmp, &file)?;
            println!("backed up {} rows to {}", summary.rows, file.display());
            Ok(())
        }
        Command::Restore { file } => {
            let input = std::fs::File::open(&file).with_context(|| format!("cannot read {}", file.display()))?;
            let store = open(&config).await?;
            let summary = store.restore(std::io::BufReader::new(input)).await?;
            println!("restored {} rows from {}", summary.rows, file.display());
            Ok(())
        }
        Command::Tick { as_of } => {
            let store = open(&config).await?;
            let at = match as_of {
                Some(raw) => daily::parse_instant(&raw)?,
                None => store.clock().now(),
            };
            println!("{}", daily::tick(&store, &config.reporting_currency, at).await?);
            Ok(())
        }
        Command::Replay { from, to, dry_run } => {
            let (from, to) = (daily::parse_day("--from", &from)?, daily::parse_day("--to", &to)?);
            let store = open(&config).await?;
            println!("{}", daily::replay(&store, &config.reporting_currency, from, to, dry_run).await?);
            Ok(())
        }
        Command::Apply { file, dry_run } => {
            println!(
                "{}",
                daily::apply(&open(&config).await?, &caller, &file, dry_run, &config.reporting_currency).await?
            );
            Ok(())
        }
        Command::Export { kind } => {
            print!("{}", daily::export(&open(&config).await?, kind.as_deref()).await?);
            Ok(())
        }
        Command::Bench(args) => bench::run(args).await,
    }
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let store = open(&config).await?;
    if demo {
        let login = demo::ensure(&store, &config.reporting_currency).await?;
        println!("{login}");
    }
    let settings = keepwell_server::Settings {
        listen: config.listen.clone(),
        secure_cookies: config.base_url.as_deref().is_some_and(|u| u.starts_with("https://")),
        reporting_currency: config.reporting_currency.clone(),
        stripe_webhook_secret: config.stripe_webhook_secret.clone(),
        pass_every: Some(std::time::Duration::from_secs(600)),
        trusted_proxies: config.trusted_proxies.clone(),
        contract_months: config.contract_months,
        secret_key: keepwell_server::secrets::SecretKey::from_text(&config.secret_key),
        mail: config.mail.clone(),
        base_url: config.base_url.clone(),
        deliveries: keepwell_server::deliveries::Policy {
            allow_private: config.webhooks_allow_private,
            ..Default::default()
        },
    };
    let app = keepwell_server::Application::build(store, settings).await?;
    let addr = app.local_addr();
    println!("Keepwell is listening on http://{addr}");
    if !demo && config.database_url.starts_with("sqlite:") {
        tracing::info!(database = %config.database_url, "using the embedded database");
    }
    app.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// `keepwell --help` is the manual at hand: every command, argument and flag says what it is,
    /// and `bench` lists every benchmark with what it measures.
    #[test]
    fn every_command_and_flag_has_its_help() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", cmd.get_name());
            if cmd.get_about().is_none() && path != " keepwell" {
                missing.push(path.clone());
            }
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if !matches!(id, "help" | "version") && arg.get_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
                for value in arg.get_possible_values() {
                    if value.get_help().is_none() && !matches!(value.get_name(), "true" | "false") {
                        missing.push(format!("{path} {id}={}", value.get_name()));
                    }
                }
            }
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "without help: {missing:?}");
        let help = Cli::command().render_long_help().to_string();
        let bench = Cli::command().find_subcommand_mut("bench").unwrap().render_long_help().to_string();
        for name in ["import", "accounts-api", "metrics", "ingest", "health", "attribution", "backtest", "playbooks"] {
            assert!(help.contains(name) && bench.contains(&format!("- {name}:")), "{name} missing from the help");
        }
    }
}
