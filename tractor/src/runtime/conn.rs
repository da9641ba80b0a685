//! A served channel: its dialog tables and its message loop.
//!
//! Dialogs we opened (`calls`) and tasks a peer opened here (`tasks`) each
//! get their stream messages through a queue bounded by the dialog's
//! window ([`DialogShared`]); credits and terminal messages are applied by
//! the loop directly. The loop never blocks on a slow dialog: one that
//! overflows its window is failed alone with `StreamOverrun`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::actor::{ActorRuntime, lock};
use super::dialog::{Budget, DialogShared, DialogTag, Refused, Terminal};
use super::dialog_queue::{Next, QueueRx, QueueTx, dialog_queue_in};
use super::endpoint::LocalError;
use super::error::{Clipped, boxed_types};
use super::wake_gate::Gated;

/// Most bytes of a peer's error shown in a log line from the loop.
const LOGGED_ERROR_BYTES: usize = 4096;
use crate::ipc::{
    Aid, Channel, Cid, ErrorData, FlowSpec, Frames, FuncType, IpcError, Limits, Msg, MsgReader,
    OwnedFrame, Run, StartView, codec, decode_answer, split_yield,
};

/// The stream side of a dialog: its queue and shared state.
#[derive(Clone)]
pub(crate) struct Inbox {
    pub tx: QueueTx,
    pub shared: Arc<DialogShared>,
}

impl Inbox {
    /// The queue of dialog `cid` with `flow`, bounded by our own `limits`.
    pub(crate) fn new(
        cid: Cid,
        flow: FlowSpec,
        limits: &Limits,
        budget: Arc<Budget>,
        tag: Option<DialogTag>,
    ) -> (Inbox, QueueRx) {
        let (tx, rx) = dialog_queue_in(cid, budget.pool.clone());
        (
            Inbox {
                tx,
                shared: Arc::new(DialogShared::new(flow, limits, budget, tag)),
            },
            rx,
        )
    }
}

pub(crate) struct TaskSlot {
    pub token: CancellationToken,
    pub canceller: Arc<Mutex<Option<Aid>>>,
    /// Set when the dialog failed here (an overrun): the task answers with
    /// this instead of `ContextCancelled`.
    pub failure: Arc<Mutex<Option<ErrorData>>>,
    /// Stream messages from the caller (contexts only).
    pub inbox: Option<Inbox>,
    /// The endpoint's `module::fn`, its kind and when it started (for a
    /// task dump).
    pub path: &'static str,
    pub kind: FuncType,
    pub since: Instant,
}

/// Cids are small sequential integers chosen by us or by the peer: an
/// identity hash is as good as SipHash here and much cheaper per message.
#[derive(Default)]
pub(crate) struct CidHasher(u64);

impl std::hash::Hasher for CidHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        // Spread the low bits for the table's bucket index.
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type CidMap<V> = HashMap<Cid, V, std::hash::BuildHasherDefault<CidHasher>>;

/// Why a channel was given up on by this side (rather than closed by
/// the peer or by us in an orderly way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LostReason {
    /// The peer sent nothing, not even a heartbeat, for this long.
    Unresponsive { silent_for: Duration },
}

pub(crate) struct Conn {
    pub chan: Channel,
    /// What this peer may cost us (our actor's limits).
    pub limits: Limits,
    /// The unread bytes its dialogs may hold here, all together.
    pub budget: Arc<Budget>,
    /// Set when a child reports `Ready` over this channel.
    pub ready: tokio::sync::watch::Sender<bool>,
    /// Dialogs we opened (read by the task census too).
    pub(super) calls: Mutex<CidMap<Inbox>>,
    /// Tasks the peer started here.
    pub(super) tasks: Mutex<CidMap<TaskSlot>>,
    /// Plain calls waiting for room in the write buffer (see `rpc`).
    pub(super) room_waiters: AtomicUsize,
    /// Messages received so far (the liveness watchdog compares it).
    heard: AtomicU64,
    lost: OnceLock<LostReason>,
    /// Who keeps this channel open (portals' leases, the runtime).
    pub share: super::share::ShareState,
}

impl Conn {
    pub(crate) fn new(chan: Channel, limits: Limits) -> Self {
        Conn {
            chan,
            budget: Budget::new(limits.connection_bytes),
            limits,
            ready: tokio::sync::watch::channel(false).0,
            calls: Mutex::new(CidMap::default()),
            tasks: Mutex::new(CidMap::default()),
            room_waiters: AtomicUsize::new(0),
            heard: AtomicU64::new(0),
            lost: OnceLock::new(),
            share: super::share::ShareState::default(),
        }
    }

    /// How many messages were received on this channel so far.
    pub(crate) fn heard(&self) -> u64 {
        self.heard.load(Ordering::Relaxed)
    }

    /// Gives up on the peer: records why, then closes the channel, which
    /// ends every dialog on it with [`lost_error`](Self::lost_error).
    pub(crate) fn declare_lost(&self, why: LostReason) {
        let _ = self.lost.set(why);
        self.chan.close();
    }

    /// Why this side gave up on the peer, if it did.
    pub(crate) fn lost_reason(&self) -> Option<LostReason> {
        self.lost.get().copied()
    }

    /// The error a dialog on this channel ends with once the channel is gone.
    pub(crate) fn lost_error(&self) -> crate::Error {
        let peer = self.chan.peer().clone();
        match self.lost_reason() {
            Some(LostReason::Unresponsive { silent_for }) => {
                crate::Error::PeerUnresponsive { peer, silent_for }
            }
            None => crate::Error::TransportClosed { peer },
        }
    }

    /// Opens a dialog of the runtime's own (a ping, a cancel request)
    /// with default flow settings.
    pub(crate) fn open_dialog(self: &Arc<Self>) -> Dialog {
        self.open_dialog_with(FlowSpec::default(), None)
    }

    /// Opens a dialog: a fresh cid and the queue its replies arrive on;
    /// `tag` says which endpoint it calls. The window we announce is at
    /// most what our limits let us queue, so a peer keeping to it never
    /// overruns us.
    pub(crate) fn open_dialog_with(
        self: &Arc<Self>,
        mut flow: FlowSpec,
        tag: Option<DialogTag>,
    ) -> Dialog {
        flow.window = flow.window.clamp(1, self.limits.stream_buffer.max(1));
        let cid = self.chan.next_cid();
        let (inbox, rx) = Inbox::new(cid, flow, &self.limits, self.budget.clone(), tag);
        // A closed channel never routes again: leave the sender out so the
        // receiver sees the end at once. Checked under the table's lock:
        // the channel is closed before its dialogs are failed, so a dialog
        // opened on another thread meanwhile is either failed with them
        // or sees the close.
        {
            let mut calls = lock(&self.calls);
            if !self.chan.is_closed() {
                calls.insert(cid, inbox.clone());
            } else {
                inbox.shared.finish(Terminal::Lost);
            }
        }
        Dialog {
            conn: self.clone(),
            cid,
            rx,
            shared: inbox.shared,
            done: false,
            lease: None,
        }
    }

    pub(crate) fn register_task(&self, cid: Cid, slot: TaskSlot) {
        lock(&self.tasks).insert(cid, slot);
    }

    /// How many tasks this peer runs here.
    pub(crate) fn task_count(&self) -> usize {
        lock(&self.tasks).len()
    }

    /// Whether the task the peer opened as `cid` still runs here.
    pub(crate) fn has_task(&self, cid: Cid) -> bool {
        lock(&self.tasks).contains_key(&cid)
    }

    pub(crate) fn finish_task(&self, cid: Cid) {
        lock(&self.tasks).remove(&cid);
    }

    /// Cancels a task this peer opened here; false if it is not running.
    pub(crate) fn cancel_task(&self, cid: Cid, by: &Aid) -> bool {
        match lock(&self.tasks).get(&cid) {
            Some(slot) => {
                lock(&slot.canceller).get_or_insert_with(|| by.clone());
                slot.token.cancel();
                true
            }
            None => false,
        }
    }

    /// Routes a message of a dialog we opened.
    fn route_call(&self, me: &Aid, cid: Cid, msg: Msg) {
        // Held while routing: every step below is non-blocking.
        let calls = lock(&self.calls);
        let Some(inbox) = calls.get(&cid) else {
            tracing::debug!(target: "tractor::ipc", cid, kind = msg.kind(), "message for a dialog that is no longer open");
            return;
        };
        let shared = &inbox.shared;
        let peer = self.chan.peer();
        match msg {
            Msg::Credit { n, bytes, .. } => {
                if shared.add_credit(n, bytes).is_err() {
                    let err = excess_credit(me, peer, cid, n, bytes, shared);
                    self.fail_call(cid, inbox, err);
                }
            }
            // A plain call's caller waits for its result alone.
            Msg::StartAck { .. } if shared.is_plain_call() => {}
            // A dialog ends once: what a peer sends after its end is
            // dropped, not queued (its queue has no room for ends).
            Msg::Return { .. } | Msg::Error { .. } if shared.has_terminal() => {
                tracing::debug!(target: "tractor::ipc", cid, kind = msg.kind(), "a second end of a dialog from {peer}; dropped");
            }
            Msg::Return { pld, .. } => {
                // The value is kept once, in the dialog's end (see
                // `DialogShared::take_terminal`). A plain call's caller
                // looks there when woken; any other dialog's is told by a
                // `Return` queued after what came before it.
                shared.finish(Terminal::Returned(pld));
                if shared.is_plain_call() {
                    inbox.tx.wake();
                } else {
                    let _ = inbox.tx.send(Msg::Return {
                        cid,
                        pld: Vec::new(),
                    });
                }
            }
            Msg::Error { error, .. } => {
                shared.finish(Terminal::Failed(error.clone()));
                let _ = inbox.tx.send(Msg::Error {
                    cid: Some(cid),
                    error,
                });
            }
            other => {
                if let Err(Refused::Overrun) = shared.enqueue(&inbox.tx, other) {
                    // The peer outran our buffer: fail the dialog here and
                    // stop its task there.
                    tracing::warn!(target: "tractor::ipc", cid, "stream overrun from {peer}");
                    let err = overrun_error(me, peer, cid, shared);
                    self.fail_call(cid, inbox, err);
                }
            }
        }
    }

    /// Routes a run of stream items of dialog `cid` (`Yield` payloads,
    /// in place in the read buffer): `first`, then what `more` gives.
    /// The dialog's table and queue are locked once for the run. What
    /// follows an overrun in the run is dropped with it.
    fn route_items<'a>(
        &self,
        me: &Aid,
        cid: Cid,
        first: &'a [u8],
        mut more: impl FnMut() -> Option<&'a [u8]>,
    ) {
        self.route_stream(me, cid, |inbox| {
            inbox.shared.enqueue_items(&inbox.tx, first, &mut more)
        });
        // Whatever of the run was not queued goes with it.
        while more().is_some() {}
    }

    /// Routes one large stream item of dialog `cid` in the buffer it was
    /// read into (`buf[pld]`), without copying it.
    fn route_owned(&self, me: &Aid, cid: Cid, buf: Vec<u8>, pld: std::ops::Range<usize>) {
        self.route_stream(me, cid, |inbox| {
            inbox.shared.enqueue_owned(&inbox.tx, buf, pld)
        });
    }

    /// Hands stream items of dialog `cid` to `enqueue` with the dialog's
    /// queue (one we opened, or a task the peer opened here), under its
    /// table's lock; fails the dialog if they overran it.
    fn route_stream(
        &self,
        me: &Aid,
        cid: Cid,
        enqueue: impl FnOnce(&Inbox) -> Result<(), Refused>,
    ) {
        if self.chan.owns_cid(cid) {
            let calls = lock(&self.calls);
            let Some(inbox) = calls.get(&cid) else {
                tracing::debug!(target: "tractor::ipc", cid, kind = "Yield", "message for a dialog that is no longer open");
                return;
            };
            if let Err(Refused::Overrun) = enqueue(inbox) {
                let peer = self.chan.peer();
                tracing::warn!(target: "tractor::ipc", cid, "stream overrun from {peer}");
                let err = overrun_error(me, peer, cid, &inbox.shared);
                self.fail_call(cid, inbox, err);
            }
            return;
        }
        let tasks = lock(&self.tasks);
        let Some(slot) = tasks.get(&cid) else {
            tracing::debug!(target: "tractor::ipc", cid, kind = "Yield", "message for a task that is no longer running");
            return;
        };
        let Some(inbox) = &slot.inbox else {
            tracing::warn!(target: "tractor::ipc", cid, kind = "Yield", "stream message for a task that has no stream; ignored");
            return;
        };
        if let Err(Refused::Overrun) = enqueue(inbox) {
            let peer = self.chan.peer();
            tracing::warn!(target: "tractor::ipc", cid, "stream overrun from {peer}");
            let err = overrun_error(me, peer, cid, &inbox.shared);
            fail_task(slot, inbox, err);
        }
    }

    /// Fails a dialog we opened (the peer broke its flow): the error here,
    /// a cancel request for its task there.
    fn fail_call(&self, cid: Cid, inbox: &Inbox, err: ErrorData) {
        inbox.shared.finish(Terminal::Failed(Box::new(err.clone())));
        let _ = inbox.tx.send(Msg::Error {
            cid: Some(cid),
            error: Box::new(err),
        });
        self.chan.send_soon(Msg::CancelTask {
            cid: self.chan.next_cid(),
            target: cid,
        });
    }

    /// Routes a stream message to a task the peer opened here.
    fn route_task(&self, me: &Aid, cid: Cid, msg: Msg) {
        let tasks = lock(&self.tasks);
        let Some(slot) = tasks.get(&cid) else {
            tracing::debug!(target: "tractor::ipc", cid, kind = msg.kind(), "message for a task that is no longer running");
            return;
        };
        let Some(inbox) = &slot.inbox else {
            tracing::warn!(target: "tractor::ipc", cid, kind = msg.kind(), "stream message for a task that has no stream; ignored");
            return;
        };
        let peer = self.chan.peer();
        match msg {
            Msg::Credit { n, bytes, .. } => {
                if inbox.shared.add_credit(n, bytes).is_err() {
                    let err = excess_credit(me, peer, cid, n, bytes, &inbox.shared);
                    fail_task(slot, inbox, err);
                }
            }
            other => {
                if let Err(Refused::Overrun) = inbox.shared.enqueue(&inbox.tx, other) {
                    tracing::warn!(target: "tractor::ipc", cid, "stream overrun from {peer}");
                    let err = overrun_error(me, peer, cid, &inbox.shared);
                    fail_task(slot, inbox, err);
                }
            }
        }
    }

    /// The channel is gone: every open call ends, every task it started is
    /// cancelled (its caller vanished).
    fn fail_all(&self) {
        for (_, inbox) in lock(&self.calls).drain() {
            inbox.shared.finish(Terminal::Lost);
        }
        let peer = self.chan.peer().clone();
        for (_, slot) in lock(&self.tasks).drain() {
            lock(&slot.canceller).get_or_insert(peer.clone());
            slot.token.cancel();
        }
    }
}

/// Fails a task the peer opened here: it ends, answering with `err`.
fn fail_task(slot: &TaskSlot, inbox: &Inbox, err: ErrorData) {
    inbox.shared.finish(Terminal::Failed(Box::new(err.clone())));
    *lock(&slot.failure) = Some(err);
    slot.token.cancel();
}

/// A peer's breach of the protocol in dialog `cid`, as its error.
pub(crate) fn violation(me: &Aid, peer: &Aid, cid: Cid, what: String) -> ErrorData {
    tracing::warn!(target: "tractor::ipc", cid, "protocol violation by {peer}: {what}");
    LocalError::new(
        boxed_types::PROTOCOL_VIOLATION,
        format!("{peer} broke the protocol in dialog {cid} with actor {me}: it {what}; the dialog was failed"),
    )
    .into_data(me)
}

fn excess_credit(
    me: &Aid,
    peer: &Aid,
    cid: Cid,
    n: u32,
    bytes: u64,
    shared: &DialogShared,
) -> ErrorData {
    let window = shared.flow.window;
    let unacked = shared.unacked_bytes();
    violation(
        me,
        peer,
        cid,
        format!(
            "returned credit for {n} messages of {bytes} bytes, beyond the {window}-message window or the {unacked} bytes it had not acknowledged"
        ),
    )
}

fn overrun_error(me: &Aid, sender: &Aid, cid: Cid, shared: &DialogShared) -> ErrorData {
    let window = shared.recv_window();
    let bytes = shared.recv_bytes();
    LocalError::new(
        boxed_types::STREAM_OVERRUN,
        format!(
            "{sender} sent more than the buffer of dialog {cid} in actor {me} holds unread ({window} messages, or {bytes} bytes for all dialogs of the connection); read faster, raise the buffer (the window, or `Limits::stream_buffer`/`connection_bytes` of the receiving tree), allow overruns, or use backpressure (the default flow)"
        ),
    )
    .into_data(me)
}

/// One dialog we opened on a channel. Dropping it unregisters the cid; if
/// the dialog had not finished, the remote task is asked to cancel so no
/// remote work is silently orphaned.
pub(crate) struct Dialog {
    pub conn: Arc<Conn>,
    pub cid: Cid,
    rx: QueueRx,
    pub shared: Arc<DialogShared>,
    done: bool,
    /// The share of the portal that started it: a stream or context
    /// keeps a channel its portal opened open while it runs.
    pub lease: Option<Arc<super::share::Lease>>,
}

impl Dialog {
    /// The next message; `None` when the channel closed.
    pub(crate) async fn recv(&mut self) -> Option<Msg> {
        let m = self.rx.recv_msg().await;
        if let Some(m) = &m {
            self.shared.dequeued(m);
        }
        m
    }

    /// The next message, or an empty `Return` once the dialog's end is
    /// here with nothing queued before it (a plain call's result is not
    /// queued: see `route_call`); `None` when the channel closed.
    pub(crate) async fn recv_or_end(&mut self) -> Option<Msg> {
        let cid = self.cid;
        let m = std::future::poll_fn(|cx| match self.rx.poll_msg(cx) {
            // Looked at after the poll registered us: an end that comes
            // later wakes us.
            std::task::Poll::Pending if self.shared.has_terminal() => {
                self.rx.forget_waker();
                std::task::Poll::Ready(Some(Msg::Return {
                    cid,
                    pld: Vec::new(),
                }))
            }
            polled => polled,
        })
        .await;
        if let Some(m) = &m {
            self.shared.dequeued(m);
        }
        m
    }

    /// Polls the next message without window accounting (the caller does
    /// it).
    pub(crate) fn poll_msg(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Msg>> {
        self.rx.poll_msg(cx)
    }

    /// Polls the next message or item without window accounting (the
    /// caller does it).
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Next<'_>>> {
        self.rx.poll_next(cx)
    }

    /// Whether items taken off the queue in one swap are still unread.
    pub(crate) fn holds_items(&self) -> bool {
        self.rx.holds_items()
    }

    /// An item taken off the queue and paid for, if one is here (see
    /// [`QueueRx::held_item`]).
    #[inline]
    pub(crate) fn held_item(&mut self) -> Option<&[u8]> {
        self.rx.held_item()
    }

    /// Marks the dialog finished: dropping it will not cancel anything.
    pub(crate) fn finish(&mut self) {
        self.done = true;
    }
}

impl Drop for Dialog {
    fn drop(&mut self) {
        lock(&self.conn.calls).remove(&self.cid);
        if !self.done && self.shared.terminal().is_none() && !self.conn.chan.is_closed() {
            let req = Msg::CancelTask {
                cid: self.conn.chan.next_cid(),
                target: self.cid,
            };
            self.conn.chan.send_soon(req);
        }
    }
}

/// The message loop of one channel.
pub(crate) async fn serve(rt: Arc<ActorRuntime>, conn: Arc<Conn>, mut reader: MsgReader) {
    let _unserved = Unserved(conn.clone());
    // Large frames are read into the buffers their items give back.
    reader.recycle_into(conn.budget.pool.clone());
    // One close future for the whole loop, not one per message, polled
    // only when the close woke it (see `wake_gate`).
    let mut closed = Gated::new(conn.chan.closed());
    loop {
        let run = tokio::select! {
            biased;
            _ = &mut closed => break,
            r = reader.recv_run() => r,
        };
        let run = match run {
            Ok(Some(run)) => run,
            Ok(None) => {
                tracing::debug!(target: "tractor::ipc", "peer closed the channel");
                break;
            }
            Err(e) if e.is_disconnect() => {
                tracing::debug!(target: "tractor::ipc", "peer vanished: {e}");
                break;
            }
            Err(e) => {
                tracing::error!(target: "tractor::ipc", peer = %conn.chan.peer(), "dropping connection: {e}");
                break;
            }
        };
        // What this batch asks for may be answered at once.
        conn.chan.allow_inline_write();
        let handled = match run {
            Run::Frames(frames) => dispatch_run(&rt, &conn, frames),
            Run::Owned(frame) => dispatch_owned(&rt, &conn, frame),
        };
        if let Err(e) = handled {
            tracing::error!(target: "tractor::ipc", peer = %conn.chan.peer(), "dropping connection: {e}");
            break;
        }
    }
    conn.chan.close();
    conn.fail_all();
    rt.forget_conn(&conn);
    rt.note_conn_closed(conn_key(&conn));
    let lost_parent = rt.parent.get().is_some_and(|p| Arc::ptr_eq(p, &conn));
    if lost_parent && !rt.cancel.is_cancelled() {
        tracing::warn!(target: "tractor::cancel", "lost the channel to our parent; cancelling self");
        rt.request_cancel(Some(conn.chan.peer().clone()));
    }
}

/// Closes a channel whose loop is dropped before it ends (its actor's
/// home went away under it, with no teardown) and fails its dialogs, so
/// no caller on another thread waits for a reply forever. After a
/// normal end it finds both done.
struct Unserved(Arc<Conn>);

impl Drop for Unserved {
    fn drop(&mut self) {
        self.0.chan.close();
        self.0.fail_all();
    }
}

/// Handles the frames one read brought in, in order. Stream items are
/// routed from the read buffer without being decoded into messages, a
/// run of them for one dialog at once; an undecodable frame ends the
/// connection.
fn dispatch_run(
    rt: &Arc<ActorRuntime>,
    conn: &Arc<Conn>,
    mut frames: Frames<'_>,
) -> Result<(), IpcError> {
    let mut heard = 0u64;
    // The frame that ended a run of items, read but not handled yet.
    let mut after_run: Option<&[u8]> = None;
    while let Some(body) = after_run.take().or_else(|| frames.next()) {
        heard += 1;
        if let Some((cid, pld)) = split_yield(body) {
            // Each frame split once: the run takes what follows while it
            // is an item of the same dialog, and keeps the first that is not.
            conn.route_items(rt.aid(), cid, pld, || {
                if after_run.is_some() {
                    return None;
                }
                let next = frames.next()?;
                match split_yield(next) {
                    Some((c, pld)) if c == cid => {
                        heard += 1;
                        Some(pld)
                    }
                    _ => {
                        after_run = Some(next);
                        None
                    }
                }
            });
            continue;
        }
        conn.heard
            .fetch_add(std::mem::take(&mut heard), Ordering::Relaxed);
        // A call, read in place: its names are looked up where they lie.
        if let Some(start) = StartView::of(body) {
            super::rpc::schedule(rt, conn, start);
            continue;
        }
        let msg = match decode_answer(body) {
            Some(msg) => msg,
            None => codec::decode(body).map_err(|reason| IpcError::Decode {
                len: body.len(),
                reason,
            })?,
        };
        dispatch(rt, conn, msg);
    }
    conn.heard.fetch_add(heard, Ordering::Relaxed);
    Ok(())
}

/// Handles one large frame, handed over in the buffer it was read into:
/// a stream item is queued in it, never copied.
fn dispatch_owned(
    rt: &Arc<ActorRuntime>,
    conn: &Arc<Conn>,
    frame: OwnedFrame,
) -> Result<(), IpcError> {
    conn.heard.fetch_add(1, Ordering::Relaxed);
    let item = split_yield(frame.body()).and_then(|(cid, pld)| Some((cid, frame.range_of(pld)?)));
    if let Some((cid, pld)) = item {
        conn.route_owned(rt.aid(), cid, frame.into_buf(), pld);
        return Ok(());
    }
    let body = frame.body();
    if let Some(start) = StartView::of(body) {
        super::rpc::schedule(rt, conn, start);
    } else {
        let msg = codec::decode(body).map_err(|reason| IpcError::Decode {
            len: body.len(),
            reason,
        })?;
        dispatch(rt, conn, msg);
    }
    // Decoded: its buffer may take the next large frame (a fresh one
    // per large reply would cost the allocator's trim and refill).
    conn.budget.pool.give(frame.into_buf());
    Ok(())
}

fn dispatch(rt: &Arc<ActorRuntime>, conn: &Arc<Conn>, msg: Msg) {
    match msg {
        Msg::Start(start) => super::rpc::schedule(rt, conn, StartView::from_owned(&start)),
        Msg::Ready { register } => {
            // Registered before the spawn ends, so a lookup right after
            // `start_actor` finds the child.
            if let Some(addrs) = register {
                let peer = conn.chan.peer();
                if !rt.register_ready(conn_key(conn), peer, &addrs) {
                    // Debug, not warn: a peer repeating it must not flood the log.
                    tracing::debug!(target: "tractor::discovery", "{peer} asked to be registered with its Ready, but this actor is no registrar; it is not registered");
                }
            }
            conn.ready.send_replace(true);
        }
        // Counted as heard by the loop; nothing else to do.
        Msg::Heartbeat => {}
        Msg::Ping { cid } => conn.chan.send_soon(Msg::Pong { cid }),
        Msg::CancelTask { cid, target } => {
            let acked = conn.cancel_task(target, conn.chan.peer());
            tracing::debug!(target: "tractor::cancel", task = target, acked, "task cancel requested by {}", conn.chan.peer());
            conn.chan.send_soon(Msg::CancelAck { cid, acked });
        }
        Msg::CancelActor { cid } => {
            let rt2 = rt.clone();
            let conn2 = conn.clone();
            // The ack is sent once every task and child of ours is down.
            rt.aux.spawn(async move {
                tracing::info!(target: "tractor::cancel", "actor cancel requested by {}", conn2.chan.peer());
                rt2.request_cancel(Some(conn2.chan.peer().clone()));
                super::rpc::wait_rpc_tasks_done(&rt2).await;
                let _ = conn2.chan.send(&Msg::CancelAck { cid, acked: true }).await;
            });
        }
        Msg::StartAck { cid, .. }
        | Msg::Started { cid, .. }
        | Msg::Yield { cid, .. }
        | Msg::Stop { cid }
        | Msg::Return { cid, .. }
        | Msg::Credit { cid, .. }
        | Msg::CancelAck { cid, .. }
        | Msg::Pong { cid }
        | Msg::Error { cid: Some(cid), .. }
            if conn.chan.owns_cid(cid) =>
        {
            conn.route_call(rt.aid(), cid, msg)
        }
        Msg::Yield { cid, .. } | Msg::Stop { cid } | Msg::Credit { cid, .. } => {
            conn.route_task(rt.aid(), cid, msg)
        }
        Msg::Error { cid: None, error } => {
            // Clipped: the loop's cost must not grow with the peer's error.
            let error = crate::RemoteActorError::from_data(*error);
            tracing::error!(target: "tractor::runtime", "peer {} reported a runtime error: {}", conn.chan.peer(), Clipped(&error, LOGGED_ERROR_BYTES));
        }
        other => {
            tracing::warn!(target: "tractor::ipc", kind = other.kind(), "unexpected message from {}; ignored", conn.chan.peer());
        }
    }
}

/// A stable identity of a served channel (for registrations tied to it).
pub(crate) fn conn_key(conn: &Arc<Conn>) -> usize {
    Arc::as_ptr(conn) as usize
}

#[cfg(test)]
#[path = "conn_tests.rs"]
mod tests;
