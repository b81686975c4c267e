//! The measure sources a scorecard draws on, and the names the filter language knows: the same
//! source is a measure (`active_users(30)`) and, in an expression, a function
//! (`active_users(30) < 5`).

use crate::expr::{self, Expr, Operand, Schema, Value};
use rust_decimal::prelude::ToPrimitive;
use std::fmt;

/// The fields of an account an expression may name (besides `attribute.NAME`).
pub const FIELDS: &[&str] = &[
    "plan",
    "country",
    "industry",
    "employees",
    "stage",
    "mrr",
    "arr",
    "tenure_days",
    "days_to_renewal",
    "renewal_term_months",
    "days_to_churn",
    "health",
    "band",
    "tags",
];

/// The sources, as functions: name, least and most arguments.
pub const FUNCTIONS: &[(&str, usize, usize)] = &[
    ("active_users", 1, 1),
    ("license_utilization", 0, 1),
    ("usage_trend", 1, 1),
    ("active_users_trend", 1, 1),
    ("users_retained", 2, 2),
    ("feature_adoption", 0, 0),
    ("events", 2, 2),
    ("event_trend", 2, 2),
    ("days_since_activity", 0, 0),
    ("mrr_change", 1, 1),
    ("days_overdue", 0, 0),
    ("downgraded_within", 1, 1),
    ("days_since_interaction", 0, 0),
    ("sentiment", 0, 0),
    ("stripe_events", 2, 2),
];

/// What the filter language may name.
pub const SCHEMA: Schema<'static> = Schema {
    fields: FIELDS,
    numbers: &[
        "employees",
        "mrr",
        "arr",
        "tenure_days",
        "days_to_renewal",
        "renewal_term_months",
        "days_to_churn",
        "health",
    ],
    texts: &["plan", "country", "industry", "stage", "band"],
    functions: FUNCTIONS,
};

/// Where a measure's raw value comes from, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Source {
    /// Distinct users active in the last `days` days.
    ActiveUsers {
        days: u32,
    },
    /// Users active in the last `days` days (30 when not given) ÷ licensed seats, percent.
    LicenseUtilization {
        days: u32,
    },
    /// Change of all usage events over `days` days against the `days` before, percent.
    UsageTrend {
        days: u32,
    },
    /// Change of distinct users active over `days` days against the `days` before, percent:
    /// people leaving, which a quiet stretch of the same people does not look like.
    UsersTrend {
        days: u32,
    },
    /// Of the users active in the `before` days before the last `days`, the percent active
    /// again in the last `days`: people who left, however quietly the rest work.
    UsersRetained {
        days: u32,
        before: u32,
    },
    /// Features of its plans used in 30 days ÷ features they include, percent.
    FeatureAdoption,
    /// Events named `event` in the last `days` days.
    Events {
        event: String,
        days: u32,
    },
    /// Change of events named `event` over `days` days against the `days` before, percent.
    EventTrend {
        event: String,
        days: u32,
    },
    /// Days since any of its users was last active.
    DaysSinceActivity,
    /// MRR in the reporting currency.
    Mrr,
    /// MRR change over the last `days` days, percent.
    MrrChange {
        days: u32,
    },
    /// Days the oldest unpaid invoice is past due (0 when none).
    DaysOverdue,
    TenureDays,
    DaysToRenewal,
    /// 1 when MRR fell (a downgrade) within the last `days` days, else 0.
    DowngradedWithin {
        days: u32,
    },
    DaysSinceInteraction,
    /// The latest CSM sentiment rating.
    Sentiment,
    /// Stripe events of type `event` (`invoice.payment_failed`) applied to the account in the
    /// last `days` days.
    StripeEvents {
        event: String,
        days: u32,
    },
    /// A numeric custom attribute.
    Attribute {
        name: String,
    },
}

impl Source {
    /// Reads a source as written in a scorecard: `active_users(30)`, `events("Report Built", 30)`,
    /// `mrr`, `attribute.seats_purchased`. Errors name the column.
    pub fn parse(text: &str) -> Result<Source, expr::ParseError> {
        let wrong = |message: &str| expr::ParseError { column: 1, message: message.into() };
        match expr::parse(text, &SCHEMA)? {
            Expr::Truthy(Operand::Field(name)) => match name.as_str() {
                "mrr" => Ok(Source::Mrr),
                "tenure_days" => Ok(Source::TenureDays),
                "days_to_renewal" => Ok(Source::DaysToRenewal),
                _ => match name.strip_prefix("attribute.") {
                    Some(a) => Ok(Source::Attribute { name: a.into() }),
                    None => Err(wrong(&format!("{name} is not a measure source"))),
                },
            },
            Expr::Truthy(Operand::Call(name, args)) => Source::of_call(&name, &args),
            _ => Err(wrong("a measure source is one field or function, such as active_users(30)")),
        }
    }

    /// The source a function call of the filter language names, if any: read directly from the
    /// parsed call, since expressions call this for every account they are evaluated on.
    pub fn from_call(name: &str, args: &[Value]) -> Option<Source> {
        Source::of_call(name, args).ok()
    }

    fn of_call(name: &str, args: &[Value]) -> Result<Source, expr::ParseError> {
        let wrong = |message: &str| expr::ParseError { column: 1, message: message.into() };
        let days = |v: &Value| match v {
            Value::Number(n) => n.to_u32().filter(|d| (1..=3650).contains(d) && n.fract().is_zero()),
            _ => None,
        };
        let text_arg = |v: &Value| match v {
            Value::Text(t) if !t.trim().is_empty() => Some(t.clone()),
            _ => None,
        };
        let need_days = || wrong("the number of days must be a whole number from 1 to 3650");
        let day_at = |i: usize| args.get(i).and_then(days).ok_or_else(need_days);
        let one_day = || day_at(0);
        let event_days = || -> Result<(String, u32), expr::ParseError> {
            let event = args.first().and_then(text_arg).ok_or_else(|| wrong("the event name comes first, quoted"))?;
            Ok((event, args.get(1).and_then(days).ok_or_else(need_days)?))
        };
        Ok(match name {
            "active_users" => Source::ActiveUsers { days: one_day()? },
            "license_utilization" if args.is_empty() => Source::LicenseUtilization { days: 30 },
            "license_utilization" => Source::LicenseUtilization { days: one_day()? },
            "usage_trend" => Source::UsageTrend { days: one_day()? },
            "active_users_trend" => Source::UsersTrend { days: one_day()? },
            "users_retained" => Source::UsersRetained { days: day_at(0)?, before: day_at(1)? },
            "feature_adoption" => Source::FeatureAdoption,
            "events" => event_days().map(|(event, days)| Source::Events { event, days })?,
            "event_trend" => event_days().map(|(event, days)| Source::EventTrend { event, days })?,
            "days_since_activity" => Source::DaysSinceActivity,
            "mrr_change" => Source::MrrChange { days: one_day()? },
            "days_overdue" => Source::DaysOverdue,
            "downgraded_within" => Source::DowngradedWithin { days: one_day()? },
            "days_since_interaction" => Source::DaysSinceInteraction,
            "sentiment" => Source::Sentiment,
            "stripe_events" => {
                let (event, days) = event_days()?;
                if let Some(m) = crate::stripe::type_error(&event) {
                    return Err(wrong(&m));
                }
                Source::StripeEvents { event, days }
            }
            other => return Err(wrong(&format!("{other} is not a measure source"))),
        })
    }
}

/// Text as the filter language reads it back: in double quotes, or single ones when it holds a
/// double quote (the language has no escapes).
fn quoted(text: &str) -> String {
    if text.contains('"') {
        format!("'{text}'")
    } else {
        format!("\"{text}\"")
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::ActiveUsers { days } => write!(f, "active_users({days})"),
            Source::LicenseUtilization { days: 30 } => f.write_str("license_utilization()"),
            Source::LicenseUtilization { days } => write!(f, "license_utilization({days})"),
            Source::UsageTrend { days } => write!(f, "usage_trend({days})"),
            Source::UsersTrend { days } => write!(f, "active_users_trend({days})"),
            Source::UsersRetained { days, before } => write!(f, "users_retained({days}, {before})"),
            Source::FeatureAdoption => f.write_str("feature_adoption()"),
            Source::Events { event, days } => write!(f, "events({}, {days})", quoted(event)),
            Source::EventTrend { event, days } => write!(f, "event_trend({}, {days})", quoted(event)),
            Source::DaysSinceActivity => f.write_str("days_since_activity()"),
            Source::Mrr => f.write_str("mrr"),
            Source::MrrChange { days } => write!(f, "mrr_change({days})"),
            Source::DaysOverdue => f.write_str("days_overdue()"),
            Source::TenureDays => f.write_str("tenure_days"),
            Source::DaysToRenewal => f.write_str("days_to_renewal"),
            Source::DowngradedWithin { days } => write!(f, "downgraded_within({days})"),
            Source::DaysSinceInteraction => f.write_str("days_since_interaction()"),
            Source::Sentiment => f.write_str("sentiment()"),
            Source::StripeEvents { event, days } => write!(f, "stripe_events({}, {days})", quoted(event)),
            Source::Attribute { name } => write!(f, "attribute.{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_read_back_from_how_they_are_written() {
        for text in [
            "active_users(30)",
            "license_utilization()",
            "license_utilization(7)",
            "usage_trend(30)",
            "active_users_trend(30)",
            "users_retained(30, 90)",
            "feature_adoption()",
            "events(\"Report Built\", 30)",
            "stripe_events(\"invoice.payment_failed\", 7)",
            "event_trend(\"Report Built\", 14)",
            "days_since_activity()",
            "mrr",
            "mrr_change(90)",
            "days_overdue()",
            "tenure_days",
            "days_to_renewal",
            "downgraded_within(60)",
            "days_since_interaction()",
            "sentiment()",
            "attribute.seats_purchased",
        ] {
            let source = Source::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(source.to_string(), text);
        }
        assert_eq!(
            Source::parse("events('Export Run', 7)").unwrap(),
            Source::Events { event: "Export Run".into(), days: 7 }
        );
        let quoting = Source::Events { event: "Clicked \"Buy\"".into(), days: 7 };
        assert_eq!(Source::parse(&quoting.to_string()).unwrap(), quoting);
    }

    #[test]
    fn bad_sources_say_why() {
        let e = |t: &str| Source::parse(t).unwrap_err().to_string();
        assert_eq!(e("active_users(0)"), "column 1: the number of days must be a whole number from 1 to 3650");
        assert_eq!(e("active_users(7.5)"), "column 1: the number of days must be a whole number from 1 to 3650");
        assert_eq!(e("events(30, 'x')"), "column 1: the event name comes first, quoted");
        assert_eq!(e("country"), "column 1: country is not a measure source");
        assert_eq!(e("mrr > 10"), "column 1: a measure source is one field or function, such as active_users(30)");
        assert!(e("active_user(30)").starts_with("column 1: unknown function \"active_user\""));
        // The same names are the filter language's.
        assert!(expr::parse("active_users(30) < 5 and days_to_renewal <= 90", &SCHEMA).is_ok());
    }
}
