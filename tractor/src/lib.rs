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
//! # What is where
//!
//! Everything a program writes is at the crate root: [`open_nursery`],
//! [`ActorNursery`], [`Portal`], [`Context`], [`MsgStream`], the endpoint
//! macros and traits, [`RootConfig`] and [`Error`]. Four topical modules
//! group the rest: [`discovery`] (the registrar and lookups, whose common
//! calls are also at the root), [`error`] (every error type one can match
//! on), [`introspect`] (what a live actor or tree is doing) and
//! [`testing`] (what a test of a tree needs). The wire protocol
//! is internal; the `wire` cargo feature exposes it, unstable, to tests
//! that speak it by hand.
//!
//! # Layers
//!
//! The crate is built in layers, one folder each; a folder imports only
//! folders below it, so each can be read (and tested) without those above:
//!
//! ```text
//! app        entry points (init, #[main], #[test], open_root_actor,
//!            open_nursery, run_daemon), RootConfig; boot composition
//! devx       the debugger (pause!, post-mortems, the TTY lock), task
//!            dumps, survivor checks for tests
//! discovery  the registrar (a runtime plugin), election, lookups
//! runtime    actor, nursery, portal, context, stream, RPC serving,
//!            supervision, errors, logging, plugins (hooks for the above)
//! trionics   (next) structured-concurrency helpers with no actor inside
//! spawn      how a child process comes to exist; next: more backends
//! ipc        addresses, frames, the wire protocol and its schema,
//!            transports, the unix-socket bindspace, auth, channels
//! ```
//!
//! Which folder imports which today (`tests/layers.rs` fails the build
//! of the suite if a folder imports one above it):
//!
//! | folder | imports |
//! |---|---|
//! | `app` | `devx`, `discovery`, `runtime`, `spawn`, `ipc` |
//! | `devx` | `runtime`, `spawn`, `ipc` |
//! | `discovery` | `runtime`, `ipc` |
//! | `runtime` | `spawn`, `ipc` |
//! | `spawn` | `ipc` |
//! | `ipc` | nothing |
//!
//! The runtime never calls discovery: the registrar's table and an
//! actor's link to its registrar are plugins that the boot code in `app`
//! adds to an actor, and the runtime only calls their hooks (a channel
//! closed, the actor is closing).

#![warn(missing_docs)]

// The macros name `::tractor::...`; this lets the crate use them itself.
extern crate self as tractor;

mod app;
mod devx;
pub mod discovery;
mod ipc;
mod runtime;
mod spawn;

pub use app::{RootConfig, init, open_nursery, open_nursery_with, open_root_actor, run_daemon};
pub use discovery::election::RegistrarRole;
pub use discovery::lookup::{find_actor, list_actors, query_actor, registrar, wait_for_actor};
pub use discovery::registry::Registration;
pub use ipc::{Addr, Aid, Heartbeat, Limits, Secret, TransportKind};
pub use runtime::context::{
    CallerContext, Context, IpcContext, MsgStream, RemoteStream, Side, current_ipc_ctx,
};
pub use runtime::endpoint::{Call, ContextEndpoint, Endpoint, RemoteFn, StreamEndpoint};
pub use runtime::error::{Error, MultiError, RemoteActorError, RemoteErrorKind};
pub use runtime::identity::{Actor, RuntimeVars, current_actor, is_root_process, runtime_vars};
pub use runtime::nursery::RunInActor;
pub use runtime::nursery::{
    ActorNursery, CancelNursery, RunInActorBuilder, StartActor, Supervision,
};
pub use runtime::portal::{CancelActor, Portal, connect_portal};
pub use spawn::SpawnMethod;
pub use tractor_macros::{context, endpoint, main, test};

/// Halts the calling task and hands the terminal to a debugger REPL in
/// this actor, once the tree-wide TTY lock is free (prompts of actors
/// pausing at once come one after the other, never interleaved).
///
/// Evaluates to a future of `Result<(), Error>`: `continue` at the prompt
/// resolves it to `Ok(())`; `quit` to [`Error::DebuggerQuit`], which ends
/// the task like any error. The REPL offers `backtrace`, `values` (the
/// expressions given, shown by `Debug`), `tasks` (this actor's), `tree`
/// (every actor, with pids), `gdb`/`lldb` (attach to this pid) and `help`.
///
/// Outside debug mode ([`RootConfig::debug_mode`], `TRACTOR_DEBUG_MODE=1`)
/// it does nothing but log a warning, so a forgotten pause cannot wedge a
/// production tree.
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn settle(orders: Vec<u32>) -> Result<u32, tractor::Error> {
///     let total: u32 = orders.iter().sum();
///     // Look at `orders` and `total` here before going on:
///     tractor::pause!(orders, total).await?;
///     Ok(total)
/// }
/// # fn main() {}
/// ```
#[macro_export]
macro_rules! pause {
    ($($value:expr),* $(,)?) => {
        $crate::__private::pause(
            $crate::__private::PauseSite {
                file: ::core::file!(),
                line: ::core::line!(),
                module: ::core::module_path!(),
            },
            if $crate::__private::debug_mode_on() {
                ::std::vec![$((::core::stringify!($value), ::std::format!("{:#?}", &$value))),*]
            } else {
                ::std::vec::Vec::new()
            },
        )
    };
}

/// The types [`Error`]'s variants carry, to match on (the errors every
/// program meets, [`Error`], [`RemoteActorError`] and [`MultiError`], are
/// at the crate root).
///
/// ```
/// use tractor::Error;
/// use tractor::error::ConfigError;
/// fn is_config(e: &Error) -> bool {
///     matches!(e, Error::Config(ConfigError::NoRegistryAddrs))
/// }
/// # let _ = is_config;
/// ```
pub mod error {
    pub use crate::ipc::{AddrParseError, FrameError, IpcError, SecretError};
    pub use crate::runtime::endpoint::EndpointError;
    pub use crate::runtime::error::{
        ConfigError, Misuse, RegistrarError, Signal, ValueKept, boxed_types,
    };
    pub use crate::runtime::lifetime::LifetimeError;
    pub use crate::spawn::{BootExit, Resource, SpawnError, SpawnStage};
}

/// What a test of a tree needs: finding processes that outlived it.
/// (`#[tractor::test]` runs the survivor check after every test itself.)
///
/// ```no_run
/// #[tractor::test]
/// async fn workers_leave_nothing_behind() -> Result<(), tractor::Error> {
///     tractor::open_nursery(async |an| {
///         let tree = tractor::runtime_vars()?.tree_id;
///         an.start_actor("worker").await?.cancel_actor().await?;
///         // Checked here too, to fail right at the cause rather than at the test's end.
///         let left = tractor::testing::wait_gone_async(&tree, std::time::Duration::from_secs(2)).await;
///         assert!(left.is_empty(), "survivors: {}", tractor::testing::describe(&left));
///         Ok(())
///     })
///     .await
/// }
/// # fn main() {}
/// ```
pub mod testing {
    pub use crate::devx::survivors::{describe, survivors, wait_gone, wait_gone_async};
}

/// What a live actor, or a whole tree, is doing: its RPC tasks, the
/// contexts and streams it opened (with their peer, state, flow window and
/// queue depth), its nurseries and their children, each with its age.
///
/// Every actor serves the two endpoints here, whatever its
/// `enable_modules`: [`tasks`](introspect::tasks) (the actor's own
/// [`ActorSnapshot`](introspect::ActorSnapshot)) and
/// [`tree`](introspect::tree) (its whole subtree, each child asked over
/// IPC with a bounded wait). The `tractor tasks NAME` and `tractor tree`
/// commands print them; with debug mode or `TRACTOR_ENABLE_STACKSCOPE=1`,
/// `SIGUSR1` prints them to stderr (sent to the root: the whole tree's).
///
/// ```no_run
/// # async fn demo() -> Result<(), tractor::Error> {
/// let worker = tractor::wait_for_actor("worker").await?;
/// let tree = worker.run(tractor::introspect::tree::call()).await?;
/// eprintln!("{tree}");
/// # Ok(()) }
/// ```
pub mod introspect {
    pub use crate::devx::introspect::endpoints::{tasks, tree};
    pub use crate::devx::introspect::here::{local_tasks, local_tree};
    pub use crate::devx::introspect::model::{
        ActorSnapshot, ChildInfo, ChildState, DialogInfo, DialogKind, DialogState, NurseryInfo,
        StreamInfo,
    };
    pub use crate::devx::introspect::tree::{Subtree, TreeSnapshot};
}

/// The wire protocol, for tests and tools that speak it by hand (a fuzzer,
/// a hostile peer, a benchmark of the handshake). Behind the `wire` cargo
/// feature and outside semver: the protocol is the runtime's business.
#[cfg(feature = "wire")]
pub mod wire;

/// Paths the generated code names, and only those: no generated code
/// names an internal path, so no compiler message shows one to a user.
/// Not a public API: its contents change with any release (the macro
/// crate is pinned to this crate's exact version).
#[doc(hidden)]
pub mod __private {
    pub use crate::app::{run_main, run_test};
    pub use crate::devx::debug::{PauseSite, debug_mode_on, pause};
    pub use crate::ipc::FuncType;
    pub use crate::ipc::schema::DialogSchema;
    pub use crate::runtime::endpoint::{
        BoxDisplayError, BoxSerializableError, BoxStdError, BoxTractorError, ENDPOINTS,
        EndpointEntry, EndpointErrorDisplay, ErrorProbe, HandlerFuture, Invocation, LocalError,
        Reply, context_schema, endpoint_schema, stream_schema,
    };
    pub use linkme;
    pub use serde;
    pub use std::boxed::Box;
    pub use std::sync::OnceLock;
}
