//! `Portal`: the caller's handle to another actor.

use std::borrow::Cow;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::actor::ActorRuntime;
use super::conn::{Conn, Dialog};
use super::context::{CallerContext, RemoteStream};
use super::dialog::{DialogTag, Terminal};
use super::endpoint::{Call, ContextEndpoint, Endpoint, RemoteFn, StreamEndpoint};
use super::error::{Error, RemoteActorError};
use super::nursery::MainSlot;
use super::share::{Claim, Lease};
use crate::ipc::{Aid, FlowSpec, FuncType, Msg, StartView};

/// A handle to another actor: schedule tasks in it, cancel it.
///
/// Portals come from [`ActorNursery::start_actor`](crate::ActorNursery::start_actor)
/// and friends; they are cheap to clone.
///
/// Portals to the same actor share one channel. A portal from
/// [`connect_portal`], [`find_actor`](crate::find_actor) or
/// [`wait_for_actor`](crate::wait_for_actor) holds a share of it: when
/// the last such portal (with all its clones) is dropped or
/// [closed](Self::close), and no stream or context started through one
/// still runs, a channel that was dialed for those portals closes. A
/// channel the runtime keeps (to the parent, a child or the registrar)
/// or that the peer dialed is never closed by a portal.
///
/// ```no_run
/// # async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
/// let acked: bool = portal.cancel_actor().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Portal {
    pub(crate) rt: Arc<ActorRuntime>,
    pub(crate) conn: Arc<Conn>,
    pub(crate) main: Option<Arc<MainSlot>>,
    /// This portal's share of the channel, when it opened or joined it
    /// through `connect_portal` or discovery (shared by its clones).
    pub(crate) lease: Option<Arc<Lease>>,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("actor", &self.conn.chan.peer().to_string())
            .finish()
    }
}

impl Portal {
    /// The actor on the other end.
    pub fn aid(&self) -> &Aid {
        self.conn.chan.peer()
    }

    /// Whether the channel to the actor is still open.
    pub fn is_connected(&self) -> bool {
        !self.conn.chan.is_closed()
    }

    /// Resolves once the channel to the actor has closed: the actor
    /// exited (or died), or the channel was dropped. What a tool waits on
    /// after a cancel request to see the actor gone.
    ///
    /// ```no_run
    /// # async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    /// use std::time::Duration;
    /// if portal.cancel_actor().await? {
    ///     // Acked: it closes its channels once its teardown is done.
    ///     let gone = tokio::time::timeout(Duration::from_secs(3), portal.closed()).await;
    ///     assert!(gone.is_ok());
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn closed(&self) {
        self.conn.chan.closed().await
    }

    /// A portal over `conn` with no share of it (the runtime keeps it).
    pub(crate) fn kept(rt: Arc<ActorRuntime>, conn: Arc<Conn>) -> Portal {
        Portal {
            rt,
            conn,
            main: None,
            lease: None,
        }
    }

    /// Lets go of this handle. Other clones keep working. If it was the
    /// last handle sharing a channel dialed by [`connect_portal`] (or
    /// [`find_actor`](crate::find_actor), [`wait_for_actor`](crate::wait_for_actor)),
    /// with no other such portal to the same actor and no stream or
    /// context still running through one, the channel is closed and this
    /// waits (up to 0.5 s) until what was queued on it is sent. Dropping
    /// the portal does the same without the wait. A channel the runtime
    /// keeps (to the parent, a child, the registrar) stays open.
    ///
    /// ```no_run
    /// # async fn demo(addr: tractor::Addr) -> Result<(), tractor::Error> {
    /// let portal = tractor::connect_portal(&addr).await?;
    /// println!("connected to {}", portal.aid());
    /// portal.close().await;
    /// # Ok(()) }
    /// ```
    pub async fn close(mut self) {
        let Some(lease) = self.lease.take() else {
            return;
        };
        let chan = self.conn.chan.clone();
        drop(self);
        if let Ok(lease) = Arc::try_unwrap(lease)
            && lease.release()
        {
            chan.close_flushed(Duration::from_millis(500)).await;
        }
    }

    /// Runs endpoint `E` as a fresh task in the remote actor and returns
    /// its result. Dropping the future cancels the remote task.
    ///
    /// ```no_run
    /// #[tractor::endpoint]
    /// async fn add(a: u32, b: u32) -> u32 { a + b }
    ///
    /// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    ///     let sum: u32 = portal.run(add::call(1, 2)).await?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub async fn run<E: Endpoint>(&self, call: Call<E>) -> Result<E::Output, Error> {
        let dialog = self.start_dialog(&call, FuncType::AsyncFunc).await?;
        let pld = self.await_return(dialog).await?;
        decode_pld::<E::Output>(E::PATH, &pld)
    }

    /// Calls an endpoint by module path and name, for a client that does
    /// not link it (a daemon of another binary). `args` must serialize like
    /// the endpoint's argument struct (its fields in order); a mismatch is
    /// a remote `MsgTypeError`.
    ///
    /// ```no_run
    /// # async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    /// #[derive(serde::Serialize)]
    /// struct Args { a: u32, b: u32 }
    /// let sum: u32 = portal.run_by_name("calc", "add", &Args { a: 1, b: 2 }).await?;
    /// # Ok(()) }
    /// ```
    #[doc(alias = "run_from_ns")]
    pub async fn run_by_name<A: Serialize + ?Sized, R: DeserializeOwned>(
        &self,
        module: &str,
        func: &str,
        args: &A,
    ) -> Result<R, Error> {
        let path = format!("{module}::{func}");
        let args = encode_args(&path, args)?;
        let dialog = self
            .start_raw(
                module,
                func,
                args,
                DialogTag::new(Cow::Owned(path.clone()), FuncType::AsyncFunc),
                None,
                FlowSpec::default(),
            )
            .await?;
        let pld = self.await_return(dialog).await?;
        decode_pld::<R>(&path, &pld)
    }

    /// Sends the `Start` of a typed call: a fresh dialog whose replies arrive on it.
    pub(crate) async fn start_dialog<E: RemoteFn>(
        &self,
        call: &Call<E>,
        kind: FuncType,
    ) -> Result<Dialog, Error> {
        let args = encode_args(E::PATH, &call.args)?;
        self.start_raw(
            E::module(),
            E::NAME,
            args,
            DialogTag::new(Cow::Borrowed(E::PATH), kind),
            Some(E::signature_hash()),
            call.flow,
        )
        .await
    }

    /// Sends the `Start` of a call of `module::func`, `tag` saying which
    /// endpoint (its path, its kind) for a task dump.
    async fn start_raw(
        &self,
        module: &str,
        func: &str,
        args: Vec<u8>,
        tag: DialogTag,
        sig: Option<u64>,
        flow: FlowSpec,
    ) -> Result<Dialog, Error> {
        let kind = tag.kind;
        let mut d = self.conn.open_dialog_with(flow, Some(tag));
        let flow = d.shared.flow;
        d.lease = self.lease.clone();
        let start = StartView {
            cid: d.cid,
            ns: module,
            func,
            args: &args,
            kind,
            sig,
            flow,
            trace: super::trace::capture(),
        };
        if self.conn.chan.send_start(&start).await.is_err() {
            d.finish();
            return Err(self.conn.lost_error());
        }
        Ok(d)
    }

    /// Waits for a plain call's `Return` (or `Error`).
    pub(crate) async fn await_return(&self, mut d: Dialog) -> Result<Vec<u8>, Error> {
        loop {
            match d.recv_or_end().await {
                Some(Msg::StartAck { .. }) => continue,
                // Its value waits in the dialog's end (a `Return` is not
                // queued for a plain call: `recv_or_end` stands for it).
                Some(Msg::Return { .. }) => {
                    d.finish();
                    return match d.shared.take_terminal() {
                        Some(Terminal::Returned(pld)) => Ok(pld),
                        // An earlier end (the first wins) stands.
                        Some(Terminal::Failed(e)) => {
                            Err(Error::Remote(RemoteActorError::from_data(*e)))
                        }
                        Some(Terminal::Lost) | None => Err(self.conn.lost_error()),
                    };
                }
                Some(Msg::Error { error, .. }) => {
                    d.finish();
                    return Err(Error::Remote(RemoteActorError::from_data(*error)));
                }
                Some(other) => {
                    tracing::warn!(target: "tractor::ipc", kind = other.kind(), "unexpected message in an RPC dialog; ignored");
                }
                None => {
                    d.finish();
                    return Err(self.conn.lost_error());
                }
            }
        }
    }

    /// The encoded main result of a `run_in_actor` child, once it ended
    /// (a daemon's portal has no result slot, so it has no such call).
    pub(crate) async fn main_result(&self) -> Result<(&'static str, Vec<u8>), Error> {
        let Some(slot) = &self.main else {
            return Err(Error::ActorFailure {
                actor: self.aid().clone(),
                reason: "this portal is not a run_in_actor child's".into(),
            });
        };
        let pld = slot.wait().await.into_result(self.aid())?;
        Ok((slot.path, pld))
    }

    /// Opens a context: runs the context endpoint as a task in the remote
    /// actor, waits for its `started` value, then runs `body` with the
    /// caller's half and that value.
    ///
    /// The scope never outlives the remote task: when `body` returns, it
    /// waits for the task's result; when `body` fails, the remote task is
    /// cancelled; when the remote task fails, `body` is interrupted and the
    /// error returned. A cancel requested through this context
    /// ([`CallerContext::cancel`]) is absorbed; one from anyone else is
    /// raised as `ContextCancelled`.
    ///
    /// If `body` returned a value and the remote task then failed, or its
    /// actor died before sending its result, the error is returned with the
    /// value kept inside ([`Error::ValueKept`], [`Error::take_value`]):
    /// what the body produced is never lost. (A value of a zero-sized type,
    /// like `()`, carries nothing and is not kept.)
    ///
    /// ```no_run
    /// #[tractor::context]
    /// async fn simple_rpc(ctx: tractor::Context<i32, String, String>, data: i32) -> Result<u32, tractor::Error> {
    ///     ctx.started(data + 1).await?;
    ///     let stream = ctx.open_stream()?;
    ///     let mut count = 0;
    ///     while let Some(_ping) = stream.recv().await? {
    ///         stream.send("pong".into()).await?;
    ///         count += 1;
    ///     }
    ///     Ok(count)
    /// }
    ///
    /// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    ///     portal.open_context(simple_rpc::call(10), async |ctx, first| {
    ///         assert_eq!(first, 11);
    ///         let stream = ctx.open_stream()?;
    ///         stream.send("ping".into()).await?;
    ///         assert_eq!(stream.recv().await?.as_deref(), Some("pong"));
    ///         Ok(())
    ///     })
    ///     .await
    /// }
    /// # fn main() {}
    /// ```
    pub async fn open_context<E, F, T>(&self, call: Call<E>, body: F) -> Result<T, Error>
    where
        E: ContextEndpoint,
        F: AsyncFnOnce(
            &CallerContext<E::Return, E::ToCallee, E::FromCallee>,
            E::Started,
        ) -> Result<T, Error>,
        T: Send + 'static,
    {
        self.run_context(call, body).await
    }

    /// Starts a one-way stream endpoint in the remote actor and returns
    /// its items as they come (with backpressure: the remote generator
    /// waits while a window of items is unread). Dropping the returned
    /// stream cancels the remote task.
    ///
    /// ```no_run
    /// use futures::StreamExt;
    ///
    /// #[tractor::endpoint]
    /// async fn count_to(n: u32) -> impl futures::Stream<Item = u32> {
    ///     futures::stream::iter(1..=n)
    /// }
    ///
    /// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    ///     let mut items = portal.open_stream_from(count_to::call(3)).await?;
    ///     while let Some(i) = items.next().await {
    ///         println!("{}", i?);
    ///     }
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub async fn open_stream_from<E: StreamEndpoint>(
        &self,
        call: Call<E>,
    ) -> Result<RemoteStream<E::Item>, Error> {
        self.start_stream_from(call).await
    }

    /// Cancels the remote actor's runtime and process: a request, then a
    /// bounded wait for its ack (default 0.5 s). Resolves to whether the
    /// actor acknowledged.
    ///
    /// ```no_run
    /// # async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
    /// use std::time::Duration;
    /// let acked = portal.cancel_actor().timeout(Duration::from_secs(1)).raise_on_timeout().await?;
    /// # Ok(()) }
    /// ```
    pub fn cancel_actor(&self) -> CancelActor<'_> {
        CancelActor {
            portal: self,
            timeout: self.rt.p.cancel_timeout,
            raise: false,
        }
    }
}

/// Connects to the actor listening at `addr` (any actor, not only a
/// child of ours) and returns a portal to it.
///
/// Portals to one actor share one channel: an open channel to the actor
/// at `addr` is reused (one an earlier `connect_portal` dialed, or the
/// runtime's own channel to our parent, a child or the registrar), and
/// concurrent calls for one address dial it once. A channel this dials
/// closes when the last portal sharing it (every clone) is dropped or
/// [closed](Portal::close) and no stream or context started through one
/// still runs; in-flight calls of other portals to that actor are never
/// cut. A channel the runtime keeps stays open.
///
/// ```no_run
/// # async fn demo(addr: tractor::Addr) -> Result<(), tractor::Error> {
/// let portal = tractor::connect_portal(&addr).await?;
/// println!("connected to {}", portal.aid());
/// # Ok(()) }
/// ```
pub async fn connect_portal(addr: &crate::Addr) -> Result<Portal, Error> {
    let rt = super::current::try_current().ok_or(Error::NoRuntime)?;
    let (conn, lease) = rt.connect_shared(addr, Claim::Portal).await?;
    Ok(Portal {
        rt,
        conn,
        main: None,
        lease: lease.map(Arc::new),
    })
}

/// A pending [`Portal::cancel_actor`]; configure it, then `.await` it.
///
/// ```no_run
/// # async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
/// use std::time::Duration;
/// // Give a busy actor longer than the default 0.5 s to wind down.
/// let acked: bool = portal.cancel_actor().timeout(Duration::from_secs(5)).await?;
/// if !acked {
///     eprintln!("{} did not acknowledge in time", portal.aid());
/// }
/// # Ok(()) }
/// ```
#[must_use = "the cancel request is sent only when awaited"]
pub struct CancelActor<'a> {
    portal: &'a Portal,
    timeout: Duration,
    raise: bool,
}

impl<'a> std::fmt::Debug for CancelActor<'a> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelActor")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl CancelActor<'_> {
    /// How long to wait for the ack.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Fail with [`Error::ActorTooSlow`] instead of returning `false` when
    /// the ack does not come in time.
    pub fn raise_on_timeout(mut self) -> Self {
        self.raise = true;
        self
    }
}

impl<'a> IntoFuture for CancelActor<'a> {
    type Output = Result<bool, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            match request_actor_cancel(&self.portal.conn, self.timeout).await {
                CancelReply::Acked(a) => Ok(a),
                CancelReply::Gone => Ok(false),
                CancelReply::TimedOut if self.raise => Err(Error::ActorTooSlow {
                    actor: self.portal.aid().clone(),
                    waited: self.timeout,
                }),
                CancelReply::TimedOut => Ok(false),
            }
        })
    }
}

pub(crate) enum CancelReply {
    Acked(bool),
    Gone,
    TimedOut,
}

/// Sends `CancelActor` and waits for the ack as long as the actor proves
/// it is alive: `slice` at a time, each further slice only if it answers a
/// liveness probe within `slice`, and never past `ceiling`.
///
/// An actor acks once its own tasks and children are down; one whose
/// child is stuck in blocking code is itself healthy, only slow while its
/// supervisor walks that child's ladder. Escalating on a fixed ack timeout
/// would kill it mid-teardown (its cleanups lost); a silent one is
/// escalated after `2 * slice`.
pub(crate) async fn request_actor_cancel_patient(
    conn: &Arc<Conn>,
    slice: Duration,
    ceiling: Duration,
) -> CancelReply {
    let Some(mut d) = send_cancel_actor(conn).await else {
        return CancelReply::Gone;
    };
    let deadline = tokio::time::Instant::now() + ceiling;
    loop {
        if let Ok(reply) = tokio::time::timeout(slice, wait_cancel_ack(&mut d)).await {
            return reply;
        }
        if tokio::time::Instant::now() >= deadline || !probe(conn, slice).await {
            return CancelReply::TimedOut;
        }
    }
}

/// Whether the peer's message loop answers a `Ping` within `within`.
pub(crate) async fn probe(conn: &Arc<Conn>, within: Duration) -> bool {
    let mut d = conn.open_dialog();
    d.finish();
    if conn.chan.send(&Msg::Ping { cid: d.cid }).await.is_err() {
        return false;
    }
    let pong = async {
        loop {
            match d.recv().await {
                Some(Msg::Pong { .. }) => return true,
                Some(_) => continue,
                None => return false,
            }
        }
    };
    tokio::time::timeout(within, pong).await.unwrap_or(false)
}

/// Sends `CancelActor` on a fresh dialog, for its ack; `None` when the
/// channel is gone.
async fn send_cancel_actor(conn: &Arc<Conn>) -> Option<Dialog> {
    if conn.chan.is_closed() {
        return None;
    }
    let mut d = conn.open_dialog();
    d.finish();
    let sent = conn.chan.send(&Msg::CancelActor { cid: d.cid }).await;
    sent.is_ok().then_some(d)
}

async fn wait_cancel_ack(d: &mut Dialog) -> CancelReply {
    loop {
        match d.recv().await {
            Some(Msg::CancelAck { acked, .. }) => return CancelReply::Acked(acked),
            Some(_) => continue,
            None => return CancelReply::Gone,
        }
    }
}

/// Sends `CancelActor` and waits up to `within` for the ack.
pub(crate) async fn request_actor_cancel(conn: &Arc<Conn>, within: Duration) -> CancelReply {
    let Some(mut d) = send_cancel_actor(conn).await else {
        return CancelReply::Gone;
    };
    tokio::time::timeout(within, wait_cancel_ack(&mut d))
        .await
        .unwrap_or(CancelReply::TimedOut)
}

pub(crate) fn encode_args<A: Serialize + ?Sized>(path: &str, args: &A) -> Result<Vec<u8>, Error> {
    postcard::to_stdvec(args).map_err(|e| Error::MsgType {
        endpoint: path.to_string(),
        expected: std::any::type_name::<A>(),
        reason: format!("arguments could not be encoded: {e}"),
    })
}

pub(crate) fn decode_pld<T: DeserializeOwned>(path: &str, pld: &[u8]) -> Result<T, Error> {
    crate::ipc::codec::decode(pld).map_err(|e| Error::MsgType {
        endpoint: path.to_string(),
        expected: std::any::type_name::<T>(),
        reason: format!(
            "the result does not decode ({e}); the caller and the callee were likely built from different signatures"
        ),
    })
}
