//! Buffers of a connection's large frames, kept for the next ones.
//!
//! A large stream item lives in a buffer of its own: the frame reader
//! reads a large frame into one, and the message loop copies a large item
//! that arrived whole among other frames into one. A fresh allocation per
//! item would cost more than the copy it saves: a freed buffer of tens of
//! KiB often sits at the top of the allocator's heap, which gives it back
//! to the OS and takes it again for the next (a syscall each way), and
//! the kernel zeroes the fresh pages. So a buffer goes back to its
//! connection's pool once what was decoded from it is dropped, and the
//! next large frame or item takes it.
//!
//! The pool keeps at most [`POOL_BYTES`], whatever a peer sends, and
//! only buffers of [`POOL_MIN`] to [`POOL_MAX`] bytes; it is emptied when
//! a dialog that read large items ends.

use std::sync::{Arc, Mutex, Weak};

/// The smallest buffer worth keeping: smaller items are copied into the
/// shared item buffer instead.
pub(crate) const POOL_MIN: usize = 16 * 1024;

/// The largest buffer worth keeping: twice the largest one taken (a
/// frame reader's, for a frame of up to 128 KiB and 4 KiB past it). A
/// larger one, grown for a larger frame, would never be taken again.
pub(crate) const POOL_MAX: usize = 2 * (128 + 4) * 1024;

/// Most bytes a connection's pool keeps: a stream's byte window (what a
/// sender may have unread here at once) and a little, so a stream of
/// large items that keeps its window full reuses every buffer, and a
/// peer cannot make us keep more, however many dialogs it opens. The
/// pool is emptied when a dialog that read large items ends; what large
/// replies and calls give back stays, within this bound (about what a
/// connection's read buffer kept after one large frame before the pool).
pub(crate) const POOL_BYTES: usize = crate::ipc::WINDOW_BYTES + POOL_MAX;

/// The buffers kept for a connection's next large frames and items.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    kept: Mutex<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    bufs: Vec<Vec<u8>>,
    bytes: usize,
}

impl BufferPool {
    /// An empty buffer for `len` bytes: a kept one that holds them and is
    /// not much larger (a small item must not hold a large buffer), else
    /// a fresh one of exactly `len`.
    pub(crate) fn take(&self, len: usize) -> Vec<u8> {
        let fits = |b: &Vec<u8>| (len..=len.saturating_mul(2)).contains(&b.capacity());
        let mut kept = lock(&self.kept);
        match kept.bufs.iter().rposition(fits) {
            Some(i) => {
                let buf = kept.bufs.swap_remove(i);
                kept.bytes -= buf.capacity();
                buf
            }
            None => Vec::with_capacity(len),
        }
    }

    /// Keeps `buf` for a later frame if it is large enough and there is
    /// room for it; frees it otherwise.
    pub(crate) fn give(&self, mut buf: Vec<u8>) {
        let cap = buf.capacity();
        if !(POOL_MIN..=POOL_MAX).contains(&cap) {
            return;
        }
        let mut kept = lock(&self.kept);
        if kept.bytes + cap <= POOL_BYTES {
            buf.clear();
            kept.bytes += cap;
            kept.bufs.push(buf);
        }
    }

    /// Frees every kept buffer (a dialog that read large items ended:
    /// what it used need not outlive it).
    pub(crate) fn clear(&self) {
        let mut kept = lock(&self.kept);
        kept.bufs = Vec::new();
        kept.bytes = 0;
    }

    /// The bytes kept now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        let kept = lock(&self.kept);
        debug_assert_eq!(kept.bytes, kept.bufs.iter().map(Vec::capacity).sum());
        kept.bytes
    }
}

fn lock(m: &Mutex<Kept>) -> std::sync::MutexGuard<'_, Kept> {
    // Nothing user-supplied runs under it; a poisoned pool is still whole.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A pool's buffer lent out, as the owner of the [`Bytes`](crate::Bytes)
/// decoded from it: it goes back to the pool when the last of them is
/// dropped (at once when the item was decoded into something else).
pub(crate) struct Pooled {
    buf: Vec<u8>,
    pool: Weak<BufferPool>,
}

impl Pooled {
    /// Lends `buf`, to go back to `pool` (if the connection still is).
    pub(crate) fn new(buf: Vec<u8>, pool: &Arc<BufferPool>) -> Self {
        Pooled {
            buf,
            pool: Arc::downgrade(pool),
        }
    }
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.give(std::mem::take(&mut self.buf));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_given_back_is_taken_again_when_it_fits() {
        let pool = BufferPool::default();
        let buf = pool.take(64 * 1024);
        let at = buf.as_ptr();
        pool.give(buf);
        assert_eq!(pool.held(), 64 * 1024);
        let again = pool.take(40 * 1024);
        assert_eq!(again.as_ptr(), at, "reused");
        assert!(again.is_empty());
        pool.give(again);
        // Not for an item of less than half its size, nor a larger one.
        let small = pool.take(20 * 1024);
        let large = pool.take(65 * 1024);
        assert!(small.capacity() < 64 * 1024 && large.capacity() >= 65 * 1024);
        assert_eq!(pool.held(), 64 * 1024, "still kept");
    }

    #[test]
    fn the_pool_keeps_only_buffers_it_hands_out_and_only_its_bound() {
        let pool = Arc::new(BufferPool::default());
        pool.give(Vec::with_capacity(POOL_MIN - 1));
        pool.give(Vec::with_capacity(POOL_MAX + 1));
        assert_eq!(pool.held(), 0, "too small, or larger than any taken");
        let size = POOL_MAX / 4;
        let bufs: Vec<Pooled> = (0..2 * POOL_BYTES / size)
            .map(|_| Pooled::new(vec![1u8; size], &pool))
            .collect();
        drop(bufs);
        assert!(pool.held() <= POOL_BYTES && pool.held() > POOL_BYTES - size);
        pool.clear();
        assert_eq!(pool.held(), 0);
        pool.give(vec![0; size]);
        let gone = Arc::downgrade(&pool);
        let orphan = Pooled::new(pool.take(256 * 1024), &pool);
        drop(pool);
        drop(orphan);
        assert!(gone.upgrade().is_none(), "freed with its connection");
    }
}
