//! The foreign thread: started, watched for its outcome, always joined.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::thread::JoinHandle;

use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::error::ForeignError;

/// What the foreign function ended with.
pub(super) type Outcome<R, E> = Result<R, ForeignError<E>>;

/// The actor side's hold on a foreign thread. Dropping it cancels the
/// link (the foreign side's token fires) and hands the thread to a
/// reaper that joins it, so `Drop` never blocks a tokio worker.
#[derive(Debug)]
pub(super) struct Link<R, E> {
    pub(super) token: CancellationToken,
    outcome: Slot<R, E>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
enum Slot<R, E> {
    Pending(oneshot::Receiver<Outcome<R, E>>),
    Ready(Outcome<R, E>),
    Taken,
}

impl<R: Send + 'static, E: Send + 'static> Link<R, E> {
    /// Runs `f` on a new OS thread named `name`; `f` gets the link's token.
    pub(super) fn spawn<F>(name: &str, f: F) -> Result<Self, ForeignError<E>>
    where
        F: FnOnce(CancellationToken) -> Result<R, E> + Send + 'static,
    {
        let token = CancellationToken::new();
        let (tx, rx) = oneshot::channel();
        let theirs = token.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let outcome = match catch_unwind(AssertUnwindSafe(move || f(theirs))) {
                    Ok(Ok(r)) => Ok(r),
                    Ok(Err(e)) => Err(ForeignError::Failed(e)),
                    Err(payload) => Err(ForeignError::Panicked {
                        message: panic_message(payload.as_ref()),
                    }),
                };
                // The actor side may be gone: then nobody wants it.
                let _ = tx.send(outcome);
            })
            .map_err(|e| ForeignError::Spawn {
                message: e.to_string(),
            })?;
        Ok(Link {
            token,
            outcome: Slot::Pending(rx),
            thread: Some(thread),
        })
    }
}

impl<R, E> Link<R, E> {
    /// Waits for the foreign function's outcome (once; later calls get
    /// [`ForeignError::AlreadyReported`] unless the outcome was kept with
    /// [`Link::peek_ok`]).
    pub(super) async fn outcome(&mut self) -> Outcome<R, E> {
        self.settle().await;
        match std::mem::replace(&mut self.outcome, Slot::Taken) {
            Slot::Ready(o) => o,
            Slot::Pending(_) | Slot::Taken => Err(ForeignError::AlreadyReported),
        }
    }

    /// Waits for the outcome; an `Ok` is kept for a later
    /// [`Link::outcome`], an error is taken and returned.
    pub(super) async fn closing_error(&mut self) -> ForeignError<E> {
        self.settle().await;
        match std::mem::replace(&mut self.outcome, Slot::Taken) {
            Slot::Ready(Ok(r)) => {
                self.outcome = Slot::Ready(Ok(r));
                ForeignError::Exited
            }
            Slot::Ready(Err(e)) => e,
            Slot::Pending(_) | Slot::Taken => ForeignError::AlreadyReported,
        }
    }

    async fn settle(&mut self) {
        if let Slot::Pending(rx) = &mut self.outcome {
            let got = rx.await.unwrap_or_else(|_| {
                // The thread ended without sending: only if sending itself
                // unwound, which a `oneshot` send does not. Report it.
                Err(ForeignError::Panicked {
                    message: "the foreign thread ended without an outcome".into(),
                })
            });
            self.outcome = Slot::Ready(got);
            if let Some(t) = self.thread.take() {
                reap(t);
            }
        }
    }
}

impl<R, E> Drop for Link<R, E> {
    fn drop(&mut self) {
        self.token.cancel();
        if let Some(t) = self.thread.take() {
            reap(t);
        }
    }
}

/// Joins `thread` without blocking the caller: at once if it has ended;
/// else on tokio's blocking pool when called inside a runtime (so the
/// runtime's shutdown waits for the join, and no foreign thread outlives
/// the actor process's runtime), else on a small reaper thread.
fn reap(thread: JoinHandle<()>) {
    if thread.is_finished() {
        let _ = thread.join();
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn_blocking(move || {
                let _ = thread.join();
            });
        }
        Err(_) => {
            // If even the reaper cannot start, the foreign thread is left
            // detached: it still ends once it sees its cancelled token.
            let _ = std::thread::Builder::new()
                .name("tractor-foreign-reaper".into())
                .spawn(move || {
                    let _ = thread.join();
                });
        }
    }
}

/// A panic payload's message.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".into()
    }
}
