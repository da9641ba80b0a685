//! Introspection of the actor the calling code runs in.

use std::sync::Arc;

use super::actor::ActorRuntime;
use super::error::Error;
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
    pub async fn cancelled(&self) {
        self.rt.cancel.cancelled().await
    }

    /// Who asked this actor to cancel.
    pub fn canceller(&self) -> Option<Aid> {
        self.rt.canceller()
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

/// Runtime-wide settings of an actor's tree.
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
pub fn current_actor() -> Result<Actor, Error> {
    super::current::try_current()
        .map(|rt| Actor { rt })
        .ok_or(Error::NoRuntime)
}

/// Whether the calling code runs in the root actor of its tree.
pub fn is_root_process() -> bool {
    super::current::try_current().is_some_and(|rt| rt.p.is_root)
}

/// The runtime variables of the current actor.
pub fn get_runtime_vars() -> Result<RuntimeVars, Error> {
    current_actor().map(|a| a.runtime_vars())
}
