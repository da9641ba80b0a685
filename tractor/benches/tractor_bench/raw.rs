//! The machine's limits, measured by this binary in the same run with
//! plain `std` (and plain tokio) code and two real processes: the raw
//! peer (this binary re-executed with `TRACTOR_BENCH_RAW`: echo, blast,
//! accept, handshake modes) and the parent side of each baseline (framed
//! ping-pong, framed and bulk throughput, connect + one-byte round trip,
//! exec + handshake of 1 or 8 children).

use std::io::{BufRead, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::stats::Samples;
use crate::{ADDR_ENV, CHUNK, RAW_ENV, runtime};

// ---------------------------------------------------------------------------
// raw peer (child side)

/// Payload of one raw ping-pong frame (plus a 4-byte length prefix).
const PAYLOAD: usize = 16;

/// A raw frame: length prefix + payload, always this size.
const FRAME: usize = 4 + PAYLOAD;

pub(crate) fn raw_peer(mode: &str) {
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

pub(crate) trait Duplex: Read + Write {}

impl<T: Read + Write> Duplex for T {}

pub(crate) trait AsyncDuplex: AsyncRead + AsyncWrite + Unpin {}

impl<T: AsyncRead + AsyncWrite + Unpin> AsyncDuplex for T {}

pub(crate) fn raw_child(mode: &str, addr: &str) -> Child {
    Command::new(std::env::current_exe().expect("current exe"))
        .env(RAW_ENV, mode)
        .env(ADDR_ENV, addr)
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn raw peer")
}

pub(crate) fn uds_path(tag: &str) -> PathBuf {
    std::env::temp_dir().join(format!("tractor-bench-{}-{tag}.sock", std::process::id()))
}

fn frame() -> [u8; FRAME] {
    let mut m = [0xab; FRAME];
    m[..4].copy_from_slice(&(PAYLOAD as u32).to_le_bytes());
    m
}

/// A raw echo peer reached with blocking std I/O.
pub(crate) fn std_peer(uds: bool) -> (Box<dyn Duplex>, Child) {
    raw_peer_of("echo", uds)
}

/// A raw peer in mode `<kind>-tcp` / `<kind>-uds`, reached with blocking std I/O.
pub(crate) fn raw_peer_of(kind: &str, uds: bool) -> (Box<dyn Duplex>, Child) {
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
pub(crate) async fn tokio_peer(uds: bool) -> (Box<dyn AsyncDuplex>, Child) {
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

pub(crate) fn pingpong_std(s: &mut dyn Duplex, n: usize, out: Option<&mut Samples>) {
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

pub(crate) async fn pingpong_tokio(s: &mut dyn AsyncDuplex, n: usize, out: Option<&mut Samples>) {
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
pub(crate) fn raw_frames(s: &mut dyn Duplex, n: u64) -> Duration {
    let t = Instant::now();
    blast_request(s, BLAST_FRAMES, n);
    let mut r = std::io::BufReader::with_capacity(64 * 1024, s);
    let mut sum = 0u64;
    let mut got = 0u64;
    // Frames parsed in place from the buffer (what a hand-written reader
    // does; `read_exact` per field costs as much as the code's inlining
    // decides); a frame cut by the buffer's end is read field by field.
    while got < n {
        let buf = r.fill_buf().expect("raw frames read");
        if buf.len() < 12 {
            let (mut len, mut body) = ([0u8; 4], [0u8; 8]);
            r.read_exact(&mut len).expect("raw frame length");
            assert_eq!(u32::from_le_bytes(len), 8, "raw frame length");
            r.read_exact(&mut body).expect("raw frame body");
            sum = sum.wrapping_add(u64::from_le_bytes(body));
            got += 1;
            continue;
        }
        let mut used = 0;
        for frame in buf.chunks_exact(12).take((n - got) as usize) {
            let (len, body) = frame.split_at(4);
            assert_eq!(len, 8u32.to_le_bytes(), "raw frame length");
            let mut v = [0u8; 8];
            v.copy_from_slice(body);
            sum = sum.wrapping_add(u64::from_le_bytes(v));
            used += 12;
        }
        got += (used / 12) as u64;
        r.consume(used);
    }
    let d = t.elapsed();
    assert_eq!(sum, n * n.saturating_sub(1) / 2, "raw frames lost");
    d
}

/// Has the raw peer write `n` chunks of [`CHUNK`] bytes and reads them:
/// the time from request to the last byte read.
pub(crate) fn raw_bulk(s: &mut dyn Duplex, n: u32) -> Duration {
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
pub(crate) fn raw_spawn(l: &TcpListener, k: usize) -> (Duration, Duration) {
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

/// A raw process accepting connections (each: one byte echoed, then
/// closed) over a unix socket or loopback TCP; killed when dropped.
pub(crate) struct Acceptor {
    child: Child,
    addr: String,
    path: PathBuf,
    uds: bool,
}

impl Acceptor {
    pub(crate) fn start(uds: bool) -> Self {
        use std::io::BufRead;
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
        let addr = line.trim().trim_start_matches("LISTEN ").to_string();
        Acceptor {
            child,
            addr,
            path,
            uds,
        }
    }

    /// connect + accept + one-byte round trip.
    pub(crate) fn connect_round_trip(&self) -> Duration {
        let t = Instant::now();
        let mut b = [7u8; 1];
        if self.uds {
            let mut s = UnixStream::connect(&self.addr).expect("raw connect");
            s.write_all(&b).and_then(|()| s.read_exact(&mut b))
        } else {
            let mut s = TcpStream::connect(&self.addr).expect("raw connect");
            s.set_nodelay(true).expect("nodelay");
            s.write_all(&b).and_then(|()| s.read_exact(&mut b))
        }
        .expect("raw round trip");
        t.elapsed()
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.path);
    }
}
