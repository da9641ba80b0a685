//! `MsgStream`: the one bidirectional stream of a context.

use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context as TaskCx, Poll};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CtxCore, Polled, Reading, Side};
use crate::ipc::{Msg, PayloadMsg, codec};
use crate::runtime::dialog::phase;
use crate::runtime::error::{Error, Misuse, RemoteActorError};

/// The stream of a context: sends `Tx`, receives `Rx`.
///
/// Received with [`recv`](Self::recv) or as a [`futures::Stream`]; closing
/// ([`close`](Self::close), or dropping the stream) sends `Stop`, which ends
/// the other side's iteration. `recv` is cancel-safe: a message the stream
/// accepted is never lost to a cancelled receive.
///
/// ```no_run
/// use futures::StreamExt;
///
/// #[tractor::context]
/// async fn upper(ctx: tractor::Context<(), String, String>) -> Result<(), tractor::Error> {
///     ctx.started(()).await?;
///     let mut stream = ctx.open_stream()?;
///     // As a `futures::Stream`: ends when the caller closes its side.
///     while let Some(line) = stream.next().await {
///         stream.send(line?.to_uppercase()).await?;
///     }
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub struct MsgStream<Tx, Rx> {
    pub(crate) core: Arc<CtxCore>,
    _t: PhantomData<fn(Tx) -> Rx>,
}

impl<Tx, Rx> std::fmt::Debug for MsgStream<Tx, Rx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgStream")
            .field("cid", &self.core.cid)
            .field("peer", &self.core.peer().to_string())
            .finish()
    }
}

impl<Tx: Serialize, Rx: DeserializeOwned> MsgStream<Tx, Rx> {
    pub(crate) fn new(core: Arc<CtxCore>) -> Self {
        MsgStream {
            core,
            _t: PhantomData,
        }
    }

    /// Sends one message. With backpressure (the default flow) this waits
    /// while the receiver holds a full window unread.
    pub async fn send(&self, msg: Tx) -> Result<(), Error> {
        send_item(&self.core, &msg).await
    }

    /// Receives the next message; `Ok(None)` once the other side closed its
    /// stream or its task returned. Cancel-safe.
    ///
    /// ```no_run
    /// # async fn demo(stream: tractor::MsgStream<(), u32>) -> Result<(), tractor::Error> {
    /// use std::time::Duration;
    /// // Cancel-safe, so a timeout around it loses no message.
    /// match tokio::time::timeout(Duration::from_secs(1), stream.recv()).await {
    ///     Ok(msg) => println!("{:?}", msg?),
    ///     Err(_) => println!("nothing for a second"),
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn recv(&self) -> Result<Option<Rx>, Error> {
        std::future::poll_fn(|cx| poll_item(&self.core, &mut self.core.shared_reading(), cx)).await
    }

    /// Sends `Stop`: the other side's iteration ends. Idempotent.
    pub fn close(&self) {
        send_stop(&self.core);
    }
}

impl<Tx, Rx> Drop for MsgStream<Tx, Rx> {
    fn drop(&mut self) {
        match self.core.side {
            Side::Caller => send_stop(&self.core),
            Side::Callee => send_stop_unless_ending(&self.core),
        }
    }
}

/// A callee's stream dropped without `close()`: most often because the
/// task is returning, maybe with an error. `Stop` first would make the
/// caller's `recv` end cleanly and the error come after, where a caller
/// that treats the early end as its own failure would mask it. So the
/// `Stop` is sent once the task yields, and only if it is still running:
/// a task that ended says so itself, with its result or its error.
fn send_stop_unless_ending(core: &Arc<CtxCore>) {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return send_stop(core);
    };
    let core = core.clone();
    handle.spawn(async move {
        if core.conn.has_task(core.cid) {
            send_stop(&core);
        }
    });
}

impl<Tx: Serialize, Rx: DeserializeOwned> futures::Stream for MsgStream<Tx, Rx> {
    type Item = Result<Rx, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskCx<'_>) -> Poll<Option<Self::Item>> {
        let core = &self.core;
        poll_item::<Rx>(core, &mut core.shared_reading(), cx).map(Result::transpose)
    }
}

pub(crate) fn send_stop(core: &CtxCore) {
    if core.shared.has_terminal() || core.stop_sent.swap(true, Ordering::AcqRel) {
        return;
    }
    core.shared.mark(phase::STOP_SENT);
    core.conn.chan.send_soon(Msg::Stop { cid: core.cid });
}

pub(crate) async fn send_item<T: Serialize + ?Sized>(core: &CtxCore, msg: &T) -> Result<(), Error> {
    check_open(core)?;
    if !core.shared.flow.overrun {
        if !take_credit_now(core)? {
            wait_credit(core).await?;
        }
        if core.shared.over_byte_window() {
            wait_byte_room(core).await?;
        }
    }
    let sent = |pld_len| core.shared.sent(pld_len);
    match core
        .conn
        .chan
        .send_payload(PayloadMsg::Yield, core.cid, msg, sent)
        .await
    {
        Ok(()) => Ok(()),
        Err(crate::ipc::IpcError::Encode(reason)) => Err(encode_error::<T>(core, reason)),
        Err(_) => Err(core.conn.lost_error()),
    }
}

/// Whether a stream item may be sent at all: the dialog has not ended,
/// and our side of the stream is not closed.
#[inline]
pub(super) fn check_open(core: &CtxCore) -> Result<(), Error> {
    if core.shared.has_terminal() || core.stop_sent.load(Ordering::Acquire) {
        return Err(closed_error(core));
    }
    Ok(())
}

/// Why [`check_open`] refused: kept out of the check, which a stream's
/// every item makes.
#[cold]
fn closed_error(core: &CtxCore) -> Error {
    if core.shared.has_terminal() {
        return core
            .terminal_error()
            .unwrap_or_else(|| core.misuse(Misuse::RemoteReturned));
    }
    core.misuse(Misuse::StreamClosed)
}

/// Takes one message of window if there is one now; `false` when the
/// sender must [`wait_credit`].
pub(super) fn take_credit_now(core: &CtxCore) -> Result<bool, Error> {
    match core.shared.credits.try_acquire() {
        Ok(p) => {
            p.forget();
            Ok(true)
        }
        Err(tokio::sync::TryAcquireError::Closed) => Err(core.misuse(Misuse::WindowClosed)),
        Err(tokio::sync::TryAcquireError::NoPermits) => Ok(false),
    }
}

/// Takes up to `most` messages of window, as many as there are now
/// (none when the sender must [`wait_credit`]).
pub(super) fn take_credits_now(core: &CtxCore, most: usize) -> Result<usize, Error> {
    let sem = &core.shared.credits;
    // Only this sender takes from the window, so what is available now
    // stays available until it takes it (credit only adds).
    let n = sem.available_permits().min(most);
    if n == 0 {
        return Ok(usize::from(take_credit_now(core)?));
    }
    match sem.try_acquire_many(n as u32) {
        Ok(p) => {
            p.forget();
            Ok(n)
        }
        Err(tokio::sync::TryAcquireError::Closed) => Err(core.misuse(Misuse::WindowClosed)),
        Err(tokio::sync::TryAcquireError::NoPermits) => Ok(usize::from(take_credit_now(core)?)),
    }
}

/// Waits for one message of window, or the dialog's end.
pub(super) async fn wait_credit(core: &CtxCore) -> Result<(), Error> {
    tokio::select! {
        permit = core.shared.credits.acquire() => match permit {
            Ok(p) => {
                p.forget();
                Ok(())
            }
            Err(_) => Err(core.misuse(Misuse::WindowClosed)),
        },
        () = core.shared.terminal.wait_for(|t| t.is_some()) => {
            Err(core.terminal_error().unwrap_or_else(|| core.misuse(Misuse::RemoteReturned)))
        }
    }
}

/// Waits until the bytes sent and not acknowledged are under the byte
/// window, or the dialog's end.
pub(super) async fn wait_byte_room(core: &CtxCore) -> Result<(), Error> {
    tokio::select! {
        () = core.shared.byte_room() => Ok(()),
        () = core.shared.terminal.wait_for(|t| t.is_some()) => {
            Err(core.terminal_error().unwrap_or_else(|| core.misuse(Misuse::RemoteReturned)))
        }
    }
}

/// A stream item of type `T` that could not be encoded.
pub(super) fn encode_error<T: ?Sized>(core: &CtxCore, reason: String) -> Error {
    Error::MsgType {
        endpoint: core.path.to_string(),
        expected: std::any::type_name::<T>(),
        reason: format!("a stream message could not be encoded: {reason}"),
    }
}

/// The next stream item of the dialog `rd` reads. Never awaits after
/// taking a message off the queue, so it is cancel-safe.
///
/// Inlined into the reader's loop: a busy stream's item is most often
/// one already taken off the queue ([`CtxCore::held_item`]), read here
/// without a call; anything else goes to [`poll_queued`].
#[inline]
pub(crate) fn poll_item<Rx: DeserializeOwned>(
    core: &CtxCore,
    rd: &mut Reading,
    cx: &mut TaskCx<'_>,
) -> Poll<Result<Option<Rx>, Error>> {
    if !core.peer_stopped.load(Ordering::Acquire)
        && let Ok(decoded) = core.held_item(rd, codec::decode::<Rx>)
    {
        return Poll::Ready(match decoded {
            Ok(v) => Ok(Some(v)),
            Err(reason) => Err(undecodable::<Rx>(core, reason)),
        });
    }
    poll_queued(core, rd, cx)
}

/// A stream item that did not decode as `Rx`.
#[cold]
#[inline(never)]
fn undecodable<Rx>(core: &CtxCore, reason: String) -> Error {
    Error::MsgType {
        endpoint: core.path.to_string(),
        expected: std::any::type_name::<Rx>(),
        reason: format!(
            "a stream message from {} does not decode: {reason}",
            core.peer()
        ),
    }
}

/// [`poll_item`] for whatever the queue holds next: an item, the
/// dialog's end, or nothing yet.
#[inline(never)]
fn poll_queued<Rx: DeserializeOwned>(
    core: &CtxCore,
    rd: &mut Reading,
    cx: &mut TaskCx<'_>,
) -> Poll<Result<Option<Rx>, Error>> {
    loop {
        if core.peer_stopped.load(Ordering::Acquire) {
            return Poll::Ready(Ok(None));
        }
        let msg = match core.poll_next(rd, cx, codec::decode::<Rx>) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Some(Polled::Item(decoded))) => {
                return Poll::Ready(
                    decoded
                        .map(Some)
                        .map_err(|reason| undecodable::<Rx>(core, reason)),
                );
            }
            Poll::Ready(Some(Polled::Msg(m))) => Some(m),
            Poll::Ready(None) => None,
        };
        match msg {
            Some(Msg::Stop { .. }) => {
                core.peer_stopped.store(true, Ordering::Release);
                core.shared.mark(phase::PEER_STOPPED);
                // A remote task that failed right after stopping its
                // stream: its error, not a clean end.
                if let Some(e @ Error::Remote(_)) = core.terminal_error() {
                    return Poll::Ready(Err(e));
                }
                return Poll::Ready(Ok(None));
            }
            Some(Msg::Return { .. }) => {
                rd.finish_dialog();
                core.peer_stopped.store(true, Ordering::Release);
                return Poll::Ready(Ok(None));
            }
            Some(Msg::Error { error, .. }) => {
                rd.finish_dialog();
                core.peer_stopped.store(true, Ordering::Release);
                return Poll::Ready(Err(Error::Remote(RemoteActorError::from_data(*error))));
            }
            Some(_) => continue,
            None => {
                core.peer_stopped.store(true, Ordering::Release);
                return Poll::Ready(match core.side {
                    // The task slot went away: our own task is ending.
                    Side::Callee => Ok(None),
                    Side::Caller => Err(core
                        .terminal_error()
                        .unwrap_or_else(|| core.conn.lost_error())),
                });
            }
        }
    }
}
