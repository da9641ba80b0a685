//! Scale, per spawn backend: many daemons spawned at once, each answering
//! one `portal.run`, then torn down; with the memory each idle actor
//! costs, the fds the root holds, and whether anything survived. Also the
//! spawn + teardown of one actor per backend, beside the raw exec +
//! handshake + exit of the same run.

use std::time::{Duration, Instant};

use tractor::{RootConfig, SpawnMethod};

use crate::measure::{ENDPOINTS, ping};
use crate::stats::{Samples, fmt_ns};

/// Daemons per scale run (`TRACTOR_BENCH_SCALE_N` overrides).
const DEFAULT_N: usize = 1000;

pub(crate) struct Scale {
    method: SpawnMethod,
    n: usize,
    spawn: Duration,
    calls: Duration,
    teardown: Duration,
    /// Per idle actor, KiB.
    rss_kib: f64,
    pss_kib: f64,
    /// Fds the root held with every actor up, and before any.
    root_fds: (usize, usize),
    survivors: usize,
    /// Spawn + teardown of one actor, and its spawn alone.
    one: Samples,
    one_up: Samples,
}

pub(crate) fn actors(quick: bool) -> usize {
    std::env::var("TRACTOR_BENCH_SCALE_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if quick { 100 } else { DEFAULT_N })
}

/// Runs the scale figures for every backend: first one actor's spawn and
/// teardown on each (before any thousand-actor run, whose thousand exits
/// would weigh on them), then the thousand.
pub(crate) async fn scale_all(n: usize, one_rounds: usize) -> Result<Vec<Scale>, tractor::Error> {
    // `TRACTOR_BENCH_SCALE_METHODS=thread,forkserver` narrows the run (to profile one).
    let only = std::env::var("TRACTOR_BENCH_SCALE_METHODS").unwrap_or_default();
    let methods: Vec<SpawnMethod> = [
        SpawnMethod::Exec,
        SpawnMethod::Forkserver,
        SpawnMethod::Thread,
    ]
    .into_iter()
    .filter(|m| only.is_empty() || only.split(',').any(|o| o.trim() == m.as_str()))
    .collect();
    eprintln!("tractor_bench: one actor's spawn + teardown per backend...");
    let mut ones = Vec::new();
    for m in &methods {
        ones.push(one_actor(*m, one_rounds).await?);
    }
    let mut out = Vec::new();
    for (method, (one_up, one)) in methods.into_iter().zip(ones) {
        eprintln!("tractor_bench: {n} daemons on `{method}`...");
        out.push(Scale {
            one,
            one_up,
            ..many(method, n).await?
        });
    }
    Ok(out)
}

/// One daemon at a time spawned and torn down, `rounds` times (after two
/// warm-up rounds: a forkserver starts on its root's first spawn), in one
/// root on `method`: (start_actor returned, all done) samples.
async fn one_actor(
    method: SpawnMethod,
    rounds: usize,
) -> Result<(Samples, Samples), tractor::Error> {
    let cfg = RootConfig::new("scale").spawn_method(method);
    tractor::open_root_actor(cfg, async || {
        let (mut ups, mut alls) = (Samples::default(), Samples::default());
        for i in 0..rounds + 2 {
            let t = Instant::now();
            let up = tractor::open_nursery(async |an| {
                let p = an.start_actor("one").spawn().await?;
                let up = t.elapsed();
                p.cancel_actor().await?;
                Ok(up)
            })
            .await?;
            if i >= 2 {
                ups.push(up);
                alls.push(t.elapsed());
            }
        }
        Ok((ups, alls))
    })
    .await
}

/// `n` daemons spawned at once on `method`, one call each, torn down.
async fn many(method: SpawnMethod, n: usize) -> Result<Scale, tractor::Error> {
    let cfg = RootConfig::new("scale").spawn_method(method);
    let mut tree = String::new();
    let tree_ref = &mut tree;
    let row = tractor::open_root_actor(cfg, async move || {
        *tree_ref = tractor::runtime_vars()?.tree_id;
        let fds_before = count_fds();
        let (rss0, pss0) = memory_of(std::process::id());
        let (spawn, calls, teardown, rss, pss, fds) = tractor::open_nursery(async |an| {
            let t = Instant::now();
            let cpu0 = (cpu(libc::CLOCK_THREAD_CPUTIME_ID), cpu(libc::CLOCK_PROCESS_CPUTIME_ID));
            let portals = futures::future::join_all((0..n).map(|k| {
                an.start_actor(format!("d{k}"))
                    .enable_modules([ENDPOINTS])
                    .spawn()
            }))
            .await;
            let spawn = t.elapsed();
            if std::env::var_os("TRACTOR_BENCH_SCALE_CPU").is_some() {
                // The window on the monotonic clock, to cut a profile
                // (`perf record -k CLOCK_MONOTONIC`) to the spawn alone.
                let now = cpu(libc::CLOCK_MONOTONIC);
                eprintln!(
                    "  {method}: the root's thread spent {:?} of CPU in the {spawn:?} spawn, its process {:?}; spawn on CLOCK_MONOTONIC {:.6}..{:.6} s",
                    cpu(libc::CLOCK_THREAD_CPUTIME_ID) - cpu0.0,
                    cpu(libc::CLOCK_PROCESS_CPUTIME_ID) - cpu0.1,
                    (now - spawn).as_secs_f64(),
                    now.as_secs_f64(),
                );
            }
            let portals = portals.into_iter().collect::<Result<Vec<_>, _>>()?;
            let t = Instant::now();
            let answers = futures::future::join_all(
                portals
                    .iter()
                    .enumerate()
                    .map(|(k, p)| p.run(ping::call(k as u32))),
            )
            .await;
            let calls = t.elapsed();
            for (k, a) in answers.into_iter().enumerate() {
                assert_eq!(a?, k as u32);
            }
            let (rss, pss) = match method {
                SpawnMethod::Thread => {
                    let (r, p) = memory_of(std::process::id());
                    (r.saturating_sub(rss0), p.saturating_sub(pss0))
                }
                _ => portals
                    .iter()
                    .map(|p| memory_of(p.aid().pid))
                    .fold((0, 0), |(r, p), (r1, p1)| (r + r1, p + p1)),
            };
            let fds = count_fds();
            let t = Instant::now();
            an.cancel().await;
            Ok((spawn, calls, t.elapsed(), rss, pss, fds))
        })
        .await?;
        Ok(Scale {
            method,
            n,
            spawn,
            calls,
            teardown,
            rss_kib: rss as f64 / n as f64,
            pss_kib: pss as f64 / n as f64,
            root_fds: (fds, fds_before),
            survivors: 0,
            one: Samples::default(),
            one_up: Samples::default(),
        })
    })
    .await?;
    let survivors = tractor::testing::wait_gone(&tree, Duration::from_secs(3)).len();
    Ok(Scale { survivors, ..row })
}

/// `(Rss, Pss)` of process `pid` in KiB, from `/proc/<pid>/smaps_rollup`.
fn memory_of(pid: u32) -> (u64, u64) {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("Rss:"), field("Pss:"))
}

/// The time of `clock` (this thread's or this process's CPU, or the monotonic clock).
fn cpu(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into a local timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn count_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Prints the scale table; `raw_one` is the raw exec + handshake + exit
/// (median) of the same run.
pub(crate) fn report(rows: &[Scale], raw_one: u64) {
    println!();
    println!(
        "scale: daemons spawned at once, one portal.run each, torn down (targets for 1000: exec <= 2 s, forkserver <= 1 s, thread <= 0.2 s; PSS <= 1 MB per idle actor)"
    );
    println!(
        "{:<11} {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12} {:>9} {:>10} {:>12} {:>14}",
        "backend",
        "n",
        "spawn",
        "calls",
        "teardown",
        "RSS/actor",
        "PSS/actor",
        "root fds",
        "survivors",
        "1 up",
        "1 actor",
        "1 actor / raw"
    );
    for r in rows {
        let one = r.one.median();
        println!(
            "{:<11} {:>5} {:>10} {:>10} {:>10} {:>8.0} K {:>8.0} K {:>12} {:>9} {:>10} {:>12} {:>13.2}x",
            r.method.as_str(),
            r.n,
            fmt_ns(r.spawn.as_nanos() as u64),
            fmt_ns(r.calls.as_nanos() as u64),
            fmt_ns(r.teardown.as_nanos() as u64),
            r.rss_kib,
            r.pss_kib,
            format!(
                "{} (+{})",
                r.root_fds.0,
                r.root_fds.0.saturating_sub(r.root_fds.1)
            ),
            r.survivors,
            fmt_ns(r.one_up.median()),
            fmt_ns(one),
            one as f64 / raw_one.max(1) as f64,
        );
    }
    println!(
        "  raw exec + handshake + exit of one child (median, same run): {}",
        fmt_ns(raw_one)
    );
}
