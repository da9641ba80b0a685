//! Program entry points: how a binary or a test becomes either the root of
//! a tree or, when re-executed by its parent, a child actor; and boot
//! composition: the only place where the runtime, discovery and the
//! process setup meet. Everything below this layer is booted from here
//! and never calls back up.

mod child;
mod cluster;
mod config;
mod daemon;
mod entry;
mod nursery;
mod root;

pub use cluster::{ActorCluster, Cluster, open_actor_cluster};
pub use config::RootConfig;
pub use daemon::run_daemon;
pub use entry::{run_main, run_test};
pub use nursery::{open_nursery, open_nursery_with};
pub use root::open_root_actor;

use crate::runtime::rlimit::raise_fd_limit;
use crate::spawn::ChildEnv;

/// Turns this process into a child actor if its parent spawned it as one
/// (and then never returns); otherwise returns at once.
///
/// `#[tractor::main]` and `#[tractor::test]` call it for you; call it
/// first thing in any other `main` that opens actor nurseries, before
/// the program starts threads of its own. Inside a `#[tokio::main]` it
/// works too: the child actor then runs on a thread of its own, and the
/// program's (not yet used) runtime stays idle.
///
/// ```no_run
/// // First thing in `main`:
/// tractor::init();
/// // ... then build a runtime and open nurseries.
/// ```
pub fn init() {
    raise_fd_limit();
    crate::spawn::thread::set_main(child::run_thread_actor);
    // A forkserver forks children from here on, before anything else ran.
    crate::spawn::forkserver::serve_if_asked(child::run_child);
    match ChildEnv::from_env() {
        None => {}
        Some(Ok(env)) => child::run_child(env),
        Some(Err(e)) => {
            eprintln!("tractor: {e}");
            crate::spawn::BootExit::BadEnv.exit();
        }
    }
}
