//! Structured-concurrency helpers with no actor inside (tractor's
//! `trionics`): they run on any tokio runtime, in an actor or not.
//!
//! - [`open_task_nursery`]: a task nursery with trio semantics (the first
//!   failure cancels every sibling, every task is joined, every failure is
//!   kept);
//! - [`CancelScope`], [`move_on_after`], [`fail_after`]: cancel scopes and
//!   deadlines;
//! - [`broadcast_receiver`]: fan one stream out to many local consumers;
//! - [`ContextCache::maybe_open_context`]: many tasks share one async
//!   resource per key, the last user closes it; [`gather_contexts`] opens
//!   many at once.
//!
//! ```
//! use std::time::Duration;
//! use tractor::trionics::{TaskError, broadcast_receiver, fail_after, open_task_nursery};
//!
//! async fn demo(feed: impl futures::Stream<Item = u64> + Send + 'static) -> Result<(), TaskError> {
//!     let b = broadcast_receiver(feed, 1024);
//!     open_task_nursery(async |tn| {
//!         // `start` returns once the task says it is ready.
//!         let port: u16 = tn.start(|status| async move {
//!             status.started(8080);
//!             Ok::<(), TaskError>(())
//!         }).await?;
//!         // Subscribed before any consumer runs: a source that has ended
//!         // takes no new subscribers.
//!         let subs = (0..4)
//!             .map(|_| b.subscribe())
//!             .collect::<Result<Vec<_>, _>>()
//!             .map_err(TaskError::failed)?;
//!         for mut sub in subs {
//!             tn.spawn(async move {
//!                 while let Some(tick) = sub.recv().await? { let _ = (port, tick); }
//!                 Ok::<(), tractor::trionics::Lagged>(())
//!             });
//!         }
//!         fail_after(Duration::from_secs(5), async { /* bounded work */ }).await.map_err(TaskError::failed)?;
//!         Ok::<(), TaskError>(())
//!     })
//!     .await
//! }
//! # #[tokio::main] async fn main() { demo(futures::stream::iter(0..3)).await.unwrap(); }
//! ```

mod broadcast;
mod cancel;
mod context;
mod error;
mod nursery;

pub use broadcast::{BroadcastError, BroadcastReceiver, Lagged, Subscriber, broadcast_receiver};
pub use cancel::{CancelScope, fail_after, move_on_after};
pub use context::{ContextCache, GatherError, SharedContext, gather_contexts};
pub use error::{BoxError, Elapsed, TaskError};
pub use nursery::{TaskNursery, TaskStatus, open_task_nursery};
