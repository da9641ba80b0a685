//! The snapshots of the actor the calling code runs in, for a program
//! that watches itself (a watchdog task, a status page).

use crate::runtime::current;
use crate::runtime::error::Error;

use super::model::ActorSnapshot;
use super::tree::TreeSnapshot;

/// What the actor the calling code runs in is doing now (the same as its
/// [`tasks`](fn@super::endpoints::tasks) endpoint answers).
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let me = tractor::introspect::local_tasks()?;
/// println!("{} runs {} rpc tasks", me.aid, me.rpc_tasks.len());
/// # Ok(()) }
/// ```
pub fn local_tasks() -> Result<ActorSnapshot, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    Ok(super::snapshot(&rt))
}

/// The task tree of the actor the calling code runs in and of all its
/// descendants (the same as its [`tree`](fn@super::endpoints::tree)
/// endpoint answers): each child is asked over IPC, and one that does not
/// answer within about two seconds shows as unreachable.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let tree = tractor::introspect::local_tree().await?;
/// eprintln!("{tree}");
/// # Ok(()) }
/// ```
pub async fn local_tree() -> Result<TreeSnapshot, Error> {
    let rt = current::try_current().ok_or(Error::NoRuntime)?;
    Ok(super::tree(&rt).await)
}
