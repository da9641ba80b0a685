//! Every example is a real program: run it, check what it prints, and
//! check that no process of its tree outlives it.
//!
//! `cargo test --workspace` builds the example binaries first; run alone
//! (`cargo test --test examples`), build them with `cargo build --examples`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

// A support module shared by the test binaries; each uses a part of it.
#[allow(dead_code)]
#[path = "support/program.rs"]
mod program;
#[path = "support/wait.rs"]
mod wait;

use program::{example_command, free_registry, tcp_listening};

/// Runs an example with a deadline and a fresh tree marker, then asserts
/// that every process of the tree is gone.
fn run_example(name: &str, env: &[(&str, &str)]) -> Output {
    let tree = format!("example-{name}-{}", std::process::id());
    let registry = free_registry();
    let mut cmd = example_command(name, &tree, &format!("tcp://{registry}"));
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
    stdout_with(name, &[])
}

/// [`stdout_of`], with `env` set for the example.
fn stdout_with(name: &str, env: &[(&str, &str)]) -> String {
    let started = Instant::now();
    let out = run_example(name, env);
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
fn foreign_loop() {
    let out = stdout_of("foreign_loop");
    assert!(
        out.contains("sensor 1: calibration 101, 10 readings summing to 10045; its loop served 10 and was joined"),
        "{out}"
    );
    assert!(out.contains("sensor 2 faulted on sample 3"), "{out}");
    assert!(out.contains("SensorFault"), "{out}");
    assert!(out.contains("downcast: sensor 2 sample 3"), "{out}");
}

#[test]
fn inside_your_runtime() {
    let out = stdout_of("inside_your_runtime");
    for line in [
        "ACME = 278",
        "no price: \"acme\" is not a ticker symbol",
        "ACME ticks [278, 279, 280, 281]",
        "quotes is quotes@",
        "a fresh actor pricer quoted ACME = 278",
        "handlers ran on {\"tokio-rt-worker\"}; the root on main's thread",
        "the tree is down; the program's runtime goes on",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn cluster_worker_pool() {
    let out = stdout_of("cluster_worker_pool");
    assert!(out.contains("40 jobs over "), "{out}");
    assert!(out.contains("17984 primes below 200000"), "{out}");
    assert!(out.contains("matches the sieve"), "{out}");
    // One daemon per core, each fed from the queue.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(out.contains(&format!("over {cores} workers")), "{out}");
}

#[test]
fn broadcast_fanout() {
    let out = stdout_of("broadcast_fanout");
    // What each consumer must have seen: every quote of the walk.
    let quotes: Vec<u64> = (0..1000u64).map(|i| 1_000 + (i * 7919) % 101).collect();
    let mean = quotes.iter().sum::<u64>() / 1000;
    let top = quotes.iter().max().copied().unwrap_or(0);
    let big = quotes
        .windows(2)
        .filter(|w| w[0].abs_diff(w[1]) > 50)
        .count();
    for line in [
        format!("averager: 1000 quotes, mean {mean}"),
        format!("high-water: 1000 quotes, top {top}"),
        format!("big moves: 1000 quotes, {big} moves over 50"),
        "every consumer ended with it".to_string(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn we_are_processes() {
    let out = stdout_of("we_are_processes");
    assert!(out.contains("worker processes are up"), "{out}");
    assert!(out.contains("Zombies contained"), "{out}");
}

/// The same programs on the other backends, chosen from the environment
/// alone: a three-level tree of forked processes...
#[test]
fn nested_actor_tree_on_the_forkserver() {
    let out = stdout_with(
        "nested_actor_tree",
        &[("TRACTOR_SPAWN_METHOD", "forkserver")],
    );
    assert!(out.contains("8^2 = 64"), "{out}");
    assert!(
        out.contains("done: 8 squares from 2 leaf processes"),
        "{out}"
    );
}

/// ... and a root failing with children up, on each backend.
#[test]
fn we_are_processes_on_every_backend() {
    for method in ["forkserver", "thread"] {
        let out = stdout_with("we_are_processes", &[("TRACTOR_SPAWN_METHOD", method)]);
        assert!(out.contains("worker processes are up"), "{method}: {out}");
        assert!(out.contains("Zombies contained"), "{method}: {out}");
    }
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

#[test]
fn service_daemon_discovery() {
    let out = stdout_of("service_daemon_discovery");
    assert!(out.contains("the registrar lists quotes@"), "{out}");
    assert!(
        out.contains("find_actor(\"quotes\") found quotes@"),
        "{out}"
    );
    assert!(out.contains("TRCT = 42.5"), "{out}");
    assert!(
        out.contains("find_actor(\"nobody\") is None: true"),
        "{out}"
    );
    assert!(
        out.contains("cancelled quotes through the found portal (acknowledged: true)"),
        "{out}"
    );
    assert!(out.contains("every actor is reaped"), "{out}");
}

/// A program left running in the background (a daemon), its output
/// collected by reader threads; killed if the test fails before it exits.
struct Background {
    name: String,
    child: std::process::Child,
    stdout: Option<std::thread::JoinHandle<String>>,
    stderr: Option<std::thread::JoinHandle<String>>,
}

impl Background {
    fn spawn(mut cmd: Command, name: &str) -> Background {
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run example {name} (built?): {e}"));
        let reader = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut s = String::new();
                let _ = r.read_to_string(&mut s);
                s
            })
        };
        let stdout = child.stdout.take().map(|r| reader(Box::new(r)));
        let stderr = child.stderr.take().map(|r| reader(Box::new(r)));
        Background {
            name: name.into(),
            child,
            stdout,
            stderr,
        }
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `within` for the program to exit on its own; then its
    /// exit status, stdout and stderr.
    fn wait_exit(&mut self, within: Duration) -> (std::process::ExitStatus, String, String) {
        let child = &mut self.child;
        let status = wait::until(&format!("{} to exit", self.name), within, || {
            child.try_wait().expect("try_wait")
        });
        let join = |h: Option<std::thread::JoinHandle<String>>| {
            h.map(|h| h.join().unwrap_or_default()).unwrap_or_default()
        };
        (status, join(self.stdout.take()), join(self.stderr.take()))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Two programs, one registrar: `quote_daemon` becomes the registrar at
/// the registry address, `quote_client --stop` (its own root) finds it
/// there by name, calls it and cancels it, and the daemon exits by itself.
/// Both carry the same tree marker: neither may survive.
#[test]
fn quote_daemon_and_client() {
    let tree = format!("example-quote-pair-{}", std::process::id());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let registry = format!("tcp://{port}");

    let mut daemon = Background::spawn(
        example_command("quote_daemon", &tree, &registry),
        "quote_daemon",
    );
    // The daemon is the registrar once it listens at the registry address
    // (looked up in /proc, as a bare connection would be a failed handshake).
    wait::until(
        &format!("quote_daemon to listen at {port}"),
        Duration::from_secs(10),
        || {
            assert!(daemon.is_running(), "quote_daemon exited early");
            tcp_listening(port.port())
        },
    );

    let mut client = example_command("quote_client", &tree, &registry);
    client.arg("--stop");
    let mut client = Background::spawn(client, "quote_client");
    let (status, out, err) = client.wait_exit(Duration::from_secs(30));
    assert!(
        status.success(),
        "quote_client failed ({status}):\n{out}\n{err}"
    );
    assert!(
        out.contains("found quote_daemon@") && out.contains("through the registrar"),
        "{out}"
    );
    assert!(out.contains("typed: TRCT = 42.5"), "{out}");
    assert!(out.contains("by name: TOKIO = 101.25"), "{out}");
    assert!(
        out.contains("NOPE failed with Some(UnknownSymbol(\"NOPE\")) from actor quote_daemon@"),
        "{out}"
    );
    assert!(
        out.contains("asked quote_daemon to stop; acknowledged: true"),
        "{out}"
    );
    assert!(out.contains("quote_client done"), "{out}");

    // Cancelled by the client, the daemon ends by itself.
    let (status, dout, derr) = daemon.wait_exit(Duration::from_secs(10));
    assert!(
        status.success(),
        "quote_daemon failed ({status}):\n{dout}\n{derr}"
    );
    assert!(
        dout.contains("serves `quote_api` until cancelled"),
        "{dout}"
    );
    assert!(dout.contains("quote_daemon stopped"), "{dout}");

    let left = tractor::testing::wait_gone(&tree, Duration::from_secs(3));
    assert!(
        left.is_empty(),
        "the quote pair left processes behind: {}",
        tractor::testing::describe(&left)
    );
}

/// 1,000 `connect_portal` calls to one actor, every portal kept: one
/// channel on each side, closed again once the portals are dropped.
#[test]
fn connect_portal_cost() {
    let out = stdout_of("connect_portal_cost");
    let rows: Vec<(&str, Vec<u64>)> = out
        .lines()
        .filter_map(|l| {
            let (who, rest) = l.trim().split_once(": fds ")?;
            let fds = rest.split(',').next()?;
            let n = fds
                .split(" -> ")
                .filter_map(|x| x.trim().parse().ok())
                .collect();
            Some((who, n))
        })
        .collect();
    assert_eq!(rows.len(), 4, "{out}");
    for (who, n) in rows {
        assert_eq!(n.len(), 3, "{who}: {out}");
        let (before, open, dropped) = (n[0], n[1], n[2]);
        assert!(
            open <= before + 1,
            "{who} holds {} fds for one actor:\n{out}",
            open - before
        );
        assert!(
            dropped <= before + 1,
            "{who} kept the channel after its portals went:\n{out}"
        );
    }
}

/// Without `TRACTOR_HOSTS` its worker runs here (the two-host suite test
/// runs the SSH path for real).
#[test]
fn across_hosts() {
    let out = stdout_of("across_hosts");
    assert!(
        out.contains("worker_0 on ") && out.contains("sum of squares 328350"),
        "{out}"
    );
    assert!(
        out.contains("its error: 11 is too big from worker_0"),
        "{out}"
    );
}
