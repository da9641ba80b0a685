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
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures::FutureExt;

use super::actor::ActorRuntime;
use super::conn::{Conn, Inbox};
use super::context::{CtxCore, CtxSeed, with_current};
use super::endpoint::{EndpointEntry, Invocation, LocalError, Lookup};
use super::error::boxed_types;
use super::nursery::Orphans;
use super::trace::SpanIds;
use crate::ipc::{Aid, Cid, ErrorData, FuncType, Msg, StartView};

mod reply;
mod task;

use reply::{reply_after_debugger, reply_at_once, reply_of, start_ack};
use task::{Ack, RoomWait, Slots, Task};

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
        let task = Task::registered(rt, conn, cid, entry, slots, orphans);
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
    let ack = if conn.chan.has_room_for_answer() && conn.room_waiters.load(Ordering::Relaxed) == 0 {
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
                    return reply_after_debugger(rt, conn, entry, ack, reply, scope, span);
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

/// Waits until every RPC task and child supervisor of the actor is done.
pub(crate) async fn wait_rpc_tasks_done(rt: &ActorRuntime) {
    rt.work.close();
    rt.work.wait().await;
}
