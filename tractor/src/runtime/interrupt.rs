//! SIGINT and SIGTERM at the root: the first cancels the whole tree
//! gracefully, a second one during that teardown hard-kills it.
//!
//! Only the root listens. Children ignore SIGINT (a terminal's ctrl-c
//! reaches the whole foreground process group, and the root alone decides
//! what it means) and turn SIGTERM into a graceful self-cancel; a child
//! learns of an interrupt through its parent's cancel request, so every
//! actor's RPC tasks are cancelled and its cleanups run, top down.
//!
//! While a debugger REPL is up anywhere in the tree, the root's SIGINT is
//! [shielded](shield): ctrl-c belongs to the REPL (it clears the line
//! being typed), not to the tree's cancellation. SIGTERM is never shielded.
//!
//! tokio's signal listeners are process-wide: once a root has listened,
//! the default action of SIGINT (terminating the process) stays replaced
//! for the life of the process. `#[tractor::main]` turns an interrupted
//! root into the conventional exit status (130, 143).

use std::sync::atomic::{AtomicI32, AtomicUsize, Ordering};

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

/// How many shields are up in this process (see [`shield`]).
static SHIELDS: AtomicUsize = AtomicUsize::new(0);

/// Keeps SIGINT from cancelling the tree while it lives: a debugger REPL
/// holds one while it owns the terminal. Process-wide, like signals.
#[must_use = "the shield drops at once"]
pub(crate) struct SigintShield(());

/// Raises a [`SigintShield`].
pub(crate) fn shield() -> SigintShield {
    SHIELDS.fetch_add(1, Ordering::SeqCst);
    SigintShield(())
}

impl Drop for SigintShield {
    fn drop(&mut self) {
        SHIELDS.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether SIGINT is shielded now.
pub(crate) fn sigint_shielded() -> bool {
    SHIELDS.load(Ordering::SeqCst) > 0
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

    /// The next SIGINT or SIGTERM (pending forever if neither is
    /// handled); a SIGINT while [shielded](shield) is logged and skipped.
    pub(crate) async fn next(&mut self) -> Signal {
        loop {
            let sig = tokio::select! {
                () = recv(&mut self.int) => Signal::Interrupt,
                () = recv(&mut self.term) => Signal::Terminate,
            };
            if sig == Signal::Interrupt && sigint_shielded() {
                tracing::info!(target: "tractor::devx", "ctrl-c ignored: a debugger REPL is up (leave it with `continue` or `quit` first)");
                continue;
            }
            return sig;
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
