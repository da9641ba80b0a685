//! Stream items a generator has ready, sent as one batch.
//!
//! A one-way stream endpoint's items come from a `Stream` the runtime
//! polls itself, so it can see which items are ready at once. Those are
//! encoded back to back into one buffer and queued on the channel with
//! one lock, one wake of the writer and one record of the bytes sent,
//! instead of one of each per item: the window and byte-window checks
//! stay per item (cheap atomics), the rest is per batch.
//!
//! A batch never waits with items in it: before waiting for window, byte
//! window, room in the write buffer or the generator's next item, what it
//! holds is queued. So batching delays no item behind one that is not
//! ready yet, and the credit the receiver returns for queued items can
//! always come back.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::CtxCore;
use super::stream::{check_open, encode_error, take_credits_now, wait_byte_room, wait_credit};
use crate::ipc::frame::{self, Frame};
use crate::ipc::shared_bytes::Splice;
use crate::ipc::{COALESCE_MAX, PayloadMsg, WINDOW_BYTES};
use crate::runtime::error::Error;

/// Frame bytes past which a batch is queued without waiting for more
/// items: large enough that the per-batch costs vanish per item, small
/// enough that the writer starts early and the buffer stays in cache.
const BATCH_BYTES: usize = 16 * 1024;

/// How long a batch gathers items that are always ready (a generator
/// that computes each one as it is polled, however slowly) before it is
/// queued anyway. Checked at a batch's 2nd, 4th, 8th ... item and every
/// [`AGE_EVERY`] items past that: a slow generator's batch goes at its
/// second item, and an item waits at most about this long or as many
/// items' making as came before it in the batch (at most that many),
/// while a fast stream reads the clock (tens of nanoseconds in a VM) a
/// few times per batch of a thousand items, not every fourth item.
const MAX_AGE: Duration = Duration::from_millis(1);
const AGE_EVERY: usize = 64;

/// How much window a batch takes at once when the receiver granted it:
/// one atomic update of the window per this many items, not per item.
const CREDIT_GRAB: usize = 64;

/// Encoded stream items of one dialog, not yet queued.
pub(crate) struct Batch<'c> {
    core: &'c CtxCore,
    /// Messages of window taken from the dialog and not used yet (given
    /// back when the batch is dropped).
    credit: usize,
    /// Whole frames, back to back.
    buf: Vec<u8>,
    /// Their payload bytes (what the byte window counts).
    pld: usize,
    /// How many.
    items: usize,
    /// When the first of them was added.
    since: Instant,
    /// The width of the last item's payload-length varint: the guess for
    /// the next (see [`frame::append_payload_frame`]).
    len_width: usize,
    /// The large [`Bytes`](crate::Bytes) of the item being added, spliced
    /// into its frame (empty but for such an item).
    splices: Vec<Splice>,
}

impl<'c> Batch<'c> {
    pub(crate) fn new(core: &'c CtxCore) -> Self {
        Batch {
            core,
            credit: 0,
            buf: Vec::new(),
            pld: 0,
            items: 0,
            since: Instant::now(),
            len_width: 1,
            splices: Vec::new(),
        }
    }

    /// Whether the batch should be queued before more items are gathered.
    pub(crate) fn is_full(&self) -> bool {
        self.buf.len() >= BATCH_BYTES
            || ((self.items.is_power_of_two() || self.items.is_multiple_of(AGE_EVERY))
                && self.items > 1
                && self.since.elapsed() >= MAX_AGE)
    }

    /// Adds `item`, taking its window, if that is there now. A plain
    /// function, so a stream's hot loop pays no future's state per item:
    /// [`Pushed::NoRoom`] leaves the item and the batch as they were, for
    /// the caller to [`wait_room`](Self::wait_room) and try again. An item
    /// of [`COALESCE_MAX`] bytes or more is [`Pushed::Large`]: it goes out
    /// at once, in the buffer it was encoded into (with the large
    /// [`Bytes`](crate::Bytes) in it spliced, not copied), by
    /// [`send_large`](Self::send_large).
    pub(crate) fn push_now<T: Serialize + ?Sized>(&mut self, item: &T) -> Result<Pushed, Error> {
        let core = self.core;
        check_open(core)?;
        if !core.shared.flow.overrun {
            if self.credit == 0 {
                self.credit = take_credits_now(core, CREDIT_GRAB)?;
            }
            if self.credit == 0 || core.shared.unacked_bytes() + self.pld >= WINDOW_BYTES {
                return Ok(Pushed::NoRoom);
            }
            self.credit -= 1;
        }
        if self.buf.capacity() == 0 {
            self.buf = core.conn.chan.spare_buffer();
        }
        let at = self.buf.len();
        let tag = PayloadMsg::Yield.tag();
        let (cid, width) = (core.cid, self.len_width);
        let pld =
            frame::append_payload_frame(&mut self.buf, tag, cid, item, width, &mut self.splices)
                .map_err(|reason| encode_error::<T>(core, reason))?;
        self.len_width = frame::len_width(pld);
        // A splice is at least `COALESCE_MAX` bytes: a frame with one is large.
        if self.splices.is_empty() && self.buf.len() - at < COALESCE_MAX {
            if self.items == 0 {
                self.since = Instant::now();
            }
            self.pld += pld;
            self.items += 1;
            return Ok(Pushed::Gathered);
        }
        Ok(Pushed::Large(Large { at, pld }))
    }

    /// Waits (with the batch queued first) until the receiver has window
    /// and byte window for one more item, or the dialog ends.
    pub(crate) async fn wait_room(&mut self) -> Result<(), Error> {
        let core = self.core;
        if self.credit == 0 {
            self.flush().await?;
            wait_credit(core).await?;
            self.credit = 1;
        }
        if core.shared.unacked_bytes() + self.pld >= WINDOW_BYTES {
            self.flush().await?;
            wait_byte_room(core).await?;
        }
        Ok(())
    }

    /// Sends the large item [`push_now`](Self::push_now) encoded: the
    /// items before it are queued (copied, they are small), then its
    /// frame is handed over where it was encoded.
    pub(crate) async fn send_large(&mut self, large: Large) -> Result<(), Error> {
        let core = self.core;
        let Large { at, pld } = large;
        let buf = std::mem::take(&mut self.buf);
        let splices = std::mem::take(&mut self.splices);
        if self.items > 0 {
            self.queue(&buf[..at]).await?;
        }
        core.shared.sent(pld);
        core.conn
            .chan
            .send_frame_of(core.cid, Frame::from_parts(buf, at), splices)
            .await
            .map_err(|_| core.conn.lost_error())
    }

    /// Queues what the batch holds on the channel (waiting for room in
    /// its write buffer).
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        if self.items == 0 {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let queued = self.queue(&buf).await;
        self.buf = buf;
        self.buf.clear();
        queued
    }

    /// Records the batch's items as sent (their credit cannot come first)
    /// and queues `frames`, their bytes; the batch is then empty.
    async fn queue(&mut self, frames: &[u8]) -> Result<(), Error> {
        let core = self.core;
        core.shared.sent(self.pld);
        self.pld = 0;
        self.items = 0;
        core.conn
            .chan
            .send_frames(frames)
            .await
            .map_err(|_| core.conn.lost_error())
    }
}

/// What [`Batch::push_now`] did with an item.
pub(crate) enum Pushed {
    /// Added to the batch.
    Gathered,
    /// Encoded, a large item to [`send_large`](Batch::send_large) now.
    Large(Large),
    /// Not added: no window for it now.
    NoRoom,
}

/// A large item encoded at the end of a batch's buffer.
pub(crate) struct Large {
    /// Where its frame starts.
    at: usize,
    /// Its payload bytes.
    pld: usize,
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // Window taken and not used goes back, never past the window
        // (a peer that over-credited while we held it gains nothing).
        if self.credit > 0 {
            let shared = &self.core.shared;
            let window = shared.flow.window.max(1) as usize;
            let room = window.saturating_sub(shared.credits.available_permits());
            shared.credits.add_permits(self.credit.min(room));
        }
    }
}
