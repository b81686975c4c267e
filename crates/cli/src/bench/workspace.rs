//! `keepwell bench workspace`: the pages a CSM works from all day — the home page of their book,
//! the task inbox, an account's timeline (the API and the whole account page) — at 100 000
//! accounts, 1 000 000 interactions and 200 000 tasks, with 10 members requesting at once.
//! The workspace is written through the import and service paths (their rates are printed too).

use super::{percentile, Auth, Server};
use anyhow::Context as _;
use chrono::{Days, Duration as ChronoDuration};
use keepwell_core::interaction::ImportRow;
use keepwell_core::task::Draft;
use keepwell_core::Role;
use keepwell_server::cause::Caller;
use keepwell_store::accounts::AccountFilter;
use keepwell_store::Store;
use rand::{Rng, SeedableRng};
use std::time::{Duration, Instant};

/// What to write and how hard to ask.
pub struct WorkspaceArgs {
    pub accounts: usize,
    pub interactions: usize,
    pub tasks: usize,
    pub members: usize,
    pub clients: usize,
    pub seconds: u64,
}

const BATCH: usize = 50_000;

pub async fn run(url: &str, a: &WorkspaceArgs) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    let members: Vec<(i64, String)> = if store.count_users().await? > 0 {
        let users = store.users().await?;
        let members: Vec<_> =
            users.into_iter().filter(|u| u.email.ends_with("@bench.keepwell.dev")).map(|u| (u.id, u.email)).collect();
        if members.is_empty() {
            anyhow::bail!("--target holds a workspace this benchmark did not write: give an empty database");
        }
        println!("workspace: reusing the one in --target ({} members)", members.len());
        members
    } else {
        write(&store, a).await?
    };
    ask(url, &store, &members, a).await
}

/// Writes the workspace into an empty database; returns the members.
async fn write(store: &Store, a: &WorkspaceArgs) -> anyhow::Result<Vec<(i64, String)>> {
    let store = store.clone();
    let caller = Caller::system("bench");
    let today = store.clock().today();

    // The team: `members` CSMs sharing the book evenly.
    let hash = keepwell_server::secrets::hash_password("bench-password".into()).await?;
    let mut members = Vec::new();
    for m in 0..a.members {
        let email = format!("csm{m}@bench.keepwell.dev");
        let name = format!("CSM {m}");
        let new = keepwell_store::people::NewUser { email: &email, name: &name, role: Role::Csm, password_hash: &hash };
        members.push((keepwell_server::people::create_user(&store, &caller, &new).await?.id, email));
    }

    // Accounts with a year of billing (renewals and MRR on the home page).
    let t = Instant::now();
    let args = crate::demo::DemoArgs { accounts: a.accounts, days: 365, seed: 3, ..Default::default() };
    let (mut inputs, _) = crate::demo::generate(&args);
    for (i, input) in inputs.iter_mut().enumerate() {
        input.owner_email = Some(members[i % members.len()].1.clone());
    }
    let valid: Vec<_> = inputs.iter().cloned().map(|i| i.validate()).collect::<Result<_, _>>().context("account")?;
    keepwell_server::accounts::import(&store, &caller, &valid, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::demo::write_billing(&store, &caller, &args, &inputs).await?;
    println!("workspace: {} accounts with a year of billing ({:.1} s)", a.accounts, t.elapsed().as_secs_f64());

    // Interactions through `import interactions`' path, in files of BATCH rows.
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let now = store.clock().now();
    let kinds = ["call", "email", "meeting", "note", "qbr"];
    let t = Instant::now();
    let mut written = 0;
    while written < a.interactions {
        let n = BATCH.min(a.interactions - written);
        let rows: Vec<_> = (written..written + n)
            .map(|i| {
                let account = rng.gen_range(0..inputs.len());
                let (_, crm) = &inputs[account].external_ids[0];
                ImportRow {
                    account_external_id: Some(crm.clone()),
                    occurred_at: Some((now - ChronoDuration::minutes(rng.gen_range(0..60 * 24 * 730))).to_rfc3339()),
                    kind: Some(kinds[rng.gen_range(0..kinds.len())].into()),
                    subject: Some(format!("Check-in {i}")),
                    body: Some("Went through **their goals** for the quarter.".into()),
                    user_email: Some(members[account % members.len()].1.clone()),
                    external_id: Some(format!("bench-{i}")),
                    ..Default::default()
                }
                .validate(now)
            })
            .collect::<Result<_, _>>()?;
        keepwell_server::interactions::import(&store, &caller, &rows, false, |_| {})
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        written += n;
    }
    let took = t.elapsed().as_secs_f64();
    println!("workspace: {written} interactions imported in {took:.1} s ({:.0} rows/s)", written as f64 / took);

    // Tasks through the service's store write, a batch per write; most open, due around today.
    let ids = store
        .accounts_by_external_values(&inputs.iter().map(|i| i.external_ids[0].1.as_str()).collect::<Vec<_>>())
        .await?;
    let account_ids: Vec<i64> = inputs.iter().filter_map(|i| ids.get(&i.external_ids[0].1)?.first().copied()).collect();
    let t = Instant::now();
    let mut opened = 0;
    let task_kinds = ["risk", "opportunity", "onboarding", "renewal", "other"];
    while opened < a.tasks {
        let n = BATCH.min(a.tasks - opened);
        let drafts: Vec<(keepwell_core::task::TaskInput, bool)> = (0..n)
            .map(|_| {
                let k = rng.gen_range(0..account_ids.len());
                let due = (today + Days::new(rng.gen_range(0..120))) - Days::new(60);
                let draft = Draft {
                    title: Some("Follow up on the roll-out".into()),
                    kind: Some(task_kinds[rng.gen_range(0..task_kinds.len())].into()),
                    due_on: Some(due),
                    owner_id: Some(members[k % members.len()].0),
                    account_id: Some(account_ids[k]),
                    ..Default::default()
                };
                Ok((draft.validate(today)?, rng.gen_bool(0.4)))
            })
            .collect::<Result<_, keepwell_core::Invalid>>()?;
        crate::demo::open_tasks(&store, &caller, &drafts).await?;
        opened += n;
    }
    let took = t.elapsed().as_secs_f64();
    println!("workspace: {opened} tasks opened (40 % then done) in {took:.1} s ({:.0}/s)", opened as f64 / took);

    // Two daily passes a week apart: bands and this week's band changes.
    let t = Instant::now();
    for day in [today - Days::new(7), today] {
        store.run_days("USD", day, day, |_, _| {}).await?;
    }
    println!("workspace: two daily passes ({:.1} s)", t.elapsed().as_secs_f64());
    Ok(members)
}

/// Has `a.clients` members ask for their pages without pause; prints the figures.
async fn ask(url: &str, store: &Store, members: &[(i64, String)], a: &WorkspaceArgs) -> anyhow::Result<()> {
    // A session per member asking, and some of their accounts to open.
    let mut sessions = Vec::new();
    for (id, _) in members.iter().take(a.clients) {
        let session = keepwell_server::secrets::random_token();
        let csrf = keepwell_server::secrets::random_token();
        store.create_session(&keepwell_server::secrets::hash_secret(&session), *id, &csrf, None, 3600).await?;
        let theirs =
            store.accounts(&AccountFilter { owner: Some(Some(*id)), limit: 200, ..Default::default() }).await?;
        let (token, hash, prefix) = keepwell_server::secrets::new_secret("kw");
        let member = Caller { user_id: Some(*id), role: Role::Csm, actor: keepwell_store::Actor::system("bench") };
        keepwell_server::people::create_api_token(store, &member, "bench", Role::Csm, (&hash, &prefix)).await?;
        sessions.push((session, token, theirs.data.iter().map(|a| a.id).collect::<Vec<_>>()));
    }
    store.close().await;

    let server = std::sync::Arc::new(Server::start(url).await?);
    let sessions = std::sync::Arc::new(sessions);
    // A server that just started reads its database from disk: a few seconds, not counted, first.
    let (_, errors) = drive(&server, &sessions, 3, Duration::ZERO).await?;
    if let Some(first) = errors.first() {
        println!("workspace pages: {} errors while warming up (first: {first})", errors.len());
    }
    // The pages at the team's most: every member asking again the moment an answer comes.
    let (all, errors) = drive(&server, &sessions, a.seconds, Duration::ZERO).await?;
    report(&format!("{} members at once for {} s without pause", a.clients, a.seconds), a.seconds, &all, &errors);
    // The pages as the team works, quickly: each member opens a page every half second.
    let (all, errors) = drive(&server, &sessions, 2 * a.seconds, Duration::from_millis(500)).await?;
    let how = format!("{} members each opening a page every half second for {} s", a.clients, 2 * a.seconds);
    report(&how, 2 * a.seconds, &all, &errors);
    Ok(())
}

/// One client per member asking for its pages for `seconds`, waiting `pause` after each answer;
/// returns (page, ms, bytes) for every answer and the errors.
#[allow(clippy::type_complexity)]
async fn drive(
    server: &std::sync::Arc<Server>,
    sessions: &std::sync::Arc<Vec<(String, String, Vec<i64>)>>,
    seconds: u64,
    pause: Duration,
) -> anyhow::Result<(Vec<(usize, f64, usize)>, Vec<String>)> {
    let stop = Instant::now() + Duration::from_secs(seconds);
    let mut clients = Vec::new();
    for c in 0..sessions.len() {
        let (server, sessions) = (server.clone(), sessions.clone());
        clients.push(tokio::spawn(async move {
            let (session, token, accounts) = &sessions[c];
            let mut rng = rand::rngs::StdRng::seed_from_u64(c as u64);
            let (cookie, token) = (Auth::Cookie(format!("kw_session={session}")), Auth::Token(token.clone()));
            let mut samples: Vec<(usize, f64, usize)> = Vec::new();
            let mut errors = Vec::new();
            // Members do not click in step: each starts somewhere in the first pause, and each
            // pause is the given one give or take a half.
            tokio::time::sleep(pause.mul_f64(rng.gen_range(0.0..1.0))).await;
            while Instant::now() < stop {
                let k = rng.gen_range(0..4);
                let account = accounts[rng.gen_range(0..accounts.len())];
                let (path, auth) = match k {
                    0 => ("/home".to_owned(), &cookie),
                    1 => ("/tasks".to_owned(), &cookie),
                    2 => (format!("/api/v1/accounts/{account}/timeline"), &token),
                    _ => (format!("/accounts/{account}"), &cookie),
                };
                match super::timed_get(&server, &path, auth).await {
                    Ok((ms, bytes)) => samples.push((k, ms, bytes)),
                    Err(e) => errors.push(e.to_string()),
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause.mul_f64(rng.gen_range(0.5..1.5))).await;
                }
            }
            (samples, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = Vec::new();
    for c in clients {
        let (s, e) = c.await?;
        all.extend(s);
        errors.extend(e);
    }
    Ok((all, errors))
}

fn report(how: &str, seconds: u64, all: &[(usize, f64, usize)], errors: &[String]) {
    println!(
        "workspace pages: {how}: {} requests ({:.0}/s), {} errors{}",
        all.len(),
        all.len() as f64 / seconds as f64,
        errors.len(),
        errors.first().map(|e| format!(" (first: {e})")).unwrap_or_default()
    );
    for (k, label) in ["home page /home", "task inbox /tasks", "timeline API", "account page"].iter().enumerate() {
        let mut v: Vec<f64> = all.iter().filter(|s| s.0 == k).map(|s| s.1).collect();
        v.sort_by(f64::total_cmp);
        let bytes = all.iter().filter(|s| s.0 == k).map(|s| s.2).max().unwrap_or(0);
        let target = if k < 3 { "   (target: p99 < 50 ms)" } else { "   (no target: the timeline above)" };
        println!(
            "  {label:18} n={:6}  p50 {:6.1} ms  p99 {:6.1} ms  max {:6.1} ms  largest {:.0} KB{target}",
            v.len(),
            percentile(&v, 0.5),
            percentile(&v, 0.99),
            percentile(&v, 1.0),
            bytes as f64 / 1024.0
        );
    }
}
