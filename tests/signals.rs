//! Signals at the root of a real tree: the `ctrl_c_tree` example (seven
//! processes, six live streams) interrupted the ways a user interrupts a
//! program. Reference scenarios 9 and 11.

#[path = "support/program.rs"]
mod program;
#[path = "support/wait.rs"]
mod wait;

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
    wait::until("quote_daemon to listen", Duration::from_secs(30), || {
        program::tcp_listening(p.registry.port())
    });
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

/// A runtime directory of the test's own: the tree's unix-socket
/// bindspace is `<dir>/tractor`, seen by nothing else.
struct Bindspace {
    dir: std::path::PathBuf,
}

impl Bindspace {
    fn new() -> Bindspace {
        let dir = std::env::temp_dir().join(format!(
            "tractor-signals-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        ));
        std::fs::create_dir_all(&dir).expect("create the runtime dir");
        Bindspace { dir }
    }

    /// The environment that runs `ctrl_c_tree` over unix sockets here.
    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("XDG_RUNTIME_DIR".into(), self.dir.display().to_string()),
            ("CTRL_C_TREE_TRANSPORT".into(), "uds".into()),
            (
                "TRACTOR_REGISTRY_ADDR".into(),
                format!("uds://{}/tractor/registry@1616.sock", self.dir.display()),
            ),
        ]
    }

    /// The socket files in the bindspace.
    fn sockets(&self) -> Vec<String> {
        use std::os::unix::fs::FileTypeExt;
        let Ok(entries) = std::fs::read_dir(self.dir.join("tractor")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_socket()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Bindspace {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The tree over unix sockets in `space`, up and streaming: one socket
/// file per actor.
fn start_uds_tree(space: &Bindspace) -> Program {
    let env = space.env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let p = start_tree(&env, false);
    assert_eq!(
        space.sockets().len(),
        ACTORS.len(),
        "one socket file per actor expected: {:?}",
        space.sockets()
    );
    p
}

/// SIGINT or SIGTERM of a unix-socket tree: every actor's socket file is
/// gone once the root has exited.
fn interrupt_uds_tree(sig: i32, code: i32) {
    let space = Bindspace::new();
    let p = start_uds_tree(&space);
    interrupt_gracefully(p, sig, false, code);
    assert_eq!(
        space.sockets(),
        Vec::<String>::new(),
        "socket files left behind"
    );
}

#[test]
fn sigint_to_a_uds_tree_leaves_no_socket_file() {
    interrupt_uds_tree(libc::SIGINT, 130);
}

#[test]
fn sigterm_to_a_uds_tree_leaves_no_socket_file() {
    interrupt_uds_tree(libc::SIGTERM, 143);
}

/// A second SIGINT kills the tree: still no socket file left.
#[test]
fn second_sigint_to_a_uds_tree_leaves_no_socket_file() {
    let space = Bindspace::new();
    let mut env = space.env();
    env.push(("SLOW_CLEANUP_IN".into(), "relay_0_leaf_a".into()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut p = start_tree(&env, false);
    p.signal(libc::SIGINT, false);
    p.wait_line(
        "relay_0_leaf_a blocks its thread while cancelled",
        Duration::from_secs(10),
    );
    p.signal(libc::SIGINT, false);
    let status = p.wait_exit(Duration::from_secs(10));
    p.assert_tree_gone(Duration::from_secs(1));
    assert_eq!(status.code(), Some(130), "{status}");
    assert_eq!(
        space.sockets(),
        Vec::<String>::new(),
        "socket files left behind"
    );
}

/// SIGKILL of a unix-socket root: nobody can unlink then (its children
/// die with it), but the next tree in that bindspace removes the dead
/// actors' files as it binds, the registry address's too, and comes up.
#[test]
fn sigkill_of_a_uds_root_leaves_files_the_next_tree_removes() {
    let space = Bindspace::new();
    let mut p = start_uds_tree(&space);
    let dead: Vec<String> = space.sockets();
    p.signal(libc::SIGKILL, false);
    p.wait_exit(Duration::from_secs(10));
    p.assert_tree_gone(Duration::from_secs(5));
    drop(p);
    // Before the fix the registry file kept the next root from binding.
    let mut next = start_tree(
        &space
            .env()
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect::<Vec<_>>(),
        false,
    );
    let now = space.sockets();
    let stale: Vec<&String> = dead
        .iter()
        .filter(|f| f.as_str() != "registry@1616.sock" && now.contains(f))
        .collect();
    assert!(stale.is_empty(), "files of killed actors left: {stale:?}");
    next.signal(libc::SIGINT, false);
    next.wait_exit(Duration::from_secs(10));
    next.assert_tree_gone(Duration::from_secs(1));
    assert_eq!(
        space.sockets(),
        Vec::<String>::new(),
        "socket files left behind"
    );
}

/// The tree, up and streaming, its stderr read (task dumps print there).
fn start_tree_capturing(env: &[(&str, &str)]) -> Program {
    let mut p = Program::start_with("ctrl_c_tree", env, false, true);
    p.wait_line("tree up", Duration::from_secs(30));
    p
}

/// The stderr lines of the task dump `actor` printed (its header line
/// already read), up to and with its closing line.
fn read_dump(p: &mut Program, actor: &str, pid: i32) -> Vec<String> {
    let header = format!("--- tractor task dump of {actor}@{pid} (SIGUSR1) ---");
    p.wait_stderr_line(&header, Duration::from_secs(10));
    let start = p.stderr.len();
    p.wait_stderr_line(
        &format!("--- end of task dump of {actor}@{pid} ---"),
        Duration::from_secs(10),
    );
    p.stderr[start..].to_vec()
}

/// `SIGUSR1` to the root with `TRACTOR_ENABLE_STACKSCOPE=1` prints every
/// actor's tasks, actor by actor (the relays' contexts with their peer,
/// state and stream; the nurseries' children), and nothing else changes:
/// the tree keeps streaming and ends like any tree. A child, which
/// inherits the variable, prints its own.
#[test]
fn sigusr1_to_the_root_dumps_the_whole_tree() {
    let mut p = start_tree_capturing(&[("TRACTOR_ENABLE_STACKSCOPE", "1")]);
    let root = p.pid();
    p.signal(libc::SIGUSR1, false);
    let dump = read_dump(&mut p, "root", root);
    let text = dump.join("\n");
    for actor in ACTORS {
        let pid = pid_of(&p, actor);
        let header = format!("actor {actor}@{pid} (uuid ");
        assert!(
            dump.iter().any(|l| l.trim_start().starts_with(&header)),
            "no section of {actor} in the dump:\n{text}"
        );
    }
    for needle in [
        "ctrl_c_tree::relay (context",
        "ctrl_c_tree::leaf (context",
        ": streaming",
        "; stream: window 16384",
        "nursery of the root's body",
        "nursery of ctrl_c_tree::relay",
    ] {
        assert!(text.contains(needle), "no {needle:?} in the dump:\n{text}");
    }
    // Still streaming, and a second dump works as well as the first.
    p.signal(libc::SIGUSR1, false);
    read_dump(&mut p, "root", root);
    // The children inherited the variable: a leaf dumps its own tasks
    // (without it, the signal's default action would kill it).
    let leaf = pid_of(&p, "relay_1_leaf_b");
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(leaf, libc::SIGUSR1) }, 0);
    let dump = read_dump(&mut p, "relay_1_leaf_b", leaf);
    assert!(
        dump.iter()
            .any(|l| l.contains("ctrl_c_tree::leaf (context #")),
        "{}",
        dump.join("\n")
    );
    interrupt_gracefully(p, libc::SIGTERM, false, 143);
}

/// `SIGUSR1` to a child in debug mode prints that child's own tasks only
/// (its context from the root, its nursery of two leaves); the tree keeps
/// working and ends like any tree.
#[test]
fn sigusr1_to_a_child_in_debug_mode_dumps_its_own_tasks() {
    let mut p = start_tree_capturing(&[("TRACTOR_DEBUG_MODE", "1")]);
    let relay = pid_of(&p, "relay_0");
    // SAFETY: kill has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(relay, libc::SIGUSR1) }, 0);
    let dump = read_dump(&mut p, "relay_0", relay);
    let text = dump.join("\n");
    let sections: Vec<&String> = dump.iter().filter(|l| l.starts_with("actor ")).collect();
    assert_eq!(sections.len(), 1, "one actor's section only:\n{text}");
    assert!(
        sections[0].starts_with(&format!("actor relay_0@{relay} (uuid ")),
        "{text}"
    );
    for needle in [
        "ctrl_c_tree::relay (context #".to_string(),
        format!("from root@{}", p.pid()),
        format!("relay_0_leaf_a@{}", pid_of(&p, "relay_0_leaf_a")),
        format!("relay_0_leaf_b@{}", pid_of(&p, "relay_0_leaf_b")),
    ] {
        assert!(text.contains(&needle), "no {needle:?} in the dump:\n{text}");
    }
    interrupt_gracefully(p, libc::SIGTERM, false, 143);
}
