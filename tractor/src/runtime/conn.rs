//! A served channel: its dialog tables and its message loop.
//!
//! Dialogs we opened (`calls`) receive their replies through a small bounded
//! queue each; tasks a peer opened here (`tasks`) are cancelled through their
//! token. The loop routes by cid and never blocks on a slow dialog: a dialog
//! whose queue is full has broken the protocol and is failed alone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::actor::{ActorRuntime, lock};
use crate::ipc::{Aid, Channel, Cid, Msg, MsgReader};

/// Replies a single call may have queued before it is read.
pub(crate) const CALL_QUEUE: usize = 16;

pub(crate) struct TaskSlot {
    pub token: CancellationToken,
    pub canceller: Arc<Mutex<Option<Aid>>>,
}

pub(crate) struct Conn {
    pub chan: Channel,
    calls: Mutex<HashMap<Cid, mpsc::Sender<Msg>>>,
    tasks: Mutex<HashMap<Cid, TaskSlot>>,
}

impl Conn {
    pub fn new(chan: Channel) -> Self {
        Conn {
            chan,
            calls: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
        }
    }

    /// Opens a dialog: a fresh cid and the queue its replies arrive on.
    pub fn open_dialog(self: &Arc<Self>) -> Dialog {
        let cid = self.chan.next_cid();
        let (tx, rx) = mpsc::channel(CALL_QUEUE);
        // A closed channel never routes again: leave the sender out so the
        // receiver sees the end at once.
        if !self.chan.is_closed() {
            lock(&self.calls).insert(cid, tx);
        }
        Dialog {
            conn: self.clone(),
            cid,
            rx,
            done: false,
        }
    }

    pub fn register_task(&self, cid: Cid, slot: TaskSlot) {
        lock(&self.tasks).insert(cid, slot);
    }

    pub fn finish_task(&self, cid: Cid) {
        lock(&self.tasks).remove(&cid);
    }

    /// Cancels a task this peer opened here; false if it is not running.
    pub fn cancel_task(&self, cid: Cid, by: &Aid) -> bool {
        match lock(&self.tasks).get(&cid) {
            Some(slot) => {
                lock(&slot.canceller).get_or_insert_with(|| by.clone());
                slot.token.cancel();
                true
            }
            None => false,
        }
    }

    fn route_reply(&self, cid: Cid, msg: Msg) {
        let tx = lock(&self.calls).get(&cid).cloned();
        match tx {
            Some(tx) => {
                if tx.try_send(msg).is_err() {
                    tracing::warn!(target: "tractor::ipc", cid, "reply queue of a dialog is full or gone; dropping its message");
                }
            }
            None => {
                tracing::debug!(target: "tractor::ipc", cid, kind = msg.kind(), "reply for a dialog that is no longer open");
            }
        }
    }

    /// The channel is gone: every open call ends, every task it started is
    /// cancelled (its caller vanished).
    fn fail_all(&self) {
        lock(&self.calls).clear();
        let peer = self.chan.peer().clone();
        for (_, slot) in lock(&self.tasks).drain() {
            lock(&slot.canceller).get_or_insert(peer.clone());
            slot.token.cancel();
        }
    }
}

/// One dialog we opened on a channel. Dropping it unregisters the cid; if
/// the dialog had not finished, the remote task is asked to cancel so no
/// remote work is silently orphaned.
pub(crate) struct Dialog {
    pub conn: Arc<Conn>,
    pub cid: Cid,
    rx: mpsc::Receiver<Msg>,
    done: bool,
}

impl Dialog {
    /// The next reply; `None` when the channel closed.
    pub async fn recv(&mut self) -> Option<Msg> {
        self.rx.recv().await
    }

    /// Marks the dialog finished: dropping it will not cancel anything.
    pub fn finish(&mut self) {
        self.done = true;
    }
}

impl Drop for Dialog {
    fn drop(&mut self) {
        lock(&self.conn.calls).remove(&self.cid);
        if !self.done && !self.conn.chan.is_closed() {
            let req = Msg::CancelTask {
                cid: self.conn.chan.next_cid(),
                target: self.cid,
            };
            // Best effort from Drop: the writer task owns delivery.
            let _ = self.conn.chan.try_send(&req);
        }
    }
}

/// The message loop of one channel.
pub(crate) async fn serve(rt: Arc<ActorRuntime>, conn: Arc<Conn>, mut reader: MsgReader) {
    loop {
        let msg = tokio::select! {
            biased;
            _ = conn.chan.closed() => break,
            m = reader.recv() => m,
        };
        let msg = match msg {
            Ok(Some(m)) => m,
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
        dispatch(&rt, &conn, msg);
    }
    conn.chan.close();
    conn.fail_all();
    rt.forget_conn(&conn);
    let lost_parent = rt.parent.get().is_some_and(|p| Arc::ptr_eq(p, &conn));
    if lost_parent && !rt.cancel.is_cancelled() {
        tracing::warn!(target: "tractor::cancel", "lost the channel to our parent; cancelling self");
        rt.request_cancel(Some(conn.chan.peer().clone()));
    }
}

fn dispatch(rt: &Arc<ActorRuntime>, conn: &Arc<Conn>, msg: Msg) {
    match msg {
        Msg::Start(start) => super::rpc::schedule(rt, conn, start),
        Msg::CancelTask { cid, target } => {
            let acked = conn.cancel_task(target, conn.chan.peer());
            tracing::debug!(target: "tractor::cancel", task = target, acked, "task cancel requested by {}", conn.chan.peer());
            let _ = conn.chan.try_send(&Msg::CancelAck { cid, acked });
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
        | Msg::CancelAck { cid, .. }
        | Msg::Error { cid: Some(cid), .. }
            if conn.chan.owns_cid(cid) =>
        {
            conn.route_reply(cid, msg)
        }
        Msg::Error { cid: None, error } => {
            tracing::error!(target: "tractor::runtime", "peer {} reported a runtime error: {}", conn.chan.peer(), crate::RemoteActorError::from_data(*error));
        }
        other => {
            tracing::warn!(target: "tractor::ipc", kind = other.kind(), "unexpected message from {}; ignored", conn.chan.peer());
        }
    }
}
