//! A dialog's queue: what the message loop hands the dialog's handle, in
//! the order it arrived.
//!
//! Stream items are the bulk of it, so they are not queued as messages:
//! the loop copies each item's payload from the socket's read buffer into
//! one byte buffer, and the handle decodes it from there. A run of items
//! costs no allocation, no message and no queue slot of its own; the
//! handle takes every queued item in one swap of buffers and decodes them
//! without the lock. Control messages (`Started`, `Stop`, `Return`, ...)
//! queue as messages between the items, and a count of items before each
//! keeps the order exact.
//!
//! An item of [`OWN_FROM`] bytes or more is queued in a buffer of its
//! own instead: the one the frame reader read it into, or (when it came
//! whole among other frames) one of the connection's
//! [pool](crate::ipc::buffer_pool) it is copied into. Appended to the run
//! buffer, large items would grow it by doubling (copying what it held
//! each time) and a grown buffer is released once drained, its pages
//! faulted in again for the next burst. The buffer is lent to the
//! [`Bytes`](crate::Bytes) decoded from it, so those are not copied
//! again, and goes back to the pool after them.
//!
//! The queue itself is unbounded: what it may hold is bounded before a
//! push, by the dialog's window and the connection's byte budget
//! ([`DialogShared`](super::dialog::DialogShared)).
//!
//! The handle's waker lives under the queue's lock, which both ends take
//! anyway: an `AtomicWaker` beside it cost four more locked instructions
//! per message (about 10 ns each here), on a path that is all overhead
//! above the socket's.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

#[cfg(test)]
use crate::ipc::buffer_pool::POOL_BYTES;
use crate::ipc::buffer_pool::{BufferPool, POOL_MIN, Pooled};
use crate::ipc::{Cid, Msg};

/// An item buffer larger than this once drained is released rather than
/// kept (it grew for a burst of large items).
const KEEP: usize = 1024 * 1024;

/// An item this large is queued in a buffer of its own (see the module
/// docs).
const OWN_FROM: usize = POOL_MIN;

/// Items a handle reads per unit of its task's tokio budget: a busy
/// stream's reader still yields, after this many times tokio's budget.
const READS_PER_UNIT: u32 = 32;

/// Creates the queue of dialog `cid`, alone.
#[cfg(test)]
pub(crate) fn dialog_queue(cid: Cid) -> (QueueTx, QueueRx) {
    dialog_queue_in(cid, Arc::default())
}

/// Creates the queue of dialog `cid`, of a connection whose large items'
/// buffers `pool` keeps.
pub(crate) fn dialog_queue_in(cid: Cid, pool: Arc<BufferPool>) -> (QueueTx, QueueRx) {
    let shared = Arc::new(Shared {
        st: Mutex::new(State {
            entries: VecDeque::new(),
            items: Items::default(),
            senders: 1,
            receiver: true,
            waker: None,
        }),
        pool,
    });
    (
        QueueTx(shared.clone()),
        QueueRx {
            shared,
            cid,
            local: Items::default(),
            takeable: 0,
            held_frame: None,
            prepaid: 0,
            read_large: false,
        },
    )
}

struct Shared {
    st: Mutex<State>,
    /// The connection's buffers for large items.
    pool: Arc<BufferPool>,
}

/// Wakes the handle's task taken from under the lock, once the lock is
/// released (a waker may run code of its own).
fn wake(waker: Option<Waker>) {
    if let Some(w) = waker {
        w.wake();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing user-supplied runs under this lock; a poisoned one still
        // holds a consistent queue.
        self.st.lock().unwrap_or_else(|p| p.into_inner())
    }
}

struct State {
    entries: VecDeque<Entry>,
    /// Payloads of the items counted by `Entry::Items`, oldest first.
    items: Items,
    /// Live [`QueueTx`] handles: none left and nothing queued is the end.
    senders: usize,
    /// Whether the [`QueueRx`] still exists.
    receiver: bool,
    /// The handle's task, while its last poll found nothing.
    waker: Option<Waker>,
}

impl State {
    /// Records that `n` more items (pushed onto `items`) come next.
    fn count_items(&mut self, n: u32) {
        if n == 0 {
            return;
        }
        if let Some(Entry::Items(queued)) = self.entries.back_mut()
            && let Some(sum) = queued.checked_add(n)
        {
            *queued = sum;
            return;
        }
        self.entries.push_back(Entry::Items(n));
    }
}

enum Entry {
    Msg(Msg),
    /// This many items come next.
    Items(u32),
    /// One large item, in a buffer of its own (read into it, or copied
    /// into one from the connection's pool): the
    /// [`Bytes`](crate::Bytes) decoded from it are slices of it, and it
    /// goes back to the pool after them.
    Owned(Vec<u8>, std::ops::Range<usize>),
}

/// Item payloads back to back, and their lengths.
#[derive(Default)]
struct Items {
    bytes: Vec<u8>,
    lens: Vec<u32>,
    /// How many of `lens` were read.
    taken: usize,
    /// Where the oldest unread payload starts in `bytes`.
    read: usize,
}

impl Items {
    fn push(&mut self, pld: &[u8]) {
        crate::ipc::frame::append_bytes(&mut self.bytes, pld);
        // A payload is part of one frame, whose length is a `u32`.
        self.lens.push(pld.len() as u32);
    }

    fn pop(&mut self) -> Option<&[u8]> {
        let len = *self.lens.get(self.taken)? as usize;
        self.taken += 1;
        if self.read >= KEEP && self.read >= self.bytes.len() / 2 {
            self.compact();
        }
        let at = self.read;
        self.read += len;
        self.bytes.get(at..self.read)
    }

    /// Gives back the bytes read so far (a long run read slowly): they
    /// are returned to the connection's budget as they are read, so they
    /// must not stay held behind unread ones.
    #[cold]
    fn compact(&mut self) {
        self.bytes.drain(..self.read);
        self.bytes.shrink_to(KEEP.max(self.bytes.len() * 2));
        self.read = 0;
        self.lens.drain(..self.taken);
        self.taken = 0;
    }

    fn is_empty(&self) -> bool {
        self.taken >= self.lens.len()
    }

    /// Empties it, keeping its buffers for reuse unless they grew large.
    fn recycle(&mut self) {
        self.read = 0;
        self.taken = 0;
        if self.bytes.capacity() > KEEP {
            self.bytes = Vec::new();
        } else {
            self.bytes.clear();
        }
        if self.lens.capacity() > KEEP / 4 {
            self.lens = Vec::new();
        } else {
            self.lens.clear();
        }
    }
}

/// The receiver is gone: the message or item was not queued.
#[derive(Debug)]
pub(crate) struct Gone;

/// The message loop's end of a dialog queue.
pub(crate) struct QueueTx(Arc<Shared>);

impl QueueTx {
    /// Queues a message.
    pub(crate) fn send(&self, msg: Msg) -> Result<(), Gone> {
        let mut st = self.0.lock();
        if !st.receiver {
            return Err(Gone);
        }
        st.entries.push_back(Entry::Msg(msg));
        let waker = st.waker.take();
        drop(st);
        wake(waker);
        Ok(())
    }

    /// Queues a stream item's encoded payload (copied).
    #[cfg(test)]
    pub(crate) fn push_item(&self, pld: &[u8]) -> Result<(), Gone> {
        self.push_items(std::iter::once(pld), || {})
    }

    /// Queues a run of stream items (copied) under one lock and one
    /// wake; `items` is not polled at all if the receiver is gone.
    /// `before_visible` runs once they are queued, before the receiver
    /// can see them (the sender's accounting of the run).
    pub(crate) fn push_items<'a, I>(
        &self,
        items: I,
        before_visible: impl FnOnce(),
    ) -> Result<(), Gone>
    where
        I: Iterator<Item = &'a [u8]>,
    {
        let mut st = self.0.lock();
        if !st.receiver {
            return Err(Gone);
        }
        // Items in a row are counted here and their entry written once.
        let mut run = 0u32;
        for pld in items {
            if pld.len() >= OWN_FROM {
                st.count_items(std::mem::take(&mut run));
                let mut buf = self.0.pool.take(pld.len());
                buf.extend_from_slice(pld);
                st.entries.push_back(Entry::Owned(buf, 0..pld.len()));
                continue;
            }
            st.items.push(pld);
            run += 1;
            if run == u32::MAX {
                st.count_items(std::mem::take(&mut run));
            }
        }
        st.count_items(run);
        before_visible();
        let waker = st.waker.take();
        drop(st);
        wake(waker);
        Ok(())
    }
}

impl QueueTx {
    /// Wakes the handle without queueing anything: what it waits for was
    /// put where it looks (a plain call's result, in its dialog's end).
    pub(crate) fn wake(&self) {
        let waker = self.0.lock().waker.take();
        wake(waker);
    }

    /// Queues a large stream item without copying it: `buf[pld]` is its
    /// encoded payload.
    pub(crate) fn push_owned(&self, buf: Vec<u8>, pld: std::ops::Range<usize>) -> Result<(), Gone> {
        let mut st = self.0.lock();
        if !st.receiver {
            return Err(Gone);
        }
        st.entries.push_back(Entry::Owned(buf, pld));
        let waker = st.waker.take();
        drop(st);
        wake(waker);
        Ok(())
    }
}

impl Clone for QueueTx {
    fn clone(&self) -> Self {
        self.0.lock().senders += 1;
        QueueTx(self.0.clone())
    }
}

impl Drop for QueueTx {
    fn drop(&mut self) {
        let waker = {
            let mut st = self.0.lock();
            st.senders -= 1;
            if st.senders == 0 {
                st.waker.take()
            } else {
                None
            }
        };
        wake(waker);
    }
}

/// What the queue gives next.
pub(crate) enum Next<'a> {
    /// A stream item's encoded payload, and the frame buffer it lies in
    /// when that may be shared (decode it within
    /// [`decoding_in`](crate::ipc::shared_bytes::decoding_in)).
    Item(&'a [u8], Option<&'a ::bytes::Bytes>),
    /// Any other message.
    Msg(Msg),
}

/// The dialog handle's end of the queue.
pub(crate) struct QueueRx {
    shared: Arc<Shared>,
    cid: Cid,
    /// Items taken from the shared buffer in one swap, read without the lock.
    local: Items,
    /// Items the entries read so far say come before the next message.
    takeable: u32,
    /// The buffer of the large item handed out last (kept until the next
    /// poll; what was decoded from it may keep it longer).
    held_frame: Option<::bytes::Bytes>,
    /// Items that may still be read without taking from the task's
    /// budget (see [`poll_next`](Self::poll_next)).
    prepaid: u32,
    /// Whether a large item was read (in a buffer of the connection's
    /// pool, emptied when this dialog ends).
    read_large: bool,
}

impl QueueRx {
    /// The next message or item; `None` once every sender is gone and
    /// nothing is left.
    ///
    /// Takes from the task's tokio budget, as tokio's own channels do: a
    /// loop reading a busy stream yields now and then, so what shares its
    /// task (a `select!`, a `join!`) and its thread still runs. One unit
    /// pays for [`READS_PER_UNIT`] items already taken off the shared
    /// queue: each exhausted budget costs the thread a poll of its I/O
    /// driver (a syscall), too dear to pay every 128 items of a stream
    /// that reads one in a few nanoseconds.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Next<'_>>> {
        if self.has_held_item() {
            return Poll::Ready(self.held_item().map(|pld| Next::Item(pld, None)));
        }
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        // Whatever this poll returns below is progress, except `Pending`
        // (which gives the budget back when `coop` drops).
        self.prepaid = READS_PER_UNIT - 1;
        let polled = self.poll_entry(cx);
        if polled.is_ready() {
            coop.made_progress();
        }
        polled
    }

    fn poll_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<Next<'_>>> {
        if self.local.is_empty() {
            // Nothing held between batches but small buffers.
            self.local.recycle();
        }
        // Dropped before the lock: a lent buffer goes home under it.
        self.held_frame = None;
        if self.takeable == 0 {
            let mut st = self.shared.lock();
            match st.entries.pop_front() {
                Some(Entry::Msg(m)) => return Poll::Ready(Some(Next::Msg(m))),
                Some(Entry::Owned(buf, pld)) => {
                    drop(st);
                    self.read_large = true;
                    let lent = Pooled::new(buf, &self.shared.pool);
                    let frame = self.held_frame.insert(::bytes::Bytes::from_owner(lent));
                    return Poll::Ready(Some(Next::Item(
                        frame.get(pld).unwrap_or_default(),
                        Some(frame),
                    )));
                }
                Some(Entry::Items(n)) => {
                    self.takeable = n;
                    if self.local.is_empty() {
                        // Under the same lock: the items counted are
                        // queued already (their bytes went in before
                        // their count).
                        std::mem::swap(&mut self.local, &mut st.items);
                    }
                }
                None if st.senders == 0 => return Poll::Ready(None),
                None => {
                    // Registered under the lock: a sender's push comes
                    // before (and is seen above) or after, and takes this
                    // waker to wake us.
                    match &st.waker {
                        Some(w) if w.will_wake(cx.waker()) => {}
                        _ => st.waker = Some(cx.waker().clone()),
                    }
                    return Poll::Pending;
                }
            }
        }
        if self.local.is_empty() {
            // The items counted are queued already: their bytes went in
            // before their count.
            std::mem::swap(&mut self.local, &mut self.shared.lock().items);
        }
        self.takeable -= 1;
        match self.local.pop() {
            Some(pld) => Poll::Ready(Some(Next::Item(pld, None))),
            // Unreachable: each count stands for a pushed item.
            None => Poll::Ready(None),
        }
    }

    /// Whether [`held_item`](Self::held_item) has one.
    #[inline]
    fn has_held_item(&self) -> bool {
        self.prepaid > 0 && self.takeable > 0 && !self.local.is_empty()
    }

    /// The next item if it was taken off the shared queue already and its
    /// budget paid (see [`poll_next`](Self::poll_next)): what most reads of
    /// a busy stream find, with no lock, no budget and no waker. `None`
    /// says only that [`poll_next`](Self::poll_next) must be asked.
    #[inline]
    pub(crate) fn held_item(&mut self) -> Option<&[u8]> {
        if !self.has_held_item() {
            return None;
        }
        self.prepaid -= 1;
        self.takeable -= 1;
        self.local.pop()
    }

    /// Takes back the waker the last `Pending` poll left: the handle
    /// stops waiting (a dropped sender must not wake its task for
    /// nothing).
    pub(crate) fn forget_waker(&self) {
        let waker = self.shared.lock().waker.take();
        drop(waker);
    }

    /// Whether items taken off the shared queue in one swap are still
    /// unread here.
    pub(crate) fn holds_items(&self) -> bool {
        !self.local.is_empty()
    }

    /// The next entry as a message (an item as the `Yield` it arrived
    /// as), for handles that do not read streams.
    pub(crate) fn poll_msg(&mut self, cx: &mut Context<'_>) -> Poll<Option<Msg>> {
        let cid = self.cid;
        self.poll_next(cx).map(|next| {
            next.map(|n| match n {
                Next::Msg(m) => m,
                Next::Item(pld, _) => Msg::Yield {
                    cid,
                    pld: pld.to_vec(),
                },
            })
        })
    }

    /// Waits for [`poll_msg`](Self::poll_msg).
    pub(crate) async fn recv_msg(&mut self) -> Option<Msg> {
        std::future::poll_fn(|cx| self.poll_msg(cx)).await
    }
}

impl Drop for QueueRx {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.receiver = false;
        st.entries.clear();
        st.items = Items::default();
        let waker = st.waker.take();
        drop(st);
        drop(waker);
        // What a stream of large items kept for itself goes with it.
        if self.read_large {
            self.shared.pool.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::count_wakes::CountWakes;
    use futures::task::noop_waker;

    fn next(rx: &mut QueueRx) -> Option<Option<String>> {
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        match rx.poll_next(&mut cx) {
            Poll::Pending => None,
            Poll::Ready(None) => Some(None),
            Poll::Ready(Some(Next::Item(b, _))) => {
                Some(Some(format!("item {}", String::from_utf8_lossy(b))))
            }
            Poll::Ready(Some(Next::Msg(m))) => Some(Some(m.kind().to_string())),
        }
    }

    #[test]
    fn items_and_messages_keep_their_order() {
        let (tx, mut rx) = dialog_queue(7);
        tx.send(Msg::Started {
            cid: 7,
            pld: vec![],
        })
        .unwrap();
        tx.push_item(b"a").unwrap();
        tx.push_item(b"bb").unwrap();
        tx.send(Msg::Stop { cid: 7 }).unwrap();
        tx.push_item(b"c").unwrap();
        assert_eq!(next(&mut rx), Some(Some("Started".into())));
        assert_eq!(next(&mut rx), Some(Some("item a".into())));
        // Pushed while the handle holds a swapped-out batch.
        tx.push_item(b"d").unwrap();
        assert_eq!(next(&mut rx), Some(Some("item bb".into())));
        assert_eq!(next(&mut rx), Some(Some("Stop".into())));
        assert_eq!(next(&mut rx), Some(Some("item c".into())));
        assert_eq!(next(&mut rx), Some(Some("item d".into())));
        assert_eq!(next(&mut rx), None, "empty and open: pending");
        drop(tx);
        assert_eq!(next(&mut rx), Some(None), "every sender gone: the end");
    }

    #[test]
    fn the_end_comes_after_what_was_queued_and_clones_keep_it_open() {
        let (tx, mut rx) = dialog_queue(1);
        let tx2 = tx.clone();
        tx.push_item(b"x").unwrap();
        drop(tx);
        assert_eq!(next(&mut rx), Some(Some("item x".into())));
        assert_eq!(next(&mut rx), None);
        tx2.send(Msg::Stop { cid: 1 }).unwrap();
        drop(tx2);
        assert_eq!(next(&mut rx), Some(Some("Stop".into())));
        assert_eq!(next(&mut rx), Some(None));
    }

    /// Read bytes are not held behind unread ones, and a drained queue
    /// keeps only small buffers while it waits.
    #[test]
    fn read_items_do_not_pin_memory() {
        let (tx, mut rx) = dialog_queue(1);
        // Below the size that gets a buffer of its own; 4 MiB in all.
        let item = vec![7u8; OWN_FROM / 2];
        let n = 4 * KEEP / item.len();
        for _ in 0..n {
            tx.push_item(&item).unwrap();
        }
        for _ in 0..n - 1 {
            assert!(next(&mut rx).is_some_and(|i| i.is_some()));
        }
        // All read but one: what is held is near what is unread.
        assert!(rx.local.bytes.len() - rx.local.read <= item.len());
        assert!(
            rx.local.bytes.capacity() <= 2 * KEEP,
            "{}",
            rx.local.bytes.capacity()
        );
        assert!(next(&mut rx).is_some_and(|i| i.is_some()));
        assert_eq!(next(&mut rx), None, "drained: pending");
        assert!(rx.local.bytes.capacity() <= KEEP);
        assert!(tx.0.lock().items.bytes.capacity() <= KEEP);
    }

    /// Large items come whole and in order between small ones, in buffers
    /// the handle gave back (no fresh one per item), and what is kept for
    /// them stays bounded.
    #[test]
    fn large_items_reuse_bounded_buffers() {
        let (tx, mut rx) = dialog_queue(1);
        let big = |i: u8| vec![i; OWN_FROM * 4];
        let mut before: Vec<usize> = Vec::new();
        for round in 0..3u8 {
            for i in 0..4u8 {
                tx.push_item(&big(round * 4 + i)).unwrap();
                tx.push_item(&[i]).unwrap();
            }
            let mut seen = Vec::new();
            for i in 0..4u8 {
                let waker = noop_waker();
                let mut cx = Context::from_waker(&waker);
                match rx.poll_next(&mut cx) {
                    Poll::Ready(Some(Next::Item(b, _))) => {
                        assert!(b == big(round * 4 + i).as_slice(), "large item {i} altered");
                        seen.push(b.as_ptr() as usize);
                    }
                    _ => panic!("expected large item {i}"),
                }
                assert_eq!(next(&mut rx), Some(Some(format!("item {}", char::from(i)))));
            }
            if round > 0 {
                // The buffers of the round before were given back and
                // reused (all but the one the handle held while the round
                // was pushed).
                let reused = seen.iter().filter(|p| before.contains(p)).count();
                assert!(reused >= 3, "round {round}: {reused} of 4 buffers reused");
            }
            before = seen;
        }
        assert!(tx.0.pool.held() <= POOL_BYTES);
        // Far more than the bound given back: only the bound is kept.
        let huge = vec![0u8; 2 * POOL_BYTES];
        tx.push_item(&huge).unwrap();
        assert!(next(&mut rx).is_some());
        assert_eq!(next(&mut rx), None);
        assert!(tx.0.pool.held() <= POOL_BYTES);
    }

    /// A frame handed over whole is handed out with its buffer, shared:
    /// what is decoded from it may borrow it, no copy made.
    #[test]
    fn a_whole_frame_is_handed_out_shared() {
        let (tx, mut rx) = dialog_queue(1);
        let buf = vec![5u8; 100];
        let at = buf.as_ptr() as usize;
        tx.push_owned(buf, 10..90).unwrap();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        match rx.poll_next(&mut cx) {
            Poll::Ready(Some(Next::Item(pld, Some(frame)))) => {
                assert_eq!(pld.len(), 80);
                assert_eq!(
                    pld.as_ptr() as usize,
                    at + 10,
                    "in the buffer it was read into"
                );
                assert_eq!(frame.as_ptr() as usize, at);
            }
            _ => panic!("expected the item with its frame"),
        }
    }

    /// The buffers of all a connection's dialogs' large items go back to
    /// one pool, within its bound.
    #[test]
    fn a_connection_s_large_items_share_one_bounded_pool() {
        let pool: Arc<BufferPool> = Arc::default();
        let big = vec![1u8; POOL_BYTES / 8];
        let mut queues = Vec::new();
        for cid in 0..12 {
            let (tx, mut rx) = dialog_queue_in(cid, pool.clone());
            tx.push_item(&big).unwrap();
            tx.push_item(&big).unwrap();
            assert!(next(&mut rx).is_some());
            assert!(next(&mut rx).is_some());
            assert_eq!(next(&mut rx), None, "both read and given back");
            queues.push((tx, rx));
        }
        let held = pool.held();
        assert!(held > 0 && held <= POOL_BYTES, "{held}");
        // A dialog that read large items takes what was kept with it.
        drop(queues);
        assert_eq!(pool.held(), 0);
    }

    /// A frame read into a buffer of its own goes back to the pool once
    /// what was decoded from it is dropped.
    #[test]
    fn a_frame_read_whole_goes_back_to_the_pool() {
        let (tx, mut rx) = dialog_queue(1);
        tx.push_owned(vec![5u8; 64 * 1024], 10..90).unwrap();
        assert!(next(&mut rx).is_some());
        assert_eq!(next(&mut rx), None);
        assert_eq!(tx.0.pool.held(), 64 * 1024);
    }

    #[test]
    fn a_gone_receiver_refuses_and_frees() {
        let (tx, rx) = dialog_queue(1);
        tx.push_item(&[0; 1000]).unwrap();
        drop(rx);
        assert!(tx.push_item(b"x").is_err());
        assert!(tx.send(Msg::Stop { cid: 1 }).is_err());
        assert!(tx.0.lock().items.bytes.capacity() == 0);
    }

    #[test]
    fn items_read_as_messages_are_the_yields_they_arrived_as() {
        let (tx, mut rx) = dialog_queue(9);
        tx.push_item(&[1, 2, 3]).unwrap();
        let waker = noop_waker();
        let mut cx = Context::from_waker(&waker);
        match rx.poll_msg(&mut cx) {
            Poll::Ready(Some(Msg::Yield { cid: 9, pld })) => assert_eq!(pld, [1, 2, 3]),
            other => panic!(
                "expected the Yield, got {:?}",
                other.map(|m| m.map(|m| m.kind()))
            ),
        }
    }

    /// A task reading a stream that always has items still yields to
    /// the other tasks of its thread (it takes from its tokio budget,
    /// one unit per [`READS_PER_UNIT`] items), after a bounded number.
    #[test]
    fn a_busy_reader_yields_to_its_thread() {
        const N: u32 = 200_000;
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, mut rx) = dialog_queue(1);
            tx.push_items((0..N).map(|_| &b"x"[..]), || {}).unwrap();
            let ran = Arc::new(std::sync::atomic::AtomicBool::new(false));
            // Spawned first: it runs first, and the sibling only when it yields.
            let reader = {
                let ran = ran.clone();
                tokio::spawn(async move {
                    for i in 0..N {
                        std::future::poll_fn(|cx| rx.poll_next(cx).map(|n| n.is_some())).await;
                        if ran.load(std::sync::atomic::Ordering::SeqCst) {
                            return Some(i);
                        }
                    }
                    None
                })
            };
            let sibling =
                tokio::spawn(async move { ran.store(true, std::sync::atomic::Ordering::SeqCst) });
            let seen_at = reader.await.unwrap();
            sibling.await.unwrap();
            let bound = 128 * READS_PER_UNIT;
            assert!(
                seen_at.is_some_and(|i| i <= bound),
                "the sibling ran only at item {seen_at:?} (bound {bound})"
            );
        });
    }

    #[test]
    fn a_waiting_handle_is_woken_by_a_push() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (tx, mut rx) = dialog_queue(1);
            let t = tokio::spawn(async move { rx.recv_msg().await.map(|m| m.kind()) });
            tokio::task::yield_now().await;
            tx.push_item(b"late").unwrap();
            assert_eq!(t.await.unwrap(), Some("Yield"));
        });
    }

    /// A push wakes the waker of the handle's latest `Pending` poll (not
    /// one it was polled with before), once; a forgotten waker is not
    /// woken, and every push, message, owned item or end wakes again.
    #[test]
    fn a_push_wakes_the_latest_waiting_poll_once() {
        let (tx, mut rx) = dialog_queue(1);
        let (a, b) = (
            Arc::new(CountWakes::default()),
            Arc::new(CountWakes::default()),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        assert!(rx.poll_next(&mut Context::from_waker(&wa)).is_pending());
        assert!(rx.poll_next(&mut Context::from_waker(&wb)).is_pending());
        tx.push_item(b"one").unwrap();
        tx.push_item(b"two").unwrap();
        assert_eq!(
            (a.count(), b.count()),
            (0, 1),
            "only the latest waker, once"
        );
        let mut cx = Context::from_waker(&wb);
        for _ in 0..2 {
            assert!(matches!(rx.poll_next(&mut cx), Poll::Ready(Some(_))));
        }
        // Waiting again, then no longer.
        assert!(rx.poll_next(&mut cx).is_pending());
        rx.forget_waker();
        tx.send(Msg::Stop { cid: 1 }).unwrap();
        assert_eq!(b.count(), 1, "a forgotten waker is not woken");
        assert!(matches!(
            rx.poll_next(&mut cx),
            Poll::Ready(Some(Next::Msg(_)))
        ));
        // Each kind of push, and the last sender's end, wakes a waiting poll.
        assert!(rx.poll_next(&mut cx).is_pending());
        tx.push_owned(vec![0; 8], 0..8).unwrap();
        assert_eq!(b.count(), 2);
        assert!(matches!(rx.poll_next(&mut cx), Poll::Ready(Some(_))));
        assert!(rx.poll_next(&mut cx).is_pending());
        tx.wake();
        assert_eq!(b.count(), 3);
        assert!(rx.poll_next(&mut cx).is_pending());
        drop(tx);
        assert_eq!(b.count(), 4);
        assert!(matches!(rx.poll_next(&mut cx), Poll::Ready(None)));
    }
}
