//! The write side of a channel: one buffer per connection.
//!
//! A sender encodes its message straight into the connection's buffer,
//! under a lock held for the encode alone (no allocation per message, no
//! queue of frames), and wakes the connection's writer task. The writer
//! writes everything queued by the time it runs, so the messages an actor
//! sends in one turn of its event loop cost one syscall; it waits for the
//! socket when the socket is full.
//!
//! One exception saves a round trip the writer task's scheduling: after
//! each batch the connection's reader reads, the first frame queued while
//! the writer has nothing to do is written by its sender at once
//! ([`Outbox::allow_inline_write`]). Once per batch read, never per
//! message: written each by its sender, a stream's items once cost a
//! syscall each, and a one-way stream of `u64`s fell from 1.7 M/s to
//! 0.16 M/s. (A context stream's round trip on 1 CPU: 12.5-12.7 ->
//! 11.9 µs over TCP, 10.4-10.6 -> 9.7-9.8 µs over a unix socket.)
//!
//! Small frames are coalesced into one buffer; a frame of
//! [`COALESCE_MAX`] bytes or more is queued as its own chunk, moved
//! rather than copied. A chunk may also carry splices: large `Bytes`
//! payloads that were never copied into its buffer, written from their
//! own buffers with the chunk's bytes around them in vectored writes.
//! Senders wait while [`HIGH_WATER`] bytes are pending, so a slow peer
//! bounds what a connection holds.
//!
//! A control message or reply of one dialog (any message but a stream
//! item) is queued ahead of the large frames of other dialogs that are
//! not yet on the wire: a reply, a credit or a cancel waits for the
//! large frame being written, not for every large payload queued (up to
//! [`HIGH_WATER`]). A frame over [`WHOLE_MAX`] goes in
//! [fragments](super::fragment) of 64 KiB, and such a message also goes
//! out between two of them: it waits for one fragment, however large
//! the frame (behind a stream of 16 MiB items, for 2.4-4.1 ms at the
//! slowest 1% of calls before, 34-170 µs after). A large frame lets at
//! most [`PASS_MAX`] bytes go ahead of it (of each fragment), so a busy
//! stream of replies cannot hold it back for ever. A dialog's own
//! frames, and frames of no dialog, keep the order they were queued in.
//! Nor does such a message wait for room that stream items take (see
//! [`Outbox::has_room_for_answer`]).
//!
//! Three rules keep such a message from waiting for more than that one
//! frame when the peer shares our CPU, where every write may let it run
//! (and a write waking it usually does):
//! - A large frame goes out only once the event loop polled the sockets
//!   since the last write: what the peer sent meanwhile is read, and its
//!   answer queued ahead of the frame, first. (Without it, a call to an
//!   actor streaming 64 KiB chunks waited, on one CPU, for one more chunk
//!   and the peer's turn to take it: 14.7 -> 9.8 µs to the endpoint's
//!   run over a unix socket, 21 -> 15 µs over TCP.)
//! - A reply that goes ahead of every large frame queued is written by
//!   its sender at once, as on an idle socket, not at the writer task's
//!   next turn (2 µs later on 2 CPUs).
//! - Once small frames went out ahead of a large frame, the writer gives
//!   the CPU away (`sched_yield`) before it goes on: a peer on the same
//!   CPU reads them now, not after the large frames that fit in its
//!   window. (That wait made the slowest 1% of calls behind a 64 KiB
//!   stream on one CPU take 95-150 µs; now 30-42 µs.)

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::fragment::{FRAGMENT, WHOLE_MAX};
use super::frame::{self, Frame};
use super::msg::{Msg, PayloadMsg, StartView};
use super::shared_bytes::Splice;
use super::shm_ring::{CONTROL_BODY, Control, RING_MIN, ShmLink, TxRing};
use super::transport::BoxWrite;

/// A frame this large is queued as a chunk of its own, not copied into
/// the coalescing buffer.
pub(crate) const COALESCE_MAX: usize = 64 * 1024;

/// Bytes of control messages and replies that may be queued ahead of one
/// large frame: what it may be delayed by, however busy the others are.
const PASS_MAX: usize = 64 * 1024;

/// Bytes the writer puts on the wire before it lets the event loop run
/// (it stops at the first write that reaches them, and one write takes at
/// most twice this): so a request that arrived meanwhile is read and its
/// reply or a credit queued after about one large frame's write, however
/// large the frames waiting or the socket's buffer.
const TURN_BYTES: usize = COALESCE_MAX;

/// Bytes pending past which senders wait for the writer.
const HIGH_WATER: usize = 512 * 1024;

/// Bytes control messages (credit, stop, cancel, pong, heartbeat) may add
/// past [`HIGH_WATER`]: they do not wait for room, so that a full buffer
/// cannot hold back the credit that would drain it, nor reorder them
/// behind later sends; past this the peer has stopped reading and the
/// push fails.
const URGENT_MAX: usize = 256 * 1024;

/// How long what was queued before a close may take to go out before the
/// socket is dropped anyway (a peer that stopped reading).
const CLOSE_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

/// A written buffer larger than this is released rather than kept for
/// the next frames (a coalescing one grew for one large message; a large
/// frame's is kept for the next large payload only up to this size).
const SPARE_MAX: usize = 256 * 1024;

/// Written large frames' buffers kept for reuse: a writer that put
/// several frames on the wire in one turn hands each back to the next
/// payloads (an allocator returns freed large blocks to the system, and
/// a fresh one costs a page fault per 4 KiB). At most this many times
/// [`SPARE_MAX`] bytes stay held per connection.
const RECYCLED_MAX: usize = 4;

/// Why a frame was not queued.
#[derive(Debug)]
pub(crate) enum PushError {
    /// The channel is closed or its socket failed.
    Closed,
    /// An urgent message found [`URGENT_MAX`] bytes already added past
    /// the high-water mark: the peer is not reading.
    Full,
    /// The message could not be encoded.
    Encode(String),
}

/// The write side of one connection.
pub(crate) struct Outbox {
    st: Mutex<OutState>,
    /// Tells the writer task that bytes wait that the socket did not take.
    wake_writer: Arc<Notify>,
    /// A waker that notifies [`wake_writer`](Self::wake_writer): what a
    /// write from a sender's task leaves the socket to wake.
    writer_waker: Waker,
    /// A sender may write to the idle socket itself, once (see
    /// [`allow_inline_write`](Self::allow_inline_write)).
    inline_ok: AtomicBool,
    /// Tells waiting senders that the pending bytes fell below the mark.
    room: Notify,
    /// Tells waiting answers that the pending bytes but stream items'
    /// fell below the mark (see [`has_room_for_answer`](Self::has_room_for_answer)).
    answer_room: Notify,
    /// Batches put on the wire: how the liveness watchdog tells an idle
    /// channel (which needs a heartbeat) from a busy one.
    batches: AtomicU64,
}

struct OutState {
    /// The socket's write half; released when the writer ends, so the
    /// socket closes with its reader however long the channel's handles
    /// live.
    io: Option<BoxWrite>,
    /// Frames not yet written, oldest first.
    chunks: VecDeque<Chunk>,
    /// Bytes in `chunks` not yet written.
    pending: usize,
    /// Bytes of `pending` in large stream items' frames.
    items: usize,
    /// A drained coalescing buffer, kept for the next frames.
    spare: Vec<u8>,
    /// Written large frames' buffers (at most [`RECYCLED_MAX`]), for the
    /// next large payloads to be encoded into: a stream of large items
    /// allocates (and faults in) no fresh buffer per item, however many
    /// frames one write took.
    recycled: Vec<Vec<u8>>,
    /// False once the channel closed or its socket failed.
    accepting: bool,
    /// Bytes urgent messages added while [`HIGH_WATER`] was reached;
    /// reset when the pending bytes fall below it.
    urgent: usize,
    /// A flush is owed: bytes a sender wrote itself were not flushed
    /// there, or the writer's flush is waiting on the socket. Either way
    /// the writer finishes it, and no sender writes meanwhile (its write
    /// would take the socket's wake-up from the waiting writer).
    unflushed: bool,
    /// Every pending byte was queued without waking the writer (see
    /// [`push_unannounced`](Outbox::push_unannounced)): a sender may
    /// still write to the socket itself, those bytes first.
    unannounced: bool,
    /// The shared-memory lane, on a unix socket (see
    /// [`shm_ring`](super::shm_ring)): our offer to send, the peer's
    /// ring once our reader opened it.
    shm: Option<Arc<ShmLink>>,
    /// The peer's ring: large frames are copied into it and a reference
    /// goes on the wire in their place.
    tx: Option<TxRing>,
    /// The event loop polled the sockets since the last write to this
    /// one (set as the writer yields, cleared by every write). A large
    /// frame goes out only then: any write may have let the peer run,
    /// and what it sent meanwhile (a request, a credit, a cancel) is read,
    /// and answered ahead of the large frame, first.
    polled: bool,
    /// Small frames just went out ahead of a large frame that waits (a
    /// reply, a credit or a cancel that passed it): the CPU is given
    /// away once before more is written, so a peer sharing it reads them
    /// now rather than after our next large frames.
    handoff: bool,
    /// The writer waits for the socket to take more (with its task's
    /// waker, which a sender's write would take over): no sender writes
    /// meanwhile.
    writer_waits: bool,
}

/// Where a large frame sent in fragments stands.
struct Fragments {
    /// The body's length.
    total: u64,
    /// The current fragment's header, of which `head_at` bytes went out.
    head: [u8; 4 + CONTROL_BODY],
    head_at: usize,
    /// Body bytes of the current fragment not written yet.
    left: usize,
}

impl Fragments {
    fn at_boundary(&self) -> bool {
        self.left == 0 && self.head_at == self.head.len()
    }
}

struct Chunk {
    buf: Vec<u8>,
    /// Bytes of `buf` written so far.
    start: usize,
    /// Small frames may be appended.
    coalesce: bool,
    /// The dialog of a large frame's chunk, when known: small frames of
    /// other dialogs may be queued ahead of it while it is unwritten, or
    /// between two of its fragments.
    dialog: Option<u64>,
    /// Nothing of it was written yet.
    unwritten: bool,
    /// It goes in fragments (see [`fragment`](super::fragment)); `start`
    /// then counts body bytes (its length prefix does not go out).
    frag: Option<Fragments>,
    /// Bytes queued ahead of it after it was (at most [`PASS_MAX`]).
    passed: usize,
    /// Large payloads written in the frame without having been copied
    /// into `buf` (see [`Splice`]), in order; `spliced` is their length.
    splices: Vec<Splice>,
    spliced: usize,
    /// A stream item's frame (counted in [`OutState::items`]).
    item: bool,
}

impl Chunk {
    /// A buffer of small frames, more of which may be appended.
    fn coalescing(buf: Vec<u8>) -> Chunk {
        Chunk {
            buf,
            start: 0,
            coalesce: true,
            dialog: None,
            unwritten: true,
            frag: None,
            passed: 0,
            splices: Vec::new(),
            spliced: 0,
            item: false,
        }
    }

    /// Whether small frames may go out before its next bytes: none of
    /// it was written, or it goes in fragments and one just ended.
    fn at_boundary(&self) -> bool {
        self.unwritten || self.frag.as_ref().is_some_and(Fragments::at_boundary)
    }

    /// Whether small frames may be queued ahead of the rest of it: none
    /// of it was written, or it goes in fragments (they go out once the
    /// fragment being written ends).
    fn passable(&self) -> bool {
        self.unwritten || self.frag.is_some()
    }

    /// Whether it is in the middle of a fragment, which must end before
    /// anything else goes out.
    fn mid_fragment(&self) -> bool {
        self.frag.as_ref().is_some_and(|f| !f.at_boundary())
    }

    /// Its length on the wire: `buf` with the splices in it.
    fn len(&self) -> usize {
        self.buf.len() + self.spliced
    }

    /// Its bytes from `from` to `end` (positions on the wire), as the
    /// slices of a vectored write.
    fn slices(&self, from: usize, end: usize) -> Vec<io::IoSlice<'_>> {
        fn take<'a>(
            seg: &'a [u8],
            pos: &mut usize,
            want: (usize, usize),
            out: &mut Vec<io::IoSlice<'a>>,
        ) {
            let (lo, hi) = (want.0.max(*pos), want.1.min(*pos + seg.len()));
            if lo < hi {
                out.push(io::IoSlice::new(&seg[lo - *pos..hi - *pos]));
            }
            *pos += seg.len();
        }
        let mut out = Vec::with_capacity(2 * self.splices.len() + 1);
        let mut pos = 0;
        let mut in_buf = 0;
        for sp in &self.splices {
            take(&self.buf[in_buf..sp.at], &mut pos, (from, end), &mut out);
            take(&sp.bytes, &mut pos, (from, end), &mut out);
            in_buf = sp.at;
        }
        take(&self.buf[in_buf..], &mut pos, (from, end), &mut out);
        out
    }
}

impl Outbox {
    /// An outbox writing to `io`, with `leftover` (bytes a handshake
    /// buffered and did not flush) first.
    pub(crate) fn new(io: BoxWrite, leftover: Vec<u8>) -> Outbox {
        let pending = leftover.len();
        let chunks = if leftover.is_empty() {
            VecDeque::new()
        } else {
            VecDeque::from([Chunk::coalescing(leftover)])
        };
        let wake_writer = Arc::new(Notify::new());
        Outbox {
            st: Mutex::new(OutState {
                io: Some(io),
                chunks,
                pending,
                items: 0,
                spare: Vec::new(),
                recycled: Vec::new(),
                accepting: true,
                urgent: 0,
                unflushed: false,
                unannounced: false,
                shm: None,
                tx: None,
                polled: false,
                handoff: false,
                writer_waits: false,
            }),
            writer_waker: Waker::from(Arc::new(WakeWriter(wake_writer.clone()))),
            wake_writer,
            inline_ok: AtomicBool::new(false),
            room: Notify::new(),
            answer_room: Notify::new(),
            batches: AtomicU64::new(0),
        }
    }

    /// Turns the shared-memory lane on: the returned link, given to the
    /// connection's reader, brings our ring's offer to send and the
    /// peer's ring (of process `peer_pid`) to write large frames into.
    pub(crate) fn enable_shm(&self, peer_pid: u32) -> Arc<ShmLink> {
        let link = ShmLink::new(peer_pid, self.wake_writer.clone());
        self.lock().shm = Some(link.clone());
        link
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutState> {
        match self.st.lock() {
            Ok(st) => st,
            Err(poisoned) => {
                // A sender panicked mid-encode: the buffer may hold part
                // of a frame. Nothing more goes out on this connection.
                let mut st = poisoned.into_inner();
                st.abandon();
                st
            }
        }
    }

    /// Stops taking frames and drops what is pending (the writer is gone
    /// or the socket failed), waking senders waiting for room so they
    /// fail instead of waiting forever.
    pub(crate) fn abandon(&self) {
        self.lock().abandon();
        self.room.notify_waiters();
        self.answer_room.notify_waiters();
    }

    /// Writes that put bytes on the wire so far (monotonic).
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(Ordering::Relaxed)
    }

    /// Whether a sender may queue now without waiting (a closed outbox
    /// has room: the push then fails at once).
    pub(crate) fn has_room(&self) -> bool {
        let st = self.lock();
        st.pending < HIGH_WATER || !st.accepting
    }

    /// Waits until [`has_room`](Self::has_room).
    pub(crate) async fn room(&self) {
        wait_until(&self.room, || self.has_room()).await;
    }

    /// Whether an answer (any message but a stream item) may be queued
    /// now without waiting: the bytes pending but large stream items'
    /// are below the mark. An answer goes ahead of those items (see
    /// [`OutState::place`]), so the room they take is not its to wait
    /// for: a call to an actor streaming 16 MiB items is not held until
    /// one is written. The items' producers wait for [`room`](Self::room),
    /// so the connection holds at most twice the mark, and a frame each.
    pub(crate) fn has_room_for_answer(&self) -> bool {
        let st = self.lock();
        st.pending.saturating_sub(st.items) < HIGH_WATER || !st.accepting
    }

    /// Waits until [`has_room_for_answer`](Self::has_room_for_answer).
    pub(crate) async fn answer_room(&self) {
        wait_until(&self.answer_room, || self.has_room_for_answer()).await;
    }

    /// Encodes `msg` into the buffer for the writer. The caller waited
    /// for [`room`](Self::room).
    pub(crate) fn push_msg(&self, msg: &Msg) -> Result<(), PushError> {
        self.push_encoded(msg, false, false)
    }

    /// Encodes a control message into the buffer without waiting for
    /// room (see [`URGENT_MAX`]).
    pub(crate) fn push_urgent(&self, msg: &Msg) -> Result<(), PushError> {
        self.push_encoded(msg, true, false)
    }

    /// Encodes `msg` into the buffer without waking the writer: it goes
    /// out with the next frame queued (in one write, which that frame's
    /// sender may make itself), or when [`announce`](Self::announce)
    /// wakes the writer. For a `StartAck`, whose task's result, when it
    /// has one at once, then leaves with it. The caller waited for
    /// [`room`](Self::room) and must call `announce` unless it queues
    /// another frame.
    pub(crate) fn push_unannounced(&self, msg: &Msg) -> Result<(), PushError> {
        self.push_encoded(msg, false, true)
    }

    /// Wakes the writer for what [`push_unannounced`](Self::push_unannounced)
    /// queued, unless it went out since.
    pub(crate) fn announce(&self) {
        let mut st = self.lock();
        if st.unannounced && st.pending > 0 {
            st.unannounced = false;
            drop(st);
            self.wake_writer.notify_one();
        }
    }

    /// Encodes a `Start` from borrowed parts into the buffer for the
    /// writer (the bytes of [`Msg::Start`]). The caller waited for
    /// [`room`](Self::room).
    pub(crate) fn push_start(&self, start: &StartView<'_>) -> Result<(), PushError> {
        self.push_with(
            |tail| start.append_to(tail),
            Some(start.cid),
            true,
            false,
            false,
        )
    }

    fn push_encoded(&self, msg: &Msg, urgent: bool, unannounced: bool) -> Result<(), PushError> {
        // Control messages and replies go ahead of other dialogs' large
        // frames; stream items, as many as the stream has, do not.
        let ahead = match msg {
            Msg::Yield { .. } => None,
            m => m.dialog(),
        };
        // A `StartAck` is followed at once by the task's first message,
        // most often its result: both go in one write.
        let inline = !unannounced && !matches!(msg, Msg::StartAck { .. });
        self.push_value(msg, ahead, inline, urgent, unannounced)
    }

    /// Encodes `value`, a message of dialog `ahead` (see
    /// [`OutState::place`]), into the buffer; `inline`: its sender may
    /// write it to the idle socket itself.
    fn push_value<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
        ahead: Option<u64>,
        inline: bool,
        urgent: bool,
        unannounced: bool,
    ) -> Result<(), PushError> {
        let encode = |tail: &mut Vec<u8>| frame::append(value, tail);
        self.push_with(encode, ahead, inline, urgent, unannounced)
    }

    /// [`push_value`](Self::push_value), with the message's body appended
    /// to the buffer by `encode`.
    fn push_with(
        &self,
        encode: impl FnOnce(&mut Vec<u8>) -> Result<(), String>,
        ahead: Option<u64>,
        inline: bool,
        urgent: bool,
        unannounced: bool,
    ) -> Result<(), PushError> {
        let mut st = self.lock();
        if !st.accepting {
            return Err(PushError::Closed);
        }
        let over = urgent && st.pending >= HIGH_WATER;
        if over && st.urgent >= URGENT_MAX {
            return Err(PushError::Full);
        }
        let quiet_before = st.pending == 0 || st.unannounced;
        let (idx, passes) = st.place(ahead);
        let tail = st.buf_at(idx);
        let at = tail.len();
        tail.extend_from_slice(&[0; 4]);
        let encoded = encode(tail).and_then(|()| frame::prefix_len(tail.len() - at - 4));
        let n = match encoded {
            Ok(len) => {
                tail[at..at + 4].copy_from_slice(&len);
                tail.len() - at
            }
            Err(e) => {
                tail.truncate(at);
                return Err(PushError::Encode(e));
            }
        };
        st.pending += n;
        st.went_ahead(idx, passes, n);
        if over {
            st.urgent += n;
        }
        if unannounced && quiet_before {
            st.unannounced = true;
            return Ok(());
        }
        st.unannounced = false;
        // Its sender may write it if the socket is idle, or if it went
        // ahead of everything queued while the writer is between turns
        // (a reply need not wait for the writer task's next turn).
        let first = quiet_before || (idx == 0 && !st.writer_waits);
        if inline && first && self.may_write_inline(&st) && self.write_now(&mut st) {
            return Ok(());
        }
        let handoff = std::mem::take(&mut st.handoff);
        drop(st);
        if handoff {
            std::thread::yield_now();
        }
        // The writer takes it, with whatever else is queued by the time it runs.
        self.wake_writer.notify_one();
        Ok(())
    }

    /// Queues an encoded frame for the writer. The caller waited for
    /// [`room`](Self::room).
    pub(crate) fn push_frame(&self, frame: Frame) -> Result<(), PushError> {
        self.push_frame_of(None, frame, Vec::new(), false)
    }

    /// Queues an encoded frame of `dialog` (`None`: unknown) for the
    /// writer, with `splices` written into it where they go (none: the
    /// frame is its bytes); `item`: a stream item's. The caller waited
    /// for [`room`](Self::room).
    pub(crate) fn push_frame_of(
        &self,
        dialog: Option<u64>,
        frame: Frame,
        splices: Vec<Splice>,
        item: bool,
    ) -> Result<(), PushError> {
        if splices.is_empty() && frame.bytes().len() < COALESCE_MAX {
            return self.push_bytes(frame.bytes());
        }
        let mut st = self.lock();
        if !st.accepting {
            return Err(PushError::Closed);
        }
        let spliced = splices.iter().map(|s| s.bytes.len()).sum();
        let len = frame.bytes().len() + spliced;
        let (buf, start) = frame.into_parts();
        st.chunks.push_back(Chunk {
            buf,
            start,
            coalesce: false,
            dialog,
            unwritten: true,
            frag: None,
            passed: 0,
            splices,
            spliced,
            item,
        });
        st.pending += len;
        if item {
            st.items += len;
        }
        st.unannounced = false;
        drop(st);
        self.wake_writer.notify_one();
        Ok(())
    }

    /// Queues a copy of small encoded frames (below [`COALESCE_MAX`]),
    /// after everything queued. The caller waited for [`room`](Self::room).
    pub(crate) fn push_bytes(&self, frame: &[u8]) -> Result<(), PushError> {
        let mut st = self.lock();
        if !st.accepting {
            return Err(PushError::Closed);
        }
        let inline = (st.pending == 0 || st.unannounced) && self.may_write_inline(&st);
        let (idx, _) = st.place(None);
        st.buf_at(idx).extend_from_slice(frame);
        st.pending += frame.len();
        st.unannounced = false;
        if inline && self.write_now(&mut st) {
            return Ok(());
        }
        drop(st);
        // The writer takes it, with whatever else is queued by the time it runs.
        self.wake_writer.notify_one();
        Ok(())
    }

    /// Lets the next frame queued while the writer has nothing to do be
    /// written by its sender at once (see [`write_now`](Self::write_now)).
    /// The connection's reader calls it per batch of frames it reads, so
    /// the reply to a request, or the answer to a ping-pong's item, goes
    /// out without waiting for the writer task to be scheduled, while a
    /// task sending in a loop gets one such write per batch read, not one
    /// per message: its other messages wait for the writer and go out
    /// together (written each by its sender, a stream of small items
    /// once cost a syscall each, a tenth of its throughput).
    pub(crate) fn allow_inline_write(&self) {
        self.inline_ok.store(true, Ordering::Relaxed);
    }

    /// Whether the frame being queued (under `st`'s lock) may be written
    /// by its sender; takes the permission if so.
    fn may_write_inline(&self, st: &OutState) -> bool {
        !st.unflushed
            && self.inline_ok.load(Ordering::Relaxed)
            && self.inline_ok.swap(false, Ordering::Relaxed)
    }

    /// Writes what was just queued, from the sender's task, up to the
    /// first large frame (`true`: all of it went out and was flushed).
    /// Never waits: what the socket does not take now is the writer's,
    /// woken by the socket (through [`writer_waker`](Self::writer_waker))
    /// or by the caller on `false`, as is an error (the writer meets it
    /// again); large frames are always the writer's.
    fn write_now(&self, st: &mut OutState) -> bool {
        let mut cx = Context::from_waker(&self.writer_waker);
        let before = st.pending;
        let done = st.drain(&mut cx, TURN_BYTES, true);
        if st.pending < before {
            self.batches.fetch_add(1, Ordering::Relaxed);
        }
        // What it wrote is flushed even if large frames wait behind it
        // (for the writer task, which the caller wakes on `false`).
        let flushed = match (&done, st.io.as_mut()) {
            (Poll::Ready(Ok(_)), Some(io)) => {
                matches!(io.as_mut().poll_flush(&mut cx), Poll::Ready(Ok(())))
            }
            _ => false,
        };
        st.unflushed = !flushed;
        flushed && matches!(done, Poll::Ready(Ok(Drained::All)))
    }

    /// The buffer of a large frame written, if one was kept (see
    /// [`RECYCLED_MAX`]), for the next frames to be encoded into; else an
    /// empty one.
    pub(crate) fn take_recycled(&self) -> Vec<u8> {
        self.lock().recycled.pop().unwrap_or_default()
    }

    /// Queues the frame of `variant { cid, pld: value }`, built without
    /// an allocation of its own (see [`frame::with_payload_frame`]);
    /// `encoded` learns the payload's length before the frame is queued.
    /// The caller waited for [`room`](Self::room).
    pub(crate) fn push_payload<T: serde::Serialize + ?Sized>(
        &self,
        variant: u8,
        cid: u64,
        value: &T,
        encoded: impl FnOnce(usize),
    ) -> Result<(), PushError> {
        let fresh = || self.take_recycled();
        let deliver = |built: frame::Built<'_>, pld_len| {
            encoded(pld_len);
            match built {
                frame::Built::Borrowed(bytes) => self.push_bytes(bytes),
                frame::Built::Owned(f, splices) => {
                    let item = variant == PayloadMsg::Yield.tag();
                    self.push_frame_of(Some(cid), f, splices, item)
                }
            }
        };
        frame::with_payload_frame(variant, cid, value, COALESCE_MAX, fresh, deliver)
            .map_err(PushError::Encode)?
    }

    /// Drains the buffer to the socket until the channel closes (then
    /// once more, for what was queued before the close) or the socket
    /// fails; then shuts the socket's write side down.
    pub(crate) async fn run_writer(&self, closed: &CancellationToken) -> io::Result<()> {
        let res = self.write_until_closed(closed).await;
        self.lock().accepting = false;
        if res.is_err() {
            self.abandon();
        }
        self.room.notify_waiters();
        self.answer_room.notify_waiters();
        let res = match res {
            // Closing: what was queued before the close still goes out,
            // unless the peer stopped reading.
            Ok(()) => match tokio::time::timeout(CLOSE_DRAIN, self.drained()).await {
                Ok(drained) => drained,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "the peer read nothing of our last messages for {CLOSE_DRAIN:?} after the close"
                    ),
                )),
            },
            Err(e) => Err(e),
        };
        if res.is_ok() {
            let shutdown = std::future::poll_fn(|cx| match self.lock().io.as_mut() {
                Some(io) => io.as_mut().poll_shutdown(cx),
                None => Poll::Ready(Ok(())),
            });
            let _ = tokio::time::timeout(CLOSE_DRAIN, shutdown).await;
        }
        self.abandon();
        let io = self.lock().io.take();
        drop(io);
        res
    }

    async fn write_until_closed(&self, closed: &CancellationToken) -> io::Result<()> {
        loop {
            let notified = self.wake_writer.notified();
            let idle = {
                let st = self.lock();
                st.pending == 0 && !st.unflushed && !st.shm_news()
            };
            if !idle {
                self.drained().await?;
            } else if closed.is_cancelled() {
                return Ok(());
            } else {
                tokio::select! {
                    biased;
                    _ = notified => {}
                    _ = closed.cancelled() => {}
                }
            }
        }
    }

    /// Writes until nothing is pending, then flushes. Yields to the
    /// event loop after each [`TURN_BYTES`] written, so what arrives
    /// meanwhile (a request to answer, a credit, a cancel) is read and
    /// its reply queued ahead of the large frames still waiting.
    async fn drained(&self) -> io::Result<()> {
        loop {
            let all = std::future::poll_fn(|cx| {
                let mut st = self.lock();
                // The writer has these bytes now (it may wait on the socket
                // with its own waker, which a sender's write would take):
                // none is left for a sender to write itself.
                st.unannounced = false;
                let before = st.pending;
                let done = st.drain(cx, TURN_BYTES, false);
                st.writer_waits = done.is_pending();
                if st.pending < before {
                    self.batches.fetch_add(1, Ordering::Relaxed);
                }
                if st.pending < HIGH_WATER {
                    st.urgent = 0;
                    self.room.notify_waiters();
                }
                if st.pending.saturating_sub(st.items) < HIGH_WATER {
                    self.answer_room.notify_waiters();
                }
                match done {
                    Poll::Ready(Ok(Drained::All)) => match st.io.as_mut() {
                        Some(io) => {
                            let flushed = io.as_mut().poll_flush(cx);
                            // A flush that waits (TLS) waits with this
                            // task's waker: no sender may write, and take
                            // the socket's wake-up, meanwhile.
                            st.unflushed = flushed.is_pending();
                            flushed.map_ok(|()| true)
                        }
                        None => Poll::Ready(Ok(true)),
                    },
                    Poll::Ready(Ok(Drained::Turn)) => Poll::Ready(Ok(false)),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await?;
            if all {
                return Ok(());
            }
            // After the I/O driver ran: a yield in tokio waits for it,
            // unless a write comes first (see `polled`).
            let handoff = {
                let mut st = self.lock();
                st.polled = true;
                std::mem::take(&mut st.handoff)
            };
            if handoff {
                std::thread::yield_now();
            }
            tokio::task::yield_now().await;
        }
    }
}

/// Waits until `ready`, checked again each time `notify` wakes its
/// waiters (registered before the check, so no wake-up is missed).
async fn wait_until(notify: &Notify, ready: impl Fn() -> bool) {
    loop {
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if ready() {
            return;
        }
        notified.await;
    }
}

/// Moves the body of `chunk`, one unwritten large frame, into the
/// peer's ring if it takes it, leaving a reference to it in the chunk;
/// the bytes that no longer go on the wire. (A reference is far below
/// [`RING_MIN`]: a chunk is never moved twice.)
fn to_ring(chunk: &mut Chunk, tx: &mut TxRing) -> usize {
    let (len, body_at) = (chunk.len(), chunk.start + 4);
    let Some(body) = len.checked_sub(body_at) else {
        return 0;
    };
    let Ok(body32) = u32::try_from(body) else {
        return 0;
    };
    if body < RING_MIN || body > tx.max_frame() {
        return 0;
    }
    let Some(pos) = tx.put(&chunk.slices(body_at, len)) else {
        return 0;
    };
    let frame = Control::Ref { pos, len: body32 }.frame();
    let before = len - chunk.start;
    // The frame's buffer keeps its capacity, for the next large frame
    // (see `recycled`); its splices' buffers go back to their owners.
    chunk.buf.clear();
    chunk.buf.extend_from_slice(&frame);
    chunk.start = 0;
    chunk.splices.clear();
    chunk.spliced = 0;
    before - frame.len()
}

/// How far a drain got.
#[derive(Debug)]
enum Drained {
    /// Nothing is pending.
    All,
    /// A turn's bytes were written and more are pending.
    Turn,
}

/// Wakes the writer task (see [`Outbox::write_now`]).
struct WakeWriter(Arc<Notify>);

impl std::task::Wake for WakeWriter {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.notify_one();
    }
}

impl OutState {
    fn abandon(&mut self) {
        self.accepting = false;
        self.chunks.clear();
        self.pending = 0;
        self.items = 0;
        self.urgent = 0;
        // The peer's ring is unmapped now, not when the last handle of
        // the channel goes.
        self.tx = None;
        self.shm = None;
    }

    /// Whether the reader left an offer to send or a ring to take.
    fn shm_news(&self) -> bool {
        self.shm.as_ref().is_some_and(|l| l.has_news())
    }

    /// Queues our ring's offer, and takes the peer's ring.
    fn take_shm_news(&mut self) {
        let Some(link) = self.shm.clone() else {
            return;
        };
        let (offer, tx) = link.take_news();
        if let Some(offer) = offer {
            let frame = Control::Offer(offer).frame();
            let (idx, _) = self.place(None);
            self.buf_at(idx).extend_from_slice(&frame);
            self.pending += frame.len();
        }
        if tx.is_some() {
            self.tx = tx;
        }
    }

    /// Where the next small frame goes: the index of the coalescing
    /// buffer to append it to (the last one), and how many large frames
    /// queued after that buffer it goes ahead of. A frame that may go
    /// ahead of other dialogs' frames (`ahead_of_others`, its dialog)
    /// goes before the unwritten large frames of other dialogs that end
    /// the queue (or the rest of one going in fragments), each while it
    /// let less than [`PASS_MAX`] bytes by; never before one written
    /// whole and started, one of its own dialog's, or one whose dialog
    /// is not known.
    fn place(&mut self, ahead_of_others: Option<u64>) -> (usize, usize) {
        let mut at = self.chunks.len();
        if let Some(dialog) = ahead_of_others {
            while let Some(c) = at.checked_sub(1).and_then(|i| self.chunks.get(i)) {
                let passable = !c.coalesce
                    && c.passable()
                    && c.dialog.is_some_and(|d| d != dialog)
                    && c.passed < PASS_MAX;
                if !passable {
                    break;
                }
                at -= 1;
            }
        }
        let passes = self.chunks.len() - at;
        let open = at
            .checked_sub(1)
            .and_then(|i| self.chunks.get(i))
            .is_some_and(|c| c.coalesce && c.buf.len() < COALESCE_MAX);
        if open {
            return (at - 1, passes);
        }
        let chunk = Chunk::coalescing(std::mem::take(&mut self.spare));
        self.chunks.insert(at, chunk);
        (at, passes)
    }

    /// The buffer of chunk `idx` (from [`place`](Self::place)).
    fn buf_at(&mut self, idx: usize) -> &mut Vec<u8> {
        if idx >= self.chunks.len() {
            // Not reached: `place` returns a chunk it found or made.
            self.chunks.push_back(Chunk::coalescing(Vec::new()));
            let last = self.chunks.len() - 1;
            return &mut self.chunks[last].buf;
        }
        &mut self.chunks[idx].buf
    }

    /// Records that `n` bytes appended to chunk `idx` went ahead of the
    /// `passes` large frames after it.
    fn went_ahead(&mut self, idx: usize, passes: usize, n: usize) {
        for c in self.chunks.range_mut(idx + 1..).take(passes) {
            c.passed = c.passed.saturating_add(n);
        }
    }

    /// Writes pending chunks until all are written, the socket would
    /// block, or `turn` bytes were written and more wait (at most `2 *
    /// turn` per write). A large frame not yet started waits (the turn
    /// ends) until the event loop has polled since the last write (see
    /// [`polled`](Self::polled)), and always for a sender writing
    /// `inline`.
    fn drain(
        &mut self,
        cx: &mut Context<'_>,
        turn: usize,
        inline: bool,
    ) -> Poll<io::Result<Drained>> {
        if self.shm_news() {
            self.take_shm_news();
        }
        let mut written = 0;
        loop {
            // Small frames queued ahead of a large frame in the middle of
            // a fragment go out once that fragment ends.
            let at = match (self.chunks.front(), self.chunks.get(1)) {
                (Some(a), Some(b)) if a.coalesce && b.mid_fragment() => 1,
                _ => 0,
            };
            let Some(front) = self.chunks.get_mut(at) else {
                break;
            };
            if front.start < front.len() {
                if written >= turn {
                    return Poll::Ready(Ok(Drained::Turn));
                }
                if (inline || !self.polled) && front.at_boundary() && !front.coalesce {
                    return Poll::Ready(Ok(Drained::Turn));
                }
                if front.unwritten
                    && !front.coalesce
                    && let Some(tx) = self.tx.as_mut()
                {
                    let moved = to_ring(front, tx);
                    self.pending -= moved;
                    if front.item {
                        self.items -= moved;
                    }
                    // A turn counts the bytes it moved, on the wire or
                    // not (the reference goes out in this one).
                    written += moved;
                }
                if front.unwritten && !front.coalesce && front.len() - front.start > 4 + WHOLE_MAX {
                    // Its prefix never goes out: each fragment says how
                    // long the frame is.
                    front.start += 4;
                    front.frag = Some(Fragments {
                        total: (front.len() - front.start) as u64,
                        head: [0; 4 + CONTROL_BODY],
                        head_at: 4 + CONTROL_BODY,
                        left: 0,
                    });
                    self.pending -= 4;
                    if front.item {
                        self.items -= 4;
                    }
                }
                let len = front.len();
                if let Some(frag) = front.frag.as_mut().filter(|f| f.at_boundary()) {
                    let n = (len - front.start).min(FRAGMENT);
                    // A fragment is at most 64 KiB: `n` fits a `u32`.
                    let part = Control::Fragment {
                        total: frag.total,
                        len: n as u32,
                    };
                    frag.head = part.frame();
                    frag.head_at = 0;
                    frag.left = n;
                    front.passed = 0;
                }
                let Some(io) = self.io.as_mut() else {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                };
                // One write takes at most two turns' worth, so a turn ends
                // within three however large the frame (a frame of up to
                // a turn plus its header still goes out in one write); a
                // fragment's write ends with the fragment.
                let (head, end) = match &front.frag {
                    Some(f) => (&f.head[f.head_at..], front.start + f.left),
                    None => (
                        &[][..],
                        len.min(front.start.saturating_add(turn.saturating_mul(2))),
                    ),
                };
                let wrote = if front.splices.is_empty() && head.is_empty() {
                    io.as_mut().poll_write(cx, &front.buf[front.start..end])
                } else {
                    let mut parts = Vec::with_capacity(2 + 2 * front.splices.len());
                    if !head.is_empty() {
                        parts.push(io::IoSlice::new(head));
                    }
                    parts.extend(front.slices(front.start, end));
                    io.as_mut().poll_write_vectored(cx, &parts)
                };
                match wrote {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.polled = false;
                        front.unwritten = false;
                        written += n;
                        // A fragment's header is on the wire, not pending.
                        let body = match front.frag.as_mut() {
                            Some(f) => {
                                let h = n.min(f.head.len() - f.head_at);
                                f.head_at += h;
                                f.left -= n - h;
                                n - h
                            }
                            None => n,
                        };
                        front.start += body;
                        self.pending = self.pending.saturating_sub(body);
                        if front.item {
                            self.items = self.items.saturating_sub(body);
                        }
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            let Some(done) = self.chunks.remove(at) else {
                break;
            };
            if done.coalesce
                && self
                    .chunks
                    .front()
                    .is_some_and(|c| c.at_boundary() && !c.coalesce && c.passed > 0)
            {
                self.handoff = true;
            }
            if done.buf.capacity() > SPARE_MAX {
                continue;
            }
            let mut buf = done.buf;
            buf.clear();
            if done.coalesce {
                if self.spare.capacity() == 0 {
                    self.spare = buf;
                }
            } else if self.recycled.len() < RECYCLED_MAX {
                self.recycled.push(buf);
            }
        }
        Poll::Ready(Ok(Drained::All))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::ipc::frame_reader::FrameReader;
    use crate::ipc::msg::PayloadMsg;

    const SOON: Duration = Duration::from_secs(10);

    fn ping(n: u64) -> Msg {
        Msg::Ping { cid: n }
    }

    /// Runs `out`'s writer until the token it returns is cancelled.
    fn start_writer(
        out: &Arc<Outbox>,
    ) -> (CancellationToken, tokio::task::JoinHandle<io::Result<()>>) {
        let closed = CancellationToken::new();
        let writer = {
            let (out, closed) = (out.clone(), closed.clone());
            tokio::spawn(async move { out.run_writer(&closed).await })
        };
        (closed, writer)
    }

    /// Ends a writer from [`start_writer`], which must end cleanly.
    async fn stop_writer(
        closed: CancellationToken,
        writer: tokio::task::JoinHandle<io::Result<()>>,
    ) {
        closed.cancel();
        let ended = tokio::time::timeout(SOON, writer).await;
        ended
            .expect("the writer ends")
            .expect("it did not panic")
            .expect("it ended cleanly");
    }

    /// Lets a writer from [`start_writer`] run until it waits (a test's
    /// runtime runs one task at a time: each yield lets it go on).
    async fn let_writer_run() {
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
    }

    /// Reads the pings `cids`, in order, each within [`SOON`].
    async fn expect_pings(r: &mut FrameReader<tokio::io::DuplexStream>, cids: &[u64]) {
        for &cid in cids {
            let got = tokio::time::timeout(SOON, next(r)).await;
            assert!(
                matches!(got, Ok(Some(Msg::Ping { cid: c })) if c == cid),
                "expected ping {cid}, got {got:?}"
            );
        }
    }

    fn outbox(pipe: usize) -> (Arc<Outbox>, tokio::io::DuplexStream) {
        let (ours, theirs) = tokio::io::duplex(pipe);
        (Arc::new(Outbox::new(Box::pin(ours), Vec::new())), theirs)
    }

    async fn next(r: &mut FrameReader<tokio::io::DuplexStream>) -> Option<Msg> {
        let body = r.next(64 << 20, SOON).await.unwrap()?;
        Some(crate::ipc::codec::decode(body).unwrap())
    }

    /// What a reader gets: `(kind, cid)` per frame, big ones as "big".
    async fn kinds(r: &mut FrameReader<tokio::io::DuplexStream>, n: usize) -> Vec<(String, u64)> {
        let mut got = Vec::new();
        for _ in 0..n {
            let m = tokio::time::timeout(SOON, next(r)).await.unwrap().unwrap();
            let kind = match &m {
                Msg::Yield { pld, .. } if pld.len() > COALESCE_MAX => "big",
                m => m.kind(),
            };
            got.push((kind.to_string(), m.dialog().unwrap_or(u64::MAX)));
        }
        got
    }

    fn big_of(dialog: u64) -> Frame {
        Msg::payload_frame(PayloadMsg::Yield, dialog, &vec![7u8; 100 * 1024]).unwrap()
    }

    /// Once allowed (by a read), one frame queued while the writer has
    /// nothing to do goes out from the sender's call itself; the next
    /// ones wait for the writer, and what the socket does not take is
    /// the writer's. Every frame arrives whole and in order.
    #[tokio::test]
    async fn one_frame_per_read_skips_an_idle_writer() {
        let (out, theirs) = outbox(256);
        let mut r = FrameReader::new(theirs);
        // No writer task runs: an allowed ping arrives anyway.
        out.allow_inline_write();
        out.push_msg(&ping(1)).unwrap();
        let got = tokio::time::timeout(SOON, next(&mut r)).await.unwrap();
        assert!(matches!(got, Some(Msg::Ping { cid: 1 })), "{got:?}");
        assert_eq!(out.batches(), 1);
        // Only one: the next waits for the writer.
        out.push_msg(&ping(2)).unwrap();
        assert_eq!((out.batches(), out.lock().pending > 0), (1, true));

        // Frames larger than the pipe, the first allowed: it writes what
        // fits, the rest waits for the writer.
        let item = |cid| Msg::Yield {
            cid,
            pld: vec![cid as u8; 1000],
        };
        let (closed, writer) = start_writer(&out);
        let got = tokio::time::timeout(SOON, next(&mut r)).await.unwrap();
        assert!(matches!(got, Some(Msg::Ping { cid: 2 })), "{got:?}");
        out.allow_inline_write();
        for cid in 0..20 {
            out.push_msg(&item(cid)).unwrap();
        }
        for cid in 0..20 {
            let got = tokio::time::timeout(SOON, next(&mut r)).await.unwrap();
            match got {
                Some(Msg::Yield { cid: c, pld }) => {
                    assert_eq!((c, pld), (cid, vec![cid as u8; 1000]));
                }
                other => panic!("expected item {cid}, got {other:?}"),
            }
        }
        stop_writer(closed, writer).await;
    }

    /// A frame queued unannounced (a task's `StartAck`) does not wake the
    /// writer: it leaves with the next frame, in the write that frame's
    /// sender makes itself when allowed, else by the writer that frame
    /// wakes; or by the writer once announced.
    #[tokio::test]
    async fn an_unannounced_frame_leaves_with_the_next() {
        let (out, theirs) = outbox(256);
        let mut r = FrameReader::new(theirs);
        // No writer task runs: the allowed sender writes both frames.
        out.allow_inline_write();
        out.push_unannounced(&ping(1)).unwrap();
        assert_eq!((out.batches(), out.lock().pending > 0), (0, true));
        out.push_msg(&ping(2)).unwrap();
        assert_eq!((out.batches(), out.lock().pending), (1, 0));
        expect_pings(&mut r, &[1, 2]).await;

        // With an idle writer, an unannounced frame waits for `announce`.
        let (closed, writer) = start_writer(&out);
        let_writer_run().await;
        out.push_unannounced(&ping(3)).unwrap();
        let_writer_run().await;
        assert!(out.lock().pending > 0, "the writer was woken");
        out.announce();
        let got = tokio::time::timeout(SOON, next(&mut r)).await.unwrap();
        assert!(matches!(got, Some(Msg::Ping { cid: 3 })), "{got:?}");
        // Not allowed to write itself: the next frame wakes the writer.
        out.push_unannounced(&ping(4)).unwrap();
        out.push_msg(&ping(5)).unwrap();
        expect_pings(&mut r, &[4, 5]).await;
        stop_writer(closed, writer).await;
    }

    /// A writer waiting on a full socket for bytes queued unannounced
    /// keeps the socket: a sender allowed to write leaves its frame to
    /// the writer (its write would take the socket's wake-up from it,
    /// and the writer would never be polled again), and both frames
    /// arrive once the peer reads.
    #[tokio::test]
    async fn a_writer_waiting_on_the_socket_keeps_it() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut ours, mut theirs) = tokio::io::duplex(64);
        ours.write_all(&[7; 64]).await.unwrap();
        let out = Arc::new(Outbox::new(Box::pin(ours), Vec::new()));
        out.push_unannounced(&ping(1)).unwrap();
        // The writer takes the bytes and waits on the full socket.
        let (closed, writer) = start_writer(&out);
        let_writer_run().await;
        out.allow_inline_write();
        out.push_msg(&ping(2)).unwrap();
        let mut filler = [0; 64];
        tokio::time::timeout(SOON, theirs.read_exact(&mut filler))
            .await
            .unwrap()
            .unwrap();
        let mut r = FrameReader::new(theirs);
        expect_pings(&mut r, &[1, 2]).await;
        stop_writer(closed, writer).await;
    }

    /// A writer whose flush waits (as a TLS stream's may) keeps the
    /// socket: a sender allowed to write inline leaves its frame to the
    /// writer instead of taking the socket's wake-up from it, and both
    /// frames go out once the flush completes.
    #[tokio::test]
    async fn a_waiting_flush_keeps_senders_off_the_socket() {
        use std::future::Future;

        /// Takes every write; its first flush waits until `release`.
        struct SlowFlush {
            wrote: Arc<Mutex<Vec<u8>>>,
            release: Arc<Notify>,
            waiting: Option<std::pin::Pin<Box<tokio::sync::futures::OwnedNotified>>>,
            flushed_once: bool,
        }
        impl tokio::io::AsyncWrite for SlowFlush {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                _: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.wrote.lock().unwrap().extend_from_slice(buf);
                Poll::Ready(Ok(buf.len()))
            }
            fn poll_flush(
                mut self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                if self.flushed_once {
                    return Poll::Ready(Ok(()));
                }
                let release = self.release.clone();
                let waiting = self
                    .waiting
                    .get_or_insert_with(|| Box::pin(release.notified_owned()));
                std::task::ready!(waiting.as_mut().poll(cx));
                self.flushed_once = true;
                Poll::Ready(Ok(()))
            }
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }
        }

        let wrote = Arc::new(Mutex::new(Vec::new()));
        let release = Arc::new(Notify::new());
        let io = SlowFlush {
            wrote: wrote.clone(),
            release: release.clone(),
            waiting: None,
            flushed_once: false,
        };
        let out = Arc::new(Outbox::new(Box::pin(io), Vec::new()));
        let (closed, writer) = start_writer(&out);
        out.push_msg(&ping(1)).unwrap();
        // The writer wrote it and waits in its flush.
        let deadline = tokio::time::Instant::now() + SOON;
        while !out.lock().unflushed {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the writer never flushed"
            );
            tokio::task::yield_now().await;
        }
        let first = wrote.lock().unwrap().len();
        out.allow_inline_write();
        out.push_msg(&ping(2)).unwrap();
        assert_eq!(
            wrote.lock().unwrap().len(),
            first,
            "a sender wrote during the flush"
        );
        release.notify_one();
        let deadline = tokio::time::Instant::now() + SOON;
        while wrote.lock().unwrap().len() < 2 * first {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the second ping never went out"
            );
            tokio::task::yield_now().await;
        }
        stop_writer(closed, writer).await;
    }

    /// A control message or reply of one dialog goes ahead of other
    /// dialogs' large frames not yet written, up to PASS_MAX bytes per
    /// frame; never ahead of its own dialog's, of one being written, or
    /// of frames of no dialog; stream items never go ahead.
    #[tokio::test]
    async fn replies_go_ahead_of_other_dialogs_large_frames_within_a_bound() {
        // Nothing written yet: all of dialog 1's large frames are passed.
        let (out, theirs) = outbox(1 << 20);
        out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
            .unwrap();
        out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
            .unwrap();
        out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
        out.push_msg(&Msg::Stop { cid: 1 }).unwrap();
        let item = Msg::Yield {
            cid: 5,
            pld: vec![1],
        };
        out.push_msg(&item).unwrap(); // a stream item goes last
        out.push_frame(big_of(3)).unwrap(); // its dialog not known
        out.push_msg(&Msg::Stop { cid: 4 }).unwrap();
        out.push_msg(&Msg::Heartbeat).unwrap();
        let (closed, writer) = start_writer(&out);
        let mut r = FrameReader::new(theirs);
        let want = [
            ("Stop", 2),
            ("big", 1),
            ("big", 1),
            ("Stop", 1),
            ("Yield", 5),
            ("big", 3),
            ("Stop", 4),
            ("Heartbeat", u64::MAX),
        ];
        let got = kinds(&mut r, want.len()).await;
        let want: Vec<(String, u64)> = want.iter().map(|(k, c)| (k.to_string(), *c)).collect();
        assert_eq!(got, want);
        closed.cancel();
        writer.await.unwrap().unwrap();

        // A large frame lets at most PASS_MAX bytes go ahead of it.
        let (out, theirs) = outbox(1 << 20);
        out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
            .unwrap();
        let stop = Frame::build(&Msg::Stop { cid: 2 }).unwrap().bytes().len();
        let n = 2 * PASS_MAX / stop;
        for _ in 0..n {
            out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
        }
        let (closed, writer) = start_writer(&out);
        let mut r = FrameReader::new(theirs);
        let got = kinds(&mut r, n + 1).await;
        let ahead = got.iter().take_while(|(k, _)| k == "Stop").count();
        assert!(
            ahead * stop >= PASS_MAX && ahead * stop < PASS_MAX + stop,
            "{ahead} stops of {stop} bytes went ahead"
        );
        assert_eq!(got[ahead], ("big".to_string(), 1));
        closed.cancel();
        writer.await.unwrap().unwrap();

        // A large frame partly written is not passed (frames never
        // interleave); the unwritten one behind it is.
        let (out, theirs) = outbox(1024);
        out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
            .unwrap();
        out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
            .unwrap();
        let (closed, writer) = start_writer(&out);
        // The writer filled the pipe with part of the first frame.
        while out.lock().chunks.front().is_none_or(|c| c.unwritten) {
            tokio::task::yield_now().await;
        }
        out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
        let mut r = FrameReader::new(theirs);
        let got = kinds(&mut r, 3).await;
        let want = [("big", 1), ("Stop", 2), ("big", 1)];
        let want: Vec<(String, u64)> = want.iter().map(|(k, c)| (k.to_string(), *c)).collect();
        assert_eq!(got, want);
        closed.cancel();
        writer.await.unwrap().unwrap();
    }

    /// The writer lets the event loop run after each turn's bytes, even
    /// when the socket would take everything: a reply queued then waits
    /// for the large frames already written, not for all that was
    /// pending when the writer woke.
    #[tokio::test]
    async fn a_reply_queued_while_the_writer_works_waits_for_one_turn() {
        const BIG: usize = 6;
        let (out, theirs) = outbox(8 << 20);
        for _ in 0..BIG {
            out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
                .unwrap();
        }
        let (closed, writer) = start_writer(&out);
        let written = loop {
            let left = out.lock().chunks.len();
            if left < BIG {
                break BIG - left;
            }
            tokio::task::yield_now().await;
        };
        assert!(written < BIG, "the writer wrote everything in one turn");
        out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
        let mut r = FrameReader::new(theirs);
        let got = kinds(&mut r, BIG + 1).await;
        let at = got.iter().position(|(k, _)| k == "Stop").unwrap();
        assert_eq!(at, written, "{got:?}");
        closed.cancel();
        writer.await.unwrap().unwrap();
    }

    /// A writer woken with a large frame to send lets the event loop run
    /// first: what came in meanwhile (here, a reply queued by the next
    /// task to run) goes out ahead of it. So does a reply queued after
    /// each large frame written, before the next.
    #[tokio::test]
    async fn a_large_frame_waits_for_the_event_loop_after_any_write() {
        let (out, theirs) = outbox(8 << 20);
        let (closed, writer) = start_writer(&out);
        let mut r = FrameReader::new(theirs);
        out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
            .unwrap();
        out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
            .unwrap();
        // The writer runs once (the first frame waits), then this task.
        tokio::task::yield_now().await;
        assert_eq!(out.lock().chunks.len(), 2, "nothing went out yet");
        out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
        // A large frame went out: the next waits for the loop again.
        while out.lock().chunks.len() > 1 {
            tokio::task::yield_now().await;
        }
        out.push_msg(&Msg::Stop { cid: 3 }).unwrap();
        let got = kinds(&mut r, 4).await;
        let want = [("Stop", 2), ("big", 1), ("Stop", 3), ("big", 1)];
        let want: Vec<(String, u64)> = want.iter().map(|(k, c)| (k.to_string(), *c)).collect();
        assert_eq!(got, want);
        stop_writer(closed, writer).await;
    }

    /// A reply that goes ahead of every large frame queued is written by
    /// its sender, once allowed (by a read), without waiting for the
    /// writer task's next turn; the large frames stay the writer's. Small
    /// frames that passed a large one hand the CPU off once.
    #[tokio::test]
    async fn a_reply_ahead_of_large_frames_goes_out_from_its_sender() {
        let (out, theirs) = outbox(8 << 20);
        let mut r = FrameReader::new(theirs);
        // No writer task runs.
        out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
            .unwrap();
        let big = out.lock().pending;
        out.allow_inline_write();
        out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
        let got = tokio::time::timeout(SOON, next(&mut r)).await;
        assert!(
            matches!(got, Ok(Some(Msg::Stop { cid: 2 }))),
            "the reply arrived: {got:?}"
        );
        let st = out.lock();
        assert_eq!(st.pending, big, "the large frame is left to the writer");
        assert!(!st.handoff, "the sender handed the CPU off itself");
        drop(st);
        // Without the permission the writer takes it, and hands off.
        out.push_msg(&Msg::Stop { cid: 4 }).unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let mut st = out.lock();
        let done = st.drain(&mut cx, TURN_BYTES, false);
        assert!(matches!(done, Poll::Ready(Ok(Drained::Turn))), "{done:?}");
        assert!(st.handoff, "small frames passed a large one");
        assert_eq!(st.pending, big, "the large frame waits for the event loop");
    }

    /// Answers do not wait for room that large stream items take (they
    /// go ahead of them), only for room other answers take; the items'
    /// producers wait for room whatever fills it.
    #[tokio::test]
    async fn answers_wait_for_room_only_past_what_stream_items_take() {
        let (out, _theirs) = outbox(1 << 20);
        // No writer task runs: nothing drains.
        while out.has_room() {
            out.push_frame_of(Some(1), big_of(1), Vec::new(), true)
                .unwrap();
        }
        assert!(out.has_room_for_answer(), "items took the room");
        let stop = Frame::build(&Msg::Stop { cid: 2 }).unwrap().bytes().len();
        let mut answers = 0;
        while out.has_room_for_answer() {
            out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
            answers += stop;
        }
        assert!(answers >= HIGH_WATER && answers < HIGH_WATER + stop);
        // A large frame that is no stream item takes an answer's room.
        let (out, mut theirs) = outbox(1 << 20);
        while out.has_room() {
            out.push_frame(big_of(1)).unwrap();
        }
        assert!(!out.has_room_for_answer());
        // The writer frees it as the peer reads, and tells the waiters.
        let waiter = {
            let out = out.clone();
            tokio::spawn(async move { out.answer_room().await })
        };
        let (closed, writer) = start_writer(&out);
        let reader = tokio::spawn(async move {
            let mut sink = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut theirs, &mut sink).await
        });
        let room = tokio::time::timeout(SOON, waiter).await;
        assert!(matches!(room, Ok(Ok(()))), "{room:?}");
        stop_writer(closed, writer).await;
        drop(out);
        let read = tokio::time::timeout(SOON, reader).await;
        assert!(matches!(read, Ok(Ok(Ok(_)))), "{read:?}");
    }

    /// A frame over `WHOLE_MAX` goes in fragments, and a reply queued
    /// while it goes out passes it between two of them: it waits for one
    /// fragment, not the frame. The frame arrives whole and intact.
    #[tokio::test]
    async fn a_reply_passes_a_large_frame_between_its_fragments() {
        const SIZE: usize = 1 << 20;
        let (out, theirs) = outbox(8 << 20);
        let pld: Vec<u8> = (0..SIZE).map(|i| (i % 251) as u8).collect();
        let frame = Msg::payload_frame(PayloadMsg::Yield, 1, &pld).unwrap();
        out.push_frame_of(Some(1), frame, Vec::new(), true).unwrap();
        let (closed, writer) = start_writer(&out);
        // Wait until some of it, not all, went out.
        while out.lock().chunks.front().is_none_or(|c| c.unwritten) {
            tokio::task::yield_now().await;
        }
        out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
        let mut r = FrameReader::new(theirs);
        let first = tokio::time::timeout(SOON, next(&mut r)).await.unwrap();
        assert!(
            matches!(first, Some(Msg::Stop { cid: 2 })),
            "the reply came first: {first:?}"
        );
        let big = tokio::time::timeout(SOON, next(&mut r)).await.unwrap();
        match big {
            Some(Msg::Yield { cid: 1, pld: got }) => {
                let got: Vec<u8> = crate::ipc::codec::decode(&got).unwrap();
                assert!(got == pld, "the frame's bytes");
            }
            other => panic!("expected the large item, got {other:?}"),
        }
        stop_writer(closed, writer).await;

        // The same while the socket is full in the middle of a fragment:
        // the reply goes out once that fragment ends.
        let (out, theirs) = outbox(100 * 1024);
        let frame = Msg::payload_frame(PayloadMsg::Yield, 1, &pld).unwrap();
        out.push_frame_of(Some(1), frame, Vec::new(), true).unwrap();
        let (closed, writer) = start_writer(&out);
        while !out.lock().chunks.front().is_some_and(Chunk::mid_fragment) {
            tokio::task::yield_now().await;
        }
        out.push_msg(&Msg::Stop { cid: 2 }).unwrap();
        let mut r = FrameReader::new(theirs);
        let got = kinds(&mut r, 2).await;
        let want = [("Stop", 2), ("big", 1)];
        let want: Vec<(String, u64)> = want.iter().map(|(k, c)| (k.to_string(), *c)).collect();
        assert_eq!(got, want);
        stop_writer(closed, writer).await;
    }

    /// However large one frame and the socket's buffer, one turn of the
    /// writer puts at most three turns' worth of it on the wire.
    #[tokio::test]
    async fn one_turn_writes_a_bounded_part_of_a_large_frame() {
        const SIZE: usize = 2 << 20;
        let (out, theirs) = outbox(8 << 20);
        let frame = Msg::payload_frame(PayloadMsg::Yield, 1, &vec![7u8; SIZE]).unwrap();
        out.push_frame_of(Some(1), frame, Vec::new(), true).unwrap();
        let queued = out.lock().pending;
        let (closed, writer) = start_writer(&out);
        let mut turns = Vec::new();
        let mut left = queued;
        while left > 0 {
            tokio::task::yield_now().await;
            let now = out.lock().pending;
            turns.push(left - now);
            left = now;
        }
        let longest = turns.iter().copied().max().unwrap_or(0);
        assert!(
            longest <= 3 * TURN_BYTES,
            "a turn wrote {longest} bytes: {turns:?}"
        );
        let mut r = FrameReader::new(theirs);
        match next(&mut r).await {
            Some(Msg::Yield { cid: 1, pld }) => assert_eq!(pld.len(), SIZE + 4),
            other => panic!("{other:?}"),
        }
        closed.cancel();
        writer.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn frames_arrive_whole_and_in_order_past_a_full_socket() {
        let (out, theirs) = outbox(1024);
        let (closed, writer) = start_writer(&out);
        let big = vec![7u8; 200 * 1024];
        let sender = {
            let out = out.clone();
            tokio::spawn(async move {
                for i in 0..2000u64 {
                    out.room().await;
                    if i % 500 == 250 {
                        let f = Msg::payload_frame(PayloadMsg::Yield, i, &big).unwrap();
                        out.push_frame(f).unwrap();
                    } else {
                        out.push_msg(&ping(i)).unwrap();
                    }
                }
            })
        };
        let mut r = FrameReader::new(theirs);
        for i in 0..2000u64 {
            match tokio::time::timeout(SOON, next(&mut r)).await.unwrap() {
                Some(Msg::Ping { cid }) => assert_eq!(cid, i),
                Some(Msg::Yield { cid, pld }) => {
                    assert_eq!(cid, i);
                    assert_eq!(pld.len(), 200 * 1024 + 3);
                }
                other => panic!("frame {i}: {other:?}"),
            }
        }
        sender.await.unwrap();
        closed.cancel();
        writer.await.unwrap().unwrap();
        assert!(next(&mut r).await.is_none(), "the write side was shut down");
    }

    /// Frames with large `Bytes` spliced in (never copied into the
    /// frame's buffer) arrive byte-identical to the same payload encoded
    /// whole, however the socket cuts the vectored writes, between small
    /// frames.
    #[tokio::test]
    async fn spliced_frames_arrive_as_if_copied() {
        use crate::ipc::frame::append_payload_frame;
        use crate::ipc::shared_bytes::SPLICE_MIN;
        let (out, theirs) = outbox(1000);
        let (closed, writer) = start_writer(&out);
        let sizes = [SPLICE_MIN, 200 * 1024 + 1, (1 << 20) + 3, SPLICE_MIN - 1];
        let items: Vec<crate::Bytes> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                (0..n)
                    .map(|b| (b * 7 + i) as u8)
                    .collect::<Vec<u8>>()
                    .into()
            })
            .collect();
        let sender = {
            let (out, items) = (out.clone(), items.clone());
            tokio::spawn(async move {
                for (i, item) in items.iter().enumerate() {
                    out.room().await;
                    // Of the same dialog: it never goes ahead of its frames.
                    out.push_msg(&ping(9)).unwrap();
                    // A pair of the same `Bytes`, as a tuple: two splices.
                    let mut buf = vec![0xEE; 3]; // bytes before the frame
                    let mut splices = Vec::new();
                    let tag = PayloadMsg::Yield.tag();
                    let pld =
                        append_payload_frame(&mut buf, tag, 9, &(item, item), 1, &mut splices)
                            .unwrap();
                    assert_eq!(pld, 2 * (item.len() + frame_len_width(item.len())));
                    if item.len() >= SPLICE_MIN {
                        assert_eq!(splices.len(), 2, "item {i}: both spliced");
                        for sp in &splices {
                            assert_eq!(sp.bytes.as_ptr(), item.as_ptr(), "not copied");
                        }
                        assert!(buf.len() < 64, "only the header and lengths in the buffer");
                    } else {
                        assert!(splices.is_empty());
                    }
                    out.room().await;
                    out.push_frame_of(Some(9), Frame::from_parts(buf, 3), splices, true)
                        .unwrap();
                }
            })
        };
        let mut r = FrameReader::new(theirs);
        for (i, item) in items.iter().enumerate() {
            let got = tokio::time::timeout(SOON, next(&mut r)).await.unwrap();
            assert!(matches!(got, Some(Msg::Ping { cid: 9 })), "{got:?}");
            let body = r.next(64 << 20, SOON).await.unwrap().unwrap().to_vec();
            let whole = serde_bytes::ByteBuf::from(item.to_vec());
            let want = Frame::with_payload(PayloadMsg::Yield.tag(), 9, &(&whole, &whole)).unwrap();
            let diff = body
                .iter()
                .zip(&want.bytes()[4..])
                .position(|(a, b)| a != b);
            assert!(
                body == want.bytes()[4..],
                "item {i} ({} bytes) arrived altered: {} vs {} bytes, first difference at {diff:?}",
                item.len(),
                body.len(),
                want.bytes().len() - 4
            );
        }
        sender.await.unwrap();
        closed.cancel();
        writer.await.unwrap().unwrap();
    }

    fn frame_len_width(n: usize) -> usize {
        crate::ipc::frame::len_width(n)
    }

    #[tokio::test]
    async fn a_stalled_peer_holds_senders_at_the_high_water_mark() {
        let (out, mut theirs) = outbox(64 * 1024);
        let (closed, writer) = start_writer(&out);
        let chunk = vec![1u8; 16 * 1024];
        let mut queued = 0;
        // Nobody reads: senders must stop being let in.
        while out.has_room() {
            let f = Msg::payload_frame(PayloadMsg::Yield, 1, &chunk).unwrap();
            out.push_frame(f).unwrap();
            queued += 1;
            assert!(queued < 1000, "the buffer grew without bound");
        }
        assert!(out.lock().pending <= HIGH_WATER + chunk.len() + 64);
        let waiting = tokio::spawn({
            let out = out.clone();
            async move { out.room().await }
        });
        // Draining the peer lets them in again.
        let drain = tokio::spawn(async move {
            let mut sink = vec![0u8; 64 * 1024];
            use tokio::io::AsyncReadExt;
            while theirs.read(&mut sink).await.unwrap_or(0) > 0 {}
        });
        tokio::time::timeout(SOON, waiting).await.unwrap().unwrap();
        closed.cancel();
        writer.await.unwrap().unwrap();
        drain.await.unwrap();
    }

    #[tokio::test]
    async fn a_gone_peer_fails_the_writer_and_refuses_senders() {
        let (out, theirs) = outbox(1024);
        drop(theirs);
        let closed = CancellationToken::new();
        let res = out.push_msg(&ping(1));
        let writer_err = tokio::time::timeout(SOON, out.run_writer(&closed))
            .await
            .unwrap();
        assert!(res.is_ok() && writer_err.is_err(), "{res:?} {writer_err:?}");
        assert!(matches!(out.push_msg(&ping(2)), Err(PushError::Closed)));
        assert!(
            out.has_room(),
            "a closed outbox lets senders through to fail"
        );
    }

    #[tokio::test]
    async fn what_was_queued_before_a_close_goes_out() {
        let (out, theirs) = outbox(256);
        for i in 0..100 {
            out.push_msg(&ping(i)).unwrap();
        }
        let closed = CancellationToken::new();
        closed.cancel();
        let writer = {
            let out = out.clone();
            tokio::spawn(async move { out.run_writer(&closed).await })
        };
        let mut r = FrameReader::new(theirs);
        for i in 0..100 {
            assert!(matches!(next(&mut r).await, Some(Msg::Ping { cid }) if cid == i));
        }
        assert!(next(&mut r).await.is_none());
        writer.await.unwrap().unwrap();
    }
}
