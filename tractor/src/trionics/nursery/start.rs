//! `TaskNursery::start`: spawn a task and wait until it reports itself
//! ready (trio's `nursery.start`).

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use super::{TaskNursery, catching};
use crate::trionics::error::{BoxError, TaskError};

/// Given to a task spawned by [`TaskNursery::start`]: the task calls
/// [`TaskStatus::started`] once it is ready, handing `start` its value.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// tractor::trionics::open_task_nursery(async |tn| {
///     let port: u16 = tn
///         .start(|status: tractor::trionics::TaskStatus<u16>| async move {
///             status.started(8080); // bound, ready
///             Ok::<(), std::io::Error>(())
///         })
///         .await?;
///     assert_eq!(port, 8080);
///     Ok::<(), tractor::trionics::TaskError>(())
/// })
/// .await
/// .unwrap();
/// # }
/// ```
#[derive(Debug)]
pub struct TaskStatus<V> {
    slot: Arc<Mutex<Option<oneshot::Sender<V>>>>,
}

impl<V> TaskStatus<V> {
    /// Reports the task started: [`TaskNursery::start`] returns `value`, and
    /// the task goes on as a plain task of the nursery.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # tractor::trionics::open_task_nursery(async |tn| {
    /// let v = tn.start(|status| async move { status.started("ready"); Ok::<(), std::io::Error>(()) }).await?;
    /// assert_eq!(v, "ready");
    /// # Ok::<(), tractor::trionics::TaskError>(())
    /// # }).await.unwrap();
    /// # }
    /// ```
    pub fn started(self, value: V) {
        let sender = self.slot.lock().ok().and_then(|mut s| s.take());
        if let Some(sender) = sender {
            // `start` may have been cancelled: then nobody wants the value.
            let _ = sender.send(value);
        }
    }
}

impl TaskNursery {
    /// Spawns `task(status)` and waits until it calls
    /// [`TaskStatus::started`]; returns the value it reports.
    ///
    /// If the task fails or panics before reporting, `start` returns that
    /// error (and the nursery does not see it); if it returns `Ok` before
    /// reporting, [`TaskError::NeverStarted`]. After `started`, the task is
    /// an ordinary task of the nursery: its failure fails the nursery.
    ///
    /// ```
    /// use tractor::trionics::{open_task_nursery, TaskError};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// open_task_nursery(async |tn| {
    ///     let res = tn
    ///         .start(|_status: tractor::trionics::TaskStatus<()>| async { Err::<(), _>("port in use") })
    ///         .await;
    ///     assert!(matches!(res, Err(TaskError::Failed(_))));
    ///     Ok::<(), TaskError>(())
    /// })
    /// .await
    /// .unwrap();
    /// # }
    /// ```
    pub async fn start<V, F, Fut, E>(&self, task: F) -> Result<V, TaskError>
    where
        F: FnOnce(TaskStatus<V>) -> Fut,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: Into<BoxError> + 'static,
        V: Send + 'static,
    {
        let (status, slot, early, reported) = linked();
        self.shared
            .spawn(run_linked(catching(task(status)), slot, early));
        reported.wait().await
    }

    /// [`start`](Self::start) for a `!Send` task, spawned on the current
    /// [`tokio::task::LocalSet`].
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
    ///         let shared = std::rc::Rc::new(7);
    ///         let seven = tn
    ///             .start_local(|status| async move {
    ///                 status.started(*shared);
    ///                 Ok::<(), std::io::Error>(())
    ///             })
    ///             .await?;
    ///         assert_eq!(seven, 7);
    ///         Ok::<(), tractor::trionics::TaskError>(())
    ///     })
    ///     .await
    ///     .unwrap();
    /// }).await;
    /// # }
    /// ```
    pub async fn start_local<V, F, Fut, E>(&self, task: F) -> Result<V, TaskError>
    where
        F: FnOnce(TaskStatus<V>) -> Fut,
        Fut: Future<Output = Result<(), E>> + 'static,
        E: Into<BoxError> + 'static,
        V: 'static,
    {
        let (status, slot, early, reported) = linked();
        self.shared
            .spawn_local(run_linked(catching(task(status)), slot, early));
        reported.wait().await
    }
}

/// What `start` waits on: the value the task reports, or how it ended
/// before reporting one.
struct Reported<V> {
    value: oneshot::Receiver<V>,
    early: oneshot::Receiver<Result<(), TaskError>>,
}

impl<V> Reported<V> {
    async fn wait(self) -> Result<V, TaskError> {
        if let Ok(value) = self.value.await {
            return Ok(value);
        }
        match self.early.await {
            Ok(Ok(())) => Err(TaskError::NeverStarted),
            Ok(Err(e)) => Err(e),
            // Aborted (or never spawned: the nursery was cancelled).
            Err(_) => Err(TaskError::Cancelled),
        }
    }
}

type Slot<V> = Arc<Mutex<Option<oneshot::Sender<V>>>>;

/// The two ends of a `start`: the status the task reports through, and
/// what `start` waits on.
fn linked<V>() -> (TaskStatus<V>, Slot<V>, Early, Reported<V>) {
    let (value_tx, value) = oneshot::channel();
    let (early_tx, early) = oneshot::channel();
    let slot = Arc::new(Mutex::new(Some(value_tx)));
    let status = TaskStatus { slot: slot.clone() };
    (status, slot, early_tx, Reported { value, early })
}

type Early = oneshot::Sender<Result<(), TaskError>>;

/// Runs a started task: an outcome before `started` is `start`'s to
/// report, not the nursery's.
async fn run_linked<V, T>(task: T, slot: Slot<V>, early: Early) -> Result<(), TaskError>
where
    T: Future<Output = Result<(), TaskError>>,
{
    let outcome = task.await;
    let never_started = slot.lock().ok().and_then(|mut s| s.take()).is_some();
    if never_started {
        let _ = early.send(outcome);
        Ok(())
    } else {
        outcome
    }
}
