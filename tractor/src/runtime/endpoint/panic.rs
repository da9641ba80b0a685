//! Panics in endpoints: the hook that keeps the panic site's backtrace,
//! and the boxing of a panic payload.

use super::LocalError;
use crate::runtime::error::boxed_types;

/// Set once an actor in debug mode runs in this process: its post-mortem
/// REPL shows a panic's backtrace whatever `RUST_BACKTRACE` says.
static FORCE_CAPTURE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Captures panic backtraces from now on, `RUST_BACKTRACE` or not.
pub(crate) fn force_backtraces() {
    FORCE_CAPTURE.store(true, std::sync::atomic::Ordering::Relaxed);
}

fn captured_backtrace() -> Option<String> {
    let bt = if FORCE_CAPTURE.load(std::sync::atomic::Ordering::Relaxed) {
        std::backtrace::Backtrace::force_capture()
    } else {
        std::backtrace::Backtrace::capture()
    };
    (bt.status() == std::backtrace::BacktraceStatus::Captured).then(|| bt.to_string())
}

thread_local! {
    /// The backtrace of this thread's latest panic, taken by the hook.
    static PANIC_BACKTRACE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Chains a panic hook that keeps the backtrace of the panic site (when
/// `RUST_BACKTRACE` enables capture) for the boxed error; the previous hook
/// still prints as usual.
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let bt = captured_backtrace();
            PANIC_BACKTRACE.with(|b| *b.borrow_mut() = bt);
            prev(info);
        }));
    });
}

/// Turns a panic payload into a boxed `panic` error.
pub(crate) fn box_panic(payload: Box<dyn std::any::Any + Send>) -> LocalError {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    };
    LocalError::new(boxed_types::PANIC, msg)
}

/// The backtrace the hook kept for this thread's latest panic, if any.
pub(crate) fn take_backtrace() -> Option<String> {
    PANIC_BACKTRACE.with(|b| b.borrow_mut().take())
}
