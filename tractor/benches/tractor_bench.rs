//! tractor's cost next to the machine's raw limits, measured in one run.
//!
//! Absolute latencies depend on the host (CPU, kernel, load), so every
//! tractor figure is printed beside a baseline measured by this same binary
//! moments earlier with plain `std` code and two real processes: the binary
//! re-executes itself with `TRACTOR_BENCH_RAW` set to act as the raw peer.
//! The baselines are a framed ping-pong over loopback TCP (`TCP_NODELAY`) and
//! over a unix socket, and the exec of a trivial child (this binary in raw
//! mode) that connects back, sends one byte and exits, alone and eight at a
//! time. Against them we measure, through tractor's public API only: spawn +
//! teardown of one daemon actor (`start_actor`, `cancel_actor`, nursery
//! exit), eight daemons spawned concurrently and cancelled with
//! `an.cancel()`, the `portal.run` round trip of a trivial endpoint over TCP
//! and UDS, and the latency with which an error raised by a `run_in_actor`
//! child reaches its parent (the child stamps the error with
//! `CLOCK_MONOTONIC`, a system-wide clock on Linux, and the parent compares
//! on receipt). The table shows tractor/raw ratios against the SPEC targets.
//! Run it with `cargo bench --bench tractor_bench`; set
//! `TRACTOR_BENCH_QUICK=1` for a short smoke run.

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Selects raw-peer mode in a re-executed copy of this binary.
const RAW_ENV: &str = "TRACTOR_BENCH_RAW";
/// The address the raw peer connects to.
const ADDR_ENV: &str = "TRACTOR_BENCH_ADDR";
/// Payload of one raw ping-pong frame (plus a 4-byte length prefix).
const PAYLOAD: usize = 16;

// ---------------------------------------------------------------------------
// endpoints served by the tractor children

/// Trivial endpoint for the `portal.run` round trip.
#[tractor::endpoint]
async fn ping(x: u32) -> u32 {
    x
}

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
fn mono_ns() -> u64 {
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

// ---------------------------------------------------------------------------
// entry point

fn main() {
    // A tractor child re-executes this binary: serve as the actor and exit.
    tractor::init();
    if let Ok(mode) = std::env::var(RAW_ENV) {
        raw_peer(&mode);
        std::process::exit(0);
    }
    // `cargo bench` passes `--bench` (and maybe filters): ignored.
    let quick = std::env::var_os("TRACTOR_BENCH_QUICK").is_some();
    let it = Iters::new(quick);
    let t0 = Instant::now();
    eprintln!(
        "tractor_bench: {} mode, {} CPUs",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    eprintln!("tractor_bench: raw baselines...");
    let raw = measure_raw(&it);
    eprintln!("tractor_bench: tractor figures...");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let tr = match rt.block_on(measure_tractor(&it)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("tractor_bench: tractor run failed: {e}");
            std::process::exit(1);
        }
    };
    drop(rt);
    report(&raw, &tr, t0.elapsed());
}

struct Iters {
    warmup: usize,
    rtt: usize,
    spawn1: usize,
    spawn8: usize,
    relay: usize,
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
            }
        } else {
            Iters {
                warmup: 500,
                rtt: 5000,
                spawn1: 30,
                spawn8: 12,
                relay: 30,
            }
        }
    }
}

// ---------------------------------------------------------------------------
// statistics

/// Samples in nanoseconds.
#[derive(Clone, Default)]
struct Samples(Vec<u64>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_nanos() as u64);
    }
    fn push_ns(&mut self, ns: u64) {
        self.0.push(ns);
    }
    fn quantile(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        let mut v = self.0.clone();
        v.sort_unstable();
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v[i.min(v.len() - 1)]
    }
    fn median(&self) -> u64 {
        self.quantile(0.5)
    }
    fn p99(&self) -> u64 {
        self.quantile(0.99)
    }
}

fn fmt_ns(ns: u64) -> String {
    if ns >= 10_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else {
        format!("{:.1} µs", ns as f64 / 1e3)
    }
}

// ---------------------------------------------------------------------------
// raw peer (child side)

fn raw_peer(mode: &str) {
    let addr = std::env::var(ADDR_ENV).unwrap_or_default();
    let r = match mode {
        "echo-tcp" => TcpStream::connect(&addr).and_then(|s| {
            s.set_nodelay(true)?;
            echo_std(s)
        }),
        "echo-uds" => UnixStream::connect(&addr).and_then(echo_std),
        "echo-tokio-tcp" | "echo-tokio-uds" => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .and_then(|rt| {
                rt.block_on(async {
                    if mode == "echo-tokio-tcp" {
                        let s = tokio::net::TcpStream::connect(&addr).await?;
                        s.set_nodelay(true)?;
                        echo_tokio(s).await
                    } else {
                        echo_tokio(tokio::net::UnixStream::connect(&addr).await?).await
                    }
                })
            }),
        "handshake" => TcpStream::connect(&addr).and_then(|mut s| s.write_all(&[1])),
        other => Err(std::io::Error::other(format!("unknown raw mode {other}"))),
    };
    if let Err(e) = r {
        eprintln!("tractor_bench raw peer ({mode}): {e}");
        std::process::exit(1);
    }
}

/// Echoes length-prefixed frames until EOF.
fn echo_std<S: Read + Write>(mut s: S) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4 + PAYLOAD];
    loop {
        if let Err(e) = s.read_exact(&mut buf[..4]) {
            return if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Ok(())
            } else {
                Err(e)
            };
        }
        let n = u32::from_le_bytes(buf[..4].try_into().unwrap_or_default()) as usize;
        buf.resize(4 + n, 0);
        s.read_exact(&mut buf[4..4 + n])?;
        s.write_all(&buf[..4 + n])?;
    }
}

async fn echo_tokio<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 4 + PAYLOAD];
    loop {
        if let Err(e) = s.read_exact(&mut buf[..4]).await {
            return if e.kind() == std::io::ErrorKind::UnexpectedEof {
                Ok(())
            } else {
                Err(e)
            };
        }
        let n = u32::from_le_bytes(buf[..4].try_into().unwrap_or_default()) as usize;
        buf.resize(4 + n, 0);
        s.read_exact(&mut buf[4..4 + n]).await?;
        s.write_all(&buf[..4 + n]).await?;
    }
}

// ---------------------------------------------------------------------------
// raw baselines (parent side)

#[derive(Default)]
struct Raw {
    tcp: Samples,
    uds: Samples,
    tokio_tcp: Samples,
    tokio_uds: Samples,
    /// exec → handshake byte received.
    spawn1_up: Samples,
    /// exec + handshake + exit + wait.
    spawn1: Samples,
    spawn8: Samples,
}

fn raw_child(mode: &str, addr: &str) -> Child {
    Command::new(std::env::current_exe().expect("current exe"))
        .env(RAW_ENV, mode)
        .env(ADDR_ENV, addr)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn raw peer")
}

fn uds_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tractor-bench-{}-{tag}.sock", std::process::id()))
}

fn frame() -> Vec<u8> {
    let mut m = (PAYLOAD as u32).to_le_bytes().to_vec();
    m.extend_from_slice(&[0xab; PAYLOAD]);
    m
}

/// Ping-pong of `n` frames after `warmup`, blocking std I/O.
fn pingpong_std<S: Read + Write>(s: &mut S, warmup: usize, n: usize) -> Samples {
    let msg = frame();
    let mut back = vec![0u8; msg.len()];
    let mut out = Samples::default();
    for i in 0..warmup + n {
        let t = Instant::now();
        s.write_all(&msg).expect("raw write");
        s.read_exact(&mut back[..4]).expect("raw read");
        s.read_exact(&mut back[4..]).expect("raw read");
        if i >= warmup {
            out.push(t.elapsed());
        }
    }
    out
}

async fn pingpong_tokio<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    warmup: usize,
    n: usize,
) -> Samples {
    let msg = frame();
    let mut back = vec![0u8; msg.len()];
    let mut out = Samples::default();
    for i in 0..warmup + n {
        let t = Instant::now();
        s.write_all(&msg).await.expect("raw write");
        s.read_exact(&mut back[..4]).await.expect("raw read");
        s.read_exact(&mut back[4..]).await.expect("raw read");
        if i >= warmup {
            out.push(t.elapsed());
        }
    }
    out
}

fn measure_raw(it: &Iters) -> Raw {
    let mut raw = Raw::default();

    // 1. TCP ping-pong, blocking std on both ends.
    {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut child = raw_child("echo-tcp", &l.local_addr().expect("addr").to_string());
        let (mut s, _) = l.accept().expect("accept");
        s.set_nodelay(true).expect("nodelay");
        raw.tcp = pingpong_std(&mut s, it.warmup, it.rtt);
        drop(s);
        child.wait().expect("wait raw peer");
    }
    // 2. UDS ping-pong.
    {
        let path = uds_path("uds");
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).expect("bind uds");
        let mut child = raw_child("echo-uds", &path.to_string_lossy());
        let (mut s, _) = l.accept().expect("accept");
        raw.uds = pingpong_std(&mut s, it.warmup, it.rtt);
        drop(s);
        child.wait().expect("wait raw peer");
        let _ = std::fs::remove_file(&path);
    }
    // The same two with tokio (current-thread, as tractor) on both ends.
    {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        rt.block_on(async {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let mut child = raw_child("echo-tokio-tcp", &l.local_addr().expect("addr").to_string());
            let (mut s, _) = l.accept().await.expect("accept");
            s.set_nodelay(true).expect("nodelay");
            raw.tokio_tcp = pingpong_tokio(&mut s, it.warmup, it.rtt).await;
            drop(s);
            child.wait().expect("wait raw peer");

            let path = uds_path("tokio");
            let _ = std::fs::remove_file(&path);
            let l = tokio::net::UnixListener::bind(&path).expect("bind uds");
            let mut child = raw_child("echo-tokio-uds", &path.to_string_lossy());
            let (mut s, _) = l.accept().await.expect("accept");
            raw.tokio_uds = pingpong_tokio(&mut s, it.warmup, it.rtt).await;
            drop(s);
            child.wait().expect("wait raw peer");
            let _ = std::fs::remove_file(&path);
        });
    }
    // 3. exec + one-byte handshake + exit + wait, one child at a time.
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr").to_string();
    for i in 0..it.spawn1 + 2 {
        let t = Instant::now();
        let mut child = raw_child("handshake", &addr);
        let (mut s, _) = l.accept().expect("accept");
        let mut b = [0u8; 1];
        s.read_exact(&mut b).expect("handshake byte");
        let up = t.elapsed();
        child.wait().expect("wait raw child");
        if i >= 2 {
            raw.spawn1_up.push(up);
            raw.spawn1.push(t.elapsed());
        }
    }
    // 4. eight at once.
    for i in 0..it.spawn8 + 1 {
        let t = Instant::now();
        let mut children: Vec<Child> = (0..8).map(|_| raw_child("handshake", &addr)).collect();
        for _ in 0..8 {
            let (mut s, _) = l.accept().expect("accept");
            let mut b = [0u8; 1];
            s.read_exact(&mut b).expect("handshake byte");
        }
        for c in &mut children {
            c.wait().expect("wait raw child");
        }
        if i >= 1 {
            raw.spawn8.push(t.elapsed());
        }
    }
    raw
}

// ---------------------------------------------------------------------------
// tractor figures

#[derive(Default)]
struct Tractor {
    /// start_actor returned.
    spawn1_up: Samples,
    /// cancel_actor + nursery exit.
    spawn1_down: Samples,
    /// the whole nursery: spawn + teardown.
    spawn1: Samples,
    spawn8: Samples,
    rtt_tcp: Samples,
    rtt_uds: Samples,
    /// raise in the child → error seen by the parent (cross-process clock).
    err_relay: Samples,
    /// return in the child → value seen by the parent.
    ok_relay: Samples,
    /// run_in_actor spawn → error seen (parent clock).
    spawn_err: Samples,
    /// run_in_actor spawn → value seen (parent clock).
    spawn_ok: Samples,
}

async fn measure_tractor(it: &Iters) -> Result<Tractor, tractor::Error> {
    let mut tr = Tractor::default();
    let tr_ref = &mut tr;
    tractor::open_root_actor(tractor::RootConfig::new("bench"), async move || {
        // a. one daemon: spawn, cancel, nursery exit.
        for i in 0..it.spawn1 + 2 {
            let t = Instant::now();
            let up = Cell::new(Duration::ZERO);
            let down = Cell::new(Instant::now());
            tractor::open_nursery(async |an| {
                let p = an.start_actor("spawn1").spawn().await?;
                up.set(t.elapsed());
                down.set(Instant::now());
                p.cancel_actor().await?;
                Ok(())
            })
            .await?;
            if i >= 2 {
                tr_ref.spawn1_up.push(up.get());
                tr_ref.spawn1_down.push(down.get().elapsed());
                tr_ref.spawn1.push(t.elapsed());
            }
        }
        // b. eight daemons spawned concurrently, then `an.cancel()`.
        for i in 0..it.spawn8 + 1 {
            let t = Instant::now();
            tractor::open_nursery(async |an| {
                let portals = futures::future::join_all(
                    (0..8).map(|k| an.start_actor(format!("spawn8-{k}")).spawn()),
                )
                .await;
                for p in portals {
                    p?;
                }
                an.cancel().await;
                Ok(())
            })
            .await?;
            if i >= 1 {
                tr_ref.spawn8.push(t.elapsed());
            }
        }
        // c. portal.run over TCP.
        tr_ref.rtt_tcp = portal_rtt(it).await?;
        // d. error relay from a run_in_actor child, and its ok twin.
        for i in 0..it.relay + 2 {
            let t = Instant::now();
            let got = Cell::new(None);
            let res = tractor::open_nursery(async |an| {
                let child = an.run_in_actor(raise_now::call()).await?;
                let r = child.wait_for_result().await;
                let now = mono_ns();
                got.set(Some((t.elapsed(), now)));
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
            if i >= 2 {
                tr_ref.err_relay.push_ns(now.saturating_sub(raised.at_ns));
                tr_ref.spawn_err.push(spawn_err);
            }

            let t = Instant::now();
            let (at, now) = tractor::open_nursery(async |an| {
                let child = an.run_in_actor(return_now::call()).await?;
                let at = child.wait_for_result().await?;
                Ok((at, mono_ns()))
            })
            .await?;
            if i >= 2 {
                tr_ref.ok_relay.push_ns(now.saturating_sub(at));
                tr_ref.spawn_ok.push(t.elapsed());
            }
        }
        Ok(())
    })
    .await?;
    // c. portal.run over UDS: a tree of its own.
    tr.rtt_uds = tractor::open_root_actor(
        tractor::RootConfig::new("bench").transport(tractor::TransportKind::Uds),
        async || portal_rtt(it).await,
    )
    .await?;
    Ok(tr)
}

/// `portal.run(ping)` round trips against one daemon of the current tree.
async fn portal_rtt(it: &Iters) -> Result<Samples, tractor::Error> {
    tractor::open_nursery(async |an| {
        let p = an
            .start_actor("pong")
            .enable_modules([module_path!()])
            .spawn()
            .await?;
        let mut out = Samples::default();
        for i in 0..(it.warmup + it.rtt) as u32 {
            let t = Instant::now();
            let r = p.run(ping::call(i)).await?;
            let d = t.elapsed();
            assert_eq!(r, i);
            if i as usize >= it.warmup {
                out.push(d);
            }
        }
        p.cancel_actor().await?;
        Ok(out)
    })
    .await
}

// ---------------------------------------------------------------------------
// report

struct Row {
    figure: &'static str,
    tractor: u64,
    raw: u64,
    target: &'static str,
    /// Some(limit) when the target is a ratio, None when informational.
    max_ratio: Option<f64>,
    /// Some(limit_ns) when the target is absolute.
    max_abs: Option<u64>,
}

fn report(raw: &Raw, tr: &Tractor, elapsed: Duration) {
    let rows = [
        Row {
            figure: "spawn+teardown, 1 actor (median)",
            tractor: tr.spawn1.median(),
            raw: raw.spawn1.median(),
            target: "<= 3x raw exec+handshake+exit",
            max_ratio: Some(3.0),
            max_abs: None,
        },
        Row {
            figure: "spawn+teardown, 8 concurrent (median)",
            tractor: tr.spawn8.median(),
            raw: raw.spawn8.median(),
            target: "<= 3x raw 8x exec+handshake+exit",
            max_ratio: Some(3.0),
            max_abs: None,
        },
        Row {
            figure: "portal.run round trip, TCP (median)",
            tractor: tr.rtt_tcp.median(),
            raw: raw.tcp.median(),
            target: "<= 1.5x raw TCP ping-pong",
            max_ratio: Some(1.5),
            max_abs: None,
        },
        Row {
            figure: "portal.run round trip, TCP (p99)",
            tractor: tr.rtt_tcp.p99(),
            raw: raw.tcp.p99(),
            target: "(info)",
            max_ratio: None,
            max_abs: None,
        },
        Row {
            figure: "portal.run round trip, UDS (median)",
            tractor: tr.rtt_uds.median(),
            raw: raw.uds.median(),
            target: "<= 1.5x raw UDS ping-pong",
            max_ratio: Some(1.5),
            max_abs: None,
        },
        Row {
            figure: "portal.run round trip, UDS (p99)",
            tractor: tr.rtt_uds.p99(),
            raw: raw.uds.p99(),
            target: "(info)",
            max_ratio: None,
            max_abs: None,
        },
        Row {
            figure: "error relay after spawn (median)",
            tractor: tr.err_relay.median(),
            raw: raw.tcp.median() / 2,
            target: "<= 1 ms (raw: TCP one-way)",
            max_ratio: None,
            max_abs: Some(1_000_000),
        },
    ];

    let w = [40, 11, 11, 8, 34, 7];
    let line = |cells: [&str; 6]| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(w) {
            s.push_str(&format!(" {c:<w$} |"));
        }
        println!("{s}");
    };
    println!();
    println!(
        "tractor_bench: tractor vs. this machine's raw limits (same run, {:.1} s total)",
        elapsed.as_secs_f64()
    );
    println!();
    line([
        "figure",
        "tractor",
        "raw",
        "ratio",
        "SPEC target",
        "verdict",
    ]);
    let sep: Vec<String> = w.iter().map(|w| "-".repeat(*w)).collect();
    line([&sep[0], &sep[1], &sep[2], &sep[3], &sep[4], &sep[5]]);
    let mut failed = 0;
    for r in &rows {
        let ratio = r.tractor as f64 / r.raw.max(1) as f64;
        let verdict = match (r.max_ratio, r.max_abs) {
            (Some(m), _) if ratio <= m => "ok",
            (Some(_), _) => "MISS",
            (None, Some(a)) if r.tractor <= a => "ok",
            (None, Some(_)) => "MISS",
            (None, None) => "",
        };
        if verdict == "MISS" {
            failed += 1;
        }
        line([
            r.figure,
            &fmt_ns(r.tractor),
            &fmt_ns(r.raw),
            &format!("{ratio:.2}x"),
            r.target,
            verdict,
        ]);
    }
    println!();
    println!("details (medians unless noted; n = samples):");
    let d = |what: &str, s: &Samples| {
        println!(
            "  {what:<58} {:>10}  p99 {:>10}  n={}",
            fmt_ns(s.median()),
            fmt_ns(s.p99()),
            s.0.len()
        );
    };
    d("raw TCP ping-pong, std blocking (baseline)", &raw.tcp);
    d("raw TCP ping-pong, tokio current-thread", &raw.tokio_tcp);
    d("raw UDS ping-pong, std blocking (baseline)", &raw.uds);
    d("raw UDS ping-pong, tokio current-thread", &raw.tokio_uds);
    d("raw exec -> handshake byte received", &raw.spawn1_up);
    d("raw exec + handshake + exit + wait", &raw.spawn1);
    d(
        "raw 8x (exec + handshake + exit + wait), concurrent",
        &raw.spawn8,
    );
    d("tractor start_actor returned (spawn)", &tr.spawn1_up);
    d(
        "tractor cancel_actor + nursery exit (teardown)",
        &tr.spawn1_down,
    );
    d("tractor spawn + teardown, 1 actor", &tr.spawn1);
    d("tractor spawn + teardown, 8 concurrent", &tr.spawn8);
    d("tractor portal.run, TCP", &tr.rtt_tcp);
    d("tractor portal.run, UDS", &tr.rtt_uds);
    d(
        "tractor error relay: child raises -> parent sees",
        &tr.err_relay,
    );
    d(
        "tractor ok relay: child returns -> parent sees",
        &tr.ok_relay,
    );
    d("tractor run_in_actor spawn -> error seen", &tr.spawn_err);
    d("tractor run_in_actor spawn -> value seen", &tr.spawn_ok);
    println!(
        "  {:<58} {:>10}",
        "(spawn -> error) - (spawn -> value), cross-check",
        format!(
            "{:+.1} µs",
            (tr.spawn_err.median() as f64 - tr.spawn_ok.median() as f64) / 1e3
        )
    );
    println!(
        "  tokio ratios: portal.run TCP {:.2}x, UDS {:.2}x of a tokio current-thread ping-pong",
        tr.rtt_tcp.median() as f64 / raw.tokio_tcp.median().max(1) as f64,
        tr.rtt_uds.median() as f64 / raw.tokio_uds.median().max(1) as f64,
    );
    println!();
    println!(
        "{} of {} SPEC targets met",
        rows.iter()
            .filter(|r| r.max_ratio.is_some() || r.max_abs.is_some())
            .count()
            - failed,
        rows.iter()
            .filter(|r| r.max_ratio.is_some() || r.max_abs.is_some())
            .count()
    );
}
