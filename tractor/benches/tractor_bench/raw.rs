//! The machine's limits, measured by this binary in the same run with
//! plain `std` (and plain tokio) code and two real processes: the raw
//! peer (this binary re-executed with `TRACTOR_BENCH_RAW`: echo, blast,
//! accept, handshake modes) and the parent side of each baseline (framed
//! ping-pong, framed and bulk throughput, a ping behind 16 MiB items on
//! one socket, connect + one-byte round trip, exec + handshake of 1 or 8
//! children).

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

/// Calls behind [`HUGE`](crate::measure::HUGE) items: the peer writes
/// items in fragments of [`CHUNK`] bytes, each behind a [`HUGE_HEAD`]
/// header, and answers each 8-byte ping after the fragment it is
/// writing (the least a reply on one socket behind large items waits),
/// until a ping of `u64::MAX`.
const BLAST_HUGE: u8 = b'h';

/// A raw huge-item header: a kind byte (`F`ragment, `R`eply, `E`nd), three
/// zeros, and the length that follows (u32 LE).
const HUGE_HEAD: usize = 8;

/// Serves raw throughput requests until EOF.
fn blast<S: RawSocket>(mut s: S) -> std::io::Result<()> {
    let chunk = vec![0xab_u8; CHUNK];
    let mut huge = Vec::new();
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
            BLAST_HUGE => {
                if huge.is_empty() {
                    huge = vec![0xcd_u8; crate::measure::HUGE];
                }
                huge_until_told(&mut s, &huge)?;
            }
            _ => {
                for _ in 0..n {
                    s.write_all(&chunk)?;
                }
            }
        }
    }
}

/// Writes `huge` over and over in fragments, answering pings between
/// two (see [`BLAST_HUGE`]), until a ping of `u64::MAX`: then ends with
/// an `E` header.
fn huge_until_told<S: RawSocket>(s: &mut S, huge: &[u8]) -> std::io::Result<()> {
    s.set_nonblocking(true)?;
    let (mut pings, mut got) = ([0u8; 8], 0usize);
    let mut replies = std::collections::VecDeque::new();
    let mut stop = false;
    // The piece being written: its header (a reply's value after it),
    // written up to `head_at`, then a range of `huge`.
    let (mut head, mut head_len, mut head_at, mut body) = ([0u8; 16], 0, 0, 0..0);
    let mut pos = 0usize;
    loop {
        loop {
            match s.read(&mut pings[got..]) {
                Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    got += n;
                    if got == 8 {
                        got = 0;
                        match u64::from_le_bytes(pings) {
                            u64::MAX => stop = true,
                            v => replies.push_back(v),
                        }
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        if head_at == head_len && body.is_empty() {
            // Between two fragments: a reply first, else the end, else
            // the next fragment.
            let (kind, len) = match replies.pop_front() {
                Some(v) => {
                    head[HUGE_HEAD..].copy_from_slice(&v.to_le_bytes());
                    (b'R', 8)
                }
                None if stop => (b'E', 0),
                None => {
                    let n = CHUNK.min(huge.len() - pos);
                    body = pos..pos + n;
                    pos = (pos + n) % huge.len();
                    (b'F', n)
                }
            };
            head[..4].copy_from_slice(&[kind, 0, 0, 0]);
            head[4..HUGE_HEAD].copy_from_slice(&(len as u32).to_le_bytes());
            head_len = if kind == b'R' {
                HUGE_HEAD + 8
            } else {
                HUGE_HEAD
            };
            head_at = 0;
            if kind == b'E' {
                s.set_nonblocking(false)?;
                return s.write_all(&head[..head_len]);
            }
        }
        let parts = [
            std::io::IoSlice::new(&head[head_at..head_len]),
            std::io::IoSlice::new(&huge[body.clone()]),
        ];
        match s.write_vectored(&parts) {
            Ok(n) => {
                let h = n.min(head_len - head_at);
                head_at += h;
                body.start += n - h;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let mut p = libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN | libc::POLLOUT,
                    revents: 0,
                };
                // SAFETY: one pollfd on the stack, for this call only.
                unsafe { libc::poll(&mut p, 1, -1) };
            }
            Err(e) => return Err(e),
        }
    }
}

/// A socket the raw peer serves on: a TCP or a unix stream.
trait RawSocket: Read + Write + std::os::fd::AsRawFd {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()>;
}

impl RawSocket for TcpStream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        TcpStream::set_nonblocking(self, on)
    }
}

impl RawSocket for UnixStream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        UnixStream::set_nonblocking(self, on)
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

/// `probes` round trips behind [`HUGE`](crate::measure::HUGE) items on
/// one socket (see [`BLAST_HUGE`]) once `warm` items came: a ping, then
/// reading fragments, each into the item's own buffer as a receiver of
/// such items must, until the reply.
pub(crate) fn raw_behind_huge(s: &mut dyn Duplex, warm: usize, probes: usize, out: &mut Samples) {
    blast_request(s, BLAST_HUGE, 0);
    let huge = crate::measure::HUGE;
    let mut item: Vec<u8> = Vec::with_capacity(huge);
    let mut items = 0usize;
    // Reads pieces until a reply (`Some(value)`) or the end (`None`).
    let mut until_reply = |s: &mut dyn Duplex, items: &mut usize| -> Option<u64> {
        loop {
            let mut head = [0u8; HUGE_HEAD];
            s.read_exact(&mut head).expect("raw huge header");
            let len = u32::from_le_bytes(head[4..8].try_into().expect("4 bytes")) as usize;
            match head[0] {
                b'F' => {
                    let n = s
                        .take(len as u64)
                        .read_to_end(&mut item)
                        .expect("raw huge fragment");
                    assert_eq!(n, len, "raw huge: early EOF");
                    if item.len() == huge {
                        *items += 1;
                        item = Vec::with_capacity(huge);
                    }
                }
                b'R' => {
                    let mut v = [0u8; 8];
                    s.read_exact(&mut v).expect("raw huge reply");
                    return Some(u64::from_le_bytes(v));
                }
                _ => return None,
            }
        }
    };
    let ping = |s: &mut dyn Duplex, v: u64| s.write_all(&v.to_le_bytes()).expect("raw ping");
    while items < warm {
        ping(s, 0);
        assert_eq!(until_reply(s, &mut items), Some(0), "raw huge warm-up");
    }
    for i in 0..probes as u64 {
        let t = Instant::now();
        ping(s, i);
        assert_eq!(until_reply(s, &mut items), Some(i), "raw huge reply");
        out.push(t.elapsed());
    }
    ping(s, u64::MAX);
    assert_eq!(until_reply(s, &mut items), None, "raw huge end");
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
