//! Linking an actor task to work outside its tokio runtime (tractor's
//! `to_asyncio` counterpart): a dedicated OS thread running blocking code,
//! a C library's loop, or another executor run on that thread.
//!
//! - [`open_channel_from`] starts a foreign function on its own thread and
//!   returns a [`LinkedChannel`] plus the first value the function hands
//!   over with [`ForeignSide::started_nowait`]; both directions buffer
//!   [`BUFFER`] values.
//! - [`run_task`] is the one-shot form: the function's result, awaited.
//! - The actor side sends with [`LinkedChannel::send`], receives with
//!   [`LinkedChannel::recv`] or [`LinkedChannel::stream`], and ends with
//!   [`LinkedChannel::wait_for_result`] or [`LinkedChannel::cancel`] (or a
//!   drop). The foreign side blocks in [`ForeignSide::get`] and
//!   [`ForeignSide::send`], or, when it runs another executor on its thread,
//!   awaits [`ForeignSide::recv`] and [`ForeignSide::send_async`]: smol, or
//!   the program's own multi-thread tokio runtime through its `Handle`
//!   (`handle.block_on(..)` on the foreign thread; what that `tokio::spawn`s
//!   runs on the runtime's workers).
//!
//! The two sides are linked, as in tractor:
//!
//! | what happens | the other side sees |
//! |---|---|
//! | the foreign function returns `Err(e)` | [`ForeignError::Failed`]`(e)`, with `e`'s type |
//! | it panics | [`ForeignError::Panicked`] with the message |
//! | it returns before `started_nowait` | `open_channel_from` fails with its error, or [`ForeignError::NotStarted`] |
//! | it returns `Ok` while the actor side receives | [`ForeignError::Exited`] (result kept for `wait_for_result`) |
//! | it cancels the link ([`ForeignSide::cancel`]) | [`ForeignError::Cancelled`] |
//! | the actor side cancels, or is dropped (task cancelled, failed, panicked) | the token fires; `get`/`send` fail with [`LinkError::Cancelled`] |
//! | the actor side waits for the result | `get` fails with [`LinkError::Closed`] |
//!
//! Nothing leaks: the foreign thread is always joined, and never by a
//! blocking call on a tokio worker. A dropped link hands the thread's
//! handle to tokio's blocking pool (or, outside a runtime, to a small
//! reaper thread), which joins it once the foreign code has reacted to
//! its cancelled token; the runtime's shutdown waits for that join (up to
//! its shutdown timeout: a foreign loop must react to its token promptly).
//!
//! An endpoint that returns the [`ForeignError`] shows its caller a
//! `RemoteActorError` whose boxed type names the foreign error's type
//! (with `serde` on that type the caller can downcast to it).
//!
//! This module needs no actor: it works in any tokio task.

mod channel;
mod error;
mod run_task;
mod side;
mod thread;

#[cfg(test)]
mod tests;

pub use channel::{BUFFER, LinkedChannel, open_channel_from};
pub use error::{ForeignError, LinkError, TrySendError};
pub use run_task::run_task;
pub use side::ForeignSide;
pub use tokio_util::sync::CancellationToken;
