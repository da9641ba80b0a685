//! Which spawn backend makes a tree's children.

use std::fmt;
use std::str::FromStr;

use super::exec::SpawnError;

/// How a child actor comes to exist (tractor's `start_method`): chosen
/// for a tree by [`RootConfig::spawn_method`](crate::RootConfig::spawn_method),
/// per child by `start_actor(..).spawn_method(..)`, inherited by children
/// for their own children unless they choose; `TRACTOR_SPAWN_METHOD` wins
/// over all of these.
///
/// | backend | a child is | spawn + teardown (2-core machine) | isolation |
/// |---|---|---|---|
/// | `exec` | a process: this binary re-run | ~2-3 ms | full |
/// | `forkserver` | a process: a fork of the program's pre-tokio image | ~1 ms | full |
/// | `thread` | a thread of this process | ~0.3 ms | none against crashes and `exit` |
///
/// Whatever the backend, a child runs on the CPUs the spawning actor's
/// thread may run on at the spawn, as a child started from that thread
/// would (though exec'd children are started from a spawner thread and
/// forked ones by a server, both made at the actor's first spawn).
///
/// ```
/// use tractor::SpawnMethod;
/// assert_eq!("exec".parse::<SpawnMethod>().unwrap(), SpawnMethod::Exec);
/// assert_eq!("forkserver".parse::<SpawnMethod>().unwrap(), SpawnMethod::Forkserver);
/// assert!("trio".parse::<SpawnMethod>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpawnMethod {
    /// Re-run the current executable in child mode: the child starts from
    /// a clean process image and finds its role in its environment. The
    /// parent starts it with `posix_spawn` (a `vfork` + exec, whose cost
    /// does not grow with the parent's memory) from a thread of its own,
    /// so its runtime keeps serving while many children start.
    #[default]
    Exec,
    /// Fork from a single-threaded server started from this binary before
    /// tokio (see the `forkserver` section of the crate docs): a process
    /// with the guarantees of `exec`, spawned faster and sharing the
    /// program's image copy-on-write.
    Forkserver,
    /// An actor per OS thread of this process, with a runtime of its own
    /// and an in-process transport carrying the same encoded messages.
    /// For tests and very light actors: a crash or `process::exit` in one
    /// takes the whole process, and a stuck one can only be abandoned.
    Thread,
}

impl SpawnMethod {
    /// The name `TRACTOR_SPAWN_METHOD` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            SpawnMethod::Exec => "exec",
            SpawnMethod::Forkserver => "forkserver",
            SpawnMethod::Thread => "thread",
        }
    }

    /// The method `TRACTOR_SPAWN_METHOD` names, if set: it wins over
    /// `configured`.
    pub(crate) fn effective(configured: SpawnMethod) -> Result<SpawnMethod, SpawnError> {
        Ok(SpawnMethod::from_env()?.unwrap_or(configured))
    }

    /// The method `TRACTOR_SPAWN_METHOD` names, if it is set.
    pub(crate) fn from_env() -> Result<Option<SpawnMethod>, SpawnError> {
        match std::env::var(super::env::SPAWN_METHOD) {
            Ok(v) if !v.trim().is_empty() => v.trim().parse().map(Some),
            _ => Ok(None),
        }
    }
}

impl FromStr for SpawnMethod {
    type Err = SpawnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "exec" => Ok(SpawnMethod::Exec),
            "forkserver" => Ok(SpawnMethod::Forkserver),
            "thread" => Ok(SpawnMethod::Thread),
            other => Err(SpawnError::UnknownMethod(other.to_string())),
        }
    }
}

impl fmt::Display for SpawnMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
