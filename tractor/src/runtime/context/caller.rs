//! `CallerContext` and `Portal::open_context`: the caller's half.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::stream::{MsgStream, send_stop};
use super::{CtxCore, IpcContext, with_current};
use crate::ipc::{Aid, FuncType, Msg, codec};
use crate::runtime::actor::lock;
use crate::runtime::dialog::{Terminal, phase};
use crate::runtime::endpoint::{Call, ContextEndpoint};
use crate::runtime::error::{Error, Misuse, RemoteActorError, RemoteErrorKind};
use crate::runtime::portal::{CancelReply, Portal, decode_pld};
use crate::runtime::wake_gate::Gated;

/// How long a cancelled or failed scope waits for the remote task's end.
const REMOTE_END_WAIT: Duration = Duration::from_secs(3);

/// The caller's half of a context: the mirror image of the callee's
/// [`Context`](crate::Context). `R` is the endpoint's return type, `Tx`
/// what this side sends on the stream (the callee's `Rx`), `Rx` what it
/// receives (the callee's `Tx`).
///
/// ```no_run
/// #[tractor::context]
/// async fn sum(ctx: tractor::Context<(), (), u64>) -> Result<u64, tractor::Error> {
///     ctx.started(()).await?;
///     let stream = ctx.open_stream()?;
///     let mut total = 0;
///     while let Some(n) = stream.recv().await? { total += n; }
///     Ok(total)
/// }
///
/// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
///     portal.open_context(sum::call(), async |ctx, ()| {
///         let stream = ctx.open_stream()?; // not async
///         for n in 1..=3u64 { stream.send(n).await?; }
///         stream.close(); // ends the callee's loop
///         assert_eq!(ctx.wait_for_result().await?, 6);
///         Ok(())
///     })
///     .await
/// }
/// # fn main() {}
/// ```
pub struct CallerContext<R, Tx, Rx> {
    pub(crate) core: Arc<CtxCore>,
    _t: PhantomData<fn(Tx) -> (R, Rx)>,
}

impl<R, Tx, Rx> std::fmt::Debug for CallerContext<R, Tx, Rx> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallerContext")
            .field("endpoint", &self.core.path)
            .field("cid", &self.core.cid)
            .field("callee", &self.core.peer().to_string())
            .finish()
    }
}

impl<R: DeserializeOwned, Tx: Serialize, Rx: DeserializeOwned> CallerContext<R, Tx, Rx> {
    /// Opens this context's one stream (once).
    pub fn open_stream(&self) -> Result<MsgStream<Tx, Rx>, Error> {
        let mut st = lock(&self.core.state);
        if st.stream_opened {
            return Err(self.core.misuse(Misuse::SecondStream));
        }
        if st.cancel_called {
            return Err(self.core.misuse(Misuse::StreamAfterCancel));
        }
        st.stream_opened = true;
        self.core.shared.mark(phase::STREAM_OPEN);
        Ok(MsgStream::new(self.core.clone()))
    }

    /// Cancels the remote task only (not its actor), waiting up to the
    /// cancel timeout for the ack. The remote task ends in
    /// `ContextCancelled` naming this actor, which the scope absorbs.
    /// Returns whether the cancel was acked.
    ///
    /// ```no_run
    /// #[tractor::context]
    /// async fn forever(ctx: tractor::Context) -> Result<(), tractor::Error> {
    ///     ctx.started(()).await?;
    ///     std::future::pending().await
    /// }
    ///
    /// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    ///     portal.open_context(forever::call(), async |ctx, ()| {
    ///         // Our own cancel is absorbed: the scope still ends in `Ok`.
    ///         let acked = ctx.cancel().await;
    ///         assert!(ctx.cancel_called() && acked == ctx.cancel_acked());
    ///         Ok(())
    ///     })
    ///     .await
    /// }
    /// # fn main() {}
    /// ```
    pub async fn cancel(&self) -> bool {
        cancel_remote(&self.core, self.core.rt.p.cancel_timeout).await
    }

    /// Waits for the remote task's result. A cancelled task gives its
    /// `ContextCancelled` error; stream messages still in flight are discarded.
    pub async fn wait_for_result(&self) -> Result<R, Error> {
        match drain_until_end(&self.core).await {
            Terminal::Returned(pld) => decode_pld(self.core.path, &pld),
            Terminal::Failed(e) => Err(Error::Remote(RemoteActorError::from_data(*e))),
            Terminal::Lost => Err(self.core.conn.lost_error()),
        }
    }

    /// Whether this side requested a cancel of the remote task.
    pub fn cancel_called(&self) -> bool {
        self.core.cancel_called()
    }

    /// Whether the remote actor acknowledged that cancel.
    pub fn cancel_acked(&self) -> bool {
        lock(&self.core.state).cancel_acked
    }

    /// Who cancelled the remote task, once it ended cancelled.
    pub fn canceller(&self) -> Option<Aid> {
        self.core.canceller()
    }

    /// The remote task's outcome, once known: `Ok(())` if it returned.
    pub fn outcome(&self) -> Option<Result<(), RemoteActorError>> {
        match self.core.shared.terminal()? {
            Terminal::Returned(_) => Some(Ok(())),
            Terminal::Failed(e) => Some(Err(RemoteActorError::from_data(*e))),
            Terminal::Lost => None,
        }
    }

    /// The actor running the callee half.
    pub fn callee(&self) -> &Aid {
        self.core.peer()
    }

    /// An untyped view of this context.
    pub fn info(&self) -> IpcContext {
        IpcContext {
            core: self.core.clone(),
        }
    }
}

/// Sends `CancelTask` for the context's remote task and waits (bounded) for the ack.
async fn cancel_remote(core: &CtxCore, within: Duration) -> bool {
    lock(&core.state).cancel_called = true;
    core.shared.mark(phase::CANCEL_CALLED);
    if core.shared.terminal().is_some() {
        return false;
    }
    let mut req = core.conn.open_dialog();
    req.finish();
    let sent = core
        .conn
        .chan
        .send(&Msg::CancelTask {
            cid: req.cid,
            target: core.cid,
        })
        .await;
    if sent.is_err() {
        return false;
    }
    let ack = tokio::time::timeout(within, async {
        loop {
            match req.recv().await {
                Some(Msg::CancelAck { acked, .. }) => return CancelReply::Acked(acked),
                Some(_) => continue,
                None => return CancelReply::Gone,
            }
        }
    })
    .await
    .unwrap_or(CancelReply::TimedOut);
    let acked = matches!(ack, CancelReply::Acked(true));
    lock(&core.state).cancel_acked = acked;
    acked
}

/// Waits for the dialog's end, discarding stream messages (and returning
/// their window, so a sender blocked on credit can reach its end).
async fn drain_until_end(core: &CtxCore) -> Terminal {
    loop {
        // Copied, not taken: `wait_for_result` may ask again.
        if let Some(t) = core.shared.terminal() {
            core.finish_dialog();
            return t;
        }
        tokio::select! {
            () = core.shared.terminal.wait_for(|t| t.is_some()) => {}
            m = std::future::poll_fn(|cx| core.poll_msg(cx)) => match m {
                Some(Msg::Yield { pld, .. }) => core.consumed_one(pld.len()),
                Some(_) => {}
                None => {
                    core.finish_dialog();
                    return core.shared.terminal().unwrap_or(Terminal::Lost);
                }
            }
        }
    }
}

impl Portal {
    /// The body of [`Portal::open_context`], which lives with `Portal` so
    /// that compiler messages about its bounds name `tractor::Portal`.
    pub(crate) async fn run_context<E, F, T>(&self, call: Call<E>, body: F) -> Result<T, Error>
    where
        E: ContextEndpoint,
        F: AsyncFnOnce(
            &CallerContext<E::Return, E::ToCallee, E::FromCallee>,
            E::Started,
        ) -> Result<T, Error>,
        T: Send + 'static,
    {
        if self.aid() == self.rt.aid() {
            return Err(Error::ContextMisuse {
                context: E::PATH.to_string(),
                misuse: Misuse::WithItself {
                    actor: self.aid().clone(),
                },
            });
        }
        let dialog = self.start_dialog::<E>(&call, FuncType::Context).await?;
        let core = CtxCore::caller(self.rt.clone(), dialog, E::PATH);
        // The handshake: StartAck, then Started (or the task's early end).
        let first = loop {
            match std::future::poll_fn(|cx| core.poll_msg(cx)).await {
                Some(Msg::StartAck { .. }) => continue,
                Some(Msg::Started { pld, .. }) => {
                    core.shared.mark(phase::STARTED);
                    break codec::decode::<E::Started>(&pld).map_err(|reason| Error::MsgType {
                        endpoint: E::PATH.to_string(),
                        expected: std::any::type_name::<E::Started>(),
                        reason: format!("the started value does not decode: {reason}"),
                    });
                }
                Some(Msg::Error { error, .. }) => {
                    core.finish_dialog();
                    return Err(Error::Remote(RemoteActorError::from_data(*error)));
                }
                Some(Msg::Return { .. }) => {
                    core.finish_dialog();
                    return Err(core.misuse(Misuse::NoStarted));
                }
                Some(_) => continue,
                None => {
                    core.finish_dialog();
                    return Err(core
                        .terminal_error()
                        .unwrap_or_else(|| self.conn.lost_error()));
                }
            }
        };
        let first = match first {
            Ok(f) => f,
            Err(e) => {
                cancel_remote(&core, self.rt.p.cancel_timeout).await;
                return Err(e);
            }
        };
        let ctx = CallerContext::<E::Return, E::ToCallee, E::FromCallee> {
            core: core.clone(),
            _t: PhantomData,
        };
        // The body runs until it ends or the remote task fails (a cancel
        // we asked for through this context lets the body finish).
        let me = self.rt.aid().clone();
        let body_res = {
            // Boxed: nested contexts would otherwise nest their bodies'
            // futures inline, and their poll frames, in one stack.
            let body = Box::pin(with_current(&core, body(&ctx, first)));
            // Polled only when the dialog's end woke it, not every time
            // the body wakes (see `wake_gate`).
            let failed = Gated::new(core.shared.terminal.wait_for(|t| match t {
                Some(Terminal::Failed(e)) => !own_cancel(&core, e, &me),
                Some(Terminal::Lost) => true,
                _ => false,
            }));
            tokio::select! {
                // The body first: one that produced its value as the
                // remote task failed keeps it (see below).
                biased;
                r = body => Some(r),
                () = failed => None,
            }
        };
        match body_res {
            Some(Ok(v)) => {
                send_stop(&core);
                match drain_until_end(&core).await {
                    Terminal::Returned(_) => Ok(v),
                    // The body's value is never thrown away: it comes
                    // back inside the error that followed it.
                    Terminal::Failed(e) => {
                        let r = RemoteActorError::from_data(*e);
                        if absorbed(&core, &r, &me) {
                            Ok(v)
                        } else {
                            Err(Error::keeping(Error::Remote(r), v))
                        }
                    }
                    Terminal::Lost => Err(Error::keeping(self.conn.lost_error(), v)),
                }
            }
            Some(Err(e)) => {
                // Our side failed: the remote task must not outlive the scope.
                if core.shared.terminal().is_none() {
                    cancel_remote(&core, self.rt.p.cancel_timeout).await;
                    let _ = tokio::time::timeout(REMOTE_END_WAIT, drain_until_end(&core)).await;
                }
                Err(e)
            }
            None => match core.terminal_error() {
                Some(e) => {
                    core.finish_dialog();
                    Err(e)
                }
                None => Err(self.conn.lost_error()),
            },
        }
    }
}

/// tractor's absorption rule: a `ContextCancelled` we requested through
/// this very context is not an error at scope exit.
fn absorbed(core: &CtxCore, r: &RemoteActorError, me: &Aid) -> bool {
    r.kind() == RemoteErrorKind::ContextCancelled
        && core.cancel_called()
        && r.canceller() == Some(me)
}

fn own_cancel(core: &CtxCore, e: &crate::ipc::ErrorData, me: &Aid) -> bool {
    e.boxed_type == crate::runtime::error::boxed_types::CONTEXT_CANCELLED
        && core.cancel_called()
        && e.canceller.as_ref() == Some(me)
}
