//! The shape of the code, checked: no import circle between the modules of any crate, and in the
//! server the adapters (the API, the pages, Segment's and Stripe's endpoints) never import one
//! another while the services import none of them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module as its path inside its crate: `web::pages::health` for `src/web/pages/health.rs`.
type Module = Vec<String>;

fn crates() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// The files under `dir` whose extension is one of `extensions`.
fn files(dir: &Path, extensions: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, extensions, out);
        } else if path.extension().is_some_and(|e| extensions.iter().any(|x| e == *x)) {
            out.push(path);
        }
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    files(dir, &["rs"], out)
}

fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

/// The code of a file without its unit tests (a test may reach anywhere).
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// The paths a file names through `crate::` and `super::`, absolute within the crate, including
/// each name of a `use crate::{a, b}` / `use super::{a, b}` list.
fn named_paths(module: &Module, text: &str) -> Vec<Module> {
    // `super` of `a/b.rs` and of `a/b/mod.rs` alike is `a`.
    let parent: Module = module[..module.len().saturating_sub(1)].to_vec();
    let mut out = Vec::new();
    for (root, base) in [("crate::", Vec::new()), ("super::", parent)] {
        for (at, _) in text.match_indices(root) {
            if at > 0 && text.as_bytes()[at - 1].is_ascii_alphanumeric() {
                continue;
            }
            let rest = &text[at + root.len()..];
            if let Some(list) = rest.strip_prefix('{') {
                let inner = &list[..list.find('}').unwrap_or(0)];
                for name in inner.split(',') {
                    let first = name.trim().split("::").next().unwrap_or_default();
                    if !first.is_empty() && first != "self" {
                        out.push([base.clone(), vec![first.to_owned()]].concat());
                    }
                }
                continue;
            }
            let path: Vec<String> = rest
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
                .next()
                .unwrap_or_default()
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            out.push([base.clone(), path].concat());
        }
    }
    out
}

/// Each module's imports of other modules of its crate (the longest module a named path is in),
/// leaving out a module's own ancestors and descendants: containment is not a circle.
fn imports(krate: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let src = krate.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<Module, PathBuf> = files.iter().map(|f| (module_of(&src, f), f.clone())).collect();
    let mut graph: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &modules {
        for path in named_paths(module, &code(file)) {
            let Some(target) = (1..=path.len()).rev().map(|n| path[..n].to_vec()).find(|p| modules.contains_key(p))
            else {
                continue;
            };
            let related = target.starts_with(module) || module.starts_with(&target);
            if !related {
                graph.entry(module.clone()).or_default().insert(target);
            }
        }
    }
    graph
}

fn find_cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        n: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|m| m == n) {
            return Some([stack[at..].to_vec(), vec![n.clone()]].concat());
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.clone());
        for t in graph.get(n).into_iter().flatten() {
            if let Some(c) = visit(t, graph, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|n| visit(n, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut checked = 0;
    for krate in ["core", "store", "server", "cli"] {
        let graph = imports(&crates().join(krate));
        assert!(graph.len() >= 3, "{krate}: the search found its modules' imports ({})", graph.len());
        checked += graph.len();
        if let Some(cycle) = find_cycle(&graph) {
            let names: Vec<String> = cycle.iter().map(|m| m.join("::")).collect();
            panic!("{krate} has an import circle: {}", names.join(" → "));
        }
    }
    assert!(checked > 40, "{checked}");
}

#[test]
fn the_server_adapters_import_no_other_adapter_and_the_services_none() {
    let adapters = ["api", "web", "ingest", "webhooks"];
    let services = [
        "accounts",
        "billing",
        "contacts",
        "daily",
        "definitions",
        "health",
        "renewals",
        "revenue",
        "usage",
        "waiting",
    ];
    let graph = imports(&crates().join("server"));
    let mut wrong = Vec::new();
    for (module, targets) in &graph {
        let top = module[0].as_str();
        for t in targets {
            let to = t[0].as_str();
            let adapter_to_adapter = adapters.contains(&top) && adapters.contains(&to) && top != to;
            let service_to_adapter = services.contains(&top) && (adapters.contains(&to) || to == "auth");
            if adapter_to_adapter || service_to_adapter {
                wrong.push(format!("{} imports {}", module.join("::"), t.join("::")));
            }
        }
    }
    for s in services {
        assert!(graph.contains_key(&vec![s.to_owned()]), "the service {s} exists and was read");
    }
    assert!(wrong.is_empty(), "adapters call services, never each other:\n{}", wrong.join("\n"));
}

/// Ways Rust and SQL read the wall clock.
const CLOCK_READS: &[&str] = &[
    "Utc::now(",
    "Local::now(",
    "SystemTime::now(",
    "UNIX_EPOCH",
    "OffsetDateTime::now",
    "Timestamp::now(",
    "CURRENT_TIMESTAMP",
    "CURRENT_DATE",
    "LOCALTIMESTAMP",
    "'now'",
];

/// Nothing in the workspace's code reads the wall clock but `keepwell_store::Clock`: every `src`
/// and migration file of every crate is searched. (Integration tests may read it to build their
/// inputs; monotonic `Instant`s measure durations and are allowed.)
#[test]
fn nothing_but_the_clock_reads_the_wall_clock() {
    let mut all = Vec::new();
    for krate in std::fs::read_dir(crates()).unwrap() {
        let krate = krate.unwrap().path();
        for sub in ["src", "migrations"] {
            if krate.join(sub).is_dir() {
                files(&krate.join(sub), &["rs", "sql"], &mut all);
            }
        }
    }
    assert!(all.len() > 50, "the search found the workspace's files ({})", all.len());
    let mut found = Vec::new();
    for path in all.iter().filter(|p| !p.ends_with("store/src/clock.rs")) {
        let text = std::fs::read_to_string(path).unwrap();
        for (n, line) in text.lines().enumerate() {
            // SQL's now(): a call not on a value (`clock.now()`) nor a path (`Instant::now()`).
            let lower = line.to_ascii_lowercase();
            let bare_sql_now = lower.match_indices("now()").any(|(i, _)| {
                i == 0 || !matches!(lower.as_bytes()[i - 1], b'.' | b':' | b'_' | b'a'..=b'z' | b'0'..=b'9')
            });
            if CLOCK_READS.iter().any(|r| line.contains(r)) || bare_sql_now {
                found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
            }
        }
    }
    assert!(found.is_empty(), "read the time from the injected Clock instead:\n{}", found.join("\n"));
}

/// Every handler of the server's adapters runs in a span of its own (`tracing::instrument`), with
/// the path's ids as fields.
#[test]
fn every_handler_is_instrumented() {
    let src = crates().join("server/src");
    let mut files = Vec::new();
    for dir in ["api", "web", "ingest", "webhooks"] {
        rust_files(&src.join(dir), &mut files);
    }
    let (mut handlers, mut bare) = (0, Vec::new());
    for file in &files {
        let text = code(file);
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.starts_with("pub async fn ") {
                continue;
            }
            let signature: String = lines[i..].iter().take_while(|l| !l.ends_with('{')).copied().collect();
            if !signature.contains("State(") && !signature.contains("Path(") {
                continue;
            }
            handlers += 1;
            let attributes = lines[..i]
                .iter()
                .rev()
                .take_while(|l| l.starts_with('#') || l.starts_with("///") || l.starts_with(' '));
            if !attributes.into_iter().any(|l| l.contains("tracing::instrument")) {
                bare.push(format!("{}:{}: {line}", file.display(), i + 1));
            }
        }
    }
    assert!(handlers > 80, "the search found the handlers ({handlers})");
    assert!(bare.is_empty(), "handlers without #[tracing::instrument]:\n{}", bare.join("\n"));
}
