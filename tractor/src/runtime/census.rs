//! A census of an actor's live work, for a task dump: the tasks peers
//! started here, the dialogs it opened, its nurseries and their children.
//!
//! Taken on demand under the tables' own locks, each held only to copy
//! plain data out; nothing here runs on the message path. The layers
//! above turn it into their public snapshot.

use std::time::{Duration, Instant};

use super::actor::{ActorRuntime, lock};
use super::dialog::{DialogShared, Terminal};
use super::supervisor::ChildProc;
use crate::ipc::{Aid, Cid, FuncType};

/// What an actor is doing, at one instant.
pub(crate) struct Census {
    /// Tasks peers started here (RPC tasks, context and stream callees).
    pub tasks: Vec<TaskView>,
    /// Calls, contexts and streams this actor opened and still holds.
    pub dialogs: Vec<DialogView>,
    pub nurseries: Vec<NurseryView>,
}

/// One task a peer started here.
pub(crate) struct TaskView {
    pub peer: Aid,
    pub cid: Cid,
    pub path: &'static str,
    pub kind: FuncType,
    pub age: Duration,
    /// Its cancel was requested (by the caller, the actor, itself).
    pub cancelling: bool,
    /// Contexts and streams only.
    pub flow: Option<FlowView>,
}

/// One dialog this actor opened to call an endpoint.
pub(crate) struct DialogView {
    pub peer: Aid,
    pub cid: Cid,
    pub path: String,
    pub kind: FuncType,
    pub age: Duration,
    pub flow: FlowView,
}

/// How a dialog ended, seen from the side that holds it.
#[derive(Clone, Copy)]
pub(crate) enum Ending {
    Returned,
    Failed,
    Lost,
}

/// A dialog's progress and its stream's flow state.
pub(crate) struct FlowView {
    /// The [`phase`](super::dialog::phase) bits reached.
    pub phase: u8,
    pub ended: Option<Ending>,
    /// What this side may send before the peer returns credit.
    pub window: u32,
    /// What it may send now.
    pub credit: usize,
    /// What this side queues unread at most, and queues now.
    pub recv_window: u32,
    pub queued: usize,
    pub queued_bytes: usize,
    /// The overrun flow mode (no credit; overruns fail or are absorbed).
    pub overrun: bool,
}

/// One nursery opened in this actor.
pub(crate) struct NurseryView {
    /// The endpoint whose task opened it (`None`: the root's body).
    pub owner: Option<&'static str>,
    pub age: Duration,
    pub cancel_called: bool,
    pub children: Vec<ChildView>,
}

/// One child of a nursery.
pub(crate) struct ChildView {
    pub aid: Aid,
    pub age: Duration,
    pub state: ChildState,
}

/// Where a child is in its life.
pub(crate) enum ChildState {
    /// Connected back, not yet ready (configuring, registering).
    Booting,
    Running,
    /// Its teardown was requested and it has not exited yet.
    Cancelling,
    /// Exited and reaped, with how.
    Exited(String),
}

impl ActorRuntime {
    /// What this actor is doing now.
    pub(crate) fn census(&self) -> Census {
        let now = Instant::now();
        let mut tasks = Vec::new();
        let mut dialogs = Vec::new();
        for conn in self.conns() {
            let peer = conn.chan.peer();
            for (cid, slot) in lock(&conn.tasks).iter() {
                tasks.push(TaskView {
                    peer: peer.clone(),
                    cid: *cid,
                    path: slot.path,
                    kind: slot.kind,
                    age: now.saturating_duration_since(slot.since),
                    cancelling: slot.token.is_cancelled(),
                    flow: slot.inbox.as_ref().map(|i| flow_of(&i.shared)),
                });
            }
            for (cid, inbox) in lock(&conn.calls).iter() {
                // Untagged dialogs are the runtime's own (pings, cancels).
                let Some(tag) = &inbox.shared.tag else {
                    continue;
                };
                dialogs.push(DialogView {
                    peer: peer.clone(),
                    cid: *cid,
                    path: tag.path.to_string(),
                    kind: tag.kind,
                    age: now.saturating_duration_since(tag.since),
                    flow: flow_of(&inbox.shared),
                });
            }
        }
        tasks.sort_by_key(|t| std::cmp::Reverse(t.age));
        dialogs.sort_by_key(|d| std::cmp::Reverse(d.age));
        let mut nurseries: Vec<NurseryView> = self
            .nurseries()
            .iter()
            .map(|n| NurseryView {
                owner: n.owner(),
                age: now.saturating_duration_since(n.opened()),
                cancel_called: n.is_cancelled(),
                children: n.procs().iter().map(|c| child_view(c, now)).collect(),
            })
            .collect();
        nurseries.sort_by_key(|n| std::cmp::Reverse(n.age));
        Census {
            tasks,
            dialogs,
            nurseries,
        }
    }
}

fn flow_of(shared: &DialogShared) -> FlowView {
    let ended = shared.terminal.with(|t| {
        t.map(|t| match t {
            Terminal::Returned(_) => Ending::Returned,
            Terminal::Failed(_) => Ending::Failed,
            Terminal::Lost => Ending::Lost,
        })
    });
    let (queued, queued_bytes) = shared.queued();
    FlowView {
        phase: shared.phase(),
        ended,
        window: shared.flow.window,
        credit: shared.credits.available_permits(),
        recv_window: shared.recv_window(),
        queued,
        queued_bytes,
        overrun: shared.flow.overrun,
    }
}

pub(crate) fn child_view(c: &ChildProc, now: Instant) -> ChildView {
    let state = match c.exit_info() {
        Some(exit) => ChildState::Exited(exit.status),
        None if c.teardown_requested() => ChildState::Cancelling,
        None if !*c.conn.ready.borrow() => ChildState::Booting,
        None => ChildState::Running,
    };
    ChildView {
        aid: c.aid.clone(),
        age: now.saturating_duration_since(c.since),
        state,
    }
}
