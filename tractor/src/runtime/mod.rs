//! The actor runtime: actors, nurseries, portals, RPC serving, supervision.

mod accept;
pub(crate) mod actor;
pub(crate) mod child;
pub(crate) mod conn;
pub mod context;
pub(crate) mod current;
pub(crate) mod dialog;
pub mod endpoint;
pub(crate) mod endpoint_schema;
pub mod error;
pub mod identity;
pub(crate) mod interrupt;
pub mod lifetime;
pub(crate) mod liveness;
pub mod nursery;
pub mod portal;
pub mod root;
pub(crate) mod rpc;
pub(crate) mod share;
pub(crate) mod supervisor;
