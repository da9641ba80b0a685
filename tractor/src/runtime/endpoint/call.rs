//! [`Call`]: a typed call of an endpoint with its arguments.

use std::marker::PhantomData;

use super::RemoteFn;
use crate::ipc::FlowSpec;

/// A typed call of endpoint `E` with its arguments, made by the generated
/// `my_fn::call(..)` and consumed by [`Portal::run`](crate::Portal::run),
/// [`ActorNursery::run_in_actor`](crate::ActorNursery::run_in_actor),
/// [`Portal::open_context`](crate::Portal::open_context) or
/// [`Portal::open_stream_from`](crate::Portal::open_stream_from).
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
    /// Default 256.
    pub fn buffer(mut self, messages: u32) -> Self {
        self.flow.window = messages.max(1);
        self
    }

    /// tractor's flow mode: senders never wait; a receiver whose buffer
    /// overflows fails the dialog with `StreamOverrun` (unless it opened
    /// its stream allowing overruns). The default is credit-based backpressure.
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
