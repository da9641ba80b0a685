//! The task dump on `SIGUSR1`: with debug mode or
//! `TRACTOR_ENABLE_STACKSCOPE` on, the signal prints the actor's task
//! tree to stderr (the root's: the whole tree's, actor by actor). Off,
//! no handler is installed and the signal keeps its default action.

use std::sync::Arc;

use crate::runtime::actor::ActorRuntime;
use crate::runtime::error::ConfigError;

/// Turns the dump on (or off) for every actor of a tree without
/// recompiling; children inherit it with the environment.
pub(crate) const STACKSCOPE_ENV: &str = "TRACTOR_ENABLE_STACKSCOPE";

/// Whether actors dump their tasks on `SIGUSR1`, as the environment says.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DumpSwitch {
    /// `TRACTOR_ENABLE_STACKSCOPE`, when it is set: it wins over debug mode.
    env: Option<bool>,
}

impl DumpSwitch {
    /// The switch as `TRACTOR_ENABLE_STACKSCOPE` sets it; a value that is
    /// no switch is an error.
    pub(crate) fn from_env() -> Result<DumpSwitch, ConfigError> {
        let env = crate::spawn::env::switch(STACKSCOPE_ENV)
            .map_err(|value| ConfigError::StackscopeEnv { value })?;
        Ok(DumpSwitch { env })
    }

    /// As [`from_env`](Self::from_env), a bad value only logged (a child
    /// has no one to return it to; its root refused it already).
    pub(crate) fn from_env_or_warn() -> DumpSwitch {
        DumpSwitch::from_env().unwrap_or_else(|e| {
            tracing::warn!(target: "tractor::devx", "{e}; task dumps stay off");
            DumpSwitch { env: Some(false) }
        })
    }

    /// Makes `rt` serve the introspection endpoints and, when dumps are
    /// on (the variable, else `rt`'s debug mode), print its task tree on
    /// each `SIGUSR1` until the actor stops. Call it before the actor
    /// first yields, so no peer finds the endpoints missing.
    pub(crate) fn install(self, rt: &Arc<ActorRuntime>) {
        rt.expose_module(super::local::MODULE);
        if !self.env.unwrap_or(rt.p.debug_mode) {
            return;
        }
        use tokio::signal::unix::{SignalKind, signal};
        let mut usr1 = match signal(SignalKind::user_defined1()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(target: "tractor::devx", "cannot handle SIGUSR1 ({e}); no task dumps");
                return;
            }
        };
        let rt = rt.clone();
        tokio::task::spawn_local(async move {
            loop {
                tokio::select! {
                    _ = rt.stopping() => break,
                    got = usr1.recv() => match got {
                        Some(()) => dump(&rt).await,
                        None => break,
                    },
                }
            }
        });
    }
}

/// Prints the dump, in one write so other processes' lines cannot cut
/// into it: a root's whole tree, a child's own tasks.
async fn dump(rt: &Arc<ActorRuntime>) {
    let me = rt.aid();
    let body = if rt.p.is_root {
        super::tree(rt).await.to_string()
    } else {
        super::snapshot(rt).to_string()
    };
    let text = format!(
        "--- tractor task dump of {me} (SIGUSR1) ---\n{body}--- end of task dump of {me} ---\n"
    );
    use std::io::Write as _;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}
