//! `keepwell demo`: a believable, reproducible workspace (same seed, same data) — a CS team and its
//! book of accounts across industries, sizes and countries, with contacts, billing history and
//! product usage. Later features extend it.

mod book;
mod health;
mod usage;
mod workspace;
pub use workspace::open_tasks;

pub use book::Book;

use anyhow::{bail, Context};
use keepwell_core::account::AccountInput;
use keepwell_core::billing::{FxRateInput, InvoiceInput, PeriodInput};
use keepwell_core::contact::ContactInput;
use keepwell_core::money::Month;
use keepwell_core::{AttrValue, Role};
use keepwell_server::cause::Caller;
use keepwell_store::accounts::AccountFilter;
use keepwell_store::people::NewUser;
use keepwell_store::usage::EventWriter;
use keepwell_store::Store;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// How many accounts.
    #[arg(long, default_value_t = 300)]
    pub accounts: usize,
    /// Days of history for the features that keep history (billing, usage) as they arrive.
    #[arg(long, default_value_t = 1095)]
    pub days: u32,
    /// The same seed writes the same workspace.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// How its customers behave before they churn (the backtest benchmark's held-out books).
    #[arg(long, value_enum, default_value_t = Book::Demo)]
    pub book: Book,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs { accounts: 300, days: 1095, seed: 42, book: Book::Demo }
    }
}

/// The demo team's login; every demo member has the same password.
pub const ADMIN_EMAIL: &str = "admin@demo.keepwell.dev";
pub const PASSWORD: &str = "keepwell-demo";

const TEAM: &[(&str, &str, Role)] = &[
    (ADMIN_EMAIL, "Alex Admin", Role::Admin),
    ("maria.lopez@demo.keepwell.dev", "Maria Lopez", Role::Manager),
    ("sam.okafor@demo.keepwell.dev", "Sam Okafor", Role::Csm),
    ("lena.schmidt@demo.keepwell.dev", "Lena Schmidt", Role::Csm),
    ("ivan.petrov@demo.keepwell.dev", "Ivan Petrov", Role::Csm),
    ("priya.nair@demo.keepwell.dev", "Priya Nair", Role::Csm),
    ("tom.becker@demo.keepwell.dev", "Tom Becker", Role::Csm),
    ("vera.quinn@demo.keepwell.dev", "Vera Quinn", Role::Viewer),
];

const PREFIXES: &[&str] = &[
    "Acme",
    "Blue",
    "Bright",
    "Cedar",
    "Clear",
    "Delta",
    "Evergreen",
    "Falcon",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Keystone",
    "Lumen",
    "Maple",
    "Nimbus",
    "Northwind",
    "Orbit",
    "Pioneer",
    "Quantum",
    "Redwood",
    "Summit",
    "Tidal",
    "Union",
    "Vertex",
    "Willow",
    "Zenith",
    "Atlas",
    "Beacon",
    "Cobalt",
    "Driftwood",
    "Ember",
    "Fjord",
    "Helix",
    "Polar",
];
const SUFFIXES: &[&str] = &[
    "Labs",
    "Logistics",
    "Health",
    "Analytics",
    "Systems",
    "Foods",
    "Media",
    "Capital",
    "Robotics",
    "Energy",
    "Retail",
    "Software",
    "Partners",
    "Works",
    "Bank",
    "Studios",
    "Networks",
    "Learning",
    "Mobility",
    "Clinics",
];
const INDUSTRIES: &[&str] = &[
    "Software",
    "Financial services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Logistics",
    "Education",
    "Media",
    "Energy",
    "Professional services",
];
/// Country and its weight in the book.
const COUNTRIES: &[(&str, u32)] = &[
    ("US", 30),
    ("DE", 14),
    ("GB", 12),
    ("FR", 8),
    ("NL", 6),
    ("ES", 5),
    ("SE", 4),
    ("PL", 4),
    ("BR", 4),
    ("CA", 5),
    ("AU", 4),
    ("RU", 4),
];
/// Plan, employee range, weight.
const PLANS: &[(&str, u32, u32, u32)] =
    &[("Starter", 5, 60, 35), ("Growth", 40, 400, 35), ("Business", 200, 2_500, 20), ("Enterprise", 1_500, 60_000, 10)];
const STAGES: &[(&str, u32)] = &[
    ("onboarding", 12),
    ("adoption", 25),
    ("value", 25),
    ("expansion", 10),
    ("advocacy", 8),
    ("renewal", 12),
    ("churned", 8),
];
const TAGS: &[&str] = &["strategic", "beta-program", "reference", "at-risk", "partner", "multi-product", "self-serve"];
const FIRST: &[&str] = &[
    "Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonas", "Kate", "Luca", "Mila",
    "Nora", "Omar", "Pia", "Rafael", "Sofia", "Theo", "Uma", "Viktor", "Yara", "Zoe", "Dmitri", "Olga",
];
const LAST: &[&str] = &[
    "Andersen", "Brooks", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova", "Jensen", "Kowalski",
    "Larsen", "Moreau", "Novak", "Olsen", "Park", "Rossi", "Silva", "Tanaka", "Weber", "Young", "Smirnov",
];
const TITLES: &[(&str, &str)] = &[
    ("VP Operations", "decision_maker"),
    ("Head of Customer Experience", "champion"),
    ("Finance Manager", "billing"),
    ("Product Lead", "champion"),
    ("CTO", "decision_maker"),
    ("Team Lead", "user"),
    ("Analyst", "user"),
    ("Operations Manager", "user"),
];

fn weighted<'a, T>(rng: &mut StdRng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut pick = rng.gen_range(0..total);
    for item in items {
        let w = weight(item);
        if pick < w {
            return item;
        }
        pick -= w;
    }
    &items[items.len() - 1]
}

fn locale_for(country: &str) -> &'static str {
    match country {
        "DE" => "de",
        "FR" => "fr",
        "ES" => "es",
        "RU" => "ru",
        "PL" => "pl",
        "NL" => "nl",
        "SE" => "sv",
        "BR" => "pt-BR",
        _ => "en",
    }
}

/// The demo's accounts and contacts, from the seed alone.
pub fn generate(args: &DemoArgs) -> (Vec<AccountInput>, Vec<ContactInput>) {
    let mut rng = StdRng::seed_from_u64(args.seed);
    let mut accounts = Vec::with_capacity(args.accounts);
    let mut contacts = Vec::new();
    let csms: Vec<&str> = TEAM.iter().filter(|(_, _, r)| *r == Role::Csm).map(|(e, _, _)| *e).collect();
    let mut used = std::collections::HashSet::new();
    for i in 0..args.accounts {
        let mut name = format!(
            "{} {}",
            PREFIXES.choose(&mut rng).unwrap_or(&"Acme"),
            SUFFIXES.choose(&mut rng).unwrap_or(&"Labs")
        );
        if !used.insert(name.clone()) {
            name = format!("{name} {}", i + 1);
            used.insert(name.clone());
        }
        let slug: String = name.to_lowercase().chars().filter(|c| c.is_ascii_alphanumeric()).collect();
        let country = weighted(&mut rng, COUNTRIES, |c| c.1).0;
        let (plan, lo, hi, _) = *weighted(&mut rng, PLANS, |p| p.3);
        // Sizes spread log-uniformly within a plan's range.
        let employees =
            ((lo as f64).ln() + rng.gen::<f64>() * ((hi as f64).ln() - (lo as f64).ln())).exp().round() as i64;
        let stage = weighted(&mut rng, STAGES, |s| s.1).0;
        let owner = (rng.gen_range(0..10) < 9).then(|| csms.choose(&mut rng).map(|e| e.to_string())).flatten();
        let mut tags: Vec<String> = TAGS.iter().filter(|_| rng.gen_range(0..100) < 12).map(|t| t.to_string()).collect();
        if plan == "Enterprise" && rng.gen_bool(0.5) {
            tags.push("strategic".into());
        }
        let crm = format!("0015g{:08}", 1000 + i);
        let seats = (employees as f64 * rng.gen_range(0.05..0.6)).max(3.0).round();
        accounts.push(AccountInput {
            name: Some(name.clone()),
            domain: Some(format!("{slug}.example")),
            industry: Some(INDUSTRIES.choose(&mut rng).unwrap_or(&"Software").to_string()),
            employees: Some(employees.to_string()),
            country: Some(country.into()),
            plan: Some(plan.into()),
            lifecycle_stage: Some(stage.into()),
            owner_email: owner,
            owner_id: None,
            tags,
            external_ids: vec![("crm".into(), crm.clone()), ("stripe".into(), format!("cus_demo{:06}", i + 1))],
            attributes: vec![
                (
                    "seats_purchased".into(),
                    Some(AttrValue::infer(&format!("{seats}")).unwrap_or(AttrValue::Text(seats.to_string()))),
                ),
                (
                    "onboarding_model".into(),
                    Some(AttrValue::Text(
                        match plan {
                            "Starter" => "self-service",
                            "Growth" => "low-touch",
                            _ => "high-touch",
                        }
                        .into(),
                    )),
                ),
                ("sso_enabled".into(), Some(AttrValue::Bool(plan == "Enterprise" || rng.gen_bool(0.2)))),
            ],
        });
        let n = match plan {
            "Starter" => rng.gen_range(1..=2),
            "Growth" => rng.gen_range(2..=4),
            _ => rng.gen_range(3..=6),
        };
        for k in 0..n {
            let first = FIRST.choose(&mut rng).unwrap_or(&"Anna");
            let last = LAST.choose(&mut rng).unwrap_or(&"Smith");
            let (title, role) = TITLES[if k == 0 { 1 } else { rng.gen_range(0..TITLES.len()) }];
            contacts.push(ContactInput {
                account_external_id: Some(crm.clone()),
                email: Some(format!("{}.{}{k}@{slug}.example", first.to_lowercase(), last.to_lowercase())),
                name: Some(format!("{first} {last}")),
                title: Some(title.into()),
                role: Some(role.into()),
                locale: Some(locale_for(country).into()),
                external_user_ids: vec![format!("usr_{}_{k}", i + 1)],
                ..Default::default()
            });
        }
    }
    (accounts, contacts)
}

/// Writes the demo into an empty database; returns what was written and how to log in.
pub async fn write(store: &Store, args: &DemoArgs, reporting: &str) -> anyhow::Result<String> {
    let written = write_book(store, args).await?;
    let today = store.clock().today();
    let mut snapshots = 0;
    store
        .run_days(reporting, today - chrono::Days::new(health::REPLAY_DAYS - 1), today, |_, out| {
            snapshots += out.snapshots.len()
        })
        .await?;
    Ok(format!(
        "{written}, {snapshots} health snapshots over {} days, {} team members (seed {}).\n{}",
        health::REPLAY_DAYS,
        TEAM.len(),
        args.seed,
        login()
    ))
}

/// The demo's book without its health history: team, accounts, contacts, billing, usage,
/// definitions and sentiments. Says what it wrote.
pub async fn write_book(store: &Store, args: &DemoArgs) -> anyhow::Result<String> {
    if store.count_users().await? > 0 || store.count_accounts(&AccountFilter::default()).await? > 0 {
        bail!("the database already holds a workspace; the demo is written only into an empty one (use another --data-dir)");
    }
    let caller = Caller::system("demo");
    write_team(store, &caller).await?;
    let (inputs, contacts) = generate(args);
    let mut people: std::collections::HashMap<String, Vec<String>> = Default::default();
    for c in &contacts {
        if let (Some(crm), Some(email)) = (&c.account_external_id, &c.email) {
            people.entry(crm.clone()).or_default().push(email.clone());
        }
    }
    let accounts: Vec<_> =
        inputs.clone().into_iter().map(|a| a.validate()).collect::<Result<_, _>>().context("demo account")?;
    let contacts: Vec<_> =
        contacts.into_iter().map(|c| c.validate()).collect::<Result<_, _>>().context("demo contact")?;
    keepwell_server::accounts::import(store, &caller, &accounts, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    keepwell_server::contacts::import(store, &caller, &contacts, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (periods, invoices) = write_billing(store, &caller, args, &inputs).await?;
    let events = write_usage(store, &caller, args, &inputs, &periods).await?;
    let today = store.clock().today();
    let ids = account_ids(store, &inputs).await?;
    let sentiments = health::write(store, &caller, (args.seed, args.book), &periods, &ids, today).await?;
    let (interactions, tasks) =
        workspace::write(store, &caller, args.seed, (&inputs, &people), &periods, today).await?;
    Ok(format!(
        "Demo workspace written: {} accounts, {} contacts, {} subscription periods, {} invoices, {} product events, \
         {sentiments} sentiment ratings, {interactions} interactions, {tasks} tasks",
        accounts.len(),
        contacts.len(),
        periods.len(),
        invoices,
        events,
    ))
}

/// Writes the billing history of `inputs` (already stored accounts) up to today; returns the
/// periods written and the number of invoices.
pub async fn write_billing(
    store: &Store,
    caller: &Caller,
    args: &DemoArgs,
    inputs: &[AccountInput],
) -> anyhow::Result<(Vec<PeriodInput>, usize)> {
    let (period_inputs, invoices, fx) = billing(args, inputs, store.clock().today());
    let periods: Vec<_> =
        period_inputs.iter().map(|p| p.validate()).collect::<Result<_, _>>().context("demo period")?;
    let invoices: Vec<_> = invoices.iter().map(|i| i.validate()).collect::<Result<_, _>>().context("demo invoice")?;
    let fx: Vec<_> = fx.iter().map(|r| r.validate()).collect::<Result<_, _>>().context("demo FX rate")?;
    keepwell_server::billing::save_fx_rates(store, caller, &fx, false).await?;
    keepwell_server::billing::import_periods(store, caller, &periods, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    keepwell_server::billing::import_invoices(store, caller, &invoices, false, |_| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((period_inputs, invoices.len()))
}

/// Writes the product usage of `inputs` (stored accounts with their billing `periods`) over the
/// last year, and the plan → features catalogue it is measured against; returns how many events.
pub async fn write_usage(
    store: &Store,
    caller: &Caller,
    args: &DemoArgs,
    inputs: &[AccountInput],
    periods: &[PeriodInput],
) -> anyhow::Result<usize> {
    let today = store.clock().today();
    let crm = crm_ids(inputs);
    let ids = account_ids(store, inputs).await?;
    keepwell_server::usage::set_plan_features(store, caller, &usage::catalogue()).await?;
    let events = usage::events(args.seed, args.book, periods, &crm, &ids, today);
    let n = events.iter().map(Vec::len).sum();
    let groups = events.into_iter().map(Ok::<_, keepwell_store::StoreError>);
    EventWriter::new(store.clone()).import(groups, false, &mut |_| ()).await?;
    Ok(n)
}

fn crm_ids(inputs: &[AccountInput]) -> Vec<String> {
    inputs.iter().map(|a| a.external_ids.first().map(|(_, v)| v.clone()).unwrap_or_default()).collect()
}

/// The stored id of each demo account, by its CRM id.
async fn account_ids(store: &Store, inputs: &[AccountInput]) -> anyhow::Result<std::collections::HashMap<String, i64>> {
    let crm = crm_ids(inputs);
    let ids = store.accounts_by_external_values(&crm.iter().map(String::as_str).collect::<Vec<_>>()).await?;
    Ok(ids.into_iter().filter_map(|(k, v)| Some((k, *v.first()?))).collect())
}

/// The demo team, all with the demo password.
pub async fn write_team(store: &Store, caller: &Caller) -> anyhow::Result<()> {
    let hash = keepwell_server::secrets::hash_password(PASSWORD.into()).await?;
    for (email, name, role) in TEAM {
        keepwell_server::people::create_user(
            store,
            caller,
            &NewUser { email, name, role: *role, password_hash: &hash },
        )
        .await?;
    }
    Ok(())
}

fn login() -> String {
    format!("Log in as {ADMIN_EMAIL} with password {PASSWORD} (every demo member, e.g. sam.okafor@demo.keepwell.dev, has the same password).")
}

/// For `serve --demo`: fills an empty database, or reports the login of an existing demo.
pub async fn ensure(store: &Store, reporting: &str) -> anyhow::Result<String> {
    if store.user_by_email(ADMIN_EMAIL).await?.is_some() {
        return Ok(format!("Demo workspace found. {}", login()));
    }
    if store.count_users().await? > 0 {
        return Ok("--demo: the database already holds a workspace that is not the demo; serving it unchanged.".into());
    }
    write(store, &DemoArgs::default(), reporting).await
}

/// Monthly list price per seat, by plan, in the account's currency.
fn seat_price(plan: &str) -> i64 {
    match plan {
        "Starter" => 15,
        "Growth" => 30,
        "Business" => 45,
        _ => 60,
    }
}

const PLAN_LADDER: [&str; 4] = ["Starter", "Growth", "Business", "Enterprise"];
const EURO_COUNTRIES: &[&str] = &["DE", "FR", "NL", "ES", "IT", "AT", "BE", "FI", "IE", "PT"];

/// Billing history for the demo accounts over `days` up to `today`: monthly and annual plans,
/// seat changes, upgrades, downgrades, churn (some after failed payments), reactivations, EUR
/// and USD with monthly rates. Its own random stream, so the accounts stay as they were.
pub fn billing(
    args: &DemoArgs,
    accounts: &[AccountInput],
    today: chrono::NaiveDate,
) -> (Vec<PeriodInput>, Vec<InvoiceInput>, Vec<FxRateInput>) {
    use chrono::Days;
    let mut rng = StdRng::seed_from_u64(args.seed.wrapping_add(0x5eed));
    let first_day = today - Days::new(u64::from(args.days.max(60)));
    let mut periods = Vec::new();
    let mut invoices = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        let crm = a.external_ids.first().map(|(_, v)| v.clone()).unwrap_or_default();
        let euro = a.country.as_deref().is_some_and(|c| EURO_COUNTRIES.contains(&c));
        let currency = if euro { "EUR" } else { "USD" };
        let mut plan_ix = PLAN_LADDER.iter().position(|p| Some(*p) == a.plan.as_deref()).unwrap_or(1);
        let employees: i64 = a.employees.as_deref().and_then(|e| e.parse().ok()).unwrap_or(20);
        let mut seats = ((employees as f64) * rng.gen_range(0.01..0.08)).clamp(3.0, 400.0).round() as i64;
        // Most customers are older than a year; a few signed up in the last months.
        let span = (today - first_day).num_days().max(1) as u64;
        let offset = (rng.gen::<f64>().powf(1.6) * span as f64) as u64;
        let mut day = first_day + Days::new(offset.min(span - 30));
        let mut life = 0;
        'life: while day < today {
            life += 1;
            let sub = format!("demo-{i}-{life}");
            let annual = match PLAN_LADDER[plan_ix] {
                "Starter" => false,
                "Growth" => rng.gen_bool(0.4),
                _ => rng.gen_bool(0.75),
            };
            let term = if annual { 12 } else { 1 };
            let mut start = day;
            let mut invoice_no = 0;
            loop {
                // One term (a month or a year) at the current price.
                let end = start.checked_add_months(chrono::Months::new(term)).unwrap_or(today);
                let monthly = seat_price(PLAN_LADDER[plan_ix]) * seats;
                let amount = if annual { monthly * 12 * 9 / 10 } else { monthly };
                invoice_no += 1;
                let churns = rng.gen_bool(if annual { 0.12 } else { [0.035, 0.02, 0.012, 0.008][plan_ix] });
                let failed = churns && rng.gen_bool(0.3);
                let due = start + Days::new(if annual { 30 } else { 14 });
                let (status, paid_on) = if failed {
                    ("failed", None)
                } else if due >= today && rng.gen_bool(0.5) || due < today && rng.gen_bool(0.02) {
                    ("open", None)
                } else {
                    ("paid", Some(start + Days::new(rng.gen_range(0..20))))
                };
                invoices.push(InvoiceInput {
                    account_external_id: Some(crm.clone()),
                    invoice_id: Some(format!("inv-{i}-{life}-{invoice_no}")),
                    currency: Some(currency.into()),
                    amount: Some(amount.to_string()),
                    issued_on: Some(start.to_string()),
                    due_on: Some(due.to_string()),
                    paid_on: paid_on.map(|d: chrono::NaiveDate| d.min(today).to_string()),
                    status: Some(status.into()),
                });
                // A change (seats, plan) or the end closes this period; otherwise the period
                // carries on into the next term.
                let change = !churns && end < today && rng.gen_bool(if annual { 0.5 } else { 0.08 });
                let last = churns || end >= today || change;
                if last {
                    let open = !churns && end >= today;
                    periods.push(PeriodInput {
                        account_external_id: Some(crm.clone()),
                        subscription_id: Some(sub.clone()),
                        plan: Some(PLAN_LADDER[plan_ix].into()),
                        quantity: Some(seats.to_string()),
                        currency: Some(currency.into()),
                        amount: Some(amount.to_string()),
                        interval: Some(if annual { "year" } else { "month" }.into()),
                        starts_on: Some(day.to_string()),
                        ends_on: (!open).then(|| end.to_string()),
                        renews_on: open.then(|| end.to_string()),
                        payment_terms: Some(if annual { "net30" } else { "prepaid" }.into()),
                        term_months: None,
                    });
                    day = end;
                }
                start = end;
                if churns {
                    // A third come back after a few months, often on a smaller plan.
                    if rng.gen_bool(0.33) {
                        day = day + Days::new(rng.gen_range(60..240));
                        plan_ix = plan_ix.saturating_sub(usize::from(rng.gen_bool(0.5)));
                        continue 'life;
                    }
                    break 'life;
                }
                if end >= today {
                    break 'life;
                }
                if change {
                    match rng.gen_range(0..10) {
                        0..=5 => seats = (seats + (seats / 5).max(1) * rng.gen_range(1..=3)).min(5_000),
                        6..=7 => seats = (seats - (seats / 5).max(1)).max(1),
                        8 => plan_ix = (plan_ix + 1).min(3),
                        _ => plan_ix = plan_ix.saturating_sub(1),
                    }
                }
            }
        }
    }
    if args.book == Book::Billing {
        book::money_talks(args.seed, &mut periods, &mut invoices);
    }
    // EUR per USD drifts between 1.02 and 1.16; one rate per month of the history.
    let mut fx = Vec::new();
    let first = Month::of(first_day).plus(-1);
    let mut rate = 1.08_f64;
    for m in first.through(Month::of(today).plus(1)) {
        rate = (rate + rng.gen_range(-0.015..0.015)).clamp(1.02, 1.16);
        fx.push(FxRateInput {
            currency: Some("EUR".into()),
            month: Some(m.to_string()),
            rate: Some(format!("{rate:.4}")),
        });
    }
    (periods, invoices, fx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_writes_the_same_workspace() {
        let args = |seed| DemoArgs { accounts: 50, days: 30, seed, book: Book::Demo };
        let (a, b, c) = (generate(&args(7)), generate(&args(7)), generate(&args(8)));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(a.0.len(), 50);
        assert!(a.1.len() >= 50);
        for acc in a.0 {
            acc.validate().unwrap();
        }
    }
}
