//! Introspection: what an actor, or a whole tree, is doing right now.
//!
//! The runtime keeps a census of its live work (RPC tasks, the dialogs
//! it opened, its nurseries and their children) at no cost per message;
//! this module turns it into a serializable snapshot ([`model`],
//! [`tree`]), renders it as text ([`render`]), gathers a tree's over IPC
//! ([`walk`]), serves both to any peer ([`endpoints`]) and to the actor's
//! own code ([`here`]), and prints them on `SIGUSR1` ([`signal`]).

pub(crate) mod endpoints;
pub(crate) mod here;
mod local;
pub(crate) mod model;
mod render;
mod signal;
pub(crate) mod tree;
mod walk;

pub(crate) use local::snapshot;
pub(crate) use signal::DumpSwitch;
pub(crate) use walk::tree;
