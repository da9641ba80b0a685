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
//! targets. The same rounds also time a context's stream ping-pong (the
//! parent sends on the stream of an open context, the child echoes).
//!
//! Streaming throughput is measured unpinned, again alternating with raw
//! peers over the same transport: a one-way stream endpoint yielding
//! `u64`s (with the default window and with `.buffer(1024)`) next to a raw
//! writer sending 4-byte-length-prefixed 8-byte frames through a
//! `BufWriter` to a reader that parses every frame; and a one-way stream of
//! 64 KiB byte chunks next to raw 64 KiB socket writes. Run it with
//! `cargo bench --bench tractor_bench` (`TRACTOR_BENCH_QUICK=1` for a short
//! smoke run).

use std::cell::Cell;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Selects raw-peer mode in a re-executed copy of this binary.
const RAW_ENV: &str = "TRACTOR_BENCH_RAW";
/// The address the raw peer connects to.
const ADDR_ENV: &str = "TRACTOR_BENCH_ADDR";
/// Selects the backtrace-capturing error-relay sub-run.
const SUB_ENV: &str = "TRACTOR_BENCH_SUB";
/// Payload of one raw ping-pong frame (plus a 4-byte length prefix).
const PAYLOAD: usize = 16;
/// A raw frame: length prefix + payload, always this size.
const FRAME: usize = 4 + PAYLOAD;
/// Raw and tractor round trips alternate in this many rounds.
const ROUNDS: usize = 5;
/// Payload of one bulk stream item / raw bulk write.
const CHUNK: usize = 64 * 1024;
/// Stream windows of the small-message throughput runs: the default (64)
/// and a large one.
const WINDOWS: [Option<u32>; 2] = [None, Some(1024)];

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

/// Context stream ping-pong: echoes every message until the caller's
/// stream closes.
#[tractor::context]
async fn echo_ctx(ctx: tractor::Context<(), u32, u32>) -> Result<u64, tractor::Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream().await?;
    let mut n = 0;
    while let Some(x) = stream.recv().await? {
        stream.send(x).await?;
        n += 1;
    }
    Ok(n)
}

/// Small-message one-way stream: `0..n`.
#[tractor::endpoint]
async fn count_u64(n: u64) -> impl futures::Stream<Item = u64> {
    futures::stream::iter(0..n)
}

/// Bulk one-way stream: `n` chunks of [`CHUNK`] bytes.
#[tractor::endpoint]
async fn chunks(n: u32) -> impl futures::Stream<Item = Chunk> {
    let buf = Arc::new(vec![0xab_u8; CHUNK]);
    futures::stream::iter((0..n).map(move |_| Chunk(buf.clone())))
}

/// A bulk stream item: plain bytes on the wire (serde `bytes`, as
/// `serde_bytes::ByteBuf`). The producer shares one buffer, as the raw
/// writer reuses one, so no per-item copy is charged to the bench itself;
/// the consumer gets owned bytes.
struct Chunk(Arc<Vec<u8>>);

impl serde::Serialize for Chunk {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Chunk {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        serde_bytes::ByteBuf::deserialize(d).map(|b| Chunk(Arc::new(b.into_vec())))
    }
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
    // `cargo bench` passes `--bench` (and maybe filters): arguments are ignored.
    let quick = std::env::var_os("TRACTOR_BENCH_QUICK").is_some();
    let it = Iters::new(quick);
    if std::env::var_os(SUB_ENV).is_some() {
        sub_relay(&it);
        return;
    }
    // Error relay is measured without backtrace capture (a separate
    // sub-run measures it with), whatever RUST_BACKTRACE says; the actors
    // inherit this environment.
    // SAFETY: no other thread exists yet that could read the environment.
    unsafe {
        std::env::set_var("RUST_LIB_BACKTRACE", "0");
    }
    watchdog(if quick { 120 } else { 300 });
    let t0 = Instant::now();
    eprintln!(
        "tractor_bench: {} run, {} CPUs; raw and tractor samples alternate",
        if quick { "quick" } else { "full" },
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let (raw, tr, rtt, tp) = match runtime().block_on(measure(&it)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("tractor_bench: tractor run failed: {e}");
            std::process::exit(1);
        }
    };
    eprintln!("tractor_bench: error relay with backtrace capture (sub-run)...");
    let bt = relay_with_backtraces();
    report(&raw, &tr, &rtt, &tp, bt.as_ref(), t0.elapsed());
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
    } else if ns >= 1_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
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
        "blast-tcp" => TcpStream::connect(&addr).and_then(|s| {
            s.set_nodelay(true)?;
            blast(s)
        }),
        "blast-uds" => UnixStream::connect(&addr).and_then(blast),
        "echo-tokio-tcp" | "echo-tokio-uds" => runtime().block_on(async {
            if mode == "echo-tokio-tcp" {
                let s = tokio::net::TcpStream::connect(&addr).await?;
                s.set_nodelay(true)?;
                echo_tokio(s).await
            } else {
                echo_tokio(tokio::net::UnixStream::connect(&addr).await?).await
            }
        }),
        "handshake" => TcpStream::connect(&addr).and_then(|mut s| s.write_all(&[1])),
        "accept-tcp" => TcpListener::bind("127.0.0.1:0").and_then(|l| {
            println!("LISTEN {}", l.local_addr()?);
            std::io::stdout().flush()?;
            accept_echo(|| l.accept().map(|(s, _)| s))
        }),
        "accept-uds" => UnixListener::bind(&addr).and_then(|l| {
            println!("LISTEN {addr}");
            std::io::stdout().flush()?;
            accept_echo(|| l.accept().map(|(s, _)| s))
        }),
        other => Err(std::io::Error::other(format!("unknown raw mode {other}"))),
    };
    if let Err(e) = r {
        eprintln!("tractor_bench raw peer ({mode}): {e}");
        std::process::exit(1);
    }
}

/// Accepts connections forever; on each, echoes one byte and closes.
fn accept_echo<S: Read + Write>(
    mut accept: impl FnMut() -> std::io::Result<S>,
) -> std::io::Result<()> {
    loop {
        let mut s = accept()?;
        let mut b = [0u8; 1];
        if s.read_exact(&mut b).is_ok() {
            let _ = s.write_all(&b);
        }
    }
}

/// Echoes fixed-size frames until EOF: one read and one write each.
fn echo_std<S: Read + Write>(mut s: S) -> std::io::Result<()> {
    let mut buf = [0u8; FRAME];
    loop {
        match s.read_exact(&mut buf) {
            Ok(()) => s.write_all(&buf)?,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

/// A raw bulk request: what to send ([`BLAST_FRAMES`] or [`BLAST_BULK`]) and
/// how many.
const BLAST_REQ: usize = 9;
/// `n` frames: a 4-byte length prefix (8) and the index as 8 bytes.
const BLAST_FRAMES: u8 = b'f';
/// `n` writes of [`CHUNK`] bytes.
const BLAST_BULK: u8 = b'b';

/// Serves raw throughput requests until EOF.
fn blast<S: Read + Write>(mut s: S) -> std::io::Result<()> {
    let chunk = vec![0xab_u8; CHUNK];
    let mut req = [0u8; BLAST_REQ];
    loop {
        match s.read_exact(&mut req) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
        let n = u64::from_le_bytes(req[1..].try_into().expect("8 bytes"));
        match req[0] {
            BLAST_FRAMES => {
                let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut s);
                let mut f = [0u8; 12];
                f[..4].copy_from_slice(&8u32.to_le_bytes());
                for i in 0..n {
                    f[4..].copy_from_slice(&i.to_le_bytes());
                    w.write_all(&f)?;
                }
                w.flush()?;
            }
            _ => {
                for _ in 0..n {
                    s.write_all(&chunk)?;
                }
            }
        }
    }
}

async fn echo_tokio<S: AsyncRead + AsyncWrite + Unpin>(mut s: S) -> std::io::Result<()> {
    let mut buf = [0u8; FRAME];
    loop {
        match s.read_exact(&mut buf).await {
            Ok(_) => s.write_all(&buf).await?,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

// ---------------------------------------------------------------------------
// raw baselines (parent side)

trait Duplex: Read + Write {}
impl<T: Read + Write> Duplex for T {}
trait AsyncDuplex: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> AsyncDuplex for T {}

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

fn frame() -> [u8; FRAME] {
    let mut m = [0xab; FRAME];
    m[..4].copy_from_slice(&(PAYLOAD as u32).to_le_bytes());
    m
}

/// A raw echo peer reached with blocking std I/O.
fn std_peer(uds: bool) -> (Box<dyn Duplex>, Child) {
    raw_peer_of("echo", uds)
}

/// A raw peer in mode `<kind>-tcp` / `<kind>-uds`, reached with blocking std I/O.
fn raw_peer_of(kind: &str, uds: bool) -> (Box<dyn Duplex>, Child) {
    if uds {
        let path = uds_path(kind);
        let _ = std::fs::remove_file(&path);
        let l = UnixListener::bind(&path).expect("bind uds");
        let child = raw_child(&format!("{kind}-uds"), &path.to_string_lossy());
        let (s, _) = l.accept().expect("accept");
        let _ = std::fs::remove_file(&path);
        (Box::new(s), child)
    } else {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        let child = raw_child(
            &format!("{kind}-tcp"),
            &l.local_addr().expect("addr").to_string(),
        );
        let (s, _) = l.accept().expect("accept");
        s.set_nodelay(true).expect("nodelay");
        (Box::new(s), child)
    }
}

/// A raw echo peer reached with tokio, on the current (tractor's) runtime.
async fn tokio_peer(uds: bool) -> (Box<dyn AsyncDuplex>, Child) {
    if uds {
        let path = uds_path("tokio");
        let _ = std::fs::remove_file(&path);
        let l = tokio::net::UnixListener::bind(&path).expect("bind uds");
        let child = raw_child("echo-tokio-uds", &path.to_string_lossy());
        let (s, _) = l.accept().await.expect("accept");
        let _ = std::fs::remove_file(&path);
        (Box::new(s), child)
    } else {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let child = raw_child("echo-tokio-tcp", &l.local_addr().expect("addr").to_string());
        let (s, _) = l.accept().await.expect("accept");
        s.set_nodelay(true).expect("nodelay");
        (Box::new(s), child)
    }
}

fn pingpong_std(s: &mut dyn Duplex, n: usize, out: Option<&mut Samples>) {
    let msg = frame();
    let mut back = [0u8; FRAME];
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(&msg).expect("raw write");
        s.read_exact(&mut back).expect("raw read");
        v.push(t.elapsed());
    }
    if let Some(out) = out {
        v.into_iter().for_each(|d| out.push(d));
    }
}

async fn pingpong_tokio(s: &mut dyn AsyncDuplex, n: usize, out: Option<&mut Samples>) {
    let msg = frame();
    let mut back = [0u8; FRAME];
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.write_all(&msg).await.expect("raw write");
        s.read_exact(&mut back).await.expect("raw read");
        v.push(t.elapsed());
    }
    if let Some(out) = out {
        v.into_iter().for_each(|d| out.push(d));
    }
}

fn blast_request(s: &mut dyn Duplex, what: u8, n: u64) {
    let mut req = [0u8; BLAST_REQ];
    req[0] = what;
    req[1..].copy_from_slice(&n.to_le_bytes());
    s.write_all(&req).expect("raw request");
}

/// Has the raw peer send `n` small frames and parses them (through a
/// `BufReader`): the time from request to the last frame parsed.
fn raw_frames(s: &mut dyn Duplex, n: u64) -> Duration {
    let t = Instant::now();
    blast_request(s, BLAST_FRAMES, n);
    let mut r = std::io::BufReader::with_capacity(64 * 1024, s);
    let (mut len, mut body) = ([0u8; 4], [0u8; 8]);
    let mut sum = 0u64;
    for _ in 0..n {
        r.read_exact(&mut len).expect("raw frame length");
        let l = u32::from_le_bytes(len) as usize;
        assert_eq!(l, body.len(), "raw frame length");
        r.read_exact(&mut body[..l]).expect("raw frame body");
        sum = sum.wrapping_add(u64::from_le_bytes(body));
    }
    let d = t.elapsed();
    assert_eq!(sum, n * n.saturating_sub(1) / 2, "raw frames lost");
    d
}

/// Has the raw peer write `n` chunks of [`CHUNK`] bytes and reads them:
/// the time from request to the last byte read.
fn raw_bulk(s: &mut dyn Duplex, n: u32) -> Duration {
    let t = Instant::now();
    blast_request(s, BLAST_BULK, u64::from(n));
    let mut buf = vec![0u8; CHUNK];
    let mut left = n as usize * CHUNK;
    while left > 0 {
        let want = left.min(buf.len());
        let got = s.read(&mut buf[..want]).expect("raw bulk read");
        assert!(got > 0, "raw bulk: early EOF");
        left -= got;
    }
    t.elapsed()
}

/// exec + one-byte handshake (+ exit + wait) of `k` raw children at once:
/// (time until every handshake byte arrived, total).
fn raw_spawn(l: &TcpListener, k: usize) -> (Duration, Duration) {
    let addr = l.local_addr().expect("addr").to_string();
    let t = Instant::now();
    let mut children: Vec<Child> = (0..k).map(|_| raw_child("handshake", &addr)).collect();
    for _ in 0..k {
        let (mut s, _) = l.accept().expect("accept");
        let mut b = [0u8; 1];
        s.read_exact(&mut b).expect("handshake byte");
    }
    let up = t.elapsed();
    for c in &mut children {
        c.wait().expect("wait raw child");
    }
    (up, t.elapsed())
}

// ---------------------------------------------------------------------------
// measurements

/// One round-trip measurement: raw std, raw tokio and tractor, taken
/// alternately with the same process placement.
#[derive(Default)]
struct Rtt {
    raw: Samples,
    tokio: Samples,
    tractor: Samples,
    /// Context stream ping-pong (`MsgStream::send` + `recv`).
    ctx: Samples,
    /// CPU time spent per variant: [raw, tokio, portal.run, ctx stream].
    cpu: [Cpu; 4],
}

/// CPU time of both ends over `calls` round trips.
#[derive(Default, Clone, Copy)]
struct Cpu {
    me_ns: u64,
    peer_ns: u64,
    calls: u64,
}

impl Cpu {
    /// CPU clocks of this process and of `peer` now.
    fn start(peer: u32) -> (u64, u64) {
        (cpu_ns(0), cpu_ns(peer))
    }

    /// Adds what this process and `peer` spent since `start`.
    fn stop(&mut self, start: (u64, u64), peer: u32, calls: usize) {
        self.me_ns += cpu_ns(0).saturating_sub(start.0);
        self.peer_ns += cpu_ns(peer).saturating_sub(start.1);
        self.calls += calls as u64;
    }

    fn per_call(&self) -> (u64, u64) {
        let n = self.calls.max(1);
        (self.me_ns / n, self.peer_ns / n)
    }
}

/// CPU time consumed so far by process `pid` (0: this one), in ns.
fn cpu_ns(pid: u32) -> u64 {
    let mut clk: libc::clockid_t = libc::CLOCK_PROCESS_CPUTIME_ID;
    // SAFETY: `clk` is a valid out-pointer.
    if pid != 0 && unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clk) } != 0 {
        return 0;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clk, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Where the ping-pong peers run relative to the measuring thread.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// Both ends pinned to one CPU: the software path alone.
    SameCpu,
    /// The ends pinned to two different CPUs: adds the cross-CPU wake-up.
    TwoCpus,
    /// No pinning: wherever the scheduler puts them.
    Free,
}

impl Placement {
    const ALL: [Placement; 3] = [Placement::SameCpu, Placement::TwoCpus, Placement::Free];

    fn label(self) -> &'static str {
        match self {
            Placement::SameCpu => "1 CPU",
            Placement::TwoCpus => "2 CPUs",
            Placement::Free => "unpinned",
        }
    }
}

/// Round trips per transport and placement.
#[derive(Default)]
struct RttSet {
    tcp: Vec<(Placement, Rtt)>,
    uds: Vec<(Placement, Rtt)>,
}

impl RttSet {
    fn get(&self, uds: bool, at: Placement) -> Option<&Rtt> {
        let v = if uds { &self.uds } else { &self.tcp };
        v.iter().find(|(p, _)| *p == at).map(|(_, r)| r)
    }
}

/// Rates measured in rounds (items or bytes per second), with the CPU
/// time of both ends.
#[derive(Default)]
struct Rates {
    per_s: Vec<f64>,
    cpu: Cpu,
}

impl Rates {
    fn push(&mut self, amount: u64, d: Duration) {
        self.per_s.push(amount as f64 / d.as_secs_f64().max(1e-9));
    }
    fn median(&self) -> f64 {
        let mut v = self.per_s.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }
    fn min(&self) -> f64 {
        self.per_s.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.per_s.iter().copied().fold(0.0, f64::max)
    }
}

/// Streaming throughput over one transport.
#[derive(Default)]
struct Tp {
    /// Raw framed messages (4-byte prefix + 8 bytes), msg/s.
    raw_frames: Rates,
    /// One-way stream of u64, msg/s, per entry of [`WINDOWS`].
    small: [Rates; 2],
    /// Raw 64 KiB socket writes, bytes/s.
    raw_bulk: Rates,
    /// One-way stream of 64 KiB chunks, bytes/s.
    bulk: Rates,
}

#[derive(Default)]
struct TpSet {
    tcp: Option<Tp>,
    uds: Option<Tp>,
}

impl TpSet {
    fn get(&self, uds: bool) -> Option<&Tp> {
        if uds {
            self.uds.as_ref()
        } else {
            self.tcp.as_ref()
        }
    }
}

fn window_label(w: Option<u32>) -> String {
    match w {
        None => format!("window {}", tractor::wire::FlowSpec::default().window),
        Some(w) => format!("buffer({w})"),
    }
}

#[derive(Default)]
struct Raw {
    /// exec → handshake byte received.
    spawn1_up: Samples,
    /// exec + handshake + exit + wait.
    spawn1: Samples,
    spawn8: Samples,
    /// connect + accept + one-byte round trip, [TCP, UDS].
    connect: [Samples; 2],
}

#[derive(Default)]
struct Tractor {
    /// start_actor returned.
    spawn1_up: Samples,
    /// cancel_actor + nursery exit.
    spawn1_down: Samples,
    /// the whole nursery: spawn + teardown.
    spawn1: Samples,
    spawn8: Samples,
    relay: Relay,
    /// dial + authentication + identities, [TCP, UDS].
    connect: [Samples; 2],
    /// One HMAC proof (computed twice per handshake per side).
    proof: Samples,
}

#[derive(Default)]
struct Relay {
    /// raise in the child → error seen by the parent (cross-process clock).
    err: Samples,
    /// return in the child → value seen by the parent.
    ok: Samples,
    /// run_in_actor spawn → error seen (parent clock).
    spawn_err: Samples,
    /// run_in_actor spawn → value seen (parent clock).
    spawn_ok: Samples,
}

async fn measure(it: &Iters) -> Result<(Raw, Tractor, RttSet, TpSet), tractor::Error> {
    let mut raw = Raw::default();
    let mut tr = Tractor::default();
    let mut rtt = RttSet::default();
    let mut tp = TpSet::default();
    let (raw_ref, tr_ref, rtt_ref, tp_ref) = (&mut raw, &mut tr, &mut rtt, &mut tp);
    tractor::open_root_actor(tractor::RootConfig::new("bench"), async move || {
        eprintln!("tractor_bench: spawn + teardown...");
        spawns(it, raw_ref, tr_ref).await?;
        eprintln!("tractor_bench: new connections over TCP...");
        connects(it, false, raw_ref, tr_ref).await?;
        for at in Placement::ALL {
            eprintln!("tractor_bench: round trips over TCP, {}...", at.label());
            if let Some(r) = round_trips(it, false, at).await? {
                rtt_ref.tcp.push((at, r));
            }
        }
        eprintln!("tractor_bench: stream throughput over TCP...");
        tp_ref.tcp = Some(throughput(it, false).await?);
        eprintln!("tractor_bench: error relay...");
        tr_ref.relay = relay(it.relay).await?;
        Ok(())
    })
    .await?;
    let cfg = tractor::RootConfig::new("bench").transport(tractor::TransportKind::Uds);
    tractor::open_root_actor(cfg, async || {
        eprintln!("tractor_bench: new connections over UDS...");
        connects(it, true, &mut raw, &mut tr).await?;
        for at in Placement::ALL {
            eprintln!("tractor_bench: round trips over UDS, {}...", at.label());
            if let Some(r) = round_trips(it, true, at).await? {
                rtt.uds.push((at, r));
            }
        }
        eprintln!("tractor_bench: stream throughput over UDS...");
        tp.uds = Some(throughput(it, true).await?);
        Ok(())
    })
    .await?;
    Ok((raw, tr, rtt, tp))
}

/// One-way stream throughput against a raw peer over the same transport,
/// unpinned, in alternating rounds (round 0, a tenth of the size, is the
/// warm-up).
async fn throughput(it: &Iters, uds: bool) -> Result<Tp, tractor::Error> {
    tractor::open_nursery(async |an| {
        let p = an
            .start_actor("streamer")
            .enable_modules([module_path!()])
            .spawn()
            .await?;
        let pid = p.aid().pid;
        let (mut raw_s, mut raw_child) = raw_peer_of("blast", uds);
        let raw_pid = raw_child.id();
        let mut out = Tp::default();
        for round in 0..=it.tp_rounds {
            let keep = round > 0;
            let div = if keep { 1 } else { 10 };

            let n = it.tp_small_raw / div;
            let c = Cpu::start(raw_pid);
            let d = raw_frames(&mut *raw_s, n);
            if keep {
                out.raw_frames.push(n, d);
                out.raw_frames.cpu.stop(c, raw_pid, n as usize);
            }

            for (k, w) in WINDOWS.into_iter().enumerate() {
                let n = it.tp_small / div;
                let c = Cpu::start(pid);
                let t = Instant::now();
                let call = count_u64::call(n);
                let call = match w {
                    Some(w) => call.buffer(w),
                    None => call,
                };
                let mut s = p.open_stream_from(call).await?;
                let (mut got, mut sum) = (0u64, 0u64);
                while let Some(v) = s.recv().await? {
                    got += 1;
                    sum = sum.wrapping_add(v);
                }
                let d = t.elapsed();
                assert_eq!((got, sum), (n, n * n.saturating_sub(1) / 2), "u64 stream");
                if keep {
                    out.small[k].push(n, d);
                    out.small[k].cpu.stop(c, pid, n as usize);
                }
            }

            let n = it.tp_bulk_raw / div as u32;
            let c = Cpu::start(raw_pid);
            let d = raw_bulk(&mut *raw_s, n);
            if keep {
                out.raw_bulk.push(u64::from(n) * CHUNK as u64, d);
                out.raw_bulk.cpu.stop(c, raw_pid, n as usize);
            }

            let n = it.tp_bulk / div as u32;
            let c = Cpu::start(pid);
            let t = Instant::now();
            let mut s = p.open_stream_from(chunks::call(n)).await?;
            let mut got = 0u32;
            while let Some(chunk) = s.recv().await? {
                assert_eq!(chunk.0.len(), CHUNK, "chunk size");
                got += 1;
            }
            let d = t.elapsed();
            assert_eq!(got, n, "chunk stream");
            if keep {
                out.bulk.push(u64::from(n) * CHUNK as u64, d);
                out.bulk.cpu.stop(c, pid, n as usize);
            }
        }
        drop(raw_s);
        let _ = raw_child.wait();
        p.cancel_actor().await?;
        Ok(out)
    })
    .await
}

/// This actor's listening address.
#[tractor::endpoint]
async fn my_addr() -> Result<String, tractor::Error> {
    Ok(tractor::current_actor()?.accept_addr().to_string())
}

/// New connections, raw and tractor alternating: a raw connect to a raw
/// process's listener plus a one-byte round trip, next to a tractor dial
/// of a daemon actor with the whole handshake (peer-uid check on UDS, the
/// secret's challenge-response, identities). Also times one HMAC proof.
async fn connects(
    it: &Iters,
    uds: bool,
    raw: &mut Raw,
    tr: &mut Tractor,
) -> Result<(), tractor::Error> {
    use std::io::BufRead;
    let k = usize::from(uds);
    let secret = tractor::wire::tree_secret().expect("inside the root");
    let me = tractor::Aid::new("bench-dialer");
    let path = uds_path("accept");
    let _ = std::fs::remove_file(&path);
    let mut child = Command::new(std::env::current_exe().expect("current exe"))
        .env(RAW_ENV, if uds { "accept-uds" } else { "accept-tcp" })
        .env(ADDR_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn raw acceptor");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("raw acceptor's address");
    let raw_addr = line.trim().trim_start_matches("LISTEN ").to_string();
    let res = tractor::open_nursery(async |an| {
        let p = an
            .start_actor("connectee")
            .enable_modules([module_path!()])
            .await?;
        let addr: tractor::Addr = p.run(my_addr::call()).await?.parse().expect("addr");
        for round in 0..=ROUNDS {
            let n = if round == 0 {
                it.connect / 4
            } else {
                it.connect
            };
            for _ in 0..n {
                let t = Instant::now();
                let mut b = [7u8; 1];
                if uds {
                    let mut s = UnixStream::connect(&raw_addr).expect("raw connect");
                    s.write_all(&b).and_then(|()| s.read_exact(&mut b))
                } else {
                    let mut s = TcpStream::connect(&raw_addr).expect("raw connect");
                    s.set_nodelay(true).expect("nodelay");
                    s.write_all(&b).and_then(|()| s.read_exact(&mut b))
                }
                .expect("raw round trip");
                let d_raw = t.elapsed();
                let t = Instant::now();
                let conn = tractor::wire::dial_authenticated(&addr, &me, &secret)
                    .await
                    .expect("connect");
                let d_tr = t.elapsed();
                drop(conn);
                if round > 0 {
                    raw.connect[k].push(d_raw);
                    tr.connect[k].push(d_tr);
                }
            }
        }
        p.cancel_actor().await?;
        Ok(())
    })
    .await;
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_file(&path);
    if !uds {
        let (d, a) = ([1u8; 32], [2u8; 32]);
        for _ in 0..10 {
            let t = Instant::now();
            for _ in 0..1000 {
                std::hint::black_box(
                    tractor::wire::proof(&secret, tractor::wire::Role::Dialer, &d, &a)
                        .expect("proof"),
                );
            }
            tr.proof.push_ns(t.elapsed().as_nanos() as u64 / 1000);
        }
    }
    res
}

/// Spawn + teardown, raw and tractor alternating (the raw parts block the
/// runtime thread, which has nothing else to do meanwhile).
async fn spawns(it: &Iters, raw: &mut Raw, tr: &mut Tractor) -> Result<(), tractor::Error> {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    for i in 0..it.spawn1 + 2 {
        let (up, all) = raw_spawn(&l, 1);

        let t = Instant::now();
        let t_up = Cell::new(Duration::ZERO);
        let t_down = Cell::new(Instant::now());
        tractor::open_nursery(async |an| {
            let p = an.start_actor("spawn1").spawn().await?;
            t_up.set(t.elapsed());
            t_down.set(Instant::now());
            p.cancel_actor().await?;
            Ok(())
        })
        .await?;
        if i >= 2 {
            raw.spawn1_up.push(up);
            raw.spawn1.push(all);
            tr.spawn1_up.push(t_up.get());
            tr.spawn1_down.push(t_down.get().elapsed());
            tr.spawn1.push(t.elapsed());
        }
    }
    for i in 0..it.spawn8 + 1 {
        let (_, all) = raw_spawn(&l, 8);

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
            raw.spawn8.push(all);
            tr.spawn8.push(t.elapsed());
        }
    }
    Ok(())
}

/// Round trips against a std echo peer, a tokio echo peer and a tractor
/// daemon (`portal.run(ping)`), in alternating rounds, with the peers placed
/// as `at` says (they inherit the spawning thread's CPU affinity). `None`
/// when the placement is impossible here.
async fn round_trips(it: &Iters, uds: bool, at: Placement) -> Result<Option<Rtt>, tractor::Error> {
    let Some(orig) = affinity() else {
        return Ok(None);
    };
    let cpus = cpus_of(&orig);
    // (CPU the peers are spawned on, CPU this thread measures on)
    let pins = match (at, cpus.as_slice()) {
        (Placement::Free, _) => None,
        (Placement::SameCpu, [a, ..]) => Some((*a, *a)),
        (Placement::TwoCpus, [a, b, ..]) => Some((*b, *a)),
        _ => return Ok(None),
    };
    if let Some((peers, _)) = pins {
        set_affinity(&cpu_set(&[peers]));
    }
    let res = tractor::open_nursery(async |an| {
        let p = an
            .start_actor("pong")
            .enable_modules([module_path!()])
            .spawn()
            .await?;
        let (mut std_s, mut std_child) = std_peer(uds);
        let (mut tok_s, mut tok_child) = tokio_peer(uds).await;
        if let Some((_, me)) = pins {
            set_affinity(&cpu_set(&[me]));
        }
        let pid = p.aid().pid;
        // The context stays open through all rounds; its stream idles
        // while the other variants run.
        let out = p
            .open_context(echo_ctx::call(), async |ctx, ()| {
                let stream = ctx.open_stream().await?;
                let mut out = Rtt::default();
                let per_round = it.rtt.div_ceil(ROUNDS);
                for round in 0..=ROUNDS {
                    // Round 0 is the warm-up of all four.
                    let n = if round == 0 { it.warmup } else { per_round };
                    let keep = round > 0;
                    let c = Cpu::start(std_child.id());
                    pingpong_std(&mut *std_s, n, keep.then_some(&mut out.raw));
                    if keep {
                        out.cpu[0].stop(c, std_child.id(), n);
                    }
                    let c = Cpu::start(tok_child.id());
                    pingpong_tokio(&mut *tok_s, n, keep.then_some(&mut out.tokio)).await;
                    if keep {
                        out.cpu[1].stop(c, tok_child.id(), n);
                    }
                    let c = Cpu::start(pid);
                    for i in 0..n as u32 {
                        let t = Instant::now();
                        let r = p.run(ping::call(i)).await?;
                        let d = t.elapsed();
                        assert_eq!(r, i);
                        if keep {
                            out.tractor.push(d);
                        }
                    }
                    if keep {
                        out.cpu[2].stop(c, pid, n);
                    }
                    let c = Cpu::start(pid);
                    for i in 0..n as u32 {
                        let t = Instant::now();
                        stream.send(i).await?;
                        let r = stream.recv().await?;
                        let d = t.elapsed();
                        assert_eq!(r, Some(i));
                        if keep {
                            out.ctx.push(d);
                        }
                    }
                    if keep {
                        out.cpu[3].stop(c, pid, n);
                    }
                }
                Ok(out)
            })
            .await?;
        drop((std_s, tok_s));
        let _ = std_child.wait();
        let _ = tok_child.wait();
        p.cancel_actor().await?;
        Ok(out)
    })
    .await;
    set_affinity(&orig);
    res.map(Some)
}

/// This thread's CPU affinity.
fn affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel writes at most
    // `size_of::<cpu_set_t>()` bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let n = std::mem::size_of::<libc::cpu_set_t>();
        (libc::sched_getaffinity(0, n, &mut set) == 0).then_some(set)
    }
}

/// Pins this thread (and so the processes it spawns next).
fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if rc != 0 {
        eprintln!(
            "tractor_bench: sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn cpu_set(cpus: &[usize]) -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is valid and the indices are below
    // CPU_SETSIZE (they come from `cpus_of`).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        set
    }
}

fn cpus_of(set: &libc::cpu_set_t) -> Vec<usize> {
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, set) })
        .collect()
}

/// Error (and, as a control, value) relay from fresh `run_in_actor` children.
async fn relay(n: usize) -> Result<Relay, tractor::Error> {
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
fn sub_relay(it: &Iters) {
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
fn relay_with_backtraces() -> Option<(u64, u64, usize)> {
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

// ---------------------------------------------------------------------------
// report

struct Row {
    figure: String,
    tractor: u64,
    raw: u64,
    unit: Unit,
    target: &'static str,
    check: Check,
}

/// What a row's figures are.
#[derive(Clone, Copy)]
enum Unit {
    /// Nanoseconds (lower is better).
    Ns,
    /// Messages per second (higher is better).
    Msgs,
    /// Bytes per second (higher is better).
    Bytes,
}

impl Unit {
    fn fmt(self, v: u64) -> String {
        match self {
            Unit::Ns => fmt_ns(v),
            Unit::Msgs => format!("{:.2} M/s", v as f64 / 1e6),
            Unit::Bytes => format!("{:.0} MB/s", v as f64 / 1e6),
        }
    }
}

enum Check {
    /// tractor <= this many times raw.
    Ratio(f64),
    /// tractor <= this absolute figure.
    Abs(u64),
    /// tractor >= this fraction of raw.
    MinRatio(f64),
    /// tractor >= `abs` and >= `ratio` of raw.
    AtLeast {
        abs: u64,
        ratio: f64,
    },
    Info,
}

fn report(
    raw: &Raw,
    tr: &Tractor,
    rtt: &RttSet,
    tp: &TpSet,
    bt: Option<&(u64, u64, usize)>,
    elapsed: Duration,
) {
    let mut rows = vec![
        Row {
            figure: "spawn+teardown, 1 actor (median)".into(),
            tractor: tr.spawn1.median(),
            raw: raw.spawn1.median(),
            unit: Unit::Ns,
            target: "<= 3x raw exec+handshake+exit",
            check: Check::Ratio(3.0),
        },
        Row {
            figure: "spawn+teardown, 8 concurrent (median)".into(),
            tractor: tr.spawn8.median(),
            raw: raw.spawn8.median(),
            unit: Unit::Ns,
            target: "<= 3x raw, 8 at once",
            check: Check::Ratio(3.0),
        },
    ];
    for (k, name) in ["TCP", "UDS"].iter().enumerate() {
        rows.push(Row {
            figure: format!("connect + auth + identities, {name} (median)"),
            tractor: tr.connect[k].median(),
            raw: raw.connect[k].median(),
            unit: Unit::Ns,
            target: "(info) raw: connect + 1-byte RTT",
            check: Check::Info,
        });
    }
    for (uds, name) in [(false, "TCP"), (true, "UDS")] {
        for at in [Placement::SameCpu, Placement::TwoCpus] {
            let Some(r) = rtt.get(uds, at) else { continue };
            rows.push(Row {
                figure: format!("portal.run RTT, {name}, {} (median)", at.label()),
                tractor: r.tractor.median(),
                raw: r.raw.median(),
                unit: Unit::Ns,
                target: if uds {
                    "<= 1.5x raw UDS ping-pong"
                } else {
                    "<= 1.5x raw TCP ping-pong"
                },
                check: Check::Ratio(1.5),
            });
            rows.push(Row {
                figure: format!("portal.run RTT, {name}, {} (p99)", at.label()),
                tractor: r.tractor.p99(),
                raw: r.raw.p99(),
                unit: Unit::Ns,
                target: "(info)",
                check: Check::Info,
            });
        }
    }
    for (uds, name) in [(false, "TCP"), (true, "UDS")] {
        for at in [Placement::SameCpu, Placement::TwoCpus] {
            let Some(r) = rtt.get(uds, at) else { continue };
            rows.push(Row {
                figure: format!("ctx stream RTT, {name}, {} (median)", at.label()),
                tractor: r.ctx.median(),
                raw: r.raw.median(),
                unit: Unit::Ns,
                target: if uds {
                    "<= 1.2x raw UDS ping-pong"
                } else {
                    "<= 1.2x raw TCP ping-pong"
                },
                check: Check::Ratio(1.2),
            });
        }
    }
    for (uds, name) in [(false, "TCP"), (true, "UDS")] {
        let Some(t) = tp.get(uds) else { continue };
        for (k, w) in WINDOWS.into_iter().enumerate() {
            rows.push(Row {
                figure: format!("1-way u64 stream, {name}, {}", window_label(w)),
                tractor: t.small[k].median() as u64,
                raw: t.raw_frames.median() as u64,
                unit: Unit::Msgs,
                target: if w.is_none() {
                    ">= 10 M/s and >= 20% raw framed"
                } else {
                    "(info: window effect)"
                },
                check: if w.is_none() {
                    Check::AtLeast {
                        abs: 10_000_000,
                        ratio: 0.2,
                    }
                } else {
                    Check::Info
                },
            });
        }
        rows.push(Row {
            figure: format!("1-way 64 KiB stream, {name}"),
            tractor: t.bulk.median() as u64,
            raw: t.raw_bulk.median() as u64,
            unit: Unit::Bytes,
            target: ">= 70% raw 64 KiB writes",
            check: Check::MinRatio(0.7),
        });
    }
    let one_way = rtt
        .get(false, Placement::TwoCpus)
        .or_else(|| rtt.get(false, Placement::Free))
        .map_or(0, |r| r.raw.median() / 2);
    rows.push(Row {
        figure: "error relay after spawn (median)".into(),
        tractor: tr.relay.err.median(),
        raw: one_way,
        unit: Unit::Ns,
        target: "<= 1 ms (raw: TCP one-way)",
        check: Check::Abs(1_000_000),
    });

    let w = [40, 11, 11, 7, 31, 7];
    let line = |cells: [&str; 6]| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(w) {
            s.push_str(&format!(" {c:<w$} |"));
        }
        println!("{s}");
    };
    println!();
    println!(
        "tractor_bench: tractor vs. this machine's raw limits, same run ({:.1} s, {} CPUs)",
        elapsed.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
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
    let (mut checked, mut met) = (0, 0);
    for r in &rows {
        let ratio = r.tractor as f64 / r.raw.max(1) as f64;
        let ok = match r.check {
            Check::Ratio(m) => Some(ratio <= m),
            Check::Abs(a) => Some(r.tractor <= a),
            Check::MinRatio(m) => Some(ratio >= m),
            Check::AtLeast { abs, ratio: m } => Some(r.tractor >= abs && ratio >= m),
            Check::Info => None,
        };
        if let Some(ok) = ok {
            checked += 1;
            met += usize::from(ok);
        }
        line([
            &r.figure,
            &r.unit.fmt(r.tractor),
            &r.unit.fmt(r.raw),
            &format!("{ratio:.2}x"),
            r.target,
            match ok {
                Some(true) => "ok",
                Some(false) => "MISS",
                None => "",
            },
        ]);
    }
    println!();
    println!(
        "{met} of {checked} SPEC targets met. Raw = plain std code, two processes; RTT = round trip; \
         \"1 CPU\"/\"2 CPUs\": both ends pinned to one CPU / to two different CPUs."
    );
    println!();
    println!("details (n = samples; raw and tractor samples alternate):");
    let d = |what: &str, s: &Samples| {
        println!(
            "  {what:<52} median {:>9}  p99 {:>9}  n={}",
            fmt_ns(s.median()),
            fmt_ns(s.p99()),
            s.0.len()
        );
    };
    for (uds, name) in [(false, "TCP"), (true, "UDS")] {
        for at in Placement::ALL {
            let Some(r) = rtt.get(uds, at) else { continue };
            d(
                &format!("raw {name} ping-pong, std blocking, {}", at.label()),
                &r.raw,
            );
            d(
                &format!("raw {name} ping-pong, tokio, {}", at.label()),
                &r.tokio,
            );
            d(
                &format!("tractor portal.run, {name}, {}", at.label()),
                &r.tractor,
            );
            d(
                &format!("tractor ctx stream send+recv, {name}, {}", at.label()),
                &r.ctx,
            );
        }
    }
    println!("  mean CPU time per round trip (this process + peer process), both ends on 1 CPU:");
    for (uds, name) in [(false, "TCP"), (true, "UDS")] {
        let Some(r) = rtt.get(uds, Placement::SameCpu) else {
            continue;
        };
        let f = |c: &Cpu| {
            let (me, peer) = c.per_call();
            format!("{} + {}", fmt_ns(me), fmt_ns(peer))
        };
        println!(
            "    {name}: raw std {}, raw tokio {}, portal.run {}, ctx stream {}",
            f(&r.cpu[0]),
            f(&r.cpu[1]),
            f(&r.cpu[2]),
            f(&r.cpu[3])
        );
    }
    println!(
        "  stream throughput, unpinned (median [min-max] of rounds; CPU per item: this process + peer):"
    );
    for (uds, name) in [(false, "TCP"), (true, "UDS")] {
        let Some(t) = tp.get(uds) else { continue };
        let line = |what: &str, r: &Rates, unit: Unit| {
            let (me, peer) = r.cpu.per_call();
            println!(
                "    {what:<50} {:>10} [{}-{}]  cpu {} + {}  n={}",
                unit.fmt(r.median() as u64),
                unit.fmt(r.min() as u64),
                unit.fmt(r.max() as u64),
                fmt_ns(me),
                fmt_ns(peer),
                r.per_s.len()
            );
        };
        line(
            &format!("raw {name} framed 12-byte messages (BufWriter)"),
            &t.raw_frames,
            Unit::Msgs,
        );
        for (k, w) in WINDOWS.into_iter().enumerate() {
            line(
                &format!(
                    "tractor {name} 1-way u64 stream, {}{}",
                    window_label(w),
                    if w.is_none() { " (default)" } else { "" }
                ),
                &t.small[k],
                Unit::Msgs,
            );
        }
        line(
            &format!("raw {name} 64 KiB writes"),
            &t.raw_bulk,
            Unit::Bytes,
        );
        line(
            &format!("tractor {name} 1-way stream of 64 KiB chunks"),
            &t.bulk,
            Unit::Bytes,
        );
    }
    d("raw exec -> handshake byte received", &raw.spawn1_up);
    d("raw exec + handshake + exit + wait", &raw.spawn1);
    d("tractor start_actor returned (spawn)", &tr.spawn1_up);
    d(
        "tractor cancel_actor + nursery exit (teardown)",
        &tr.spawn1_down,
    );
    d("tractor spawn + teardown, 1 actor", &tr.spawn1);
    for (k, name) in ["TCP", "UDS"].iter().enumerate() {
        d(
            &format!("raw {name} connect + accept + 1-byte round trip"),
            &raw.connect[k],
        );
        d(
            &format!("tractor {name} dial + auth + identities"),
            &tr.connect[k],
        );
    }
    d(
        "one HMAC-SHA256 proof (2 per side per handshake)",
        &tr.proof,
    );
    d(
        "raw 8 x (exec + handshake + exit + wait), at once",
        &raw.spawn8,
    );
    d("tractor spawn + teardown, 8 at once", &tr.spawn8);
    d(
        "tractor error relay: child raises -> parent sees",
        &tr.relay.err,
    );
    d(
        "tractor value relay: child returns -> parent sees",
        &tr.relay.ok,
    );
    d(
        "tractor run_in_actor: spawn -> error seen",
        &tr.relay.spawn_err,
    );
    d(
        "tractor run_in_actor: spawn -> value seen",
        &tr.relay.spawn_ok,
    );
    println!(
        "  {:<52} {:+.1} µs (cross-check of the error relay)",
        "(spawn -> error) - (spawn -> value), medians",
        (tr.relay.spawn_err.median() as f64 - tr.relay.spawn_ok.median() as f64) / 1e3
    );
    match bt {
        Some((m, p, n)) => println!(
            "  {:<52} median {:>9}  p99 {:>9}  n={n}",
            "tractor error relay, RUST_LIB_BACKTRACE=1 (sub-run)",
            fmt_ns(*m),
            fmt_ns(*p)
        ),
        None => println!("  error relay with RUST_LIB_BACKTRACE=1: the sub-run failed"),
    }
    for (what, pick) in [
        ("portal.run", (|r: &Rtt| &r.tractor) as fn(&Rtt) -> &Samples),
        ("ctx stream", |r: &Rtt| &r.ctx),
    ] {
        for (uds, name) in [(false, "TCP"), (true, "UDS")] {
            let ratios: Vec<String> = Placement::ALL
                .iter()
                .filter_map(|&at| {
                    let r = rtt.get(uds, at)?;
                    Some(format!(
                        "{} {:.2}x",
                        at.label(),
                        pick(r).median() as f64 / r.tokio.median().max(1) as f64
                    ))
                })
                .collect();
            println!("  {what} / tokio ping-pong, {name}: {}", ratios.join(", "));
        }
    }
    println!(
        "  error relay is measured with RUST_LIB_BACKTRACE=0 in the actors; the sub-run shows the cost of capturing backtraces"
    );
}
