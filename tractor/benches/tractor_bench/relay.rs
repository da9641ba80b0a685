//! The error relay: how soon an error raised by a fresh `run_in_actor`
//! child reaches its parent (and, as a control, a returned value),
//! stamped with the system-wide `CLOCK_MONOTONIC`; and the same with
//! backtrace capture on, in a sub-run (a fresh copy of this binary).

use std::cell::Cell;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::stats::Samples;
use crate::{Iters, SUB_ENV, runtime};

/// Raises at once, stamping the error with the raw `CLOCK_MONOTONIC` time.
#[tractor::endpoint]
async fn raise_now() -> Result<u32, Raised> {
    Err(Raised { at_ns: mono_ns() })
}

/// Returns at once with the raw `CLOCK_MONOTONIC` time (the ok-path twin).
#[tractor::endpoint]
async fn return_now() -> Result<u64, Raised> {
    Ok(mono_ns())
}

/// The error `raise_now` raises: carries when it was raised.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Raised {
    at_ns: u64,
}

impl std::fmt::Display for Raised {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "raised at {} ns", self.at_ns)
    }
}

impl std::error::Error for Raised {}

/// `CLOCK_MONOTONIC` in nanoseconds: unlike `Instant`, comparable across
/// processes (it is system-wide on Linux).
pub(crate) fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe {
        libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts);
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Default)]
pub(crate) struct Relay {
    /// raise in the child → error seen by the parent (cross-process clock).
    pub(crate) err: Samples,
    /// return in the child → value seen by the parent.
    pub(crate) ok: Samples,
    /// run_in_actor spawn → error seen (parent clock).
    pub(crate) spawn_err: Samples,
    /// run_in_actor spawn → value seen (parent clock).
    pub(crate) spawn_ok: Samples,
}

/// Error (and, as a control, value) relay from fresh `run_in_actor` children.
pub(crate) async fn relay(n: usize) -> Result<Relay, tractor::Error> {
    let mut out = Relay::default();
    for i in 0..n + 2 {
        let t = Instant::now();
        let got = Cell::new(None);
        let res = tractor::open_nursery(async |an| {
            let child = an.run_in_actor(raise_now::call()).await?;
            let r = child.wait_for_result().await;
            got.set(Some((t.elapsed(), mono_ns())));
            r.map(|_| ())
        })
        .await;
        let raised = match &res {
            Err(e) => e.as_remote().and_then(|r| r.downcast::<Raised>()),
            Ok(()) => None,
        };
        let (Some(raised), Some((spawn_err, now))) = (raised, got.get()) else {
            return Err(tractor::Error::RuntimeFailure(format!(
                "raise_now: expected its Raised error, got {res:?}"
            )));
        };

        let t = Instant::now();
        let (at, now_ok, spawn_ok) = tractor::open_nursery(async |an| {
            let child = an.run_in_actor(return_now::call()).await?;
            let at = child.wait_for_result().await?;
            Ok((at, mono_ns(), t.elapsed()))
        })
        .await?;
        if i >= 2 {
            out.err.push_ns(now.saturating_sub(raised.at_ns));
            out.spawn_err.push(spawn_err);
            out.ok.push_ns(now_ok.saturating_sub(at));
            out.spawn_ok.push(spawn_ok);
        }
    }
    Ok(out)
}

/// Sub-run body: error relay with backtrace capture on; prints
/// `relay <err median ns> <err p99 ns> <n>`.
pub(crate) fn sub_relay(it: &Iters) {
    let r = runtime().block_on(tractor::open_root_actor(
        tractor::RootConfig::new("bench-bt"),
        async || relay(it.relay_bt).await,
    ));
    match r {
        Ok(r) => println!("relay {} {} {}", r.err.median(), r.err.p99(), r.err.0.len()),
        Err(e) => {
            eprintln!("tractor_bench sub-run: {e}");
            std::process::exit(1);
        }
    }
}

/// Runs [`sub_relay`] in a fresh copy of this binary with
/// `RUST_LIB_BACKTRACE=1`: (median, p99, n).
pub(crate) fn relay_with_backtraces() -> Option<(u64, u64, usize)> {
    let out = Command::new(std::env::current_exe().ok()?)
        .env(SUB_ENV, "relay")
        .env("RUST_LIB_BACKTRACE", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find_map(|l| l.strip_prefix("relay "))?;
    let mut f = line.split_whitespace().map(str::parse::<u64>);
    match (f.next(), f.next(), f.next()) {
        (Some(Ok(m)), Some(Ok(p)), Some(Ok(n))) => Some((m, p, n as usize)),
        _ => None,
    }
}
