//! `ActorRuntime`: the state of one actor (one per process, or one per
//! root on a test thread): identity, IPC server, connected peers, the RPC
//! tasks it serves and the child supervisors it owns.

use std::collections::HashMap;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;
use uuid::Uuid;

use super::conn::Conn;
use super::endpoint::EndpointTable;
use super::lifetime::LifetimeStack;
use super::name_hash::NameSet;
use super::plugin::{ConnKey, Plugin, Registered};
use super::share::{Claim, Lease};
use crate::ipc::{Addr, Aid, Channel, ErrorData, MsgListener, MsgReader, Secret, TransportKind};
use crate::spawn::Resource;

/// What an actor is booted with.
#[derive(Clone, Debug)]
pub(crate) struct RuntimeParams {
    pub aid: Aid,
    pub is_root: bool,
    /// This actor is its tree's registrar: with no registry address
    /// given, its own listener is the registry.
    pub registry_here: bool,
    pub transport: TransportKind,
    pub bind_addr: Option<Addr>,
    pub loglevel: Option<String>,
    pub registry_addrs: Vec<Addr>,
    pub debug_mode: bool,
    /// What one peer may cost this actor.
    pub limits: crate::ipc::Limits,
    pub tree_id: String,
    pub exec_args: Vec<String>,
    pub enable_modules: Vec<String>,
    pub cancel_timeout: Duration,
    /// Channel liveness settings (`None`: no heartbeats).
    pub heartbeat: Option<crate::ipc::Heartbeat>,
    /// The secret every peer must prove it holds (and we prove to them).
    pub secret: Secret,
    /// The tree's TLS: links beyond loopback are in mutual TLS with it.
    pub tls: Option<Arc<crate::ipc::TreeTls>>,
    /// The backend this actor's children are spawned with unless a spawn
    /// chooses (`TRACTOR_SPAWN_METHOD` still wins).
    pub spawn_method: crate::spawn::SpawnMethod,
}

pub(crate) struct ActorRuntime {
    pub p: RuntimeParams,
    pub listen_addr: Addr,
    enable_modules: Mutex<NameSet<String>>,
    pub endpoints: &'static EndpointTable,
    /// Actor-wide cancellation: every RPC task's token is a child of this.
    pub cancel: CancellationToken,
    canceller: Mutex<Option<Aid>>,
    /// Final stop: the listener closes and channels are flushed and closed.
    pub(super) shutdown: CancellationToken,
    /// RPC tasks and child supervisors: what an actor cancel waits for.
    pub work: TaskTracker,
    /// Runtime chores that outlive a cancel request (the cancel handler itself).
    pub aux: TaskTracker,
    /// Accept loop and per-channel message loops.
    pub(super) io: TaskTracker,
    /// The thread and `LocalSet` the actor's tasks run on.
    pub(crate) home: super::home::Home,
    conns: Mutex<super::conn_set::ConnSet>,
    /// Shareable channels by an address their actor answers at (we dialed
    /// it there, or dialed it and found an actor we already had a channel to).
    by_addr: Mutex<HashMap<Addr, Arc<Conn>>>,
    /// One turn per address being dialed: concurrent connects dial once.
    dialing: Mutex<HashMap<Addr, Arc<tokio::sync::Mutex<()>>>>,
    pub parent: OnceLock<Arc<Conn>>,
    /// What the layers above keep in this actor (see [`super::plugin`]).
    plugins: Mutex<Vec<Registered>>,
    spawn_waiters: Mutex<HashMap<Uuid, oneshot::Sender<Arc<Conn>>>>,
    /// Exit cleanups registered by user code, run last in `teardown`.
    pub lifetime: LifetimeStack,
    /// Every child process this actor supervises, across its nurseries:
    /// what a hard kill of the tree reaches.
    children: Mutex<Vec<std::sync::Weak<super::supervisor::ChildProc>>>,
    /// The latest accept that failed for lack of a resource: when, what,
    /// and the OS error number.
    exhaustion: Mutex<Option<(Instant, Resource, i32)>>,
    /// RPC tasks peers started here that have not ended (the per-actor
    /// task limit counts them).
    pub(super) rpc_tasks: AtomicUsize,
    /// The nurseries opened in this actor that are still open (for a
    /// task dump; the nurseries own themselves).
    nurseries: Mutex<Vec<std::sync::Weak<super::nursery::NurseryInner>>>,
    /// When the runtime booted.
    pub born: Instant,
    pub span: tracing::Span,
    /// The link to this actor's forkserver, once it spawned with one.
    pub(crate) forkserver: crate::spawn::ForkserverSlot,
    /// The thread its exec'd children are started from (and die with).
    pub(crate) spawner: crate::spawn::SpawnerSlot,
}

impl std::fmt::Debug for ActorRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ActorRuntime({})", self.p.aid)
    }
}

impl ActorRuntime {
    /// Binds the IPC server and starts accepting peers.
    pub(crate) async fn boot(p: RuntimeParams) -> Result<Arc<Self>, crate::Error> {
        // For roots whose `main` does not go through `init()`.
        super::rlimit::raise_fd_limit();
        let endpoints = EndpointTable::global()?;
        super::endpoint::install_panic_hook();
        if p.debug_mode {
            super::endpoint::force_backtraces();
        }
        let bind = p
            .bind_addr
            .clone()
            .unwrap_or_else(|| crate::ipc::transport::default_bind_addr(p.transport, &p.aid.name));
        if bind.transport() != p.transport {
            return Err(super::error::ConfigError::BindTransport {
                addr: bind,
                tree: p.transport,
            }
            .into());
        }
        let listener = MsgListener::bind(&bind, p.limits.max_frame).await?;
        let span = tracing::info_span!("actor", name = %p.aid.name, pid = p.aid.pid);
        let mut p = p;
        if p.registry_here && p.registry_addrs.is_empty() {
            // Our own listener is the registry of this tree.
            p.registry_addrs = vec![listener.local_addr().clone()];
        }
        let rt = Arc::new(ActorRuntime {
            listen_addr: listener.local_addr().clone(),
            enable_modules: Mutex::new(p.enable_modules.iter().cloned().collect()),
            endpoints,
            cancel: CancellationToken::new(),
            canceller: Mutex::new(None),
            shutdown: CancellationToken::new(),
            work: TaskTracker::new(),
            aux: TaskTracker::new(),
            io: TaskTracker::new(),
            home: super::home::Home::here(),
            conns: Mutex::new(Default::default()),
            by_addr: Mutex::new(HashMap::new()),
            dialing: Mutex::new(HashMap::new()),
            parent: OnceLock::new(),
            plugins: Mutex::new(Vec::new()),
            spawn_waiters: Mutex::new(HashMap::new()),
            lifetime: LifetimeStack::new(p.aid.clone()),
            children: Mutex::new(Vec::new()),
            exhaustion: Mutex::new(None),
            rpc_tasks: AtomicUsize::new(0),
            nurseries: Mutex::new(Vec::new()),
            born: Instant::now(),
            span: span.clone(),
            forkserver: Default::default(),
            spawner: Default::default(),
            p,
        });
        tracing::debug!(target: "tractor::runtime", parent: &span, addr = %rt.listen_addr, "actor listening");
        rt.io
            .spawn_local(super::accept::accept_loop(rt.clone(), listener).instrument(span));
        Ok(rt)
    }

    pub(crate) fn aid(&self) -> &Aid {
        &self.p.aid
    }

    pub(crate) fn is_exposed(&self, module: &str) -> bool {
        lock(&self.enable_modules).contains(module)
    }

    /// Serves `module`'s endpoints from now on (for the modules every
    /// actor serves, whatever its `enable_modules`).
    pub(crate) fn expose_module(&self, module: &str) {
        lock(&self.enable_modules).insert(module.to_string());
    }

    /// Resolves once the actor's final stop began: its listener and
    /// channels are closing.
    pub(crate) async fn stopping(&self) {
        self.shutdown.cancelled().await
    }

    /// Every channel the actor serves now.
    pub(crate) fn conns(&self) -> Vec<Arc<Conn>> {
        lock(&self.conns).to_vec()
    }

    /// Adds a plugin (see [`super::plugin`]); its hooks run from now on.
    pub(crate) fn add_plugin<P: Plugin>(&self, p: Arc<P>) {
        lock(&self.plugins).push(Registered::new(p));
    }

    /// The plugin of type `P`, if one was added.
    pub(crate) fn plugin<P: Plugin>(&self) -> Option<Arc<P>> {
        lock(&self.plugins).iter().find_map(Registered::downcast)
    }

    fn plugin_hooks(&self) -> Vec<Arc<dyn Plugin>> {
        lock(&self.plugins)
            .iter()
            .map(|r| r.hooks().clone())
            .collect()
    }

    /// Tells every plugin that task `path` failed (debug mode only; see
    /// [`Plugin::task_failed`]).
    pub(crate) async fn note_task_failed(self: &Arc<Self>, path: &'static str, error: &ErrorData) {
        for p in self.plugin_hooks() {
            p.task_failed(self.clone(), path, error.clone()).await;
        }
    }

    /// Whether a plugin needs the actor's children alive (see
    /// [`Plugin::busy`]); the first plugin that can tell.
    pub(crate) fn plugins_busy(&self) -> Option<watch::Receiver<bool>> {
        self.plugin_hooks().iter().find_map(|p| p.busy())
    }

    /// Registers child `peer`, ready at `addrs` over channel `conn`, with
    /// the plugin that keeps this actor's name table; `false` if this
    /// actor keeps none (it is not a registrar).
    pub(crate) fn register_ready(&self, conn: ConnKey, peer: &Aid, addrs: &[Addr]) -> bool {
        self.plugin_hooks()
            .iter()
            .any(|p| p.register_ready(conn, peer, addrs))
    }

    /// Tells every plugin that channel `conn` closed.
    pub(crate) fn note_conn_closed(&self, conn: ConnKey) {
        for p in self.plugin_hooks() {
            p.conn_closed(conn);
        }
    }

    /// An open channel to an actor named `name` that a new portal may
    /// share (see [`super::share`]), if we have one.
    pub(crate) fn conn_named(&self, name: &str) -> Option<Arc<Conn>> {
        lock(&self.conns)
            .iter()
            .rev()
            .find(|c| c.chan.peer().name == name && !c.chan.is_closed() && c.share.is_shareable())
            .cloned()
    }

    /// A shareable open channel to the actor with `uuid`, if we have one.
    fn conn_to(&self, uuid: &Uuid) -> Option<Arc<Conn>> {
        lock(&self.conns)
            .iter()
            .rev()
            .find(|c| c.chan.peer().uuid == *uuid && !c.chan.is_closed() && c.share.is_shareable())
            .cloned()
    }

    /// Claims the shareable channel known to answer at `addr`, if any.
    fn claim_at(&self, addr: &Addr, claim: Claim) -> Option<(Arc<Conn>, Option<Lease>)> {
        let conn = lock(&self.by_addr).get(addr).cloned()?;
        if !conn.share.is_shareable() {
            return None;
        }
        Lease::claim(&conn, claim).map(|l| (conn, l))
    }

    /// Records that the actor on `conn` answers at `addr` (we dialed it
    /// there): later connects to `addr` share it.
    pub(crate) fn note_addr(&self, addr: &Addr, conn: &Arc<Conn>) {
        lock(&self.by_addr).insert(addr.clone(), conn.clone());
    }

    /// A channel to the actor at `addr`, shared: an open one to it is
    /// reused (one we dialed before, or the one to our parent, a child or
    /// the registrar), else it is dialed, once however many callers ask at
    /// the same time. The caller gets it as `claim` says: a portal gets a
    /// lease (the channel closes with its last lease if it was dialed for
    /// portals); the runtime keeps it for good.
    pub(crate) async fn connect_shared(
        self: &Arc<Self>,
        addr: &Addr,
        claim: Claim,
    ) -> Result<(Arc<Conn>, Option<Lease>), crate::Error> {
        if let Some(c) = self.claim_at(addr, claim) {
            return Ok(c);
        }
        if !self.home.is_here() {
            // A portal used on another thread (or runtime): the channel is
            // dialed at home, so its socket, writer and message loop are
            // the actor's, shared by every user, and outlive the caller's
            // runtime.
            let (rt, to) = (self.clone(), addr.clone());
            return self
                .home
                .run(move || async move { rt.connect_at_home(&to, claim).await })
                .await
                .unwrap_or_else(|not_run| Err(not_run.into_error(self.aid())));
        }
        self.connect_at_home(addr, claim).await
    }

    /// [`connect_shared`](Self::connect_shared), on the actor's home.
    async fn connect_at_home(
        self: &Arc<Self>,
        addr: &Addr,
        claim: Claim,
    ) -> Result<(Arc<Conn>, Option<Lease>), crate::Error> {
        let turn = lock(&self.dialing).entry(addr.clone()).or_default().clone();
        let res = {
            let _turn = turn.lock().await;
            self.dial_shared(addr, claim).await
        };
        {
            let mut dialing = lock(&self.dialing);
            // Ours and the table's: nobody else waits for this address.
            if Arc::strong_count(&turn) == 2 {
                dialing.remove(addr);
            }
        }
        res
    }

    async fn dial_shared(
        self: &Arc<Self>,
        addr: &Addr,
        claim: Claim,
    ) -> Result<(Arc<Conn>, Option<Lease>), crate::Error> {
        // Whoever dialed before us in this turn.
        if let Some(c) = self.claim_at(addr, claim) {
            return Ok(c);
        }
        let (chan, reader) = Channel::connect(
            addr,
            &self.p.aid,
            &self.p.secret,
            self.p.tls.as_deref(),
            &self.p.limits,
        )
        .await?;
        // An actor we already have a channel to, reached at another of its
        // addresses (a child's listen address, say): keep the one we have.
        if let Some(existing) = self.conn_to(&chan.peer().uuid)
            && let Some(l) = Lease::claim(&existing, claim)
        {
            chan.close();
            drop(reader);
            self.note_addr(addr, &existing);
            return Ok((existing, l));
        }
        let conn = self.adopt(chan, reader);
        conn.share.mark_dialed();
        self.note_addr(addr, &conn);
        match Lease::claim(&conn, claim) {
            Some(l) => Ok((conn, l)),
            // Closed at once: the runtime is shutting down.
            None => Err(conn.lost_error()),
        }
    }

    /// Who asked this actor to cancel, once it was asked.
    pub(crate) fn canceller(&self) -> Option<Aid> {
        lock(&self.canceller).clone()
    }

    /// Requests actor-wide cancellation on behalf of `by`.
    pub(crate) fn request_cancel(&self, by: Option<Aid>) {
        {
            let mut c = lock(&self.canceller);
            if c.is_none() {
                *c = by;
            }
        }
        self.cancel.cancel();
    }

    /// Starts serving a handshaken channel.
    pub(crate) fn adopt(self: &Arc<Self>, chan: Channel, reader: MsgReader) -> Arc<Conn> {
        let conn = Arc::new(Conn::new(chan, self.p.limits));
        lock(&self.conns).insert(conn.clone());
        if self.shutdown.is_cancelled() {
            conn.chan.close();
        }
        let span = tracing::debug_span!(parent: &self.span, "chan", peer = %conn.chan.peer());
        if let Some(hb) = self.p.heartbeat {
            self.io
                .spawn_local(super::liveness::watch(conn.clone(), hb).instrument(span.clone()));
        }
        self.io
            .spawn_local(super::conn::serve(self.clone(), conn.clone(), reader).instrument(span));
        conn
    }

    pub(crate) fn forget_conn(&self, conn: &Arc<Conn>) {
        lock(&self.conns).remove(conn);
        lock(&self.by_addr).retain(|_, c| !Arc::ptr_eq(c, conn));
    }

    /// Registers interest in a child connecting back with `uuid`.
    pub(crate) fn expect_child(&self, uuid: Uuid) -> oneshot::Receiver<Arc<Conn>> {
        let (tx, rx) = oneshot::channel();
        lock(&self.spawn_waiters).insert(uuid, tx);
        rx
    }

    pub(crate) fn forget_child(&self, uuid: &Uuid) {
        lock(&self.spawn_waiters).remove(uuid);
    }

    /// Records that an accept failed because `resource` ran out.
    pub(super) fn note_exhaustion(&self, resource: Resource, e: &std::io::Error) {
        let errno = e.raw_os_error().unwrap_or(0);
        *lock(&self.exhaustion) = Some((Instant::now(), resource, errno));
    }

    /// The resource an accept ran out of at or after `since`, with its
    /// OS error: why a child spawned then may not have got through.
    pub(crate) fn exhaustion_since(&self, since: Instant) -> Option<(Resource, std::io::Error)> {
        lock(&self.exhaustion)
            .filter(|(at, _, _)| *at >= since)
            .map(|(_, r, errno)| (r, std::io::Error::from_raw_os_error(errno)))
    }

    pub(super) fn hand_to_spawner(&self, conn: &Arc<Conn>) {
        if let Some(tx) = lock(&self.spawn_waiters).remove(&conn.chan.peer().uuid) {
            // Our child's channel: ours for the child's whole life.
            conn.share.hold();
            let _ = tx.send(conn.clone());
        }
    }

    /// Records a child process this actor supervises.
    pub(crate) fn adopt_child(&self, proc: &Arc<super::supervisor::ChildProc>) {
        let mut children = lock(&self.children);
        // Reaped children are dropped when the list would grow: amortised
        // O(1) per spawn, not a sweep of every child each time (a
        // thousand spawns at once would cost a million checks).
        if children.len() == children.capacity() {
            children.retain(|c| c.strong_count() > 0);
        }
        children.push(Arc::downgrade(proc));
    }

    /// Every child process this actor supervises, across its nurseries.
    pub(crate) fn children(&self) -> Vec<Arc<super::supervisor::ChildProc>> {
        lock(&self.children)
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect()
    }

    /// Records a nursery opened in this actor (kept while it lives).
    pub(crate) fn note_nursery(&self, n: &Arc<super::nursery::NurseryInner>) {
        let mut all = lock(&self.nurseries);
        all.retain(|n| n.strong_count() > 0);
        all.push(Arc::downgrade(n));
    }

    /// The nurseries opened in this actor that still live.
    pub(crate) fn nurseries(&self) -> Vec<Arc<super::nursery::NurseryInner>> {
        lock(&self.nurseries)
            .iter()
            .filter_map(std::sync::Weak::upgrade)
            .collect()
    }

    /// SIGKILLs every child process now (their descendants follow by the
    /// parent-death signal), cutting short any graceful ladder under way.
    pub(crate) fn kill_children(&self) {
        for c in self.children() {
            c.request_teardown(super::supervisor::Teardown::Kill);
        }
    }

    /// The teardown after a second interrupt: every child SIGKILLed and
    /// reaped, channels closed without waiting to flush, exit cleanups run.
    pub(crate) async fn hard_teardown(self: &Arc<Self>) {
        self.cancel.cancel();
        self.kill_children();
        self.work.close();
        // SIGKILLed children are reaped at once; the bound is for a
        // supervisor that cannot be (a zombie's parent is us, so never).
        let _ = tokio::time::timeout(Duration::from_secs(2), self.work.wait()).await;
        // Whatever it forked or exec'd that is left dies with it.
        self.forkserver.close().await;
        self.spawner.close();
        self.shutdown.cancel();
        for c in lock(&self.conns).iter() {
            c.chan.close();
        }
        if self.p.transport == TransportKind::Uds {
            self.sweep_tree_sockets().await;
        }
        self.lifetime.close().await;
    }

    /// Unlinks the socket files its killed descendants left (bounded).
    async fn sweep_tree_sockets(&self) {
        let marker = format!("{}={}", crate::spawn::env::TREE, self.p.tree_id);
        crate::ipc::uds::sweep_tree_sockets(&marker, Duration::from_secs(1)).await;
    }

    /// Cancels every RPC task, waits for them and for every child supervisor
    /// (so every descendant is reaped), then closes the IPC server and all
    /// channels, flushing what was queued, and last runs the lifetime stack
    /// (the user's exit cleanups). Every way an actor ends comes here.
    pub(crate) async fn teardown(self: &Arc<Self>) {
        self.cancel.cancel();
        self.work.close();
        self.aux.close();
        let all_done = async {
            self.work.wait().await;
            self.aux.wait().await;
        };
        if tokio::time::timeout(Duration::from_secs(30), all_done)
            .await
            .is_err()
        {
            tracing::error!(target: "tractor::cancel", parent: &self.span, "tasks still running 30 s after cancellation; closing anyway");
        }
        // Every child is reaped: a forkserver we started has nothing left
        // to serve, nor the spawner thread (a child still alive past the
        // bound above dies with it).
        self.forkserver.close().await;
        self.spawner.close();
        for p in self.plugin_hooks() {
            p.before_close(self.clone()).await;
        }
        self.shutdown.cancel();
        let conns = lock(&self.conns).to_vec();
        futures::future::join_all(
            conns
                .iter()
                .map(|c| c.chan.close_flushed(Duration::from_millis(500))),
        )
        .await;
        self.io.close();
        let _ = tokio::time::timeout(Duration::from_secs(2), self.io.wait()).await;
        if self.p.transport == TransportKind::Uds && self.p.is_root {
            // The tree is down: whatever socket file of it is left belongs
            // to an actor that was killed (and its killed descendants).
            self.sweep_tree_sockets().await;
        }
        self.lifetime.close().await;
    }
}

/// Locks a std mutex, ignoring poisoning: every critical section here only
/// moves plain data, so a panic elsewhere cannot leave it inconsistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
