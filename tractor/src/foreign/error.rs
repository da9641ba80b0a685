//! The errors of a link between an actor task and a foreign thread.

use serde::{Deserialize, Serialize};

/// Why the actor side of a link did not get a value or a result.
///
/// `E` is the foreign function's own error type; [`ForeignError::Failed`]
/// keeps it, so an endpoint that returns a `ForeignError<E>` shows the
/// caller a `RemoteActorError` whose boxed type names `E` (and, when `E`
/// is `Serialize + Deserialize`, the caller can downcast to it).
///
/// ```
/// use tractor::foreign::ForeignError;
///
/// let e: ForeignError<std::io::Error> = ForeignError::Panicked { message: "boom".into() };
/// assert!(e.to_string().contains("boom"));
/// ```
#[derive(Debug, thiserror::Error, Serialize, Deserialize)]
pub enum ForeignError<E> {
    /// The foreign function returned `Err(E)`.
    #[error("the foreign side failed: {0}")]
    Failed(#[source] E),
    /// The foreign function panicked; its thread was joined.
    #[error(
        "the foreign side panicked: {message}; return an error from the foreign function instead of panicking"
    )]
    Panicked {
        /// The panic's message, or a placeholder when it was not a string.
        message: String,
    },
    /// The foreign function returned `Ok` before calling
    /// [`ForeignSide::started_nowait`](super::ForeignSide::started_nowait).
    #[error(
        "the foreign side returned before calling `started_nowait`; call `started_nowait(first)` before any other work that may return"
    )]
    NotStarted,
    /// The foreign function returned `Ok` while this side still expected
    /// values from it (tractor's `AsyncioTaskExited`). Its result is kept:
    /// [`LinkedChannel::wait_for_result`](super::LinkedChannel::wait_for_result)
    /// returns it.
    #[error(
        "the foreign side returned while this side still expected values from it; call `wait_for_result` for its result"
    )]
    Exited,
    /// The foreign side cancelled the link itself (its
    /// [`ForeignSide::cancel`](super::ForeignSide::cancel)) and returned `Ok`.
    #[error("the foreign side cancelled the link; it sends nothing more")]
    Cancelled,
    /// The foreign side's outcome was already returned by an earlier
    /// `send`/`recv` on this link.
    #[error(
        "the foreign side's error was already returned by an earlier call on this link; handle it there"
    )]
    AlreadyReported,
    /// The OS refused to start the foreign thread.
    #[error("could not start the foreign thread: {message}; check the process's thread limit")]
    Spawn {
        /// The OS error's message.
        message: String,
    },
}

impl<E> ForeignError<E> {
    /// The foreign function's own error, if it returned one.
    ///
    /// ```
    /// use tractor::foreign::ForeignError;
    ///
    /// let e: ForeignError<String> = ForeignError::Failed("bad input".into());
    /// assert_eq!(e.into_failed().ok(), Some("bad input".to_string()));
    /// ```
    pub fn into_failed(self) -> Result<E, Self> {
        match self {
            ForeignError::Failed(e) => Ok(e),
            other => Err(other),
        }
    }
}

/// Why the foreign side got no value from the actor side.
///
/// ```
/// use tractor::foreign::LinkError;
///
/// assert!(LinkError::Cancelled.to_string().contains("stop"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The actor side cancelled the link, or was dropped (its task was
    /// cancelled, failed or panicked): stop the foreign work and return.
    #[error("the actor side cancelled the link (or its task ended); stop and return")]
    Cancelled,
    /// The actor side finished sending (it waits for the foreign result).
    #[error("the actor side sends nothing more and waits for the foreign result; return it")]
    Closed,
    /// `started_nowait` was called twice.
    #[error("`started_nowait` was already called; call it once, then use `send_nowait`")]
    AlreadyStarted,
}

/// Why [`ForeignSide::send_nowait`](super::ForeignSide::send_nowait) did
/// not send; the value comes back.
///
/// ```
/// use tractor::foreign::TrySendError;
///
/// let e = TrySendError::Full(3);
/// assert_eq!(e.into_inner(), 3);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrySendError<T> {
    /// The link's buffer (256 values) is full: the actor side is slow.
    /// Retry later, or use the blocking [`send`](super::ForeignSide::send).
    #[error("the link's buffer is full; retry later or use the blocking `send`")]
    Full(T),
    /// The actor side no longer receives (it was cancelled or waits for the
    /// result): stop and return.
    #[error("the actor side no longer receives; stop and return")]
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// ```
    /// use tractor::foreign::TrySendError;
    ///
    /// assert_eq!(TrySendError::Closed("x").into_inner(), "x");
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) => v,
        }
    }
}
