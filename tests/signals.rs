//! Signals at the root of a real tree: the `ctrl_c_tree` example (seven
//! processes, six live streams) interrupted the ways a user interrupts a
//! program. Reference scenarios 9 and 11.

#[path = "support/program.rs"]
mod program;

use std::time::{Duration, Instant};

use program::Program;

const ACTORS: [&str; 7] = [
    "root",
    "relay_0",
    "relay_1",
    "relay_0_leaf_a",
    "relay_0_leaf_b",
    "relay_1_leaf_a",
    "relay_1_leaf_b",
];

/// The tree, up and streaming.
fn start_tree(env: &[(&str, &str)], own_group: bool) -> Program {
    let mut p = Program::start("ctrl_c_tree", env, own_group);
    p.wait_line("tree up", Duration::from_secs(30));
    p
}

/// The pid the example printed for `actor`.
fn pid_of(p: &Program, actor: &str) -> i32 {
    let prefix = format!("actor {actor} ");
    p.stdout
        .iter()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|pid| pid.trim().parse().ok())
        .unwrap_or_else(|| panic!("no pid printed for {actor}:\n{}", p.stdout.join("\n")))
}

/// Interrupts the tree with `sig` and checks the graceful ending: the
/// exit status, every actor's task cancelled and cleanups run, every
/// process gone within 1 s of the signal.
fn interrupt_gracefully(mut p: Program, sig: i32, to_group: bool, code: i32) {
    let sent = Instant::now();
    p.signal(sig, to_group);
    let status = p.wait_exit(Duration::from_secs(10));
    p.assert_tree_gone(Duration::from_secs(1));
    let took = sent.elapsed();
    assert_eq!(
        status.code(),
        Some(code),
        "{status}:\n{}",
        p.stdout.join("\n")
    );
    for actor in ACTORS {
        for what in [
            format!("task of {actor} dropped"),
            format!("cleanup ran in {actor}"),
        ] {
            assert!(
                p.stdout.contains(&what),
                "missing {what:?}:\n{}",
                p.stdout.join("\n")
            );
        }
    }
    assert!(
        took < Duration::from_secs(1),
        "the tree took {took:?} to go"
    );
}

#[test]
fn sigint_to_the_root_cancels_the_tree_gracefully() {
    let p = start_tree(&[], false);
    interrupt_gracefully(p, libc::SIGINT, false, 130);
}

/// A terminal's ctrl-c reaches every process of the foreground group:
/// the children leave it to the root, which cancels them in order.
#[test]
fn sigint_to_the_process_group_cancels_the_tree_gracefully() {
    let p = start_tree(&[], true);
    interrupt_gracefully(p, libc::SIGINT, true, 130);
}

#[test]
fn sigterm_to_the_root_cancels_the_tree_gracefully() {
    let p = start_tree(&[], false);
    interrupt_gracefully(p, libc::SIGTERM, false, 143);
}

/// A child never acts on SIGINT by itself: the tree keeps running, and
/// that child is later cancelled like every other.
#[test]
fn sigint_to_a_child_alone_is_ignored() {
    let mut p = start_tree(&[], false);
    let relay = pid_of(&p, "relay_0");
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(relay, libc::SIGINT) }, 0);
    // Still alive and streaming afterwards: a cancel request reaches it.
    p.signal(libc::SIGTERM, false);
    let status = p.wait_exit(Duration::from_secs(10));
    p.assert_tree_gone(Duration::from_secs(1));
    assert_eq!(status.code(), Some(143), "{status}");
    assert!(
        p.stdout.iter().any(|l| l == "cleanup ran in relay_0"),
        "{}",
        p.stdout.join("\n")
    );
}

/// A second SIGINT while the graceful teardown waits on a stuck actor
/// kills the tree at once (and still exits 130, all reaped).
#[test]
fn second_sigint_during_teardown_kills_the_tree_at_once() {
    let mut p = start_tree(&[("SLOW_CLEANUP_IN", "relay_0_leaf_a")], false);
    p.signal(libc::SIGINT, false);
    p.wait_line(
        "relay_0_leaf_a blocks its thread while cancelled",
        Duration::from_secs(10),
    );
    let second = Instant::now();
    p.signal(libc::SIGINT, false);
    let status = p.wait_exit(Duration::from_secs(10));
    p.assert_tree_gone(Duration::from_secs(1));
    let took = second.elapsed();
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(
        took < Duration::from_secs(1),
        "the second SIGINT took {took:?} to end the tree"
    );
    // The root still ran its own cleanups on the way out.
    assert!(
        p.stdout.iter().any(|l| l == "cleanup ran in root"),
        "{}",
        p.stdout.join("\n")
    );
}

/// Scenario 11: SIGINT while the nursery's exit waits on its daemons: they
/// are cancelled gracefully, without the hard-reap delay, and their
/// cleanups run.
#[test]
fn sigint_while_the_nursery_waits_on_daemons() {
    let mut p = start_tree(&[("CTRL_C_TREE_MODE", "daemons")], false);
    let sent = Instant::now();
    p.signal(libc::SIGINT, false);
    let status = p.wait_exit(Duration::from_secs(10));
    p.assert_tree_gone(Duration::from_secs(1));
    let took = sent.elapsed();
    assert_eq!(status.code(), Some(130), "{status}");
    for actor in ["root", "daemon_0", "daemon_1"] {
        let what = format!("cleanup ran in {actor}");
        assert!(
            p.stdout.contains(&what),
            "missing {what:?}:\n{}",
            p.stdout.join("\n")
        );
    }
    assert!(took < Duration::from_secs(1), "took {took:?}");
}

/// A `run_daemon` root stopped with ctrl-c: interrupted like any root
/// (exit 130), its registration and socket gone with it.
#[test]
fn sigint_stops_a_daemon_root() {
    let mut p = Program::start("quote_daemon", &[], false);
    p.wait_line("until cancelled", Duration::from_secs(30));
    // It handles signals once it serves, as the registrar at its address.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !program::tcp_listening(p.registry.port()) {
        assert!(Instant::now() < deadline, "quote_daemon never listened");
        std::thread::sleep(Duration::from_millis(5));
    }
    p.signal(libc::SIGINT, false);
    let status = p.wait_exit(Duration::from_secs(10));
    p.assert_tree_gone(Duration::from_secs(1));
    assert_eq!(status.code(), Some(130), "{status}");
    assert!(
        p.stdout
            .iter()
            .any(|l| l.contains("stopped: Err(Interrupted")),
        "{}",
        p.stdout.join("\n")
    );
}
