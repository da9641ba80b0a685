//! The debugger through a real pty, the way a person meets it: each
//! test runs one of `examples/debugging/` on a fresh pseudo-terminal (its
//! controlling terminal, as a shell would give it), waits for prompts,
//! types commands and ctrl-c, and checks what comes back, then that no
//! process of the tree is left. Every wait has a deadline.
//!
//! `cargo test --workspace` builds the examples first; run alone
//! (`cargo test --test debugger`), build them with `cargo build --examples`.

use std::process::Command;
use std::time::Duration;

#[allow(dead_code)]
#[path = "support/program.rs"]
mod program;
#[path = "support/wait.rs"]
mod wait;

use rexpect::process::wait::WaitStatus;
use rexpect::session::PtySession;

/// The longest any one expected output may take to appear.
const STEP: Duration = Duration::from_secs(20);

/// A debugging example on a pty of its own.
struct Session {
    name: String,
    tree: String,
    pty: PtySession,
    /// What it printed so far, for failure messages.
    seen: String,
}

impl Session {
    fn start(name: &str, env: &[(&str, &str)]) -> Session {
        // Unique per session: tests of one example run at the same time.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tree = format!("debugger-{name}-{}-{n}", std::process::id());
        let registry = program::free_registry();
        let mut cmd = Command::new(program::example_path(name));
        cmd.env("TRACTOR_TREE", &tree)
            .env("TRACTOR_REGISTRY_ADDR", format!("tcp://{registry}"))
            .env_remove("TRACTOR_PARENT_ADDR")
            .env_remove("TRACTOR_DEBUG_MODE")
            .env_remove("TRACTOR_LOGLEVEL")
            .env_remove("RUST_BACKTRACE");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let millis = u64::try_from(STEP.as_millis()).unwrap_or(u64::MAX);
        let pty = rexpect::session::spawn_command(cmd, Some(millis)).unwrap_or_else(|e| {
            panic!("cannot run example {name} on a pty (built by `cargo test`?): {e}")
        });
        Session {
            name: name.into(),
            tree,
            pty,
            seen: String::new(),
        }
    }

    /// Reads until `needle`; returns what came before it.
    fn expect(&mut self, needle: &str) -> String {
        match self.pty.exp_string(needle) {
            Ok(before) => {
                self.seen.push_str(&before);
                self.seen.push_str(needle);
                before
            }
            Err(e) => panic!(
                "{} did not print {needle:?} within {STEP:?} ({e}); it printed:\n{}",
                self.name, self.seen
            ),
        }
    }

    /// Waits for the REPL prompt of actor `actor`; returns what came before.
    fn prompt(&mut self, actor: &str) -> String {
        self.expect(&format!("(tractor {actor}) "))
    }

    fn send_line(&mut self, line: &str) {
        self.pty.send_line(line).expect("write to the pty");
    }

    /// Types ctrl-c at the terminal (SIGINT to the foreground group).
    fn ctrl_c(&mut self) {
        self.pty.send_control('c').expect("write to the pty");
    }

    /// Reads to the end of output and returns it with the exit status.
    fn finish(&mut self) -> (String, WaitStatus) {
        let rest = match self.pty.exp_eof() {
            Ok(rest) => rest,
            Err(e) => panic!(
                "{} did not end within {STEP:?} ({e}); it printed:\n{}",
                self.name, self.seen
            ),
        };
        self.seen.push_str(&rest);
        let status = self.pty.process().wait().expect("wait for the example");
        self.assert_tree_gone();
        (rest, status)
    }

    fn assert_tree_gone(&self) {
        let left = tractor::testing::wait_gone(&self.tree, Duration::from_secs(5));
        assert!(
            left.is_empty(),
            "{} left processes behind: {}",
            self.name,
            tractor::testing::describe(&left)
        );
    }

    /// At `actor`'s prompt, asks for the `tree` until `waiter`'s request
    /// for the terminal shows in it (relayed by its parent): `waiter` is
    /// then queued behind this REPL, whatever the scheduling.
    fn until_queued(&mut self, actor: &str, waiter: &str) {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            self.send_line("tree");
            let tree = self.prompt(actor);
            if tree.contains("lock_tty") && tree.contains(&format!("from {waiter}@")) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{waiter} never asked for the terminal:\n{tree}"
            );
        }
    }

    /// The pid a banner printed for actor `actor`.
    fn banner_pid(before: &str, actor: &str) -> i32 {
        let marker = format!("actor `{actor}` (pid ");
        let at = before
            .rfind(&marker)
            .unwrap_or_else(|| panic!("no banner for {actor} in:\n{before}"));
        before[at + marker.len()..]
            .split(')')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("no pid in the banner for {actor}:\n{before}"))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // A failed test: take the whole tree down.
        let _ = self
            .pty
            .process_mut()
            .kill(rexpect::process::signal::Signal::SIGKILL);
        for pid in tractor::testing::survivors(&self.tree) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

fn exited(status: &WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(*code),
        _ => None,
    }
}

#[test]
fn pause_in_a_subactor_then_in_the_root() {
    let mut s = Session::start("pause_in_subactor", &[]);
    let banner = s.prompt("pauser");
    assert!(
        banner.contains("Opening a REPL in paused actor `pauser`")
            && banner.contains("at examples/debugging/pause_in_subactor.rs:17"),
        "{banner}"
    );
    s.send_line("values");
    let values = s.prompt("pauser");
    assert!(
        values.contains("i = 0") && values.contains("total = 0"),
        "{values}"
    );
    s.send_line("bt");
    let bt = s.prompt("pauser");
    assert!(bt.contains("count_with_pauses"), "backtrace:\n{bt}");
    assert!(
        !bt.contains("tokio::runtime"),
        "runtime frames shown:\n{bt}"
    );
    s.send_line("c");
    let again = s.prompt("pauser");
    assert!(again.contains("paused actor `pauser`"), "{again}");
    s.send_line("v");
    let values = s.prompt("pauser");
    assert!(
        values.contains("i = 1") && values.contains("total = 1"),
        "{values}"
    );
    s.send_line("c");
    s.prompt("pauser");
    s.send_line("c");
    let root = s.prompt("root");
    assert!(root.contains("the child counted to 3"), "{root}");
    s.send_line("p");
    let values = s.prompt("root");
    assert!(values.contains("total = 3"), "{values}");
    s.send_line("c");
    let (rest, status) = s.finish();
    assert!(rest.contains("root resumed; done"), "{rest}");
    assert_eq!(exited(&status), Some(0), "{status:?}\n{rest}");
}

#[test]
fn pause_in_a_grandchild_shows_the_whole_tree() {
    let mut s = Session::start("nested_pause", &[]);
    let banner = s.prompt("leaf");
    let leaf = Session::banner_pid(&banner, "leaf");
    s.send_line("tree");
    let tree = s.prompt("leaf");
    for name in ["root", "middle", "leaf"] {
        assert!(tree.contains(name), "`tree` lacks {name}:\n{tree}");
    }
    assert!(
        tree.contains(&leaf.to_string()),
        "`tree` lacks the leaf's pid {leaf}:\n{tree}"
    );
    s.send_line("tasks");
    let tasks = s.prompt("leaf");
    assert!(
        tasks.contains("leaf_work"),
        "`tasks` lacks the paused endpoint:\n{tasks}"
    );
    s.send_line("c");
    let (rest, status) = s.finish();
    assert!(
        rest.contains(&format!("the leaf (pid {leaf}) answered")),
        "{rest}"
    );
    assert_eq!(exited(&status), Some(0), "{status:?}\n{rest}");
}

#[test]
fn two_children_pausing_at_once_get_one_prompt_at_a_time() {
    let mut s = Session::start("multi_subactors", &[]);
    // Whichever got the lock first; the other must not prompt meanwhile.
    let before = s.expect("Opening a REPL in paused actor `");
    let first = s.expect("`");
    let first = first.trim().to_string();
    assert!(first == "alice" || first == "bob", "{before}{first}");
    let second = if first == "alice" { "bob" } else { "alice" };
    s.prompt(&first);
    s.send_line("v");
    let shown = s.prompt(&first);
    assert!(
        !shown.contains(&format!("(tractor {second})")),
        "{second} prompted while {first}'s REPL was up:\n{shown}"
    );
    assert!(shown.contains(&format!("who = \"{first}\"")), "{shown}");
    s.send_line("c");
    let banner = s.prompt(second);
    assert!(
        banner.contains(&format!("paused actor `{second}`")),
        "{banner}"
    );
    s.send_line("c");
    let (rest, status) = s.finish();
    assert!(rest.contains("both resumed: alice, bob"), "{rest}");
    assert_eq!(exited(&status), Some(0), "{status:?}\n{rest}");
}

#[test]
fn post_mortems_climb_the_tree() {
    let mut s = Session::start("multi_subactor_root_errors", &[]);
    // Four REPLs, one at a time: the two failing leaves (in either
    // order), the middle actor as its child's error climbs through it,
    // and the root on the aggregate.
    let mut order = Vec::new();
    for _ in 0..4 {
        s.expect("Opening a post-mortem REPL in crashed actor `");
        let name = s.expect("`").trim().to_string();
        let banner = s.prompt(&name);
        assert!(
            banner.contains("doggypants"),
            "{name}'s post-mortem lacks the error:\n{banner}"
        );
        // A failing leaf not seen yet must be queued behind this REPL
        // before the error goes on: else a cancel might beat its failure.
        for leaf in ["name_error", "name_error_1"] {
            if leaf != name && !order.iter().any(|o| o == leaf) {
                s.until_queued(&name, leaf);
            }
        }
        order.push(name);
        s.send_line("c");
    }
    let pos = |n: &str| order.iter().position(|o| o == n);
    assert!(
        pos("name_error_1") < pos("spawn_error") && pos("spawn_error") < pos("root"),
        "post-mortems out of order: {order:?}"
    );
    assert!(pos("name_error").is_some(), "{order:?}");
    assert_eq!(order.last().map(String::as_str), Some("root"), "{order:?}");
    let (rest, status) = s.finish();
    assert_eq!(exited(&status), Some(1), "{status:?}\n{rest}");
}

#[test]
fn quit_fails_the_paused_task_like_any_error() {
    let mut s = Session::start("pause_in_subactor", &[]);
    s.prompt("pauser");
    s.send_line("quit");
    let (rest, status) = s.finish();
    // No post-mortem for a quit: the user has looked already.
    assert!(!rest.contains("post-mortem"), "{rest}");
    assert!(
        rest.contains("DebuggerQuit"),
        "the error does not name the quit:\n{rest}"
    );
    assert_eq!(exited(&status), Some(1), "{status:?}\n{rest}");
}

#[test]
fn ctrl_c_is_shielded_while_a_repl_is_up_and_cancels_after() {
    let mut s = Session::start("daemon_pause", &[]);
    s.prompt("orders");
    s.ctrl_c();
    let shielded = s.prompt("orders");
    assert!(shielded.contains("ctrl-c is shielded"), "{shielded}");
    // Still the same REPL, and the tree is whole.
    s.send_line("v");
    let values = s.prompt("orders");
    assert!(values.contains("order = 7"), "{values}");
    s.send_line("c");
    s.expect("the daemon answered: order 7");
    s.expect("serving until ctrl-c");
    s.ctrl_c();
    let (rest, status) = s.finish();
    assert_eq!(exited(&status), Some(130), "{status:?}\n{rest}");
}

#[test]
fn the_lock_is_released_when_its_holders_actor_is_killed() {
    let mut s = Session::start("multi_subactors", &[]);
    s.expect("Opening a REPL in paused actor `");
    let first = s.expect("`").trim().to_string();
    let second = if first == "alice" { "bob" } else { "alice" };
    let banner = s.prompt(&first);
    let pid = Session::banner_pid(
        &format!("Opening a REPL in paused actor `{first}`{banner}"),
        &first,
    );
    // The other child queued behind this REPL before its holder dies
    // (else the root's nursery may cancel it before it ever pauses).
    s.until_queued(&first, second);
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    // The root sees the holder's channel drop and passes the lock on.
    let next = s.prompt(second);
    assert!(next.contains(&format!("paused actor `{second}`")), "{next}");
    s.send_line("c");
    // The root's body fails on the killed child: its post-mortem.
    let root = s.prompt("root");
    assert!(
        root.contains(&first),
        "the root's post-mortem does not name {first}:\n{root}"
    );
    s.send_line("c");
    let (rest, status) = s.finish();
    assert_eq!(exited(&status), Some(1), "{status:?}\n{rest}");
}

/// Whether gdb can be run here.
fn have_gdb() -> bool {
    Command::new("gdb")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn gdb_attaches_to_the_paused_actor() {
    if !have_gdb() {
        // `.ci/run` installs gdb; CI must not pass without this test.
        assert!(
            std::env::var_os("CI").is_none(),
            "gdb is not installed (`.ci/run` installs it)"
        );
        eprintln!("skipped: gdb is not installed");
        return;
    }
    let mut s = Session::start(
        "daemon_pause",
        &[(
            "TRACTOR_NATIVE_DEBUGGER",
            "gdb -q -batch -ex 'info threads' -p {pid}",
        )],
    );
    let banner = s.prompt("orders");
    let pid = Session::banner_pid(&banner, "orders");
    s.send_line("gdb");
    let out = s.prompt("orders");
    assert!(out.contains("attaching: gdb"), "{out}");
    assert!(
        out.contains(&format!("(process {pid}) detached")),
        "gdb did not attach to {pid}:\n{out}"
    );
    assert!(out.contains("back in the tractor REPL"), "{out}");
    s.send_line("c");
    s.expect("serving until ctrl-c");
    s.ctrl_c();
    let (rest, status) = s.finish();
    assert_eq!(exited(&status), Some(130), "{status:?}\n{rest}");
}

#[test]
fn a_worker_waiting_for_its_repl_is_not_cancelled_out_of_it() {
    let mut s = Session::start("crash_beside_a_pause", &[]);
    s.expect("Opening a ");
    let first = s.expect("REPL in ");
    let mut seen = Vec::new();
    if first.contains("post-mortem") {
        // The crash first (the usual order: the crasher starts first).
        let banner = s.prompt("crasher");
        assert!(banner.contains("the disk is on fire"), "{banner}");
        // Until the inspector's pause is queued behind this REPL (its lock
        // request shows in the tree, relayed by the supervisor) ...
        s.until_queued("crasher", "inspector");
        seen.push("crasher".to_string());
        // ... then the crash goes on up: the supervisor's nursery cancels
        // the inspector, but not before its REPL has been and gone.
        s.send_line("c");
        let banner = s.prompt("inspector");
        assert!(banner.contains("paused actor `inspector`"), "{banner}");
        seen.push("inspector".to_string());
        s.send_line("c");
    } else {
        // The pause first: the crash's post-mortem waits for it.
        s.prompt("inspector");
        seen.push("inspector".to_string());
        s.send_line("c");
        s.prompt("crasher");
        seen.push("crasher".to_string());
        s.send_line("c");
    }
    for actor in ["supervisor", "root"] {
        let banner = s.prompt(actor);
        assert!(
            banner.contains(&format!("post-mortem REPL in crashed actor `{actor}`")),
            "{banner}"
        );
        seen.push(actor.to_string());
        s.send_line("c");
    }
    let (rest, status) = s.finish();
    assert!(
        !s.seen.contains("its task was cancelled"),
        "a REPL was cancelled ({seen:?}):\n{}",
        s.seen
    );
    assert!(rest.contains("the disk is on fire"), "{rest}");
    assert_eq!(exited(&status), Some(1), "{status:?}\n{rest}");
}
