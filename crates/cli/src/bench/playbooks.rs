//! `keepwell bench playbooks`: N accounts (default 100 000) with 36 months of billing and 90 days
//! of usage (the health benchmark's workspace), 50 enabled playbooks of every trigger kind (a
//! measure's band, the health band, a condition; held 1 to 14 days) each opening a task; then
//! the daily pass that acts (what a tick runs) for four days, the same pass without playbooks, and
//! a simulation of one playbook over 90 days. Targets: a tick < 5 s, a 90-day simulation < 60 s.

use super::{health, metrics_workspace, rss_mb};
use chrono::Days;
use keepwell_core::health::Band;
use keepwell_core::playbook::{ActionDef, PlaybookDef, Reenrol, TriggerDef};
use keepwell_server::cause::Caller;
use keepwell_store::health::Scope;
use keepwell_store::{Actor, Store};
use std::time::Instant;

/// 50 playbooks: 5 kinds of trigger, each at 10 lengths.
fn playbooks() -> Vec<PlaybookDef> {
    let measures = ["license_utilization", "active_users", "days_since_activity", "users_retained"];
    let conditions = ["license_utilization() >= 90", "active_users(30) < 3 and mrr > 0", "days_to_renewal <= 60"];
    (0..50)
        .map(|i| {
            let days = 1 + (i as u32 % 10) * 14 / 10;
            let trigger = match i % 5 {
                0 | 1 => TriggerDef::Measure {
                    measure: measures[i % measures.len()].into(),
                    band: if i % 2 == 0 { Band::Red } else { Band::Yellow },
                    days,
                },
                2 => TriggerDef::Health { band: [Band::Red, Band::Yellow, Band::Green][i % 3], days },
                _ => TriggerDef::Condition { condition: conditions[i % conditions.len()].into(), days },
            };
            PlaybookDef {
                key: format!("bench-{i:02}"),
                name: format!("Bench playbook {i}"),
                description: String::new(),
                trigger,
                condition: (i % 4 == 0).then(|| "mrr > 0".to_owned()),
                reenrol: Reenrol::EveryTime,
                reenrol_days: None,
                close_after_days: (i % 3 == 0).then_some(3),
                actions: vec![ActionDef::Task {
                    title: format!("Bench task {i}"),
                    task_kind: "risk".into(),
                    priority: "normal".into(),
                    due_days: Some(7),
                    description: String::new(),
                }],
                enabled: None,
            }
        })
        .collect()
}

pub async fn run(url: &str, accounts: usize) -> anyhow::Result<()> {
    let store = Store::connect(url).await?;
    store.migrate().await?;
    metrics_workspace(&store, accounts).await?;
    let today = keepwell_store::Clock::system().today();
    let ids: Vec<i64> =
        store.pass_facts(Scope::All, today, today, &Default::default()).await?.iter().map(|f| f.id).collect();
    if !store.usage_tracked().await? {
        let rows = health::usage(&store, &ids, today, 120).await?;
        println!("workspace: {rows} usage bit rows (120 days of users and usage names)");
    }
    let defs = playbooks();
    let mut w = store.write(&Actor::system("bench")).await?;
    keepwell_store::playbooks::apply(&mut w, &defs).await?;
    for d in &defs {
        keepwell_store::playbooks::switch(&mut w, &d.key, true, "new", &[]).await?;
    }
    w.commit().await?;

    // Four days' passes that act, from where nothing stood yet: the first days fire for every
    // account already in a run of days, the last shows a day once the runs are under way.
    for back in (0..4).rev() {
        let day = today - Days::new(back);
        let before = store.playbook_runs(None, None, 1).await?.first().map_or(0, |r| r.id);
        let t = Instant::now();
        store.act_days("USD", day, day, |_, _| {}).await?;
        let took = t.elapsed().as_secs_f64();
        let fired = store.playbook_runs(None, None, 1).await?.first().map_or(0, |r| r.id) - before;
        println!(
            "tick {day}: 50 playbooks over {} accounts in {took:.2} s, {fired} runs (each a task opened or asked again); \
             RSS {:.0} MB (target < 5 s)",
            ids.len(),
            rss_mb(std::process::id())
        );
    }
    // The same day's pass without playbooks (a replay's): what the playbooks added to it.
    let t = Instant::now();
    store.run_days("USD", today, today, |_, _| {}).await?;
    println!("the same pass without playbooks: {:.2} s", t.elapsed().as_secs_f64());

    let p = store.playbooks().await?.into_iter().find(|p| p.key == "bench-02").expect("bench-02");
    let key = p.key.clone();
    let t = Instant::now();
    let sim = keepwell_server::playbooks::simulate(
        &store,
        &Caller::system("bench"),
        "USD",
        (&key, false),
        (today - Days::new(89), today),
        "existing",
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "simulation of {key} ({:?}) over 90 days x {} accounts: {} acts in {:.1} s (target < 60 s)",
        p.definition.trigger,
        ids.len(),
        sim.total,
        t.elapsed().as_secs_f64()
    );
    store.close().await;
    Ok(())
}
