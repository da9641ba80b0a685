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
//! [`ActorNursery`], [`open_actor_cluster`], [`Portal`], [`Context`], [`MsgStream`], the endpoint
//! macros and traits, [`RootConfig`] and [`Error`]. Seven topical modules
//! group the rest: [`discovery`] (the registrar and lookups, whose common
//! calls are also at the root), [`error`] (every error type one can match
//! on), [`foreign`] (links from a task to a foreign thread or loop),
//! [`introspect`] (what a live actor or tree is doing), [`testing`]
//! (what a test of a tree needs), [`trace`] (one trace across the
//! processes of a tree) and [`trionics`] (structured concurrency among
//! the tasks of one process, with no actor needed). The wire protocol is internal; the `wire` cargo
//! feature exposes it, unstable, to tests that speak it by hand.
//!
//! # Threads and runtimes
//!
//! Each actor's own tasks run on one thread: the one that awaits
//! [`open_root_actor`] (or runs a `#[tractor::main]` body), or a child
//! process's. That runtime may be the program's own multi-thread one (an
//! axum or tonic server's): its tasks on any thread call into actors
//! through [`Portal`]s, contexts and streams, which are `Send`, and use
//! discovery inside [`Actor::scope`], and start children through a
//! [`NurseryHandle`]. Nurseries open only on the actor's thread
//! ([`Error::AwayFromHome`] elsewhere), and children are forked there.
//!
//! # Layers
//!
//! The crate is built in layers, one folder each; a folder imports only
//! folders below it, so each can be read (and tested) without those above:
//!
//! ```text
//! app        entry points (init, #[main], #[test], open_root_actor,
//!            open_nursery, open_actor_cluster, run_daemon), RootConfig;
//!            boot composition
//! devx       the debugger (pause!, post-mortems, the TTY lock), task
//!            dumps, survivor checks for tests
//! discovery  the registrar (a runtime plugin), election, lookups
//! runtime    actor, nursery, portal, context, stream, RPC serving,
//!            supervision, errors, logging, plugins (hooks for the above)
//! trionics   structured-concurrency helpers with no actor inside: task
//!            nursery, cancel scopes, broadcast, shared contexts
//! foreign    links from an actor task to a foreign thread or loop
//!            (open_channel_from, run_task); needs no actor
//! spawn      how a child comes to exist: the exec, forkserver and thread
//!            backends behind one seam, and where: launchers (local, ssh);
//!            process titles
//! ipc        addresses, frames, the wire protocol and its schema,
//!            transports, the unix-socket bindspace, the shared-memory
//!            lane for large frames, auth (the secret, mutual TLS),
//!            channels
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
//! | `trionics` | nothing |
//! | `spawn` | `ipc` |
//! | `ipc` | nothing |
//! | `foreign` | nothing |
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
pub mod foreign;
mod ipc;
mod runtime;
mod spawn;
pub mod trionics;

pub use app::{
    ActorCluster, Cluster, RootConfig, init, open_actor_cluster, open_nursery, open_nursery_with,
    open_root_actor, run_daemon,
};
pub use discovery::election::RegistrarRole;
pub use discovery::lookup::{find_actor, list_actors, query_actor, registrar, wait_for_actor};
pub use discovery::registry::Registration;
pub use ipc::{Addr, Aid, Bytes, Heartbeat, Limits, Secret, TransportKind, TreeTls};
pub use runtime::context::{
    CallerContext, Context, IpcContext, MsgStream, RemoteStream, Side, current_ipc_ctx,
};
pub use runtime::endpoint::{Call, ContextEndpoint, Endpoint, RemoteFn, StreamEndpoint};
pub use runtime::error::{Error, MultiError, RemoteActorError, RemoteErrorKind};
pub use runtime::identity::{Actor, RuntimeVars, current_actor, is_root_process, runtime_vars};
pub use runtime::nursery::RunInActor;
pub use runtime::nursery::{
    ActorNursery, CancelNursery, NurseryHandle, RunInActorBuilder, StartActor, StartActorFrom,
    Supervision,
};
pub use runtime::portal::{CancelActor, Portal, connect_portal};
pub use spawn::{Launcher, RemoteExe, SpawnMethod, SshHost};
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
    pub use crate::ipc::{AddrParseError, FrameError, IpcError, SecretError, TlsError};
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
/// `enable_modules`: [`tasks`](fn@introspect::tasks) (the actor's own
/// [`ActorSnapshot`](introspect::ActorSnapshot)) and
/// [`tree`](fn@introspect::tree) (its whole subtree, each child asked over
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

/// Tracing across processes: the caller's trace context travels with
/// every call, so the callee's task span is a child of the caller's span
/// and one trace spans the tree.
///
/// # tractor's own ids
///
/// Each RPC task runs in an `rpc` span (level `DEBUG`, target
/// `tractor::runtime::rpc`) with the fields `endpoint`, `caller`,
/// `trace_id`, `span_id` and `parent_span_id`. The trace id is the
/// caller's: a call made inside a span carries that span's
/// [`TraceContext`](trace::TraceContext) (see [`current`](trace::current)),
/// and the callee's `rpc` span gets the same `trace_id` and the caller's
/// span as its `parent_span_id`; calls made inside the task carry the
/// task's ids on to the next actor.
/// So a plain subscriber (`tracing_subscriber::fmt`, JSON logs shipped
/// to one place) stitches the processes of a trace by its `trace_id`:
///
/// ```text
/// TRACTOR_LOGLEVEL=info,tractor::runtime::rpc=debug ./my-app
/// ... actor{name=worker pid=4242}:rpc{endpoint=app::work caller=root@4240
///     trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7
///     parent_span_id=2c1f04e5d3a4b1e0}: app: working
/// ```
///
/// Ids are kept in spans by a subscriber built on `tracing_subscriber`'s
/// `Registry` (tractor's default one is); with another subscriber, or
/// where spans are filtered out, a trace still crosses every actor
/// through its RPC tasks, and a call made outside any span or task
/// starts a new trace in the callee.
///
/// ```no_run
/// use tracing::Instrument;
///
/// #[tractor::endpoint]
/// async fn work(n: u32) -> u32 {
///     tracing::info!("working"); // inside the callee's `rpc` span
///     n * 2
/// }
///
/// async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
///     let job = tracing::info_span!("job", trace_id = tracing::field::Empty);
///     async {
///         if let Some(cx) = tractor::trace::current() {
///             // So this process's lines carry the trace id too.
///             tracing::Span::current().record("trace_id", tracing::field::display(cx.trace_id));
///         }
///         portal.run(work::call(21)).await
///     }
///     .instrument(job)
///     .await?;
///     Ok(())
/// }
/// # fn main() {}
/// ```
///
/// # OpenTelemetry
///
/// For a real distributed trace, install a
/// [`Propagator`](trace::Propagator) that carries the OpenTelemetry
/// context (W3C `traceparent`/`tracestate`) in the call's
/// [`Carrier`](trace::Carrier) and makes it the OpenTelemetry parent of
/// the callee's span. tractor does not depend on OpenTelemetry; with
/// `opentelemetry`, `opentelemetry_sdk` and `tracing-opentelemetry` in
/// your program it takes a few lines. Every process of the tree needs
/// the subscriber and the propagator, and children re-run your binary
/// from `main`: so install both in `main`, before [`tractor::init()`](crate::init)
/// (which turns a child into an actor and never returns there), rather
/// than in a `#[tractor::main]` body, which runs in the root only. A
/// child exits without returning from `main`: flush the exporter in
/// [`Propagator::flush`](trace::Propagator::flush).
///
/// ```ignore
/// use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
/// use opentelemetry::trace::TracerProvider as _;
/// use opentelemetry_sdk::propagation::TraceContextPropagator;
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use tracing_opentelemetry::OpenTelemetrySpanExt;
/// use tracing_subscriber::layer::SubscriberExt;
/// use tracing_subscriber::util::SubscriberInitExt;
/// use tractor::trace::{Carrier, Propagator};
///
/// #[derive(Debug)]
/// struct Otel {
///     w3c: TraceContextPropagator,
///     provider: SdkTracerProvider,
/// }
///
/// // `Carrier` is tractor's, the traits OpenTelemetry's: wrap it.
/// struct Inject<'a>(&'a mut Carrier);
/// impl Injector for Inject<'_> {
///     fn set(&mut self, key: &str, value: String) {
///         let _ = self.0.insert(key, value); // over the carrier's limits: dropped
///     }
/// }
/// struct Extract<'a>(&'a Carrier);
/// impl Extractor for Extract<'_> {
///     fn get(&self, key: &str) -> Option<&str> { self.0.get(key) }
///     fn keys(&self) -> Vec<&str> { self.0.iter().map(|(k, _)| k).collect() }
/// }
///
/// impl Propagator for Otel {
///     fn inject(&self, span: &tracing::Span, carrier: &mut Carrier) {
///         self.w3c.inject_context(&span.context(), &mut Inject(carrier));
///     }
///     fn extract(&self, carrier: &Carrier, span: &tracing::Span) {
///         let _ = span.set_parent(self.w3c.extract(&Extract(carrier)));
///     }
///     fn flush(&self) {
///         let _ = self.provider.force_flush();
///     }
/// }
///
/// fn main() -> Result<(), tractor::Error> {
///     // In every process of the tree (children re-run main up to `init`).
///     let provider = SdkTracerProvider::builder()
///         .with_batch_exporter(opentelemetry_otlp::SpanExporter::builder().with_tonic().build().unwrap())
///         .build();
///     tracing_subscriber::registry()
///         .with(tracing_subscriber::EnvFilter::new("info,tractor::runtime::rpc=debug"))
///         .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("my-app")))
///         .init();
///     tractor::trace::set_propagator(Otel { w3c: TraceContextPropagator::new(), provider: provider.clone() });
///     tractor::init(); // a child serves from here on, and exits
///
///     // The root only.
///     let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
///     let result = rt.block_on(root_main());
///     let _ = provider.shutdown();
///     result
/// }
/// ```
///
/// The callee's `rpc` span, enabled by the filter above, then has the
/// caller's span as its OpenTelemetry parent, and the exporter shows one
/// trace across the processes.
pub mod trace {
    pub use crate::ipc::{Carrier, CarrierError};
    pub use crate::runtime::trace::{
        Propagator, SpanId, TraceContext, TraceId, current, set_propagator,
    };
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
