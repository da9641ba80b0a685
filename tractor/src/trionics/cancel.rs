//! Cancel scopes with deadlines: run a future until it ends, its deadline
//! passes, or someone cancels it. Cancelling drops the future.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::error::Elapsed;

/// Runs `fut` for at most `after`: `Some(value)` if it finished in time,
/// `None` if the deadline passed (the future is then dropped).
///
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let r = tractor::trionics::move_on_after(Duration::from_millis(10), std::future::pending::<()>()).await;
/// assert_eq!(r, None);
/// # }
/// ```
pub async fn move_on_after<F: Future>(after: Duration, fut: F) -> Option<F::Output> {
    CancelScope::with_timeout(after).run(fut).await
}

/// Runs `fut` for at most `after`, failing with [`Elapsed`] if the deadline
/// passes (the future is then dropped).
///
/// ```
/// use std::time::Duration;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let r = tractor::trionics::fail_after(Duration::from_secs(5), async { 7 }).await;
/// assert_eq!(r, Ok(7));
/// # }
/// ```
pub async fn fail_after<F: Future>(after: Duration, fut: F) -> Result<F::Output, Elapsed> {
    move_on_after(after, fut).await.ok_or(Elapsed { after })
}

/// A cancel scope (trio's `CancelScope`): [`CancelScope::run`] drives a
/// future until it ends, the scope's deadline passes, or
/// [`CancelScope::cancel`] is called from anywhere (clones share the scope).
///
/// A scope made with [`CancelScope::child_of`] is also cancelled when its
/// parent token is, e.g. a [`TaskNursery::cancel_token`](super::TaskNursery::cancel_token),
/// so work inside a task of a nursery ends when the nursery cancels.
///
/// ```
/// use std::time::Duration;
/// use tractor::trionics::CancelScope;
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let scope = CancelScope::new();
/// let remote = scope.clone();
/// let r = scope
///     .run(async move {
///         remote.cancel(); // e.g. from another task
///         std::future::pending::<u8>().await
///     })
///     .await;
/// assert_eq!(r, None);
/// assert!(scope.cancelled_caught());
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelScope {
    token: CancellationToken,
    state: Arc<Mutex<ScopeState>>,
    /// Woken when the deadline moves.
    moved: Arc<Notify>,
}

#[derive(Debug, Default)]
struct ScopeState {
    deadline: Option<Instant>,
    caught: bool,
}

impl CancelScope {
    /// A scope with no deadline, cancelled only by [`CancelScope::cancel`].
    ///
    /// ```
    /// assert!(tractor::trionics::CancelScope::new().deadline().is_none());
    /// ```
    pub fn new() -> CancelScope {
        CancelScope::default()
    }

    /// A scope whose deadline is `after` from now.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let s = tractor::trionics::CancelScope::with_timeout(std::time::Duration::from_secs(1));
    /// assert!(s.deadline().is_some());
    /// # }
    /// ```
    pub fn with_timeout(after: Duration) -> CancelScope {
        let scope = CancelScope::new();
        scope.set_deadline(Instant::now() + after);
        scope
    }

    /// A scope also cancelled when `parent` is cancelled.
    ///
    /// ```
    /// let parent = tokio_util::sync::CancellationToken::new();
    /// let scope = tractor::trionics::CancelScope::child_of(&parent);
    /// parent.cancel();
    /// assert!(scope.is_cancelled());
    /// ```
    pub fn child_of(parent: &CancellationToken) -> CancelScope {
        CancelScope {
            token: parent.child_token(),
            state: Arc::default(),
            moved: Arc::default(),
        }
    }

    /// Cancels the scope: a running [`CancelScope::run`] drops its future
    /// and returns `None`; a later one returns `None` at once.
    ///
    /// ```
    /// let s = tractor::trionics::CancelScope::new();
    /// s.cancel();
    /// assert!(s.is_cancelled());
    /// ```
    pub fn cancel(&self) {
        self.token.cancel();
    }

    /// Whether [`CancelScope::cancel`] was called (or the parent cancelled).
    ///
    /// ```
    /// assert!(!tractor::trionics::CancelScope::new().is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }

    /// The deadline, if any.
    ///
    /// ```
    /// assert_eq!(tractor::trionics::CancelScope::new().deadline(), None);
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.state.lock().ok().and_then(|s| s.deadline)
    }

    /// Sets (or moves) the deadline; a running [`CancelScope::run`] obeys the
    /// new one at once.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let s = tractor::trionics::CancelScope::new();
    /// s.set_deadline(tokio::time::Instant::now());
    /// assert_eq!(s.run(std::future::pending::<()>()).await, None);
    /// # }
    /// ```
    pub fn set_deadline(&self, deadline: Instant) {
        if let Ok(mut s) = self.state.lock() {
            s.deadline = Some(deadline);
        }
        self.moved.notify_waiters();
    }

    /// Whether a [`CancelScope::run`] of this scope was cut short (by a
    /// cancel or the deadline).
    ///
    /// ```
    /// assert!(!tractor::trionics::CancelScope::new().cancelled_caught());
    /// ```
    pub fn cancelled_caught(&self) -> bool {
        self.state.lock().map(|s| s.caught).unwrap_or(false)
    }

    /// Drives `fut` to its end (`Some(value)`), or until the scope is
    /// cancelled or its deadline passes (`None`, the future dropped).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let s = tractor::trionics::CancelScope::new();
    /// assert_eq!(s.run(async { 1 }).await, Some(1));
    /// # }
    /// ```
    pub async fn run<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = std::pin::pin!(fut);
        loop {
            let moved = self.moved.notified();
            let mut moved = std::pin::pin!(moved);
            moved.as_mut().enable();
            let deadline = self.deadline();
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = self.token.cancelled() => break,
                value = &mut fut => return Some(value),
                () = sleep => break,
                () = moved => {}
            }
        }
        if let Ok(mut s) = self.state.lock() {
            s.caught = true;
        }
        None
    }
}
