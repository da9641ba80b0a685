//! The lifetime stack (tractor's `Actor.lifetime_stack`): cleanups that
//! user code registers with [`Actor::on_exit`](crate::Actor::on_exit) and
//! [`Actor::on_exit_async`](crate::Actor::on_exit_async), run at the very
//! end of the actor's teardown however the actor ends: its body returns or
//! fails, its parent cancels it, a peer calls `cancel_actor`, or it gets
//! SIGTERM. Only SIGKILL (or a crash of the process) skips them.
//!
//! Rules, in one place:
//! * cleanups run **last-in, first-out**, each **exactly once**, after the
//!   actor's RPC tasks are cancelled, its children reaped and its channels
//!   closed;
//! * a panicking cleanup is caught and logged; the ones below it still run;
//! * async cleanups share one budget ([`ASYNC_BUDGET`]): one still running
//!   when it is spent is dropped (cancelled) and logged, and the async
//!   cleanups after it are dropped too; sync cleanups always run;
//! * once teardown has started running the stack, registering is refused
//!   with [`LifetimeError::Closed`] (also from inside a cleanup): the caller
//!   still holds its cleanup and can run it itself;
//! * if a runtime is dropped without its teardown (a root actor whose
//!   future was dropped mid-way), its sync cleanups run when the runtime's
//!   state is freed; its async cleanups cannot run there and are logged.
//!
//! The stack belongs to one actor, not to the process: several root actors
//! may live as threads of one process (`cargo test`).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;

use futures::FutureExt;

use super::actor::lock;
use crate::ipc::Aid;

/// How long the async cleanups of one actor may run, all together.
///
/// It is kept well below the time a parent grants a child that acknowledged
/// its cancel request before it sends SIGTERM.
pub(crate) const ASYNC_BUDGET: Duration = Duration::from_secs(1);

/// Why a cleanup could not be put on an actor's lifetime stack.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let me = tractor::current_actor()?;
/// if let Err(tractor::error::LifetimeError::Closed { .. }) = me.on_exit(|| println!("bye")) {
///     println!("bye (the actor is already exiting)");
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LifetimeError {
    /// The actor's teardown already ran (or is running) its lifetime stack,
    /// so a cleanup registered now would never run.
    #[error(
        "actor {actor} is already running its exit cleanups, so this one would never run; run it yourself now instead"
    )]
    Closed {
        /// The exiting actor.
        actor: Aid,
    },
}

type SyncCleanup = Box<dyn FnOnce() + Send>;
type AsyncCleanup = Pin<Box<dyn Future<Output = ()> + Send>>;

pub(crate) enum Cleanup {
    Sync(SyncCleanup),
    Async(AsyncCleanup),
}

enum State {
    Open(Vec<Cleanup>),
    Closed,
}

/// One actor's stack of exit cleanups.
pub(crate) struct LifetimeStack {
    aid: Aid,
    state: Mutex<State>,
}

impl LifetimeStack {
    pub(crate) fn new(aid: Aid) -> Self {
        LifetimeStack {
            aid,
            state: Mutex::new(State::Open(Vec::new())),
        }
    }

    /// Pushes a cleanup, or refuses it once the stack was closed.
    pub(crate) fn push(&self, c: Cleanup) -> Result<(), LifetimeError> {
        match &mut *lock(&self.state) {
            State::Open(v) => {
                v.push(c);
                Ok(())
            }
            State::Closed => Err(LifetimeError::Closed {
                actor: self.aid.clone(),
            }),
        }
    }

    /// Closes the stack for good and takes what was on it (bottom first).
    fn take(&self) -> Vec<Cleanup> {
        match std::mem::replace(&mut *lock(&self.state), State::Closed) {
            State::Open(v) => v,
            State::Closed => Vec::new(),
        }
    }

    /// Runs every cleanup, last registered first, each once; a second call
    /// does nothing.
    pub(crate) async fn close(&self) {
        self.close_within(ASYNC_BUDGET).await
    }

    async fn close_within(&self, budget: Duration) {
        let cleanups = self.take();
        if cleanups.is_empty() {
            return;
        }
        tracing::debug!(target: "tractor::runtime", actor = %self.aid, n = cleanups.len(), "running exit cleanups");
        let deadline = tokio::time::Instant::now() + budget;
        for (i, c) in cleanups.into_iter().enumerate().rev() {
            match c {
                Cleanup::Sync(f) => run_sync(&self.aid, i, f),
                Cleanup::Async(fut) => {
                    let guarded = AssertUnwindSafe(fut).catch_unwind();
                    match tokio::time::timeout_at(deadline, guarded).await {
                        Ok(Ok(())) => {}
                        Ok(Err(p)) => log_panic(&self.aid, i, p.as_ref()),
                        Err(_) => tracing::error!(
                            target: "tractor::runtime",
                            actor = %self.aid,
                            "async exit cleanup #{} (in registration order) was dropped unfinished: the actor's async cleanups share {budget:?}", i + 1
                        ),
                    }
                }
            }
        }
    }
}

impl Drop for LifetimeStack {
    /// The safety net for a runtime freed without its teardown.
    fn drop(&mut self) {
        let cleanups = self.take();
        for (i, c) in cleanups.into_iter().enumerate().rev() {
            match c {
                Cleanup::Sync(f) => run_sync(&self.aid, i, f),
                Cleanup::Async(_) => tracing::error!(
                    target: "tractor::runtime",
                    actor = %self.aid,
                    "async exit cleanup #{} (in registration order) never ran: the actor's runtime was dropped without its teardown", i + 1
                ),
            }
        }
    }
}

fn run_sync(aid: &Aid, i: usize, f: SyncCleanup) {
    if let Err(p) = std::panic::catch_unwind(AssertUnwindSafe(f)) {
        log_panic(aid, i, p.as_ref());
    }
}

fn log_panic(aid: &Aid, i: usize, p: &(dyn std::any::Any + Send)) {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string payload".into());
    tracing::error!(target: "tractor::runtime", actor = %aid, "exit cleanup #{} (in registration order) panicked: {msg}; running the rest", i + 1);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn recorder() -> (Arc<Mutex<Vec<u32>>>, impl Fn(u32) -> Cleanup) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let l = log.clone();
        let push = move |n: u32| {
            let l = l.clone();
            Cleanup::Sync(Box::new(move || lock(&l).push(n)))
        };
        (log, push)
    }

    #[tokio::test]
    async fn lifo_once_and_panics_do_not_stop_the_rest() {
        let stack = LifetimeStack::new(Aid::new("t"));
        let (log, rec) = recorder();
        stack.push(rec(1)).expect("open");
        stack
            .push(Cleanup::Sync(Box::new(|| panic!("cleanup 2 fails"))))
            .expect("open");
        let l = log.clone();
        stack
            .push(Cleanup::Async(Box::pin(async move {
                tokio::task::yield_now().await;
                lock(&l).push(3);
            })))
            .expect("open");
        stack
            .push(Cleanup::Async(Box::pin(async {
                panic!("cleanup 4 fails")
            })))
            .expect("open");
        stack.push(rec(5)).expect("open");
        stack.close().await;
        stack.close().await;
        assert_eq!(*lock(&log), [5, 3, 1]);
        assert!(matches!(
            stack.push(rec(6)),
            Err(LifetimeError::Closed { .. })
        ));
        drop(stack);
        assert_eq!(*lock(&log), [5, 3, 1]);
    }

    #[tokio::test]
    async fn async_cleanups_share_one_budget() {
        let stack = LifetimeStack::new(Aid::new("t"));
        let (log, rec) = recorder();
        stack.push(rec(1)).expect("open");
        stack
            .push(Cleanup::Async(Box::pin(std::future::pending())))
            .expect("open");
        stack
            .push(Cleanup::Async(Box::pin(std::future::pending())))
            .expect("open");
        stack.push(rec(4)).expect("open");
        stack.close_within(Duration::from_millis(20)).await;
        assert_eq!(*lock(&log), [4, 1]);
    }

    #[test]
    fn dropping_an_unclosed_stack_runs_its_sync_cleanups() {
        let stack = LifetimeStack::new(Aid::new("t"));
        let (log, rec) = recorder();
        stack.push(rec(1)).expect("open");
        stack
            .push(Cleanup::Async(Box::pin(async {})))
            .expect("open");
        stack.push(rec(2)).expect("open");
        drop(stack);
        assert_eq!(*lock(&log), [2, 1]);
    }
}
