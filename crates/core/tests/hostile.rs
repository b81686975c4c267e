//! Hostile text against every entry point of the filter language: a parse or an error, never a
//! stack overflow, on a small stack. (An integration test: it drives the language through
//! measures and definitions, which the language itself must not import.)

use keepwell_core::definitions::{default_scorecard, Definitions, Scorecard, SegmentDef};
use keepwell_core::expr::{parse, Env, Value, MAX_LEN};
use keepwell_core::measure::{Source, SCHEMA};

/// An account with no values: evaluation still walks the whole expression.
struct Nothing;

impl Env for Nothing {
    fn field(&self, _: &str) -> Value {
        Value::Null
    }
    fn call(&self, _: &str, _: &[Value]) -> Value {
        Value::Null
    }
}

/// Pieces of the language glued at random: any of them may open a level.
fn hostile() -> impl proptest::strategy::Strategy<Value = String> {
    use proptest::prelude::*;
    let piece = prop_oneof![
        Just("("),
        Just(")"),
        Just("not "),
        Just(" or "),
        Just(" and "),
        Just("mrr > 1"),
        Just("plan = 'x'"),
        Just("["),
        Just("]"),
        Just(","),
        Just("active_users(30) < 5"),
        Just("tags contains \"a\""),
    ];
    (proptest::collection::vec(piece, 0..3000), 0usize..3, 1usize..5000).prop_map(|(pieces, shape, n)| {
        match shape {
            // Random text.
            0 => pieces.concat(),
            // Deep nesting of one kind.
            1 => format!("{}mrr > 1{}", "(".repeat(n), ")".repeat(n)),
            // A long chain.
            _ => format!("{}mrr > 1", "not ".repeat(n)),
        }
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(100))]
    /// Whatever the text, every entry point of the language answers (a parse, or an error
    /// naming a column) on a small stack, and what parses evaluates.
    #[test]
    fn hostile_text_never_overflows_the_stack(src in hostile()) {
        let src2 = src.clone();
        let answered = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                if let Ok(e) = parse(&src2, &SCHEMA) {
                    e.eval(&Nothing);
                    assert!(src2.len() <= MAX_LEN);
                }
                let _ = Source::parse(&src2);
                let mut defs = Definitions::default();
                defs.segments.push(SegmentDef {
                    key: "s".into(), name: "S".into(), filter: src2.clone(),
                });
                let mut card = default_scorecard();
                card.measures[0].applies_if = Some(src2.clone());
                card.measures[1].source = src2.clone();
                defs.scorecards.push(card.clone());
                let _ = defs.check(&Default::default());
                let _ = Scorecard::compile(1, 1, card);
                let _ = Definitions::from_toml(&format!("[[segment]]\nkey = \"s\"\nname = \"S\"\nfilter = {:?}\n", src2));
            })
            .unwrap()
            .join();
        proptest::prop_assert!(answered.is_ok(), "panicked on {} bytes", src.len());
    }
}
