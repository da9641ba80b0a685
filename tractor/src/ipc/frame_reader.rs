//! Frames out of a byte stream, many per read.
//!
//! A [`FrameReader`] owns one buffer that it reads into without zeroing
//! it, hands out each complete frame's body as a slice of that buffer, and
//! reads again only when the buffered bytes hold no complete frame. So a
//! burst of small frames costs one syscall, and a connection that carries
//! little holds little: the buffer starts small and doubles only while
//! reads fill it, up to [`READ_AHEAD`].
//!
//! A large frame (16 KiB or more) that a read did not bring whole is read
//! into a buffer of its own instead, and handed over in it: its bytes are
//! copied once, by the kernel, as a raw socket's reader's are. The buffer
//! comes from the connection's [pool](super::buffer_pool), where the
//! frame's consumer gives it back, and grows only as the frame's bytes
//! arrive (past twice [`READ_AHEAD`]), so a peer pays in bytes sent for
//! every byte it makes us hold. (A frame over 128 KiB comes in
//! [fragments](super::fragment), into a buffer made for its announced
//! length whose pages are touched only as bytes land in them.)
//!
//! An announced length is checked against the maximum *before* anything
//! is allocated for it, so a peer that claims a 4 GiB frame costs us four
//! bytes of reading and a clear error. The peer may be silent between
//! frames, but a started frame must be complete within a deadline, so a
//! peer that announces a large frame and dribbles it costs what it sent,
//! for a bounded time.

// `tractor::wire` (the `wire` feature) exposes the reader to tests that
// speak the protocol by hand; without it it is internal.
#![cfg_attr(not(feature = "wire"), allow(unreachable_pub))]

use std::sync::Arc;
use std::time::Duration;

use bytes::BufMut;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::buffer_pool::{BufferPool, POOL_MAX};
use super::fragment::Assembly;
use super::frame::FrameError;
use super::shm_ring::{CONTROL_BODY, CONTROL_PREFIX, Control, RING_MIN, RxRing, ShmLink};

/// What a reader's buffer starts with: enough for the frames of a quiet
/// connection (a handshake, a call and its answer) in one read. A busy
/// one doubles it within a few reads; an idle actor of a thousand-actor
/// tree holds only this, once per channel.
const INITIAL: usize = 2 * 1024;

/// The most a busy connection's buffer grows to for reading runs of
/// frames: the reads that fill it are large enough that syscalls no
/// longer dominate. Only a single larger frame takes it beyond.
const READ_AHEAD: usize = 64 * 1024;

/// A frame whose body is this large and not all buffered yet is read into
/// a buffer of its own and handed over in it ([`Run::Owned`]): its bytes
/// are not copied out of the shared buffer, nor moved to its front when
/// a read ends inside the frame.
const DIRECT_MIN: usize = 16 * 1024;

/// What a read into a large frame's own buffer may bring past the frame's
/// end (then moved to the shared buffer), and what a read for the next
/// frame's prefix after a large frame takes: small enough to copy, large
/// enough that a read which does not fill it shows the socket drained
/// (no read that finds nothing follows).
const SLACK: usize = 4 * 1024;

/// Reads length-prefixed frames (a little-endian `u32` byte count, then
/// the body) from `R`.
pub struct FrameReader<R> {
    io: R,
    /// `buf[start..]` are bytes read and not yet handed out.
    buf: Vec<u8>,
    start: usize,
    /// Bytes the frame handed out last occupies, consumed at the next call.
    handed_out: usize,
    /// The capacity the buffer reads runs of frames with: doubled when a
    /// read fills the buffer, up to [`READ_AHEAD`].
    read_size: usize,
    /// A large frame being read into a buffer of its own (prefix
    /// included), complete once it holds [`Direct::want`] bytes.
    direct: Option<Direct>,
    /// Whether the frame handed out last was `direct`'s, still kept for
    /// the slice [`next`](FrameReader::next) returned.
    direct_handed_out: bool,
    /// Whether the last frame was read into a buffer of its own (the
    /// next prefix is read with a short read, see [`SLACK`]).
    after_direct: bool,
    /// Whether a large frame was read into a buffer of its own before.
    large_seen: bool,
    /// Where buffers for large frames come from, if not fresh.
    pool: Option<Arc<BufferPool>>,
    /// The shared-memory lane, on a unix socket (see [`shm_ring`](super::shm_ring)).
    shm: Option<Box<ShmRx>>,
    /// A large frame coming in fragments (see [`fragment`](super::fragment)),
    /// boxed: most connections never see one.
    asm: Option<Box<Assembly>>,
}

/// A reader's side of the shared-memory lane.
#[derive(Debug)]
struct ShmRx {
    link: Arc<ShmLink>,
    /// The ring we offered, once we did.
    ring: Option<RxRing>,
    /// Whether we offered a ring, or failed to make one: once per
    /// connection.
    offered: bool,
    /// Whether the peer offered its ring: it may only once.
    offer_seen: bool,
}

/// A large frame read into a buffer of its own.
#[derive(Debug)]
struct Direct {
    buf: Vec<u8>,
    /// The frame's length, prefix included.
    want: usize,
}

impl Direct {
    fn is_complete(&self) -> bool {
        self.buf.len() == self.want
    }
}

impl<R> std::fmt::Debug for FrameReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameReader")
            .field("buffered", &(self.buf.len() - self.start))
            .field("capacity", &self.buf.capacity())
            .finish_non_exhaustive()
    }
}

/// What [`FrameReader::next_run`] hands out.
#[derive(Debug)]
pub enum Run<'a> {
    /// Complete frames, in place in the reader's buffer.
    Frames(Frames<'a>),
    /// One large frame, with the buffer it was read into.
    Owned(OwnedFrame),
}

/// A large frame in the buffer it was read into, handed over whole.
#[derive(Debug)]
pub struct OwnedFrame {
    buf: Vec<u8>,
    body: std::ops::Range<usize>,
}

impl OwnedFrame {
    /// The frame's body.
    pub fn body(&self) -> &[u8] {
        &self.buf[self.body.clone()]
    }

    /// Where in the buffer `part` (a slice of [`body`](Self::body))
    /// lies; `None` if it is not part of the body.
    pub fn range_of(&self, part: &[u8]) -> Option<std::ops::Range<usize>> {
        let body = self.body();
        let at = (part.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
        let end = at.checked_add(part.len())?;
        (end <= body.len()).then(|| self.body.start + at..self.body.start + end)
    }

    /// The buffer the frame was read into.
    pub fn into_buf(self) -> Vec<u8> {
        self.buf
    }
}

/// Complete frames back to back, as [`FrameReader::next_run`] hands
/// them out; iterates over their bodies.
#[derive(Debug)]
pub struct Frames<'a> {
    bytes: &'a [u8],
}

impl<'a> Iterator for Frames<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (prefix, rest) = self.bytes.split_first_chunk::<4>()?;
        let len = u32::from_le_bytes(*prefix) as usize;
        // Checked complete when the run was cut; an empty run otherwise.
        let body = rest.get(..len)?;
        self.bytes = &rest[len..];
        Some(body)
    }
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// A reader of the frames `io` carries.
    pub fn new(io: R) -> Self {
        FrameReader {
            io,
            buf: Vec::new(),
            start: 0,
            handed_out: 0,
            read_size: INITIAL,
            direct: None,
            direct_handed_out: false,
            after_direct: false,
            large_seen: false,
            pool: None,
            shm: None,
            asm: None,
        }
    }

    /// Offers the peer a ring of shared memory for its large frames once
    /// one comes, and takes the ring it offers for ours (through `link`,
    /// shared with the connection's writer).
    pub(crate) fn enable_shm(&mut self, link: Arc<ShmLink>) {
        self.shm = Some(Box::new(ShmRx {
            link,
            ring: None,
            offered: false,
            offer_seen: false,
        }));
    }

    /// Reads large frames into buffers taken from `pool`, which the
    /// frames' consumers give back.
    pub(crate) fn recycle_into(&mut self, pool: Arc<BufferPool>) {
        self.pool = Some(pool);
    }

    /// Bytes buffered and not handed out.
    fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// The next frame's body; `Ok(None)` on a clean EOF between frames.
    ///
    /// Between frames the peer may be silent indefinitely; once a frame's
    /// first byte is here, the whole frame must arrive `within` that time,
    /// or the read fails with [`FrameError::Stalled`]. Cancel-safe: bytes
    /// read by a cancelled call stay buffered for the next.
    pub async fn next(
        &mut self,
        max: usize,
        within: Duration,
    ) -> Result<Option<&[u8]>, FrameError> {
        if !self.await_frame(max, within).await? {
            return Ok(None);
        }
        if let Some(want) = self.direct.as_ref().map(|d| d.want) {
            self.offer_ring(want - 4);
            self.direct_handed_out = true;
            self.after_direct = true;
            self.large_seen = true;
            return Ok(self.direct.as_ref().map(|d| &d.buf[4..]));
        }
        let len = self.complete_frame(max)?.unwrap_or(0);
        let body = self.start + 4;
        self.handed_out = 4 + len;
        Ok(Some(&self.buf[body..body + len]))
    }

    /// Waits until a complete frame is here: at `start` of the buffer, or
    /// in `direct`; false on a clean EOF between frames. Control frames
    /// are handled here: a ring reference becomes its frame, in
    /// `direct`; an offer is taken and the next frame awaited; a
    /// fragment's bytes go to the frame in progress, which goes to
    /// `direct` once complete.
    async fn await_frame(&mut self, max: usize, within: Duration) -> Result<bool, FrameError> {
        self.consume_handed_out();
        loop {
            if self.asm.as_ref().is_some_and(|a| a.left > 0) {
                if self.read_fragment(within).await? {
                    return Ok(true);
                }
                continue;
            }
            if !self.await_raw(max, within).await? {
                return match &self.asm {
                    Some(asm) => Err(asm.truncated()),
                    None => Ok(false),
                };
            }
            if self.direct.is_some() || !self.control_at_start() {
                return Ok(true);
            }
            if self.take_control(max)? {
                return Ok(true);
            }
        }
    }

    /// Whether the complete frame at `start` is a control frame.
    fn control_at_start(&self) -> bool {
        self.is_control(self.start)
    }

    /// Whether the prefix at `at` is a control frame's (no message is
    /// empty, so an empty frame's prefix introduces one, lane or not: a
    /// reader without the lane skips offers and refuses references).
    fn is_control(&self, at: usize) -> bool {
        self.buf.get(at..at + 4) == Some(&CONTROL_PREFIX.to_le_bytes()[..])
    }

    /// Handles the control frame at `start`: true if it was a ring
    /// reference, now its frame in `direct`; false if it was consumed
    /// (an offer).
    fn take_control(&mut self, max: usize) -> Result<bool, FrameError> {
        let body = &self.buf[self.start + 4..self.start + 4 + CONTROL_BODY];
        let control = Control::parse(body);
        self.start += 4 + CONTROL_BODY;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        let bad = |reason: String| FrameError::BadRing { reason };
        match control {
            Some(Control::Ref { pos, len }) => {
                let len = len as usize;
                if len > max {
                    return Err(FrameError::Oversized {
                        len: len as u64,
                        max,
                    });
                }
                let Some(ring) = self.shm.as_mut().and_then(|s| s.ring.as_mut()) else {
                    return Err(bad("a reference, but no ring was offered".into()));
                };
                // Checked before anything is allocated for it.
                if len > ring.capacity() {
                    return Err(bad(format!(
                        "a {len}-byte reference into a {}-byte ring",
                        ring.capacity()
                    )));
                }
                let mut buf = match &self.pool {
                    Some(pool) if 4 + len <= POOL_MAX / 2 => pool.take(4 + len),
                    _ => Vec::with_capacity(4 + len),
                };
                // The prefix's place: a frame in `direct` starts with it.
                buf.extend_from_slice(&[0; 4]);
                ring.take(pos, len, &mut buf).map_err(bad)?;
                self.direct = Some(Direct {
                    want: buf.len(),
                    buf,
                });
                Ok(true)
            }
            Some(Control::Fragment { total, len }) => {
                let asm = self.asm.take().map(|a| *a);
                self.asm = Some(Box::new(Assembly::accept(asm, total, len, max)?));
                Ok(false)
            }
            Some(Control::Offer(offer)) => {
                // A peer offers one ring: a second offer could only make
                // us open files in a loop.
                if let Some(shm) = self.shm.as_mut() {
                    if shm.offer_seen {
                        return Err(bad("a second ring offered".into()));
                    }
                    shm.offer_seen = true;
                    shm.link.accept_offer(&offer);
                }
                Ok(false)
            }
            None => Err(bad("an unknown control frame".into())),
        }
    }

    /// Reads the current fragment's bytes into the frame in progress:
    /// those buffered first, then from the socket, all within `within`
    /// (a started fragment must arrive in time, as a frame must). True
    /// once the frame is complete, handed to `direct`. Cancel-safe: what
    /// a cancelled call read stays in the frame.
    async fn read_fragment(&mut self, within: Duration) -> Result<bool, FrameError> {
        let FrameReader {
            io,
            buf,
            start,
            asm,
            ..
        } = self;
        let Some(frag) = asm.as_mut() else {
            return Ok(false);
        };
        let have = (buf.len() - *start).min(frag.left);
        frag.buf.extend_from_slice(&buf[*start..*start + have]);
        frag.left -= have;
        *start += have;
        if *start == buf.len() {
            buf.clear();
            *start = 0;
        }
        if frag.left > 0 {
            // The rest is read straight into the frame, with up to
            // `SLACK` bytes past it if the frame's buffer has that room to
            // spare (it is never grown for them): the next fragment's
            // header, most often, which goes back to the emptied shared
            // buffer. One read per fragment, and no copy of its bytes.
            let read = async {
                while frag.left > 0 {
                    frag.buf.reserve(frag.left);
                    let spare = frag.buf.capacity() - frag.buf.len() - frag.left;
                    let room = frag.left + spare.min(SLACK);
                    let at = frag.buf.len();
                    let n = io.read_buf(&mut (&mut frag.buf).limit(room)).await?;
                    if n == 0 {
                        return Err(frag.truncated());
                    }
                    if n > frag.left {
                        let end = at + frag.left;
                        buf.extend_from_slice(&frag.buf[end..]);
                        frag.buf.truncate(end);
                        frag.left = 0;
                    } else {
                        frag.left -= n;
                    }
                }
                Ok(())
            };
            match tokio::time::timeout(within, read).await {
                Ok(read) => read?,
                Err(_) => return Err(frag.stalled(within)),
            }
        }
        if !frag.is_complete() {
            return Ok(false);
        }
        if let Some(done) = asm.take() {
            self.direct = Some(Direct {
                want: done.buf.len(),
                buf: done.buf,
            });
        }
        Ok(true)
    }

    /// Offers the peer a ring once a large frame came inline, if the
    /// lane is on.
    fn offer_ring(&mut self, body: usize) {
        let Some(shm) = self.shm.as_mut().filter(|s| !s.offered) else {
            return;
        };
        if body < RING_MIN {
            return;
        }
        shm.offered = true;
        match RxRing::create() {
            Ok((ring, offer)) => {
                shm.ring = Some(ring);
                shm.link.send_offer(offer);
            }
            Err(e) => {
                tracing::debug!(target: "tractor::ipc", "large frames stay on the socket: no ring: {e}");
            }
        }
    }

    /// [`await_frame`](Self::await_frame) without the control frames.
    async fn await_raw(&mut self, max: usize, within: Duration) -> Result<bool, FrameError> {
        // The common case under load: the frame is already here, and
        // needs neither a read nor a deadline.
        if self.direct.is_none() {
            if self.complete_frame(max)?.is_some() {
                return Ok(true);
            }
            if self.buffered() == 0 {
                // After a large frame, the next is likely large too: what
                // this read brings of its body is copied to its own buffer.
                let limit = if self.after_direct { SLACK } else { usize::MAX };
                if self.fill(4, limit).await? == 0 {
                    return Ok(false);
                }
            }
            // Most often that read brought the whole frame: no deadline
            // (a clock read and a timer) to set up.
            if self.complete_frame(max)?.is_some() {
                return Ok(true);
            }
        }
        if self.direct.as_ref().is_some_and(Direct::is_complete) {
            return Ok(true);
        }
        match tokio::time::timeout(within, self.read_rest(max)).await {
            Ok(done) => done.map(|()| true),
            Err(_) => Err(self.stalled(within)),
        }
    }

    /// The next frame and every complete frame buffered after it, at
    /// once: what one read brought in, for a loop that handles them
    /// without a call per frame. Reads, waits and fails as
    /// [`next`](Self::next) does for the first frame; a later one
    /// announcing more than `max` is left for the next call to refuse.
    ///
    /// A large frame that was not all buffered when its prefix was read
    /// comes alone, in the buffer of its own it was read into
    /// ([`Run::Owned`], see [`DIRECT_MIN`]).
    pub async fn next_run(
        &mut self,
        max: usize,
        within: Duration,
    ) -> Result<Option<Run<'_>>, FrameError> {
        if !self.await_frame(max, within).await? {
            return Ok(None);
        }
        if let Some(direct) = self.direct.take() {
            self.offer_ring(direct.want - 4);
            self.after_direct = true;
            self.large_seen = true;
            return Ok(Some(Run::Owned(OwnedFrame {
                body: 4..direct.buf.len(),
                buf: direct.buf,
            })));
        }
        let first = self.complete_frame(max)?.unwrap_or(0);
        let body = self.start + 4;
        let mut end = body + first;
        while let Some(prefix) = self.buf.get(end..end + 4) {
            let mut le = [0u8; 4];
            le.copy_from_slice(prefix);
            // A control frame is handled on its own, by the next call.
            if self.is_control(end) {
                break;
            }
            let len = u32::from_le_bytes(le) as usize;
            if len > max || self.buf.len() - end - 4 < len {
                break;
            }
            end += 4 + len;
        }
        self.handed_out = end - self.start;
        Ok(Some(Run::Frames(Frames {
            bytes: &self.buf[self.start..end],
        })))
    }

    /// The body length of the frame at `start` if it is all buffered.
    fn complete_frame(&self, max: usize) -> Result<Option<usize>, FrameError> {
        let Some(len) = self.announced(max)? else {
            return Ok(None);
        };
        Ok((self.buffered() - 4 >= len).then_some(len))
    }

    /// The length the buffered prefix announces, once all 4 bytes are here.
    fn announced(&self, max: usize) -> Result<Option<usize>, FrameError> {
        let Some(prefix) = self.buf.get(self.start..self.start + 4) else {
            return Ok(None);
        };
        let mut le = [0u8; 4];
        le.copy_from_slice(prefix);
        if self.is_control(self.start) {
            return Ok(Some(CONTROL_BODY));
        }
        let len = u32::from_le_bytes(le) as usize;
        if len > max {
            return Err(FrameError::Oversized {
                len: len as u64,
                max,
            });
        }
        Ok(Some(len))
    }

    /// Reads until the started frame is complete, in the buffer or (a
    /// large one) in `direct`.
    async fn read_rest(&mut self, max: usize) -> Result<(), FrameError> {
        loop {
            if let Some(direct) = &mut self.direct {
                return read_direct(&mut self.io, direct, &mut self.buf).await;
            }
            if self.complete_frame(max)?.is_some() {
                return Ok(());
            }
            let want = match self.announced(max)? {
                Some(len) if len >= DIRECT_MIN => {
                    self.start_direct(4 + len);
                    continue;
                }
                Some(len) => 4 + len,
                None => 4,
            };
            if self.fill(want, usize::MAX).await? == 0 {
                return Err(self.truncated(want));
            }
        }
    }

    /// Moves the started frame of `want` bytes (prefix included), all
    /// that is buffered, to a buffer of its own for the rest to be read
    /// into. On a connection busy with large frames (one came before, or
    /// reads fill the read-ahead) the buffer has room for the whole frame
    /// and [`SLACK`] if that is at most twice [`READ_AHEAD`]; otherwise it
    /// holds what arrived, twice over, and grows as more does, so a peer
    /// pays in bytes sent for every byte it makes us hold.
    fn start_direct(&mut self, want: usize) {
        let have = &self.buf[self.start..];
        let busy = self.large_seen || self.read_size == READ_AHEAD;
        let cap = if busy && want <= 2 * READ_AHEAD {
            want + SLACK
        } else {
            (2 * have.len()).max(self.read_size).min(want)
        };
        let mut buf = match &self.pool {
            // What the pool keeps: a buffer it could hand out again.
            Some(pool) if cap <= POOL_MAX / 2 => pool.take(cap),
            _ => Vec::with_capacity(cap),
        };
        buf.extend_from_slice(have);
        self.buf.clear();
        self.start = 0;
        self.direct = Some(Direct { buf, want });
    }

    /// The error for an EOF inside a frame of `want` bytes (prefix
    /// included).
    fn truncated(&self, want: usize) -> FrameError {
        match want {
            4 => FrameError::Truncated {
                got: self.buffered(),
                want: 4,
            },
            _ => FrameError::Truncated {
                got: self.buffered() - 4,
                want: want - 4,
            },
        }
    }

    /// Makes room to read towards a frame of `want` bytes (prefix
    /// included) of which `buffered()` are here. A buffer short of room
    /// first moves its bytes to the front; a buffer below the read size grows to it;
    /// a frame larger than that grows the buffer only while reads fill
    /// it, so a peer pays in bytes sent for every byte it makes us hold.
    fn make_room(&mut self, want: usize) {
        let room = self.buf.capacity() - self.buf.len();
        if self.start > 0 && room < self.buf.capacity() / 4 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        let cap = self.buf.capacity();
        let target = if self.buf.len() < cap {
            self.read_size
        } else {
            // Full of one incomplete frame (`want > cap`): double, up to it.
            cap.saturating_mul(2)
                .max(self.read_size)
                .min(want.max(self.read_size))
        };
        if target > cap {
            self.buf.reserve_exact(target - self.buf.len());
        }
    }

    /// One read towards a frame of `want` bytes, of at most `limit`
    /// bytes; the bytes read, 0 at EOF.
    async fn fill(&mut self, want: usize, limit: usize) -> Result<usize, FrameError> {
        self.make_room(want);
        let room = self.buf.capacity() - self.buf.len();
        // Only the read right after a large frame is short.
        self.after_direct = false;
        let n = if limit < room {
            self.io.read_buf(&mut (&mut self.buf).limit(limit)).await?
        } else {
            self.io.read_buf(&mut self.buf).await?
        };
        if n == room && self.read_size < READ_AHEAD {
            // Reads fill the buffer: the peer sends in runs.
            self.read_size = (self.read_size * 2).min(READ_AHEAD);
        }
        Ok(n)
    }

    /// Drops the frame handed out last. An emptied buffer starts over at
    /// its front.
    fn consume_handed_out(&mut self) {
        if std::mem::take(&mut self.direct_handed_out) {
            self.direct = None;
        }
        self.start += std::mem::take(&mut self.handed_out);
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// The stall error for the frame being read.
    fn stalled(&self, within: Duration) -> FrameError {
        if let Some(direct) = &self.direct {
            return FrameError::Stalled {
                got: direct.buf.len() - 4,
                want: direct.want - 4,
                within,
            };
        }
        match self.announced(usize::MAX) {
            Ok(Some(len)) => FrameError::Stalled {
                got: self.buffered() - 4,
                want: len,
                within,
            },
            _ => FrameError::Stalled {
                got: 0,
                want: 4,
                within,
            },
        }
    }
}

/// Reads the rest of a large frame into its own buffer, growing it (by
/// doubling, up to the frame) only as reads fill it. A read may bring
/// up to [`SLACK`] bytes past the frame's end, if the buffer has room:
/// they go to `shared` (empty: all that was buffered went into the
/// frame's buffer), so a read of the frame's last bytes need not be
/// followed by one that finds nothing.
async fn read_direct<R: AsyncRead + Unpin>(
    io: &mut R,
    direct: &mut Direct,
    shared: &mut Vec<u8>,
) -> Result<(), FrameError> {
    let buf = &mut direct.buf;
    while buf.len() < direct.want {
        if buf.len() == buf.capacity() {
            let grown = buf.capacity().saturating_mul(2).min(direct.want);
            buf.reserve_exact(grown - buf.len());
        }
        let room = buf.capacity().min(direct.want + SLACK) - buf.len();
        if io.read_buf(&mut (&mut *buf).limit(room)).await? == 0 {
            return Err(FrameError::Truncated {
                got: buf.len() - 4,
                want: direct.want - 4,
            });
        }
    }
    shared.extend_from_slice(&buf[direct.want..]);
    buf.truncate(direct.want);
    Ok(())
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;

    use super::*;

    const SOON: Duration = Duration::from_secs(5);

    fn frames(run: Run<'_>) -> Frames<'_> {
        match run {
            Run::Frames(f) => f,
            Run::Owned(o) => panic!("a small frame came owned: {o:?}"),
        }
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_le_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    #[tokio::test]
    async fn many_frames_come_out_of_one_read() {
        let mut bytes = Vec::new();
        // (No frame is empty: an empty prefix starts a control frame.)
        for i in 1..100u8 {
            bytes.extend(frame(&vec![i; i as usize]));
        }
        let mut r = FrameReader::new(&bytes[..]);
        for i in 1..100u8 {
            let body = r.next(1024, SOON).await.unwrap().unwrap();
            assert_eq!(body, &vec![i; i as usize][..]);
        }
        assert!(r.next(1024, SOON).await.unwrap().is_none());
    }

    /// A run is every complete frame buffered, in order; a partial frame
    /// or one above the maximum is left for the next call (which reads
    /// the rest, or refuses it).
    #[tokio::test]
    async fn a_run_hands_out_the_complete_frames_buffered_and_stops_short_of_the_rest() {
        let mut bytes = Vec::new();
        for i in 0..5u8 {
            bytes.extend(frame(&[i; 3]));
        }
        bytes.extend(frame(&[9; 100]));
        bytes.extend(frame(b"tail"));
        let (mut peer, us) = tokio::io::duplex(1 << 16);
        peer.write_all(&bytes[..bytes.len() - 2]).await.unwrap();
        let mut r = FrameReader::new(us);
        let run: Vec<Vec<u8>> = frames(r.next_run(50, SOON).await.unwrap().unwrap())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(
            run,
            (0..5u8).map(|i| vec![i; 3]).collect::<Vec<_>>(),
            "stops before the oversized frame"
        );
        assert!(matches!(
            r.next_run(50, SOON).await,
            Err(FrameError::Oversized { len: 100, max: 50 })
        ));
        let mut r = FrameReader::new(&bytes[..]);
        let all: Vec<usize> = frames(r.next_run(1000, SOON).await.unwrap().unwrap())
            .map(<[u8]>::len)
            .collect();
        assert_eq!(all, [3, 3, 3, 3, 3, 100, 4]);
        assert!(r.next_run(1000, SOON).await.unwrap().is_none());

        // The partial last frame comes in the next run, once complete.
        let (mut peer, us) = tokio::io::duplex(1 << 16);
        let mut r = FrameReader::new(us);
        peer.write_all(&bytes[..bytes.len() - 2]).await.unwrap();
        let first: Vec<usize> = frames(r.next_run(1000, SOON).await.unwrap().unwrap())
            .map(<[u8]>::len)
            .collect();
        assert_eq!(first, [3, 3, 3, 3, 3, 100]);
        peer.write_all(&bytes[bytes.len() - 2..]).await.unwrap();
        let rest: Vec<Vec<u8>> = frames(r.next_run(1000, SOON).await.unwrap().unwrap())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(rest, [b"tail".to_vec()]);
    }

    /// A large frame is handed over in the buffer it was read into, and
    /// what was read past it is the next run.
    #[tokio::test]
    async fn a_large_frame_comes_alone_and_owned() {
        let big = vec![3u8; 4 * DIRECT_MIN + 10];
        let mut bytes = frame(&big);
        bytes.extend(frame(b"next"));
        let mut r = FrameReader::new(&bytes[..]);
        let Run::Owned(owned) = r.next_run(1 << 20, SOON).await.unwrap().unwrap() else {
            panic!("a large frame comes owned");
        };
        assert_eq!(owned.body(), &big[..]);
        let part = &owned.body()[5..9];
        let part_ptr = part.as_ptr();
        let range = owned.range_of(part).unwrap();
        assert!(owned.range_of(b"elsewhere").is_none());
        let buf = owned.into_buf();
        assert_eq!(
            buf[range.clone()].as_ptr(),
            part_ptr,
            "the same bytes, not a copy"
        );
        assert_eq!(range.len(), 4);
        let rest: Vec<Vec<u8>> = frames(r.next_run(1 << 20, SOON).await.unwrap().unwrap())
            .map(<[u8]>::to_vec)
            .collect();
        assert_eq!(rest, [b"next".to_vec()]);
        assert!(r.next_run(1 << 20, SOON).await.unwrap().is_none());
    }

    /// Large frames are read into buffers of their own, whatever follows
    /// them: equal ones, longer or shorter ones, small ones, the end.
    #[tokio::test]
    async fn large_frames_come_owned_among_any_others() {
        let bodies: Vec<Vec<u8>> = [
            20_000, 20_000, 20_000, 1, 30_000, 18_000, 200_000, 3, 40_000, 16_384, 16_383,
        ]
        .iter()
        .enumerate()
        .map(|(i, &n)| vec![i as u8; n])
        .collect();
        let mut bytes = Vec::new();
        for b in &bodies {
            bytes.extend(frame(b));
        }
        for pipe in [7, 1000, 64 * 1024, 1 << 20] {
            let (mut peer, us) = tokio::io::duplex(pipe);
            let sent = bytes.clone();
            let writer = tokio::spawn(async move { peer.write_all(&sent).await.unwrap() });
            let pool = Arc::new(BufferPool::default());
            let mut r = FrameReader::new(us);
            r.recycle_into(pool.clone());
            let mut got: Vec<(Vec<u8>, bool)> = Vec::new();
            while let Some(run) = r.next_run(1 << 20, SOON).await.unwrap() {
                match run {
                    Run::Owned(o) => {
                        got.push((o.body().to_vec(), true));
                        pool.give(o.into_buf());
                    }
                    Run::Frames(f) => got.extend(f.map(|b| (b.to_vec(), false))),
                }
            }
            writer.await.unwrap();
            assert_eq!(got.len(), bodies.len(), "pipe {pipe}");
            for (i, ((body, owned), sent)) in got.iter().zip(&bodies).enumerate() {
                assert_eq!(body, sent, "frame {i}, pipe {pipe}");
                assert!(
                    !owned || sent.len() >= DIRECT_MIN,
                    "small frame {i} came owned"
                );
            }
            // A stream of equal large frames is read straight into buffers.
            assert!(got[..3].iter().all(|(_, owned)| *owned), "pipe {pipe}");
        }
    }

    #[tokio::test]
    async fn frames_split_across_reads_are_reassembled() {
        let (mut peer, us) = tokio::io::duplex(7);
        let mut bytes = Vec::new();
        let bodies: Vec<Vec<u8>> = (0..50u32)
            .map(|i| (0..=i * 37).map(|b| b as u8).collect())
            .collect();
        for b in &bodies {
            bytes.extend(frame(b));
        }
        let writer = tokio::spawn(async move {
            peer.write_all(&bytes).await.unwrap();
        });
        let mut r = FrameReader::new(us);
        for b in &bodies {
            assert_eq!(r.next(1 << 20, SOON).await.unwrap().unwrap(), &b[..]);
        }
        assert!(r.next(1 << 20, SOON).await.unwrap().is_none());
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn a_large_frame_grows_the_buffer_only_as_it_arrives_and_is_released() {
        let (mut peer, us) = tokio::io::duplex(1024);
        let mut head = (60u32 << 20).to_le_bytes().to_vec();
        head.extend_from_slice(&[7; 5000]);
        let dribbler = tokio::spawn(async move {
            peer.write_all(&head).await.unwrap();
            peer
        });
        let mut r = FrameReader::new(us);
        let err = r
            .next(64 << 20, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::Stalled { got: 5000, want, .. } if want == 60 << 20),
            "{err}"
        );
        // Read into a buffer of its own, which holds what arrived and a
        // read's worth more, not what was announced.
        let held = r.buf.capacity() + r.direct.as_ref().map_or(0, |d| d.buf.capacity());
        assert!(held <= INITIAL + READ_AHEAD.max(2 * 5004), "{held}");
        drop(dribbler.await.unwrap());

        let big = vec![9u8; 3 << 20];
        let (mut peer, us) = tokio::io::duplex(64 * 1024);
        let writer = tokio::spawn(async move {
            peer.write_all(&frame(&big)).await.unwrap();
            peer.write_all(&frame(b"after")).await.unwrap();
        });
        let mut r = FrameReader::new(us);
        assert_eq!(r.next(4 << 20, SOON).await.unwrap().unwrap().len(), 3 << 20);
        assert_eq!(r.next(4 << 20, SOON).await.unwrap().unwrap(), b"after");
        assert!(r.buf.capacity() <= READ_AHEAD, "{}", r.buf.capacity());
        writer.await.unwrap();

        // On a quiet connection a large frame's own buffer, too, holds
        // what arrived, not what was announced.
        let (mut peer, us) = tokio::io::duplex(1024);
        let mut head = 100_000u32.to_le_bytes().to_vec();
        head.extend_from_slice(&[7; 10]);
        peer.write_all(&head).await.unwrap();
        let mut r = FrameReader::new(us);
        let err = r
            .next(1 << 20, Duration::from_millis(50))
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Stalled {
                    got: 10,
                    want: 100_000,
                    ..
                }
            ),
            "{err}"
        );
        let held = r.buf.capacity() + r.direct.as_ref().map_or(0, |d| d.buf.capacity());
        assert!(held <= 2 * INITIAL, "{held}");
        drop(peer);
    }

    #[tokio::test]
    async fn oversized_is_refused_without_allocating() {
        let bytes = u32::MAX.to_le_bytes();
        let mut r = FrameReader::new(&bytes[..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(matches!(err, FrameError::Oversized { .. }), "{err}");
        assert!(r.buf.capacity() <= INITIAL);
    }

    /// A reader with the shared-memory lane on (no peer's ring can be
    /// opened: its pid is no process's).
    fn with_lane<R: AsyncRead + Unpin>(io: R) -> FrameReader<R> {
        let mut r = FrameReader::new(io);
        let link = ShmLink::new(u32::MAX, Arc::new(tokio::sync::Notify::new()));
        r.enable_shm(link);
        r
    }

    #[tokio::test]
    async fn a_ring_reference_needs_a_ring_offered() {
        use crate::ipc::shm_ring::Control;
        let frame = Control::Ref { pos: 0, len: 100 }.frame();
        let mut r = with_lane(&frame[..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(matches!(err, FrameError::BadRing { .. }), "{err}");
        let mut unknown = frame;
        unknown[4] = 77;
        let mut r = with_lane(&unknown[..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(matches!(err, FrameError::BadRing { .. }), "{err}");
        let mut r = with_lane(&frame[..10]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { .. }), "{err}");
    }

    #[tokio::test]
    async fn an_offer_that_cannot_be_opened_is_skipped_and_a_second_refused() {
        use crate::ipc::shm_ring::{Control, Offer};
        let offer = Control::Offer(Offer {
            fd: 3,
            size: 1 << 20,
            token: 1,
        })
        .frame();
        let mut bytes = offer.to_vec();
        bytes.extend_from_slice(&frame(b"after"));
        bytes.extend_from_slice(&offer);
        let mut r = with_lane(&bytes[..]);
        assert_eq!(r.next(1024, SOON).await.unwrap(), Some(&b"after"[..]));
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(
            matches!(err, FrameError::BadRing { .. }),
            "a second offer: {err}"
        );
    }

    /// With the lane on, a ring reference among small frames ends their
    /// run; the frame it refers to comes next, owned, then the rest.
    #[tokio::test]
    async fn a_ring_frame_comes_owned_between_runs() {
        use crate::ipc::shm_ring::{Control, TxRing};
        let mut r = with_lane(&[][..]);
        // Our reader made the ring (as after a large frame) and the
        // "peer" writes into it.
        r.offer_ring(RING_MIN);
        let (ring, offer) = {
            let shm = r.shm.as_mut().unwrap();
            let (offer, _) = shm.link.take_news();
            (shm.ring.is_some(), offer.unwrap())
        };
        assert!(ring, "a ring was made");
        let mut tx = TxRing::open(std::process::id(), &offer).unwrap();
        let body = vec![5u8; RING_MIN];
        let pos = tx.put(&[std::io::IoSlice::new(&body)]).unwrap();
        let mut bytes = frame(b"one");
        bytes.extend_from_slice(&frame(b"two"));
        bytes.extend_from_slice(
            &Control::Ref {
                pos,
                len: body.len() as u32,
            }
            .frame(),
        );
        bytes.extend_from_slice(&frame(b"three"));
        r.io = &bytes[..];
        let got = frames(r.next_run(1 << 20, SOON).await.unwrap().unwrap()).collect::<Vec<_>>();
        assert_eq!(got, [&b"one"[..], b"two"]);
        match r.next_run(1 << 20, SOON).await.unwrap().unwrap() {
            Run::Owned(o) => assert_eq!(o.body(), &body[..]),
            Run::Frames(f) => panic!("the ring's frame came in place: {f:?}"),
        }
        let got = frames(r.next_run(1 << 20, SOON).await.unwrap().unwrap()).collect::<Vec<_>>();
        assert_eq!(got, [&b"three"[..]]);
    }

    /// A reader without the lane (a tool speaking the wire protocol, a
    /// connection before its handshake) skips an offer and refuses a
    /// reference.
    #[tokio::test]
    async fn without_the_lane_offers_are_skipped_and_references_refused() {
        use crate::ipc::shm_ring::{Control, Offer};
        let mut bytes = Control::Offer(Offer {
            fd: 3,
            size: 1 << 20,
            token: 1,
        })
        .frame()
        .to_vec();
        bytes.extend_from_slice(&frame(b"x"));
        bytes.extend_from_slice(&Control::Ref { pos: 0, len: 9 }.frame());
        let mut r = FrameReader::new(&bytes[..]);
        assert_eq!(r.next(1024, SOON).await.unwrap(), Some(&b"x"[..]));
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(matches!(err, FrameError::BadRing { .. }), "{err}");
    }

    /// The fragment of a frame of `total` body bytes carrying `part`.
    fn fragment(total: usize, part: &[u8]) -> Vec<u8> {
        let mut f = Control::Fragment {
            total: total as u64,
            len: part.len() as u32,
        }
        .frame()
        .to_vec();
        f.extend_from_slice(part);
        f
    }

    #[tokio::test]
    async fn a_fragmented_frame_comes_whole_after_the_frames_between_its_fragments() {
        use super::super::fragment::FRAGMENT;
        let body: Vec<u8> = (0..3 * FRAGMENT + 5).map(|i| (i % 253) as u8).collect();
        let mut bytes = Vec::new();
        for (k, part) in body.chunks(FRAGMENT).enumerate() {
            bytes.extend_from_slice(&fragment(body.len(), part));
            bytes.extend_from_slice(&frame(&[k as u8 + 1]));
        }
        // Written in pieces that end anywhere, as a socket may; and all
        // at once, so that a fragment's read brings the frames after it.
        for piece in [7_000, bytes.len()] {
            let (mut peer, us) = tokio::io::duplex(1 << 20);
            let bytes = bytes.clone();
            let writer = tokio::spawn(async move {
                for piece in bytes.chunks(piece) {
                    peer.write_all(piece).await.unwrap();
                }
                peer
            });
            let mut r = FrameReader::new(us);
            for k in 1..=3u8 {
                assert_eq!(r.next(1 << 20, SOON).await.unwrap(), Some(&[k][..]));
            }
            // Its last fragment came: the frame, then the frame after it.
            assert_eq!(r.next(1 << 20, SOON).await.unwrap(), Some(&body[..]));
            assert_eq!(r.next(1 << 20, SOON).await.unwrap(), Some(&[4u8][..]));
            drop(writer.await.unwrap());
            assert_eq!(r.next(1 << 20, SOON).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn a_bad_fragment_or_a_frame_left_unfinished_fails() {
        // Another frame's fragment while one is in progress.
        let mut bytes = fragment(100, &[1; 10]);
        bytes.extend_from_slice(&fragment(200, &[1; 10]));
        let mut r = FrameReader::new(&bytes[..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(matches!(err, FrameError::BadFragment { .. }), "{err}");
        // Over the maximum: refused before its bytes are read.
        let bytes = fragment(1 << 20, &[1; 10]);
        let mut r = FrameReader::new(&bytes[..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(matches!(err, FrameError::Oversized { .. }), "{err}");
        // The connection ends between two fragments, or inside one.
        let mut bytes = fragment(100, &[1; 10]);
        bytes.extend_from_slice(&frame(&[9]));
        let mut r = FrameReader::new(&bytes[..]);
        assert_eq!(r.next(1024, SOON).await.unwrap(), Some(&[9u8][..]));
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got: 10, want: 100 }),
            "{err}"
        );
        let bytes = fragment(100, &[1; 10]);
        let mut r = FrameReader::new(&bytes[..bytes.len() - 4]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got: 6, want: 100 }),
            "{err}"
        );
        // A started fragment must arrive in time.
        let (mut peer, us) = tokio::io::duplex(1024);
        peer.write_all(&fragment(100, &[1; 10])[..30])
            .await
            .unwrap();
        let mut r = FrameReader::new(us);
        let err = r.next(1024, Duration::from_millis(50)).await.unwrap_err();
        assert!(
            matches!(err, FrameError::Stalled { want: 100, .. }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn truncation_names_what_arrived() {
        let mut r = FrameReader::new(&[5u8, 0, 0, 0, 1, 2][..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got: 2, want: 5 }),
            "{err}"
        );
        let mut r = FrameReader::new(&[5u8, 0][..]);
        let err = r.next(1024, SOON).await.unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got: 2, want: 4 }),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_stalled_prefix_fails_and_silence_is_not_a_stall() {
        let (mut peer, us) = tokio::io::duplex(1024);
        let mut r = FrameReader::new(us);
        let idle = tokio::time::timeout(
            Duration::from_millis(200),
            r.next(1024, Duration::from_millis(20)),
        )
        .await;
        assert!(idle.is_err(), "an idle peer was treated as stalled");
        peer.write_all(&[1, 0]).await.unwrap();
        let err = r.next(1024, Duration::from_millis(50)).await.unwrap_err();
        assert!(
            matches!(
                err,
                FrameError::Stalled {
                    got: 0,
                    want: 4,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_busy_connection_reads_in_larger_runs() {
        let mut bytes = Vec::new();
        while bytes.len() < 1 << 20 {
            bytes.extend(frame(b"small item"));
        }
        let mut r = FrameReader::new(&bytes[..]);
        while r.next(1024, SOON).await.unwrap().is_some() {}
        assert_eq!(r.read_size, READ_AHEAD);
    }
}
