//! [`RemoteActorError`]: an error raised in another actor, boxed and
//! shipped here, and the kinds it comes in.

use std::fmt;

use serde::de::DeserializeOwned;

use crate::ipc::{Aid, ErrorData};

/// Boxed type names the runtime itself raises. Match on
/// [`RemoteActorError::kind`] rather than on these strings.
///
/// ```
/// use tractor::error::boxed_types;
/// use tractor::{RemoteActorError, RemoteErrorKind};
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
    /// A debugger REPL was quit ([`Error::DebuggerQuit`](crate::Error::DebuggerQuit)).
    pub const DEBUGGER_QUIT: &str = "tractor::Error::DebuggerQuit";
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
