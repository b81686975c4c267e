//! `keepwell bench attribution`: a Segment history of N events (default 1 000 000) whose
//! groupIds no account holds yet is imported and waits; then a CRM import brings the accounts
//! (their CRM id = the groupId), and the time until every waiting event has its account and the
//! rollups count it is measured. Target: under 10 s for a million.

use chrono::Days;
use keepwell_core::account::AccountInput;
use keepwell_core::ingest::{Event, Kind};
use keepwell_server::cause::Caller;
use keepwell_store::usage::EventWriter;
use keepwell_store::Store;
use std::time::Instant;

/// Events per import group (the size `import events` writes in).
const GROUP: usize = 5_000;

pub async fn run(url: &str, events: usize, accounts: usize) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    if store.count_events(None).await? > 0 {
        anyhow::bail!("--target must be an empty database");
    }
    let accounts = accounts.clamp(1, events.max(1));
    let now = keepwell_store::Clock::system().now();
    // A year of history, spread evenly over the accounts, five users each.
    let event = move |i: usize| {
        let a = i % accounts;
        let at = now - Days::new((i / accounts % 365) as u64) - chrono::Duration::seconds((i % 86_000) as i64);
        Event {
            kind: Kind::Track,
            message_id: format!("bench-{i}"),
            event: Some(["Report Built", "Dashboard Viewed", "Export Run"][i % 3].into()),
            user_id: Some(format!("user-{a}-{}", i % 5)),
            anonymous_id: None,
            group_id: Some(format!("crm-{a}")),
            account_id: None,
            timestamp: at,
            original_timestamp: Some(at),
            sent_at: None,
            received_at: at,
            properties: None,
            context: None,
            time_replaced: false,
        }
    };
    let t = Instant::now();
    let groups = (0..events.div_ceil(GROUP))
        .map(move |g| Ok((g * GROUP..((g + 1) * GROUP).min(events)).map(event).collect::<Vec<_>>()));
    let summary = EventWriter::new(store.clone()).import(groups, false, &mut |_| ()).await?;
    let waiting = store.waiting_between(summary.ids.0, summary.ids.1).await?;
    println!(
        "history: {} events over {accounts} unknown groupIds imported in {:.1} s; {} wait for their account",
        summary.stored,
        t.elapsed().as_secs_f64(),
        waiting.events
    );

    let rows: Vec<_> = (0..accounts)
        .map(|a| {
            AccountInput {
                name: Some(format!("Account {a}")),
                external_ids: vec![("crm".into(), format!("crm-{a}"))],
                ..Default::default()
            }
            .validate()
            .map_err(|e| anyhow::anyhow!("{e}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let t = Instant::now();
    let imported = keepwell_server::accounts::import(&store, &Caller::system("bench"), &rows, false, |_| ()).await?;
    let took = t.elapsed().as_secs_f64();
    let left = store.unmatched(1, None).await?.data.len();
    println!(
        "attribution: {accounts} accounts imported and {} waiting events reached them in {took:.2} s \
         ({:.0} events/s; target < 10 s for 1 000 000); {} groupIds still wait",
        imported.attributed,
        imported.attributed as f64 / took.max(1e-9),
        left
    );
    if imported.attributed != waiting.events || left > 0 {
        anyhow::bail!("{} of {} waiting events were attributed", imported.attributed, waiting.events);
    }
    store.close().await;
    Ok(())
}
