//! `Channel`: one connection to one peer actor.
//!
//! Sending encodes the message into the connection's one write buffer,
//! which the connection's writer task drains, everything queued at once
//! (see [`outbox`](super::outbox)). A send waits only for room in that
//! bounded buffer, and a dropped send future never leaves half a frame
//! behind.
//! Receiving is done by whoever owns the [`MsgReader`] returned by the
//! handshake (the actor's message loop).

// `tractor::wire` (the `wire` feature) exposes parts of this module
// to tests that speak the protocol by hand; without it they are internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub, dead_code))]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::addr::Addr;
use super::auth::{self, Secret};
use super::error::IpcError;
use super::frame::Frame;
use super::limits::{HANDSHAKE_MAX_FRAME, Limits};
use super::msg::{Aid, Cid, Msg, PayloadMsg, StartView};
use super::outbox::{Outbox, PushError};
use super::tls::TreeTls;
use super::transport::{MsgReader, MsgTransport, PeerCred};

/// A handshaken connection to a peer actor. Cheap to clone.
#[derive(Clone)]
pub struct Channel {
    inner: Arc<ChannelInner>,
}

struct ChannelInner {
    peer: Aid,
    out: Arc<Outbox>,
    closed: Closed,
    /// Set when the writer has flushed and shut the socket down.
    writer_done: CancellationToken,
    acceptor: bool,
    next_cid: AtomicU64,
    peer_addr: Option<Addr>,
    peer_cred: Option<PeerCred>,
}

/// Marks a channel's writer as ended when its task ends, however it does.
struct WriterEnded {
    out: Arc<Outbox>,
    closed: Closed,
    done: CancellationToken,
}

impl Drop for WriterEnded {
    fn drop(&mut self) {
        self.out.abandon();
        self.closed.close();
        self.done.cancel();
    }
}

impl Drop for ChannelInner {
    /// The last handle gone: the writer flushes what was queued and shuts
    /// the socket down, as on [`Channel::close`].
    fn drop(&mut self) {
        self.closed.close();
    }
}

/// Whether a channel was closed: a token to wait on, and a flag that
/// answers the question every send asks without the token's lock.
#[derive(Clone)]
struct Closed(Arc<ClosedState>);

struct ClosedState {
    flag: AtomicBool,
    token: CancellationToken,
}

impl Closed {
    fn new() -> Closed {
        Closed(Arc::new(ClosedState {
            flag: AtomicBool::new(false),
            token: CancellationToken::new(),
        }))
    }

    /// The flag first: whoever sees the token cancelled sees the flag set.
    fn close(&self) {
        self.0.flag.store(true, Ordering::Release);
        self.0.token.cancel();
    }

    fn is_closed(&self) -> bool {
        self.0.flag.load(Ordering::Acquire)
    }

    /// Cancelled once the channel is closed.
    fn token(&self) -> &CancellationToken {
        &self.0.token
    }
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Channel")
            .field("peer", &self.inner.peer)
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Which end of the connection we are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// We dialed.
    Dialer,
    /// We accepted.
    Acceptor,
}

impl Channel {
    /// Authenticates a fresh transport (a unix-socket peer must be of our
    /// uid, and both sides prove they hold `secret`, see
    /// [`auth`](super::auth); the two ends of an in-process pair, which
    /// this process made, skip the proofs), exchanges identities and
    /// starts the writer task.
    ///
    /// Until the peer has identified itself it may send only small frames
    /// ([`HANDSHAKE_MAX_FRAME`]) and has `limits.handshake_timeout` to do
    /// so; then it is held to `limits` for the channel's life.
    pub async fn handshake(
        mut t: MsgTransport,
        me: &Aid,
        secret: &Secret,
        role: Role,
        limits: &Limits,
    ) -> Result<(Channel, MsgReader), IpcError> {
        let timeout = limits.handshake_timeout;
        t.cap_frames(HANDSHAKE_MAX_FRAME.min(limits.max_frame));
        let peer =
            match tokio::time::timeout(timeout, auth::handshake(&mut t, me, secret, role)).await {
                Ok(r) => r?,
                Err(_) => {
                    return Err(IpcError::Handshake(format!(
                        "peer did not complete the handshake within {timeout:?}"
                    )));
                }
            };
        t.apply(limits);
        let peer_addr = t.peer_addr.clone();
        let peer_cred = t.peer_cred;
        let lane = shm_peer(peer_cred, peer_addr.as_ref(), t.is_tls(), &peer);
        let (mut reader, writer) = t.split();
        let (io, unflushed) = writer.into_parts();
        let out = Arc::new(Outbox::new(io, unflushed));
        if let Some(pid) = lane {
            reader.enable_shm(out.enable_shm(pid));
        }
        let closed = Closed::new();
        let writer_done = CancellationToken::new();
        let chan = Channel {
            inner: Arc::new(ChannelInner {
                peer,
                out: out.clone(),
                closed: closed.clone(),
                writer_done: writer_done.clone(),
                acceptor: role == Role::Acceptor,
                next_cid: AtomicU64::new(1),
                peer_addr,
                peer_cred,
            }),
        };
        let span = tracing::debug_span!(target: "tractor::ipc", "writer", peer = %chan.inner.peer);
        tokio::spawn(
            async move {
                // However the writer ends (even dropped with its runtime,
                // or by a panic), senders and waiters learn of it.
                let _ended = WriterEnded {
                    out: out.clone(),
                    closed: closed.clone(),
                    done: writer_done,
                };
                if let Err(e) = out.run_writer(closed.token()).await {
                    tracing::debug!(target: "tractor::ipc", "writer stopped: {e}");
                }
            }
            .instrument(span),
        );
        Ok((chan, reader))
    }

    /// Dials `addr` (in TLS where `tls` wants it) and handshakes.
    pub async fn connect(
        addr: &Addr,
        me: &Aid,
        secret: &Secret,
        tls: Option<&TreeTls>,
        limits: &Limits,
    ) -> Result<(Channel, MsgReader), IpcError> {
        let t = MsgTransport::connect(addr, limits.max_frame, tls).await?;
        Self::handshake(t, me, secret, Role::Dialer, limits).await
    }

    /// The peer's identity.
    pub fn peer(&self) -> &Aid {
        &self.inner.peer
    }

    /// The peer's address, when known.
    pub fn peer_addr(&self) -> Option<&Addr> {
        self.inner.peer_addr.as_ref()
    }

    /// Peer credentials (unix sockets).
    pub fn peer_cred(&self) -> Option<PeerCred> {
        self.inner.peer_cred
    }

    /// A fresh dialog id owned by this side.
    pub fn next_cid(&self) -> Cid {
        // The low bit says which side allocated the cid; keeping it low
        // keeps cids one-byte varints on the wire.
        let n = self.inner.next_cid.fetch_add(1, Ordering::Relaxed);
        (n << 1) | Cid::from(self.inner.acceptor)
    }

    /// Whether `cid` was allocated by this side (a dialog we opened).
    pub fn owns_cid(&self, cid: Cid) -> bool {
        (cid & 1 == 1) == self.inner.acceptor
    }

    /// Queues a message, waiting while the connection's write buffer is
    /// full.
    pub async fn send(&self, msg: &Msg) -> Result<(), IpcError> {
        self.wait_room(!matches!(msg, Msg::Yield { .. })).await?;
        self.send_in_room(msg)
    }

    /// [`send`](Self::send) without waking the writer: `msg` goes out
    /// with the next message sent, or on [`announce`](Self::announce),
    /// which the caller owes unless it sends another message. A task's
    /// `StartAck`, so that a result ready at once leaves in the same write.
    pub(crate) async fn send_unannounced(&self, msg: &Msg) -> Result<(), IpcError> {
        self.wait_room(!matches!(msg, Msg::Yield { .. })).await?;
        self.send_unannounced_in_room(msg)
    }

    /// Whether an answer (any message but a stream item) queued now
    /// would not wait for room: the room large stream items take is not
    /// counted, as the answer goes ahead of them (see
    /// [`Outbox::has_room_for_answer`]).
    pub(crate) fn has_room_for_answer(&self) -> bool {
        self.inner.out.has_room_for_answer()
    }

    /// [`send`](Self::send) from code that cannot wait (the message loop,
    /// replying to a call at once): the caller saw
    /// [`has_room_for_answer`](Self::has_room_for_answer) and queued
    /// nothing since but what it answers with.
    pub(crate) fn send_in_room(&self, msg: &Msg) -> Result<(), IpcError> {
        if self.inner.closed.is_closed() {
            return Err(self.closed_error());
        }
        self.inner.out.push_msg(msg).map_err(|e| self.push_error(e))
    }

    /// [`send_unannounced`](Self::send_unannounced) from code that cannot
    /// wait, as [`send_in_room`](Self::send_in_room).
    pub(crate) fn send_unannounced_in_room(&self, msg: &Msg) -> Result<(), IpcError> {
        if self.inner.closed.is_closed() {
            return Err(self.closed_error());
        }
        self.inner
            .out
            .push_unannounced(msg)
            .map_err(|e| self.push_error(e))
    }

    /// Sends what [`send_unannounced`](Self::send_unannounced) queued, if
    /// it is still waiting.
    pub(crate) fn announce(&self) {
        self.inner.out.announce();
    }

    /// Queues the `Start` of a call from borrowed parts (the bytes of
    /// [`Msg::Start`], without a boxed copy first), waiting while the
    /// write buffer is full.
    pub(crate) async fn send_start(&self, start: &StartView<'_>) -> Result<(), IpcError> {
        self.wait_room(true).await?;
        self.inner
            .out
            .push_start(start)
            .map_err(|e| self.push_error(e))
    }

    /// Queues an encoded frame, waiting while the write buffer is full.
    pub async fn send_frame(&self, frame: Frame) -> Result<(), IpcError> {
        self.wait_room(false).await?;
        self.inner
            .out
            .push_frame(frame)
            .map_err(|e| self.push_error(e))
    }

    /// Queues the encoded frame of a stream item of dialog `dialog`,
    /// waiting while the write buffer is full (other dialogs' control
    /// messages and replies may go first while it waits to be written).
    pub(crate) async fn send_frame_of(
        &self,
        dialog: Cid,
        frame: Frame,
        splices: Vec<super::shared_bytes::Splice>,
    ) -> Result<(), IpcError> {
        self.wait_room(false).await?;
        self.inner
            .out
            .push_frame_of(Some(dialog), frame, splices, true)
            .map_err(|e| self.push_error(e))
    }

    /// Queues the frame of `kind { cid, pld: value }`, encoding `value`
    /// straight into the frame (no intermediate payload, no allocation
    /// for a small one), waiting while the write buffer is full.
    /// `encoded` learns the payload's length before the frame is queued
    /// (so no answer to it can come first).
    pub(crate) async fn send_payload<T: serde::Serialize + ?Sized>(
        &self,
        kind: PayloadMsg,
        cid: Cid,
        value: &T,
        encoded: impl FnOnce(usize),
    ) -> Result<(), IpcError> {
        self.wait_room(kind != PayloadMsg::Yield).await?;
        self.inner
            .out
            .push_payload(kind.tag(), cid, value, encoded)
            .map_err(|e| self.push_error(e))
    }

    /// Queues whole encoded frames, back to back (a batch of stream
    /// items), in one copy, waiting while the write buffer is full.
    pub(crate) async fn send_frames(&self, frames: &[u8]) -> Result<(), IpcError> {
        self.wait_room(false).await?;
        self.inner
            .out
            .push_bytes(frames)
            .map_err(|e| self.push_error(e))
    }

    /// A buffer to encode the next frames into: the one a large frame
    /// just went out in, when the outbox kept it, else an empty one.
    pub(crate) fn spare_buffer(&self) -> Vec<u8> {
        self.inner.out.take_recycled()
    }

    /// Waits for room in the write buffer: for an `answer` (any message
    /// but a stream item), room the stream items queued do not take.
    async fn wait_room(&self, answer: bool) -> Result<(), IpcError> {
        if self.inner.closed.is_closed() {
            return Err(self.closed_error());
        }
        let out = &self.inner.out;
        let room = match answer {
            true => out.has_room_for_answer(),
            false => out.has_room(),
        };
        if !room {
            let wait = async {
                match answer {
                    true => out.answer_room().await,
                    false => out.room().await,
                }
            };
            tokio::select! {
                _ = wait => {}
                _ = self.inner.closed.token().cancelled() => return Err(self.closed_error()),
            }
        }
        Ok(())
    }

    fn push_error(&self, e: PushError) -> IpcError {
        match e {
            PushError::Closed | PushError::Full => self.closed_error(),
            PushError::Encode(e) => IpcError::Encode(e),
        }
    }

    /// Queues a small control message without waiting for room (see
    /// [`outbox`](super::outbox)); fails if the channel is closed or the
    /// peer has stopped reading.
    pub fn try_send(&self, msg: &Msg) -> Result<(), IpcError> {
        if self.inner.closed.is_closed() {
            return Err(self.closed_error());
        }
        self.inner
            .out
            .push_urgent(msg)
            .map_err(|e| self.push_error(e))
    }

    /// Queues a control message from code that cannot wait (a `Drop`,
    /// the message loop), in order with everything sent before it. A
    /// peer that stopped reading while we still owe it control messages
    /// has its channel closed: nothing would reach it, and what we hold
    /// for it stays bounded.
    pub fn send_soon(&self, msg: Msg) {
        if self.inner.closed.is_closed() {
            return;
        }
        match self.inner.out.push_urgent(&msg) {
            Ok(()) | Err(PushError::Closed) => {}
            Err(PushError::Full) => {
                tracing::warn!(target: "tractor::ipc", peer = %self.inner.peer, "the peer has not read what we sent it ({} queued); closing the channel", msg.kind());
                self.inner.out.abandon();
                self.close();
            }
            Err(PushError::Encode(e)) => {
                tracing::error!(target: "tractor::ipc", "could not encode a {}: {e}", msg.kind());
            }
        }
    }

    fn closed_error(&self) -> IpcError {
        IpcError::Closed {
            peer: self.inner.peer.to_string(),
        }
    }

    /// Closes the channel: queued frames are flushed, then the socket's
    /// write side is shut down.
    pub fn close(&self) {
        self.inner.closed.close();
    }

    /// Closes and waits (bounded) until queued frames are on the wire.
    pub async fn close_flushed(&self, within: Duration) {
        self.close();
        let _ = tokio::time::timeout(within, self.inner.writer_done.cancelled()).await;
    }

    /// Whether the channel was closed.
    pub fn is_closed(&self) -> bool {
        self.inner.closed.is_closed()
    }

    /// Resolves once the channel is closed.
    pub async fn closed(&self) {
        self.inner.closed.token().cancelled().await
    }

    /// Lets the next message sent while the writer is idle go out from
    /// its sender's task (see [`Outbox::allow_inline_write`]): called by
    /// the connection's reader per batch of frames read.
    pub(crate) fn allow_inline_write(&self) {
        self.inner.out.allow_inline_write();
    }

    /// How many write batches reached the socket so far (monotonic).
    pub fn batches_written(&self) -> u64 {
        self.inner.out.batches()
    }

    /// Whether two handles are the same channel.
    pub fn same(&self, other: &Channel) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

/// The process whose ring offers this channel's reader may open, if the
/// shared-memory lane is on for it (see [`shm_ring`](super::shm_ring)):
/// for a peer on this host, unless `TRACTOR_SHM=off`.
///
/// Over a unix socket `SO_PEERCRED` names the peer, except that both
/// ends of a socket pair name its maker: in the parent that handed one
/// end to its child, ourselves. There, and over loopback TCP (not in
/// TLS: a link in TLS keeps its bytes in TLS), the peer's own word (its
/// Aid) is taken. The ring's opening keeps that honest: only a ring's
/// memfd is opened at all, and only one whose token the offerer knows is
/// mapped, that is, one offered to the offerer itself (its own lane,
/// redirected at most); a peer behind a forwarded port (another host)
/// names a process here that holds no such ring.
fn shm_peer(cred: Option<PeerCred>, addr: Option<&Addr>, tls: bool, peer: &Aid) -> Option<u32> {
    static OFF: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let off =
        *OFF.get_or_init(|| std::env::var("TRACTOR_SHM").is_ok_and(|v| v == "off" || v == "0"));
    if off || tls {
        return None;
    }
    let own = std::process::id();
    match (cred, addr) {
        (Some(cred), _) => match cred.pid.and_then(|p| u32::try_from(p).ok()) {
            Some(pid) if pid != own => Some(pid),
            _ => Some(peer.pid),
        },
        // (A TCP peer naming our own pid is not one of our tasks: a peer
        // in another pid namespace, or a lie.)
        (None, Some(Addr::Tcp(sa))) if sa.ip().to_canonical().is_loopback() && peer.pid != own => {
            Some(peer.pid)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::msg::PayloadMsg;

    const SOON: Duration = Duration::from_secs(10);

    /// Two handshaken ends of an in-process pair: (ours, the peer's).
    async fn pair() -> ((Channel, MsgReader), (Channel, MsgReader)) {
        let limits = Limits::default();
        let secret = Secret::generate().expect("secret");
        let (a, b) = MsgTransport::in_process_pair(limits.max_frame);
        let s2 = secret.clone();
        let peer = tokio::spawn(async move {
            Channel::handshake(b, &Aid::new("peer"), &s2, Role::Acceptor, &limits).await
        });
        let ours = Channel::handshake(a, &Aid::new("me"), &secret, Role::Dialer, &limits)
            .await
            .expect("our handshake");
        (ours, peer.await.expect("join").expect("peer handshake"))
    }

    #[tokio::test]
    async fn dropping_the_last_handle_ends_the_connection() {
        let ((chan, _reader), (_peer, mut peer_reader)) = pair().await;
        chan.send(&Msg::Heartbeat).await.unwrap();
        drop(chan);
        let first = tokio::time::timeout(SOON, peer_reader.recv())
            .await
            .unwrap();
        assert!(matches!(first, Ok(Some(Msg::Heartbeat))), "{first:?}");
        let end = tokio::time::timeout(SOON, peer_reader.recv())
            .await
            .unwrap();
        assert!(matches!(end, Ok(None)), "the peer reads EOF: {end:?}");
    }

    #[tokio::test]
    async fn control_messages_pass_a_full_buffer_until_the_peer_plainly_stopped_reading() {
        let ((chan, _reader), (_peer, _peer_reader)) = pair().await;
        // Nobody reads: fill the buffer to the mark.
        let chunk = vec![1u8; 64 * 1024];
        while chan.inner.out.has_room() {
            let f = Msg::payload_frame(PayloadMsg::Yield, 3, &chunk).unwrap();
            chan.send_frame(f).await.unwrap();
        }
        // A credit still goes in, in order, without waiting...
        chan.try_send(&Msg::Credit {
            cid: 3,
            n: 128,
            bytes: 0,
        })
        .unwrap();
        // ...until the control bytes past the mark show nobody reads.
        let mut sent = 1usize;
        while chan
            .try_send(&Msg::Credit {
                cid: 3,
                n: 128,
                bytes: 0,
            })
            .is_ok()
        {
            sent += 1;
            assert!(sent < 1_000_000, "control messages queued without bound");
        }
        assert!(
            !chan.is_closed(),
            "a refused try_send leaves the channel to its owner"
        );
        // A message that cannot wait closes the channel instead.
        chan.send_soon(Msg::Pong { cid: 1 });
        assert!(chan.is_closed());
        let late = chan.send(&Msg::Heartbeat).await;
        assert!(matches!(late, Err(IpcError::Closed { .. })), "{late:?}");
    }
}
