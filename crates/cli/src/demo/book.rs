//! The books the backtest benchmark checks the default scorecard on: the demo, and books whose
//! customers behave differently before they churn (usage in `usage::Shape`, billing here).

use chrono::{Days, NaiveDate};
use keepwell_core::billing::{InvoiceInput, PeriodInput};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rust_decimal::Decimal;

/// A book of accounts: the demo, or one generated differently from it, to check that the default
/// scorecard predicts churn beyond the data its weights were chosen on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Book {
    /// The demo: usage fades over the 90 days before a churn.
    Demo,
    /// Most people stop at once, 3 weeks to 5 months before a churn; a fifth of leavers show
    /// nothing; stayers have lulls and spare seats.
    Drift,
    /// Money talks first: payments fail and seats are cut before a churn; usage thins late.
    Billing,
    /// Small teams: the champion leaves 1–3 months before a churn and the rest slow down.
    Champion,
}

impl Book {
    pub const ALL: [Book; 4] = [Book::Demo, Book::Drift, Book::Billing, Book::Champion];
    pub fn name(self) -> &'static str {
        match self {
            Book::Demo => "demo",
            Book::Drift => "drift",
            Book::Billing => "billing",
            Book::Champion => "champion",
        }
    }
    pub fn about(self) -> &'static str {
        match self {
            Book::Demo => "usage fades linearly over the 90 days before a churn; leavers are less keen and adopt fewer features",
            Book::Drift => {
                "leavers as keen as anyone until 40–90 % of their people stop at once, 20 to 150 days before the churn; \
                 a fifth of leavers show nothing; a fifth of stayers have a lull of 3–8 weeks, a quarter use a third of their seats"
            }
            Book::Billing => {
                "before a churn, 60 % have a failed or overdue invoice and 40 % cut seats by half 1–3 months ahead; \
                 usage thins only in the last 30 days and only for half, the habitual users going on"
            }
            Book::Champion => {
                "teams of at most 8 people; the most active one stops 30 to 90 days before a churn and the rest \
                 slow by a third over the last 60; 30 % of leavers show nothing; 15 % of stayers lose their champion and go on"
            }
        }
    }
    /// The seed the backtest benchmark writes it with.
    pub fn seed(self) -> u64 {
        match self {
            Book::Demo => 42,
            Book::Drift => 7,
            Book::Billing => 2027,
            Book::Champion => 99,
        }
    }
}

fn date(s: &Option<String>) -> Option<NaiveDate> {
    s.as_deref().and_then(|d| d.parse().ok())
}

/// The billing book: before 60 % of churns the last invoice failed and another is overdue;
/// before 40 % (of periods long enough) the seats were halved 1–3 months ahead.
pub fn money_talks(seed: u64, periods: &mut Vec<PeriodInput>, invoices: &mut Vec<InvoiceInput>) {
    let mut rng = StdRng::seed_from_u64(seed ^ 0xb111);
    let ends: Vec<(usize, String, NaiveDate)> = periods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.renews_on.is_none())
        .filter_map(|(i, p)| Some((i, p.account_external_id.clone()?, date(&p.ends_on)?)))
        .filter(|(_, a, end)| {
            !periods.iter().any(|q| q.account_external_id.as_ref() == Some(a) && date(&q.starts_on) == Some(*end))
        })
        .collect();
    for (i, account, end) in ends {
        if rng.gen_bool(0.6) {
            let last = invoices
                .iter()
                .enumerate()
                .filter(|(_, v)| {
                    v.account_external_id.as_ref() == Some(&account) && date(&v.issued_on).is_some_and(|d| d < end)
                })
                .max_by_key(|(_, v)| date(&v.issued_on))
                .map(|(k, _)| k);
            if let Some(k) = last {
                let mut late = invoices[k].clone();
                invoices[k].status = Some("failed".into());
                invoices[k].paid_on = None;
                let issued = end - Days::new(rng.gen_range(35..60));
                late.invoice_id = late.invoice_id.map(|id| format!("{id}-late"));
                late.issued_on = Some(issued.to_string());
                late.due_on = Some((issued + Days::new(14)).to_string());
                late.paid_on = None;
                late.status = Some("open".into());
                invoices.push(late);
            }
        }
        let start = date(&periods[i].starts_on).unwrap_or(end);
        if rng.gen_bool(0.4) && (end - start).num_days() >= 120 {
            let cut = end - Days::new(rng.gen_range(30..90));
            let seats: i64 = periods[i].quantity.as_deref().and_then(|q| q.parse().ok()).unwrap_or(1);
            let amount: Decimal = periods[i].amount.as_deref().and_then(|a| a.parse().ok()).unwrap_or_default();
            let kept = (seats / 2).max(1);
            let mut tail = periods[i].clone();
            periods[i].ends_on = Some(cut.to_string());
            tail.starts_on = Some(cut.to_string());
            tail.quantity = Some(kept.to_string());
            tail.amount = Some((amount * Decimal::from(kept) / Decimal::from(seats.max(1))).round_dp(2).to_string());
            periods.push(tail);
        }
    }
}
