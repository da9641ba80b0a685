//! Contexts: a linked pair of tasks, one in each of two actors, supervised
//! as one scope over IPC, with an optional bidirectional typed stream.
//!
//! The callee's half is [`Context`]; the caller's mirror image is
//! [`CallerContext`], opened with [`Portal::open_context`](crate::Portal::open_context).
//! Both share [`CtxCore`]: the dialog's queue, its flow state and its status.
//! One-way stream endpoints reuse the same core ([`RemoteStream`]).

mod batch;
mod callee;
mod caller;
mod oneway;
mod stream;

use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::task::{Context as TaskCx, Poll};

use tokio_util::sync::CancellationToken;

pub use callee::Context;
pub use caller::CallerContext;
pub use oneway::RemoteStream;
pub(crate) use oneway::pump;
pub use stream::MsgStream;

use super::actor::{ActorRuntime, lock};
use super::conn::{Conn, Dialog};
use super::dialog::{DialogShared, Terminal};
use super::dialog_queue::{Next, QueueRx};
use super::error::{Error, Misuse, RemoteActorError};
use crate::ipc::{Aid, Cid, Msg, WINDOW_BYTES};

/// Which half of a dialog a handle is.
///
/// ```no_run
/// # fn demo() {
/// // Shared code can tell whether it serves a context or opened one.
/// if let Some(ctx) = tractor::current_ipc_ctx() {
///     let role = if ctx.side() == tractor::Side::Callee { "serving" } else { "calling" };
///     println!("{role} {}", ctx.endpoint());
/// }
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Side {
    /// The actor that opened the context.
    Caller,
    /// The actor running the context endpoint.
    Callee,
}

#[derive(Default)]
struct CtxState {
    started: bool,
    stream_opened: bool,
    cancel_called: bool,
    cancel_acked: bool,
}

/// Where a handle's messages come from: the caller owns a [`Dialog`], the
/// callee a receiver fed by its task slot.
enum Source {
    Caller(Dialog),
    Callee(QueueRx),
    /// Read by the one handle that holds the [`Reading`] itself, without
    /// a lock (a one-way stream's consumer): nothing to read here.
    Held,
}

impl Source {
    /// An item already taken off the queue, if there is one (see
    /// [`QueueRx::held_item`]).
    #[inline]
    fn held_item(&mut self) -> Option<&[u8]> {
        match self {
            Source::Caller(d) => d.held_item(),
            Source::Callee(rx) => rx.held_item(),
            Source::Held => None,
        }
    }

    /// Whether items taken off the shared queue in one swap are still
    /// unread (their bytes still held).
    fn holds_items(&self) -> bool {
        match self {
            Source::Caller(d) => d.holds_items(),
            Source::Callee(rx) => rx.holds_items(),
            Source::Held => false,
        }
    }

    fn poll_next(&mut self, cx: &mut TaskCx<'_>) -> Poll<Option<Next<'_>>> {
        match self {
            Source::Caller(d) => d.poll_next(cx),
            Source::Callee(rx) => rx.poll_next(cx),
            Source::Held => Poll::Ready(None),
        }
    }

    fn poll_msg(&mut self, cx: &mut TaskCx<'_>) -> Poll<Option<Msg>> {
        match self {
            Source::Caller(d) => d.poll_msg(cx),
            Source::Callee(rx) => rx.poll_msg(cx),
            Source::Held => Poll::Ready(None),
        }
    }
}

/// The receiving half of a handle: its source, and the accounting of the
/// stream items read from it, done in batches rather than per item.
///
/// A context's handles share theirs, under a lock in [`CtxCore`]; a
/// one-way stream's consumer is the only reader of its dialog and holds
/// its own, so reading an item takes no lock (two atomic read-modify-
/// writes, a tenth of the consumer's CPU per small item).
pub(crate) struct Reading {
    source: Source,
    /// Items read whose charge to the dialog's queue and the
    /// connection's budget is not yet given back: given back when the
    /// batch they were taken in is read through (until then their bytes
    /// are still held), and before any credit goes out (so the window
    /// the sender gets back is free here too).
    unreleased: Tally,
    /// Items read and not yet returned to the sender as credit.
    owed: Tally,
}

impl Reading {
    fn of(source: Source) -> Self {
        Reading {
            source,
            unreleased: Tally::default(),
            owed: Tally::default(),
        }
    }

    /// Marks a caller's dialog finished (its end was seen), so dropping
    /// it does not cancel the remote task.
    fn finish_dialog(&mut self) {
        if let Source::Caller(d) = &mut self.source {
            d.finish();
        }
    }
}

/// A count of stream items and of their payload bytes.
#[derive(Default, Clone, Copy)]
struct Tally {
    items: u32,
    bytes: usize,
}

impl Tally {
    fn add(&mut self, len: usize) {
        self.items = self.items.saturating_add(1);
        self.bytes = self.bytes.saturating_add(len);
    }
}

/// A stream item (decoded by the poller) or another message.
enum Polled<R> {
    Item(R),
    Msg(Msg),
}

/// What the runtime builds a callee's [`CtxCore`] from.
pub(crate) struct CtxSeed {
    pub rt: Arc<ActorRuntime>,
    pub conn: Arc<Conn>,
    pub cid: Cid,
    pub rx: QueueRx,
    pub shared: Arc<DialogShared>,
    pub token: CancellationToken,
    pub canceller: Arc<Mutex<Option<Aid>>>,
}

/// The state both halves of a context (and one-way streams) share.
pub(crate) struct CtxCore {
    pub rt: Arc<ActorRuntime>,
    pub conn: Arc<Conn>,
    pub cid: Cid,
    pub side: Side,
    pub path: &'static str,
    pub shared: Arc<DialogShared>,
    reading: Mutex<Reading>,
    state: Mutex<CtxState>,
    /// We sent `Stop`: our side of the stream is closed. Read per item
    /// sent, so not in `state`.
    stop_sent: AtomicBool,
    /// The peer's side of the stream ended (`Stop`, its result or error,
    /// or the channel). Read per item received.
    peer_stopped: AtomicBool,
    /// Callee only: cancels this task.
    token: Option<CancellationToken>,
    canceller: Arc<Mutex<Option<Aid>>>,
}

impl Drop for CtxCore {
    fn drop(&mut self) {
        // The dialog's state may outlive the handle a moment (the loop
        // holds it too): what was read is not charged meanwhile.
        let mut rd = lock(&self.reading);
        let read = std::mem::take(&mut rd.unreleased);
        if read.items > 0 {
            self.shared.items_dequeued(read.items as usize, read.bytes);
        }
    }
}

impl CtxCore {
    pub(crate) fn caller(rt: Arc<ActorRuntime>, dialog: Dialog, path: &'static str) -> Arc<Self> {
        let (core, reading) = Self::caller_read_alone(rt, dialog, path);
        *lock(&core.reading) = reading;
        core
    }

    /// A caller's core whose dialog is read by one handle alone, which
    /// holds the returned [`Reading`] (see there).
    pub(crate) fn caller_read_alone(
        rt: Arc<ActorRuntime>,
        dialog: Dialog,
        path: &'static str,
    ) -> (Arc<Self>, Reading) {
        let core = Arc::new(CtxCore {
            rt,
            conn: dialog.conn.clone(),
            cid: dialog.cid,
            side: Side::Caller,
            path,
            shared: dialog.shared.clone(),
            reading: Mutex::new(Reading::of(Source::Held)),
            state: Mutex::new(CtxState {
                started: true,
                ..CtxState::default()
            }),
            stop_sent: AtomicBool::new(false),
            peer_stopped: AtomicBool::new(false),
            token: None,
            canceller: Arc::new(Mutex::new(None)),
        });
        (core, Reading::of(Source::Caller(dialog)))
    }

    pub(crate) fn callee(seed: CtxSeed, path: &'static str) -> Arc<Self> {
        Arc::new(CtxCore {
            rt: seed.rt,
            conn: seed.conn,
            cid: seed.cid,
            side: Side::Callee,
            path,
            shared: seed.shared,
            reading: Mutex::new(Reading::of(Source::Callee(seed.rx))),
            state: Mutex::new(CtxState::default()),
            stop_sent: AtomicBool::new(false),
            peer_stopped: AtomicBool::new(false),
            token: Some(seed.token),
            canceller: seed.canceller,
        })
    }

    pub(crate) fn me(&self) -> &Aid {
        self.rt.aid()
    }

    pub(crate) fn peer(&self) -> &Aid {
        self.conn.chan.peer()
    }

    /// Polls the next raw message of the dialog.
    fn poll_msg(&self, cx: &mut TaskCx<'_>) -> Poll<Option<Msg>> {
        let mut rd = lock(&self.reading);
        self.release(&mut rd);
        let polled = rd.source.poll_msg(cx);
        if let Poll::Ready(Some(m)) = &polled {
            self.shared.dequeued(m);
        }
        polled
    }

    /// The reading shared by this context's handles.
    fn shared_reading(&self) -> std::sync::MutexGuard<'_, Reading> {
        lock(&self.reading)
    }

    /// Polls the next stream item (handed to `item` as its encoded
    /// payload, in place) or other message of the dialog `rd` reads. An
    /// item is counted as consumed: its window goes back to the sender in
    /// batches (see [`consumed`](Self::consumed)).
    fn poll_next<R>(
        &self,
        rd: &mut Reading,
        cx: &mut TaskCx<'_>,
        item: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Option<Polled<R>>> {
        let item = match self.held_item(rd, item) {
            Ok(r) => return Poll::Ready(Some(Polled::Item(r))),
            Err(item) => item,
        };
        let next = match rd.source.poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(next) => next,
        };
        let polled = match next {
            Some(Next::Item(pld, frame)) => {
                let len = pld.len();
                // Counted before `item` (the user's decode) runs: one that
                // panics still gives its window back.
                rd.unreleased.add(len);
                if !self.shared.flow.overrun {
                    rd.owed.add(len);
                }
                let r = match frame {
                    // Large `Bytes` in it become slices of its frame.
                    Some(frame) => crate::ipc::shared_bytes::decoding_in(frame, || item(pld)),
                    None => item(pld),
                };
                self.after_item(rd);
                Some(Polled::Item(r))
            }
            Some(Next::Msg(m)) => {
                self.release(rd);
                self.shared.dequeued(&m);
                Some(Polled::Msg(m))
            }
            None => {
                self.release(rd);
                None
            }
        };
        Poll::Ready(polled)
    }

    /// A busy stream's next item, handed to `item` if it was taken off
    /// the queue already (see [`QueueRx::held_item`]): read with no lock,
    /// no budget and no waker, in a few instructions a stream's reader
    /// inlines. `Err` gives `item` back: ask [`poll_next`](Self::poll_next).
    #[inline]
    fn held_item<R, F: FnOnce(&[u8]) -> R>(&self, rd: &mut Reading, item: F) -> Result<R, F> {
        let Some(pld) = rd.source.held_item() else {
            return Err(item);
        };
        let len = pld.len();
        rd.unreleased.add(len);
        if !self.shared.flow.overrun {
            rd.owed.add(len);
        }
        let r = item(pld);
        self.after_item(rd);
        Ok(r)
    }

    /// The accounting after an item was read: its queue charge given
    /// back once its batch is read through, credit sent when due.
    #[inline]
    fn after_item(&self, rd: &mut Reading) {
        // In overrun mode no credit goes out to release before,
        // and what was read must free the queue at once.
        if self.shared.flow.overrun || !rd.source.holds_items() {
            self.release(rd);
        }
        if self.credit_is_due(rd) {
            self.send_credit(rd);
        }
    }

    /// Gives back the queue charge of the items `rd` read so far.
    fn release(&self, rd: &mut Reading) {
        let read = std::mem::take(&mut rd.unreleased);
        if read.items > 0 {
            self.shared.items_dequeued(read.items as usize, read.bytes);
        }
    }

    /// Marks the caller's dialog finished (its end was seen), so dropping
    /// it does not cancel the remote task.
    fn finish_dialog(&self) {
        lock(&self.reading).finish_dialog();
    }

    /// Counts one stream message of `len` payload bytes read outside
    /// [`poll_next`](Self::poll_next) (its queue charge already given back).
    fn consumed_one(&self, len: usize) {
        let mut rd = lock(&self.reading);
        self.consumed(&mut rd, len);
    }

    /// Counts one consumed stream message of `len` payload bytes (see
    /// [`credit_is_due`](Self::credit_is_due)).
    fn consumed(&self, rd: &mut Reading, len: usize) {
        if self.shared.flow.overrun {
            return;
        }
        rd.owed.add(len);
        if self.credit_is_due(rd) {
            self.send_credit(rd);
        }
    }

    /// Whether window is due back to the sender: in batches, once a
    /// quarter of the window of messages, or a quarter of
    /// [`WINDOW_BYTES`], was read (a sender held by bytes gets its credit
    /// as surely as one held by messages). A quarter, not a half: the
    /// sender still has most of a window to send while the credit
    /// travels, so a fast stream rarely waits for it (one-way `u64`
    /// streams went from 4.3-6.4 to 5.0-8.7 M items/s).
    #[inline]
    fn credit_is_due(&self, rd: &Reading) -> bool {
        let owed = rd.owed;
        !self.shared.flow.overrun
            && (owed.items >= (self.shared.recv_window() / 4).max(1)
                || owed.bytes >= WINDOW_BYTES / 4)
    }

    /// Returns the window `rd` owes to the sender ([`credit_is_due`](Self::credit_is_due)).
    /// Never awaits: `recv` stays cancel-safe; credit that cannot be
    /// queued now is sent next time.
    fn send_credit(&self, rd: &mut Reading) {
        let owed = rd.owed;
        // What the sender may send again must be free here first.
        self.release(rd);
        let credit = Msg::Credit {
            cid: self.cid,
            n: owed.items,
            bytes: owed.bytes as u64,
        };
        if self.conn.chan.try_send(&credit).is_ok() {
            rd.owed = Tally::default();
        }
    }

    /// The remote end as an error, when the dialog failed.
    fn terminal_error(&self) -> Option<Error> {
        match self.shared.terminal()? {
            Terminal::Returned(_) => None,
            Terminal::Failed(e) => Some(Error::Remote(RemoteActorError::from_data(*e))),
            Terminal::Lost => Some(self.conn.lost_error()),
        }
    }

    fn misuse(&self, misuse: Misuse) -> Error {
        Error::ContextMisuse {
            context: self.path.to_string(),
            misuse,
        }
    }

    fn cancel_called(&self) -> bool {
        lock(&self.state).cancel_called
    }

    fn canceller(&self) -> Option<Aid> {
        match self.side {
            Side::Callee => lock(&self.canceller).clone(),
            Side::Caller => match self.shared.terminal() {
                Some(Terminal::Failed(e)) => e.canceller,
                _ => None,
            },
        }
    }
}

impl Msg {
    /// Messages that take a slot of a dialog's queue.
    pub(crate) fn is_queued_kind(&self) -> bool {
        matches!(
            self,
            Msg::StartAck { .. }
                | Msg::Started { .. }
                | Msg::Yield { .. }
                | Msg::Stop { .. }
                | Msg::CancelAck { .. }
                | Msg::Pong { .. }
        )
    }
}

/// An untyped view of the context the current task runs in, from
/// [`current_ipc_ctx`] (or a context's `info()`).
///
/// ```no_run
/// #[tractor::context]
/// async fn watch(ctx: tractor::Context) -> Result<(), tractor::Error> {
///     ctx.started(()).await?;
///     // Helpers deeper in the call stack need no `ctx` argument to log who asked.
///     let info = tractor::current_ipc_ctx().expect("inside a context");
///     println!("dialog {:?} with {}", info.cid(), info.peer());
///     Ok(())
/// }
/// # fn main() {}
/// ```
#[derive(Clone)]
pub struct IpcContext {
    core: Arc<CtxCore>,
}

impl std::fmt::Debug for IpcContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IpcContext")
            .field("cid", &self.core.cid)
            .field("side", &self.core.side)
            .field("peer", &self.core.peer().to_string())
            .field("endpoint", &self.core.path)
            .finish()
    }
}

impl IpcContext {
    /// The dialog id.
    pub fn cid(&self) -> Cid {
        self.core.cid
    }

    /// Which half this task is.
    pub fn side(&self) -> Side {
        self.core.side
    }

    /// The actor at the other end.
    pub fn peer(&self) -> &Aid {
        self.core.peer()
    }

    /// The context endpoint's path.
    pub fn endpoint(&self) -> &'static str {
        self.core.path
    }

    /// Whether a cancel of this context was requested.
    pub fn cancel_called(&self) -> bool {
        self.core.cancel_called()
    }
}

tokio::task_local! {
    static CURRENT_CTX: IpcContext;
}

/// The context the current task belongs to: in a context endpoint, its
/// callee half; inside an `open_context` body, its caller half.
///
/// ```no_run
/// # async fn demo() {
/// if let Some(ctx) = tractor::current_ipc_ctx() {
///     println!("serving {} for {}", ctx.endpoint(), ctx.peer());
/// }
/// # }
/// ```
pub fn current_ipc_ctx() -> Option<IpcContext> {
    CURRENT_CTX.try_with(Clone::clone).ok()
}

pub(crate) async fn with_current<F: std::future::Future>(core: &Arc<CtxCore>, fut: F) -> F::Output {
    CURRENT_CTX
        .scope(IpcContext { core: core.clone() }, fut)
        .await
}
