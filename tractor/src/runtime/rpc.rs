//! Serving RPC: scheduling a peer's `Start` as a task of this actor.
//!
//! A plain call (`Portal::run`) is first polled where its `Start` is
//! read, in the connection's message loop: a handler with its result at
//! once is answered there, with no task, and its `StartAck` and reply
//! leave in one write (a task per call once cost more than the rest of
//! the call). It runs then, ahead of tasks that earlier messages woke:
//! calls on different dialogs have no order between them. A handler that
//! waits goes on as a task; so does every call while the connection's
//! write buffer is full (they wait for room, in order), and every
//! context and stream.
//!
//! Every task runs under a token that is a child of the actor's cancel
//! token, so an actor cancel or a `CancelTask` request drops the task's
//! future (Rust's cancellation) and the caller is told with a
//! `ContextCancelled` error naming who cancelled. A panic is caught and
//! boxed like any error; the actor's other tasks never notice.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::LocalBoxFuture;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span};

use super::actor::{ActorRuntime, lock};
use super::conn::{Conn, Inbox, TaskSlot};
use super::context::{CtxCore, CtxSeed, with_current};
use super::endpoint::{EndpointEntry, Invocation, LocalError, Lookup, Reply, box_panic};
use super::error::boxed_types;
use super::nursery::Orphans;
use super::trace::SpanIds;
use super::wake_gate::Gated;
use crate::ipc::{Aid, Cid, ErrorData, FuncType, Msg, StartView};

/// The error a cancelled task answers with.
pub(crate) fn context_cancelled(me: &Aid, what: &str, canceller: Option<Aid>) -> ErrorData {
    let by = canceller
        .as_ref()
        .map_or_else(|| "its actor".to_string(), |c| c.to_string());
    let mut d = LocalError::new(
        boxed_types::CONTEXT_CANCELLED,
        format!("{what} in actor {me} was cancelled by {by}"),
    )
    .into_data(me);
    d.canceller = canceller;
    d
}

fn error_msg(cid: Cid, data: ErrorData) -> Msg {
    Msg::Error {
        cid: Some(cid),
        error: Box::new(data),
    }
}

/// Serves a peer's `Start`, read in place from its frame.
pub(crate) fn schedule(rt: &Arc<ActorRuntime>, conn: &Arc<Conn>, start: StartView<'_>) {
    let StartView {
        cid,
        ns,
        func,
        args,
        kind,
        sig,
        flow,
        trace,
    } = start;
    let me = rt.aid();
    let refuse = |data: ErrorData| {
        conn.chan.send_soon(error_msg(cid, data));
    };
    if rt.cancel.is_cancelled() {
        return refuse(context_cancelled(
            me,
            &format!("`{ns}::{func}`"),
            rt.canceller(),
        ));
    }
    let entry = match rt.endpoints.lookup(ns, func, |m| rt.is_exposed(m)) {
        Lookup::Found(e) => e,
        Lookup::NotExposed => {
            return refuse(
                LocalError::new(
                    boxed_types::MODULE_NOT_EXPOSED,
                    format!(
                        "module `{ns}` is not exposed by actor {me}; add it to `enable_modules` when spawning the actor"
                    ),
                )
                .into_data(me),
            );
        }
        Lookup::Missing => {
            return refuse(
                LocalError::new(
                    boxed_types::NO_SUCH_ENDPOINT,
                    format!(
                        "module `{ns}` has no endpoint `{func}` in actor {me}; is the fn marked #[tractor::endpoint] and linked into this binary?"
                    ),
                )
                .into_data(me),
            );
        }
    };
    if conn.has_task(cid) {
        // Refused without touching the running task's dialog: an `Error`
        // for this cid would end the caller's view of the first task.
        let err = super::conn::violation(
            me,
            conn.chan.peer(),
            cid,
            format!("started `{ns}::{func}` with the id of a task still running"),
        );
        conn.chan.send_soon(Msg::Error {
            cid: None,
            error: Box::new(err),
        });
        return;
    }
    if let Some(reason) = mismatch(entry, kind, sig) {
        return refuse(LocalError::new(boxed_types::MSG_TYPE_ERROR, reason).into_data(me));
    }
    if let Some(reason) = over_task_limit(rt, conn) {
        tracing::debug!(target: "tractor::runtime", "refused `{ns}::{func}` from {}: {reason}", conn.chan.peer());
        return refuse(LocalError::new(boxed_types::TOO_MANY_TASKS, reason).into_data(me));
    }
    let ids = SpanIds::for_task(trace.as_ref());
    let span = tracing::debug_span!(
        parent: &rt.span,
        "rpc",
        endpoint = entry.path,
        caller = %conn.chan.peer(),
        trace_id = %ids.trace(),
        span_id = %ids.span(),
        parent_span_id = ids.parent_field(),
    );
    super::trace::attach(&span, ids, trace.as_ref());
    let orphans = Orphans::default();
    let scope = TaskScope {
        caller: super::conn::conn_key(conn),
        path: entry.path,
        trace: ids,
        rt: rt.clone(),
        orphans: orphans.clone(),
    };
    if entry.kind != FuncType::AsyncFunc {
        let slots = Slots::new(rt);
        let (inbox, rx) = Inbox::new(cid, flow, &conn.limits, conn.budget.clone(), None);
        let seed = CtxSeed {
            rt: rt.clone(),
            conn: conn.clone(),
            cid,
            rx,
            shared: inbox.shared.clone(),
            token: slots.token.clone(),
            canceller: slots.canceller.clone(),
        };
        let core = CtxCore::callee(seed, entry.path);
        conn.register_task(cid, slots.slot(entry, Some(inbox)));
        let handler = (entry.handler)(Invocation {
            args: args.to_vec(),
            path: entry.path,
            ctx: Some(core.clone()),
        });
        let run =
            async move { with_current(&core, AssertUnwindSafe(handler).catch_unwind()).await };
        // The caller of a context or a stream waits for the `StartAck`
        // itself (a refused stream fails there): it goes at once.
        let task = Task {
            rt: rt.clone(),
            conn: conn.clone(),
            cid,
            entry,
            slots,
            orphans,
        };
        return task.spawn(Ack::Send, Box::pin(run), scope, span);
    }
    let mut run = AssertUnwindSafe((entry.handler)(Invocation {
        args: args.to_vec(),
        path: entry.path,
        ctx: None,
    }))
    .catch_unwind();
    // Calls that found the write buffer full wait for room in the order
    // they came: no later call is answered at once ahead of them.
    let ack = if conn.chan.has_room() && conn.room_waiters.load(Ordering::Relaxed) == 0 {
        // A plain call's handler is first polled here, in the message
        // loop: one with its result at once costs no task, and its
        // `StartAck` and result leave in one write. One that waits
        // goes on in a task of its own, which polls it again with its
        // own waker (the one this poll was given wakes nothing).
        let polled = span.in_scope(|| {
            scope.enter(|| {
                run.poll_unpin(&mut std::task::Context::from_waker(std::task::Waker::noop()))
            })
        });
        match polled {
            std::task::Poll::Ready(outcome) => {
                // Made at once: a panic's backtrace is this thread's now.
                let (reply, crashed) = span.in_scope(|| reply_of(cid, outcome, me, entry.path));
                let ack = start_ack(cid, entry);
                if crashed && rt.p.debug_mode {
                    return reply_after_debugger(rt, conn, entry, [ack, reply], scope, span);
                }
                return reply_at_once(conn, entry.path, ack, reply);
            }
            std::task::Poll::Pending => {
                // It waits: its `StartAck` goes now.
                if let Err(e) = conn.chan.send_in_room(&start_ack(cid, entry)) {
                    tracing::debug!(target: "tractor::ipc", "could not acknowledge `{}`: {e}", entry.path);
                }
                Ack::Sent
            }
        }
    } else {
        Ack::Hold(RoomWait::new(conn))
    };
    let task = Task::new(rt, conn, cid, entry, orphans);
    task.spawn(ack, Box::pin(run), scope, span);
}

/// A call's `StartAck`.
fn start_ack(cid: Cid, entry: &EndpointEntry) -> Msg {
    Msg::StartAck {
        cid,
        functype: entry.kind,
    }
}

/// The reply to a handler's end (not its cancellation), and whether it
/// is the endpoint's own failure: what the debugger's post-mortem looks
/// at before it goes to the caller.
fn reply_of(cid: Cid, outcome: Outcome, me: &Aid, path: &str) -> (Msg, bool) {
    match outcome {
        Ok(Reply::Ok(pld)) => (Msg::Return { cid, pld }, false),
        Ok(Reply::Err(e)) => (error_msg(cid, e.into_data(me)), true),
        Err(panic) => {
            tracing::error!(target: "tractor::runtime", "endpoint `{path}` panicked");
            (error_msg(cid, box_panic(panic).into_data(me)), true)
        }
    }
}

/// Queues a plain call's `StartAck` and its reply from the message loop,
/// which saw room for them: the reply's write takes the `StartAck` along.
fn reply_at_once(conn: &Conn, path: &str, ack: Msg, reply: Msg) {
    let sent = conn
        .chan
        .send_unannounced_in_room(&ack)
        .and_then(|()| conn.chan.send_in_room(&reply));
    if let Err(e) = sent {
        // The `StartAck` is not left waiting for another frame.
        conn.chan.announce();
        // The caller vanished; its loss is handled by the channel's loop.
        tracing::debug!(target: "tractor::ipc", "could not deliver the reply of `{path}`: {e}");
    }
}

/// A plain call that failed at once, in debug mode: the debugger looks
/// at the failure (it may wait for the terminal) before the caller hears
/// of it, in a task. The outcome is known: there is nothing to cancel.
fn reply_after_debugger(
    rt: &Arc<ActorRuntime>,
    conn: &Arc<Conn>,
    entry: &'static EndpointEntry,
    [ack, reply]: [Msg; 2],
    scope: TaskScope,
    span: Span,
) {
    let running = Running::enter(rt);
    let rt2 = rt.clone();
    let conn = conn.clone();
    let body = async move {
        let _running = running;
        for (i, msg) in [ack, reply].iter().enumerate() {
            if i == 1
                && let Msg::Error { error, .. } = msg
            {
                rt2.note_task_failed(entry.path, error).await;
            }
            if let Err(e) = conn.chan.send(msg).await {
                tracing::debug!(target: "tractor::ipc", "could not deliver the reply of `{}`: {e}", entry.path);
                return;
            }
        }
    };
    rt.work
        .spawn_local(TASK.scope(scope, body).instrument(span));
}

/// A plain call waiting for room in the write buffer: while any does,
/// later calls wait behind it (see [`schedule`]).
struct RoomWait(Arc<Conn>);

impl RoomWait {
    fn new(conn: &Arc<Conn>) -> RoomWait {
        conn.room_waiters.fetch_add(1, Ordering::Relaxed);
        RoomWait(conn.clone())
    }
}

impl Drop for RoomWait {
    fn drop(&mut self) {
        self.0.room_waiters.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What a handler ends with: its reply, or its panic.
type Outcome = Result<Reply, Box<dyn std::any::Any + Send>>;

/// Where a task's `StartAck` stands when the task starts.
enum Ack {
    /// Already queued.
    Sent,
    /// To send at once.
    Send,
    /// To queue unannounced, for the reply to take along (a plain call
    /// that found the write buffer full: it waits for room first).
    Hold(RoomWait),
}

/// The state a running task shares with its connection's task table.
struct Slots {
    token: CancellationToken,
    canceller: Arc<Mutex<Option<Aid>>>,
    failure: Arc<Mutex<Option<ErrorData>>>,
}

impl Slots {
    fn new(rt: &ActorRuntime) -> Slots {
        Slots {
            token: rt.cancel.child_token(),
            canceller: Arc::new(Mutex::new(None)),
            failure: Arc::new(Mutex::new(None)),
        }
    }

    /// The task's entry in its connection's table.
    fn slot(&self, entry: &'static EndpointEntry, inbox: Option<Inbox>) -> TaskSlot {
        TaskSlot {
            token: self.token.clone(),
            canceller: self.canceller.clone(),
            failure: self.failure.clone(),
            inbox,
            path: entry.path,
            kind: entry.kind,
            since: std::time::Instant::now(),
        }
    }
}

/// A call served by a task of the actor's own, registered with its
/// connection (where a `CancelTask` finds it) until it ends.
struct Task {
    rt: Arc<ActorRuntime>,
    conn: Arc<Conn>,
    cid: Cid,
    entry: &'static EndpointEntry,
    slots: Slots,
    orphans: Orphans,
}

impl Task {
    /// A plain call's task, registered.
    fn new(
        rt: &Arc<ActorRuntime>,
        conn: &Arc<Conn>,
        cid: Cid,
        entry: &'static EndpointEntry,
        orphans: Orphans,
    ) -> Task {
        let slots = Slots::new(rt);
        conn.register_task(cid, slots.slot(entry, None));
        Task {
            rt: rt.clone(),
            conn: conn.clone(),
            cid,
            entry,
            slots,
            orphans,
        }
    }

    /// Runs `run` to its end or its cancellation, and replies.
    fn spawn(self, ack: Ack, run: LocalBoxFuture<'static, Outcome>, scope: TaskScope, span: Span) {
        let rt = self.rt.clone();
        let running = Running::enter(&rt);
        let body = async move {
            let _running = running;
            self.serve(ack, run).await;
        };
        rt.work
            .spawn_local(TASK.scope(scope, body).instrument(span));
    }

    async fn serve(self, ack: Ack, run: LocalBoxFuture<'static, Outcome>) {
        let Task {
            rt,
            conn,
            cid,
            entry,
            slots,
            orphans,
        } = self;
        // Borrowed, not cloned per call: an `Aid` holds a `String`.
        let me = rt.aid();
        // A held `StartAck` leaves with the result when the handler has
        // one at once (one write), or when the handler first waits.
        let held = match ack {
            Ack::Sent => false,
            Ack::Send => {
                let _ = conn.chan.send(&start_ack(cid, entry)).await;
                false
            }
            Ack::Hold(waiting) => {
                let _ = conn.chan.send_unannounced(&start_ack(cid, entry)).await;
                drop(waiting);
                true
            }
        };
        let mut ack = HeldAck {
            chan: &conn.chan,
            held,
        };
        // Polled only when the cancel woke it, not every time the handler
        // does (a stream's handler wakes per message; see `wake_gate`).
        let cancelled = Gated::new(slots.token.cancelled());
        // In a block: a cancelled handler is dropped here, at once (its
        // nurseries' children become orphans, whose failures count below).
        let outcome = {
            let mut run = run;
            let run = std::future::poll_fn(|cx| {
                let polled = run.as_mut().poll(cx);
                if polled.is_pending() {
                    ack.release();
                }
                polled
            });
            tokio::select! {
                biased;
                () = cancelled => None,
                r = run => Some(r),
            }
        };
        // The other outcomes may wait (for orphaned children, for the
        // debugger) before their reply: the `StartAck` goes now.
        if !matches!(outcome, Some(Ok(Reply::Ok(_)))) {
            ack.release();
        }
        let (reply, crashed) = match outcome {
            Some(outcome) => reply_of(cid, outcome, me, entry.path),
            None => {
                // Taken out first: the guard must not live across the await.
                let overrun = lock(&slots.failure).take();
                match overrun {
                    // The dialog failed here (an overrun): say so, not "cancelled".
                    Some(err) => (error_msg(cid, err), false),
                    // Children of a nursery the cancel dropped failed:
                    // their errors, not the cancellation, are the outcome.
                    None => match orphaned_failure(&orphans, me).await {
                        Some(err) => (error_msg(cid, err), true),
                        None => {
                            let by = lock(&slots.canceller).clone().or_else(|| rt.canceller());
                            tracing::debug!(target: "tractor::cancel", "task `{}` cancelled", entry.path);
                            let err = context_cancelled(me, &format!("`{}`", entry.path), by);
                            (error_msg(cid, err), false)
                        }
                    },
                }
            }
        };
        if crashed
            && rt.p.debug_mode
            && let Msg::Error { error, .. } = &reply
        {
            rt.note_task_failed(entry.path, error).await;
        }
        conn.finish_task(cid);
        match conn.chan.send(&reply).await {
            // The `StartAck` left with it.
            Ok(()) => ack.held = false,
            // The caller vanished; its loss is handled by the channel's loop.
            Err(e) => {
                tracing::debug!(target: "tractor::ipc", "could not deliver the reply of `{}`: {e}", entry.path);
            }
        }
    }
}

/// A plain call's `StartAck`, queued without waking the writer (see
/// [`Channel::send_unannounced`](crate::ipc::Channel::send_unannounced))
/// until the task's reply takes it along or [`release`](Self::release)
/// sends it. However the task ends (a handler that panics before its
/// first poll, a reply that cannot be encoded, the task dropped), it is
/// released then, not left waiting for another frame.
struct HeldAck<'a> {
    chan: &'a crate::ipc::Channel,
    held: bool,
}

impl HeldAck<'_> {
    /// Wakes the writer for the `StartAck`, if it is still held.
    fn release(&mut self) {
        if std::mem::take(&mut self.held) {
            self.chan.announce();
        }
    }
}

impl Drop for HeldAck<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// What an RPC task knows of itself, for code running in it: one
/// task-local, not one per item (each costs every poll of the task).
#[derive(Clone)]
struct TaskScope {
    /// The channel it was called over (its identity).
    caller: usize,
    /// The endpoint it runs.
    path: &'static str,
    /// Its place in the caller's trace.
    trace: SpanIds,
    /// Its actor (see [`current`](super::current)).
    rt: Arc<ActorRuntime>,
    /// Where nurseries it drops go (see [`Orphans`]).
    orphans: Orphans,
}

tokio::task_local! {
    static TASK: TaskScope;
}

impl TaskScope {
    /// Runs `f` as the task would run, in this scope.
    fn enter<R>(&self, f: impl FnOnce() -> R) -> R {
        TASK.sync_scope(self.clone(), f)
    }
}

/// Why one more task from `conn` would break this actor's task limits.
fn over_task_limit(rt: &ActorRuntime, conn: &Conn) -> Option<String> {
    let limits = &conn.limits;
    let me = rt.aid();
    if conn.task_count() >= limits.tasks_per_connection {
        return Some(format!(
            "actor {me} already runs {} tasks for {}, the most one connection may start (`Limits::tasks_per_connection`); wait for some to end, or raise the limit of the callee's tree",
            limits.tasks_per_connection,
            conn.chan.peer()
        ));
    }
    if rt.rpc_tasks.load(Ordering::Relaxed) >= limits.tasks_per_actor {
        return Some(format!(
            "actor {me} already runs {} tasks, the most all its peers together may start (`Limits::tasks_per_actor`); wait for some to end, or raise the limit of the callee's tree",
            limits.tasks_per_actor
        ));
    }
    None
}

/// One RPC task counted against the actor's task limit while it lives.
struct Running(Arc<ActorRuntime>);

impl Running {
    fn enter(rt: &Arc<ActorRuntime>) -> Running {
        rt.rpc_tasks.fetch_add(1, Ordering::Relaxed);
        Running(rt.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.rpc_tasks.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The channel the current RPC task was called over (its identity).
pub(crate) fn current_caller_key() -> Option<usize> {
    TASK.try_with(|t| t.caller).ok()
}

/// The actor of the current RPC task, if the code runs in one.
pub(crate) fn current_task_actor() -> Option<Arc<ActorRuntime>> {
    TASK.try_with(|t| t.rt.clone()).ok()
}

/// Hands a nursery the current RPC task dropped mid-way to the task (see
/// [`Orphans`]); `false` outside an RPC task.
pub(crate) fn adopt_orphan(nursery: Arc<super::nursery::NurseryInner>) -> bool {
    TASK.try_with(|t| t.orphans.adopt(nursery)).is_ok()
}

/// The endpoint the current RPC task runs, if it is one.
pub(crate) fn current_task_path() -> Option<&'static str> {
    TASK.try_with(|t| t.path).ok()
}

/// The trace ids of the current RPC task.
pub(crate) fn current_task_trace() -> Option<SpanIds> {
    TASK.try_with(|t| t.trace).ok()
}

/// Why a `Start` does not fit the endpoint it names, if it does not: the
/// wrong kind of call, or a caller compiled against another signature.
fn mismatch(entry: &EndpointEntry, kind: FuncType, sig: Option<u64>) -> Option<String> {
    if entry.kind != kind {
        let how = |k: FuncType| match k {
            FuncType::AsyncFunc => "an async fn endpoint (Portal::run)",
            FuncType::Stream => "a stream endpoint (Portal::open_stream_from)",
            FuncType::Context => "a context endpoint (Portal::open_context)",
        };
        return Some(format!(
            "`{}` is {}, but was called as {}",
            entry.path,
            how(entry.kind),
            how(kind)
        ));
    }
    match sig {
        Some(h) if h != (entry.signature_hash)() => Some(format!(
            "the caller of `{}` was built with a different signature than this actor's `{}`; rebuild both from the same source",
            entry.path,
            (entry.signature)()
        )),
        _ => None,
    }
}

/// The failures of the nurseries a cancelled task dropped, boxed as the
/// task's error (one bare, several as an aggregate), if there were any.
async fn orphaned_failure(orphans: &Orphans, me: &Aid) -> Option<ErrorData> {
    let mut errors = orphans.settle().await;
    let error = match errors.len() {
        0 => return None,
        1 => errors.remove(0).1,
        _ => crate::Error::Multi(crate::MultiError { errors }),
    };
    Some(super::endpoint::box_tractor_error(&error).into_data(me))
}

/// Waits until every RPC task and child supervisor of the actor is done.
pub(crate) async fn wait_rpc_tasks_done(rt: &ActorRuntime) {
    rt.work.close();
    rt.work.wait().await;
}
