//! A task nursery over tokio with trio semantics.
//!
//! [`open_task_nursery`] runs a body that may spawn tasks; it returns only
//! once every task has ended. The first failure (an error, a panic, or the
//! body's own error) cancels the body and every sibling, and the nursery
//! returns every failure it saw, none dropped.
//!
//! **Cancellation is dropping.** A cancelled task is aborted: tokio drops
//! its future at its next `.await`, running its destructors, the way every
//! tokio future is cancelled. A task that wants to notice cancellation
//! early (to stop a loop between awaits) can watch
//! [`TaskNursery::cancel_token`], which is cancelled just before the abort.
//!
//! **Dropping the nursery's future** (say inside a `select!` or a timeout)
//! aborts every task at once; a detached reaper task on the current tokio
//! runtime then awaits them, so no task runs past the drop and none is
//! left un-joined. (Rust has no async drop: the reaper is how a drop still
//! joins.)
//!
//! The body gets `&TaskNursery`, so the handle cannot outlive the nursery;
//! tasks are `'static` and cannot spawn siblings through it (give them a
//! channel to the body instead).

mod start;
mod state;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

pub use start::TaskStatus;

use super::error::{BoxError, TaskError};
use state::Shared;

/// Runs `body` with a [`TaskNursery`] and returns once it and every task it
/// spawned have ended.
///
/// The body's value is returned if nothing failed. Otherwise the result is
/// the one failure or [`TaskError::Many`] with all of them: the first
/// failure cancels (aborts) every other task and drops the body's future.
/// Tasks must return `Result<(), E>` with any error `E` that converts to a
/// boxed error; it comes back as [`TaskError::Failed`] (a `TaskError` is kept
/// as is). A panic is caught and comes back as [`TaskError::Panicked`].
///
/// Works on a multi-thread runtime ([`TaskNursery::spawn`], `Send` tasks)
/// and on a current-thread one; inside a [`tokio::task::LocalSet`],
/// [`TaskNursery::spawn_local`] takes `!Send` tasks too.
///
/// ```
/// use tractor::trionics::{open_task_nursery, TaskError};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let res: Result<(), TaskError> = open_task_nursery(async |tn| {
///     tn.spawn(async { Ok::<(), std::io::Error>(()) });
///     tn.spawn(async { Err::<(), _>("no route to host") });
///     tn.spawn(std::future::pending::<Result<(), TaskError>>()); // cancelled
///     Ok::<(), TaskError>(())
/// })
/// .await;
/// assert!(res.unwrap_err().to_string().contains("no route to host"));
/// # }
/// ```
pub async fn open_task_nursery<F, T, E>(body: F) -> Result<T, TaskError>
where
    F: AsyncFnOnce(&TaskNursery) -> Result<T, E>,
    E: Into<BoxError>,
{
    let tn = TaskNursery {
        shared: Arc::new(Shared::new()),
    };
    // Aborts and reaps whatever is left if this future is dropped.
    let _reaper = state::ReapOnDrop(tn.shared.clone());
    let mut errors = Vec::new();

    // Phase 1: the body runs while finished tasks are collected.
    let body_value = {
        let mut body = pin!(body(&tn));
        loop {
            tokio::select! {
                biased;
                outcome = tn.shared.next_outcome(true) => {
                    if let Some(Err(e)) = outcome {
                        errors.push(e);
                        tn.shared.cancel();
                        break None;
                    }
                }
                () = tn.shared.token.cancelled() => break None,
                res = &mut body => match res {
                    Ok(value) => break Some(value),
                    Err(e) => {
                        errors.push(TaskError::failed(e));
                        tn.shared.cancel();
                        break None;
                    }
                },
            }
        }
    };

    // Phase 2: join every task left; a failure cancels the rest.
    while let Some(outcome) = tn.shared.next_outcome(false).await {
        if let Err(e) = outcome {
            errors.push(e);
            tn.shared.cancel();
        }
    }
    tn.shared.close();

    match (TaskError::collect(errors), body_value) {
        (Some(e), _) => Err(e),
        (None, Some(value)) => Ok(value),
        (None, None) => Err(TaskError::Cancelled),
    }
}

/// The handle a [`open_task_nursery`] body gets: spawns tasks that the
/// nursery joins before it returns.
///
/// Clones share the nursery: clone it into a task to spawn siblings from
/// there (trio hands its nursery to tasks the same way). A task spawned
/// through a clone once the nursery has returned, or been cancelled, is
/// dropped unrun.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
/// tractor::trionics::open_task_nursery(async |tn| {
///     for i in 0..3 {
///         let tx = tx.clone();
///         tn.spawn(async move { tx.send(i) });
///     }
///     Ok::<(), tractor::trionics::TaskError>(())
/// })
/// .await
/// .unwrap();
/// let mut seen = vec![rx.recv().await, rx.recv().await, rx.recv().await];
/// seen.sort();
/// assert_eq!(seen, vec![Some(0), Some(1), Some(2)]);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TaskNursery {
    shared: Arc<Shared>,
}

impl TaskNursery {
    /// Spawns a `Send` task on the current tokio runtime; the nursery joins it.
    ///
    /// The task's error or panic fails the nursery and cancels its siblings.
    /// Once the nursery is cancelled, a task spawned is dropped unrun.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (as `tokio::spawn` does).
    ///
    /// ```
    /// # #[tokio::main]
    /// # async fn main() {
    /// tractor::trionics::open_task_nursery(async |tn| {
    ///     tn.spawn(async { Ok::<(), std::io::Error>(()) });
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub fn spawn<Fut, E>(&self, task: Fut)
    where
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        self.shared.spawn(catching(task));
    }

    /// Spawns a `!Send` task on the current [`tokio::task::LocalSet`]; the
    /// nursery joins it.
    ///
    /// # Panics
    ///
    /// If called outside a `LocalSet` (as `tokio::task::spawn_local` does).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let local = tokio::task::LocalSet::new();
    /// local.run_until(async {
    ///     tractor::trionics::open_task_nursery(async |tn| {
    ///         let not_send = std::rc::Rc::new(5);
    ///         tn.spawn_local(async move { assert_eq!(*not_send, 5); Ok::<(), std::io::Error>(()) });
    ///         Ok::<(), std::io::Error>(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// }).await;
    /// # }
    /// ```
    pub fn spawn_local<Fut, E>(&self, task: Fut)
    where
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<BoxError> + 'static,
    {
        self.shared.spawn_local(catching(task));
    }

    /// Cancels the nursery: aborts every task and drops the body's future.
    /// The nursery then returns [`TaskError::Cancelled`] (or the failures it
    /// had already seen).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let res = tractor::trionics::open_task_nursery(async |tn| {
    ///     tn.spawn(std::future::pending::<Result<(), std::io::Error>>());
    ///     tn.cancel();
    ///     std::future::pending::<()>().await; // dropped
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .await;
    /// assert!(matches!(res, Err(tractor::trionics::TaskError::Cancelled)));
    /// # }
    /// ```
    pub fn cancel(&self) {
        self.shared.cancel();
    }

    /// A token cancelled when the nursery cancels its tasks, just before they
    /// are aborted: a task may watch it to stop early between awaits.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let _ = tractor::trionics::open_task_nursery(async |tn| {
    ///     let token = tn.cancel_token();
    ///     tn.spawn(async move { token.cancelled().await; Ok::<(), std::io::Error>(()) });
    ///     tn.cancel();
    ///     Ok::<(), std::io::Error>(())
    /// })
    /// .await;
    /// # }
    /// ```
    pub fn cancel_token(&self) -> CancellationToken {
        self.shared.token.clone()
    }
}

/// Turns a task into one whose error and panic are [`TaskError`]s.
fn catching<Fut, E>(task: Fut) -> impl Future<Output = Result<(), TaskError>> + use<Fut, E>
where
    Fut: Future<Output = Result<(), E>>,
    E: Into<BoxError>,
{
    AssertUnwindSafe(task).catch_unwind().map(|res| match res {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(TaskError::failed(e)),
        Err(payload) => Err(TaskError::from_panic(payload)),
    })
}
