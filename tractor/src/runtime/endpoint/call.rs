//! [`Call`]: a typed call of an endpoint with its arguments.

use std::marker::PhantomData;

use super::RemoteFn;
use crate::ipc::FlowSpec;

/// A typed call of endpoint `E` with its arguments, made by the generated
/// `my_fn::call(..)` and consumed by [`Portal::run`](crate::Portal::run),
/// [`ActorNursery::run_in_actor`](crate::ActorNursery::run_in_actor),
/// [`Portal::open_context`](crate::Portal::open_context) or
/// [`Portal::open_stream_from`](crate::Portal::open_stream_from).
///
/// ```
/// #[tractor::endpoint]
/// async fn square(x: u64) -> u64 { x * x }
///
/// # fn main() {
/// // Building a call runs nothing: it is a typed message, checked at compile time.
/// let call: tractor::Call<square::Endpoint> = square::call(3);
/// assert_eq!(call.name(), "square");
/// # }
/// ```
#[must_use = "a Call does nothing until passed to a Portal or a nursery"]
pub struct Call<E: RemoteFn> {
    pub(crate) args: E::Args,
    pub(crate) flow: FlowSpec,
    _e: PhantomData<fn() -> E>,
}

impl<E: RemoteFn> Call<E> {
    /// Wraps the argument struct.
    pub fn new(args: E::Args) -> Self {
        Call {
            args,
            flow: FlowSpec::default(),
            _e: PhantomData,
        }
    }

    /// The endpoint's module path.
    pub fn module(&self) -> &'static str {
        E::module()
    }

    /// The endpoint's function name.
    pub fn name(&self) -> &'static str {
        E::NAME
    }

    /// The stream buffer of the dialog: how many messages either side may
    /// have unread before the sender waits (or, in overrun mode, overruns).
    /// Default 16,384. With backpressure a sender also waits while 1 MiB of
    /// its payloads is unread (one larger message may always go), so a
    /// large window of large items is not as large a buffer. The
    /// receiving actor caps it at its `Limits::stream_buffer`.
    ///
    /// ```no_run
    /// #[tractor::endpoint]
    /// async fn samples(n: u32) -> impl futures::Stream<Item = f32> {
    ///     futures::stream::iter((0..n).map(|i| i as f32))
    /// }
    ///
    /// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    ///     // A consumer that wants the producer at most 64 items ahead of it.
    ///     let _items = portal.open_stream_from(samples::call(1_000_000).buffer(64)).await?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn buffer(mut self, messages: u32) -> Self {
        self.flow.window = messages.max(1);
        self
    }

    /// tractor's flow mode: senders never wait; a receiver whose buffer
    /// overflows fails the dialog with `StreamOverrun` (unless it opened
    /// its stream allowing overruns). The default is credit-based backpressure.
    ///
    /// ```no_run
    /// #[tractor::context]
    /// async fn sink(ctx: tractor::Context<(), (), u64>) -> Result<(), tractor::Error> {
    ///     ctx.started(()).await?;
    ///     let stream = ctx.open_stream_allow_overruns()?;
    ///     while stream.recv().await?.is_some() {}
    ///     Ok(())
    /// }
    ///
    /// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    ///     // The sender never waits for credit; the callee absorbs bursts.
    ///     portal.open_context(sink::call().overrun_mode(), async |ctx, ()| {
    ///         let stream = ctx.open_stream()?;
    ///         for i in 0..10_000u64 { stream.send(i).await?; }
    ///         Ok(())
    ///     })
    ///     .await
    /// }
    /// # fn main() {}
    /// ```
    pub fn overrun_mode(mut self) -> Self {
        self.flow.overrun = true;
        self
    }
}

impl<E: RemoteFn> std::fmt::Debug for Call<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Call({})", E::PATH)
    }
}
