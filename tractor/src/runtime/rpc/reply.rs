//! A call's answers: its `StartAck`, and the reply its handler's end
//! makes, queued from the message loop or after the debugger's look.

use std::sync::Arc;

use tracing::{Instrument, Span};

use super::task::Outcome;
use super::{Running, TASK, TaskScope, error_msg};
use crate::ipc::{Aid, Cid, Msg};
use crate::runtime::actor::ActorRuntime;
use crate::runtime::conn::Conn;
use crate::runtime::endpoint::{EndpointEntry, Reply, box_panic};

/// A call's `StartAck`.
pub(super) fn start_ack(cid: Cid, entry: &EndpointEntry) -> Msg {
    Msg::StartAck {
        cid,
        functype: entry.kind,
    }
}

/// The reply to a handler's end (not its cancellation), and whether it
/// is the endpoint's own failure: what the debugger's post-mortem looks
/// at before it goes to the caller.
pub(super) fn reply_of(cid: Cid, outcome: Outcome, me: &Aid, path: &str) -> (Msg, bool) {
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
pub(super) fn reply_at_once(conn: &Conn, path: &str, ack: Msg, reply: Msg) {
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
pub(super) fn reply_after_debugger(
    rt: &Arc<ActorRuntime>,
    conn: &Arc<Conn>,
    entry: &'static EndpointEntry,
    ack: Msg,
    reply: Msg,
    scope: TaskScope,
    span: Span,
) {
    let running = Running::enter(rt);
    let rt2 = rt.clone();
    let conn = conn.clone();
    let body = async move {
        let _running = running;
        let sent = async {
            conn.chan.send(&ack).await?;
            if let Msg::Error { error, .. } = &reply {
                rt2.note_task_failed(entry.path, error).await;
            }
            conn.chan.send(&reply).await
        };
        if let Err(e) = sent.await {
            // The caller vanished; its loss is handled by the channel's loop.
            tracing::debug!(target: "tractor::ipc", "could not deliver the reply of `{}`: {e}", entry.path);
        }
    };
    rt.work
        .spawn_local(TASK.scope(scope, body).instrument(span));
}
