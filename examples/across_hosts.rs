//! A tree across hosts: one worker per host of `TRACTOR_HOSTS`, spawned
//! over SSH, called typed, streamed from, its error boxed, then cancelled.
//!
//! ```sh
//! # On this host: an address the others can reach.
//! TRACTOR_BIND=tcp://10.0.0.5:0 TRACTOR_HOSTS=deploy@10.0.0.7,deploy@10.0.0.8 \
//!     cargo run --example across_hosts
//! ```
//!
//! Each remote host needs only an SSH server that accepts your key (from
//! your agent or `~/.ssh/config`) and the same CPU architecture and libc:
//! this binary is copied there once, under its content hash. Every link
//! between hosts is in mutual TLS with a CA the root mints for the tree.
//! Without `TRACTOR_HOSTS`, the workers run on this host (the same code).

use futures::StreamExt;

/// Who and where a worker is.
#[tractor::endpoint]
async fn whereabouts() -> (String, u32) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    (host.trim().to_string(), std::process::id())
}

/// The first `n` squares, streamed.
#[tractor::endpoint]
async fn squares(n: u64) -> impl futures::Stream<Item = u64> {
    futures::stream::iter((0..n).map(|i| i * i))
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct TooBig(u64);

impl std::fmt::Display for TooBig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is too big", self.0)
    }
}

impl std::error::Error for TooBig {}

/// Fails for anything over 10.
#[tractor::endpoint]
async fn check(n: u64) -> Result<u64, TooBig> {
    if n > 10 { Err(TooBig(n)) } else { Ok(n) }
}

#[tractor::main]
async fn main() -> Result<(), tractor::Error> {
    let hosts: Vec<String> = std::env::var("TRACTOR_HOSTS")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(String::from)
        .collect();
    let mut cfg = tractor::RootConfig::new("across_hosts");
    if let Ok(bind) = std::env::var("TRACTOR_BIND") {
        cfg = cfg.bind_addr(
            bind.parse()
                .expect("TRACTOR_BIND: an address like tcp://10.0.0.5:0"),
        );
    }
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let places = if hosts.is_empty() {
                vec![None]
            } else {
                hosts.iter().map(Some).collect()
            };
            for (i, host) in places.into_iter().enumerate() {
                let mut worker = an
                    .start_actor(format!("worker_{i}"))
                    .enable_modules([module_path!()]);
                if let Some(h) = host {
                    worker = worker.on_host(h.as_str());
                }
                let p = worker.await?;
                let (host, pid) = p.run(whereabouts::call()).await?;
                let sum: u64 = p
                    .open_stream_from(squares::call(100))
                    .await?
                    .map(|r| r.unwrap_or(0))
                    .fold(0, |a, b| async move { a + b })
                    .await;
                let err = p.run(check::call(11)).await.unwrap_err();
                let remote = err.as_remote().expect("a boxed remote error");
                println!(
                    "worker_{i} on {host} (pid {pid}): sum of squares {sum}; its error: {} from {}",
                    remote
                        .downcast::<TooBig>()
                        .map_or_else(|| remote.to_string(), |e| e.to_string()),
                    remote.origin().name,
                );
                p.cancel_actor().await?;
            }
            Ok(())
        })
        .await
    })
    .await
}
