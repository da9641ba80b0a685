//! Spawn backends: how a child actor process comes to exist, learns who it
//! is, and is made to die with its parent.
//!
//! The `exec` backend re-runs the current executable in child mode: the
//! child finds [`ChildEnv`] in its environment, dials its parent and is
//! bootstrapped by a `SpawnSpec` over that first IPC exchange.

mod exec;
mod process;
pub mod proctitle;
mod resource;

pub use exec::{ChildEnv, SpawnError, SpawnStage, note_reaped, spawn_exec, unreaped};
pub use process::ChildProcess;
pub use resource::{BootExit, Resource};

/// Environment variables of the exec handshake.
pub mod env {
    /// The parent's listener address.
    pub const PARENT_ADDR: &str = "TRACTOR_PARENT_ADDR";
    /// The child's name.
    pub const ACTOR_NAME: &str = "TRACTOR_ACTOR_NAME";
    /// The child's uuid (the parent matches the handshake against it).
    pub const ACTOR_UUID: &str = "TRACTOR_ACTOR_UUID";
    /// Marks every process of one tree (inherited down the tree), so a test
    /// can find survivors of exactly its own tree.
    pub const TREE: &str = "TRACTOR_TREE";
    /// Log filter; wins over configuration and is inherited by children.
    pub const LOGLEVEL: &str = "TRACTOR_LOGLEVEL";
    /// Spawn backend; wins over configuration.
    pub const SPAWN_METHOD: &str = "TRACTOR_SPAWN_METHOD";
    /// The number of an inherited pipe the child reads the tree's secret
    /// from (the secret itself is never in the environment or on the
    /// command line, where `ps` and `/proc` would show it).
    pub const SECRET_FD: &str = "TRACTOR_SECRET_FD";
}
