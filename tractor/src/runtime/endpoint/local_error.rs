//! [`LocalError`]: an error raised in this actor (or relayed through it)
//! before the runtime stamps it with this actor's identity.

use crate::ipc::{Aid, ErrorData};
use crate::runtime::error::{RemoteActorError, boxed_types};

/// An error raised here, before the runtime stamps it with this actor's
/// identity; or an error relayed from a further actor.
#[derive(Debug)]
pub enum LocalError {
    /// Raised in this actor.
    Raised {
        /// Type name.
        ty: String,
        /// Display.
        message: String,
        /// Source chain.
        chain: Vec<String>,
        /// Serialized value, if any.
        value: Option<Vec<u8>>,
        /// Grouped errors.
        grouped: Vec<ErrorData>,
    },
    /// Came from another actor; relayed on with this actor appended.
    Relayed(RemoteActorError),
}

impl LocalError {
    /// A raised error with a type name and message.
    pub fn new(ty: &str, message: impl Into<String>) -> Self {
        LocalError::Raised {
            ty: ty.into(),
            message: message.into(),
            chain: Vec::new(),
            value: None,
            grouped: Vec::new(),
        }
    }

    /// Stamps the error with the raising actor.
    pub fn into_data(self, me: &Aid) -> ErrorData {
        match self {
            LocalError::Raised {
                ty,
                message,
                chain,
                value,
                grouped,
            } => {
                // Only a panic has a meaningful backtrace: taken at the panic
                // site by the hook. An error value's would show the
                // dispatcher, not its origin, and resolving it costs ~70 ms
                // on the error path when RUST_BACKTRACE is set.
                let backtrace = if ty == boxed_types::PANIC {
                    super::panic::take_backtrace()
                } else {
                    None
                };
                ErrorData {
                    boxed_type: ty.clone(),
                    src_type: ty,
                    message,
                    source_chain: chain,
                    src_uid: me.clone(),
                    relay_path: vec![me.clone()],
                    backtrace,
                    value,
                    canceller: None,
                    grouped,
                }
            }
            LocalError::Relayed(r) => r.relayed_by(me),
        }
    }
}

/// Boxes a `tractor::Error` returned by an endpoint: remote errors are
/// relayed (keeping their origin), aggregates keep every member.
pub(crate) fn box_tractor_error(e: &crate::Error) -> LocalError {
    use crate::Error;
    match e {
        Error::Remote(r) => LocalError::Relayed(r.clone()),
        Error::Multi(m) => LocalError::Raised {
            ty: boxed_types::MULTI_ERROR.into(),
            message: m.to_string(),
            chain: Vec::new(),
            value: None,
            grouped: m
                .errors
                .iter()
                .map(|(aid, e)| match e {
                    Error::Remote(r) => r.data().clone(),
                    other => box_tractor_error(other).into_data(aid),
                })
                .collect(),
        },
        Error::RuntimeFailure(m) => LocalError::new(boxed_types::RUNTIME_FAILURE, m.clone()),
        // A misuse of the runtime, whatever its detail: the caller matches
        // one kind.
        e @ Error::NestedRoot { .. } => {
            LocalError::new(boxed_types::RUNTIME_FAILURE, e.to_string())
        }
        // The body's value stays here; the error is what travels.
        Error::ValueKept(k) => box_tractor_error(k.error()),
        other => LocalError::Raised {
            ty: format!("tractor::Error::{}", variant_name(other)),
            message: other.to_string(),
            chain: chain_of(other),
            value: None,
            grouped: Vec::new(),
        },
    }
}

fn variant_name(e: &crate::Error) -> String {
    let dbg = format!("{e:?}");
    dbg.split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("Error")
        .to_string()
}

/// `Display` of each `source()` below `e`.
pub(crate) fn chain_of(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push(s.to_string());
        cur = s.source();
    }
    out
}
