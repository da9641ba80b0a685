//! The introspection endpoints: ordinary endpoints that every actor, root
//! or child, serves whatever its `enable_modules`, under the wire module
//! `tractor::introspect`.

use std::time::Duration;

use super::model::ActorSnapshot;
use super::tree::TreeSnapshot;
use crate::runtime::current;
use crate::runtime::error::Error;

/// The actor's own task tree: its RPC tasks, the calls, contexts and
/// streams it opened, its nurseries and their children. Asks no other
/// actor.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let worker = tractor::wait_for_actor("worker").await?;
/// let snap = worker.run(tractor::introspect::tasks::call()).await?;
/// println!("{snap}");
/// # Ok(()) }
/// ```
#[crate::endpoint(name = "tractor::introspect::tasks")]
pub async fn tasks() -> Result<ActorSnapshot, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    Ok(super::snapshot(&rt))
}

/// The task tree of the actor and of every descendant, each child asked
/// over its parent's channel to it. A child that does not answer within
/// a bounded time (a wedged one) shows as [`Subtree::Unreachable`](super::tree::Subtree::Unreachable),
/// so the call itself answers within about two seconds.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let root = tractor::wait_for_actor("root").await?;
/// let tree = root.run(tractor::introspect::tree::call()).await?;
/// println!("{tree}");
/// # Ok(()) }
/// ```
#[crate::endpoint(name = "tractor::introspect::tree")]
pub async fn tree() -> Result<TreeSnapshot, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    Ok(super::tree(&rt).await)
}

/// One level of [`tree`]'s walk: this actor's subtree down to
/// `depth_left` levels, waiting up to `budget_ms` for each child.
#[crate::endpoint(name = "tractor::introspect::subtree")]
pub(crate) async fn subtree(depth_left: u32, budget_ms: u64) -> Result<TreeSnapshot, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    let budget = Duration::from_millis(budget_ms).min(super::walk::BUDGET);
    Ok(super::walk::walk(&rt, depth_left.min(super::tree::MAX_DEPTH), budget).await)
}
