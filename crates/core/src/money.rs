//! Money and calendar months: exact decimals with an ISO 4217 currency, never floats.

use chrono::{Datelike, NaiveDate};
use rust_decimal::{Decimal, RoundingStrategy};
use std::{fmt, str::FromStr};

/// ISO 4217 codes in use (2024 list, plus the precious-metal and fund codes banks report in).
const ISO_4217: &str = "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD \
BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP \
GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD \
KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR \
PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB \
TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS VED VES VND VUV WST XAF XAG XAU XCD XCG XDR XOF XPD \
XPF XPT XSU XUA YER ZAR ZMW ZWG ZWL";

/// An ISO 4217 currency code, upper case: `"eur"` → `EUR`; `"EURO"` and `"XYZ"` are refused.
pub fn currency(raw: &str) -> Result<String, String> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 3 && ISO_4217.split_whitespace().any(|c| c == code) {
        Ok(code)
    } else {
        Err(format!("{raw:?} is not an ISO 4217 currency code (e.g. USD, EUR)"))
    }
}

/// A plain decimal amount as accounting files write it: `1250`, `1250.5`, `-3.00`. No exponents,
/// no thousands separators, no currency signs, so nothing is guessed.
pub fn amount(raw: &str) -> Result<Decimal, String> {
    let s = raw.trim();
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (whole, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !whole.is_empty()
        && whole.chars().all(|c| c.is_ascii_digit())
        && frac.chars().all(|c| c.is_ascii_digit())
        && (frac.len() <= 10)
        && !(digits.contains('.') && frac.is_empty());
    match Decimal::from_str(s) {
        Ok(d) if plain => Ok(d),
        _ => Err(format!("{raw:?} is not a decimal amount (e.g. 1250.00)")),
    }
}

/// Money as the API and pages show it: two decimals, half away from zero (`83.335` → `"83.34"`).
pub fn format(d: Decimal) -> String {
    format!("{:.2}", d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// A percentage for JSON: exact decimal rounded to 6 places, then a float (`10 %` → `10.0`).
pub fn percent(d: Decimal) -> f64 {
    use rust_decimal::prelude::ToPrimitive;
    d.round_dp_with_strategy(6, RoundingStrategy::MidpointAwayFromZero).to_f64().unwrap_or(0.0)
}

/// A calendar month, the unit of every revenue report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// Months since year 0: `year * 12 + (month - 1)`. Makes arithmetic and ranges trivial.
    index: i32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Month> {
        (1..=12).contains(&month).then(|| Month { index: year * 12 + month as i32 - 1 })
    }
    pub fn of(day: NaiveDate) -> Month {
        Month { index: day.year() * 12 + day.month0() as i32 }
    }
    pub fn year(self) -> i32 {
        self.index.div_euclid(12)
    }
    pub fn month(self) -> u32 {
        self.index.rem_euclid(12) as u32 + 1
    }
    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or(NaiveDate::MIN)
    }
    /// The month-end snapshot's day: 00:00 UTC of the next month's first day.
    pub fn snapshot_day(self) -> NaiveDate {
        self.plus(1).first_day()
    }
    pub fn plus(self, months: i32) -> Month {
        Month { index: self.index + months }
    }
    /// How many months from `earlier` to `self` (negative when `earlier` is later).
    pub fn since(self, earlier: Month) -> i32 {
        self.index - earlier.index
    }
    /// Every month from `self` to `last`, both included.
    pub fn through(self, last: Month) -> impl Iterator<Item = Month> {
        (self.index..=last.index).map(|index| Month { index })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

impl serde::Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Month, String> {
        let s = s.trim();
        let parsed = s.split_once('-').and_then(|(y, m)| {
            (y.len() == 4 && m.len() == 2).then_some(())?;
            Month::new(y.parse().ok()?, m.parse().ok()?)
        });
        parsed.ok_or_else(|| format!("{s:?} is not a month (YYYY-MM)"))
    }
}

/// A calendar date as files and the API write it: `YYYY-MM-DD`.
pub fn date(raw: &str) -> Result<NaiveDate, String> {
    let s = raw.trim();
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|_| s.len() == 10)
        .ok_or_else(|| format!("{raw:?} is not a date (YYYY-MM-DD)"))
}

/// The API schema of an exact decimal a client sends: a decimal in text (`"1250.00"`, the
/// pattern every amount is checked against) or, where the value is exact anyway, a JSON number.
pub fn decimal_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(DECIMAL_PATTERN)))
        .into()
}

/// [`decimal_schema`], or null.
pub fn optional_decimal_schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Type};
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Number))
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(DECIMAL_PATTERN)))
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .into()
}

/// What an exact decimal looks like in text (surrounding spaces are trimmed).
pub const DECIMAL_PATTERN: &str = r"^\s*-?[0-9]+(\.[0-9]+)?\s*$";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_are_iso_codes() {
        assert_eq!(currency(" eur ").unwrap(), "EUR");
        assert!(currency("EURO").is_err());
        assert!(currency("XYZ").unwrap_err().contains("ISO 4217"));
    }

    #[test]
    fn amounts_are_plain_decimals() {
        assert_eq!(amount("1250.50").unwrap(), Decimal::new(125050, 2));
        assert_eq!(amount("-3").unwrap(), Decimal::from(-3));
        for bad in ["", "1,250", "1e3", "$5", "12.", ".5", "abc", "1.2.3"] {
            assert!(amount(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_shows_two_decimals_rounded_half_away() {
        assert_eq!(format(Decimal::from(1250)), "1250.00");
        assert_eq!(format(Decimal::new(83335, 3)), "83.34");
        assert_eq!(format(Decimal::from(1000) / Decimal::from(12)), "83.33");
        assert_eq!(percent(Decimal::from(10)), 10.0);
    }

    #[test]
    fn months_count_and_print() {
        let m: Month = "2026-01".parse().unwrap();
        assert_eq!(m.plus(-1).to_string(), "2025-12");
        assert_eq!(m.snapshot_day(), NaiveDate::from_ymd_opt(2026, 2, 1).unwrap());
        assert_eq!("2026-12".parse::<Month>().unwrap().since(m), 11);
        assert_eq!(m.through(m.plus(2)).count(), 3);
        assert!("2026-13".parse::<Month>().is_err());
        assert!("2026-1".parse::<Month>().is_err());
        assert!(date("2026-02-30").is_err());
        assert_eq!(date("2026-02-28").unwrap(), NaiveDate::from_ymd_opt(2026, 2, 28).unwrap());
    }
}
