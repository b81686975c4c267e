//! Definitions as code: segments, lifecycle rules and scorecards, as `keepwell apply` reads them
//! from TOML and the API from JSON, checked whole (every error named by its path), and compiled
//! for the daily pass.
//!
//! ```toml
//! [[segment]]
//! key = "enterprise"
//! name = "Enterprise"
//! filter = 'employees >= 1000 or arr >= 100000'
//!
//! [[lifecycle_rule]]
//! key = "churned"
//! name = "No revenue left"
//! stage = "churned"
//! condition = "mrr = 0 and tenure_days > 0"
//! priority = 1
//!
//! [[scorecard]]
//! key = "enterprise"
//! name = "Enterprise health"
//! segment = "enterprise"      # or onboarding_days = 90, or neither: the default
//! priority = 1
//! bands = { yellow = 40, green = 70 }
//!
//! [[scorecard.measures]]
//! key = "utilization"
//! source = "license_utilization()"
//! weight = 2
//! scale = { kind = "linear", bad = 20, good = 80 }
//! applies_if = 'plan != "Starter"'
//! missing_score = 50          # absent: a measure without data is left out
//! ```

use crate::account::LifecycleStage;
use crate::expr::{self, Expr};
use crate::facts::AccountDay;
use crate::health::{self, Band, Bands, Measure, Missing, Reading, Scale, Scored};
use crate::measure::{Source, SCHEMA};
use crate::Invalid;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeSet;
use std::str::FromStr;

/// A number in a definition: TOML and JSON integers, floats or decimal strings, kept exact.
fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Decimal, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        I(i64),
        F(f64),
        S(String),
    }
    let text = match Num::deserialize(d)? {
        Num::I(i) => i.to_string(),
        Num::F(f) => f.to_string(),
        Num::S(s) if is_decimal_text(&s) => s,
        Num::S(s) => return Err(serde::de::Error::custom(format!("{s:?} is not a number"))),
    };
    Decimal::from_str(&text).map_err(|_| serde::de::Error::custom(format!("{text:?} is not a number")))
}

/// `-12.5`: what a definition's number may be written as in text (the pattern the API documents).
fn is_decimal_text(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty() && !fraction.is_empty() && whole.chars().chain(fraction.chars()).all(|c| c.is_ascii_digit())
}

fn opt_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Decimal>, D::Error> {
    #[derive(Deserialize)]
    struct Given(#[serde(deserialize_with = "number")] Decimal);
    Ok(Option::<Given>::deserialize(d)?.map(|g| g.0))
}

/// `[[from, score], …]` pairs of numbers.
fn pairs_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::ArrayBuilder;
    ArrayBuilder::new()
        .items(ArrayBuilder::new().items(crate::money::decimal_schema()).min_items(Some(2)).max_items(Some(2)))
        .build()
}

/// A number as a definition writes it: an integer, a float when that is exact, else text.
fn to_number<S: Serializer>(n: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    let n = n.normalize();
    if n.scale() == 0 {
        if let Some(i) = n.to_i64() {
            return s.serialize_i64(i);
        }
    }
    match n.to_f64().filter(|f| Decimal::from_str(&f.to_string()).ok() == Some(n)) {
        Some(f) => s.serialize_f64(f),
        None => s.serialize_str(&n.to_string()),
    }
}

fn to_opt_number<S: Serializer>(n: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match n {
        Some(n) => to_number(n, s),
        None => s.serialize_none(),
    }
}

#[derive(Deserialize, Serialize)]
struct Pair(
    #[serde(deserialize_with = "number", serialize_with = "to_number")] Decimal,
    #[serde(deserialize_with = "number", serialize_with = "to_number")] Decimal,
);

fn pairs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(Decimal, Decimal)>, D::Error> {
    Ok(Vec::<Pair>::deserialize(d)?.into_iter().map(|p| (p.0, p.1)).collect())
}

fn to_pairs<S: Serializer>(v: &[(Decimal, Decimal)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|(a, b)| Pair(*a, *b)))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SegmentDef {
    #[schema(max_length = 64)]
    pub key: String,
    #[schema(max_length = 200)]
    pub name: String,
    /// An expression of the filter language, such as `plan = "Growth" and mrr >= 1000`.
    #[schema(max_length = 4096)]
    pub filter: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleRuleDef {
    #[schema(max_length = 64)]
    pub key: String,
    #[schema(max_length = 200)]
    pub name: String,
    /// The stage the rule moves an account to.
    pub stage: String,
    /// When it applies: an expression of the filter language.
    #[schema(max_length = 4096)]
    pub condition: String,
    /// Lower first; the first rule that holds decides.
    #[serde(default)]
    pub priority: i64,
}

/// How a measure's value becomes 0–100.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum ScaleDef {
    /// 0 at `bad`, 100 at `good`, linear between (either direction).
    Linear {
        #[serde(deserialize_with = "number", serialize_with = "to_number")]
        #[schema(schema_with = crate::money::decimal_schema)]
        bad: Decimal,
        #[serde(deserialize_with = "number", serialize_with = "to_number")]
        #[schema(schema_with = crate::money::decimal_schema)]
        good: Decimal,
    },
    /// `[[from, score], …]`: a value scores as the highest `from` it reaches.
    Bands {
        #[serde(deserialize_with = "pairs", serialize_with = "to_pairs")]
        #[schema(schema_with = pairs_schema)]
        bands: Vec<(Decimal, Decimal)>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureDef {
    #[schema(max_length = 64)]
    pub key: String,
    /// A measure source: `license_utilization()`, `events("Report Built", 30)`, `mrr`, …
    #[schema(max_length = 4096)]
    pub source: String,
    #[serde(deserialize_with = "number", serialize_with = "to_number")]
    #[schema(schema_with = crate::money::decimal_schema)]
    pub weight: Decimal,
    pub scale: ScaleDef,
    /// The measure counts only for accounts where this holds (e.g. plans that have the feature).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 4096)]
    pub applies_if: Option<String>,
    /// What a measure without data scores; absent: it is left out.
    #[serde(
        default,
        deserialize_with = "opt_number",
        serialize_with = "to_opt_number",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(schema_with = crate::money::optional_decimal_schema)]
    pub missing_score: Option<Decimal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BandsDef {
    #[serde(deserialize_with = "number", serialize_with = "to_number")]
    #[schema(schema_with = crate::money::decimal_schema)]
    pub yellow: Decimal,
    #[serde(deserialize_with = "number", serialize_with = "to_number")]
    #[schema(schema_with = crate::money::decimal_schema)]
    pub green: Decimal,
}

impl Default for BandsDef {
    fn default() -> Self {
        let b = Bands::default();
        BandsDef { yellow: b.yellow, green: b.green }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScorecardDef {
    #[schema(max_length = 64)]
    pub key: String,
    #[schema(max_length = 200)]
    pub name: String,
    /// Scores the members of this segment (by `priority`, lower first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// An onboarding scorecard: scores accounts younger than this many days, before any other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub onboarding_days: Option<u32>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub bands: BandsDef,
    /// The least coverage (percent of the applicable measures' weight with data) a score may
    /// rest on: below it the account is `unscored`, shown grey, never in a band. Default 50.
    #[serde(default = "default_min_coverage", deserialize_with = "number", serialize_with = "to_number")]
    #[schema(schema_with = crate::money::decimal_schema)]
    pub min_coverage: Decimal,
    #[serde(alias = "measure")]
    #[schema(max_items = 50)]
    pub measures: Vec<MeasureDef>,
}

fn default_min_coverage() -> Decimal {
    Decimal::from(50)
}

impl ScorecardDef {
    /// Neither for a segment nor for onboarding: scores everyone else.
    pub fn is_default(&self) -> bool {
        self.segment.is_none() && self.onboarding_days.is_none()
    }
}

/// A definitions file: what `keepwell apply` reads and `keepwell export` writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Definitions {
    #[serde(default, rename = "segment", skip_serializing_if = "Vec::is_empty")]
    pub segments: Vec<SegmentDef>,
    #[serde(default, rename = "lifecycle_rule", skip_serializing_if = "Vec::is_empty")]
    pub lifecycle_rules: Vec<LifecycleRuleDef>,
    #[serde(default, rename = "scorecard", skip_serializing_if = "Vec::is_empty")]
    pub scorecards: Vec<ScorecardDef>,
    #[serde(default, rename = "playbook", skip_serializing_if = "Vec::is_empty")]
    pub playbooks: Vec<crate::playbook::PlaybookDef>,
}

fn push(invalid: &mut Invalid, field: String, message: impl Into<String>) {
    invalid.push(field, message);
}

use crate::limits::{definition_name as check_name, key_error};

pub fn check_segment(s: &SegmentDef, at: &str, invalid: &mut Invalid) {
    if let Some(m) = key_error(&s.key) {
        push(invalid, format!("{at}key"), m);
    }
    check_name(&s.name, at, invalid);
    if let Err(e) = expr::parse(&s.filter, &SCHEMA) {
        push(invalid, format!("{at}filter"), e.to_string());
    }
}

pub fn check_rule(r: &LifecycleRuleDef, at: &str, invalid: &mut Invalid) {
    if let Some(m) = key_error(&r.key) {
        push(invalid, format!("{at}key"), m);
    }
    check_name(&r.name, at, invalid);
    if LifecycleStage::from_str(&r.stage).is_err() {
        let all: Vec<&str> = LifecycleStage::ALL.iter().map(|s| s.as_str()).collect();
        push(invalid, format!("{at}stage"), format!("unknown stage {:?}; one of {}", r.stage, all.join(", ")));
    }
    if let Err(e) = expr::parse(&r.condition, &SCHEMA) {
        push(invalid, format!("{at}condition"), e.to_string());
    }
}

/// Checks a scorecard; `segments` are the keys it may name.
pub fn check_scorecard(s: &ScorecardDef, at: &str, segments: &BTreeSet<String>, invalid: &mut Invalid) {
    if let Some(m) = key_error(&s.key) {
        push(invalid, format!("{at}key"), m);
    }
    check_name(&s.name, at, invalid);
    if s.segment.is_some() && s.onboarding_days.is_some() {
        push(invalid, format!("{at}segment"), "a scorecard is for a segment or for onboarding, not both");
    }
    if let Some(seg) = &s.segment {
        if !segments.contains(seg) {
            push(invalid, format!("{at}segment"), format!("no segment {seg:?}"));
        }
    }
    if s.onboarding_days == Some(0) {
        push(invalid, format!("{at}onboarding_days"), "must be at least 1");
    }
    let hundred = Decimal::ONE_HUNDRED;
    if !(Decimal::ZERO < s.bands.yellow && s.bands.yellow <= s.bands.green && s.bands.green <= hundred) {
        push(invalid, format!("{at}bands"), "need 0 < yellow ≤ green ≤ 100");
    }
    if s.min_coverage < Decimal::ZERO || s.min_coverage > hundred {
        push(invalid, format!("{at}min_coverage"), "a coverage is a percentage from 0 to 100");
    }
    if s.measures.is_empty() {
        push(invalid, format!("{at}measures"), "a scorecard needs at least one measure");
    }
    crate::limits::count(invalid, &format!("{at}measures"), s.measures.len(), crate::limits::MEASURES, "measures");
    let mut keys = BTreeSet::new();
    for (i, m) in s.measures.iter().enumerate() {
        let at = format!("{at}measures[{i}].");
        if let Some(e) = key_error(&m.key) {
            push(invalid, format!("{at}key"), e);
        } else if !keys.insert(m.key.as_str()) {
            push(invalid, format!("{at}key"), format!("measure {:?} appears twice", m.key));
        }
        if let Err(e) = Source::parse(&m.source) {
            push(invalid, format!("{at}source"), e.to_string());
        }
        if m.weight <= Decimal::ZERO || m.weight > Decimal::from(1000) {
            push(invalid, format!("{at}weight"), "a weight is above 0 and at most 1000");
        }
        if let Some(Err(e)) = m.applies_if.as_deref().map(|a| expr::parse(a, &SCHEMA)) {
            push(invalid, format!("{at}applies_if"), e.to_string());
        }
        if m.missing_score.is_some_and(|s| s < Decimal::ZERO || s > hundred) {
            push(invalid, format!("{at}missing_score"), "a score is from 0 to 100");
        }
        if let ScaleDef::Bands { bands } = &m.scale {
            if bands.is_empty() || bands.iter().any(|(_, s)| *s < Decimal::ZERO || *s > hundred) {
                push(invalid, format!("{at}scale"), "bands are [from, score] pairs with scores from 0 to 100");
            }
            crate::limits::count(invalid, &format!("{at}scale"), bands.len(), crate::limits::SCALE_BANDS, "bands");
        }
    }
}

impl Definitions {
    /// Reads a definitions file (TOML).
    pub fn from_toml(text: &str) -> Result<Definitions, String> {
        toml::from_str(text).map_err(|e| e.message().to_owned() + &location(text, e.span()))
    }

    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_default()
    }

    /// Checks every definition, and that keys are unique and references resolve against the
    /// segments already stored (`known_segments`) and in the file.
    pub fn check(&self, known_segments: &BTreeSet<String>) -> Result<(), Invalid> {
        let mut invalid = Invalid::default();
        let n = self.segments.len() + self.lifecycle_rules.len() + self.scorecards.len() + self.playbooks.len();
        crate::limits::count(&mut invalid, "definitions", n, crate::limits::DEFINITIONS, "definitions");
        if !invalid.errors.is_empty() {
            return Err(invalid);
        }
        let mut segments = known_segments.clone();
        for (kind, keys) in [
            ("segment", self.segments.iter().map(|s| &s.key).collect::<Vec<_>>()),
            ("lifecycle_rule", self.lifecycle_rules.iter().map(|s| &s.key).collect()),
            ("scorecard", self.scorecards.iter().map(|s| &s.key).collect()),
            ("playbook", self.playbooks.iter().map(|s| &s.key).collect()),
        ] {
            let mut seen = BTreeSet::new();
            for (i, k) in keys.into_iter().enumerate() {
                if !seen.insert(k) {
                    push(&mut invalid, format!("{kind}[{i}].key"), format!("{k:?} appears twice"));
                }
            }
        }
        for (i, s) in self.segments.iter().enumerate() {
            check_segment(s, &format!("segment[{i}]."), &mut invalid);
            segments.insert(s.key.clone());
        }
        for (i, r) in self.lifecycle_rules.iter().enumerate() {
            check_rule(r, &format!("lifecycle_rule[{i}]."), &mut invalid);
        }
        for (i, s) in self.scorecards.iter().enumerate() {
            check_scorecard(s, &format!("scorecard[{i}]."), &segments, &mut invalid);
        }
        for (i, p) in self.playbooks.iter().enumerate() {
            crate::playbook::check_playbook(p, &format!("playbook[{i}]."), &mut invalid);
        }
        invalid.into_result(())
    }
}

fn location(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else { return String::new() };
    let before = &text[..span.start.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" (line {line}, column {column})")
}

/// A scorecard ready to score: its sources and conditions parsed.
#[derive(Debug, Clone)]
pub struct Scorecard {
    pub id: i64,
    pub revision: i64,
    pub def: ScorecardDef,
    pub bands: Bands,
    sources: Vec<Source>,
    applies_if: Vec<Option<Expr>>,
    measures: Vec<Measure>,
}

/// What one account scored, with the raw values in the scorecard's measure order: `band` is its
/// colour, or `unscored` (coverage below the minimum; `scored.score` is then None) or `churned`.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub scored: Scored,
    pub band: Option<Band>,
}

impl Scorecard {
    /// Compiles a checked definition (an unchecked one fails on its first error).
    pub fn compile(id: i64, revision: i64, def: ScorecardDef) -> Result<Scorecard, String> {
        let mut sources = Vec::new();
        let mut applies_if = Vec::new();
        let mut measures = Vec::new();
        for m in &def.measures {
            sources.push(Source::parse(&m.source).map_err(|e| format!("{}: {e}", m.key))?);
            applies_if.push(
                m.applies_if
                    .as_deref()
                    .map(|a| expr::parse(a, &SCHEMA))
                    .transpose()
                    .map_err(|e| format!("{}: {e}", m.key))?,
            );
            measures.push(Measure {
                key: m.key.clone(),
                weight: m.weight,
                scale: match &m.scale {
                    ScaleDef::Linear { bad, good } => Scale::Linear { bad: *bad, good: *good },
                    ScaleDef::Bands { bands } => Scale::Bands { bands: bands.clone() },
                },
                missing: m.missing_score.map_or(Missing::Skip, Missing::Score),
            });
        }
        let bands = Bands { yellow: def.bands.yellow, green: def.bands.green };
        Ok(Scorecard { id, revision, def, bands, sources, applies_if, measures })
    }

    pub fn sources(&self) -> &[Source] {
        &self.sources
    }

    /// The measures' `applies_if` conditions.
    pub fn conditions(&self) -> impl Iterator<Item = &Expr> {
        self.applies_if.iter().flatten()
    }

    /// Reads every measure of `account`.
    pub fn readings(&self, account: &AccountDay) -> Vec<Reading> {
        self.sources
            .iter()
            .zip(&self.applies_if)
            .map(|(s, a)| {
                let applicable = account.fed(s) && a.as_ref().is_none_or(|a| a.eval(account));
                Reading { value: if applicable { account.value(s) } else { None }, applicable }
            })
            .collect()
    }

    /// Scores readings; a `churned` account (revenue gone) and one whose coverage is below the
    /// scorecard's minimum get no score, only the reason, with the explanation kept.
    pub fn score(&self, readings: &[Reading], churned: bool) -> Outcome {
        let mut scored = health::score(&self.measures, readings);
        let enough = scored.coverage.is_some_and(|c| c >= self.def.min_coverage);
        let band = if churned {
            Band::Churned
        } else if !enough || scored.score.is_none() {
            Band::Unscored
        } else {
            scored.score.map_or(Band::Unscored, |s| self.bands.of(s))
        };
        if !band.is_scored() {
            scored.score = None;
        }
        Outcome { scored, band: Some(band) }
    }

    pub fn measures(&self) -> &[Measure] {
        &self.measures
    }

    /// The weights of the measures, in order.
    pub fn weights(&self) -> Vec<Decimal> {
        self.measures.iter().map(|m| m.weight).collect()
    }
}

/// Picks the scorecard for an account: the onboarding one while it is young, else the first
/// (by priority) whose segment it is in, else the default. `scorecards` are sorted by priority.
pub fn choose(
    scorecards: &[Scorecard],
    tenure_days: Option<i64>,
    in_segment: impl Fn(&str) -> bool,
) -> Option<&Scorecard> {
    let young = |s: &&Scorecard| s.def.onboarding_days.is_some_and(|d| tenure_days.is_none_or(|t| t < i64::from(d)));
    scorecards
        .iter()
        .find(young)
        .or_else(|| scorecards.iter().find(|s| s.def.segment.as_deref().is_some_and(&in_segment)))
        .or_else(|| scorecards.iter().find(|s| s.def.is_default()))
}

/// The scorecard a new workspace starts with: usage, billing and relationship measures that
/// need no configuration.
pub fn default_scorecard() -> ScorecardDef {
    let linear = |bad: i64, good: i64| ScaleDef::Linear { bad: Decimal::from(bad), good: Decimal::from(good) };
    let m = |key: &str, source: &str, weight: Decimal, scale: ScaleDef| MeasureDef {
        key: key.into(),
        source: source.into(),
        weight,
        scale,
        applies_if: None,
        missing_score: None,
    };
    let w = |n: i64, scale: u32| Decimal::new(n, scale);
    ScorecardDef {
        key: "default".into(),
        name: "Default".into(),
        segment: None,
        onboarding_days: None,
        priority: 1000,
        bands: BandsDef::default(),
        min_coverage: default_min_coverage(),
        measures: vec![
            m("license_utilization", "license_utilization()", w(1, 0), linear(20, 80)),
            m("active_users", "active_users(30)", w(1, 0), linear(0, 5)),
            m("users_retained", "users_retained(30, 90)", w(3, 0), linear(50, 90)),
            m("usage_trend", "usage_trend(30)", w(15, 1), linear(-60, 0)),
            m("feature_adoption", "feature_adoption()", w(1, 0), linear(10, 70)),
            m("days_since_activity", "days_since_activity()", w(2, 0), linear(30, 2)),
            m("mrr_change", "mrr_change(90)", w(125, 2), linear(-30, 0)),
            m("downgraded", "downgraded_within(90)", w(125, 2), linear(1, 0)),
            m("days_overdue", "days_overdue()", w(125, 2), linear(30, 0)),
            m("tenure", "tenure_days", w(5, 1), linear(30, 365)),
            m("days_since_interaction", "days_since_interaction()", w(1, 0), linear(90, 14)),
            m("sentiment", "sentiment()", w(2, 0), linear(1, 5)),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[segment]]
key = "enterprise"
name = "Enterprise"
filter = 'employees >= 1000 or arr >= 100000'

[[lifecycle_rule]]
key = "churned"
name = "No revenue left"
stage = "churned"
condition = "mrr = 0 and tenure_days > 0"
priority = 1

[[scorecard]]
key = "enterprise"
name = "Enterprise health"
segment = "enterprise"
priority = 1
bands = { yellow = 45, green = 75.5 }

[[scorecard.measures]]
key = "utilization"
source = "license_utilization()"
weight = 2
scale = { kind = "linear", bad = 20, good = 80 }
applies_if = 'plan != "Starter"'
missing_score = 50

[[scorecard.measures]]
key = "overdue"
source = "days_overdue()"
weight = 0.5
scale = { kind = "bands", bands = [[0, 100], [15, 50], [30, 0]] }
"#;

    #[test]
    fn a_file_round_trips_through_toml() {
        let defs = Definitions::from_toml(FILE).unwrap();
        defs.check(&BTreeSet::new()).unwrap();
        assert_eq!(defs.scorecards[0].bands.green, Decimal::new(755, 1));
        assert_eq!(defs.scorecards[0].measures[1].weight, Decimal::new(5, 1));
        let again = Definitions::from_toml(&defs.to_toml()).unwrap();
        assert_eq!(again, defs);
    }

    #[test]
    fn every_error_is_named_by_its_path() {
        let bad = FILE
            .replace("'employees >= 1000 or arr >= 100000'", "'employes >= 1000'")
            .replace("stage = \"churned\"", "stage = \"gone\"")
            .replace("days_overdue()", "days_overdue(3)")
            .replace("segment = \"enterprise\"", "segment = \"big\"");
        let errors = Definitions::from_toml(&bad).unwrap().check(&BTreeSet::new()).unwrap_err().errors;
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["segment[0].filter", "lifecycle_rule[0].stage", "scorecard[0].segment", "scorecard[0].measures[1].source"]
        );
        assert!(errors[0].message.starts_with("column 1: unknown field \"employes\""));
        let syntax = Definitions::from_toml("[[segment]]\nkey = \"a\"\nnam = \"b\"\n").unwrap_err();
        assert!(syntax.contains("line 3"), "{syntax}");
    }

    #[test]
    fn the_onboarding_scorecard_comes_first_then_segments_then_the_default() {
        let mut defs: Vec<Scorecard> = Vec::new();
        let mut onboarding = default_scorecard();
        onboarding.key = "onboarding".into();
        onboarding.onboarding_days = Some(90);
        let mut ent = default_scorecard();
        ent.key = "enterprise".into();
        ent.segment = Some("enterprise".into());
        for (i, d) in [onboarding, ent, default_scorecard()].into_iter().enumerate() {
            defs.push(Scorecard::compile(i as i64, 1, d).unwrap());
        }
        let key = |tenure, seg: bool| choose(&defs, tenure, |s| seg && s == "enterprise").unwrap().def.key.clone();
        assert_eq!(key(Some(10), true), "onboarding");
        assert_eq!(key(None, false), "onboarding");
        assert_eq!(key(Some(400), true), "enterprise");
        assert_eq!(key(Some(400), false), "default");
    }

    #[test]
    fn the_default_scorecard_is_valid() {
        let d = default_scorecard();
        check_scorecard(&d, "", &BTreeSet::new(), &mut Invalid::default());
        let defs = Definitions { scorecards: vec![d], ..Definitions::default() };
        defs.check(&BTreeSet::new()).unwrap();
        assert_eq!(defs.scorecards[0].measures.len(), 12);
    }
}
#[cfg(test)]
mod deep_toml {
    /// The TOML parser bounds its own recursion: a deeply nested file is an error, not a stack
    /// overflow, on a thread with the 2 MiB stack the server's workers have.
    #[test]
    fn deeply_nested_toml_is_refused() {
        for deep in [
            format!("x = {}1{}", "[".repeat(100_000), "]".repeat(100_000)),
            format!("x = {}1{}", "{a=".repeat(100_000), "}".repeat(100_000)),
        ] {
            let answer = std::thread::Builder::new()
                .stack_size(2 * 1024 * 1024)
                .spawn(move || super::Definitions::from_toml(&deep))
                .unwrap()
                .join()
                .unwrap();
            assert!(answer.unwrap_err().contains("recursion limit exceeded"));
        }
    }
}
