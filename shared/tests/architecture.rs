//! The library's import graph has no circle: every module of `shared/src` (one node per file)
//! is listed with the modules it names (`crate::a::b`, `super::x`, `child::y`), and the graph
//! must sort topologically. A submodule naming its own parent (`super::Engine` in an engine
//! phase) is not an edge: it is part of the parent, as Rust's privacy treats it. Test modules
//! (`tests.rs`, `#[cfg(test)] mod tests`) are left out: they import what they test.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Module path of a file: `engine/apply.rs` -> `engine::apply`, `drift/mod.rs` -> `drift`.
fn module_of(rel: &Path) -> Option<String> {
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?.to_owned();
    if stem == "tests" {
        return None;
    }
    if stem != "mod" && stem != "lib" {
        parts.push(stem);
    }
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    Some(parts.join("::"))
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file without comments, string literals and `#[cfg(test)]` modules' bodies
/// (good enough for this code base: no raw strings hold paths).
fn code(text: &str) -> String {
    let mut out = String::new();
    let mut skip_depth: Option<usize> = None;
    let mut depth = 0usize;
    let mut pending_test = false;
    for line in text.lines() {
        let l = line.split("//").next().unwrap_or_default();
        if l.trim_start().starts_with("#[cfg(test)]") {
            pending_test = true;
            continue;
        }
        let opens = l.matches('{').count();
        let closes = l.matches('}').count();
        if pending_test {
            pending_test = false;
            if l.trim_start().starts_with("mod ") && opens > 0 {
                skip_depth = Some(depth);
            }
        }
        depth = depth + opens - closes.min(depth + opens);
        if let Some(d) = skip_depth {
            if depth <= d {
                skip_depth = None;
            }
            continue;
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut all = Vec::new();
    files(&root, &mut all);
    let mut modules: BTreeMap<String, PathBuf> = BTreeMap::new();
    for f in &all {
        if let Some(m) = f.strip_prefix(&root).ok().and_then(module_of) {
            modules.insert(m, f.clone());
        }
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    // The longest known module that `path` (a::b::c) starts with.
    let resolve = |path: &[&str]| -> Option<String> {
        (1..=path.len())
            .rev()
            .map(|n| path[..n].join("::"))
            .find(|m| names.contains(m))
    };
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, file) in &modules {
        let text = fs::read_to_string(file).unwrap_or_default();
        let body = code(&text);
        let is_dir_module = file.ends_with("mod.rs") || file.ends_with("lib.rs");
        let parent: Vec<&str> = if module.is_empty() {
            Vec::new()
        } else {
            let mut p: Vec<&str> = module.split("::").collect();
            if !is_dir_module {
                p.pop();
            }
            p
        };
        let own: Vec<&str> = if module.is_empty() {
            Vec::new()
        } else {
            module.split("::").collect()
        };
        let mut targets = BTreeSet::new();
        let tokens: Vec<&str> = body
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
            .filter(|t| t.contains("::"))
            .collect();
        for t in tokens {
            let segs: Vec<&str> = t.split("::").filter(|s| !s.is_empty()).collect();
            let Some(first) = segs.first() else { continue };
            let full: Vec<&str> = match *first {
                "crate" => segs[1..].to_vec(),
                "super" => {
                    let mut base = if is_dir_module {
                        let mut o = own.clone();
                        o.pop();
                        o
                    } else {
                        parent.clone()
                    };
                    let mut rest = &segs[1..];
                    while rest.first() == Some(&"super") {
                        base.pop();
                        rest = &rest[1..];
                    }
                    base.extend_from_slice(rest);
                    base
                }
                "self" => {
                    let mut base = if is_dir_module {
                        own.clone()
                    } else {
                        parent.clone()
                    };
                    base.extend_from_slice(&segs[1..]);
                    base
                }
                _ => {
                    // A child module named without `self::` (`findings::x` in drift/mod.rs).
                    if !is_dir_module {
                        continue;
                    }
                    let mut base = own.clone();
                    base.extend_from_slice(&segs);
                    base
                }
            };
            if let Some(target) = resolve(&full)
                && target != *module
                && !target.is_empty()
                && !module.starts_with(&format!("{target}::"))
            {
                targets.insert(target);
            }
        }
        edges.insert(module.clone(), targets);
    }
    edges
}

/// A cycle, if there is one (depth-first search).
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for m in edges.get(n).into_iter().flatten() {
            match state.get(m.as_str()).copied().unwrap_or(0) {
                1 => {
                    let start = stack.iter().position(|s| s == m).unwrap_or(0);
                    let mut c = stack[start..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                0 => {
                    if let Some(c) = visit(m, edges, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            let mut stack = Vec::new();
            if let Some(c) = visit(n, edges, &mut state, &mut stack) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_import_graph_of_the_library_has_no_circle() {
    let edges = graph();
    assert!(
        edges.len() > 20,
        "too few modules found: {:?}",
        edges.keys()
    );
    // The checker sees what it must: the engine's phases name the engine, drift names policy.
    assert!(
        edges["engine::apply"].contains("planner"),
        "{:?}",
        edges["engine::apply"]
    );
    assert!(edges["engine"].contains("events"), "{:?}", edges["engine"]);
    assert!(edges["drift"].contains("policy"), "{:?}", edges["drift"]);
    if let Some(c) = cycle(&edges) {
        panic!("import circle: {}", c.join(" -> "));
    }
}

#[test]
fn the_checker_finds_a_circle_when_there_is_one() {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.insert("a".into(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".into(), BTreeSet::from(["c".to_owned()]));
    edges.insert("c".into(), BTreeSet::from(["a".to_owned()]));
    assert_eq!(
        cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    edges.insert("c".into(), BTreeSet::new());
    assert_eq!(cycle(&edges), None);
}

#[test]
fn the_engine_and_the_lambda_edge_stay_readable_in_a_sitting() {
    let root = src();
    let mut all = Vec::new();
    files(&root.join("engine"), &mut all);
    all.push(root.join("runtime.rs"));
    all.push(root.join("service.rs"));
    for f in all {
        let lines = fs::read_to_string(&f)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        assert!(lines <= 450, "{} has {lines} lines", f.display());
    }
}
