//! Introspection of the actor the calling code runs in.

use std::future::Future;
use std::sync::Arc;

use super::actor::ActorRuntime;
use super::error::Error;
use super::lifetime::{Cleanup, LifetimeError};
use crate::ipc::{Addr, Aid, TransportKind};

/// A handle to the actor the calling code runs in.
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let me = tractor::current_actor()?;
/// println!("I am {} listening on {}", me.aid(), me.accept_addr());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Actor {
    rt: Arc<ActorRuntime>,
}

impl std::fmt::Debug for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Actor")
            .field(&self.rt.aid().to_string())
            .finish()
    }
}

impl Actor {
    /// Identity: name, uuid, pid.
    pub fn aid(&self) -> &Aid {
        self.rt.aid()
    }

    /// The actor's name.
    pub fn name(&self) -> &str {
        &self.rt.aid().name
    }

    /// Where the actor's IPC server listens.
    pub fn accept_addr(&self) -> &Addr {
        &self.rt.listen_addr
    }

    /// Whether this is the root of its tree.
    pub fn is_root(&self) -> bool {
        self.rt.p.is_root
    }

    /// Whether the actor was asked to cancel.
    pub fn cancel_called(&self) -> bool {
        self.rt.cancel.is_cancelled()
    }

    /// Resolves once this actor is asked to cancel (by a parent, a peer's
    /// `cancel_actor`, or a signal): what a daemon's body waits on.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), tractor::Error> {
    /// let me = tractor::current_actor()?;
    /// let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
    /// loop {
    ///     tokio::select! {
    ///         _ = me.cancelled() => break, // stop cleanly when the tree winds down
    ///         _ = tick.tick() => println!("{} still here", me.name()),
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn cancelled(&self) {
        self.rt.cancel.cancelled().await
    }

    /// Who asked this actor to cancel.
    pub fn canceller(&self) -> Option<Aid> {
        self.rt.canceller()
    }

    /// Registers `cleanup` on this actor's lifetime stack: it runs once,
    /// at the very end of the actor's teardown, however the actor ends
    /// (its body returns or fails, its parent cancels it, `cancel_actor`,
    /// SIGTERM; only SIGKILL skips it), after its tasks are cancelled and
    /// its children reaped. Cleanups run last-registered first; a panicking
    /// one is logged and the others still run.
    ///
    /// Refused with [`LifetimeError::Closed`] once the actor has started
    /// running its cleanups (also from inside a cleanup): the closure is
    /// then dropped unrun and the caller should clean up itself.
    ///
    /// ```no_run
    /// #[tractor::endpoint]
    /// async fn scratch(path: String) -> Result<(), tractor::Error> {
    ///     std::fs::write(&path, b"scratch").map_err(tractor::Error::custom)?;
    ///     tractor::current_actor()?.on_exit(move || {
    ///         let _ = std::fs::remove_file(&path);
    ///     })?;
    ///     Ok(())
    /// }
    /// # fn main() {}
    /// ```
    pub fn on_exit(&self, cleanup: impl FnOnce() + Send + 'static) -> Result<(), LifetimeError> {
        self.rt.lifetime.push(Cleanup::Sync(Box::new(cleanup)))
    }

    /// Like [`on_exit`](Self::on_exit), for a cleanup that must await
    /// (close a connection, flush a file). The actor's async cleanups share
    /// a budget of 1 s: one still running when it is spent is dropped and
    /// logged, and so are the async cleanups below it; sync cleanups always
    /// run.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), tractor::Error> {
    /// let (tx, _rx) = tokio::sync::mpsc::channel::<&'static str>(1);
    /// tractor::current_actor()?.on_exit_async(async move {
    ///     let _ = tx.send("goodbye").await;
    /// })?;
    /// # Ok(()) }
    /// ```
    pub fn on_exit_async(
        &self,
        cleanup: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LifetimeError> {
        self.rt.lifetime.push(Cleanup::Async(Box::pin(cleanup)))
    }

    /// Runs `fut` with this actor as its own, on whatever thread or task
    /// polls it: what a task of a program's multi-thread runtime wraps
    /// its calls in to use discovery ([`find_actor`](crate::find_actor),
    /// [`wait_for_actor`](crate::wait_for_actor), [`connect_portal`](crate::connect_portal))
    /// or [`current_actor`](crate::current_actor). Portals, contexts and
    /// streams need no scope: they work from any thread as they are.
    ///
    /// The actor's own tasks stay on its thread (a channel dialed from
    /// here is served there); nurseries still open only on that thread
    /// ([`Error::AwayFromHome`](crate::Error::AwayFromHome) elsewhere).
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), tractor::Error> {
    /// let me = tractor::current_actor()?;
    /// // A task on a worker thread of the program's runtime:
    /// let found = tokio::spawn(me.scope(async {
    ///     Ok::<_, tractor::Error>(tractor::find_actor("quotes").await?.is_some())
    /// }));
    /// let _ = found.await;
    /// # Ok(()) }
    /// ```
    pub fn scope<F: Future>(&self, fut: F) -> impl Future<Output = F::Output> + use<F> {
        super::current::scope(self.rt.clone(), fut)
    }

    /// The runtime variables of the tree as this actor sees them.
    pub fn runtime_vars(&self) -> RuntimeVars {
        RuntimeVars {
            is_root: self.rt.p.is_root,
            debug_mode: self.rt.p.debug_mode,
            loglevel: self.rt.p.loglevel.clone(),
            transport: self.rt.p.transport,
            registry_addrs: self.rt.p.registry_addrs.clone(),
            tree_id: self.rt.p.tree_id.clone(),
        }
    }
}

/// Runtime-wide settings of an actor's tree, from [`runtime_vars`] or
/// [`Actor::runtime_vars`].
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let vars = tractor::runtime_vars()?;
/// // Children inherit the tree's transport and registry addresses.
/// if vars.is_root {
///     println!("root of tree {} on {}, registrar at {:?}", vars.tree_id, vars.transport, vars.registry_addrs);
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuntimeVars {
    /// Root of the tree?
    pub is_root: bool,
    /// Debug mode.
    pub debug_mode: bool,
    /// Effective log filter.
    pub loglevel: Option<String>,
    /// The tree's transport.
    pub transport: TransportKind,
    /// Registrar addresses.
    pub registry_addrs: Vec<Addr>,
    /// Marker shared by every process of the tree.
    pub tree_id: String,
}

/// The actor the calling code runs in; [`Error::NoRuntime`] outside one.
///
/// ```
/// // Outside any actor (no `open_nursery`, no `#[tractor::main]`):
/// assert!(matches!(tractor::current_actor(), Err(tractor::Error::NoRuntime)));
/// ```
pub fn current_actor() -> Result<Actor, Error> {
    super::current::try_current()
        .map(|rt| Actor { rt })
        .ok_or(Error::NoRuntime)
}

/// Whether the calling code runs in the root actor of its tree (`false`
/// outside any actor).
///
/// ```
/// // Code shared by the root and its children can branch on it, e.g. to
/// // print only once per tree; outside any actor it is `false`.
/// assert!(!tractor::is_root_process());
/// ```
pub fn is_root_process() -> bool {
    super::current::try_current().is_some_and(|rt| rt.p.is_root)
}

/// The runtime variables of the current actor (tractor's `get_runtime_vars`).
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let vars = tractor::runtime_vars()?;
/// println!("tree {} over {}", vars.tree_id, vars.transport);
/// # Ok(()) }
/// ```
#[doc(alias = "get_runtime_vars")]
pub fn runtime_vars() -> Result<RuntimeVars, Error> {
    current_actor().map(|a| a.runtime_vars())
}
