//! Where a child starts, apart from how: a launcher.
//!
//! A spawn backend ([`SpawnMethod`](crate::SpawnMethod)) decides how a
//! child comes to exist on *this* host (exec, forkserver, thread). A
//! launcher decides on which host it runs:
//!
//! * [`Launcher::Local`] (the default) hands the child to the backend;
//! * [`Launcher::Ssh`] runs the same program on another host through the
//!   system `ssh` client ([`SshHost`]).
//!
//! Whatever the launcher, the child dials back its parent, completes the
//! same handshake (in mutual TLS when it crosses hosts, see
//! [`TreeTls`](crate::TreeTls)), gets the same `SpawnSpec`, and is one
//! [`ChildProcess`](super::ChildProcess) to its supervisor: signalled,
//! killed and reaped through the teardown ladder like any other.
//!
//! # Adding a launcher
//! A launcher needs three things, and nothing in the nursery changes:
//! 1. a way to start this program (or an installed copy) somewhere, with
//!    a channel that carries the child's hand-over (its name, uuid, the
//!    dial-back address, the secret and TLS: `launcher::handover`) and stays open
//!    as the child's lifeline (EOF means "parent gone");
//! 2. a handle that signals, kills and waits for the remote process (a
//!    variant of `ChildProcess`);
//! 3. a variant here. Slurm's `srun` fits the SSH shape (its stdin is the
//!    lifeline, `scancel` the kill); Kubernetes would start a pod whose
//!    entry point reads the hand-over from an attached stream.

mod handover;
mod ssh;

pub(crate) use handover::remote_child_env;
pub(crate) use ssh::{RemoteChild, launch_ssh};
pub use ssh::{RemoteExe, SshHost};

/// Where a child actor runs.
///
/// ```
/// use tractor::{Launcher, SshHost};
/// let here = Launcher::Local;
/// let there = Launcher::Ssh(SshHost::new("deploy@10.0.0.7").port(2222));
/// # let _ = (here, there);
/// ```
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub enum Launcher {
    /// On this host, by the spawn backend.
    #[default]
    Local,
    /// On another host, over SSH.
    Ssh(SshHost),
}
