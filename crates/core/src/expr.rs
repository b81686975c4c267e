//! The one small filter language of segments, measures' `applies_if` and playbook conditions.
//!
//! ```text
//! plan = "Growth" and mrr >= 1000
//! country in ["DE", "AT", "CH"] or tags contains "strategic"
//! not (stage = "churned") and active_users(30) < 5
//! attribute.seats_purchased > 10 and (health < 40 or days_to_renewal <= 90)
//! ```
//!
//! - Values: numbers (`1000`, `12.5`, `-3`), text in double or single quotes, `true`, `false`,
//!   `null`, lists in brackets.
//! - Operands: fields (`plan`, `attribute.NAME`, …, as the [`Schema`] names them), functions with
//!   constant arguments (`active_users(30)`), and values.
//! - Comparisons `=`, `!=`, `<`, `<=`, `>`, `>=`; `x in [..]`, `x not in [..]`; `x contains y` (a
//!   list holding y, or text holding y). Text compares without regard to case.
//! - `and` binds tighter than `or`; `not` negates what follows; parentheses group.
//! - A missing value (`null`: no MRR, no health yet, an attribute the account lacks) makes every
//!   comparison false, so `not (health >= 40)` holds for an account without a score.
//!
//! Errors name the column (1-based, in characters): `column 6: unknown field "pln"`. A number
//! field or function compared with text (`mrr >= "abc"`), or a text field with a number, is an
//! error too: it could never hold.
//!
//! Limits, checked while parsing and before anything is evaluated or stored: an expression is at
//! most [`MAX_LEN`] bytes and nests at most [`MAX_DEPTH`] levels (each parenthesis, `not` and list
//! is a level; a chain of `or` or `and` terms is one level, held as a list, so it costs only its
//! length). Parsing recurses only as deep as the nesting, and evaluating as deep as the tree, so
//! neither can exhaust a thread's stack however the text is written.

use rust_decimal::Decimal;
use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

/// The longest expression, in bytes: ample for any filter a person writes (the longest in the
/// demo is under 200), small enough that parsing and evaluating it stay cheap.
pub const MAX_LEN: usize = 4096;
/// The deepest nesting of parentheses, `not`s and lists.
pub const MAX_DEPTH: usize = 64;

/// A value a field, function or literal stands for.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(Decimal),
    Text(String),
    List(Vec<Value>),
}

impl Value {
    fn equals(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Text(a), Value::Text(b)) => a.to_lowercase() == b.to_lowercase(),
            (Value::Null, _) | (_, Value::Null) => false,
            (a, b) => a == b,
        }
    }

    fn order(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => Some(a.cmp(b)),
            (Value::Text(a), Value::Text(b)) => Some(a.to_lowercase().cmp(&b.to_lowercase())),
            _ => None,
        }
    }
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What an expression compares.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field(String),
    Call(String, Vec<Value>),
    Value(Value),
    List(Vec<Operand>),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a or b or …`: at least two terms.
    Or(Vec<Expr>),
    /// `a and b and …`: at least two terms.
    And(Vec<Expr>),
    Not(Box<Expr>),
    Compare(Operand, Cmp, Operand),
    In(Operand, Operand),
    Contains(Operand, Operand),
    /// A bare operand: true when it is `true` (a yes/no field or attribute).
    Truthy(Operand),
}

/// Where an expression gets its values from: an account as of a day.
pub trait Env {
    /// A field's value, `Null` when the account has none.
    fn field(&self, name: &str) -> Value;
    /// A function's value for these arguments, `Null` when undefined.
    fn call(&self, name: &str, args: &[Value]) -> Value;
}

/// The fields and functions an expression may use. `attribute.NAME` is always allowed.
#[derive(Debug, Clone, Copy)]
pub struct Schema<'a> {
    pub fields: &'a [&'a str],
    /// The fields that are numbers and those that are text: a comparison of one with a literal
    /// of the other kind could never hold and is refused. Functions all give numbers.
    pub numbers: &'a [&'a str],
    pub texts: &'a [&'a str],
    /// Name, then the least and the most arguments.
    pub functions: &'a [(&'a str, usize, usize)],
}

/// Why an expression does not parse, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "column {}: {}", self.column, self.message)
    }
}

impl std::error::Error for ParseError {}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Number(Decimal),
    Text(String),
    Cmp(Cmp),
    Open,
    Close,
    OpenList,
    CloseList,
    Comma,
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Ident(s) => write!(f, "{s:?}"),
            Tok::Number(n) => write!(f, "{n}"),
            Tok::Text(t) => write!(f, "the text {t:?}"),
            Tok::Cmp(_) => f.write_str("a comparison"),
            Tok::Open => f.write_str("\"(\""),
            Tok::Close => f.write_str("\")\""),
            Tok::OpenList => f.write_str("\"[\""),
            Tok::CloseList => f.write_str("\"]\""),
            Tok::Comma => f.write_str("\",\""),
            Tok::End => f.write_str("the end"),
        }
    }
}

fn err<T>(column: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { column, message: message.into() })
}

/// Splits the source into tokens, each with its 1-based column.
fn lex(src: &str) -> Result<Vec<(usize, Tok)>, ParseError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let col = i + 1;
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        let two = chars.get(i + 1).copied();
        let (tok, len) = match c {
            '(' => (Tok::Open, 1),
            ')' => (Tok::Close, 1),
            '[' => (Tok::OpenList, 1),
            ']' => (Tok::CloseList, 1),
            ',' => (Tok::Comma, 1),
            '=' if two == Some('=') => (Tok::Cmp(Cmp::Eq), 2),
            '=' => (Tok::Cmp(Cmp::Eq), 1),
            '!' if two == Some('=') => (Tok::Cmp(Cmp::Ne), 2),
            '<' if two == Some('=') => (Tok::Cmp(Cmp::Le), 2),
            '<' if two == Some('>') => (Tok::Cmp(Cmp::Ne), 2),
            '<' => (Tok::Cmp(Cmp::Lt), 1),
            '>' if two == Some('=') => (Tok::Cmp(Cmp::Ge), 2),
            '>' => (Tok::Cmp(Cmp::Gt), 1),
            '"' | '\'' => {
                let end = chars[i + 1..].iter().position(|x| *x == c);
                let Some(end) = end else { return err(col, "this text has no closing quote") };
                (Tok::Text(chars[i + 1..i + 1 + end].iter().collect()), end + 2)
            }
            c if c.is_ascii_digit() || (c == '-' && two.is_some_and(|d| d.is_ascii_digit())) => {
                let len = 1 + chars[i + 1..].iter().take_while(|x| x.is_ascii_digit() || **x == '.').count();
                let text: String = chars[i..i + len].iter().collect();
                match Decimal::from_str(&text) {
                    Ok(n) => (Tok::Number(n), len),
                    Err(_) => return err(col, format!("{text:?} is not a number")),
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let len = chars[i..].iter().take_while(|x| x.is_alphanumeric() || **x == '_' || **x == '.').count();
                (Tok::Ident(chars[i..i + len].iter().collect()), len)
            }
            other => return err(col, format!("unexpected {other:?}")),
        };
        out.push((col, tok));
        i += len;
    }
    out.push((chars.len() + 1, Tok::End));
    Ok(out)
}

struct Parser<'s> {
    toks: Vec<(usize, Tok)>,
    at: usize,
    schema: &'s Schema<'s>,
    /// Levels of parentheses, `not`s and lists open at this point.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.at].1
    }

    fn column(&self) -> usize {
        self.toks[self.at].0
    }

    fn next(&mut self) -> (usize, Tok) {
        let t = self.toks[self.at].clone();
        if self.at + 1 < self.toks.len() {
            self.at += 1;
        }
        t
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Tok::Ident(w) if w.eq_ignore_ascii_case(word))
    }

    /// Enters one more level of nesting at `column`, refusing past [`MAX_DEPTH`].
    fn deeper(&mut self, column: usize) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(
                column,
                format!("the expression nests deeper than {MAX_DEPTH} levels (parentheses, not, lists)"),
            );
        }
        Ok(())
    }

    fn or(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.and()?];
        while self.keyword("or") {
            self.next();
            terms.push(self.and()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Expr::Or(terms) })
    }

    fn and(&mut self) -> Result<Expr, ParseError> {
        let mut terms = vec![self.unary()?];
        while self.keyword("and") {
            self.next();
            terms.push(self.unary()?);
        }
        Ok(if terms.len() == 1 { terms.remove(0) } else { Expr::And(terms) })
    }

    fn unary(&mut self) -> Result<Expr, ParseError> {
        if self.keyword("not") {
            let (col, _) = self.next();
            self.deeper(col)?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        if *self.peek() == Tok::Open {
            let (col, _) = self.next();
            self.deeper(col)?;
            let inner = self.or()?;
            self.depth -= 1;
            return match self.next() {
                (_, Tok::Close) => Ok(inner),
                (col, other) => err(col, format!("expected \")\", found {other}")),
            };
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, ParseError> {
        let left = self.operand()?;
        if let Tok::Cmp(op) = *self.peek() {
            self.next();
            let col = self.column();
            let right = self.operand()?;
            self.same_kind(&left, &right, col)?;
            return Ok(Expr::Compare(left, op, right));
        }
        if self.keyword("in") {
            self.next();
            let col = self.column();
            let list = self.list()?;
            self.same_kind(&left, &list, col)?;
            return Ok(Expr::In(left, list));
        }
        if self.keyword("not") {
            self.next();
            if !self.keyword("in") {
                return err(self.column(), "expected \"in\" after \"not\" here");
            }
            self.next();
            let col = self.column();
            let list = self.list()?;
            self.same_kind(&left, &list, col)?;
            return Ok(Expr::Not(Box::new(Expr::In(left, list))));
        }
        if self.keyword("contains") {
            self.next();
            return Ok(Expr::Contains(left, self.operand()?));
        }
        Ok(Expr::Truthy(left))
    }

    /// Refuses a number field or function compared with a text literal (`mrr >= "abc"`), or a
    /// text field with a number (`plan = 5`): either could never hold. `right` starts at `col`;
    /// a list is checked item by item.
    fn same_kind(&self, left: &Operand, right: &Operand, col: usize) -> Result<(), ParseError> {
        let (name, number) = match left {
            Operand::Field(f) if self.schema.numbers.contains(&f.as_str()) => (f.clone(), true),
            Operand::Field(f) if self.schema.texts.contains(&f.as_str()) => (f.clone(), false),
            Operand::Call(f, _) => (format!("{f}(…)"), true),
            _ => return Ok(()),
        };
        let items = match right {
            Operand::List(items) => items.as_slice(),
            one => std::slice::from_ref(one),
        };
        for item in items {
            match item {
                Operand::Value(Value::Text(t)) if number => {
                    return err(
                        col,
                        format!(
                            "{name} is a number, and {t:?} is text: compare it with a number, such as {name} >= 10"
                        ),
                    );
                }
                Operand::Value(Value::Number(n)) if !number => {
                    return err(col, format!("{name} is text, and {n} is a number: quote it, as in {name} = \"{n}\""));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn list(&mut self) -> Result<Operand, ParseError> {
        if *self.peek() != Tok::OpenList {
            return err(self.column(), format!("expected a list such as [\"a\", \"b\"], found {}", self.peek()));
        }
        self.operand()
    }

    fn operand(&mut self) -> Result<Operand, ParseError> {
        let (col, tok) = self.next();
        match tok {
            Tok::Number(n) => Ok(Operand::Value(Value::Number(n))),
            Tok::Text(t) => Ok(Operand::Value(Value::Text(t))),
            Tok::OpenList => {
                self.deeper(col)?;
                let mut items = Vec::new();
                if *self.peek() == Tok::CloseList {
                    self.next();
                    self.depth -= 1;
                    return Ok(Operand::List(items));
                }
                loop {
                    items.push(self.operand()?);
                    match self.next() {
                        (_, Tok::Comma) => continue,
                        (_, Tok::CloseList) => {
                            self.depth -= 1;
                            return Ok(Operand::List(items));
                        }
                        (col, other) => return err(col, format!("expected \",\" or \"]\", found {other}")),
                    }
                }
            }
            Tok::Ident(word) => match word.to_ascii_lowercase().as_str() {
                "true" => Ok(Operand::Value(Value::Bool(true))),
                "false" => Ok(Operand::Value(Value::Bool(false))),
                "null" => Ok(Operand::Value(Value::Null)),
                "and" | "or" | "not" | "in" | "contains" => err(col, format!("expected a value, found {word:?}")),
                _ if *self.peek() == Tok::Open => self.call(col, word),
                _ => self.field(col, word),
            },
            other => err(col, format!("expected a value, found {other}")),
        }
    }

    fn field(&self, col: usize, name: String) -> Result<Operand, ParseError> {
        let known = self.schema.fields.contains(&name.as_str())
            || name.strip_prefix("attribute.").is_some_and(|a| !a.is_empty() && !a.contains('.'));
        if known {
            return Ok(Operand::Field(name));
        }
        let hint = match self.schema.functions.iter().find(|f| f.0 == name) {
            Some(_) => format!("; {name} is a function: {name}(…)"),
            None => format!("; fields are {}, attribute.NAME", self.schema.fields.join(", ")),
        };
        err(col, format!("unknown field {name:?}{hint}"))
    }

    fn call(&mut self, col: usize, name: String) -> Result<Operand, ParseError> {
        let Some(&(_, min, max)) = self.schema.functions.iter().find(|f| f.0 == name) else {
            let names: Vec<&str> = self.schema.functions.iter().map(|f| f.0).collect();
            return err(col, format!("unknown function {name:?}; functions are {}", names.join(", ")));
        };
        self.next(); // "("
        let mut args = Vec::new();
        if *self.peek() != Tok::Close {
            loop {
                let (arg_col, tok) = self.next();
                match tok {
                    Tok::Number(n) => args.push(Value::Number(n)),
                    Tok::Text(t) => args.push(Value::Text(t)),
                    other => return err(arg_col, format!("a function takes numbers and texts, found {other}")),
                }
                match self.next() {
                    (_, Tok::Comma) => continue,
                    (_, Tok::Close) => break,
                    (c, other) => return err(c, format!("expected \",\" or \")\", found {other}")),
                }
            }
        } else {
            self.next();
        }
        if args.len() < min || args.len() > max {
            let want = if min == max { min.to_string() } else { format!("{min} to {max}") };
            return err(col, format!("{name} takes {want} argument(s), not {}", args.len()));
        }
        Ok(Operand::Call(name, args))
    }
}

/// Parses `src`, checking its size, nesting, fields and functions against the limits and `schema`.
pub fn parse(src: &str, schema: &Schema) -> Result<Expr, ParseError> {
    if src.len() > MAX_LEN {
        return err(
            src.char_indices().take_while(|(i, _)| *i < MAX_LEN).count() + 1,
            format!("the expression is {} bytes long; the limit is {MAX_LEN}", src.len()),
        );
    }
    let mut p = Parser { toks: lex(src)?, at: 0, schema, depth: 0 };
    if *p.peek() == Tok::End {
        return err(1, "the expression is empty");
    }
    let expr = p.or()?;
    match p.peek() {
        Tok::End => Ok(expr),
        other => err(p.column(), format!("expected \"and\", \"or\" or the end, found {other}")),
    }
}

impl Operand {
    fn value(&self, env: &dyn Env) -> Value {
        match self {
            Operand::Field(name) => env.field(name),
            Operand::Call(name, args) => env.call(name, args),
            Operand::Value(v) => v.clone(),
            Operand::List(items) => Value::List(items.iter().map(|i| i.value(env)).collect()),
        }
    }
}

impl Expr {
    /// Whether the expression holds in `env`.
    pub fn eval(&self, env: &dyn Env) -> bool {
        match self {
            Expr::Or(terms) => terms.iter().any(|t| t.eval(env)),
            Expr::And(terms) => terms.iter().all(|t| t.eval(env)),
            Expr::Not(e) => !e.eval(env),
            Expr::Compare(a, op, b) => {
                let (a, b) = (a.value(env), b.value(env));
                match op {
                    Cmp::Eq => a.equals(&b),
                    Cmp::Ne => !matches!(a, Value::Null) && !matches!(b, Value::Null) && !a.equals(&b),
                    Cmp::Lt => a.order(&b) == Some(Ordering::Less),
                    Cmp::Le => matches!(a.order(&b), Some(Ordering::Less | Ordering::Equal)),
                    Cmp::Gt => a.order(&b) == Some(Ordering::Greater),
                    Cmp::Ge => matches!(a.order(&b), Some(Ordering::Greater | Ordering::Equal)),
                }
            }
            Expr::In(a, list) => match list.value(env) {
                Value::List(items) => {
                    let a = a.value(env);
                    items.iter().any(|i| a.equals(i))
                }
                _ => false,
            },
            Expr::Contains(a, b) => match (a.value(env), b.value(env)) {
                (Value::List(items), b) => items.iter().any(|i| i.equals(&b)),
                (Value::Text(a), Value::Text(b)) => a.to_lowercase().contains(&b.to_lowercase()),
                _ => false,
            },
            Expr::Truthy(a) => a.value(env) == Value::Bool(true),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SCHEMA: Schema = Schema {
        fields: &["plan", "country", "mrr", "stage", "tags", "health"],
        numbers: &["mrr", "health"],
        texts: &["plan", "country", "stage"],
        functions: &[("active_users", 1, 1), ("events", 1, 2)],
    };

    struct Account(HashMap<&'static str, Value>);

    impl Env for Account {
        fn field(&self, name: &str) -> Value {
            self.0.get(name).cloned().unwrap_or(Value::Null)
        }
        fn call(&self, name: &str, args: &[Value]) -> Value {
            match (name, args) {
                ("active_users", [Value::Number(d)]) if *d == Decimal::from(30) => Value::Number(Decimal::from(4)),
                _ => Value::Null,
            }
        }
    }

    fn acme() -> Account {
        let text = |s: &str| Value::Text(s.into());
        Account(HashMap::from([
            ("plan", text("Growth")),
            ("country", text("DE")),
            ("mrr", Value::Number(Decimal::new(125_000, 2))),
            ("stage", text("adoption")),
            ("tags", Value::List(vec![text("strategic"), text("beta")])),
            ("attribute.sso_enabled", Value::Bool(true)),
        ]))
    }

    fn holds(src: &str) -> bool {
        parse(src, &SCHEMA).unwrap_or_else(|e| panic!("{src}: {e}")).eval(&acme())
    }

    #[test]
    fn the_documented_examples_read_as_a_csm_means_them() {
        assert!(holds(r#"plan = "growth" and mrr >= 1000"#), "text compares without case");
        assert!(holds(r#"country in ["DE", "AT", "CH"] or tags contains "strategic""#));
        assert!(holds(r#"not (stage = "churned") and active_users(30) < 5"#));
        assert!(holds("attribute.sso_enabled"));
        assert!(holds(r#"country not in ['US', 'GB'] and plan != "Starter""#));
        assert!(!holds(r#"plan = "Growth" and (mrr > 2000 or tags contains "reference")"#));
        assert!(holds("stage = 'x' and mrr > 1000 or plan = 'growth'"), "and binds tighter than or");
        assert!(holds("mrr > 1000 or plan = 'x' and stage = 'x'"), "and binds tighter than or");
        assert!(!holds("not plan = 'growth' or stage = 'x'"), "not binds tightest");
        assert!(holds("mrr > -3.5 and mrr <= 1250.00 and mrr == 1250"));
    }

    #[test]
    fn missing_values_make_comparisons_false() {
        // Acme has no health score yet, and no value for an attribute it lacks.
        assert!(!holds("health < 40"));
        assert!(!holds("health >= 40"));
        assert!(holds("not (health >= 40)"));
        assert!(!holds("health != 40"));
        assert!(!holds("attribute.seats > 3"));
        assert!(!holds("events('Report Built') > 0"), "a function without a value");
    }

    #[test]
    fn long_chains_are_one_level_and_deep_nesting_is_refused() {
        // 290 `or` terms (~4 KB): one level, evaluated without recursion per term.
        let chain = vec!["mrr > 2000"; 290].join(" or ");
        assert!(chain.len() <= MAX_LEN);
        let e = parse(&chain, &SCHEMA).unwrap();
        assert!(matches!(&e, Expr::Or(terms) if terms.len() == 290));
        assert!(!e.eval(&acme()));
        let e = |src: &str| parse(src, &SCHEMA).unwrap_err();
        let too_long = vec!["mrr > 2000"; 5000].join(" or ");
        assert_eq!(e(&too_long).message, format!("the expression is {} bytes long; the limit is 4096", too_long.len()));
        assert_eq!(e(&too_long).column, 4097);
        let deep = format!("{}mrr > 1{}", "(".repeat(65), ")".repeat(65));
        assert_eq!(e(&deep).message, "the expression nests deeper than 64 levels (parentheses, not, lists)");
        assert_eq!(e(&deep).column, 65);
        assert!(parse(&format!("{}mrr > 1{}", "(".repeat(64), ")".repeat(64)), &SCHEMA).is_ok());
        assert!(e(&format!("{}mrr > 1", "not ".repeat(65))).message.contains("deeper than 64"));
        assert!(e(&format!("tags in {}1{}", "[".repeat(70), "]".repeat(70))).message.contains("deeper than 64"));
    }

    #[test]
    fn errors_point_at_the_column() {
        let e = |src: &str| parse(src, &SCHEMA).unwrap_err();
        assert_eq!(e(r#"pln = "Growth""#).to_string().split(';').next(), Some(r#"column 1: unknown field "pln""#));
        assert_eq!(e("mrr >= ").column, 8);
        assert_eq!(e("mrr >= ").message, "expected a value, found the end");
        assert_eq!(e("plan = 'Growth").column, 8);
        assert_eq!(e("mrr > 10 mrr").message, "expected \"and\", \"or\" or the end, found \"mrr\"");
        assert_eq!(e("mrr > 10 mrr").column, 10);
        assert_eq!(e("active_users(30, 2) > 1").message, "active_users takes 1 argument(s), not 2");
        assert_eq!(
            e("active_users > 1").message,
            "unknown field \"active_users\"; active_users is a function: active_users(…)"
        );
        assert_eq!(e("country in 'DE'").column, 12);
        assert_eq!(e("(mrr > 1").message, "expected \")\", found the end");
        assert_eq!(e("mrr ~ 1").column, 5);
        assert_eq!(e("  ").message, "the expression is empty");
    }

    #[test]
    fn a_number_compared_with_text_is_an_error_naming_the_column() {
        let e = |src: &str| parse(src, &SCHEMA).unwrap_err().to_string();
        assert_eq!(
            e(r#"mrr >= "abc""#),
            r#"column 8: mrr is a number, and "abc" is text: compare it with a number, such as mrr >= 10"#
        );
        assert!(e("plan = 5").starts_with("column 8: plan is text, and 5 is a number"), "{}", e("plan = 5"));
        assert!(e(r#"active_users(30) < "few""#).starts_with("column 20: active_users(…) is a number"));
        assert!(e(r#"health in [1, "x"]"#).starts_with("column 11: health is a number"));
        // Fields of no declared kind, null and the right kinds stay allowed.
        for ok in [r#"attribute.tier = 3"#, "mrr = null", r#"stage in ["a", "b"]"#, "mrr >= 10", r#"tags contains "x""#]
        {
            assert!(parse(ok, &SCHEMA).is_ok(), "{ok}");
        }
    }
}
