//! What one actor is doing, as plain serializable data: the snapshot a
//! task dump prints and the `tasks` endpoint returns.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::ipc::Aid;
use crate::runtime::context::Side;

/// One actor's task tree at one instant: the RPC tasks peers run in it,
/// the calls, contexts and streams it opened, its nurseries and their
/// children. Its `Display` is the text a task dump prints.
///
/// ```no_run
/// # async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
/// let snap: tractor::introspect::ActorSnapshot =
///     portal.run(tractor::introspect::tasks::call()).await?;
/// for task in &snap.rpc_tasks {
///     println!("{} has run {} for {:?}", snap.aid, task.path, task.age);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ActorSnapshot {
    /// The actor.
    pub aid: Aid,
    /// Its parent (`None` for a root).
    pub parent: Option<Aid>,
    /// Whether it is the root of its tree.
    pub is_root: bool,
    /// How long its runtime has run.
    pub age: Duration,
    /// Whether it was asked to cancel (it is winding down).
    pub cancel_called: bool,
    /// Tasks peers started here, oldest first (each with
    /// [`Side::Callee`]).
    pub rpc_tasks: Vec<DialogInfo>,
    /// Calls, contexts and streams this actor opened and has not finished
    /// with, oldest first (each with [`Side::Caller`]).
    pub dialogs: Vec<DialogInfo>,
    /// The actor nurseries open in this actor, oldest first.
    pub nurseries: Vec<NurseryInfo>,
}

/// One half of a dialog between two actors: a task a peer started here
/// (the callee's half) or a call this actor opened (the caller's half).
///
/// ```no_run
/// # fn demo(snap: &tractor::introspect::ActorSnapshot) {
/// use tractor::introspect::DialogState;
/// // Which remote tasks is this actor still waiting on?
/// for d in &snap.dialogs {
///     if d.state != DialogState::Returned {
///         println!("waiting on {} in {} ({:?})", d.path, d.peer, d.state);
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DialogInfo {
    /// The endpoint's `module::fn`.
    pub path: String,
    /// What kind of endpoint it is.
    pub kind: DialogKind,
    /// Which half this actor holds.
    pub side: Side,
    /// The actor at the other end: the caller of a task, the callee of a
    /// call.
    pub peer: Aid,
    /// The dialog's id on its channel.
    pub cid: u64,
    /// How long since it started.
    pub age: Duration,
    /// Where it is.
    pub state: DialogState,
    /// Its stream, for a context whose stream is open and a one-way stream.
    pub stream: Option<StreamInfo>,
}

/// The kind of endpoint a dialog runs.
///
/// ```
/// use tractor::introspect::DialogKind;
/// assert_eq!(DialogKind::Context.to_string(), "context");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DialogKind {
    /// A plain endpoint (`Portal::run`).
    Call,
    /// A context endpoint (`Portal::open_context`).
    Context,
    /// A one-way stream endpoint (`Portal::open_stream_from`).
    Stream,
}

/// Where a dialog is in its life.
///
/// ```
/// use tractor::introspect::DialogState;
/// assert_eq!(DialogState::Streaming.to_string(), "streaming");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum DialogState {
    /// A plain call: served (callee) or awaited (caller).
    Running,
    /// A context before `started`: the callee has not sent it yet, or the
    /// caller has not received it.
    Opening,
    /// A context past `started`, without a stream.
    Started,
    /// A context with its stream open, or a one-way stream.
    Streaming,
    /// Its cancel was requested and it has not ended yet.
    Cancelling,
    /// The remote task returned; the caller's handle is still open.
    Returned,
    /// The remote task failed (or the dialog was failed here); the
    /// caller's handle is still open.
    Failed,
    /// The channel closed under it.
    Lost,
}

/// A dialog's stream: its flow window and what is queued unread.
///
/// ```no_run
/// # fn demo(snap: &tractor::introspect::ActorSnapshot) {
/// // A sender stuck on a full window, or a reader falling behind.
/// for d in snap.rpc_tasks.iter().chain(&snap.dialogs) {
///     if let Some(s) = &d.stream {
///         if s.credit == 0 { println!("{} waits for the reader of {}", snap.aid, d.path); }
///         if s.queued == u64::from(s.recv_window) { println!("{} reads {} too slowly", snap.aid, d.path); }
///     }
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StreamInfo {
    /// The messages this side may send before the peer returns credit.
    pub window: u32,
    /// The messages it may send now (0: a send waits for the reader).
    pub credit: u64,
    /// The messages this side queues unread at most.
    pub recv_window: u32,
    /// The messages queued unread now.
    pub queued: u64,
    /// What they weigh, in bytes.
    pub queued_bytes: u64,
    /// The overrun flow mode: no credit; a burst beyond the buffer fails
    /// the dialog (or is absorbed by a receiver that allows overruns).
    pub overrun: bool,
    /// This side closed the stream (sent `Stop`).
    pub closed_here: bool,
    /// The peer closed the stream.
    pub closed_by_peer: bool,
}

/// An actor nursery open in the actor, with its children.
///
/// ```no_run
/// # fn demo(snap: &tractor::introspect::ActorSnapshot) {
/// for n in &snap.nurseries {
///     let owner = n.owner.as_deref().unwrap_or("the root's body");
///     println!("{owner} supervises {} children", n.children.len());
/// }
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NurseryInfo {
    /// The endpoint whose task opened it; `None` outside any RPC task
    /// (the root's body).
    pub owner: Option<String>,
    /// How long it has been open.
    pub age: Duration,
    /// Whether it was cancelled (its children are being torn down).
    pub cancel_called: bool,
    /// Its children, in the order they were spawned.
    pub children: Vec<ChildInfo>,
}

/// A child actor of a nursery.
///
/// ```no_run
/// # fn demo(n: &tractor::introspect::NurseryInfo) {
/// use tractor::introspect::ChildState;
/// let running = n.children.iter().filter(|c| c.state == ChildState::Running).count();
/// println!("{running} of {} children running", n.children.len());
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChildInfo {
    /// The child (its pid is the process to look at).
    pub aid: Aid,
    /// How long since it connected back to its parent.
    pub age: Duration,
    /// Where it is in its life.
    pub state: ChildState,
}

/// Where a child actor is in its life.
///
/// ```
/// use tractor::introspect::ChildState;
/// assert_eq!(ChildState::Booting.to_string(), "booting");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChildState {
    /// Connected back, not ready yet (configuring, registering).
    Booting,
    /// Serving.
    Running,
    /// Its teardown was requested and it has not exited yet.
    Cancelling,
    /// Exited and reaped.
    Exited {
        /// How it exited (`exit code 0`, `killed by signal 9`).
        status: String,
    },
}
