//! Who may connect: a peer must prove it holds the tree's secret before
//! anything it sends is acted on; unix-socket peers must be of our uid;
//! TCP listens on loopback unless told otherwise; separate programs of one
//! user meet through the cookie file (or `TRACTOR_COOKIE`).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tractor::error::IpcError;
use tractor::wire::{FlowSpec, FuncType, Msg, MsgListener, Start};
use tractor::{Addr, Aid, Error, Registration, RootConfig, Secret, TransportKind};

use crate::both_transports;
use crate::common::{self, MODULE, in_nursery};
use crate::ipc_robustness::{dial, expect_dropped};

both_transports!(
    a_peer_without_the_secret_reaches_nothing,
    a_wrong_secret_is_refused_and_the_actor_serves_on,
    a_reflected_proof_is_refused,
    children_hold_the_tree_secret_and_nothing_shows_it,
);

fn start(cid: u64, ns: &str, func: &str, args: Vec<u8>) -> Msg {
    Msg::Start(Box::new(Start {
        cid,
        ns: ns.into(),
        func: func.into(),
        args,
        kind: FuncType::AsyncFunc,
        sig: None,
        flow: FlowSpec::default(),
        trace: None,
    }))
}

async fn target(an: &tractor::ActorNursery) -> Result<(tractor::Portal, Addr), Error> {
    let p = an.start_actor("target").enable_modules([MODULE]).await?;
    let addr = p
        .run(common::accept_addr::call())
        .await?
        .parse()
        .expect("addr");
    Ok((p, addr))
}

/// A peer that skips the authentication (the protocol before it: its
/// identity, then commands) is dropped before anything it sent runs: no
/// `CancelActor` reaches the actor, no forged name reaches the registrar.
async fn a_peer_without_the_secret_reaches_nothing(t: TransportKind) {
    in_nursery(t, async |an| {
        let (p, addr) = target(an).await?;
        // An isolated test root is its tree's registrar.
        let registrar = tractor::current_actor()?.accept_addr().clone();
        let hello = |name: &str| {
            tractor::wire::encode(&Msg::Aid(Box::new(Aid::new(name)))).expect("encode")
        };

        let mut io = dial(&addr).await;
        let mut burst = hello("intruder").bytes().to_vec();
        burst.extend_from_slice(
            tractor::wire::encode(&Msg::CancelActor { cid: 2 })
                .expect("encode")
                .bytes(),
        );
        let _ = io.write_all(&burst).await;
        expect_dropped(&mut io, "an unauthenticated CancelActor").await;

        let forged = Registration {
            aid: Aid::new("forged"),
            addrs: vec![addr.clone()],
        };
        let args = postcard::to_stdvec(&(forged,)).expect("args");
        let mut io = dial(&registrar).await;
        let mut burst = hello("intruder").bytes().to_vec();
        burst.extend_from_slice(
            tractor::wire::encode(&start(2, "tractor::discovery::registrar", "register", args))
                .expect("encode")
                .bytes(),
        );
        let _ = io.write_all(&burst).await;
        expect_dropped(&mut io, "an unauthenticated register").await;

        // The actor was not cancelled, and nothing was registered.
        assert_eq!(p.run(common::add::call(2, 3)).await?, 5);
        let names: Vec<String> = tractor::list_actors()
            .await?
            .into_iter()
            .map(|r| r.aid.name)
            .collect();
        assert!(!names.contains(&"forged".to_string()), "{names:?}");
        assert!(names.contains(&"target".to_string()), "{names:?}");
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A peer that speaks the protocol with another secret is refused with a
/// typed error that says what to do; the actor goes on serving, and a
/// peer with the tree's secret is served.
async fn a_wrong_secret_is_refused_and_the_actor_serves_on(t: TransportKind) {
    in_nursery(t, async |an| {
        let (p, addr) = target(an).await?;
        let me = Aid::new("stranger");
        let wrong = Secret::generate().expect("secret");
        let e = tractor::wire::dial_authenticated(&addr, &me, &wrong)
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(e, IpcError::AuthFailed { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(msg.contains(&addr.to_string()), "names the peer: {msg}");
        assert!(msg.contains("TRACTOR_COOKIE"), "says what to do: {msg}");

        // The right secret gets in and is served.
        let secret = tractor::wire::tree_secret().expect("in the root");
        let (mut peer, aid) = tractor::wire::dial_authenticated(&addr, &me, &secret)
            .await
            .expect("the tree's secret is accepted");
        assert_eq!(aid.name, "target");
        let args = postcard::to_stdvec(&(1u64, 2u64)).expect("args");
        peer.send(&start(2, MODULE, "add", args))
            .await
            .expect("send");
        let got = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match peer.recv().await {
                    Ok(Some(Msg::Return { pld, .. })) => return pld,
                    Ok(Some(_)) => continue,
                    other => panic!("connection ended: {other:?}"),
                }
            }
        })
        .await
        .expect("a Return within 10 s");
        assert_eq!(postcard::from_bytes::<u64>(&got).expect("u64"), 3);
        assert_eq!(p.run(common::add::call(1, 1)).await?, 2);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A fake actor that sends each proof back to the one who made it (and,
/// on a second connection, our own challenge too): a dialer must not take
/// its own proof for the peer's.
async fn a_reflected_proof_is_refused(t: TransportKind) {
    common::in_root(t, async || {
        let bind = match t {
            TransportKind::Tcp => "tcp://127.0.0.1:0".parse().expect("addr"),
            _ => tractor::wire::default_bind_addr(t, "mirror"),
        };
        let listener = MsgListener::bind(&bind, 64 * 1024).await?;
        let addr = listener.local_addr().clone();
        let mirror = tokio::spawn(async move {
            for echo_nonce in [false, true] {
                let mut peer = listener.accept().await.expect("accept");
                let Ok(Some(Msg::Challenge { nonce })) = peer.recv().await else {
                    panic!("expected the dialer's challenge");
                };
                let mine = if echo_nonce { nonce } else { [7u8; 32] };
                peer.send(&Msg::Challenge { nonce: mine })
                    .await
                    .expect("send");
                // A dialer sent its own challenge back refuses at once.
                let reply = peer.recv().await;
                if echo_nonce {
                    assert!(matches!(reply, Ok(None) | Err(_)), "{reply:?}");
                    continue;
                }
                let Ok(Some(Msg::Proof { mac })) = reply else {
                    panic!("expected the dialer's proof: {reply:?}");
                };
                // Whatever follows (its identity) is ignored.
                let _ = peer.send(&Msg::Proof { mac }).await;
                let _ = peer.send(&Msg::Aid(Box::new(Aid::new("mirror")))).await;
                let _ = tokio::time::timeout(Duration::from_secs(5), async {
                    while let Ok(Some(_)) = peer.recv().await {}
                })
                .await;
            }
        });
        for what in ["its proof reflected", "its challenge and proof reflected"] {
            let e = tractor::connect_portal(&addr)
                .await
                .map(|_| ())
                .expect_err(what);
            assert!(
                matches!(e, Error::Ipc(IpcError::AuthFailed { .. })),
                "{what}: {e:?}"
            );
        }
        tokio::time::timeout(Duration::from_secs(10), mirror)
            .await
            .expect("the mirror is done")
            .expect("the mirror did not panic");
        Ok(())
    })
    .await
    .unwrap();
}

/// Whether this actor holds `expected` as its tree secret, whether the
/// secret shows in its environment or command line, and what its stdin is.
#[tractor::endpoint]
async fn check_secret(expected: Vec<u8>) -> (u32, bool, bool, String) {
    check_secret_here(expected)
}

/// A child's and a grandchild's answer to [`check_secret`].
#[tractor::endpoint]
async fn check_secret_below(expected: Vec<u8>) -> Result<Vec<(u32, bool, bool, String)>, Error> {
    let mine = check_secret_here(expected.clone());
    let below = tractor::open_nursery(async |an| {
        let p = an
            .start_actor("grandchild")
            .enable_modules([module_path!()])
            .await?;
        let r = p.run(check_secret::call(expected)).await?;
        p.cancel_actor().await?;
        Ok(r)
    })
    .await?;
    Ok(vec![mine, below])
}

fn check_secret_here(expected: Vec<u8>) -> (u32, bool, bool, String) {
    let holds = tractor::wire::tree_secret() == Secret::from_bytes(expected.clone()).ok();
    let leaked = ["environ", "cmdline"].iter().any(|f| {
        std::fs::read(format!("/proc/self/{f}"))
            .unwrap_or_default()
            .windows(expected.len())
            .any(|w| w == expected.as_slice())
    });
    let stdin = std::fs::read_link("/proc/self/fd/0")
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("unreadable: {e}"));
    (std::process::id(), holds, leaked, stdin)
}

/// Children and grandchildren authenticate to their parents with the
/// configured secret, which no environment or command line shows.
async fn children_hold_the_tree_secret_and_nothing_shows_it(t: TransportKind) {
    let bytes = format!("tree-secret-{}", uuid_ish()).into_bytes();
    let cfg = RootConfig::new("root")
        .transport(t)
        .secret(Secret::from_bytes(bytes.clone()).expect("secret"));
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let p = an
                .start_actor("child")
                .enable_modules([module_path!()])
                .await?;
            let seen = p.run(check_secret_below::call(bytes.clone())).await?;
            assert_eq!(seen.len(), 2);
            for (pid, holds, leaked, stdin) in seen {
                assert!(holds, "actor {pid} does not hold the tree's secret");
                assert!(!leaked, "actor {pid} shows the secret in /proc");
                // The secret came through a pipe as its stdin, which it
                // replaced with /dev/null once read (a thread actor's stdin
                // is this test process's).
                if pid != std::process::id() {
                    assert_eq!(stdin, "/dev/null", "actor {pid}'s stdin");
                }
            }
            p.cancel_actor().await?;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

fn uuid_ish() -> String {
    Aid::new("x").uuid.simple().to_string()[..16].to_string()
}

/// With no bind address configured, a TCP root and its children listen
/// on loopback only, and the default registry address is loopback too.
#[tractor::test]
async fn tcp_listens_on_loopback_by_default() {
    in_nursery(TransportKind::Tcp, async |an| {
        let me = tractor::current_actor()?;
        let (p, addr) = target(an).await?;
        for a in [me.accept_addr(), &addr] {
            let Addr::Tcp(sa) = a else {
                panic!("not tcp: {a}")
            };
            assert!(sa.ip().is_loopback(), "{a} is not loopback");
        }
        let Addr::Tcp(reg) = tractor::discovery::default_registry_addr(TransportKind::Tcp) else {
            panic!("not tcp")
        };
        assert!(reg.ip().is_loopback());
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Connects to the unix socket `path` as uid/gid 65534 (a forked child
/// that sets its ids, then only makes syscalls) and reads: 0 when the
/// actor closed the connection without sending a byte, 1 when it sent
/// something (the challenge), 2 when the connection itself was refused
/// (a directory or socket the user may not reach).
fn connect_as_nobody(path: &Path) -> i32 {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::process::CommandExt;
    // SAFETY: sockaddr_un is plain data; all-zero is a valid value.
    let mut sa: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    sa.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let p = path.as_os_str().as_bytes();
    assert!(p.len() < sa.sun_path.len(), "socket path too long");
    for (d, s) in sa.sun_path.iter_mut().zip(p) {
        *d = *s as libc::c_char;
    }
    let mut cmd = std::process::Command::new("/bin/true");
    // SAFETY: the closure only makes async-signal-safe syscalls and exits.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(0, std::ptr::null()) != 0
                || libc::setgid(65534) != 0
                || libc::setuid(65534) != 0
            {
                libc::_exit(4);
            }
            let fd = libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0);
            if fd < 0 {
                libc::_exit(5);
            }
            let len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
            if libc::connect(fd, (&raw const sa).cast(), len) != 0 {
                libc::_exit(2);
            }
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            if libc::poll(&mut pfd, 1, 10_000) <= 0 {
                libc::_exit(3);
            }
            let mut b = [0u8; 1];
            let n = libc::read(fd, b.as_mut_ptr().cast(), 1);
            libc::_exit(match n {
                0 => 0,
                n if n > 0 => 1,
                _ => 6,
            });
        });
    }
    cmd.status().expect("fork the probe").code().unwrap_or(-1)
}

/// Two layers keep other users off a unix-socket actor: the socket
/// directory is 0700 (they cannot even reach the socket), and where they
/// can (a socket in a directory the user chose and opened up), the
/// peer's uid is checked and the connection closed before a byte is sent.
#[tractor::test]
async fn a_unix_peer_of_another_uid_is_refused() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: only root can connect as another uid");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tractor-auth-uid-{}", uuid_ish()));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let open_sock: PathBuf = dir.join("open.sock");
    let cfg = RootConfig::new("root")
        .transport(TransportKind::Uds)
        .bind_addr(Addr::Uds(open_sock.clone()));
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            // Layer 1: the default bindspace is owner-only.
            let (p, child_addr) = target(an).await?;
            let Addr::Uds(child_sock) = &child_addr else {
                panic!("not uds")
            };
            let space = child_sock.parent().expect("dir");
            assert_eq!(
                std::fs::metadata(space).expect("bindspace").mode() & 0o777,
                0o700
            );
            let probe = child_sock.clone();
            let code = tokio::task::spawn_blocking(move || connect_as_nobody(&probe))
                .await
                .expect("probe");
            assert_eq!(code, 2, "another user reached a socket in the bindspace");

            // Layer 2: a socket they can reach; the uid check refuses them.
            std::fs::set_permissions(&open_sock, std::fs::Permissions::from_mode(0o777))
                .expect("chmod");
            let probe = open_sock.clone();
            let code = tokio::task::spawn_blocking(move || connect_as_nobody(&probe))
                .await
                .expect("probe");
            assert_eq!(
                code, 0,
                "a peer of another uid must be dropped before the challenge (1: it was sent one)"
            );
            // The same socket serves its own user.
            let secret = tractor::wire::tree_secret().expect("in the root");
            tractor::wire::dial_authenticated(
                &Addr::Uds(open_sock.clone()),
                &Aid::new("me"),
                &secret,
            )
            .await
            .expect("our own uid is served");
            assert_eq!(p.run(common::add::call(1, 2)).await?, 3);
            p.cancel_actor().await?;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

const DAEMON_ENV: &str = "TRACTOR_SUITE_AUTH_DAEMON";

/// Not a test on its own: the stand-alone program of
/// `separate_programs_meet_through_the_cookie`, a daemon that is the
/// registrar at `TRACTOR_REGISTRY_ADDR` and uses the user's cookie.
/// Ignored, so that the test list never holds it; that test runs it with
/// `--ignored` and [`DAEMON_ENV`] set.
#[tractor::test]
#[ignore = "the daemon program of auth::separate_programs_meet_through_the_cookie, which runs it"]
async fn cookie_daemon() {
    assert!(
        std::env::var_os(DAEMON_ENV).is_some(),
        "not a test on its own: run `auth::separate_programs_meet_through_the_cookie`"
    );
    tractor::run_daemon(RootConfig::new("cookie_daemon"))
        .await
        .unwrap();
}

struct Cli {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

async fn tractor_cli(args: &[&str], env: &[(&str, &str)]) -> Cli {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tractor"));
    cmd.args(args)
        .env_remove("TRACTOR_REGISTRY_ADDR")
        .env_remove("TRACTOR_COOKIE")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("the tool ends within 20 s")
        .expect("run the tool");
    Cli {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn scratch_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tractor-auth-{tag}-{}", uuid_ish()));
    std::fs::create_dir_all(&d).expect("dir");
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    d
}

/// Two programs of one user meet with no configuration: the daemon
/// creates the cookie file (0600, in a 0700 directory) on first use, the
/// `tractor` tool reads the same file. A tool with another cookie is
/// refused (and the daemon logs who it refused); `TRACTOR_COOKIE` with
/// the right cookie gets in regardless of the file.
#[tractor::test(timeout = 90)]
async fn separate_programs_meet_through_the_cookie() {
    let xdg = scratch_dir("xdg");
    let other = scratch_dir("other");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port");
    let registry = format!("tcp://{port}");
    let tree = tractor::runtime_vars()
        .map(|v| v.tree_id)
        .unwrap_or_default();
    let xdg_s = xdg.display().to_string();
    let other_s = other.display().to_string();
    let daemon = tokio::process::Command::new(std::env::current_exe().expect("exe"))
        .args([
            "auth::cookie_daemon",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DAEMON_ENV, "1")
        .env("XDG_RUNTIME_DIR", &xdg)
        .env("TRACTOR_REGISTRY_ADDR", &registry)
        .env("TRACTOR_TREE", &tree)
        .env_remove("TRACTOR_COOKIE")
        .env_remove("TRACTOR_LOGLEVEL")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the daemon");
    let ls = ["--registry", registry.as_str(), "ls"];

    // Same user, same runtime directory: they meet.
    crate::wait::until_async(
        "the tool to meet the daemon",
        Duration::from_secs(30),
        || async {
            let out = tractor_cli(&ls, &[("XDG_RUNTIME_DIR", &xdg_s)]).await;
            let met = out.code == Some(0) && out.stdout.contains("cookie_daemon");
            Ok::<_, Error>(crate::wait::holds(
                met,
                format!("{:?}: {} {}", out.code, out.stdout, out.stderr),
            ))
        },
    )
    .await
    .unwrap();
    let cookie = xdg.join("tractor").join("tractor.cookie");
    let meta = std::fs::metadata(&cookie).expect("the cookie file was created");
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(
        std::fs::metadata(xdg.join("tractor")).expect("dir").mode() & 0o777,
        0o700
    );
    let text = std::fs::read_to_string(&cookie).expect("read");

    // Another cookie: refused, with a message that says what to do.
    let out = tractor_cli(&ls, &[("XDG_RUNTIME_DIR", &other_s)]).await;
    assert_ne!(out.code, Some(0), "{}", out.stdout);
    assert!(out.stderr.contains("authentication"), "{}", out.stderr);
    assert!(out.stderr.contains("cookie"), "{}", out.stderr);
    assert_ne!(
        std::fs::read_to_string(other.join("tractor").join("tractor.cookie")).ok(),
        Some(text.clone()),
        "another runtime directory has a cookie of its own"
    );

    // The right cookie through the environment wins over the other file.
    let out = tractor_cli(
        &ls,
        &[
            ("XDG_RUNTIME_DIR", &other_s),
            ("TRACTOR_COOKIE", text.trim()),
        ],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("cookie_daemon"), "{}", out.stdout);

    let out = tractor_cli(
        &["--registry", &registry, "cancel", "cookie_daemon"],
        &[("XDG_RUNTIME_DIR", &xdg_s)],
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    let done = tokio::time::timeout(Duration::from_secs(15), daemon.wait_with_output())
        .await
        .expect("the daemon exits once cancelled")
        .expect("wait");
    let log = String::from_utf8_lossy(&done.stderr);
    assert!(
        log.contains("authentication with tcp://127.0.0.1:") && log.contains("failed"),
        "the daemon logs the refused peer's address: {log}"
    );
    let _ = std::fs::remove_dir_all(&xdg);
    let _ = std::fs::remove_dir_all(&other);
}
