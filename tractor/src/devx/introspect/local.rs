//! This actor's snapshot, from the runtime's census.

use std::sync::Arc;

use super::model::{
    ActorSnapshot, ChildInfo, ChildState, DialogInfo, DialogKind, DialogState, NurseryInfo,
    StreamInfo,
};
use crate::ipc::FuncType;
use crate::runtime::actor::ActorRuntime;
use crate::runtime::census::{self, Ending, FlowView};
use crate::runtime::context::Side;
use crate::runtime::dialog::phase;

/// The wire module of the introspection endpoints: their own dialogs are
/// left out of a dump, which would otherwise always show itself.
pub(crate) const MODULE: &str = "tractor::introspect";

/// Other endpoints that only carry a dump (the debugger's `tree`,
/// relayed to the root): left out for the same reason.
const DUMP_RELAYS: &[&str] = &[crate::devx::debug::TREE_RELAY];

fn is_own(path: &str) -> bool {
    DUMP_RELAYS.contains(&path)
        || path
            .strip_prefix(MODULE)
            .is_some_and(|rest| rest.starts_with("::"))
}

/// What `rt` is doing now (this actor only; no peer is asked).
pub(crate) fn snapshot(rt: &Arc<ActorRuntime>) -> ActorSnapshot {
    let c = rt.census();
    let rpc_tasks = c
        .tasks
        .into_iter()
        .filter(|t| !is_own(t.path))
        .map(|t| {
            let kind = kind(t.kind);
            let (state, stream) = match &t.flow {
                Some(flow) => (flow_state(kind, flow), stream(kind, flow)),
                None => (DialogState::Running, None),
            };
            DialogInfo {
                path: t.path.to_string(),
                kind,
                side: Side::Callee,
                peer: t.peer,
                cid: t.cid,
                age: t.age,
                // The task's own token is the truth here: a cancel of a
                // plain call marks no dialog phase.
                state: if t.cancelling {
                    DialogState::Cancelling
                } else {
                    state
                },
                stream,
            }
        })
        .collect();
    let dialogs = c
        .dialogs
        .into_iter()
        .filter(|d| !is_own(&d.path))
        .map(|d| {
            let kind = kind(d.kind);
            DialogInfo {
                state: flow_state(kind, &d.flow),
                stream: stream(kind, &d.flow),
                path: d.path,
                kind,
                side: Side::Caller,
                peer: d.peer,
                cid: d.cid,
                age: d.age,
            }
        })
        .collect();
    let nurseries = c
        .nurseries
        .into_iter()
        .map(|n| NurseryInfo {
            owner: n.owner.map(str::to_string),
            age: n.age,
            cancel_called: n.cancel_called,
            children: n.children.into_iter().map(child).collect(),
        })
        .collect();
    ActorSnapshot {
        aid: rt.aid().clone(),
        parent: rt.parent.get().map(|p| p.chan.peer().clone()),
        is_root: rt.p.is_root,
        age: rt.born.elapsed(),
        cancel_called: rt.cancel.is_cancelled(),
        rpc_tasks,
        dialogs,
        nurseries,
    }
}

fn kind(k: FuncType) -> DialogKind {
    match k {
        FuncType::AsyncFunc => DialogKind::Call,
        FuncType::Context => DialogKind::Context,
        FuncType::Stream => DialogKind::Stream,
    }
}

fn flow_state(kind: DialogKind, flow: &FlowView) -> DialogState {
    let has = |bit| flow.phase & bit != 0;
    match flow.ended {
        Some(Ending::Returned) => return DialogState::Returned,
        Some(Ending::Failed) => return DialogState::Failed,
        Some(Ending::Lost) => return DialogState::Lost,
        None => {}
    }
    if has(phase::CANCEL_CALLED) {
        return DialogState::Cancelling;
    }
    match kind {
        DialogKind::Call => DialogState::Running,
        DialogKind::Stream => DialogState::Streaming,
        DialogKind::Context if has(phase::STREAM_OPEN) => DialogState::Streaming,
        DialogKind::Context if has(phase::STARTED) => DialogState::Started,
        DialogKind::Context => DialogState::Opening,
    }
}

fn stream(kind: DialogKind, flow: &FlowView) -> Option<StreamInfo> {
    let open = match kind {
        DialogKind::Call => false,
        DialogKind::Stream => true,
        DialogKind::Context => flow.phase & phase::STREAM_OPEN != 0,
    };
    open.then_some(StreamInfo {
        window: flow.window,
        credit: flow.credit as u64,
        recv_window: flow.recv_window,
        queued: flow.queued as u64,
        queued_bytes: flow.queued_bytes as u64,
        overrun: flow.overrun,
        closed_here: flow.phase & phase::STOP_SENT != 0,
        closed_by_peer: flow.phase & phase::PEER_STOPPED != 0,
    })
}

fn child(c: census::ChildView) -> ChildInfo {
    ChildInfo {
        aid: c.aid,
        age: c.age,
        state: match c.state {
            census::ChildState::Booting => ChildState::Booting,
            census::ChildState::Running => ChildState::Running,
            census::ChildState::Cancelling => ChildState::Cancelling,
            census::ChildState::Exited(status) => ChildState::Exited { status },
        },
    }
}
