//! Numbers, money and dates written as the member's language writes them (CLDR's patterns for
//! English and Russian): `€8,224,605.09` and `8 224 605,09 €`, `Dec 8, 2026` and
//! `8 дек. 2026 г.`. Pages format with these (template filters `number`, `money`, `day`);
//! the API and CSV keep plain machine forms.

use crate::i18n::Lang;
use chrono::{Datelike, NaiveDate};
use rust_decimal::Decimal;

/// CLDR's no-break space: Russian groups digits and sets the currency sign apart with it.
const NBSP: char = '\u{a0}';

fn separators(lang: Lang) -> (char, char) {
    match lang {
        Lang::En => (',', '.'),
        Lang::Ru => (NBSP, ','),
    }
}

/// `d` with `dp` decimals (rounded half away from zero), digits grouped by thousands.
pub fn number(lang: Lang, d: Decimal, dp: u32) -> String {
    let (group, point) = separators(lang);
    let rounded = d.round_dp_with_strategy(dp, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let text = format!("{:.*}", dp as usize, rounded.abs());
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let mut out = String::with_capacity(text.len() + text.len() / 3 + 2);
    if rounded.is_sign_negative() && !rounded.is_zero() {
        out.push('-');
    }
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(group);
        }
        out.push(c);
    }
    if !frac.is_empty() {
        out.push(point);
        out.push_str(frac);
    }
    out
}

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "USD" => "$",
        "EUR" => "€",
        "GBP" => "£",
        "JPY" => "¥",
        "RUB" => "₽",
        _ => return None,
    })
}

/// An amount with its currency, two decimals: `€1,250.00`, `CHF 1,250.00`, `1 250,00 €`.
pub fn money(lang: Lang, amount: Decimal, currency: &str) -> String {
    let digits = number(lang, amount.abs(), 2);
    let rounded = amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    let sign = if rounded.is_sign_negative() && !rounded.is_zero() { "-" } else { "" };
    match (lang, symbol(currency)) {
        (Lang::En, Some(s)) => format!("{sign}{s}{digits}"),
        (Lang::En, None) => format!("{sign}{currency}{NBSP}{digits}"),
        (Lang::Ru, s) => format!("{sign}{digits}{NBSP}{}", s.unwrap_or(currency)),
    }
}

const EN_MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/// Russian months as a date names them (genitive), abbreviated as CLDR does.
const RU_MONTHS: [&str; 12] =
    ["янв.", "февр.", "мар.", "апр.", "мая", "июн.", "июл.", "авг.", "сент.", "окт.", "нояб.", "дек."];
/// Russian months standing alone (a chart's axis).
const RU_MONTHS_ALONE: [&str; 12] =
    ["янв.", "февр.", "март", "апр.", "май", "июнь", "июль", "авг.", "сент.", "окт.", "нояб.", "дек."];

/// A day: `Dec 8, 2026`, `8 дек. 2026 г.`.
pub fn day(lang: Lang, d: NaiveDate) -> String {
    let m = d.month0() as usize;
    match lang {
        Lang::En => format!("{} {}, {}", EN_MONTHS[m], d.day(), d.year()),
        Lang::Ru => format!("{} {} {} г.", d.day(), RU_MONTHS[m], d.year()),
    }
}

/// A month on its own, as a chart's axis labels it: `Dec`, `дек.`.
pub fn month(lang: Lang, month0: usize) -> &'static str {
    match lang {
        Lang::En => EN_MONTHS[month0 % 12],
        Lang::Ru => RU_MONTHS_ALONE[month0 % 12],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    /// The example: the same total in both languages.
    #[test]
    fn money_as_each_language_writes_it() {
        assert_eq!(money(Lang::En, d("8224605.09"), "EUR"), "€8,224,605.09");
        assert_eq!(money(Lang::Ru, d("8224605.09"), "EUR"), "8\u{a0}224\u{a0}605,09\u{a0}€");
        assert_eq!(money(Lang::En, d("1250"), "CHF"), "CHF\u{a0}1,250.00");
        assert_eq!(money(Lang::En, d("-99.5"), "USD"), "-$99.50");
        assert_eq!(money(Lang::En, d("0.004"), "USD"), "$0.00");
        assert_eq!(money(Lang::En, d("-0.005"), "USD"), "-$0.01", "the sign follows the digits' rounding");
    }

    #[test]
    fn numbers_group_thousands() {
        assert_eq!(number(Lang::En, d("1234567"), 0), "1,234,567");
        assert_eq!(number(Lang::En, d("999"), 0), "999");
        assert_eq!(number(Lang::Ru, d("1000.5"), 1), "1\u{a0}000,5");
        assert_eq!(number(Lang::En, d("72.45"), 1), "72.5", "half away from zero");
        assert_eq!(number(Lang::En, d("-1000"), 0), "-1,000");
    }

    #[test]
    fn days_and_months() {
        let day8 = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        assert_eq!(day(Lang::En, day8), "Dec 8, 2026");
        assert_eq!(day(Lang::Ru, day8), "8 дек. 2026 г.");
        assert_eq!(day(Lang::Ru, NaiveDate::from_ymd_opt(2026, 5, 1).unwrap()), "1 мая 2026 г.");
        assert_eq!(month(Lang::Ru, 4), "май");
    }
}
