//! An actor's home: the thread, and the `LocalSet` on it, where its
//! runtime's tasks run.
//!
//! The runtime spawns its tasks with `spawn_local`, so one actor's tasks
//! share one thread and need no locks between them. Handles to the actor
//! (portals, streams, contexts) are `Send` and work from any thread:
//! a program that owns a multi-thread runtime calls into actors from its
//! worker tasks. The few runtime chores such a call may start (a dialed
//! channel's message loop) are queued here and spawned at home. What
//! forks a child process stays at home: a child's parent-death signal
//! follows the thread that forked it, and a worker thread may exit.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::thread::ThreadId;

use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;

thread_local! {
    /// Whether this thread is polling an actor's home `LocalSet` now.
    static AT_HOME: Cell<bool> = const { Cell::new(false) };
}

/// Drives `run` (an actor's `LocalSet::run_until`) as that actor's home:
/// the actor's tasks run while it is polled, and code there may spawn
/// them directly.
///
/// The future is boxed: a program's own future nests this one (a
/// `#[tokio::main]` around a root around nurseries), and the box keeps
/// its type out of the compiler's layout of that whole chain.
pub(crate) fn at_home<F: Future>(run: F) -> AtHome<F> {
    AtHome(Box::pin(run))
}

/// The future [`at_home`] returns.
pub(crate) struct AtHome<F>(Pin<Box<F>>);

impl<F: Future> Future for AtHome<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let _mark = Mark::set();
        self.0.as_mut().poll(cx)
    }
}

/// Marks the thread as at home while a poll lasts (restoring what was
/// there, so nested homes unwind correctly).
struct Mark(bool);

impl Mark {
    fn set() -> Mark {
        Mark(AT_HOME.replace(true))
    }
}

impl Drop for Mark {
    fn drop(&mut self) {
        AT_HOME.set(self.0);
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// Where an actor's tasks run, and the queue that reaches it from
/// elsewhere.
#[derive(Debug)]
pub(crate) struct Home {
    thread: ThreadId,
    jobs: mpsc::UnboundedSender<Job>,
}

impl Home {
    /// The home of the calling task, which must run on a `LocalSet`:
    /// starts the task that runs what other threads queue here. It lives
    /// as long as the `LocalSet`; what is queued after is dropped unrun.
    pub(crate) fn here() -> Home {
        // Unbounded: only this process's own code queues, one job per
        // channel it dials, never a peer.
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        tokio::task::spawn_local(async move {
            while let Some(job) = queue.recv().await {
                job();
            }
        });
        Home {
            thread: std::thread::current().id(),
            jobs,
        }
    }

    /// Whether the caller runs at home now (so it may `spawn_local`).
    pub(crate) fn is_here(&self) -> bool {
        AT_HOME.get() && std::thread::current().id() == self.thread
    }

    /// Spawns the future `make` builds onto `tracker`, at home, from any
    /// thread. The tracker counts it from this call on; if the home is
    /// gone (the actor has ended) it is dropped unrun, as the home's
    /// `LocalSet` would have dropped it.
    pub(crate) fn spawn<M, F>(&self, tracker: &TaskTracker, make: M)
    where
        M: FnOnce() -> F + Send + 'static,
        F: Future<Output = ()> + 'static,
    {
        if self.is_here() {
            tracker.spawn_local(make());
            return;
        }
        let token = tracker.token();
        let _ = self.jobs.send(Box::new(move || {
            tokio::task::spawn_local(async move {
                let _token = token;
                make().await;
            });
        }));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::*;

    /// Runs `fut` at a fresh home, as an actor's boot does.
    async fn run_home<F: Future>(fut: F) -> F::Output {
        let local = tokio::task::LocalSet::new();
        at_home(local.run_until(fut)).await
    }

    fn current_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"))
    }

    #[test]
    fn spawns_at_home_from_another_thread() {
        current_thread().block_on(run_home(async {
            let home = Arc::new(Home::here());
            assert!(home.is_here());
            let tracker = TaskTracker::new();
            let (tx, rx) = tokio::sync::oneshot::channel();
            let home_thread = std::thread::current().id();
            let from = {
                let home = home.clone();
                let tracker = tracker.clone();
                std::thread::spawn(move || {
                    assert!(!home.is_here());
                    home.spawn(&tracker, move || async move {
                        let _ = tx.send(std::thread::current().id());
                    });
                })
            };
            let ran_on = tokio::time::timeout(Duration::from_secs(5), rx).await;
            assert!(from.join().is_ok());
            assert_eq!(ran_on.ok().and_then(Result::ok), Some(home_thread));
            tracker.close();
            assert!(
                tokio::time::timeout(Duration::from_secs(5), tracker.wait())
                    .await
                    .is_ok()
            );
        }));
    }

    #[test]
    fn a_plain_task_on_the_home_thread_is_not_at_home() {
        current_thread().block_on(run_home(async {
            let home = Arc::new(Home::here());
            let h = home.clone();
            // `tokio::spawn` runs outside the LocalSet, where `spawn_local`
            // would panic: the home must be reached through its queue.
            let seen = tokio::spawn(async move { h.is_here() }).await;
            assert_eq!(seen.ok(), Some(false));
        }));
    }

    #[test]
    fn a_job_queued_after_the_home_is_gone_is_dropped_unrun() {
        let ran = Arc::new(AtomicBool::new(false));
        let home = current_thread().block_on(run_home(async { Home::here() }));
        let tracker = TaskTracker::new();
        let flag = ran.clone();
        home.spawn(&tracker, move || async move {
            flag.store(true, Ordering::SeqCst)
        });
        tracker.close();
        // The dropped job released its tracker token.
        assert!(tracker.is_empty());
        assert!(!ran.load(Ordering::SeqCst));
    }
}
