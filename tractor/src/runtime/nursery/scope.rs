//! The nursery's scope: running the body under supervision, then waiting
//! for every child and aggregating what failed.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::MainOutcome;
use super::{ActorNursery, NurseryInner, ScopeGuard};
use crate::runtime::actor::ActorRuntime;
use crate::runtime::error::{Error, MultiError};
use crate::runtime::wake_gate::Gated;

/// How a nursery reacts to a child's failure.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// use tractor::Supervision;
/// // A batch job that wants every child's error, not just the first:
/// tractor::open_nursery_with(Supervision::WaitForAllResults, async |an| {
///     // ... spawn run_in_actor children ...
///     Ok(())
/// })
/// .await
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Supervision {
    /// trio's rule: the body's error or any child's error cancels every
    /// sibling and interrupts the body at once; errors that arrive during
    /// that cancel are aggregated.
    #[default]
    OneCancelsAll,
    /// Python tractor's order: a `run_in_actor` child's error is recorded
    /// and the others run on; once every `run_in_actor` child has finished,
    /// any error cancels the daemons. The body's own error still cancels
    /// everything at once. For batch jobs that want every error.
    WaitForAllResults,
}

/// Runs a nursery scope in the running actor `rt`: what
/// [`open_nursery_with`](crate::open_nursery_with) does once an actor runs.
pub(crate) async fn run_scope<F, T>(
    rt: Arc<ActorRuntime>,
    supervision: Supervision,
    body: F,
) -> Result<T, Error>
where
    F: AsyncFnOnce(&ActorNursery) -> Result<T, Error>,
    T: Send + 'static,
{
    // Children are forked from the actor's own thread: a child's
    // parent-death signal follows the thread that forked it.
    if !rt.home.is_here() {
        return Err(Error::AwayFromHome {
            actor: rt.aid().clone(),
        });
    }
    let an = ActorNursery {
        inner: Arc::new(NurseryInner::new(rt.clone(), supervision)),
    };
    let inner = an.inner.clone();
    rt.note_nursery(&inner);
    let guard = ScopeGuard(inner.clone());
    let mut failed = inner.failed.subscribe();
    let body_res = {
        let body = body(&an);
        // Polled only when the failure flag changed, not every time the
        // body wakes (see `wake_gate`).
        let interrupted = Gated::new(async {
            match supervision {
                Supervision::OneCancelsAll => {
                    let _ = failed.wait_for(|f| *f).await;
                }
                Supervision::WaitForAllResults => std::future::pending::<()>().await,
            }
        });
        tokio::select! {
            // The body first: one that can still finish (it was awaiting
            // the very result that failed) sees the error itself.
            biased;
            r = body => Some(r),
            // A child failed: every sibling is being cancelled, and so is
            // the body (dropped: Rust's cancellation).
            () = interrupted => None,
        }
    };
    let mut body_error = None;
    let mut reraised = None;
    let value = match body_res {
        Some(Ok(v)) => Some(v),
        Some(Err(e)) => {
            // A body that passes on a child's error it awaited (or the loss
            // of a child it talked to) failed *because of* that child: the
            // failure is the child's, counted once. Under
            // WaitForAllResults the other children still run.
            if is_consequence(&inner, &e) {
                reraised = Some(e);
                if supervision == Supervision::OneCancelsAll {
                    inner.cancel_all();
                }
            } else {
                body_error = Some(e);
                inner.cancel_all();
            }
            None
        }
        // A child failed and the body was dropped: children whose spawn
        // completed after the cancel went out are cancelled too.
        None => {
            inner.cancel_all();
            None
        }
    };
    if supervision == Supervision::WaitForAllResults {
        // Every one-shot result first; then any error cancels the daemons.
        for c in inner.snapshot() {
            if c.main.get().is_some() {
                c.wait_settled().await;
            }
        }
        if inner.has_failures() {
            inner.cancel_all();
        }
    }
    // Every child, for as long as it lives (a daemon until cancelled); a
    // failure meanwhile cancels the rest. Then every one-shot outcome, so
    // errors from the cancel's aftermath are counted.
    inner.settle_and_close().await;
    drop(guard);
    let mut errors = inner.take_failures();
    if let Some(e) = body_error {
        errors.insert(0, (rt.aid().clone(), e));
    }
    let error = match errors.len() {
        0 => {
            return match value {
                Some(v) => Ok(v),
                // The body failed because of a child whose end we caused
                // (we cancelled it): still the body's outcome.
                None => Err(reraised
                    .unwrap_or_else(|| Error::Cancelled("the nursery body was cancelled".into()))),
            };
        }
        1 => errors.remove(0).1,
        _ => Error::Multi(MultiError { errors }),
    };
    Err(match value {
        Some(v) => Error::keeping(error, v),
        None => error,
    })
}

/// Whether the body's error `e` is a consequence, not a failure of its
/// own: a child's failure seen through the body (the error a one-shot
/// child raised, which the body awaited and passed on, or the loss of a
/// child's channel, which its supervisor reports itself), or this
/// nursery's own cancellation met by the body (a spawn refused once a
/// child's failure cancelled the rest).
fn is_consequence(inner: &NurseryInner, e: &Error) -> bool {
    let children = inner.snapshot();
    match e.cause() {
        Error::Cancelled(_) => inner.cancel_called.load(Ordering::SeqCst),
        Error::TransportClosed { peer } | Error::PeerUnresponsive { peer, .. } => {
            children.iter().any(|c| c.proc.aid == *peer)
        }
        Error::Remote(r) => children.iter().any(|c| {
            c.main
                .get()
                .and_then(|slot| slot.outcome())
                .is_some_and(|o| matches!(o, MainOutcome::Raised(raised) if raised == *r))
        }),
        _ => false,
    }
}
