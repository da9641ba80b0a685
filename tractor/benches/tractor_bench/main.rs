//! tractor's cost next to the machine's raw limits, measured in one run.
//!
//! Absolute latencies depend on the host (CPU, kernel, virtualisation,
//! load), so every tractor figure is printed beside a baseline measured by
//! this same binary in the same run with plain `std` code and two real
//! processes: the binary re-executes itself with `TRACTOR_BENCH_RAW` set to
//! act as the raw peer. The baselines are a framed ping-pong over loopback
//! TCP (`TCP_NODELAY`) and over a unix socket, and the exec of a trivial
//! child (this binary in raw mode) that connects back, sends one byte and
//! exits, alone and eight at a time. Against them we measure, through
//! tractor's public API only: spawn + teardown of one daemon actor
//! (`start_actor`, `cancel_actor`, nursery exit), eight daemons spawned
//! concurrently and cancelled with `an.cancel()`, a new connection to a
//! running actor (dial + the secret's challenge-response + identities,
//! next to a raw connect + accept + one-byte round trip with a raw
//! process), the `portal.run` round
//! trip of a trivial endpoint over TCP and UDS, and the latency with which
//! an error raised by a `run_in_actor` child reaches its parent (the child
//! stamps the error with `CLOCK_MONOTONIC`, a system-wide clock on Linux, and
//! the parent compares on receipt). Raw and tractor samples are taken in
//! alternating rounds so that background load hits both alike, and round
//! trips are measured with both ends pinned to one CPU (the software path
//! alone), to two CPUs (plus the cross-CPU wake-up) and unpinned, because on
//! small or virtual machines process placement moves a round trip more than
//! the code does; the table shows the tractor/raw ratios against the SPEC
//! targets (round trips against the plain tokio ping-pong, with the plain
//! std one beside it). The same rounds also time a context's stream
//! ping-pong (the parent sends on the stream of an open context, the child
//! echoes).
//!
//! Streaming throughput is measured in the same three placements, again
//! alternating with raw peers over the same transport: a one-way stream
//! endpoint yielding `u64`s (with the default window and with
//! `.buffer(256)`) next to a raw writer sending 4-byte-length-prefixed 8-byte frames through a
//! `BufWriter` to a reader that parses every frame; and a one-way stream of
//! 64 KiB byte chunks next to raw 64 KiB socket writes. A call to the
//! streaming actor is timed behind 64 KiB chunks (against the same call
//! idle) and behind 16 MiB items, next to a raw peer that writes such
//! items in 64 KiB fragments on one socket and answers a ping after the
//! fragment it is writing: what the socket's own buffer and wake-ups make
//! any reply wait. Run it with
//! `cargo bench --bench tractor_bench` (`TRACTOR_BENCH_QUICK=1` for a short
//! smoke run).
//!
//! Last, [`scale`] spawns a thousand daemons at once on every spawn
//! backend (`TRACTOR_BENCH_SCALE_N` sets how many), each answering one
//! call, and tears them down, with the memory per idle actor and the
//! root's fds (`TRACTOR_BENCH_SCALE_ONLY=1` runs that table alone;
//! `TRACTOR_BENCH_STREAM_ONLY=1` runs only the stream throughput (`=small`,
//! `=bulk` or `=default` one kind of it; `TRACTOR_BENCH_SMALL_N` items
//! per u64 stream),
//! `TRACTOR_BENCH_RTT_ONLY=1` only the round trips on one CPU, with
//! `TRACTOR_BENCH_RTT_N` samples each,
//! `TRACTOR_BENCH_TLS_ONLY=1` only mutual TLS against plain TCP).
//!
//! Layout: [`raw`] measures the baselines, [`measure`] (with [`relay`])
//! measures tractor, [`scale`] the many-actor figures, [`report`] prints
//! the table; [`stats`] and
//! [`placement`] serve them; [`internal`] holds the only uses of tractor
//! internals.

mod internal;
mod measure;
mod placement;
mod raw;
mod relay;
mod report;
mod scale;
mod stats;
mod tls;

use std::time::{Duration, Instant};

/// Selects raw-peer mode in a re-executed copy of this binary.
const RAW_ENV: &str = "TRACTOR_BENCH_RAW";

/// The address the raw peer connects to.
const ADDR_ENV: &str = "TRACTOR_BENCH_ADDR";

/// Selects the backtrace-capturing error-relay sub-run.
const SUB_ENV: &str = "TRACTOR_BENCH_SUB";

/// Raw and tractor round trips alternate in this many rounds.
const ROUNDS: usize = 5;

/// Payload of one bulk stream item / raw bulk write.
const CHUNK: usize = 64 * 1024;

/// Stream windows of the small-message throughput runs: the default and
/// a small one (what credit round trips cost).
const WINDOWS: [Option<u32>; 2] = [None, Some(256)];

fn main() {
    // A tractor child re-executes this binary: serve as the actor and exit.
    tractor::init();
    if let Ok(mode) = std::env::var(RAW_ENV) {
        raw::raw_peer(&mode);
        std::process::exit(0);
    }
    // `cargo bench` passes `--bench` (and maybe filters): arguments are ignored.
    let quick = std::env::var_os("TRACTOR_BENCH_QUICK").is_some();
    let mut it = Iters::new(quick);
    // `TRACTOR_BENCH_RTT_N` and `TRACTOR_BENCH_SMALL_N` lengthen the
    // round trips and the u64 streams (to profile them).
    let count = |var: &str| std::env::var(var).ok().and_then(|n| n.parse::<u64>().ok());
    if let Some(n) = count("TRACTOR_BENCH_RTT_N") {
        it.rtt = usize::try_from(n).unwrap_or(it.rtt);
    }
    if let Some(n) = count("TRACTOR_BENCH_SMALL_N") {
        it.tp_small = n;
    }
    if std::env::var_os(SUB_ENV).is_some() {
        relay::sub_relay(&it);
        return;
    }
    // Error relay is measured without backtrace capture (a separate
    // sub-run measures it with), whatever RUST_BACKTRACE says; the actors
    // inherit this environment.
    // SAFETY: no other thread exists yet that could read the environment.
    unsafe {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    watchdog(if quick { 180 } else { 420 });
    let t0 = Instant::now();
    eprintln!(
        "tractor_bench: {} run, {} CPUs; raw and tractor samples alternate",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    if std::env::var_os("TRACTOR_BENCH_SCALE_ONLY").is_some() {
        // The scale table alone (with its own raw exec baseline).
        let raw_one = runtime().block_on(measure::raw_spawn_median(it.spawn1));
        match runtime().block_on(scale::scale_all(scale::actors(quick), it.spawn1)) {
            Ok(rows) => scale::report(&rows, raw_one),
            Err(e) => {
                eprintln!("tractor_bench: scale run failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if std::env::var_os("TRACTOR_BENCH_RTT_ONLY").is_some() {
        // Round trips on one CPU alone.
        match runtime().block_on(measure::round_trips_one_cpu(&it)) {
            Ok(rtt) => report::rtt_details(&rtt),
            Err(e) => {
                eprintln!("tractor_bench: round-trip run failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if std::env::var_os("TRACTOR_BENCH_TLS_ONLY").is_some() {
        // The cost of mutual TLS alone.
        match runtime().block_on(tls::tls_cost(&it)) {
            Ok(c) => tls::report(&c),
            Err(e) => {
                eprintln!("tractor_bench: TLS run failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    if std::env::var_os("TRACTOR_BENCH_STREAM_ONLY").is_some() {
        // The stream throughput figures alone.
        match runtime().block_on(measure::streams(&it)) {
            Ok(tp) => report::stream_details(&tp),
            Err(e) => {
                eprintln!("tractor_bench: stream run failed: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
    let (raw, tr, rtt, tp) = match runtime().block_on(measure::measure(&it)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tractor_bench: tractor run failed: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("tractor_bench: mutual TLS vs plain...");
    let tls_cost = match runtime().block_on(tls::tls_cost(&it)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tractor_bench: TLS run failed: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("tractor_bench: error relay with backtrace capture (sub-run)...");
    let bt = relay::relay_with_backtraces();
    let n = scale::actors(quick);
    let scaled = match runtime().block_on(scale::scale_all(n, it.spawn1)) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tractor_bench: scale run failed: {e}");
            std::process::exit(1);
        }
    };
    report::report(&raw, &tr, &rtt, &tp, bt.as_ref(), t0.elapsed());
    tls::report(&tls_cost);
    scale::report(&scaled, raw.spawn1.median());
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Ends a hung bench (the actors die with it: `PR_SET_PDEATHSIG`).
fn watchdog(secs: u64) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        eprintln!("tractor_bench: still running after {secs} s: hung, aborting");
        std::process::exit(2);
    });
}

struct Iters {
    warmup: usize,
    rtt: usize,
    spawn1: usize,
    spawn8: usize,
    relay: usize,
    relay_bt: usize,
    /// New connections per round (raw and tractor alternate).
    connect: usize,
    /// Throughput: kept rounds (after one short warm-up round).
    tp_rounds: usize,
    /// u64 items per tractor sample / frames per raw sample.
    tp_small: u64,
    tp_small_raw: u64,
    /// 64 KiB chunks per tractor sample / per raw sample.
    tp_bulk: u32,
    tp_bulk_raw: u32,
}

impl Iters {
    fn new(quick: bool) -> Self {
        if quick {
            Iters {
                warmup: 100,
                rtt: 500,
                spawn1: 5,
                spawn8: 3,
                relay: 5,
                relay_bt: 3,
                connect: 20,
                tp_rounds: 1,
                tp_small: 20_000,
                tp_small_raw: 400_000,
                tp_bulk: 200,
                tp_bulk_raw: 400,
            }
        } else {
            Iters {
                warmup: 500,
                rtt: 5000,
                spawn1: 50,
                spawn8: 20,
                relay: 40,
                relay_bt: 10,
                connect: 200,
                tp_rounds: 3,
                tp_small: 200_000,
                tp_small_raw: 4_000_000,
                tp_bulk: 2_000,
                tp_bulk_raw: 4_000,
            }
        }
    }
}
