//! `run_task`: one foreign function on a thread, its result awaited.

use tokio_util::sync::CancellationToken;

use super::error::ForeignError;
use super::thread::Link;

/// Runs the blocking function `f` on a new OS thread and returns its
/// result (tractor's `to_asyncio.run_task`). `f` gets the link's
/// cancellation token: dropping this future (the actor task was
/// cancelled) fires it, and the thread is joined once `f` returns.
///
/// An error of `f` comes back as [`ForeignError::Failed`], a panic as
/// [`ForeignError::Panicked`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tractor::foreign::{ForeignError, run_task};
///
/// let sum = run_task(|_token| Ok::<_, std::io::Error>((1..=10).sum::<u32>())).await;
/// assert_eq!(sum.unwrap(), 55);
///
/// let failed = run_task(|_token| Err::<(), _>(std::io::Error::other("disk gone"))).await;
/// assert!(matches!(failed, Err(ForeignError::Failed(e)) if e.to_string() == "disk gone"));
/// # }
/// ```
pub async fn run_task<R, E, F>(f: F) -> Result<R, ForeignError<E>>
where
    R: Send + 'static,
    E: Send + 'static,
    F: FnOnce(CancellationToken) -> Result<R, E> + Send + 'static,
{
    let mut link = Link::spawn("tractor-foreign-task", f)?;
    link.outcome().await
}
