//! # tractor
//!
//! A structured-concurrency, multi-process actor runtime on tokio.
//!
//! An *actor* is one OS process running one tokio runtime plus tractor's
//! runtime: a message loop, an RPC task scheduler and an IPC server. Actors
//! form a supervision tree: a parent spawns children from an
//! [`ActorNursery`], children's errors come back up as boxed
//! [`RemoteActorError`]s, cancellation goes down, and no process outlives
//! its tree.
//!
//! ```no_run
//! #[tractor::endpoint]
//! async fn burn_cpu(rounds: u32) -> u32 {
//!     let mut x = 0u32;
//!     for i in 0..rounds { x = x.wrapping_mul(31).wrapping_add(i); }
//!     std::hint::black_box(x);
//!     std::process::id()
//! }
//!
//! #[tractor::main]
//! async fn main() -> Result<(), tractor::Error> {
//!     tractor::open_nursery(async |an| {
//!         let child = an.run_in_actor(burn_cpu::call(50_000)).await?;
//!         let daemon = an.start_actor("frank").enable_modules([module_path!()]).await?;
//!         let pid: u32 = daemon.run(burn_cpu::call(10)).await?;
//!         let child_pid: u32 = child.wait_for_result().await?;
//!         assert_ne!(pid, child_pid);
//!         daemon.cancel_actor().await?;
//!         Ok(())
//!     })
//!     .await
//! }
//! ```
//!
//! Layers, each a module folder, upper ones importing lower ones only:
//! [`app`] (entry points) → [`runtime`] (actors, nurseries, portals) →
//! [`ipc`] (channels, transports, the wire protocol) → [`spawn`] (how
//! processes are made), with [`devx`] (logging, test support) beside them.

#![warn(missing_docs)]

// The macros name `::tractor::...`; this lets the crate use them itself.
extern crate self as tractor;

pub mod app;
pub mod devx;
pub mod discovery;
pub mod ipc;
pub mod runtime;
pub mod spawn;

pub use app::init;
pub use discovery::{
    Registration, find_actor, get_registry, list_actors, query_actor, run_daemon, wait_for_actor,
};
pub use ipc::{Addr, Aid, Heartbeat, Limits, Secret, TransportKind};
pub use runtime::context::{
    CallerContext, Context, IpcContext, MsgStream, RemoteStream, Side, current_ipc_ctx,
};
pub use runtime::endpoint::{Call, ContextEndpoint, Endpoint, RemoteFn, StreamEndpoint};
pub use runtime::error::{
    Error, MultiError, RemoteActorError, RemoteErrorKind, Signal, ValueKept, boxed_types,
};
pub use runtime::identity::{Actor, RuntimeVars, current_actor, get_runtime_vars, is_root_process};
pub use runtime::lifetime::LifetimeError;
pub use runtime::nursery::{
    ActorNursery, CancelNursery, RunInActorBuilder, StartActor, Supervision, open_nursery,
    open_nursery_with,
};
pub use runtime::portal::{CancelActor, Portal, RunInActor, connect_portal};
pub use runtime::root::{RootConfig, open_root_actor};
pub use tractor_macros::{context, endpoint, main, test};

/// Test support: finding processes that outlived their tree, and
/// speaking the wire protocol by hand as an authenticated peer.
pub mod testing {
    pub use crate::devx::survivors::{describe, survivors, wait_gone, wait_gone_async};
    pub use crate::ipc::auth::dial_handshake_raw;

    /// The secret of the actor the calling code runs in (a test's root):
    /// what a hand-made peer must prove it holds to be let in.
    pub fn tree_secret() -> Option<crate::Secret> {
        crate::runtime::current::try_current().map(|rt| rt.p.secret.clone())
    }

    /// Dials `addr` and completes the handshake (peer-uid check, the
    /// proof of `secret`, identities) as `me`: a raw transport to send
    /// hand-made messages over. Returns it and the peer's identity.
    pub async fn dial_authenticated(
        addr: &crate::Addr,
        me: &crate::Aid,
        secret: &crate::Secret,
    ) -> Result<(crate::ipc::MsgTransport, crate::Aid), crate::ipc::IpcError> {
        let mut t = crate::ipc::MsgTransport::connect(addr, crate::ipc::DEFAULT_MAX_FRAME).await?;
        let peer =
            crate::ipc::auth::handshake(&mut t, me, secret, crate::ipc::Role::Dialer).await?;
        Ok((t, peer))
    }
}

/// Paths the generated code names. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::app::{run_main, run_test};
    pub use crate::ipc::FuncType;
    pub use crate::ipc::schema::DialogSchema;
    pub use crate::runtime::endpoint::{
        BoxDisplayError, BoxSerializableError, BoxStdError, BoxTractorError, ENDPOINTS,
        EndpointEntry, ErrorProbe, HandlerFuture, Invocation, LocalError, Reply,
    };
    pub use crate::runtime::endpoint_schema::{context_schema, endpoint_schema, stream_schema};
    pub use linkme;
    pub use serde;
    pub use std::boxed::Box;
    pub use std::sync::OnceLock;
}
