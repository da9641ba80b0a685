//! Spawn backends: how a child actor process comes to exist, learns who it
//! is, and is made to die with its parent.
//!
//! Three backends ([`SpawnMethod`]), behind one seam ([`backend::start`]):
//!
//! * `exec` re-runs the current executable in child mode: the child finds
//!   [`ChildEnv`] in its environment (and the tree's secret on its stdin),
//!   dials its parent and is bootstrapped by a `SpawnSpec` over that first
//!   IPC exchange. The parent runs nothing between fork and exec (a
//!   `posix_spawn`, from the actor's spawner thread); the child arms its
//!   own parent-death signal first thing in `init()`.
//! * `forkserver` forks the child from a single-threaded server holding
//!   the program's pre-tokio image ([`forkserver`]); the child gets its
//!   [`ChildEnv`] over the server's link, with its end of a socket pair
//!   the parent made as its channel to the parent (no dial, no proof of
//!   the secret: only the parent could have made it), and then boots the
//!   same way.
//! * `thread` runs the child on a thread of this process, over an
//!   in-process transport ([`thread`]).
//!
//! Whatever the backend, a child is one [`ChildProcess`] to its supervisor.

mod affinity;
mod backend;
mod exec;
pub(crate) mod forkserver;
pub(crate) mod launcher;
mod method;
mod process;
pub(crate) mod proctitle;
mod resource;
mod spawner;
pub(crate) mod thread;

pub use exec::{SpawnError, SpawnStage};
pub use launcher::{Launcher, RemoteExe, SshHost};
pub use method::SpawnMethod;
pub use resource::{BootExit, Resource};

pub(crate) use backend::{ForkserverSlot, SpawnContext, start};
pub(crate) use exec::{
    ChildEnv, die_with_this_thread, note_reaped, process_args, spawn_exec, unreaped,
};
pub(crate) use process::ChildProcess;
pub(crate) use spawner::SpawnerSlot;

/// Environment variables of the exec handshake.
pub(crate) mod env {
    /// The parent's listener address.
    pub(crate) const PARENT_ADDR: &str = "TRACTOR_PARENT_ADDR";
    /// The pid of the process that spawned this child: the child arms its
    /// parent-death signal itself and checks that parent is still there.
    pub(crate) const PARENT_PID: &str = "TRACTOR_PARENT_PID";
    /// The child's name.
    pub(crate) const ACTOR_NAME: &str = "TRACTOR_ACTOR_NAME";
    /// The child's uuid (the parent matches the handshake against it).
    pub(crate) const ACTOR_UUID: &str = "TRACTOR_ACTOR_UUID";
    /// Marks every process of one tree (inherited down the tree), so a test
    /// can find survivors of exactly its own tree.
    pub(crate) const TREE: &str = "TRACTOR_TREE";
    /// Log filter; wins over configuration and is inherited by children.
    pub(crate) const LOGLEVEL: &str = "TRACTOR_LOGLEVEL";
    /// Spawn backend; wins over configuration.
    pub(crate) const SPAWN_METHOD: &str = "TRACTOR_SPAWN_METHOD";
    /// The number of an inherited socket: this process is a forkserver,
    /// and that is its lifeline to the actor that started it.
    pub(crate) const FORKSERVER_FD: &str = "TRACTOR_FORKSERVER_FD";
    /// Debug mode for the whole tree (`1`/`true`/`on` or `0`/`false`/
    /// `off`); wins over configuration, so it turns debugging on without
    /// recompiling.
    pub(crate) const DEBUG_MODE: &str = "TRACTOR_DEBUG_MODE";
    /// The fd of the inherited pipe the child reads the tree's secret from:
    /// `0`, its stdin (the secret itself is never in the environment or on the
    /// command line, where `ps` and `/proc` would show it).
    pub(crate) const SECRET_FD: &str = "TRACTOR_SECRET_FD";
    /// This process was launched on this host by a parent on another
    /// (over SSH): its hand-over, and then its lifeline, is its stdin.
    pub(crate) const SSH_CHILD: &str = "TRACTOR_SSH_CHILD";

    /// An on/off switch read from variable `name`: `None` when unset or
    /// empty; `Err` with the value when it is no switch (`1`/`true`/`on`/
    /// `yes` or `0`/`false`/`off`/`no`, any case).
    pub(crate) fn switch(name: &str) -> Result<Option<bool>, String> {
        let Ok(v) = std::env::var(name) else {
            return Ok(None);
        };
        match v.trim().to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "1" | "true" | "on" | "yes" => Ok(Some(true)),
            "0" | "false" | "off" | "no" => Ok(Some(false)),
            _ => Err(v),
        }
    }
}
