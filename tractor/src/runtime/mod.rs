//! The actor runtime: one actor's state ([`actor`]), its nurseries,
//! portals, contexts and streams, RPC serving, supervision of children,
//! errors, logging and signals.
//!
//! It sits on `spawn` and `ipc` only. What the layers above need from an
//! actor (discovery's registrar table, its link to the registrar; later
//! the debugger's) they add as [`plugin`]s, and booting a root or a child
//! with them is composed in `app`: the runtime never calls up.

mod accept;
pub(crate) mod actor;
pub(crate) mod census;
pub(crate) mod child;
pub(crate) mod conn;
mod conn_set;
pub(crate) mod context;
#[cfg(test)]
pub(crate) mod count_wakes;
pub(crate) mod current;
pub(crate) mod dialog;
pub(crate) mod dialog_queue;
pub(crate) mod endpoint;
pub(crate) mod error;
pub(crate) mod home;
pub(crate) mod identity;
pub(crate) mod interrupt;
pub(crate) mod lifetime;
pub(crate) mod liveness;
pub(crate) mod log;
pub(crate) mod name_hash;
pub(crate) mod nursery;
pub(crate) mod plugin;
pub(crate) mod portal;
pub(crate) mod rlimit;
pub(crate) mod root;
pub(crate) mod rpc;
pub(crate) mod share;
pub(crate) mod supervisor;
pub(crate) mod ticker;
pub(crate) mod trace;
pub(crate) mod wake_gate;
