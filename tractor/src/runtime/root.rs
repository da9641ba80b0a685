//! The root actor's life once booted: its body runs until it ends, the
//! actor is cancelled, or a signal interrupts the tree; then the runtime
//! is torn down (a second signal during that teardown kills the tree).
//! Booting a root (the registrar election, registration) is composed
//! above, in `app`.

use std::sync::Arc;

use super::actor::ActorRuntime;
use super::current;
use super::error::Error;
use super::interrupt::{Interrupts, note_interrupted};
use super::wake_gate::Gated;

/// Runs `body` in the booted root `rt`, then tears `rt` down.
pub(crate) async fn serve_root<F, T>(
    rt: Arc<ActorRuntime>,
    mut interrupts: Interrupts,
    body: F,
) -> Result<T, Error>
where
    F: AsyncFnOnce() -> Result<T, Error>,
{
    // A cancel request to the root (a peer's `cancel_actor`, the
    // `tractor cancel` CLI) cancels its body too: the tree goes down
    // instead of leaving a root that refuses all work.
    let mut interrupted = None;
    // Polled only when the cancel or a signal woke it, not every time the
    // body does (see `wake_gate`).
    let stopped = Gated::new(async {
        tokio::select! {
            biased;
            _ = rt.cancel.cancelled() => None,
            signal = interrupts.next() => Some(signal),
        }
    });
    let mut res = tokio::select! {
        // Body first: a body that itself waits for the cancel (a
        // daemon) ends normally.
        biased;
        r = current::scope(rt.clone(), body()) => r,
        stop = stopped => match stop {
            None => Err(Error::Cancelled(match rt.canceller() {
                Some(by) => format!("root actor {} was cancelled by {by}", rt.aid()),
                None => format!("root actor {} was cancelled", rt.aid()),
            })),
            Some(signal) => {
                tracing::info!(target: "tractor::cancel", "{signal}: cancelling the tree (again to kill it)");
                interrupted = Some(signal);
                Err(Error::Interrupted { signal, hard_killed: false })
            }
        },
    };
    // The body is gone (its nurseries are tearing their children
    // down); a signal during the graceful teardown kills the tree.
    tokio::select! {
        () = rt.teardown() => {}
        signal = interrupts.next() => {
            tracing::warn!(target: "tractor::cancel", "{signal} during teardown: killing the tree");
            rt.hard_teardown().await;
            if let Some(first) = interrupted {
                res = Err(Error::Interrupted { signal: first, hard_killed: true });
            }
        }
    }
    if let Some(signal) = interrupted {
        note_interrupted(signal);
    }
    res
}
