//! SIGINT and SIGTERM at the root: the first cancels the whole tree
//! gracefully, a second one during that teardown hard-kills it.
//!
//! Only the root listens. Children ignore SIGINT (a terminal's ctrl-c
//! reaches the whole foreground process group, and the root alone decides
//! what it means) and turn SIGTERM into a graceful self-cancel; a child
//! learns of an interrupt through its parent's cancel request, so every
//! actor's RPC tasks are cancelled and its cleanups run, top down.
//!
//! tokio's signal listeners are process-wide: once a root has listened,
//! the default action of SIGINT (terminating the process) stays replaced
//! for the life of the process. `#[tractor::main]` turns an interrupted
//! root into the conventional exit status (130, 143).

use std::sync::atomic::{AtomicI32, Ordering};

use tokio::signal::unix::{SignalKind, signal};

use super::error::Signal;

/// The signal that interrupted a root of this process, for the exit
/// status of `#[tractor::main]` (0: none).
static INTERRUPTED_BY: AtomicI32 = AtomicI32::new(0);

/// Records that a root of this process was interrupted by `sig`.
pub(crate) fn note_interrupted(sig: Signal) {
    INTERRUPTED_BY.store(sig.number(), Ordering::SeqCst);
}

/// The signal that interrupted a root of this process, if one did.
pub(crate) fn interrupted_by() -> Option<Signal> {
    match INTERRUPTED_BY.load(Ordering::SeqCst) {
        libc::SIGINT => Some(Signal::Interrupt),
        libc::SIGTERM => Some(Signal::Terminate),
        _ => None,
    }
}

/// The root's listeners for SIGINT and SIGTERM.
pub(crate) struct Interrupts {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    /// Starts listening. A listener that cannot be installed (a runtime
    /// built without the signal driver) is logged and left out: the
    /// signal then keeps its default action.
    pub(crate) fn listen() -> Self {
        let install = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(target: "tractor::cancel", "cannot handle {name} ({e}); it will kill the root without a graceful teardown (enable tokio's signal driver)");
                None
            }
        };
        Interrupts {
            int: install(SignalKind::interrupt(), "SIGINT"),
            term: install(SignalKind::terminate(), "SIGTERM"),
        }
    }

    /// The next SIGINT or SIGTERM (pending forever if neither is handled).
    pub(crate) async fn next(&mut self) -> Signal {
        tokio::select! {
            () = recv(&mut self.int) => Signal::Interrupt,
            () = recv(&mut self.term) => Signal::Terminate,
        }
    }
}

/// The next delivery on `listener`; never, without one.
async fn recv(listener: &mut Option<tokio::signal::unix::Signal>) {
    match listener {
        Some(s) => {
            if s.recv().await.is_none() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}
