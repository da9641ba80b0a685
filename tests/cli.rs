//! The `tractor` command-line tool against live trees: the test's root is
//! the registrar on a fresh address, the built binary is run against it.
//! Every run has a deadline; every `#[tractor::test]` fails if a process
//! of its tree survives it.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tractor::{Addr, Error, RootConfig, TransportKind};

/// The binary under test, built by cargo for this integration test.
const CLI: &str = env!("CARGO_BIN_EXE_tractor");
/// Set when this test binary is re-run as a stand-alone daemon process.
const DAEMON_ENV: &str = "CLI_TEST_DAEMON";

#[path = "support/registrar.rs"]
mod registrar_support;
#[path = "support/wait.rs"]
mod wait;
use registrar_support::{free_addr, registrar_root};

/// Whether anything accepts connections at `addr`.
fn listens(addr: &Addr) -> bool {
    match addr {
        Addr::Tcp(a) => std::net::TcpStream::connect_timeout(a, Duration::from_secs(1)).is_ok(),
        Addr::Uds(p) => p.exists() || std::os::unix::net::UnixStream::connect(p).is_ok(),
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Run {
    /// `(name, uuid, pid)` of each row of `tractor ls`.
    fn rows(&self) -> Vec<(String, String, u32)> {
        self.stdout
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut cols = l.split_whitespace();
                let name = cols.next()?.to_string();
                let uuid = cols.next()?.to_string();
                let pid = cols.next()?.parse().ok()?;
                Some((name, uuid, pid))
            })
            .collect()
    }

    fn lists(&self, name: &str) -> bool {
        self.rows().iter().any(|(n, _, _)| n == name)
    }
}

/// Runs the tool with `args` and extra environment, with a deadline.
async fn tractor_cli(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = tokio::process::Command::new(CLI);
    cmd.args(args)
        .env_remove("TRACTOR_REGISTRY_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .unwrap_or_else(|_| panic!("`tractor {}` passed its 20 s deadline", args.join(" ")))
        .expect("run the tractor binary");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `tractor --registry <registry> <args>`.
async fn cli(registry: &Addr, args: &[&str]) -> Run {
    let registry = registry.to_string();
    let mut all = vec!["--registry", registry.as_str()];
    all.extend_from_slice(args);
    tractor_cli(&all, &[]).await
}

/// Polls the registrar (this test's root) until `name` is listed or not.
async fn until_listed(name: &str, listed: bool) -> Result<(), Error> {
    let what = format!("`{name}` to be {}listed", if listed { "" } else { "un" });
    wait::until_async(&what, Duration::from_secs(15), || async {
        let regs = tractor::list_actors().await?;
        Ok(wait::holds(
            regs.iter().any(|r| r.aid.name == name) == listed,
            regs,
        ))
    })
    .await
}

/// Never returns: a task for `tasks` and `tree` to find.
#[tractor::endpoint]
async fn stuck() {
    std::future::pending::<()>().await
}

/// Spawns `grandchild` and waits on it forever.
#[tractor::endpoint]
async fn hold_grandchild() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        an.start_actor("grandchild").await?;
        std::future::pending::<Result<(), Error>>().await
    })
    .await
}

/// `tasks NAME` shows a stuck endpoint with its path and caller; `tree`
/// (from the registered root) and `tree NAME` show the actors below, each
/// with its pid; an unknown name is an error (exit 1).
#[tractor::test]
async fn tasks_and_tree_of_a_live_tree() {
    let (cfg, addr) = registrar_root(TransportKind::Tcp);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let alpha = an
                .start_actor("alpha")
                .enable_modules([module_path!()])
                .await?;
            let checks = async {
                let stuck_path = format!("{}::stuck", module_path!());
                // Both tasks run in alpha, and grandchild is registered.
                wait::until_async(
                    "alpha's tasks to start",
                    Duration::from_secs(15),
                    || async {
                        let snap = alpha.run(tractor::introspect::tasks::call()).await?;
                        let started = snap.rpc_tasks.len() == 2 && snap.nurseries.len() == 1;
                        Ok::<_, Error>(wait::holds(started, snap.to_string()))
                    },
                )
                .await?;
                until_listed("grandchild", true).await?;
                let gc = tractor::query_actor("grandchild")
                    .await?
                    .map(|r| r.aid)
                    .ok_or_else(|| Error::custom("grandchild unregistered"))?;

                let tasks = cli(&addr, &["tasks", "alpha"]).await;
                assert_eq!(tasks.code, Some(0), "{tasks:?}");
                let me = format!("root@{}", std::process::id());
                assert!(
                    tasks
                        .stdout
                        .starts_with(&format!("actor {} (uuid ", alpha.aid())),
                    "{tasks:?}"
                );
                assert!(
                    tasks.stdout.contains(&format!("{stuck_path} (call #")),
                    "{tasks:?}"
                );
                assert!(
                    tasks.stdout.contains(&format!("from {me}: running")),
                    "{tasks:?}"
                );
                assert!(tasks.stdout.contains(&gc.to_string()), "{tasks:?}");

                for args in [&["tree"][..], &["tree", "root"][..]] {
                    let tree = cli(&addr, args).await;
                    assert_eq!(tree.code, Some(0), "{tree:?}");
                    let sections: Vec<&str> = tree
                        .stdout
                        .lines()
                        .map(str::trim_start)
                        .filter(|l| l.starts_with("actor "))
                        .collect();
                    let want = [me.clone(), alpha.aid().to_string(), gc.to_string()];
                    assert_eq!(sections.len(), 3, "{tree:?}");
                    for (line, aid) in sections.iter().zip(&want) {
                        assert!(line.starts_with(&format!("actor {aid} (uuid ")), "{tree:?}");
                    }
                    assert!(tree.stdout.contains(&stuck_path), "{tree:?}");
                }
                let sub = cli(&addr, &["tree", "alpha"]).await;
                assert_eq!(sub.code, Some(0), "{sub:?}");
                assert!(
                    sub.stdout.starts_with(&format!("actor {} ", alpha.aid())),
                    "{sub:?}"
                );
                assert!(sub.stdout.contains(&format!("actor {gc} ")), "{sub:?}");

                for args in [&["tasks", "nosuch"][..], &["tree", "nosuch"][..]] {
                    let missing = cli(&addr, args).await;
                    assert_eq!(missing.code, Some(1), "{missing:?}");
                    assert!(
                        missing
                            .stderr
                            .contains("no actor named `nosuch` is registered"),
                        "{missing:?}"
                    );
                }
                Ok::<_, Error>(())
            };
            tokio::select! {
                r = alpha.run(stuck::call()) => r?,
                r = alpha.run(hold_grandchild::call()) => r?,
                r = checks => r?,
            }
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// `ls`, `ping` (by name, by uuid prefix, a missing name), the registry
/// address from the environment and from the flag, and `cancel`.
#[tractor::test]
async fn ls_ping_cancel_against_a_live_tree() {
    let (cfg, addr) = registrar_root(TransportKind::Tcp);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let alpha = an.start_actor("alpha").await?;
            let beta = an.start_actor("beta").await?;
            until_listed("alpha", true).await?;
            until_listed("beta", true).await?;

            let ls = cli(&addr, &["ls"]).await;
            assert_eq!(ls.code, Some(0), "{ls:?}");
            assert!(ls.stdout.starts_with("NAME"), "{ls:?}");
            let rows = ls.rows();
            for (p, name) in [(&alpha, "alpha"), (&beta, "beta")] {
                let row = (name.to_string(), p.aid().uuid.to_string(), p.aid().pid);
                assert!(rows.contains(&row), "{row:?} not in {ls:?}");
            }
            assert!(
                rows.iter()
                    .any(|(n, _, pid)| n == "root" && *pid == std::process::id()),
                "{ls:?}"
            );
            assert_eq!(rows.len(), 3, "the tool must not register itself: {ls:?}");

            let ping = cli(&addr, &["ping", "alpha"]).await;
            assert_eq!(ping.code, Some(0), "{ping:?}");
            assert!(ping.stdout.contains(&alpha.aid().to_string()), "{ping:?}");
            assert!(
                ping.stdout.contains(&alpha.aid().uuid.to_string()),
                "{ping:?}"
            );
            assert!(ping.stdout.contains("connect + handshake"), "{ping:?}");

            let prefix = &beta.aid().uuid.to_string()[..8];
            let ping = cli(&addr, &["ping", prefix]).await;
            assert_eq!(ping.code, Some(0), "{ping:?}");
            assert!(ping.stdout.contains(&beta.aid().to_string()), "{ping:?}");

            let missing = cli(&addr, &["ping", "nosuch"]).await;
            assert_eq!(missing.code, Some(1), "{missing:?}");
            assert!(
                missing
                    .stderr
                    .contains("no actor named `nosuch` is registered"),
                "{missing:?}"
            );

            // No flag: TRACTOR_REGISTRY_ADDR; with the flag, the flag wins.
            let env = tractor_cli(&["ls"], &[("TRACTOR_REGISTRY_ADDR", &addr.to_string())]).await;
            assert!(env.code == Some(0) && env.lists("alpha"), "{env:?}");
            let dead = free_addr(TransportKind::Tcp).to_string();
            let registry = addr.to_string();
            let flag = tractor_cli(
                &["--registry", &registry, "ls"],
                &[("TRACTOR_REGISTRY_ADDR", &dead)],
            )
            .await;
            assert!(flag.code == Some(0) && flag.lists("beta"), "{flag:?}");

            let cancel = cli(&addr, &["cancel", "beta"]).await;
            assert_eq!(cancel.code, Some(0), "{cancel:?}");
            assert!(
                cancel.stdout.contains("acknowledged the cancel request"),
                "{cancel:?}"
            );
            let ls = cli(&addr, &["ls"]).await;
            assert!(
                ls.code == Some(0) && !ls.lists("beta") && ls.lists("alpha"),
                "{ls:?}"
            );
            // ... and its process is gone (reaped by this nursery).
            wait::until_async(
                "beta to exit after its cancel",
                Duration::from_secs(5),
                || async { Ok::<_, Error>(!an.children().contains(beta.aid())) },
            )
            .await?;
            let again = cli(&addr, &["cancel", "beta"]).await;
            assert_eq!(again.code, Some(1), "{again:?}");
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// A registrar on a unix socket: `uds:///path` works like `tcp://`.
#[tractor::test]
async fn uds_registry() {
    let (cfg, addr) = registrar_root(TransportKind::Uds);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let gamma = an.start_actor("gamma").await?;
            until_listed("gamma", true).await?;
            let ls = cli(&addr, &["ls"]).await;
            assert!(ls.code == Some(0) && ls.lists("gamma"), "{ls:?}");
            assert!(ls.stdout.contains("uds://"), "{ls:?}");
            let ping = cli(&addr, &["ping", "gamma"]).await;
            assert_eq!(ping.code, Some(0), "{ping:?}");
            assert!(ping.stdout.contains(&gamma.aid().to_string()), "{ping:?}");
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// Nothing at the address: exit 2 with a clear message, and the tool did
/// not become a registrar there. The runtime side: a root told to only
/// join fails with `Error::NoRegistrar` and binds nothing.
#[tractor::test]
async fn no_registrar_is_an_error_not_an_election() {
    for t in [TransportKind::Tcp, TransportKind::Uds] {
        let addr = free_addr(t);
        for args in [&["ls"][..], &["ping", "x"], &["cancel", "x"]] {
            let out = cli(&addr, args).await;
            assert_eq!(out.code, Some(2), "{out:?}");
            let msg = format!("no registrar answers at {addr}");
            assert!(out.stderr.contains(&msg), "{out:?}");
            assert!(out.stderr.contains("--registry"), "{out:?}");
            assert!(
                !listens(&addr),
                "something listens at {addr} after `tractor {args:?}`"
            );
        }
    }

    let addr = free_addr(TransportKind::Tcp);
    let cfg = RootConfig::new("client")
        .registry_addrs([addr.clone()])
        .registrar(tractor::RegistrarRole::Join);
    let err = tractor::open_root_actor(cfg, async || Ok(()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::NoRegistrar { addrs } if addrs == std::slice::from_ref(&addr)),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains(&format!("no registrar answers at {addr}")),
        "{err}"
    );
    assert!(
        !listens(&addr),
        "a join-only root became the registrar at {addr}"
    );
}

/// A stand-alone daemon process (`run_daemon`, joining the registrar)
/// killed with SIGKILL is gone from `tractor ls` within a second.
#[tractor::test]
async fn kill9_daemon_leaves_ls_within_a_second() {
    let (cfg, addr) = registrar_root(TransportKind::Tcp);
    tractor::open_root_actor(cfg, async || {
        let mut daemon = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "daemon_process",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DAEMON_ENV, "lonely")
            .env("TRACTOR_REGISTRY_ADDR", addr.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn the daemon process");
        let pid = daemon.id().expect("pid");
        until_listed("lonely", true).await?;
        let ls = cli(&addr, &["ls"]).await;
        assert!(
            ls.rows().iter().any(|(n, _, p)| n == "lonely" && *p == pid),
            "{ls:?}"
        );

        // SAFETY: kill has no memory-safety preconditions; the pid is our
        // own unreaped child.
        assert_eq!(unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) }, 0);
        let killed = Instant::now();
        wait::until_async(
            "`lonely` to leave `tractor ls` after its SIGKILL",
            Duration::from_secs(1),
            || async {
                let ls = cli(&addr, &["ls"]).await;
                assert_eq!(ls.code, Some(0), "{ls:?}");
                Ok::<_, Error>(wait::holds(!ls.lists("lonely"), ls))
            },
        )
        .await?;
        assert!(
            killed.elapsed() < Duration::from_secs(1),
            "took {:?}",
            killed.elapsed()
        );
        let status = daemon.wait().await.expect("reap the daemon");
        assert!(!status.success());
        Ok::<_, Error>(())
    })
    .await
    .unwrap();
}

/// Not a test on its own: the stand-alone daemon that
/// `kill9_daemon_leaves_ls_within_a_second` runs (with `--ignored` and
/// [`DAEMON_ENV`] set) and kills. Ignored, so that the test list never
/// holds it.
#[tractor::test]
#[ignore = "the daemon program of kill9_daemon_leaves_ls_within_a_second, which runs it"]
async fn daemon_process() {
    let name = std::env::var(DAEMON_ENV)
        .expect("not a test on its own: run `kill9_daemon_leaves_ls_within_a_second`");
    let cfg = RootConfig::new(name).registrar(tractor::RegistrarRole::Join);
    tractor::run_daemon(cfg).await.unwrap();
}

/// Usage text, and usage errors (exit 2).
#[tractor::test]
async fn usage_and_bad_arguments() {
    let help = tractor_cli(&["--help"], &[]).await;
    assert_eq!(help.code, Some(0), "{help:?}");
    assert!(help.stdout.starts_with("Usage: tractor"), "{help:?}");
    for cmd in [
        "ls",
        "ping NAME",
        "cancel NAME",
        "tasks NAME",
        "tree [NAME]",
        "--registry ADDR",
    ] {
        assert!(help.stdout.contains(cmd), "{help:?}");
    }
    let none = tractor_cli(&[], &[]).await;
    assert_eq!(none.code, Some(2), "{none:?}");
    assert!(none.stderr.contains("Usage: tractor"), "{none:?}");
    for (args, msg) in [
        (&["frob"][..], "unknown command `frob`"),
        (&["ping"], "`ping` needs the NAME"),
        (&["tasks"], "`tasks` needs the NAME"),
        (&["tree", "a", "b"], "unexpected argument `b`"),
        (&["--registry", "nope", "ls"], "invalid address"),
        (&["--registry"], "--registry needs an address"),
        (&["ls", "extra"], "unexpected argument `extra`"),
        (&["--timeout", "0", "ls"], "--timeout 0"),
    ] {
        let out = tractor_cli(args, &[]).await;
        assert_eq!(out.code, Some(2), "{args:?}: {out:?}");
        assert!(out.stderr.contains(msg), "{args:?}: {out:?}");
    }
    let bad_env = tractor_cli(&["ls"], &[("TRACTOR_REGISTRY_ADDR", "nope")]).await;
    assert_eq!(bad_env.code, Some(2), "{bad_env:?}");
    assert!(
        bad_env.stderr.contains("TRACTOR_REGISTRY_ADDR"),
        "{bad_env:?}"
    );
}
