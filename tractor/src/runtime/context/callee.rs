//! `Context`: the callee's half of a context dialog.

use std::marker::PhantomData;
use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::stream::MsgStream;
use super::{CtxCore, IpcContext};
use crate::ipc::{Aid, Msg, PayloadMsg};
use crate::runtime::actor::lock;
use crate::runtime::dialog::phase;
use crate::runtime::error::{Error, Misuse};

/// The callee's half of a context: the endpoint calls
/// [`started`](Self::started) to hand the caller its first value, then may
/// [`open_stream`](Self::open_stream).
///
/// The type parameters fix the dialog's payloads at compile time:
/// `Started` is the value `started` sends, `Tx` what this side sends on
/// the stream, `Rx` what it receives. The caller's [`CallerContext`](crate::CallerContext)
/// is the mirror image.
///
/// ```no_run
/// #[tractor::context]
/// async fn echo(ctx: tractor::Context<(), String, String>) -> Result<u32, tractor::Error> {
///     ctx.started(()).await?;
///     let stream = ctx.open_stream()?;
///     let mut n = 0;
///     while let Some(msg) = stream.recv().await? {
///         stream.send(msg).await?;
///         n += 1;
///     }
///     Ok(n)
/// }
/// # fn main() {}
/// ```
pub struct Context<Started = (), Tx = (), Rx = ()> {
    pub(crate) core: Arc<CtxCore>,
    _t: PhantomData<fn(Started, Tx) -> Rx>,
}

impl<S, Tx, Rx> std::fmt::Debug for Context<S, Tx, Rx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("endpoint", &self.core.path)
            .field("cid", &self.core.cid)
            .field("caller", &self.core.peer().to_string())
            .finish()
    }
}

impl<S: Serialize, Tx: Serialize, Rx: DeserializeOwned> Context<S, Tx, Rx> {
    pub(crate) fn new(core: Arc<CtxCore>) -> Self {
        Context {
            core,
            _t: PhantomData,
        }
    }

    /// Hands the caller its first value; the caller's `open_context`
    /// completes only now. Calling it twice is an error.
    pub async fn started(&self, value: S) -> Result<(), Error> {
        {
            let mut st = lock(&self.core.state);
            if st.started {
                return Err(self.core.misuse(Misuse::StartedTwice));
            }
            st.started = true;
            self.core.shared.mark(phase::STARTED);
        }
        let frame =
            Msg::payload_frame(PayloadMsg::Started, self.core.cid, &value).map_err(|reason| {
                Error::MsgType {
                    endpoint: self.core.path.to_string(),
                    expected: std::any::type_name::<S>(),
                    reason: format!("the started value could not be encoded: {reason}"),
                }
            })?;
        self.core
            .conn
            .chan
            .send_frame(frame)
            .await
            .map_err(|_| self.core.conn.lost_error())
    }

    /// Opens this context's one stream. Only after `started`, and only once.
    pub fn open_stream(&self) -> Result<MsgStream<Tx, Rx>, Error> {
        self.open_stream_inner(false)
    }

    /// Opens the stream, absorbing overruns in tractor's overrun flow mode:
    /// messages beyond the buffer are kept (up to a hard cap) instead of
    /// failing the dialog with `StreamOverrun`.
    ///
    /// ```no_run
    /// #[tractor::context]
    /// async fn sink(ctx: tractor::Context<(), (), u64>) -> Result<u64, tractor::Error> {
    ///     ctx.started(()).await?;
    ///     // The caller used `.overrun_mode()`: it never waits, so a burst may
    ///     // exceed the buffer; keep it rather than fail.
    ///     let stream = ctx.open_stream_allow_overruns()?;
    ///     let mut n = 0;
    ///     while stream.recv().await?.is_some() { n += 1; }
    ///     Ok(n)
    /// }
    /// # fn main() {}
    /// ```
    pub fn open_stream_allow_overruns(&self) -> Result<MsgStream<Tx, Rx>, Error> {
        self.open_stream_inner(true)
    }

    fn open_stream_inner(&self, allow_overruns: bool) -> Result<MsgStream<Tx, Rx>, Error> {
        let mut st = lock(&self.core.state);
        if !st.started {
            return Err(self.core.misuse(Misuse::StreamBeforeStarted));
        }
        if st.stream_opened {
            return Err(self.core.misuse(Misuse::SecondStream));
        }
        if st.cancel_called {
            return Err(self.core.misuse(Misuse::StreamAfterCancel));
        }
        st.stream_opened = true;
        self.core.shared.mark(phase::STREAM_OPEN);
        if allow_overruns {
            self.core.shared.allow_overruns();
        }
        Ok(MsgStream::new(self.core.clone()))
    }

    /// Cancels this task itself: the caller's side ends in `ContextCancelled`
    /// naming this actor.
    ///
    /// ```no_run
    /// #[tractor::context]
    /// async fn guarded(ctx: tractor::Context<(), (), String>) -> Result<(), tractor::Error> {
    ///     ctx.started(()).await?;
    ///     let stream = ctx.open_stream()?;
    ///     while let Some(cmd) = stream.recv().await? {
    ///         if cmd == "abort" {
    ///             ctx.cancel(); // the caller sees ContextCancelled, not an error of ours
    ///             std::future::pending::<()>().await;
    ///         }
    ///     }
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn cancel(&self) {
        lock(&self.core.state).cancel_called = true;
        self.core.shared.mark(phase::CANCEL_CALLED);
        lock(&self.core.canceller).get_or_insert_with(|| self.core.me().clone());
        if let Some(t) = &self.core.token {
            t.cancel();
        }
    }

    /// Whether this task was asked to cancel.
    pub fn cancel_called(&self) -> bool {
        self.core.token.as_ref().is_some_and(|t| t.is_cancelled()) || self.core.cancel_called()
    }

    /// The actor that opened the context.
    pub fn caller(&self) -> &Aid {
        self.core.peer()
    }

    /// An untyped view of this context.
    pub fn info(&self) -> IpcContext {
        IpcContext {
            core: self.core.clone(),
        }
    }
}
