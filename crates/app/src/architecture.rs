//! The dependency rules of this crate, checked on its source. Contexts depend
//! one way, upstream to downstream; the kernel serves them and names none of
//! them; only the crate root and `wiring` connect them. Read from the
//! `crate::` paths of every file, tests left out.

use std::collections::{BTreeMap, BTreeSet};

/// Modules every context may use; they use no context.
const KERNEL: &[&str] = &[
    "audit",
    "auth",
    "caller",
    "config",
    "error",
    "events",
    "feed",
    "idempotency",
    "jobs",
    "limits",
    "memory",
    "outbound",
    "paging",
    "preconditions",
    "state",
    "tx",
    "worker",
];

/// Each context and the contexts it may use.
const CONTEXTS: &[(&str, &[&str])] = &[
    ("people", &[]),
    ("scheduling", &["people"]),
    ("messaging", &["people", "scheduling"]),
    ("google_sync", &["people", "scheduling"]),
    ("time_clock", &["people", "scheduling"]),
    ("accounts", &[]),
    ("webhooks", &[]),
];

/// Where the contexts are connected: `lib.rs` (named ""), `wiring.rs`, and
/// the fixtures of the unit tests.
const ROOT: &[&str] = &["", "wiring", "testing"];

/// Every broken rule in `files` (path under `src`, text), in words.
pub(crate) fn violations(files: &[(String, String)]) -> Vec<String> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut found = Vec::new();
    for (path, text) in files {
        let from = top_module(path);
        if from == "architecture" {
            continue;
        }
        if !is_known(&from) {
            found.push(format!(
                "{path}: module `{from}` is neither kernel, context nor root; add it to the rules"
            ));
        }
        for to in used_modules(text) {
            if to == from || to == "architecture" {
                continue;
            }
            if let Some(broken) = rule_broken(&from, &to) {
                found.push(format!("{path}: {broken}"));
            }
            graph.entry(from.clone()).or_default().insert(to);
        }
    }
    found.extend(cycles(&graph));
    found
}

fn is_known(module: &str) -> bool {
    KERNEL.contains(&module)
        || ROOT.contains(&module)
        || CONTEXTS.iter().any(|(name, _)| *name == module)
}

fn allowed_contexts(module: &str) -> Option<&'static [&'static str]> {
    CONTEXTS
        .iter()
        .find(|(name, _)| *name == module)
        .map(|(_, allowed)| *allowed)
}

fn rule_broken(from: &str, to: &str) -> Option<String> {
    if ROOT.contains(&to) {
        return (!ROOT.contains(&from))
            .then(|| format!("`{from}` uses `{to}`: only the crate root connects contexts"));
    }
    let to_is_context = allowed_contexts(to).is_some();
    if KERNEL.contains(&from) && to_is_context {
        return Some(format!(
            "the kernel module `{from}` uses the context `{to}`"
        ));
    }
    match allowed_contexts(from) {
        Some(allowed) if to_is_context && !allowed.contains(&to) => Some(format!(
            "the context `{from}` uses `{to}`, which is not upstream of it; publish an event and react in `wiring`"
        )),
        _ => None,
    }
}

/// `people` for `people.rs`, `scheduling` for `scheduling/appointments.rs`,
/// "" for `lib.rs`.
fn top_module(path: &str) -> String {
    let first = path.split('/').next().unwrap_or_default();
    let name = first.strip_suffix(".rs").unwrap_or(first);
    if name == "lib" {
        String::new()
    } else {
        name.to_owned()
    }
}

/// The top-level modules a file names after `crate::`, outside comments and
/// its tests.
fn used_modules(text: &str) -> BTreeSet<String> {
    let code: String = text
        .split("#[cfg(test)]")
        .next()
        .unwrap_or_default()
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut used = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c}`: the first name of each top-level item.
            let mut depth = 0;
            let mut item_start = true;
            for (i, ch) in group.char_indices() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        rest = &group[i..];
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        used.insert(identifier(&group[i..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            used.insert(identifier(rest));
        }
    }
    used.remove("self");
    used.remove("");
    used
}

fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// Each cycle of the module graph, once.
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut reported = BTreeSet::new();
    let mut found = Vec::new();
    for start in graph.keys() {
        // A path back to `start` through its successors, breadth first.
        let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue: Vec<&str> = vec![start.as_str()];
        let mut head = 0;
        'search: while head < queue.len() {
            let at = queue[head];
            head += 1;
            for next in graph.get(at).into_iter().flatten() {
                if next == start {
                    let mut path = Vec::new();
                    let mut step = at;
                    while step != start.as_str() {
                        path.push(step.to_owned());
                        step = came_from[step];
                    }
                    path.reverse();
                    let key: BTreeSet<String> = path.iter().chain([start]).cloned().collect();
                    if reported.insert(key) {
                        let mut through = vec![start.clone()];
                        through.extend(path);
                        through.push(start.clone());
                        found.push(format!("a cycle of modules: {}", through.join(" -> ")));
                    }
                    break 'search;
                }
                if !came_from.contains_key(next.as_str()) && next != start {
                    came_from.insert(next, at);
                    queue.push(next);
                }
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_files() -> Vec<(String, String)> {
        fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<(String, String)>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    walk(&path, root, out);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let relative = path
                        .strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.push((relative, std::fs::read_to_string(&path).unwrap()));
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        walk(&root, &root, &mut files);
        files
    }

    #[test]
    fn the_crate_keeps_its_dependency_rules() {
        let files = source_files();
        assert!(
            files.iter().any(|(path, _)| path == "wiring.rs"),
            "read the sources"
        );
        assert_eq!(violations(&files), Vec::<String>::new());
    }

    fn with(path: &str, text: &str) -> Vec<(String, String)> {
        let mut files = source_files();
        files.push((path.to_owned(), text.to_owned()));
        files
    }

    #[test]
    fn an_upstream_context_using_a_downstream_one_is_refused() {
        let found = violations(&with(
            "people/extra.rs",
            "use crate::messaging::notify_status;\n",
        ));
        assert!(
            found[0].contains("the context `people` uses `messaging`"),
            "{found:?}"
        );
        // messaging -> people: the edge closes a circle too.
        let cycle = "a cycle of modules: messaging -> people -> messaging";
        assert!(found.contains(&cycle.to_owned()), "{found:?}");
        assert_eq!(found.len(), 2, "{found:?}");
    }

    #[test]
    fn the_kernel_using_a_context_is_refused_and_so_is_the_cycle_it_makes() {
        let found = violations(&with(
            "tx/extra.rs",
            "use crate::{error, messaging::send};\n",
        ));
        assert!(
            found
                .iter()
                .any(|v| v.contains("the kernel module `tx` uses the context `messaging`")),
            "{found:?}"
        );
        assert!(
            found.iter().any(|v| v.starts_with("a cycle of modules")),
            "{found:?}"
        );
    }

    #[test]
    fn a_context_reaching_for_the_wiring_is_refused() {
        let found = violations(&with(
            "scheduling/extra.rs",
            "fn f() { crate::wiring::react; }\n",
        ));
        assert!(
            found
                .iter()
                .any(|v| v.contains("only the crate root connects contexts")),
            "{found:?}"
        );
    }

    #[test]
    fn comments_and_tests_may_name_anything() {
        let found = violations(&with(
            "people/extra.rs",
            "// crate::google_sync is downstream\n#[cfg(test)]\nmod tests { use crate::wiring; }\n",
        ));
        assert_eq!(found, Vec::<String>::new());
    }

    #[test]
    fn a_new_module_must_be_placed() {
        let found = violations(&with("billing.rs", "use crate::error::AppError;\n"));
        assert!(
            found
                .iter()
                .any(|v| v.contains("module `billing` is neither")),
            "{found:?}"
        );
    }
}
