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
        let (value_tx, value_rx) = oneshot::channel();
        let (early_tx, early_rx) = oneshot::channel();
        let slot = Arc::new(Mutex::new(Some(value_tx)));
        let fut = catching(task(TaskStatus { slot: slot.clone() }));
        self.shared.spawn(async move {
            let outcome = fut.await;
            let never_started = slot.lock().ok().and_then(|mut s| s.take()).is_some();
            if never_started {
                // Reported by `start`, not by the nursery.
                let _ = early_tx.send(outcome);
                Ok(())
            } else {
                outcome
            }
        });
        if let Ok(value) = value_rx.await {
            return Ok(value);
        }
        match early_rx.await {
            Ok(Ok(())) => Err(TaskError::NeverStarted),
            Ok(Err(e)) => Err(e),
            // Aborted (or never spawned: the nursery was cancelled).
            Err(_) => Err(TaskError::Cancelled),
        }
    }
}
