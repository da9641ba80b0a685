//! `MsgTransport`: a connected byte stream (TCP or unix socket) that carries
//! postcard-encoded [`Msg`] frames, split into a reading and a writing half
//! so the channel can run its reader and its batching writer independently.

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, BufWriter};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use super::addr::{Addr, TransportKind};
use super::error::IpcError;
use super::frame::{Frame, FrameError};
use super::frame_reader::{FrameReader, Run};
use super::limits::Limits;
use super::msg::Msg;
use super::tls::{TlsError, TreeTls};
use super::uds::{
    create_private_dir, file_id, remove_if_owner_dead, remove_if_unserved, sweep_dir, uds_bindspace,
};

type BoxRead = Pin<Box<dyn AsyncRead + Send>>;
pub(crate) type BoxWrite = Pin<Box<dyn AsyncWrite + Send>>;

/// Reading half: yields decoded envelopes.
pub struct MsgReader {
    frames: FrameReader<BoxRead>,
    max_frame: usize,
    frame_timeout: Duration,
}

/// Writing half: encodes envelopes into frames; the caller decides when to flush.
pub struct MsgWriter {
    inner: BufWriter<BoxWrite>,
}

impl std::fmt::Debug for MsgReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgReader")
            .field("max_frame", &self.max_frame)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for MsgWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgWriter").finish_non_exhaustive()
    }
}

/// Peer process credentials from `SO_PEERCRED` (unix sockets only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCred {
    /// Peer pid.
    pub pid: Option<i32>,
    /// Peer uid.
    pub uid: u32,
    /// Peer gid.
    pub gid: u32,
}

/// A connected transport, before it is split.
pub struct MsgTransport {
    reader: MsgReader,
    writer: MsgWriter,
    /// The remote address (unix sockets report the listener's path on the dialer side only).
    pub peer_addr: Option<Addr>,
    /// Peer credentials, for unix sockets.
    pub peer_cred: Option<PeerCred>,
    /// This process made both ends ([`MsgTransport::in_process_pair`], or
    /// a socket pair whose other end it handed to a child it spawned), so
    /// there is no peer to authenticate.
    handed: bool,
    /// Wrapped in mutual TLS: the peer's certificate already showed it
    /// belongs (see [`tls`](super::tls)).
    tls: bool,
}

impl std::fmt::Debug for MsgTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgTransport")
            .field("peer_addr", &self.peer_addr)
            .field("peer_cred", &self.peer_cred)
            .finish_non_exhaustive()
    }
}

/// The write buffer of a transport before it becomes a channel: the
/// handshake's few small frames (and a raw `tractor::wire` transport's).
/// A channel writes through its [`Outbox`](super::outbox) instead, and
/// the read side sizes its buffer to the traffic ([`FrameReader`]).
const HANDSHAKE_WRITE_BUFFER: usize = 4 * 1024;

impl MsgTransport {
    fn from_parts(r: BoxRead, w: BoxWrite, max_frame: usize) -> (MsgReader, MsgWriter) {
        (
            MsgReader {
                frames: FrameReader::new(r),
                max_frame,
                frame_timeout: Limits::default().frame_timeout,
            },
            MsgWriter {
                inner: BufWriter::with_capacity(HANDSHAKE_WRITE_BUFFER, w),
            },
        )
    }

    /// Two connected in-process ends (a thread actor's link to its
    /// parent): the same frames as a socket, through memory. Each side's
    /// writes wait while the other's unread bytes fill the pipe, as with a
    /// socket's buffer.
    pub fn in_process_pair(max_frame: usize) -> (MsgTransport, MsgTransport) {
        /// Unread bytes either direction holds, like a socket buffer.
        const PIPE: usize = 256 * 1024;
        let (a, b) = tokio::io::duplex(PIPE);
        let end = |s: tokio::io::DuplexStream| {
            let (r, w) = tokio::io::split(s);
            let (reader, writer) = Self::from_parts(Box::pin(r), Box::pin(w), max_frame);
            MsgTransport {
                reader,
                writer,
                peer_addr: None,
                peer_cred: None,
                handed: true,
                tls: false,
            }
        };
        (end(a), end(b))
    }

    /// Connects to a listening actor, in TLS where `tls` wants it for that
    /// address (an error if it would and there is none: see
    /// [`tls`](super::tls)).
    pub async fn connect(
        addr: &Addr,
        max_frame: usize,
        tls: Option<&TreeTls>,
    ) -> Result<Self, IpcError> {
        let io = |source| IpcError::Connect {
            addr: addr.clone(),
            source,
        };
        match addr {
            Addr::Tcp(sa) => {
                let s = TcpStream::connect(sa).await.map_err(io)?;
                match tls_wanted(tls, sa)? {
                    None => Ok(Self::from_tcp(s, max_frame)),
                    Some(tls) => {
                        let _ = s.set_nodelay(true);
                        let peer = sa.to_string();
                        let secured = bounded(tls.connect(s, &peer), &peer).await?;
                        Ok(Self::from_tls(secured, *sa, max_frame))
                    }
                }
            }
            Addr::Uds(p) => {
                let s = match UnixStream::connect(p).await {
                    Ok(s) => s,
                    Err(e) => {
                        if e.raw_os_error() == Some(libc::ECONNREFUSED) {
                            // Nobody listens: the file of a SIGKILLed actor?
                            remove_if_owner_dead(p);
                        }
                        return Err(io(e));
                    }
                };
                let mut t = Self::from_unix(s, max_frame).map_err(io)?;
                t.peer_addr = Some(addr.clone());
                Ok(t)
            }
        }
    }

    fn from_tcp(s: TcpStream, max_frame: usize) -> Self {
        // Small frames dominate RPC traffic; the writer batches, so Nagle only adds latency.
        let _ = s.set_nodelay(true);
        let peer_addr = s.peer_addr().ok().map(Addr::Tcp);
        let (r, w) = s.into_split();
        let (reader, writer) = Self::from_parts(Box::pin(r), Box::pin(w), max_frame);
        MsgTransport {
            reader,
            writer,
            peer_addr,
            peer_cred: None,
            handed: false,
            tls: false,
        }
    }

    fn from_tls<S>(s: S, peer: std::net::SocketAddr, max_frame: usize) -> Self
    where
        S: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (r, w) = tokio::io::split(s);
        let (reader, writer) = Self::from_parts(Box::pin(r), Box::pin(w), max_frame);
        MsgTransport {
            reader,
            writer,
            peer_addr: Some(Addr::Tcp(peer)),
            peer_cred: None,
            handed: false,
            tls: true,
        }
    }

    /// A unix socket's transport; its halves are registered with the
    /// reactor for what each waits on (see [`unix_halves`](super::unix_halves)).
    fn from_unix(s: UnixStream, max_frame: usize) -> std::io::Result<Self> {
        let peer_cred = s.peer_cred().ok().map(|c| PeerCred {
            pid: c.pid(),
            uid: c.uid(),
            gid: c.gid(),
        });
        let (r, w) = super::unix_halves::split(s.into_std()?)?;
        let (reader, writer) = Self::from_parts(Box::pin(r), Box::pin(w), max_frame);
        Ok(MsgTransport {
            reader,
            writer,
            peer_addr: None,
            peer_cred,
            handed: false,
            tls: false,
        })
    }

    /// Whether this process made both ends ([`MsgTransport::in_process_pair`],
    /// [`MsgTransport::handed`]).
    pub(crate) fn is_handed(&self) -> bool {
        self.handed
    }

    /// One end of a unix socket pair this process made, whose other end
    /// it handed to a child it spawned (or, in the child, the end it was
    /// handed): the same frames as any unix socket, but no peer to
    /// authenticate, since only the maker of the pair can be at the other
    /// end. Must be called inside a tokio runtime.
    pub(crate) fn handed(
        s: std::os::unix::net::UnixStream,
        max_frame: usize,
    ) -> std::io::Result<Self> {
        s.set_nonblocking(true)?;
        let mut t = Self::from_unix(UnixStream::from_std(s)?, max_frame)?;
        t.handed = true;
        Ok(t)
    }

    /// Whether the link is in mutual TLS (the peer showed a certificate
    /// of our CA).
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    /// Holds the peer to `limits` from the next frame on.
    pub fn apply(&mut self, limits: &Limits) {
        self.reader.apply(limits);
    }

    /// Caps incoming frames at `max` bytes from the next frame on.
    pub fn cap_frames(&mut self, max: usize) {
        self.reader.cap_frames(max);
    }

    /// Splits into halves.
    pub fn split(self) -> (MsgReader, MsgWriter) {
        (self.reader, self.writer)
    }

    /// Sends one message and flushes (handshake use).
    pub async fn send(&mut self, msg: &Msg) -> Result<(), IpcError> {
        self.writer.write(msg).await?;
        self.writer.flush().await
    }

    /// Buffers one message without flushing (handshake use).
    pub(crate) async fn write_msg(&mut self, msg: &Msg) -> Result<(), IpcError> {
        self.writer.write(msg).await
    }

    /// Flushes buffered messages.
    pub(crate) async fn flush_msgs(&mut self) -> Result<(), IpcError> {
        self.writer.flush().await
    }

    /// Receives one message; `None` on clean EOF.
    pub async fn recv(&mut self) -> Result<Option<Msg>, IpcError> {
        self.reader.recv().await
    }
}

impl MsgReader {
    /// Receives one message; `Ok(None)` on a clean EOF between frames.
    /// Cancel-safe: a message is never half-read.
    pub async fn recv(&mut self) -> Result<Option<Msg>, IpcError> {
        let Some(body) = self.frames.next(self.max_frame, self.frame_timeout).await? else {
            return Ok(None);
        };
        super::codec::decode(body)
            .map(Some)
            .map_err(|reason| IpcError::Decode {
                len: body.len(),
                reason,
            })
    }

    /// Receives the next frame and every complete frame buffered after
    /// it (see [`FrameReader::next_run`]); `Ok(None)` on a clean EOF
    /// between frames. Cancel-safe. The caller decodes them: in place,
    /// for stream items ([`split_yield`](super::msg::split_yield)).
    pub(crate) async fn recv_run(&mut self) -> Result<Option<Run<'_>>, IpcError> {
        Ok(self
            .frames
            .next_run(self.max_frame, self.frame_timeout)
            .await?)
    }

    /// Takes the shared-memory lane (see [`shm_ring`](super::shm_ring))
    /// from the next frame on.
    pub(crate) fn enable_shm(&mut self, link: std::sync::Arc<super::shm_ring::ShmLink>) {
        self.frames.enable_shm(link);
    }

    /// Reads large frames into buffers taken from `pool` (see
    /// [`buffer_pool`](super::buffer_pool)).
    pub(crate) fn recycle_into(&mut self, pool: std::sync::Arc<super::buffer_pool::BufferPool>) {
        self.frames.recycle_into(pool);
    }

    /// The largest frame this reader accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Holds the peer to `limits` from the next frame on.
    pub fn apply(&mut self, limits: &Limits) {
        self.max_frame = limits.max_frame;
        self.frame_timeout = limits.frame_timeout;
    }

    /// Caps frames at `max` bytes from the next frame on (the handshake's
    /// small cap).
    pub fn cap_frames(&mut self, max: usize) {
        self.max_frame = max;
    }
}

impl MsgWriter {
    /// Encodes and buffers one message.
    pub async fn write(&mut self, msg: &Msg) -> Result<(), IpcError> {
        let frame = encode(msg)?;
        self.write_frame(&frame).await
    }

    /// Buffers an encoded frame (one write: prefix and body are contiguous).
    pub async fn write_frame(&mut self, frame: &Frame) -> Result<(), IpcError> {
        use tokio::io::AsyncWriteExt;
        self.inner
            .write_all(frame.bytes())
            .await
            .map_err(|e| IpcError::Frame(FrameError::Io(e)))
    }

    /// Flushes buffered frames to the socket.
    pub async fn flush(&mut self) -> Result<(), IpcError> {
        use tokio::io::AsyncWriteExt;
        self.inner
            .flush()
            .await
            .map_err(|e| IpcError::Frame(FrameError::Io(e)))
    }

    /// Bytes buffered and not yet flushed.
    pub fn buffered(&self) -> usize {
        self.inner.buffer().len()
    }

    /// The socket's write half, and the bytes buffered for it and not
    /// yet flushed (to be written first).
    pub(crate) fn into_parts(self) -> (BoxWrite, Vec<u8>) {
        let unflushed = self.inner.buffer().to_vec();
        (self.inner.into_inner(), unflushed)
    }

    /// Shuts the write side down so the peer reads EOF.
    pub async fn shutdown(&mut self) {
        use tokio::io::AsyncWriteExt;
        let _ = self.inner.shutdown().await;
    }
}

/// Encodes a message into a frame.
pub fn encode(msg: &Msg) -> Result<Frame, IpcError> {
    Frame::build(msg).map_err(IpcError::Encode)
}

/// An IPC listener. A unix socket file is unlinked when the listener drops.
pub struct MsgListener {
    kind: ListenerKind,
    addr: Addr,
    max_frame: usize,
}

impl std::fmt::Debug for MsgListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgListener")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

enum ListenerKind {
    Tcp(TcpListener),
    /// The listener, its socket file and that file's identity (device,
    /// inode): the file is unlinked on drop only if it is still ours.
    Uds(UnixListener, PathBuf, Option<(u64, u64)>),
}

impl MsgListener {
    /// Binds a listener. For TCP, port 0 picks a free port; for UDS the
    /// socket's directory is created (owner-only) if missing.
    pub async fn bind(addr: &Addr, max_frame: usize) -> Result<Self, IpcError> {
        let err = |source| IpcError::Bind {
            addr: addr.clone(),
            source,
        };
        match addr {
            Addr::Tcp(sa) => {
                let l = bind_tcp(*sa).map_err(err)?;
                let local = l.local_addr().map_err(err)?;
                if !sa.ip().to_canonical().is_loopback() {
                    tracing::info!(target: "tractor::ipc", "listening on {local}, beyond loopback: peers from other addresses must present a certificate of this tree's CA (mutual TLS)");
                }
                Ok(MsgListener {
                    kind: ListenerKind::Tcp(l),
                    addr: Addr::Tcp(local),
                    max_frame,
                })
            }
            Addr::Uds(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    let ours = dir == uds_bindspace();
                    create_private_dir(dir, ours).map_err(err)?;
                    // Files of SIGKILLed actors never unlink themselves.
                    if ours {
                        sweep_dir(dir);
                    }
                }
                let l = match UnixListener::bind(path) {
                    Ok(l) => l,
                    Err(e)
                        if e.kind() == std::io::ErrorKind::AddrInUse
                            && remove_if_unserved(path).await =>
                    {
                        UnixListener::bind(path).map_err(err)?
                    }
                    Err(e) => return Err(err(e)),
                };
                let id = file_id(path);
                Ok(MsgListener {
                    kind: ListenerKind::Uds(l, path.clone(), id),
                    addr: addr.clone(),
                    max_frame,
                })
            }
        }
    }

    /// The bound address (with the real port for TCP port 0).
    pub fn local_addr(&self) -> &Addr {
        &self.addr
    }

    /// Accepts one connection, to be secured (or not) by
    /// [`Incoming::secure`] off the accept loop.
    pub(crate) async fn accept_incoming(&self) -> std::io::Result<Incoming> {
        match &self.kind {
            ListenerKind::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                Ok(Incoming::Tcp(s, peer, self.max_frame))
            }
            ListenerKind::Uds(l, _, _) => {
                let (s, _) = l.accept().await?;
                Ok(Incoming::Ready(MsgTransport::from_unix(s, self.max_frame)?))
            }
        }
    }

    /// Accepts one connection, in the clear (a tool or test speaking the
    /// protocol by hand).
    pub async fn accept(&self) -> std::io::Result<MsgTransport> {
        match &self.kind {
            ListenerKind::Tcp(l) => {
                let (s, _) = l.accept().await?;
                Ok(MsgTransport::from_tcp(s, self.max_frame))
            }
            ListenerKind::Uds(l, _, _) => {
                let (s, _) = l.accept().await?;
                MsgTransport::from_unix(s, self.max_frame)
            }
        }
    }
}

impl Drop for MsgListener {
    fn drop(&mut self) {
        if let ListenerKind::Uds(_, path, id) = &self.kind {
            // Not a file someone bound there after ours was removed.
            if id.is_none() || file_id(path) == *id {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// A connection just accepted, before its TLS (if it needs any).
pub(crate) enum Incoming {
    /// A unix socket: nothing to wrap.
    Ready(MsgTransport),
    /// A TCP connection from `peer`.
    Tcp(TcpStream, std::net::SocketAddr, usize),
}

impl Incoming {
    /// The transport, after the server side of a TLS handshake if `tls`
    /// wants one with this peer. A peer that must use TLS and cannot (no
    /// certificate of our CA) gets an error, and its connection closes.
    pub(crate) async fn secure(self, tls: Option<&TreeTls>) -> Result<MsgTransport, IpcError> {
        match self {
            Incoming::Ready(t) => Ok(t),
            Incoming::Tcp(s, peer, max_frame) => match tls_wanted(tls, &peer)? {
                None => Ok(MsgTransport::from_tcp(s, max_frame)),
                Some(tls) => {
                    let _ = s.set_nodelay(true);
                    let name = peer.to_string();
                    let secured = bounded(tls.accept(s, &name), &name).await?;
                    Ok(MsgTransport::from_tls(secured, peer, max_frame))
                }
            },
        }
    }
}

/// How long a TLS handshake may take (the identity exchange after it has
/// its own bound, [`Limits::handshake_timeout`]).
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The TLS to wrap a TCP link with `peer` in, if any; an error if the link
/// needs TLS and this actor has none.
pub(crate) fn tls_wanted<'a>(
    tls: Option<&'a TreeTls>,
    peer: &std::net::SocketAddr,
) -> Result<Option<&'a TreeTls>, IpcError> {
    match tls {
        Some(t) if t.wanted(peer) => Ok(Some(t)),
        Some(_) => Ok(None),
        None if super::tls::on_this_host(peer.ip()) => Ok(None),
        None => Err(TlsError::Missing {
            peer: peer.to_string(),
        }
        .into()),
    }
}

/// A TLS handshake, bounded by [`TLS_HANDSHAKE_TIMEOUT`].
async fn bounded<T>(
    handshake: impl std::future::Future<Output = Result<T, TlsError>>,
    peer: &str,
) -> Result<T, IpcError> {
    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, handshake).await {
        Ok(r) => Ok(r?),
        Err(_) => Err(TlsError::Handshake {
            peer: peer.to_string(),
            reason: format!("not completed within {TLS_HANDSHAKE_TIMEOUT:?}"),
        }
        .into()),
    }
}

/// Connections the kernel queues for a TCP listener before they are
/// accepted; it caps this at `net.core.somaxconn` (4096 by default).
/// tokio's default, std's 128, is too few for a nursery spawning hundreds
/// of children at once: the handshakes that overflow it are dropped and
/// only retried a second later.
const TCP_BACKLOG: u32 = 4096;

/// Binds a TCP listener as `TcpListener::bind` does (address reuse on),
/// with a backlog of [`TCP_BACKLOG`].
fn bind_tcp(sa: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match sa {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(sa)?;
    socket.listen(TCP_BACKLOG)
}

/// A fresh bind address for `kind`: loopback port 0, or `<name>@<pid>-<n>.sock`
/// in the bindspace (names are shortened to keep under the 108-byte limit).
pub fn default_bind_addr(kind: TransportKind, name: &str) -> Addr {
    match kind {
        TransportKind::Tcp => Addr::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
        TransportKind::Uds => {
            let safe: String = name
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                        c
                    } else {
                        '_'
                    }
                })
                .take(32)
                .collect();
            let tag = &uuid::Uuid::new_v4().simple().to_string()[..8];
            Addr::Uds(uds_bindspace().join(format!("{safe}@{}-{tag}.sock", std::process::id())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A burst of connections larger than std's backlog of 128, none
    /// accepted yet, all complete at once: a nursery spawning hundreds of
    /// children does not lose handshakes to a full accept queue (whose
    /// dropped connections the kernel retries only a second later).
    #[tokio::test]
    async fn a_tcp_listener_queues_a_burst_of_connections() {
        let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(4096);
        let burst = somaxconn.saturating_sub(1).min(400);
        if burst <= 129 {
            eprintln!("skipped: net.core.somaxconn is {somaxconn}, no more than std's backlog");
            return;
        }
        let addr = Addr::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let listener = MsgListener::bind(&addr, 1024).await.unwrap();
        let Addr::Tcp(sa) = listener.local_addr().clone() else {
            panic!("not a TCP listener")
        };
        let dialing = (0..burst)
            .map(|_| tokio::time::timeout(Duration::from_millis(700), TcpStream::connect(sa)));
        let dialed = futures::future::join_all(dialing).await;
        let failed = dialed.iter().filter(|d| !matches!(d, Ok(Ok(_)))).count();
        assert_eq!(failed, 0, "{failed} of {burst} connections were not queued");
    }
}
