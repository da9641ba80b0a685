//! Plugins: how the layers above the runtime (discovery today, the
//! debugger next) keep per-actor state and act at moments of an actor's
//! life, without the runtime knowing who they are.
//!
//! The runtime owns no registrar table and calls no registration: the
//! boot code in `app` composes an actor from the runtime plus the plugins
//! its role needs (a registrar gets the name table, every registered
//! actor a link to its registrar), and the runtime only calls the hooks.
//! That keeps the import graph one-way: `discovery` uses `runtime`, never
//! the reverse.

use std::any::Any;
use std::sync::Arc;

use futures::future::LocalBoxFuture;
use tokio::sync::watch;

use super::actor::ActorRuntime;
use crate::ipc::{Addr, Aid, ErrorData};

/// Identifies one channel of an actor for as long as it is open (what a
/// plugin keys per-peer state by, e.g. the registrar its entries).
pub(crate) type ConnKey = usize;

/// Per-actor state and lifecycle hooks of a layer above the runtime.
pub(crate) trait Plugin: Any + Send + Sync {
    /// A channel to a peer closed (the peer left, died or was dropped).
    fn conn_closed(&self, _conn: ConnKey) {}

    /// Child `peer` reported it is up, listening at `addrs`, over channel
    /// `conn`, and asked this actor (its registrar) to register it there.
    /// `true` if this plugin registered it.
    fn register_ready(&self, _conn: ConnKey, _peer: &Aid, _addrs: &[Addr]) -> bool {
        false
    }

    /// Teardown, once every task of the actor has ended and before its
    /// channels close: the last moment to tell peers goodbye.
    fn before_close(self: Arc<Self>, _rt: Arc<ActorRuntime>) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }

    /// An RPC task `path` failed with `error` (not by cancellation), in
    /// an actor in debug mode; the error goes to the caller once this
    /// resolves (the debugger's post-mortem REPL runs here).
    fn task_failed(
        self: Arc<Self>,
        _rt: Arc<ActorRuntime>,
        _path: &'static str,
        _error: ErrorData,
    ) -> LocalBoxFuture<'static, ()> {
        Box::pin(async {})
    }

    /// `true` while this plugin needs the actor's children alive (a
    /// debugger REPL is up or wanted somewhere in the tree): a child's
    /// supervisor in debug mode neither starts nor escalates a graceful
    /// cancel meanwhile. `None`: never.
    fn busy(&self) -> Option<watch::Receiver<bool>> {
        None
    }
}

/// One registered plugin, kept twice: as its hooks and as a value the
/// layer that added it can find again by type.
pub(crate) struct Registered {
    hooks: Arc<dyn Plugin>,
    value: Arc<dyn Any + Send + Sync>,
}

impl Registered {
    pub(crate) fn new<P: Plugin>(p: Arc<P>) -> Self {
        Registered {
            hooks: p.clone(),
            value: p,
        }
    }

    pub(crate) fn hooks(&self) -> &Arc<dyn Plugin> {
        &self.hooks
    }

    pub(crate) fn downcast<P: Plugin>(&self) -> Option<Arc<P>> {
        self.value.clone().downcast::<P>().ok()
    }
}
