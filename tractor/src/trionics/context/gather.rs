//! `gather_contexts`: enter many async scopes concurrently.

use std::future::Future;

/// Why [`gather_contexts`] failed.
///
/// ```
/// let e: tractor::trionics::GatherError<std::io::Error> = tractor::trionics::GatherError::Empty;
/// assert!(e.to_string().contains("at least one"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatherError<E> {
    /// No scope was given.
    #[error("gather_contexts was given no scopes to enter; pass at least one")]
    Empty,
    /// A scope failed to open; the others were cancelled, and those already
    /// open dropped (exited).
    #[error("a scope failed to open, the others were exited: {0}")]
    Failed(#[source] E),
}

/// Opens every scope of `opens` concurrently and returns their values in
/// input order.
///
/// A scope is modelled as a future that opens it and yields a value that
/// stands for the open scope, exited when dropped (an RAII guard; for an
/// async exit, such as [`SharedContext::release`](super::SharedContext::release),
/// exit each value after use, e.g. with `futures::future::join_all`). If
/// one fails to open, the others are cancelled and those already open are
/// dropped; the error is returned.
///
/// # Errors
///
/// [`GatherError::Empty`] if `opens` is empty; [`GatherError::Failed`]
/// with the first error otherwise.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use tractor::trionics::gather_contexts;
/// let opens = (1..=3).map(|i| async move { Ok::<_, std::io::Error>(i * 10) });
/// assert_eq!(gather_contexts(opens).await.unwrap(), vec![10, 20, 30]);
/// # }
/// ```
pub async fn gather_contexts<I, F, V, E>(opens: I) -> Result<Vec<V>, GatherError<E>>
where
    I: IntoIterator<Item = F>,
    F: Future<Output = Result<V, E>>,
{
    let opens: Vec<F> = opens.into_iter().collect();
    if opens.is_empty() {
        return Err(GatherError::Empty);
    }
    futures::future::try_join_all(opens)
        .await
        .map_err(GatherError::Failed)
}
