//! The crate's layers, kept: no folder of `tractor/src` imports a folder
//! above it (the order and the graph are in the crate docs). A plain
//! text check over `crate::<folder>` paths, so it needs no build of the
//! crate and fails with the offending file and line.

use std::collections::BTreeSet;
use std::path::Path;

/// Each folder and the folders it may import.
const ALLOWED: &[(&str, &[&str])] = &[
    ("app", &["devx", "discovery", "runtime", "spawn", "ipc"]),
    ("devx", &["runtime", "spawn", "ipc"]),
    ("discovery", &["runtime", "ipc"]),
    ("runtime", &["spawn", "ipc"]),
    ("trionics", &[]),
    ("spawn", &["ipc"]),
    ("ipc", &[]),
    ("foreign", &[]),
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        panic!("cannot read {}", dir.display());
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The layer folders a line names through `crate::<folder>`.
fn named_layers(line: &str) -> BTreeSet<&'static str> {
    let mut found = BTreeSet::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let name: &str = rest
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .unwrap_or("");
        if let Some((layer, _)) = ALLOWED.iter().find(|(l, _)| *l == name) {
            found.insert(*layer);
        }
    }
    found
}

#[test]
fn no_folder_imports_one_above_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut violations = Vec::new();
    let mut seen = BTreeSet::new();
    for (layer, allowed) in ALLOWED {
        let mut files = Vec::new();
        rust_files(&src.join(layer), &mut files);
        assert!(!files.is_empty(), "no sources under src/{layer}");
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            for (n, line) in text.lines().enumerate() {
                let code = line.trim_start();
                // Doc links name the public face, not an import.
                if code.starts_with("//") {
                    continue;
                }
                for target in named_layers(line) {
                    seen.insert((*layer, target));
                    if target != *layer && !allowed.contains(&target) {
                        violations.push(format!(
                            "{}:{}: `{layer}` imports `{target}`, a layer above it: {}",
                            f.display(),
                            n + 1,
                            code
                        ));
                    }
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layer violations:\n{}",
        violations.join("\n")
    );
    // The check reads real imports: the lowest layers are used from above.
    assert!(seen.contains(&("runtime", "ipc")), "{seen:?}");
    assert!(seen.contains(&("app", "discovery")), "{seen:?}");
}
