//! The multi-process debugger: any actor can stop and hand the terminal
//! to a REPL ([`pause!`](crate::pause)), an uncaught error opens a
//! post-mortem REPL in the failing actor and then in each parent as the
//! boxed error climbs, prompts from different actors never interleave,
//! and ctrl-c does not tear the tree down while someone is debugging.
//!
//! All of it hangs off debug mode ([`RootConfig::debug_mode`](crate::RootConfig::debug_mode),
//! per child with `StartActor::debug_mode`, or `TRACTOR_DEBUG_MODE=1`).
//! Outside it `pause!()` is a no-op that logs a warning, and no REPL
//! ever opens: a production tree cannot wedge on a forgotten pause.
//!
//! How the pieces fit:
//! * [`lock`]: the tree-wide TTY lock, held by the root, FIFO, asked for
//!   over IPC through each parent ([`endpoints::lock_tty`]); it also
//!   shields the root's SIGINT while held.
//! * [`repl`]: the line REPL on the terminal ([`tty`]), with `tasks` and
//!   `tree` from [`crate::devx::introspect`] and `gdb`/`lldb` ([`native`]).
//! * [`pause`] and [`post_mortem`]: when a REPL opens. The runtime calls
//!   the post-mortem through the [`Debugger`] plugin's `task_failed`
//!   hook; the root's own body is wrapped in `app`.
//! * A child's supervisor waits, before a graceful cancel and before each
//!   escalation, until no REPL is up or wanted ([`Debugger`]'s `busy`: in
//!   the root, anywhere in the tree; elsewhere, in the actor's subtree,
//!   whose lock requests it relays): a child queued for, or in, a REPL is
//!   not cancelled or killed out of it.

mod backtrace;
mod endpoints;
mod lock;
mod native;
mod pause;
mod post_mortem;
mod repl;
mod tree;
mod tty;

use std::sync::Arc;

use futures::future::LocalBoxFuture;
use tokio::sync::watch;

use crate::ipc::ErrorData;
use crate::runtime::actor::ActorRuntime;
use crate::runtime::plugin::Plugin;

pub use pause::{PauseSite, debug_mode_on, pause};

/// The path of the endpoint that relays the REPL's `tree` to the root
/// (a dump leaves it out, as it leaves out its own endpoints).
pub(crate) const TREE_RELAY: &str = concat!(module_path!(), "::endpoints::whole_tree");
pub(crate) use post_mortem::root_failed;

/// The debugger's part of an actor: the TTY lock in the root; elsewhere,
/// the count of REPL sessions relayed through the actor.
#[derive(Debug)]
pub(crate) struct Debugger {
    lock: Option<Arc<lock::TtyLock>>,
    relays: lock::Relays,
}

/// Makes `rt` a debuggable actor: exposes the debugger's endpoints (every
/// actor relays the TTY lock towards the root, whatever its own mode) and
/// adds the plugin. Called at boot, before the actor first yields.
pub(crate) fn install(rt: &Arc<ActorRuntime>) {
    rt.expose_module(endpoints::MODULE);
    let lock = rt.p.is_root.then(|| Arc::new(lock::TtyLock::new()));
    rt.add_plugin(Arc::new(Debugger {
        lock,
        relays: lock::Relays::new(),
    }));
}

impl Plugin for Debugger {
    fn task_failed(
        self: Arc<Self>,
        rt: Arc<ActorRuntime>,
        path: &'static str,
        error: ErrorData,
    ) -> LocalBoxFuture<'static, ()> {
        Box::pin(async move { post_mortem::task_failed(&rt, path, &error).await })
    }

    fn busy(&self) -> Option<watch::Receiver<bool>> {
        Some(match &self.lock {
            Some(lock) => lock.busy(),
            None => self.relays.busy(),
        })
    }
}
