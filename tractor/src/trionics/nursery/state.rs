//! The state a nursery shares with its handle: the join set of its tasks,
//! its cancellation token, and the drop guard that reaps tasks.

use std::future::{Future, poll_fn};
use std::sync::{Mutex, MutexGuard};
use std::task::{Poll, Waker};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::trionics::error::TaskError;

type Outcome = Result<(), TaskError>;

#[derive(Debug)]
pub(super) struct Shared {
    pub(super) token: CancellationToken,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    tasks: JoinSet<Outcome>,
    /// Woken when a task is added while the body waits on an empty set.
    waker: Option<Waker>,
    /// The nursery returned: tasks spawned now are dropped at once.
    closed: bool,
}

impl Shared {
    pub(super) fn new() -> Shared {
        Shared {
            token: CancellationToken::new(),
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves the set consistent.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        let mut inner = self.lock();
        if inner.closed || self.token.is_cancelled() {
            return;
        }
        inner.tasks.spawn(task);
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }

    pub(super) fn spawn_local<F>(&self, task: F)
    where
        F: Future<Output = Outcome> + 'static,
    {
        let mut inner = self.lock();
        if inner.closed || self.token.is_cancelled() {
            return;
        }
        inner.tasks.spawn_local(task);
        if let Some(w) = inner.waker.take() {
            w.wake();
        }
    }

    /// Cancels the token, then aborts every task.
    pub(super) fn cancel(&self) {
        self.token.cancel();
        self.lock().tasks.abort_all();
    }

    pub(super) fn close(&self) {
        self.lock().closed = true;
    }

    /// The next task to end: `Some(outcome)` (an aborted task counts as
    /// `Ok`), or `None` once the set is empty, which closes the nursery
    /// under the same lock (so no task a clone spawns slips in between
    /// and runs unjoined). With `wait_when_empty`, an empty set waits for
    /// a task to be spawned instead.
    pub(super) async fn next_outcome(&self, wait_when_empty: bool) -> Option<Outcome> {
        poll_fn(|cx| {
            let mut inner = self.lock();
            match inner.tasks.poll_join_next(cx) {
                Poll::Ready(Some(Ok(outcome))) => Poll::Ready(Some(outcome)),
                Poll::Ready(Some(Err(join_error))) => {
                    if join_error.is_panic() {
                        Poll::Ready(Some(Err(TaskError::from_panic(join_error.into_panic()))))
                    } else {
                        Poll::Ready(Some(Ok(())))
                    }
                }
                Poll::Ready(None) if wait_when_empty => {
                    inner.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
                Poll::Ready(None) => {
                    inner.closed = true;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

/// Dropped with the nursery's future: aborts the tasks still running and
/// awaits them from a detached task on the current runtime.
#[derive(Debug)]
pub(super) struct ReapOnDrop(pub(super) std::sync::Arc<Shared>);

impl Drop for ReapOnDrop {
    fn drop(&mut self) {
        let mut tasks = {
            let mut inner = self.0.lock();
            inner.closed = true;
            std::mem::take(&mut inner.tasks)
        };
        if tasks.is_empty() {
            return;
        }
        self.0.token.cancel();
        tasks.abort_all();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { while tasks.join_next().await.is_some() {} });
        }
        // Without a runtime, dropping the set aborts the tasks all the same.
    }
}
