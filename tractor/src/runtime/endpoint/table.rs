//! The link-time endpoint table: every endpoint linked into this binary,
//! found by module and name.

use std::sync::OnceLock;

use super::Invocation;
use super::invocation::HandlerFuture;
use super::module_of;
use crate::ipc::FuncType;
use crate::runtime::name_hash::NameMap;

/// One endpoint in the link-time table.
pub struct EndpointEntry {
    /// `module_path!()` + `::` + name.
    pub path: &'static str,
    /// The function's name.
    pub name: &'static str,
    /// How it is called.
    pub kind: FuncType,
    /// Its wire schema, readable, for messages.
    pub signature: fn() -> String,
    /// Its wire schema's hash, compared with each caller's.
    pub signature_hash: fn() -> u64,
    /// Decodes the arguments, runs the function, encodes the reply.
    pub handler: fn(Invocation) -> HandlerFuture,
}

impl std::fmt::Debug for EndpointEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointEntry")
            .field("path", &self.path)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// Every endpoint linked into this binary.
#[linkme::distributed_slice]
pub static ENDPOINTS: [EndpointEntry];

/// The endpoint table is inconsistent: [`Error::Endpoint`](crate::Error::Endpoint).
///
/// ```
/// use tractor::{Error, error::EndpointError};
/// let e = Error::from(EndpointError::Duplicate { path: "app::ping".into() });
/// // Two `ping` fns in one module path: the message says to rename one.
/// assert!(e.to_string().contains("app::ping"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
pub enum EndpointError {
    /// Two endpoints claim one name.
    #[error(
        "two endpoints are registered as `{path}`; rename one of them (endpoint names are module path + fn name and must be unique in a binary)"
    )]
    Duplicate {
        /// The shared path.
        path: String,
    },
}

/// The dispatch table: module → fn name → entry.
pub(crate) struct EndpointTable {
    by_module: NameMap<&'static str, NameMap<&'static str, &'static EndpointEntry>>,
}

/// Why a call could not be dispatched.
pub(crate) enum Lookup {
    /// Found.
    Found(&'static EndpointEntry),
    /// The module is not in `enable_modules`.
    NotExposed,
    /// No such function in that module.
    Missing,
}

impl EndpointTable {
    /// The process-wide table, built on first use.
    pub(crate) fn global() -> Result<&'static EndpointTable, EndpointError> {
        static TABLE: OnceLock<Result<EndpointTable, EndpointError>> = OnceLock::new();
        TABLE
            .get_or_init(|| Self::build(&ENDPOINTS))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn build(entries: &'static [EndpointEntry]) -> Result<Self, EndpointError> {
        let mut by_module: NameMap<_, NameMap<_, _>> = NameMap::default();
        for e in entries {
            let module = module_of(e.path, e.name);
            if by_module
                .entry(module)
                .or_default()
                .insert(e.name, e)
                .is_some()
            {
                return Err(EndpointError::Duplicate {
                    path: e.path.to_string(),
                });
            }
        }
        Ok(EndpointTable { by_module })
    }

    /// This build's identity as a peer sees it: a hash of every endpoint's
    /// path, kind and wire signature, in path order (computed once).
    pub(crate) fn identity(&self) -> u64 {
        static IDENTITY: OnceLock<u64> = OnceLock::new();
        *IDENTITY.get_or_init(|| {
            let mut entries: Vec<&EndpointEntry> = self
                .by_module
                .values()
                .flat_map(|m| m.values().copied())
                .collect();
            entries.sort_by_key(|e| e.path);
            let text: String = entries
                .iter()
                .map(|e| format!("{}:{:?}:{:x};", e.path, e.kind, (e.signature_hash)()))
                .collect();
            crate::ipc::stable_hash(&text)
        })
    }

    /// Finds `module::name`, honouring the allowlist.
    pub(crate) fn lookup(
        &self,
        module: &str,
        name: &str,
        exposed: impl Fn(&str) -> bool,
    ) -> Lookup {
        if !exposed(module) {
            return Lookup::NotExposed;
        }
        match self.by_module.get(module).and_then(|m| m.get(name)) {
            Some(e) => Lookup::Found(e),
            None => Lookup::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::endpoint::{HandlerFuture, Invocation, Reply};

    #[test]
    fn module_is_path_minus_name() {
        assert_eq!(module_of("a::b::f", "f"), "a::b");
    }

    fn never(_: Invocation) -> HandlerFuture {
        Box::pin(async { Reply::Ok(Vec::new()) })
    }

    #[test]
    fn duplicate_names_are_reported() {
        static TWICE: [EndpointEntry; 2] = [
            EndpointEntry {
                path: "app::f",
                name: "f",
                kind: FuncType::AsyncFunc,
                signature: String::new,
                signature_hash: || 0,
                handler: never,
            },
            EndpointEntry {
                path: "app::f",
                name: "f",
                kind: FuncType::AsyncFunc,
                signature: String::new,
                signature_hash: || 0,
                handler: never,
            },
        ];
        let err = EndpointTable::build(&TWICE)
            .err()
            .expect("duplicate refused");
        assert!(err.to_string().contains("`app::f`"), "{err}");
        let ok = EndpointTable::build(&TWICE[..1]).expect("one is fine");
        assert!(matches!(ok.lookup("app", "f", |_| true), Lookup::Found(_)));
        assert!(matches!(
            ok.lookup("app", "f", |_| false),
            Lookup::NotExposed
        ));
        assert!(matches!(ok.lookup("app", "g", |_| true), Lookup::Missing));
    }
}
