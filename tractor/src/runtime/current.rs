//! Which actor runtime the current code runs in.
//!
//! Runtime state belongs to an actor, not to the process: `cargo test` runs
//! many root actors as threads of one process. Each actor runs on its own
//! (by default current-thread) scheduler, so the ambient actor is kept in a
//! task-local, with a thread-local fallback for tasks users spawn with plain
//! `tokio::spawn` on the actor's own thread.

use std::cell::RefCell;
use std::sync::Arc;

use super::actor::ActorRuntime;

tokio::task_local! {
    static TASK_ACTOR: Arc<ActorRuntime>;
}

thread_local! {
    static THREAD_ACTOR: RefCell<Option<Arc<ActorRuntime>>> = const { RefCell::new(None) };
}

/// The actor the calling code runs in, if any.
pub(crate) fn try_current() -> Option<Arc<ActorRuntime>> {
    TASK_ACTOR
        .try_with(Arc::clone)
        .ok()
        // An RPC task keeps its actor in its one task-local.
        .or_else(super::rpc::current_task_actor)
        .or_else(|| THREAD_ACTOR.with(|c| c.borrow().clone()))
}

/// Runs `fut` with `rt` as its ambient actor.
pub(crate) async fn scope<F: std::future::Future>(rt: Arc<ActorRuntime>, fut: F) -> F::Output {
    TASK_ACTOR.scope(rt, fut).await
}

/// Sets the thread's ambient actor until the guard drops.
pub(crate) struct ThreadActorGuard {
    prev: Option<Arc<ActorRuntime>>,
}

impl ThreadActorGuard {
    pub(crate) fn set(rt: Arc<ActorRuntime>) -> Self {
        let prev = THREAD_ACTOR.with(|c| c.borrow_mut().replace(rt));
        ThreadActorGuard { prev }
    }
}

impl Drop for ThreadActorGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        THREAD_ACTOR.with(|c| *c.borrow_mut() = prev);
    }
}
