//! Opening an actor nursery: the entry point that boots an implicit root
//! when no actor runs yet (so it lives here, with the boot code, and the
//! runtime's nursery never calls up into it).

use crate::runtime::current;
use crate::runtime::error::Error;
use crate::runtime::nursery::{ActorNursery, Supervision, run_scope};

use super::config::RootConfig;
use super::root::open_root_actor;

/// Opens an actor nursery, runs `body` with it, and returns only when every
/// child has finished and been reaped.
///
/// Supervision is [`Supervision::OneCancelsAll`]: the first failure (the
/// body's, or any child's) cancels every child and interrupts the body.
/// One error is returned bare, several as [`Error::Multi`]. If `body` had
/// already returned a value when a child failed, the value is kept inside
/// the error ([`Error::ValueKept`]).
///
/// Boots an implicit root actor (named `root`) when no runtime runs here.
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn square(x: u64) -> u64 { x * x }
///
/// #[tractor::main]
/// async fn main() -> Result<(), tractor::Error> {
///     let nine = tractor::open_nursery(async |an| {
///         let child = an.run_in_actor(square::call(3)).await?;
///         child.wait_for_result().await
///     })
///     .await?;
///     assert_eq!(nine, 9);
///     Ok(())
/// }
/// ```
pub async fn open_nursery<F, T>(body: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&ActorNursery) -> Result<T, Error>,
    T: Send + 'static,
{
    open_nursery_with(Supervision::default(), body).await
}

/// [`open_nursery`] with a chosen [`Supervision`].
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn check(i: u32) -> Result<(), String> {
///     if i % 2 == 0 { Err(format!("{i} is even")) } else { Ok(()) }
/// }
///
/// # async fn demo() {
/// let res = tractor::open_nursery_with(tractor::Supervision::WaitForAllResults, async |an| {
///     for i in 0..4 {
///         an.run_in_actor(check::call(i)).name(format!("check_{i}")).await?;
///     }
///     Ok(())
/// })
/// .await;
/// // Both even children's errors, none dropped.
/// assert!(matches!(res, Err(tractor::Error::Multi(m)) if m.errors.len() == 2));
/// # }
/// # fn main() {}
/// ```
pub async fn open_nursery_with<F, T>(supervision: Supervision, body: F) -> Result<T, Error>
where
    F: AsyncFnOnce(&ActorNursery) -> Result<T, Error>,
    T: Send + 'static,
{
    match current::try_current() {
        Some(rt) => run_scope(rt, supervision, body).await,
        None => {
            open_root_actor(RootConfig::default(), async move || {
                let rt = current::try_current().ok_or(Error::NoRuntime)?;
                run_scope(rt, supervision, body).await
            })
            .await
        }
    }
}
