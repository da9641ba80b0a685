//! Errors a user meets: [`Error`], the boxed [`RemoteActorError`], and the
//! aggregate [`MultiError`] of a nursery whose children failed together.

use std::fmt;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::ipc::{Aid, ErrorData, IpcError};
use crate::spawn::SpawnError;

/// Boxed type names the runtime itself raises. Match on
/// [`RemoteActorError::kind`] rather than on these strings.
///
/// ```
/// use tractor::error::{RemoteActorError, RemoteErrorKind, boxed_types};
/// // The kind is derived from the boxed type name:
/// let e = RemoteActorError::new_local(boxed_types::PANIC, "oops", &tractor::Aid::new("leaf"));
/// assert_eq!(e.kind(), RemoteErrorKind::Panic);
/// ```
pub mod boxed_types {
    /// A panic in an endpoint.
    pub const PANIC: &str = "panic";
    /// A call into a module the callee does not expose.
    pub const MODULE_NOT_EXPOSED: &str = "tractor::ModuleNotExposed";
    /// A call to a function the callee does not have.
    pub const NO_SUCH_ENDPOINT: &str = "tractor::NoSuchEndpoint";
    /// A payload that does not decode as the endpoint's type.
    pub const MSG_TYPE_ERROR: &str = "tractor::MsgTypeError";
    /// The remote task was cancelled.
    pub const CONTEXT_CANCELLED: &str = "tractor::ContextCancelled";
    /// A runtime misuse (a second root, ...).
    pub const RUNTIME_FAILURE: &str = "tractor::RuntimeFailure";
    /// Several errors from one nursery.
    pub const MULTI_ERROR: &str = "tractor::MultiError";
    /// An error relayed from a further actor.
    pub const REMOTE_ACTOR_ERROR: &str = "tractor::RemoteActorError";
    /// A stream sender outran its receiver's buffer (overrun flow mode).
    pub const STREAM_OVERRUN: &str = "tractor::StreamOverrun";
    /// A context or stream was used against its protocol (`started` twice, ...).
    pub const CONTEXT_MISUSE: &str = "tractor::ContextMisuse";
    /// A peer broke the wire protocol (credit it was never owed, a reused
    /// dialog id, ...): the dialog concerned is failed, the rest goes on.
    pub const PROTOCOL_VIOLATION: &str = "tractor::ProtocolViolation";
    /// The callee already runs as many tasks as its limits allow (for the
    /// caller's connection, or in all).
    pub const TOO_MANY_TASKS: &str = "tractor::TooManyTasks";
}

/// Every error tractor's API returns.
///
/// Match on [`cause`](Error::cause), which sees through a kept value
/// ([`Error::ValueKept`]); the enum is non-exhaustive, so keep a catch-all.
///
/// ```
/// use tractor::Error;
/// fn report(e: &Error) -> String {
///     match e.cause() {
///         Error::Remote(r) => format!("{} failed: {}", r.origin().name, r.message()),
///         Error::Multi(m) => format!("{} children failed", m.errors.len()),
///         other => other.to_string(),
///     }
/// }
/// assert_eq!(report(&Error::custom("disk full")), "disk full");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error raised in another actor, boxed and shipped here.
    #[error(transparent)]
    Remote(#[from] RemoteActorError),
    /// Several children failed; each error is kept with the actor it came from.
    #[error(transparent)]
    Multi(#[from] MultiError),
    /// A runtime API was used where no actor runtime runs.
    #[error(
        "no tractor runtime is running on this thread: call this inside `open_nursery`, `open_root_actor` or a `#[tractor::main]`/`#[tractor::test]` fn"
    )]
    NoRuntime,
    /// A cancel request was not acknowledged in time.
    #[error("actor {actor} did not acknowledge cancellation within {waited:?}; it is being killed")]
    ActorTooSlow {
        /// The slow actor.
        actor: Aid,
        /// How long we waited.
        waited: Duration,
    },
    /// A failure of the runtime itself, or one relayed as such from
    /// another actor (its boxed kind is [`RemoteErrorKind::RuntimeFailure`]).
    #[error("runtime failure: {0}")]
    RuntimeFailure(String),
    /// A root actor was opened inside an actor of a running tree.
    #[error(
        "a root actor cannot be opened inside actor {actor} of a running tree; open_root_actor belongs in the parent-most process only (use open_nursery to spawn children)"
    )]
    NestedRoot {
        /// The actor the call ran in.
        actor: Aid,
    },
    /// The registrar could not be joined or become (see
    /// [`RegistrarRole`](crate::RegistrarRole)).
    #[error(transparent)]
    Registrar(#[from] RegistrarError),
    /// An address did not parse.
    #[error(transparent)]
    Addr(#[from] crate::ipc::AddrParseError),
    /// An error of the application's own, raised with [`Error::custom`]:
    /// for endpoints and scope bodies that return `tractor::Error` and
    /// need to fail for a reason of their own.
    #[error("{0}")]
    Custom(Box<dyn std::error::Error + Send + Sync + 'static>),
    /// A root told to only join an existing registrar
    /// ([`RegistrarRole::Join`](crate::RegistrarRole::Join), see
    /// [`RootConfig::registrar`](crate::RootConfig::registrar))
    /// found none answering at its registry addresses.
    #[error(
        "no registrar answers at {}; start one (any tractor root, or `tractor::run_daemon`) or point this root at a running one (`RootConfig::registry_addrs`, `TRACTOR_REGISTRY_ADDR`)",
        list_addrs(.addrs)
    )]
    NoRegistrar {
        /// The addresses that were probed.
        addrs: Vec<crate::Addr>,
    },
    /// A child process failed outside any RPC (died during boot, crashed).
    #[error("actor {actor} failed: {reason}")]
    ActorFailure {
        /// The child.
        actor: Aid,
        /// What happened.
        reason: String,
    },
    /// The peer vanished while a dialog with it was open.
    #[error("the connection to {peer} closed while a call was in flight; the actor likely died")]
    TransportClosed {
        /// The peer.
        peer: Aid,
    },
    /// The peer stopped answering: nothing, not even a heartbeat, came
    /// from it for `silent_for` (it is SIGSTOPped, wedged in blocking code,
    /// or unreachable). Its channel was closed; a child in this state is
    /// killed by its supervisor.
    #[error(
        "actor {peer} stopped answering: nothing came from it for {silent_for:?}; it is stopped, wedged in blocking code (move that work to spawn_blocking) or unreachable (raise the heartbeat timeout if it is only slow)"
    )]
    PeerUnresponsive {
        /// The peer.
        peer: Aid,
        /// How long it was silent.
        silent_for: Duration,
    },
    /// A payload did not encode, or did not decode as the type this side
    /// expects (a result, a `started` value, a stream message).
    #[error("MsgTypeError in `{endpoint}`: {reason} (payload type `{expected}`)")]
    MsgType {
        /// Endpoint path.
        endpoint: String,
        /// Expected Rust type.
        expected: &'static str,
        /// Decoder error.
        reason: String,
    },
    /// An IPC failure.
    #[error(transparent)]
    Ipc(#[from] IpcError),
    /// A child could not be spawned.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The endpoint table is inconsistent (a duplicate name).
    #[error(transparent)]
    Endpoint(#[from] crate::runtime::endpoint::EndpointError),
    /// A context or stream was used against its protocol (`started` twice,
    /// `open_stream` before `started`, a second stream, a context with oneself...).
    #[error("context misuse in `{context}`: {misuse}")]
    ContextMisuse {
        /// The context's endpoint path.
        context: String,
        /// What was done wrong.
        misuse: Misuse,
    },
    /// The operation was cancelled by the actor's or nursery's cancellation.
    #[error("cancelled: {0}")]
    Cancelled(String),
    /// An invalid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The root was interrupted by a signal (ctrl-c, SIGTERM): the whole
    /// tree was cancelled and every actor reaped. `#[tractor::main]` exits
    /// with `128 + signal` (130 for SIGINT, 143 for SIGTERM).
    #[error(
        "interrupted by {signal}: the tree was cancelled and every actor reaped{}",
        if *.hard_killed { " (a second signal hard-killed it)" } else { "" }
    )]
    Interrupted {
        /// The signal.
        signal: Signal,
        /// A second signal came during the graceful teardown, and the
        /// tree was SIGKILLed instead.
        hard_killed: bool,
    },
    /// A scope's body returned a value, but the scope failed after it (the
    /// remote task's actor died before its result came, a child failed
    /// while the nursery waited for it): the error, with the value kept.
    #[error("{}", .0)]
    ValueKept(Box<ValueKept>),
    /// A cleanup could not be put on the actor's lifetime stack.
    #[error(transparent)]
    Lifetime(#[from] crate::runtime::lifetime::LifetimeError),
}

impl Error {
    /// An error of the application's own: anything `Error`, or a message.
    ///
    /// ```
    /// let e = tractor::Error::custom("the parent fails");
    /// assert_eq!(e.to_string(), "the parent fails");
    /// assert!(matches!(e, tractor::Error::Custom(_)));
    /// ```
    pub fn custom(e: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Error::Custom(e.into())
    }
}

/// How a context or its stream was used against its protocol:
/// [`Error::ContextMisuse`].
///
/// ```
/// use tractor::{Error, error::Misuse};
/// // A bug in the calling code, not a failure of the peer: worth a clear message.
/// fn is_second_stream(e: &Error) -> bool {
///     matches!(e, Error::ContextMisuse { misuse: Misuse::SecondStream, .. })
/// }
/// let e = Error::ContextMisuse { context: "my::ctx".into(), misuse: Misuse::SecondStream };
/// assert!(is_second_stream(&e));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Misuse {
    /// `started()` a second time.
    #[error("started() was already called")]
    StartedTwice,
    /// The callee opened its stream before `started()`.
    #[error("open_stream() before started(); call started() first")]
    StreamBeforeStarted,
    /// A second stream on one context.
    #[error("the stream was already opened; a context has one stream")]
    SecondStream,
    /// A stream opened once the context was cancelled.
    #[error("open_stream() after the context was cancelled")]
    StreamAfterCancel,
    /// The remote task returned: its stream is closed.
    #[error("the remote task returned; its stream is closed")]
    RemoteReturned,
    /// This side closed the stream; it cannot be re-opened.
    #[error("this stream was closed; a context's stream cannot be re-opened")]
    StreamClosed,
    /// The stream's flow window closed (the dialog ended under it).
    #[error("the stream's window was closed")]
    WindowClosed,
    /// The context endpoint returned without calling `started()`.
    #[error("the context endpoint returned without calling started()")]
    NoStarted,
    /// A context with the calling actor itself.
    #[error(
        "cannot open a context with this actor itself ({actor}); contexts link tasks of two actors"
    )]
    WithItself {
        /// The actor.
        actor: Aid,
    },
}

/// A configuration that cannot work: [`Error::Config`].
///
/// ```no_run
/// use tractor::{Error, error::ConfigError};
/// # async fn demo() -> Result<(), Error> {
/// // An actor booted without registry addresses has no registrar to ask.
/// match tractor::list_actors().await {
///     Ok(actors) => println!("{} actors", actors.len()),
///     Err(Error::Config(ConfigError::NoRegistryAddrs)) => println!("discovery is off"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The listen address does not use the tree's transport.
    #[error(
        "bind address {addr} does not use the tree's transport `{tree}`; set RootConfig::transport to match or pick a `{tree}` address"
    )]
    BindTransport {
        /// The configured listen address.
        addr: crate::Addr,
        /// The tree's transport.
        tree: crate::TransportKind,
    },
    /// A registry address does not use the tree's transport.
    #[error(
        "registry address {addr} does not use this tree's transport `{tree}`; set RootConfig::transport to match or use a `{tree}` registry address"
    )]
    RegistryTransport {
        /// The registry address.
        addr: crate::Addr,
        /// The tree's transport.
        tree: crate::TransportKind,
    },
    /// `TRACTOR_REGISTRY_ADDR` holds something that is not an address.
    #[error(
        "TRACTOR_REGISTRY_ADDR: `{value}` is not an address ({reason}); use host:port, tcp://host:port or uds:///path, comma-separated"
    )]
    RegistryEnv {
        /// The entry that did not parse.
        value: String,
        /// Why.
        reason: String,
    },
    /// This actor knows no registry address to reach a registrar at.
    #[error(
        "this actor knows no registrar (no registry addresses); set RootConfig::registry_addrs or TRACTOR_REGISTRY_ADDR"
    )]
    NoRegistryAddrs,
}

/// The registrar could not be joined or become: [`Error::Registrar`].
///
/// ```no_run
/// use tractor::{Error, RegistrarRole, RootConfig, error::RegistrarError};
/// # async fn demo() -> Result<(), Error> {
/// let cfg = RootConfig::new("registrar").registrar(RegistrarRole::Become);
/// match tractor::open_root_actor(cfg, async || Ok(())).await {
///     // Another tree's registrar already serves there: leave it alone.
///     Err(Error::Registrar(RegistrarError::AlreadyRunning { addr })) => println!("one runs at {addr}"),
///     other => other?,
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrarError {
    /// [`RegistrarRole::Become`](crate::RegistrarRole::Become), but a
    /// registrar already answers there.
    #[error(
        "a registrar already answers at {addr}, but this root was told to become it (RegistrarRole::Become, tractor's ensure_registry); use RegistrarRole::Elect to join it"
    )]
    AlreadyRunning {
        /// Where it answers.
        addr: crate::Addr,
    },
    /// Something other than a tractor registrar holds the registry
    /// addresses (another program, an actor that is not the registrar,
    /// a registrar that did not finish leaving).
    #[error(
        "registry address(es) are occupied but did not answer as tractor registrars ({}); pick free registry addresses",
        .addrs.iter().map(|(a, why)| format!("{a}: {why}")).collect::<Vec<_>>().join("; ")
    )]
    Occupied {
        /// Each occupied address, and what was found there.
        addrs: Vec<(crate::Addr, String)>,
    },
    /// A registrar endpoint was called on an actor that is not one.
    #[error("actor {actor} is not a registrar; ask the one at the registry addresses")]
    NotARegistrar {
        /// The actor that was called.
        actor: Aid,
    },
}

/// A signal that interrupts a tree: [`Error::Interrupted`].
///
/// ```
/// use tractor::{Error, error::Signal};
/// // Exit like a shell would after the signal (130 for ctrl-c):
/// let e = Error::Interrupted { signal: Signal::Interrupt, hard_killed: false };
/// if let Error::Interrupted { signal, .. } = e {
///     assert_eq!((signal.to_string().as_str(), signal.exit_code()), ("SIGINT", 130));
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Signal {
    /// SIGINT (ctrl-c at the terminal).
    Interrupt,
    /// SIGTERM.
    Terminate,
}

impl Signal {
    /// The signal's number.
    ///
    /// ```
    /// assert_eq!(tractor::error::Signal::Terminate.number(), 15);
    /// ```
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
        }
    }

    /// The exit status of a program that ends because of this signal
    /// (`128 + number`, the shell's convention).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        })
    }
}

/// The error of a scope whose body had already returned a value, and the
/// value, kept: see [`Error::ValueKept`].
///
/// ```
/// # fn demo(mut e: tractor::Error) {
/// if let Some(total) = e.take_value::<u64>() {
///     println!("the body computed {total} before: {e}");
/// }
/// # }
/// ```
pub struct ValueKept {
    error: Error,
    type_name: &'static str,
    value: std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl ValueKept {
    /// The error that came after the body's value.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// Takes the body's value out, if it is a `T` (once).
    pub fn take<T: 'static>(&self) -> Option<T> {
        let mut slot = self.value.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take()?.downcast::<T>() {
            Ok(v) => Some(*v),
            Err(other) => {
                *slot = Some(other);
                None
            }
        }
    }
}

impl fmt::Debug for ValueKept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueKept")
            .field("error", &self.error)
            .field("value_type", &self.type_name)
            .finish()
    }
}

impl fmt::Display for ValueKept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (the scope's body had already returned a `{}`; get it with Error::take_value)",
            self.error, self.type_name
        )
    }
}

fn list_addrs(addrs: &[crate::Addr]) -> String {
    addrs
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

impl Error {
    /// The remote error inside, if this is one (also under
    /// [`Error::ValueKept`]).
    ///
    /// ```
    /// # use tractor::{Aid, Error, RemoteActorError, RemoteErrorKind};
    /// let e = Error::from(RemoteActorError::new_local("my::Oops", "boom", &Aid::new("leaf")));
    /// assert_eq!(e.as_remote().map(|r| r.kind()), Some(RemoteErrorKind::User));
    /// ```
    pub fn as_remote(&self) -> Option<&RemoteActorError> {
        match self.cause() {
            Error::Remote(r) => Some(r),
            _ => None,
        }
    }

    /// The error itself, seen through [`Error::ValueKept`]: what to match
    /// on when a body's value may have been kept beside the error.
    ///
    /// ```
    /// # fn demo(e: &tractor::Error) {
    /// if let tractor::Error::TransportClosed { peer } = e.cause() {
    ///     eprintln!("{peer} died");
    /// }
    /// # }
    /// ```
    pub fn cause(&self) -> &Error {
        match self {
            Error::ValueKept(k) => k.error.cause(),
            other => other,
        }
    }

    /// The value a scope's body had returned before the scope failed
    /// ([`Error::ValueKept`]), if it is a `T`; taken once.
    ///
    /// ```no_run
    /// #[tractor::endpoint]
    /// async fn count() -> u64 { 7 }
    ///
    /// async fn demo() -> Result<u64, tractor::Error> {
    ///     let res = tractor::open_nursery(async |an| {
    ///         let child = an.run_in_actor(count::call()).await?;
    ///         child.wait_for_result().await
    ///     })
    ///     .await;
    ///     match res {
    ///         // A sibling failed after the body returned: keep its result anyway.
    ///         Err(mut e) => e.take_value::<u64>().ok_or(e),
    ///         ok => ok,
    ///     }
    /// }
    /// # fn main() {}
    /// ```
    pub fn take_value<T: 'static>(&mut self) -> Option<T> {
        match self {
            Error::ValueKept(k) => k.take(),
            _ => None,
        }
    }

    /// `error`, with the body's `value` kept beside it. A value that
    /// carries no data (`()`, any zero-sized type) is not worth keeping:
    /// the error is returned as it is.
    pub(crate) fn keeping<T: Send + 'static>(error: Error, value: T) -> Error {
        if std::mem::size_of::<T>() == 0 {
            return error;
        }
        Error::ValueKept(Box::new(ValueKept {
            error,
            type_name: std::any::type_name::<T>(),
            value: std::sync::Mutex::new(Some(Box::new(value))),
        }))
    }
}

#[cfg(test)]
mod value_kept_tests {
    use super::*;

    #[test]
    fn the_value_comes_back_once_and_the_cause_shows_through() {
        let peer = Aid::new("p");
        let mut e = Error::keeping(Error::TransportClosed { peer }, 42u64);
        assert!(matches!(e.cause(), Error::TransportClosed { .. }));
        assert!(e.to_string().contains("already returned a `u64`"), "{e}");
        assert_eq!(e.take_value::<String>(), None);
        assert_eq!(e.take_value::<u64>(), Some(42));
        assert_eq!(e.take_value::<u64>(), None);
        let unit = Error::keeping(Error::NoRuntime, ());
        assert!(matches!(unit, Error::NoRuntime));
    }

    #[test]
    fn errors_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}

/// What kind of failure a [`RemoteActorError`] boxes.
///
/// ```
/// use tractor::{Aid, Error, RemoteActorError, RemoteErrorKind};
/// // A refused call ran nothing, so it is safe to retry; others are not.
/// fn retry_later(e: &Error) -> bool {
///     e.as_remote().is_some_and(|r| r.kind() == RemoteErrorKind::TooManyTasks)
/// }
/// let e = Error::from(RemoteActorError::new_local("my::Oops", "boom", &Aid::new("leaf")));
/// assert!(!retry_later(&e));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// An error value returned by a user endpoint.
    User,
    /// A panic in an endpoint.
    Panic,
    /// The module is not in the callee's `enable_modules`.
    ModuleNotExposed,
    /// The callee has no such endpoint.
    NoSuchEndpoint,
    /// A payload did not match the endpoint's signature.
    MsgTypeError,
    /// The remote task was cancelled.
    ContextCancelled,
    /// A runtime misuse in the remote actor.
    RuntimeFailure,
    /// An aggregate of several errors from a remote nursery.
    Multi,
    /// An error relayed through this actor from a further one.
    Relayed,
    /// A stream sender outran its receiver's buffer.
    StreamOverrun,
    /// A context or stream was used against its protocol.
    ContextMisuse,
    /// A peer broke the wire protocol in this dialog.
    ProtocolViolation,
    /// The callee refused to start the task: it already runs as many as
    /// its [`Limits`](crate::Limits) allow. Nothing ran; retry later.
    TooManyTasks,
}

/// An error raised in another actor and shipped here boxed.
///
/// It keeps the original type's name, its message and source chain, the
/// actor where it started and every actor it crossed.
///
/// ```
/// # use tractor::{Aid, RemoteActorError};
/// let e = RemoteActorError::new_local("my::Oops", "it broke", &Aid::new("leaf"));
/// assert_eq!(e.boxed_type(), "my::Oops");
/// assert_eq!(e.origin().name, "leaf");
/// ```
#[derive(Clone, PartialEq)]
pub struct RemoteActorError {
    data: Box<ErrorData>,
}

impl RemoteActorError {
    /// Wraps wire data.
    pub fn from_data(data: ErrorData) -> Self {
        RemoteActorError {
            data: Box::new(data),
        }
    }

    /// A fresh error as if raised in `src` with type `ty`.
    pub fn new_local(ty: &str, message: impl Into<String>, src: &Aid) -> Self {
        Self::from_data(ErrorData {
            boxed_type: ty.into(),
            src_type: ty.into(),
            message: message.into(),
            source_chain: Vec::new(),
            src_uid: src.clone(),
            relay_path: vec![src.clone()],
            backtrace: None,
            value: None,
            canceller: None,
            grouped: Vec::new(),
        })
    }

    /// The wire data.
    pub fn data(&self) -> &ErrorData {
        &self.data
    }

    /// Consumes into wire data.
    pub fn into_data(self) -> ErrorData {
        *self.data
    }

    /// Type name at the last hop (`tractor::RemoteActorError` once relayed).
    pub fn boxed_type(&self) -> &str {
        &self.data.boxed_type
    }

    /// Type name where the error was raised.
    pub fn src_type(&self) -> &str {
        &self.data.src_type
    }

    /// The original error's `Display`.
    pub fn message(&self) -> &str {
        &self.data.message
    }

    /// `Display` of each `source()` of the original error.
    pub fn source_chain(&self) -> &[String] {
        &self.data.source_chain
    }

    /// The actor where the error was raised.
    #[doc(alias = "src_uid")]
    pub fn origin(&self) -> &Aid {
        &self.data.src_uid
    }

    /// Every actor the error crossed, starting with [`origin`](Self::origin).
    pub fn relay_path(&self) -> &[Aid] {
        &self.data.relay_path
    }

    /// The last actor that relayed the error to us.
    pub fn relay_uid(&self) -> &Aid {
        self.data.relay_path.last().unwrap_or(&self.data.src_uid)
    }

    /// Backtrace text, when captured (`RUST_BACKTRACE=1` in the source actor).
    pub fn backtrace(&self) -> Option<&str> {
        self.data.backtrace.as_deref()
    }

    /// Who requested the cancellation, for [`RemoteErrorKind::ContextCancelled`].
    pub fn canceller(&self) -> Option<&Aid> {
        self.data.canceller.as_ref()
    }

    /// The errors grouped under an aggregate ([`RemoteErrorKind::Multi`]).
    pub fn grouped(&self) -> impl Iterator<Item = RemoteActorError> + '_ {
        self.data.grouped.iter().cloned().map(Self::from_data)
    }

    /// Whether the error crossed more than one hop to get here.
    pub fn is_inception(&self) -> bool {
        self.data.boxed_type != self.data.src_type
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> RemoteErrorKind {
        use boxed_types::*;
        match self.data.boxed_type.as_str() {
            PANIC => RemoteErrorKind::Panic,
            MODULE_NOT_EXPOSED => RemoteErrorKind::ModuleNotExposed,
            NO_SUCH_ENDPOINT => RemoteErrorKind::NoSuchEndpoint,
            MSG_TYPE_ERROR => RemoteErrorKind::MsgTypeError,
            CONTEXT_CANCELLED => RemoteErrorKind::ContextCancelled,
            RUNTIME_FAILURE => RemoteErrorKind::RuntimeFailure,
            MULTI_ERROR => RemoteErrorKind::Multi,
            REMOTE_ACTOR_ERROR => RemoteErrorKind::Relayed,
            STREAM_OVERRUN => RemoteErrorKind::StreamOverrun,
            CONTEXT_MISUSE => RemoteErrorKind::ContextMisuse,
            PROTOCOL_VIOLATION => RemoteErrorKind::ProtocolViolation,
            TOO_MANY_TASKS => RemoteErrorKind::TooManyTasks,
            _ => RemoteErrorKind::User,
        }
    }

    /// The original error value, when its type is `E` (the same path, in
    /// this binary or another built from the same source) and it was
    /// serializable at the source.
    ///
    /// ```
    /// # use tractor::{Aid, RemoteActorError};
    /// let e = RemoteActorError::new_local("x", "m", &Aid::new("a"));
    /// assert_eq!(e.downcast::<String>(), None);
    /// ```
    pub fn downcast<E: DeserializeOwned>(&self) -> Option<E> {
        if !same_type_name(&self.data.src_type, std::any::type_name::<E>()) {
            return None;
        }
        crate::ipc::codec::decode(self.data.value.as_deref()?).ok()
    }

    /// This error as relayed by `via`: boxed type becomes
    /// `RemoteActorError`, `via` is appended to the relay path.
    pub fn relayed_by(&self, via: &Aid) -> ErrorData {
        let mut d = (*self.data).clone();
        d.boxed_type = boxed_types::REMOTE_ACTOR_ERROR.into();
        if d.relay_path.last() != Some(via) {
            d.relay_path.push(via.clone());
        }
        d
    }
}

/// Whether two type names name the same type, in this binary or in
/// another one built from the same source: a type shared by two programs
/// (a module both include, a shared API) differs only in its crate's name.
fn same_type_name(remote: &str, local: &str) -> bool {
    fn in_crate(t: &str) -> Option<&str> {
        t.split_once("::").map(|(_, path)| path)
    }
    remote == local || (in_crate(remote).is_some() && in_crate(remote) == in_crate(local))
}

impl fmt::Debug for RemoteActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteActorError")
            .field("boxed_type", &self.data.boxed_type)
            .field("src_type", &self.data.src_type)
            .field("message", &self.data.message)
            .field("src_uid", &self.data.src_uid.to_string())
            .field(
                "relay_path",
                &self
                    .data
                    .relay_path
                    .iter()
                    .map(|a| a.to_string())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl fmt::Display for RemoteActorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_error_data(&self.data, f)
    }
}

/// Formats an error and the errors grouped under it, in place: linear in
/// the size of the tree (no subtree is cloned to be shown).
fn fmt_error_data(d: &ErrorData, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    write!(f, "{} raised in actor {}", d.src_type, d.src_uid)?;
    if d.relay_path.len() > 1 {
        f.write_str(" (relayed via ")?;
        for (i, a) in d.relay_path.iter().enumerate() {
            if i > 0 {
                f.write_str(" -> ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")?;
    }
    write!(f, ": {}", d.message)?;
    for s in &d.source_chain {
        write!(f, ": {s}")?;
    }
    for g in &d.grouped {
        f.write_str("\n  - ")?;
        fmt_error_data(g, f)?;
    }
    Ok(())
}

impl std::error::Error for RemoteActorError {}

/// Shows at most `max` bytes of a value's `Display`, then `…`: how a
/// peer-supplied value is logged from a message loop, whose cost must
/// not grow with what the peer sent.
pub(crate) struct Clipped<'a, T: ?Sized>(pub &'a T, pub usize);

impl<T: fmt::Display + ?Sized> fmt::Display for Clipped<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = Budget {
            out: f,
            left: self.1,
            clipped: false,
        };
        match fmt::write(&mut w, format_args!("{}", self.0)) {
            Ok(()) => Ok(()),
            // Stopped by the budget, not by the formatter: say so.
            Err(_) if w.clipped => w.out.write_str("…"),
            Err(e) => Err(e),
        }
    }
}

/// A writer that forwards up to `left` bytes, then stops the formatting.
struct Budget<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    left: usize,
    clipped: bool,
}

impl fmt::Write for Budget<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.left -= s.len();
            return self.out.write_str(s);
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.write_str(&s[..end])?;
        self.left = 0;
        self.clipped = true;
        Err(fmt::Error)
    }
}

/// Several children of one nursery failed. Each error is kept with the
/// actor it belongs to, in the order the children were spawned.
///
/// ```
/// use tractor::{Aid, Error, MultiError};
/// let m = MultiError {
///     errors: vec![(Aid::new("a"), Error::custom("x")), (Aid::new("b"), Error::custom("y"))],
/// };
/// // Report every child's failure, not just the first:
/// for (actor, e) in &m.errors {
///     eprintln!("{} failed: {e}", actor.name);
/// }
/// assert!(m.to_string().starts_with("ActorNursery errored with 2 errors"));
/// ```
#[derive(Debug)]
pub struct MultiError {
    /// `(actor, error)` pairs; the nursery's own body error is keyed by the local actor.
    pub errors: Vec<(Aid, Error)>,
}

impl fmt::Display for MultiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorNursery errored with {} errors:", self.errors.len())?;
        for (aid, e) in &self.errors {
            write!(f, "\n  - {aid}: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MultiError {}

#[cfg(test)]
mod tests {
    use super::Clipped;

    #[test]
    fn clipped_stops_at_its_budget_on_a_char_boundary() {
        assert_eq!(Clipped("short", 10).to_string(), "short");
        assert_eq!(Clipped("abcdef", 3).to_string(), "abc…");
        assert_eq!(Clipped("ééé", 3).to_string(), "é…");
        let huge = "x".repeat(1 << 20);
        assert_eq!(
            Clipped(huge.as_str(), 8).to_string().len(),
            8 + '…'.len_utf8()
        );
    }
}
