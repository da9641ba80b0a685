//! Shared endpoints and helpers of the suite.

use std::time::Duration;

use tractor::{RootConfig, TransportKind};

/// This module's path: the allowlist entry for the endpoints below.
pub(crate) const MODULE: &str = module_path!();

/// Runs `body` in a root actor on transport `t`.
pub(crate) async fn in_root<T>(
    t: TransportKind,
    body: impl AsyncFnOnce() -> Result<T, tractor::Error>,
) -> Result<T, tractor::Error> {
    tractor::open_root_actor(RootConfig::new("root").transport(t), body).await
}

/// Runs `body` in an actor nursery of a root actor on transport `t`.
pub(crate) async fn in_nursery<T: Send + 'static>(
    t: TransportKind,
    body: impl AsyncFnOnce(&tractor::ActorNursery) -> Result<T, tractor::Error>,
) -> Result<T, tractor::Error> {
    in_root(t, async move || tractor::open_nursery(body).await).await
}

/// Generates one `#[tractor::test]` per transport around
/// `scenario(TransportKind) -> impl Future<Output = ()>`.
#[macro_export]
macro_rules! both_transports {
    ($($name:ident $(timeout = $secs:literal)?),* $(,)?) => {
        mod tcp {
            $(
                #[tractor::test$((timeout = $secs))?]
                async fn $name() {
                    super::$name(tractor::TransportKind::Tcp).await
                }
            )*
        }
        mod uds {
            $(
                #[tractor::test$((timeout = $secs))?]
                async fn $name() {
                    super::$name(tractor::TransportKind::Uds).await
                }
            )*
        }
    };
}

/// Generates, in `mod $backend`, one `#[tractor::test]` per transport
/// around each `scenario(TransportKind)`, whose tree spawns with
/// `$method` (`#[tractor::test(spawn_method = ..)]`): how the core
/// scenarios of the suite run on every backend. `skip "why": names` makes
/// tests that say why the backend cannot run them.
#[macro_export]
macro_rules! on_backend {
    (
        $backend:ident = $method:literal:
        $($name:ident $(timeout = $secs:literal)?),* $(,)?
        $(; skip $why:literal: $($skipped:ident),* $(,)?)?
    ) => {
        mod $backend {
            mod tcp {
                $(
                    #[tractor::test(spawn_method = $method $(, timeout = $secs)?)]
                    async fn $name() {
                        super::super::$name(tractor::TransportKind::Tcp).await
                    }
                )*
            }
            mod uds {
                $(
                    #[tractor::test(spawn_method = $method $(, timeout = $secs)?)]
                    async fn $name() {
                        super::super::$name(tractor::TransportKind::Uds).await
                    }
                )*
            }
            $($(
                #[test]
                fn $skipped() {
                    eprintln!(
                        "skipped on the `{}` backend: {}",
                        $method, $why
                    );
                }
            )*)?
        }
    };
}

#[tractor::endpoint]
pub(crate) async fn pid() -> u32 {
    std::process::id()
}

#[tractor::endpoint]
pub(crate) async fn add(a: u64, b: u64) -> u64 {
    a + b
}

#[tractor::endpoint]
pub(crate) async fn echo(s: String) -> String {
    s
}

#[tractor::endpoint]
pub(crate) async fn return_none() {}

#[tractor::endpoint]
pub(crate) async fn sleep_forever() {
    std::future::pending::<()>().await
}

static DROPS: std::sync::Mutex<Vec<(&'static str, u64)>> = std::sync::Mutex::new(Vec::new());

/// Counts its own drop under a name: how a test sees that a remote task
/// (or stream) was cancelled, through [`drops`].
pub(crate) struct CountDrop(pub &'static str);

impl Drop for CountDrop {
    fn drop(&mut self) {
        let mut d = DROPS.lock().unwrap_or_else(|p| p.into_inner());
        match d.iter_mut().find(|(n, _)| *n == self.0) {
            Some((_, c)) => *c += 1,
            None => d.push((self.0, 1)),
        }
    }
}

/// How many [`CountDrop`]s named `name` were dropped in this actor.
#[tractor::endpoint]
pub(crate) async fn drops(name: String) -> u64 {
    let d = DROPS.lock().unwrap_or_else(|p| p.into_inner());
    d.iter().find(|(n, _)| *n == name).map_or(0, |(_, c)| *c)
}

static LIVE_SLEEPERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct LiveGuard;

impl Drop for LiveGuard {
    fn drop(&mut self) {
        LIVE_SLEEPERS.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Sleeps forever, counted in [`live_sleepers`] while it runs.
#[tractor::endpoint]
pub(crate) async fn counted_sleep_forever() {
    LIVE_SLEEPERS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let _guard = LiveGuard;
    std::future::pending::<()>().await
}

/// How many [`counted_sleep_forever`] tasks run in this actor.
#[tractor::endpoint]
pub(crate) async fn live_sleepers() -> u64 {
    LIVE_SLEEPERS.load(std::sync::atomic::Ordering::SeqCst)
}

#[tractor::endpoint]
pub(crate) async fn sleep_ms(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

/// Fails an assertion (a panic in Rust), optionally after a delay.
#[tractor::endpoint]
pub(crate) async fn assert_err(delay_ms: u64) {
    if delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
    }
    assert_eq!(1, 2, "this assertion fails on purpose");
}

/// A typed, serializable error the caller can get back with `downcast`.
#[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct NotEnoughCoffee {
    pub cups: u32,
}

impl std::fmt::Display for NotEnoughCoffee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "only {} cups of coffee", self.cups)
    }
}

impl std::error::Error for NotEnoughCoffee {}

#[tractor::endpoint]
pub(crate) async fn need_coffee(cups: u32) -> Result<u32, NotEnoughCoffee> {
    if cups < 3 {
        Err(NotEnoughCoffee { cups })
    } else {
        Ok(cups)
    }
}

/// Blocks the actor's only thread (non-yielding code).
#[tractor::endpoint]
pub(crate) async fn block_thread(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Creates the file at `path` (so the caller can see the block began), then
/// blocks the actor's only thread for `ms` (non-yielding code).
#[tractor::endpoint]
pub(crate) async fn touch_then_block(path: String, ms: u64) -> Result<(), tractor::Error> {
    touch(&path)?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

/// Creates the file at `path`, then busy-loops for `ms` without ever
/// yielding (a `loop {}` with an end, so a bug cannot leave it spinning).
#[tractor::endpoint]
pub(crate) async fn touch_then_spin(path: String, ms: u64) -> Result<(), tractor::Error> {
    touch(&path)?;
    let end = std::time::Instant::now() + Duration::from_millis(ms);
    while std::time::Instant::now() < end {
        std::hint::spin_loop();
    }
    Ok(())
}

/// Creates (or truncates) the file at `path`.
pub(crate) fn touch(path: &str) -> Result<(), tractor::Error> {
    std::fs::write(path, std::process::id().to_string())
        .map_err(|e| tractor::Error::custom(format!("cannot create {path}: {e}")))
}

/// A fresh path in the temp dir for a marker file (nothing created yet).
pub(crate) fn marker_path(tag: &str) -> String {
    std::env::temp_dir()
        .join(format!("tractor-{tag}-{}", uuid::Uuid::new_v4().simple()))
        .to_string_lossy()
        .into_owned()
}

/// Waits until the file at `path` exists.
pub(crate) async fn wait_exists(path: &str) -> Result<(), tractor::Error> {
    let p = std::path::Path::new(path);
    crate::wait::until_async(
        &format!("{path} to appear"),
        Duration::from_secs(30),
        || async { Ok(p.exists()) },
    )
    .await
}

#[tractor::endpoint]
pub(crate) async fn panic_now(msg: String) -> u32 {
    panic!("{msg}")
}

/// The actor's listen address, as text.
#[tractor::endpoint]
pub(crate) async fn accept_addr() -> Result<String, tractor::Error> {
    Ok(tractor::current_actor()?.accept_addr().to_string())
}

/// The actor's effective log level.
#[tractor::endpoint]
pub(crate) async fn loglevel() -> Result<Option<String>, tractor::Error> {
    Ok(tractor::runtime_vars()?.loglevel)
}

/// Spawns a tree below this actor: `breadth` children per level, `depth`
/// levels; leaves fail an assertion. Each level's nursery waits for every
/// result and aggregates (tractor's order, so the shape is exact).
#[tractor::endpoint]
pub(crate) async fn spawn_and_error(breadth: u32, depth: u32) -> Result<(), tractor::Error> {
    if depth == 0 {
        panic!("leaf {} fails", std::process::id());
    }
    tractor::open_nursery_with(tractor::Supervision::WaitForAllResults, async |an| {
        for i in 0..breadth {
            an.run_in_actor(spawn_and_error::call(breadth, depth - 1))
                .name(format!("spawner_{depth}_{i}"))
                .await?;
        }
        Ok(())
    })
    .await
}

/// Opens a root actor inside this (child) actor: must fail.
#[tractor::endpoint]
pub(crate) async fn open_second_root() -> Result<(), tractor::Error> {
    tractor::open_root_actor(RootConfig::new("second"), async || Ok(())).await
}

/// The tree marker of the current actor.
pub(crate) fn tree_id() -> String {
    tractor::runtime_vars()
        .map(|v| v.tree_id)
        .unwrap_or_default()
}

/// Asserts every other actor process of this test's tree is gone within
/// `within`. This root's own forkserver (the `forkserver` backend's, a
/// child of ours that lives as long as the root) is not an actor.
pub(crate) async fn assert_tree_gone(within: Duration) {
    let tree = tree_id();
    let actors = || {
        tractor::testing::survivors(&tree)
            .into_iter()
            .filter(|p| !is_our_forkserver(*p))
            .collect::<Vec<_>>()
    };
    let deadline = std::time::Instant::now() + within;
    let mut left = actors();
    while !left.is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = actors();
    }
    assert!(
        left.is_empty(),
        "processes survived: {}",
        tractor::testing::describe(&left)
    );
}

/// Whether `pid` is a forkserver this process started.
fn is_our_forkserver(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let ppid = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
        .and_then(|p| p.parse::<u32>().ok());
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    ppid == Some(std::process::id()) && cmdline.starts_with(b"_forkserver[")
}
