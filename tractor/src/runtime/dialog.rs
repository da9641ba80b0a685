//! The per-dialog state shared by a channel's message loop and the handle
//! that owns the dialog (a call, a context, a stream).
//!
//! Stream messages are queued for the handle; the queue is bounded by the
//! dialog's window as capped by this actor's own limits, counted here
//! because the bound moves (a receiver that allows overruns takes more),
//! and all dialogs of a connection share one byte [`Budget`]. Credits and the terminal message are
//! applied by the loop directly, never queued behind stream messages: a
//! sender blocked on window must see credit even while its own inbox is
//! full, and a remote error must interrupt a handle that is not reading.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::{Notify, Semaphore};

use super::dialog_queue::QueueTx;

use crate::ipc::{ErrorData, FlowSpec, FuncType, Limits, Msg, WINDOW_BYTES};

/// Control messages (acks, `Started`, `Stop`) a dialog may have queued:
/// a legitimate peer sends a handful per dialog.
const CONTROL_CAP: usize = 32;

/// What a queued stream message costs beyond its payload (the message,
/// its queue slot, the allocation's header), so that empty payloads are
/// not free.
const MSG_OVERHEAD: usize = 128;

fn charge(pld: &[u8]) -> usize {
    pld.len().saturating_add(MSG_OVERHEAD)
}

/// The bytes all dialogs of one connection may hold unread: what one
/// peer can make us buffer, however many dialogs it opens.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    cap: usize,
    /// The buffers of its large frames and items, kept for the next.
    pub(crate) pool: Arc<crate::ipc::buffer_pool::BufferPool>,
}

impl Budget {
    pub(crate) fn new(cap: usize) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            cap,
            pool: Arc::default(),
        })
    }

    /// Takes `n` bytes if they fit (one message always fits an empty
    /// budget: the frame cap bounds it).
    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                (used == 0 || used.saturating_add(n) <= self.cap).then(|| used.saturating_add(n))
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::Relaxed);
    }
}

/// A run of items being admitted to one dialog: counted against the
/// window and the budget as they come, recorded in the shared counters
/// once, at [`commit`](Self::commit).
///
/// Only the connection's message loop admits items, so counts read once
/// at the start of a run stay upper bounds through it (readers only take
/// away): the run is checked against them plus what it admitted. One
/// atomic update per counter per run, instead of three per item, keeps
/// the cache lines the reading task also writes from bouncing per item.
struct Admission<'d> {
    dialog: &'d DialogShared,
    /// `queued` and the budget's `used` when the run started.
    queued0: usize,
    used0: usize,
    cap: usize,
    /// Admitted by this run so far, not yet recorded (cells: the queue
    /// admits through one borrow and commits through another).
    items: Cell<usize>,
    cost: Cell<usize>,
}

impl<'d> Admission<'d> {
    fn new(dialog: &'d DialogShared) -> Self {
        Admission {
            dialog,
            queued0: dialog.queued.load(Ordering::Relaxed),
            used0: dialog.budget.used.load(Ordering::Relaxed),
            cap: dialog.cap(),
            items: Cell::new(0),
            cost: Cell::new(0),
        }
    }

    fn admit(&self, pld: &[u8]) -> Result<(), Refused> {
        if self.queued0.saturating_add(self.items.get()) >= self.cap {
            return Err(Refused::Overrun);
        }
        let cost = charge(pld);
        let used = self.used0.saturating_add(self.cost.get());
        // One message always fits an empty budget (see `Budget::take`).
        if used != 0 && used.saturating_add(cost) > self.dialog.budget.cap {
            return Err(Refused::Overrun);
        }
        self.items.set(self.items.get() + 1);
        self.cost.set(self.cost.get().saturating_add(cost));
        Ok(())
    }

    /// Records what the run admitted. Called before the items can be
    /// read (under the queue's lock), so a reader never gives back a
    /// charge that was not taken yet.
    fn commit(&self) {
        let (items, cost) = (self.items.take(), self.cost.take());
        if items == 0 {
            return;
        }
        let d = self.dialog;
        d.budget.used.fetch_add(cost, Ordering::Relaxed);
        d.queued_bytes.fetch_add(cost, Ordering::Relaxed);
        d.queued.fetch_add(items, Ordering::Relaxed);
    }
}

/// How a dialog ended, as seen by the side that opened it.
#[derive(Clone, Debug)]
pub(crate) enum Terminal {
    /// `Return` with the encoded value.
    Returned(Vec<u8>),
    /// `Error`, or a local failure of the dialog (an overrun).
    Failed(Box<ErrorData>),
    /// The channel closed first.
    Lost,
}

/// How a dialog ended: set once (the first end wins), read by anyone,
/// awaited by the few that wait for it. A `watch` channel did this at
/// the cost of eight locks when the end is set and eight more when it
/// is dropped, on every call.
#[derive(Default)]
pub(crate) struct EndSignal {
    end: Mutex<Option<Terminal>>,
    set: Notify,
}

impl EndSignal {
    /// Records `t` unless an end was recorded; wakes the waiters if so.
    fn set(&self, t: Terminal) {
        let mut end = super::actor::lock(&self.end);
        if end.is_none() {
            *end = Some(t);
            drop(end);
            self.set.notify_waiters();
        }
    }

    /// The end, if the dialog ended.
    pub(crate) fn get(&self) -> Option<Terminal> {
        super::actor::lock(&self.end).clone()
    }

    /// The end, with a returned value moved out (see
    /// [`DialogShared::take_terminal`]).
    fn take_value(&self) -> Option<Terminal> {
        match &mut *super::actor::lock(&self.end) {
            Some(Terminal::Returned(pld)) => Some(Terminal::Returned(std::mem::take(pld))),
            other => other.clone(),
        }
    }

    /// What `f` makes of the end (without copying it).
    pub(crate) fn with<R>(&self, f: impl FnOnce(Option<&Terminal>) -> R) -> R {
        f(super::actor::lock(&self.end).as_ref())
    }

    /// Waits until `holds` is true of the end (`None` while the dialog
    /// lasts). The end changes once: if it is set and `holds` is false of
    /// it, this never returns.
    pub(crate) async fn wait_for(&self, holds: impl Fn(Option<&Terminal>) -> bool) {
        loop {
            let set = self.set.notified();
            tokio::pin!(set);
            // Registered before the check: a `set` after it wakes us.
            set.as_mut().enable();
            if self.with(&holds) {
                return;
            }
            set.await;
        }
    }
}

/// What a dialog we opened is, for a task dump: fixed when it opens,
/// never touched by the message path.
pub(crate) struct DialogTag {
    /// The endpoint's `module::fn`.
    pub path: Cow<'static, str>,
    pub kind: FuncType,
    pub since: Instant,
}

impl DialogTag {
    pub(crate) fn new(path: Cow<'static, str>, kind: FuncType) -> Self {
        DialogTag {
            path,
            kind,
            since: Instant::now(),
        }
    }
}

/// How far a context (or stream) got, as bits of [`DialogShared::phase`]:
/// set once per step by the handles, so a dump can tell without locking
/// their state.
pub(crate) mod phase {
    pub(crate) const STARTED: u8 = 1;
    pub(crate) const STREAM_OPEN: u8 = 1 << 1;
    pub(crate) const STOP_SENT: u8 = 1 << 2;
    pub(crate) const PEER_STOPPED: u8 = 1 << 3;
    pub(crate) const CANCEL_CALLED: u8 = 1 << 4;
}

pub(crate) struct DialogShared {
    /// The flow the caller asked for: its window is the peer's side of
    /// the dialog (what we may send before it returns credit).
    pub flow: FlowSpec,
    /// What we queue unread, by our own limits: the caller's window
    /// capped by our `stream_buffer`, never the peer's say alone.
    recv_window: u32,
    /// The connection's budget of unread bytes, shared by its dialogs.
    budget: Arc<Budget>,
    /// Hard cap for a receiver that allows overruns (our `stream_buffer`).
    overrun_cap: u32,
    /// Stream messages queued unread (bounded by the window).
    queued: AtomicUsize,
    /// What they are charged to the budget.
    queued_bytes: AtomicUsize,
    /// Other messages queued unread.
    control: AtomicUsize,
    allow_overruns: AtomicBool,
    /// Messages we may still send before the peer returns window.
    pub credits: Semaphore,
    /// Payload bytes we sent that the peer has not yet returned credit
    /// for (each credit says how many bytes it frees): a sender with
    /// backpressure keeps it under [`WINDOW_BYTES`].
    unacked_bytes: AtomicUsize,
    /// Woken when credit frees unacknowledged bytes.
    bytes_freed: Notify,
    /// How the dialog ended, once it has.
    pub terminal: EndSignal,
    /// Set once `terminal` is: the check every stream item makes, without
    /// its lock.
    ended: AtomicBool,
    /// Set for dialogs this actor opened to call an endpoint.
    pub tag: Option<DialogTag>,
    /// The [`phase`] bits reached.
    phase: AtomicU8,
}

/// Why a message could not be queued.
pub(crate) enum Refused {
    Overrun,
    Gone,
}

impl DialogShared {
    /// The state of a dialog with `flow`, whose receive side is bounded
    /// by this actor's `limits`.
    pub(crate) fn new(
        flow: FlowSpec,
        limits: &Limits,
        budget: Arc<Budget>,
        tag: Option<DialogTag>,
    ) -> Self {
        DialogShared {
            flow,
            recv_window: flow.window.clamp(1, limits.stream_buffer.max(1)),
            budget,
            overrun_cap: limits.stream_buffer.max(1),
            queued: AtomicUsize::new(0),
            queued_bytes: AtomicUsize::new(0),
            control: AtomicUsize::new(0),
            allow_overruns: AtomicBool::new(false),
            credits: Semaphore::new(flow.window.max(1) as usize),
            unacked_bytes: AtomicUsize::new(0),
            bytes_freed: Notify::new(),
            terminal: EndSignal::default(),
            ended: AtomicBool::new(false),
            tag,
            phase: AtomicU8::new(0),
        }
    }

    /// Records that the dialog reached a [`phase`] step.
    pub(crate) fn mark(&self, step: u8) {
        self.phase.fetch_or(step, Ordering::Relaxed);
    }

    /// The [`phase`] bits reached so far.
    pub(crate) fn phase(&self) -> u8 {
        self.phase.load(Ordering::Relaxed)
    }

    /// Stream messages queued unread, and what they weigh.
    pub(crate) fn queued(&self) -> (usize, usize) {
        (
            self.queued.load(Ordering::Relaxed),
            self.queued_bytes.load(Ordering::Relaxed),
        )
    }

    fn cap(&self) -> usize {
        if self.allow_overruns.load(Ordering::Relaxed) {
            self.overrun_cap as usize
        } else {
            self.recv_window as usize
        }
    }

    /// How many stream messages this side queues unread.
    pub(crate) fn recv_window(&self) -> u32 {
        self.recv_window
    }

    /// How many bytes this side's connection holds unread at most.
    pub(crate) fn recv_bytes(&self) -> usize {
        self.budget.cap
    }

    /// Returns window to this side's sender: `n` messages and the `bytes`
    /// of payload they carried. Credit beyond what was ever granted (more
    /// messages than the window, more bytes than were sent) is a protocol
    /// violation, refused: summed up it would overflow the semaphore, and
    /// it would let us outrun the peer. In overrun mode credit is not used
    /// at all, and ignored.
    pub(crate) fn add_credit(&self, n: u32, bytes: u64) -> Result<(), ()> {
        if self.flow.overrun {
            return Ok(());
        }
        let window = self.flow.window.max(1) as usize;
        if self.credits.available_permits().saturating_add(n as usize) > window {
            return Err(());
        }
        let bytes = usize::try_from(bytes).map_err(|_| ())?;
        // Only the message loop returns credit, so the check and the
        // subtraction cannot race another credit; senders only add.
        if self.unacked_bytes.load(Ordering::Acquire) < bytes {
            return Err(());
        }
        self.unacked_bytes.fetch_sub(bytes, Ordering::AcqRel);
        if bytes > 0 {
            self.bytes_freed.notify_waiters();
        }
        self.credits.add_permits(n as usize);
        Ok(())
    }

    /// Whether a sender must wait for credit to free bytes.
    pub(crate) fn over_byte_window(&self) -> bool {
        !self.flow.overrun && self.unacked_bytes.load(Ordering::Acquire) >= WINDOW_BYTES
    }

    /// Records messages of `pld_bytes` payload bytes in all as sent
    /// (before they are queued: their credit cannot come first).
    pub(crate) fn sent(&self, pld_bytes: usize) {
        if self.flow.overrun {
            return;
        }
        self.unacked_bytes.fetch_add(pld_bytes, Ordering::AcqRel);
    }

    /// Payload bytes sent and not yet acknowledged.
    pub(crate) fn unacked_bytes(&self) -> usize {
        self.unacked_bytes.load(Ordering::Acquire)
    }

    /// Waits while the payload bytes sent and not yet acknowledged reach
    /// [`WINDOW_BYTES`] (with nothing unacknowledged, any message may go).
    pub(crate) async fn byte_room(&self) {
        if !self.over_byte_window() {
            return;
        }
        loop {
            let freed = self.bytes_freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if !self.over_byte_window() {
                return;
            }
            freed.await;
        }
    }

    pub(crate) fn allow_overruns(&self) {
        self.allow_overruns.store(true, Ordering::Relaxed);
    }

    /// Queues a message for the handle: stream messages within the
    /// window, control messages within a small fixed bound.
    pub(crate) fn enqueue(&self, tx: &QueueTx, msg: Msg) -> Result<(), Refused> {
        if let Msg::Yield { pld, .. } = &msg {
            return self.enqueue_item(tx, pld);
        }
        if self.control.load(Ordering::Relaxed) >= CONTROL_CAP {
            return Err(Refused::Overrun);
        }
        self.control.fetch_add(1, Ordering::Relaxed);
        tx.send(msg).map_err(|_| Refused::Gone)
    }

    /// Queues a stream item's encoded payload, within the window and the
    /// connection's budget.
    pub(crate) fn enqueue_item(&self, tx: &QueueTx, pld: &[u8]) -> Result<(), Refused> {
        self.enqueue_items(tx, pld, || None)
    }

    /// Queues a run of stream items, `first` and what `more` gives, each
    /// within the window and the budget; stops at the first that is not.
    /// A dialog that ended (an overrun failed it) takes none: what a peer
    /// keeps sending it is dropped, not answered again.
    pub(crate) fn enqueue_items<'a>(
        &self,
        tx: &QueueTx,
        first: &'a [u8],
        more: impl FnMut() -> Option<&'a [u8]>,
    ) -> Result<(), Refused> {
        if self.has_terminal() {
            return Ok(());
        }
        let mut refused = Ok(());
        let run = Admission::new(self);
        let admitted = std::iter::once(first)
            .chain(std::iter::from_fn(more))
            .map_while(|pld| match run.admit(pld) {
                Ok(()) => Some(pld),
                Err(r) => {
                    refused = Err(r);
                    None
                }
            });
        tx.push_items(admitted, || run.commit())
            .map_err(|_| Refused::Gone)?;
        refused
    }

    /// Queues a large stream item in the buffer it was read into, within
    /// the window and the budget (see [`enqueue_items`](Self::enqueue_items)).
    pub(crate) fn enqueue_owned(
        &self,
        tx: &QueueTx,
        buf: Vec<u8>,
        pld: std::ops::Range<usize>,
    ) -> Result<(), Refused> {
        if self.has_terminal() {
            return Ok(());
        }
        self.admit(buf.get(pld.clone()).unwrap_or_default())?;
        tx.push_owned(buf, pld).map_err(|_| Refused::Gone)
    }

    /// Counts one item in, if the window and the budget have room for it.
    fn admit(&self, pld: &[u8]) -> Result<(), Refused> {
        if self.queued.load(Ordering::Relaxed) >= self.cap() {
            return Err(Refused::Overrun);
        }
        let cost = charge(pld);
        if !self.budget.take(cost) {
            return Err(Refused::Overrun);
        }
        self.queued_bytes.fetch_add(cost, Ordering::Relaxed);
        self.queued.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// The handle took `msg` off its queue.
    pub(crate) fn dequeued(&self, msg: &Msg) {
        match msg {
            Msg::Yield { pld, .. } => self.item_dequeued(pld.len()),
            m if m.is_queued_kind() => {
                self.control.fetch_sub(1, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    /// The handle took an item of `len` payload bytes off its queue.
    pub(crate) fn item_dequeued(&self, len: usize) {
        self.items_dequeued(1, len);
    }

    /// The handle took `n` items of `bytes` payload bytes in all off its
    /// queue.
    pub(crate) fn items_dequeued(&self, n: usize, bytes: usize) {
        let cost = bytes.saturating_add(n.saturating_mul(MSG_OVERHEAD));
        self.queued_bytes.fetch_sub(cost, Ordering::Relaxed);
        self.budget.give_back(cost);
        self.queued.fetch_sub(n, Ordering::Relaxed);
    }

    /// Records the end of the dialog (first one wins).
    pub(crate) fn finish(&self, t: Terminal) {
        self.terminal.set(t);
        self.ended.store(true, Ordering::Release);
    }

    /// Whether this is a plain call we made (`Portal::run`): its caller
    /// waits for the result alone, which is kept in the dialog's end
    /// rather than queued.
    pub(crate) fn is_plain_call(&self) -> bool {
        self.tag
            .as_ref()
            .is_some_and(|t| t.kind == FuncType::AsyncFunc)
    }

    /// Whether the dialog ended (cheaper than [`terminal`](Self::terminal)).
    pub(crate) fn has_terminal(&self) -> bool {
        self.ended.load(Ordering::Acquire)
    }

    pub(crate) fn terminal(&self) -> Option<Terminal> {
        self.terminal.get()
    }

    /// The end, with a returned value moved out, not copied: for a reader
    /// that reads it once and owns the dialog (a plain call's; the end
    /// stays `Returned`, empty).
    pub(crate) fn take_terminal(&self) -> Option<Terminal> {
        self.terminal.take_value()
    }
}

impl Drop for DialogShared {
    /// The dialog's queue goes with it: what it held unread goes back to
    /// the connection's budget.
    fn drop(&mut self) {
        self.budget.give_back(*self.queued_bytes.get_mut());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::dialog_queue::dialog_queue;

    fn yield_of(bytes: usize) -> Msg {
        Msg::Yield {
            cid: 2,
            pld: vec![0; bytes],
        }
    }

    fn dialog(window: u32, limits: Limits, budget: &Arc<Budget>) -> DialogShared {
        let flow = FlowSpec {
            window,
            overrun: false,
        };
        DialogShared::new(flow, &limits, budget.clone(), None)
    }

    fn used(budget: &Budget) -> usize {
        budget.used.load(Ordering::Relaxed)
    }

    #[test]
    fn the_receive_window_is_ours_whatever_the_peer_asks() {
        let budget = Budget::new(usize::MAX);
        let limits = Limits::default().stream_buffer(8);
        let d = dialog(u32::MAX, limits, &budget);
        assert_eq!(d.recv_window(), 8);
        let (tx, _rx) = dialog_queue(2);
        for _ in 0..8 {
            assert!(d.enqueue(&tx, yield_of(1)).is_ok());
        }
        assert!(matches!(d.enqueue(&tx, yield_of(1)), Err(Refused::Overrun)));
        // A smaller window of the peer's is kept.
        assert_eq!(dialog(4, limits, &budget).recv_window(), 4);
    }

    #[test]
    fn reading_frees_window_and_budget() {
        let budget = Budget::new(usize::MAX);
        let d = dialog(2, Limits::default(), &budget);
        let (tx, mut rx) = dialog_queue(2);
        assert!(d.enqueue(&tx, yield_of(10)).is_ok());
        assert!(d.enqueue(&tx, yield_of(10)).is_ok());
        assert!(d.enqueue(&tx, yield_of(10)).is_err());
        let waker = futures::task::noop_waker();
        let std::task::Poll::Ready(Some(m)) =
            rx.poll_msg(&mut std::task::Context::from_waker(&waker))
        else {
            panic!("an item was queued");
        };
        d.dequeued(&m);
        assert_eq!(used(&budget), charge(&[0; 10]));
        assert!(d.enqueue(&tx, yield_of(10)).is_ok());
    }

    /// Items admitted as a run: what fits the window and the budget is
    /// queued and counted once, the rest of the run is refused, and the
    /// counts are what item-by-item admission would have left.
    #[test]
    fn a_run_is_admitted_up_to_the_window_or_the_budget() {
        let items = [[7u8; 10]; 6];
        let run = |d: &DialogShared, tx: &QueueTx| {
            let mut rest = items[1..].iter().map(|i| &i[..]);
            d.enqueue_items(tx, &items[0], || rest.next())
        };
        // The window (4) stops the run.
        let budget = Budget::new(usize::MAX);
        let d = dialog(4, Limits::default(), &budget);
        let (tx, mut rx) = dialog_queue(2);
        assert!(matches!(run(&d, &tx), Err(Refused::Overrun)));
        assert_eq!(d.queued(), (4, 4 * charge(&items[0])));
        assert_eq!(used(&budget), 4 * charge(&items[0]));
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        let mut read = 0;
        while let std::task::Poll::Ready(Some(m)) = rx.poll_msg(&mut cx) {
            d.dequeued(&m);
            read += 1;
        }
        assert_eq!((read, d.queued(), used(&budget)), (4, (0, 0), 0));

        // The connection's budget (room for 3, shared with a sibling
        // holding 1) stops it.
        let budget = Budget::new(3 * charge(&items[0]));
        let sibling = dialog(64, Limits::default(), &budget);
        let (stx, _srx) = dialog_queue(4);
        assert!(sibling.enqueue_item(&stx, &items[0]).is_ok());
        let d = dialog(64, Limits::default(), &budget);
        let (tx, _rx) = dialog_queue(2);
        assert!(matches!(run(&d, &tx), Err(Refused::Overrun)));
        assert_eq!(d.queued().0, 2);
        assert_eq!(used(&budget), 3 * charge(&items[0]));

        // A receiver that is gone takes nothing and is charged nothing.
        let budget = Budget::new(usize::MAX);
        let d = dialog(64, Limits::default(), &budget);
        let (tx, rx) = dialog_queue(2);
        drop(rx);
        assert!(matches!(run(&d, &tx), Err(Refused::Gone)));
        assert_eq!((d.queued(), used(&budget)), ((0, 0), 0));
    }

    #[test]
    fn credit_beyond_the_window_is_refused_and_never_overflows() {
        let d = dialog(4, Limits::default(), &Budget::new(usize::MAX));
        // Nothing was sent, so nothing may be returned.
        assert!(d.add_credit(1, 0).is_err());
        d.credits.try_acquire_many(3).unwrap().forget();
        assert!(d.add_credit(3, 0).is_ok());
        assert!(d.add_credit(1, 0).is_err());
        assert!(d.add_credit(u32::MAX, 0).is_err());
        assert_eq!(d.credits.available_permits(), 4);
    }

    /// A sender's unacknowledged bytes stay under the byte window
    /// whatever its message window; credit frees the bytes it names, and
    /// no more than were sent.
    #[test]
    fn the_byte_window_holds_a_sender_of_large_items() {
        let d = dialog(4096, Limits::default(), &Budget::new(usize::MAX));
        let item = WINDOW_BYTES * 3 / 10;
        assert!(!d.over_byte_window(), "nothing sent: any message may go");
        for _ in 0..4 {
            d.credits.try_acquire().unwrap().forget();
            d.sent(item);
        }
        assert!(d.over_byte_window(), "1.2 windows unacknowledged");
        d.add_credit(1, item as u64).unwrap();
        assert!(!d.over_byte_window(), "0.9 windows");
        d.credits.try_acquire().unwrap().forget();
        d.sent(10);
        assert!(
            d.add_credit(1, (3 * item + 11) as u64).is_err(),
            "more bytes than were sent"
        );
        d.add_credit(3, (3 * item) as u64).unwrap();
        assert_eq!(d.unacked_bytes(), 10);
        // In overrun mode nothing is counted.
        let flow = FlowSpec {
            window: 4,
            overrun: true,
        };
        let o = DialogShared::new(flow, &Limits::default(), Budget::new(usize::MAX), None);
        o.sent(WINDOW_BYTES * 2);
        assert!(!o.over_byte_window());
    }

    #[test]
    fn credit_is_ignored_in_overrun_mode() {
        let flow = FlowSpec {
            window: 4,
            overrun: true,
        };
        let d = DialogShared::new(flow, &Limits::default(), Budget::new(usize::MAX), None);
        assert!(d.add_credit(u32::MAX, u64::MAX).is_ok());
        assert_eq!(d.credits.available_permits(), 4);
    }

    #[test]
    fn dialogs_share_their_connections_budget_and_give_it_back_when_dropped() {
        let budget = Budget::new(1000);
        let a = dialog(256, Limits::default(), &budget);
        let b = dialog(256, Limits::default(), &budget);
        let (tx, _rx) = dialog_queue(2);
        assert!(a.enqueue(&tx, yield_of(400)).is_ok());
        assert!(matches!(
            b.enqueue(&tx, yield_of(400)),
            Err(Refused::Overrun)
        ));
        drop(a);
        assert_eq!(used(&budget), 0, "a dropped dialog's queue is given back");
        assert!(b.enqueue(&tx, yield_of(400)).is_ok());
    }

    #[test]
    fn one_message_always_fits_an_empty_budget() {
        let budget = Budget::new(10);
        let d = dialog(256, Limits::default(), &budget);
        let (tx, _rx) = dialog_queue(2);
        assert!(d.enqueue(&tx, yield_of(1000)).is_ok());
        assert!(d.enqueue(&tx, yield_of(0)).is_err());
    }

    #[test]
    fn control_messages_have_a_small_fixed_cap() {
        let d = dialog(256, Limits::default(), &Budget::new(usize::MAX));
        let (tx, _rx) = dialog_queue(2);
        for _ in 0..CONTROL_CAP {
            assert!(d.enqueue(&tx, Msg::Stop { cid: 2 }).is_ok());
        }
        assert!(matches!(
            d.enqueue(&tx, Msg::Stop { cid: 2 }),
            Err(Refused::Overrun)
        ));
    }
}
