//! Structured-concurrency helpers with no actor inside (tractor's
//! `trionics`): they run on any tokio runtime, in an actor or not.
//!
//! - [`open_task_nursery`]: a task nursery with trio semantics (the first
//!   failure cancels every sibling, every task is joined, every failure is
//!   kept);
//! - [`CancelScope`], [`move_on_after`], [`fail_after`]: cancel scopes and
//!   deadlines;
//! - [`broadcast_receiver`]: fan one stream out to many local consumers.

mod broadcast;
mod cancel;
mod error;
mod nursery;

pub use broadcast::{BroadcastError, BroadcastReceiver, Lagged, Subscriber, broadcast_receiver};
pub use cancel::{CancelScope, fail_after, move_on_after};
pub use error::{BoxError, Elapsed, TaskError};
pub use nursery::{TaskNursery, TaskStatus, open_task_nursery};
