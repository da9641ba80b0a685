//! A call served by a task of its own: a context, a stream, or a plain
//! call whose handler waits (or that found the write buffer full). It is
//! registered with its connection, where a `CancelTask` finds it, and
//! answers with its handler's end, its cancellation, or the failures of
//! the nurseries its cancellation dropped.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::future::LocalBoxFuture;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, Span};

use super::reply::{reply_of, start_ack};
use super::{Running, TASK, TaskScope, context_cancelled, error_msg};
use crate::ipc::{Aid, Cid, ErrorData, Msg};
use crate::runtime::actor::{ActorRuntime, lock};
use crate::runtime::conn::{Conn, Inbox, TaskSlot};
use crate::runtime::endpoint::{EndpointEntry, Reply};
use crate::runtime::nursery::Orphans;
use crate::runtime::wake_gate::Gated;

/// A plain call waiting for room in the write buffer: while any does,
/// later calls wait behind it (see [`schedule`](super::schedule)).
pub(super) struct RoomWait(Arc<Conn>);

impl RoomWait {
    pub(super) fn new(conn: &Arc<Conn>) -> RoomWait {
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
pub(super) type Outcome = Result<Reply, Box<dyn std::any::Any + Send>>;

/// Where a task's `StartAck` stands when the task starts.
pub(super) enum Ack {
    /// Already queued.
    Sent,
    /// To send at once.
    Send,
    /// To queue unannounced, for the reply to take along (a plain call
    /// that found the write buffer full: it waits for room first).
    Hold(RoomWait),
}

/// The state a running task shares with its connection's task table.
pub(super) struct Slots {
    pub(super) token: CancellationToken,
    pub(super) canceller: Arc<Mutex<Option<Aid>>>,
    failure: Arc<Mutex<Option<ErrorData>>>,
}

impl Slots {
    pub(super) fn new(rt: &ActorRuntime) -> Slots {
        Slots {
            token: rt.cancel.child_token(),
            canceller: Arc::new(Mutex::new(None)),
            failure: Arc::new(Mutex::new(None)),
        }
    }

    /// The task's entry in its connection's table.
    pub(super) fn slot(&self, entry: &'static EndpointEntry, inbox: Option<Inbox>) -> TaskSlot {
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
pub(super) struct Task {
    rt: Arc<ActorRuntime>,
    conn: Arc<Conn>,
    cid: Cid,
    entry: &'static EndpointEntry,
    slots: Slots,
    orphans: Orphans,
}

impl Task {
    /// A plain call's task, registered.
    pub(super) fn new(
        rt: &Arc<ActorRuntime>,
        conn: &Arc<Conn>,
        cid: Cid,
        entry: &'static EndpointEntry,
        orphans: Orphans,
    ) -> Task {
        let slots = Slots::new(rt);
        conn.register_task(cid, slots.slot(entry, None));
        Task::registered(rt, conn, cid, entry, slots, orphans)
    }

    /// The task of `slots`, which the caller registered (a context's or
    /// a stream's, whose slot also holds its inbox).
    pub(super) fn registered(
        rt: &Arc<ActorRuntime>,
        conn: &Arc<Conn>,
        cid: Cid,
        entry: &'static EndpointEntry,
        slots: Slots,
        orphans: Orphans,
    ) -> Task {
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
    pub(super) fn spawn(
        self,
        ack: Ack,
        run: LocalBoxFuture<'static, Outcome>,
        scope: TaskScope,
        span: Span,
    ) {
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
pub(super) struct HeldAck<'a> {
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

/// The failures of the nurseries a cancelled task dropped, boxed as the
/// task's error (one bare, several as an aggregate), if there were any.
async fn orphaned_failure(orphans: &Orphans, me: &Aid) -> Option<ErrorData> {
    let mut errors = orphans.settle().await;
    let error = match errors.len() {
        0 => return None,
        1 => errors.remove(0).1,
        _ => crate::Error::Multi(crate::MultiError { errors }),
    };
    Some(crate::runtime::endpoint::box_tractor_error(&error).into_data(me))
}
