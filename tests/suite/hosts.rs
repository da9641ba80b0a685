//! A tree across two hosts, for real: two network namespaces joined by a
//! veth pair (`support/hosts.rs`), a real `sshd` in one, the root in the
//! other. The root spawns a child over SSH, calls it typed, streams from
//! it, gets its error boxed, finds it (and is found) through the
//! registrar across the link, sees a stranger refused, cancels it; then,
//! killed with `kill -9`, its remote child dies within 2 s.

use std::time::Duration;

use futures::StreamExt;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tractor::{Addr, Aid, Error, Limits, RemoteExe, RootConfig, SshHost, TreeTls};

use crate::common::{self, MODULE};
use crate::hosts_support::TwoHosts;

/// This module's path: its endpoints' allowlist entry.
const HERE: &str = module_path!();

/// Set (to the remote host's `ssh` settings) when the suite runs
/// `two_host_root` as the root of the local host.
const ROOT_ENV: &str = "SUITE_TWO_HOSTS";

#[tractor::endpoint]
async fn count_to(n: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..n)
}

/// On the remote host: finds `name` through the tree's registrar (on the
/// local host) and has it add.
#[tractor::endpoint]
async fn find_and_add(name: String) -> Result<u64, Error> {
    let p = tractor::wait_for_actor(&name).await?;
    p.run(common::add::call(20, 22)).await
}

/// Set (to the registrar's address) when the suite runs `two_host_client`.
const CLIENT_ENV: &str = "SUITE_TWO_HOSTS_REGISTRY";

/// The SSH host and the local address from [`ROOT_ENV`]'s settings.
fn settings_of(settings: &str) -> (String, SshHost) {
    let mut it = settings.split('|');
    let (local_ip, dest, key) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
    let mut host = SshHost::new(dest).identity(key);
    for o in it {
        host = host.option(o);
    }
    (local_ip.to_string(), host)
}

/// A daemon program on the local host, its TLS from a CA shared with
/// other programs (`TRACTOR_TLS_*`): serves `svc` from the remote host
/// and holds (run by `a_tree_spans_two_hosts`).
#[tractor::test(timeout = 120)]
async fn two_host_daemon() {
    let Ok(settings) = std::env::var(ROOT_ENV) else {
        eprintln!("run by hosts::a_tree_spans_two_hosts, in a namespace of its own");
        return;
    };
    let (local_ip, host) = settings_of(&settings);
    let bind: Addr = format!("tcp://{local_ip}:0").parse().unwrap();
    tractor::open_root_actor(RootConfig::new("daemon").bind_addr(bind), async || {
        println!("TREE {}", common::tree_id());
        tractor::open_nursery(async |an| {
            let svc = an
                .start_actor("svc")
                .enable_modules([MODULE])
                .on_host(host)
                .await?;
            assert_eq!(svc.run(common::add::call(1, 2)).await?, 3);
            println!("REGISTRY {}", tractor::current_actor()?.accept_addr());
            std::future::pending::<()>().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// A separate program on the remote host, with its own certificate of the
/// shared CA: finds `svc` through the daemon's registrar across the link
/// and calls it (run by `a_tree_spans_two_hosts`).
#[tractor::test(timeout = 60)]
async fn two_host_client() {
    let Ok(registry) = std::env::var(CLIENT_ENV) else {
        eprintln!("run by hosts::a_tree_spans_two_hosts, in a namespace of its own");
        return;
    };
    let registry: Addr = registry.parse().unwrap();
    let cfg = RootConfig::new("client")
        .registry_addrs([registry])
        .registrar(tractor::RegistrarRole::Join);
    tractor::open_root_actor(cfg, async || {
        let svc = tractor::wait_for_actor("svc").await?;
        assert_eq!(svc.run(common::add::call(40, 2)).await?, 42);
        println!("CLIENT OK");
        Ok(())
    })
    .await
    .unwrap();
}

/// The root's side, in the local host's namespace (run by
/// `a_tree_spans_two_hosts`; alone it has nothing to do).
#[tractor::test(timeout = 120)]
async fn two_host_root() {
    let Ok(settings) = std::env::var(ROOT_ENV) else {
        eprintln!("run by hosts::a_tree_spans_two_hosts, in a namespace of its own");
        return;
    };
    let (local_ip, host) = settings_of(&settings);
    let dest = host.destination().to_string();
    let bind: Addr = format!("tcp://{local_ip}:0").parse().unwrap();
    let cfg = RootConfig::new("root").bind_addr(bind);
    tractor::open_root_actor(cfg, async || {
        println!("TREE {}", common::tree_id());
        tractor::open_nursery(async |an| {
            let p = an
                .start_actor("remote")
                .enable_modules([MODULE, HERE])
                .on_host(host.clone())
                .await?;
            let pid = p.run(common::pid::call()).await?;
            assert_ne!(pid, std::process::id());
            assert_eq!(p.run(common::add::call(2, 3)).await?, 5);
            let items: Vec<u32> = p
                .open_stream_from(count_to::call(300))
                .await?
                .map(|r| r.expect("an item"))
                .collect()
                .await;
            assert_eq!(items, (0..300).collect::<Vec<_>>());
            let e = p.run(common::need_coffee::call(1)).await.unwrap_err();
            assert_eq!(e.as_remote().expect("boxed").origin().name, "remote");

            // Discovery both ways across the link: the remote child finds
            // a local one through the registrar here, and we find it.
            let local = an.start_actor("local").enable_modules([MODULE]).await?;
            assert_eq!(p.run(find_and_add::call("local".into())).await?, 42);
            let addr: Addr = p.run(common::accept_addr::call()).await?.parse().unwrap();
            assert!(
                addr.to_string()
                    .contains(dest.split('@').next_back().unwrap()),
                "{addr}"
            );
            let found = tractor::find_actor("remote").await?.expect("registered");
            assert_eq!(found.run(common::add::call(1, 1)).await?, 2);

            // Strangers: another CA's certificate, and plain bytes.
            let other = TreeTls::mint().unwrap();
            let secret = tractor::wire::tree_secret().unwrap();
            let limits = Limits::default().handshake_timeout(Duration::from_secs(3));
            let stranger = tractor::wire::Channel::connect(
                &addr,
                &Aid::new("stranger"),
                &secret,
                Some(&other),
                &limits,
            )
            .await;
            assert!(stranger.is_err(), "a peer of another CA got in");
            let Addr::Tcp(sa) = addr else {
                panic!("{addr}")
            };
            let mut plain = tokio::net::TcpStream::connect(sa).await.unwrap();
            let _ = plain.write_all(b"\x10\0\0\0not a tls hello at all").await;
            // All it may get is a TLS alert (record type 21), then EOF.
            let mut got = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(5), plain.read_to_end(&mut got));
            assert!(read.await.is_ok(), "a plain peer's connection stayed open");
            assert!(
                got.is_empty() || got[0] == 21,
                "a plain peer was answered: {got:?}"
            );
            assert_eq!(p.run(common::add::call(1, 2)).await?, 3, "it serves on");

            // Cancel: the remote child goes, and its session with it.
            p.cancel_actor().await?;
            local.cancel_actor().await?;

            // Another build installed there is refused before it dials
            // back (an example binary: other endpoints).
            let exe = std::env::current_exe().unwrap();
            let other = exe
                .parent()
                .and_then(|d| d.parent())
                .unwrap()
                .join("examples/across_hosts");
            if other.exists() {
                let e = an
                    .start_actor("other_build")
                    .on_host(host.clone().exe(RemoteExe::Installed(other)))
                    .await
                    .expect_err("another build booted");
                assert!(e.to_string().contains("another build"), "{e}");
            } else {
                eprintln!(
                    "the other-build check skipped: {} is not built",
                    other.display()
                );
            }

            // One more, held for the kill.
            let held = an
                .start_actor("held")
                .enable_modules([MODULE])
                .on_host(host.clone())
                .await?;
            println!("REMOTE {}", held.run(common::pid::call()).await?);
            println!("CHECKS OK");
            std::future::pending::<()>().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// The whole scenario, driven from outside both hosts.
#[tractor::test(timeout = 180)]
async fn a_tree_spans_two_hosts() {
    let hosts = match TwoHosts::set_up() {
        Ok(h) => h,
        Err(why) => {
            eprintln!("skipped: cannot make two hosts here: {why}");
            return;
        }
    };
    let mut settings = vec![
        hosts.local_ip.clone(),
        format!("root@{}", hosts.remote_ip),
        hosts.key.display().to_string(),
    ];
    settings.extend(hosts.ssh_options());
    let exe = std::env::current_exe().unwrap();
    let mut root = tokio::process::Command::new("ip")
        .args(["netns", "exec", &hosts.local_ns])
        .arg(&exe)
        .args([
            "hosts::two_host_root",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROOT_ENV, settings.join("|"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(root.stdout.take().unwrap()).lines();
    let (mut tree, mut remote, mut ok) = (None, None, false);
    while !ok {
        let line = tokio::time::timeout(Duration::from_secs(90), lines.next_line())
            .await
            .expect("the two-host scenario ran")
            .unwrap();
        let Some(line) = line else {
            let st = root.wait().await.unwrap();
            panic!("the root ended before its checks passed ({st})");
        };
        if let Some(i) = line.find("TREE ") {
            tree = Some(line[i + 5..].trim().to_string());
        } else if let Some(i) = line.find("REMOTE ") {
            remote = Some(line[i + 7..].trim().parse::<u32>().unwrap());
        } else if line.contains("CHECKS OK") {
            ok = true;
        }
    }
    let (tree, remote) = (tree.expect("its tree"), remote.expect("the held child"));
    assert!(std::path::Path::new(&format!("/proc/{remote}")).exists());
    root.start_kill().unwrap();
    root.wait().await.unwrap();
    let t = std::time::Instant::now();
    let left = tractor::testing::wait_gone_async(&tree, Duration::from_secs(2)).await;
    // Dead is enough: its zombie is sshd's to reap.
    let alive = || {
        std::fs::read_to_string(format!("/proc/{remote}/stat"))
            .is_ok_and(|s| s.rfind(") ").is_some_and(|i| !s[i + 2..].starts_with('Z')))
    };
    while alive() && t.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        left.is_empty() && !alive(),
        "a remote child outlived its SIGKILLed root by {:?}: {}",
        t.elapsed(),
        tractor::testing::describe(&left)
    );
    eprintln!(
        "the remote child died {:?} after its root's kill -9",
        t.elapsed()
    );
    separate_programs_meet(&hosts, &settings).await;
}

/// Two separate programs with certificates of one CA (made by
/// `TreeTls::mint_pem_files`): a daemon on the local host serving `svc`
/// from the remote host, and a client on the remote host that finds it
/// through the daemon's registrar.
async fn separate_programs_meet(hosts: &TwoHosts, settings: &[String]) {
    let dir = std::env::temp_dir().join(format!("tractor-hosts-tls-{}", std::process::id()));
    TreeTls::mint_pem_files(&dir, &["daemon", "client"]).unwrap();
    let tls = |cmd: &mut tokio::process::Command, who: &str| {
        cmd.env("TRACTOR_TLS_CA", dir.join("ca.pem"))
            .env("TRACTOR_TLS_CERT", dir.join(format!("{who}.pem")))
            .env("TRACTOR_TLS_KEY", dir.join(format!("{who}.key")));
    };
    let exe = std::env::current_exe().unwrap();
    let mut daemon = tokio::process::Command::new("ip");
    daemon
        .args(["netns", "exec", &hosts.local_ns])
        .arg(&exe)
        .args([
            "hosts::two_host_daemon",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(ROOT_ENV, settings.join("|"))
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true);
    tls(&mut daemon, "daemon");
    let mut daemon = daemon.spawn().unwrap();
    let mut lines = BufReader::new(daemon.stdout.take().unwrap()).lines();
    let (mut tree, mut registry) = (None, None);
    while registry.is_none() {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the daemon came up")
            .unwrap()
            .expect("the daemon printed its registry");
        if let Some(i) = line.find("TREE ") {
            tree = Some(line[i + 5..].trim().to_string());
        } else if let Some(i) = line.find("REGISTRY ") {
            registry = Some(line[i + 9..].trim().to_string());
        }
    }
    let mut client = tokio::process::Command::new("ip");
    client
        .args(["netns", "exec", &hosts.remote_ns])
        .arg(&exe)
        .args([
            "hosts::two_host_client",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CLIENT_ENV, registry.unwrap())
        .kill_on_drop(true);
    tls(&mut client, "client");
    let out = tokio::time::timeout(Duration::from_secs(60), client.output())
        .await
        .expect("the client ended")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("CLIENT OK"),
        "the client on the other host did not reach the daemon's service ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();
    let left = tractor::testing::wait_gone_async(&tree.unwrap(), Duration::from_secs(3)).await;
    assert!(left.is_empty(), "{}", tractor::testing::describe(&left));
    let _ = std::fs::remove_dir_all(&dir);
}
