//! Errors a user meets: [`Error`], the boxed [`RemoteActorError`], and the
//! aggregate [`MultiError`] of a nursery whose children failed together.

mod clipped;
mod details;
mod multi;
mod remote;
mod value_kept;

use std::fmt;
use std::time::Duration;

use crate::ipc::{Aid, IpcError};
use crate::spawn::SpawnError;

pub(crate) use clipped::Clipped;
pub use details::{ConfigError, Misuse, RegistrarError};
pub use multi::MultiError;
pub use remote::{RemoteActorError, RemoteErrorKind, boxed_types};
pub use value_kept::ValueKept;

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
    /// The user quit a debugger REPL opened by [`pause!`](crate::pause):
    /// the paused task fails with this, and it propagates like any error
    /// (no further post-mortem REPL opens for it up the tree).
    #[error(
        "the debugger REPL in actor {actor} was quit; the paused task ends with this error (use `continue` to resume it instead)"
    )]
    DebuggerQuit {
        /// The actor whose REPL was quit.
        actor: Aid,
    },
    /// A cleanup could not be put on the actor's lifetime stack.
    #[error(transparent)]
    Lifetime(#[from] crate::runtime::lifetime::LifetimeError),
    /// An actor nursery was opened, or a child spawned, away from the
    /// actor's own thread (see [`Actor::scope`](crate::Actor::scope)).
    #[error(
        "actor nurseries open and spawn only on actor {actor}'s own thread: in a root, the task that awaits `open_root_actor` (or a `#[tractor::main]` body); in any actor, its endpoints' tasks and tasks they spawn with `spawn_local`. From other threads, call into actors through portals, contexts and streams, or ask such a task to spawn"
    )]
    AwayFromHome {
        /// The actor whose thread it was not.
        actor: Aid,
    },
    /// A call from another thread reached an actor whose runtime has
    /// ended (its `open_root_actor` returned or was dropped).
    #[error(
        "actor {actor} has ended: its runtime no longer runs, so calls through its handles cannot be served; open a new root actor"
    )]
    ActorEnded {
        /// The actor that ended.
        actor: Aid,
    },
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
mod tests {
    use super::*;

    #[test]
    fn errors_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}
