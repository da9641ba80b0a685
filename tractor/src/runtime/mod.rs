//! The actor runtime: actors, nurseries, portals, RPC serving, supervision.

mod accept;
pub(crate) mod actor;
pub(crate) mod child;
pub(crate) mod conn;
pub(crate) mod context;
pub(crate) mod current;
pub(crate) mod dialog;
pub(crate) mod endpoint;
pub(crate) mod error;
pub(crate) mod identity;
pub(crate) mod interrupt;
pub(crate) mod lifetime;
pub(crate) mod liveness;
pub(crate) mod log;
pub(crate) mod nursery;
pub(crate) mod plugin;
pub(crate) mod portal;
pub(crate) mod rlimit;
pub(crate) mod root;
pub(crate) mod rpc;
pub(crate) mod share;
pub(crate) mod supervisor;
