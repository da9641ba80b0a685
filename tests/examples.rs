//! Every example is a real program: run it, check what it prints, and
//! check that no process of its tree outlives it.

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// `target/<profile>/examples/<name>`, next to this test's `deps/` dir.
fn example_path(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

/// Runs an example with a deadline and a fresh tree marker, then asserts
/// that every process of the tree is gone.
fn run_example(name: &str, env: &[(&str, &str)]) -> Output {
    let tree = format!("example-{name}-{}", std::process::id());
    let mut cmd = Command::new(example_path(name));
    // A registrar of its own per run: examples run concurrently here.
    let registry = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    cmd.env("TRACTOR_TREE", &tree)
        .env("TRACTOR_REGISTRY_ADDR", format!("tcp://{registry}"))
        .env_remove("TRACTOR_PARENT_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run example {name} (built by `cargo test`?): {e}"));
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.expect("example output"),
        Err(_) => {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("example {name} passed its 60 s deadline");
        }
    };
    let left = tractor::testing::wait_gone(&tree, Duration::from_secs(3));
    assert!(
        left.is_empty(),
        "example {name} left processes behind: {}",
        tractor::testing::describe(&left)
    );
    out
}

fn stdout_of(name: &str) -> String {
    let started = Instant::now();
    let out = run_example(name, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "example {name} failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        started.elapsed() < Duration::from_secs(16),
        "{name} took {:?}",
        started.elapsed()
    );
    stdout
}

#[test]
fn single_func() {
    let out = stdout_of("single_func");
    assert!(out.contains("burn_cpu ran in process"), "{out}");
}

#[test]
fn we_are_processes() {
    let out = stdout_of("we_are_processes");
    assert!(out.contains("worker processes are up"), "{out}");
    assert!(out.contains("Zombies contained"), "{out}");
}

#[test]
fn remote_error_propagation() {
    let out = stdout_of("remote_error_propagation");
    assert!(
        out.contains("the root got a `panic` from actor errorer@"),
        "{out}"
    );
}

#[test]
fn actor_spawning_and_causality() {
    let out = stdout_of("actor_spawning_and_causality");
    assert!(out.contains("daemon frank runs in process"), "{out}");
    assert!(out.contains("every actor is reaped"), "{out}");
}

#[test]
fn nested_actor_tree() {
    let out = stdout_of("nested_actor_tree");
    assert!(out.contains("8^2 = 64"), "{out}");
    assert!(
        out.contains("done: 8 squares from 2 leaf processes"),
        "{out}"
    );
}

#[test]
fn rpc_bidir_streaming() {
    let out = stdout_of("rpc_bidir_streaming");
    assert!(
        out.contains("the child started its task and sent 11"),
        "{out}"
    );
    assert_eq!(out.matches("-> Some(\"pong\")").count(), 10, "{out}");
    assert!(out.contains("the child answered 10 pings"), "{out}");
}

#[test]
fn typed_payloads() {
    let out = stdout_of("typed_payloads");
    assert_eq!(out.matches("menu: ").count(), 4, "{out}");
    assert!(out.contains("welcome from frank in process"), "{out}");
    assert!(
        out.contains("order 3: Some(NotOnTheMenu { id: 3 })"),
        "{out}"
    );
    assert!(
        out.contains("summary: Summary { served: 3, refused: 1, revenue_cents: 970 }"),
        "{out}"
    );
    assert!(
        out.contains(
            "brew_batch(40) failed with Some(OutOfBeans { wanted: 40, left: 12 }) from actor cafe@"
        ),
        "{out}"
    );
    assert!(
        out.contains("every payload arrived as its own type"),
        "{out}"
    );
}

#[test]
fn multiple_streams_one_portal() {
    let out = stdout_of("multiple_streams_one_portal");
    assert!(
        out.contains("all 4 contexts are open at once on one portal"),
        "{out}"
    );
    for id in 0..4u64 {
        let total: u64 = (0..25).map(|k| id * 1000 + k).sum();
        assert!(
            out.contains(&format!(
                "context {id}: 25 values, running sums checked, total {total} "
            )),
            "{out}"
        );
    }
    assert!(
        out.contains("done: 4 concurrent contexts over one portal"),
        "{out}"
    );
}

#[test]
fn streaming_pipeline() {
    let out = stdout_of("streaming_pipeline");
    assert!(
        out.contains("the aggregator sent 1000 values; the root got 1000 in"),
        "{out}"
    );
    assert!(
        out.contains("got exactly 0..1000, each value once, in order"),
        "{out}"
    );
    assert!(out.contains("all reaped"), "{out}");
}

/// `TRACTOR_LOGLEVEL` tunes the whole tree, and every event of an actor is
/// stamped with its name and pid.
#[test]
fn loglevel_env_reaches_children_and_stamps_actors() {
    let out = run_example(
        "actor_spawning_and_causality",
        &[("TRACTOR_LOGLEVEL", "debug")],
    );
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let plain: String = strip_ansi(&stderr);
    assert!(plain.contains("actor{name=root pid="), "{plain}");
    assert!(plain.contains("actor{name=frank pid="), "{plain}");
    assert!(plain.contains("actor{name=burn_cpu pid="), "{plain}");
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
