//! Contexts: a linked pair of tasks, one in each of two actors, supervised
//! as one scope over IPC, with an optional bidirectional typed stream.
//!
//! The callee's half is [`Context`]; the caller's mirror image is
//! [`CallerContext`], opened with [`Portal::open_context`](crate::Portal::open_context).
//! Both share [`CtxCore`]: the dialog's queue, its flow state and its status.
//! One-way stream endpoints reuse the same core ([`RemoteStream`]).

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
    source: Mutex<Source>,
    state: Mutex<CtxState>,
    /// We sent `Stop`: our side of the stream is closed. Read per item
    /// sent, so not in `state`.
    stop_sent: AtomicBool,
    /// The peer's side of the stream ended (`Stop`, its result or error,
    /// or the channel). Read per item received.
    peer_stopped: AtomicBool,
    /// Stream messages consumed and not yet returned to the sender as credit.
    owed_credit: std::sync::atomic::AtomicU32,
    /// Their payload bytes.
    owed_bytes: std::sync::atomic::AtomicUsize,
    /// Callee only: cancels this task.
    token: Option<CancellationToken>,
    canceller: Arc<Mutex<Option<Aid>>>,
}

impl CtxCore {
    pub(crate) fn caller(rt: Arc<ActorRuntime>, dialog: Dialog, path: &'static str) -> Arc<Self> {
        Arc::new(CtxCore {
            rt,
            conn: dialog.conn.clone(),
            cid: dialog.cid,
            side: Side::Caller,
            path,
            shared: dialog.shared.clone(),
            source: Mutex::new(Source::Caller(dialog)),
            state: Mutex::new(CtxState {
                started: true,
                ..CtxState::default()
            }),
            stop_sent: AtomicBool::new(false),
            peer_stopped: AtomicBool::new(false),
            owed_credit: Default::default(),
            owed_bytes: Default::default(),
            token: None,
            canceller: Arc::new(Mutex::new(None)),
        })
    }

    pub(crate) fn callee(seed: CtxSeed, path: &'static str) -> Arc<Self> {
        Arc::new(CtxCore {
            rt: seed.rt,
            conn: seed.conn,
            cid: seed.cid,
            side: Side::Callee,
            path,
            shared: seed.shared,
            source: Mutex::new(Source::Callee(seed.rx)),
            state: Mutex::new(CtxState::default()),
            stop_sent: AtomicBool::new(false),
            peer_stopped: AtomicBool::new(false),
            owed_credit: Default::default(),
            owed_bytes: Default::default(),
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
        let mut src = lock(&self.source);
        let polled = match &mut *src {
            Source::Caller(d) => d.poll_msg(cx),
            Source::Callee(rx) => rx.poll_msg(cx),
        };
        if let Poll::Ready(Some(m)) = &polled {
            self.shared.dequeued(m);
        }
        polled
    }

    /// Polls the next stream item (handed to `item` as its encoded
    /// payload, in place) or other message of the dialog.
    fn poll_next<R>(
        &self,
        cx: &mut TaskCx<'_>,
        item: impl FnOnce(&[u8]) -> R,
    ) -> Poll<Option<Polled<R>>> {
        let mut src = lock(&self.source);
        let polled = match &mut *src {
            Source::Caller(d) => d.poll_next(cx),
            Source::Callee(rx) => rx.poll_next(cx),
        };
        polled.map(|next| {
            next.map(|n| match n {
                Next::Item(pld) => {
                    self.shared.item_dequeued(pld.len());
                    Polled::Item(item(pld))
                }
                Next::Msg(m) => {
                    self.shared.dequeued(&m);
                    Polled::Msg(m)
                }
            })
        })
    }

    /// Marks the caller's dialog finished (its end was seen), so dropping
    /// it does not cancel the remote task.
    fn finish_dialog(&self) {
        if let Source::Caller(d) = &mut *lock(&self.source) {
            d.finish();
        }
    }

    /// Counts one consumed stream message of `len` payload bytes and
    /// returns window to the sender in batches: half the window of
    /// messages, or half of [`WINDOW_BYTES`] (a sender held by bytes gets
    /// its credit as surely as one held by messages). Never awaits: `recv`
    /// stays cancel-safe; credit that cannot be queued now is sent next time.
    fn consumed_one(&self, len: usize) {
        if self.shared.flow.overrun {
            return;
        }
        use std::sync::atomic::Ordering;
        // Only the one consumer of the dialog updates these.
        let n = self.owed_credit.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes = self.owed_bytes.fetch_add(len, Ordering::Relaxed) + len;
        let due = n >= (self.shared.recv_window() / 2).max(1) || bytes >= WINDOW_BYTES / 2;
        if due
            && self
                .conn
                .chan
                .try_send(&Msg::Credit { cid: self.cid, n })
                .is_ok()
        {
            self.owed_credit.fetch_sub(n, Ordering::Relaxed);
            self.owed_bytes.fetch_sub(bytes, Ordering::Relaxed);
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
