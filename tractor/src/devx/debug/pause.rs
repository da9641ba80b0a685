//! `pause!()`: halt the calling task in a REPL on the terminal.

use std::sync::Arc;

use super::lock::with_tty_lock;
use super::repl::{self, Leave, Stop};
use crate::runtime::actor::ActorRuntime;
use crate::runtime::current;
use crate::runtime::error::Error;

/// Where `pause!()` was written (filled in by the macro).
#[derive(Clone, Copy, Debug)]
pub struct PauseSite {
    /// `file!()`.
    pub file: &'static str,
    /// `line!()`.
    pub line: u32,
    /// `module_path!()`.
    pub module: &'static str,
}

/// Whether a `pause!()` here would open a REPL: the current actor is in
/// debug mode (the macro formats its values only then).
pub fn debug_mode_on() -> bool {
    current::try_current().is_some_and(|rt| rt.p.debug_mode)
}

/// What `pause!()` expands to.
pub async fn pause(site: PauseSite, values: Vec<(&'static str, String)>) -> Result<(), Error> {
    let at = format!("{}:{} (in {})", tidy(site.file), site.line, site.module);
    let Some(rt) = current::try_current().filter(|rt| rt.p.debug_mode) else {
        tracing::warn!(target: "tractor::devx", "pause!() at {at} ignored: debug mode is off (set `RootConfig::debug_mode` or TRACTOR_DEBUG_MODE=1)");
        return Ok(());
    };
    let stop = Stop::Paused {
        site: at.clone(),
        values,
        backtrace: std::backtrace::Backtrace::force_capture(),
    };
    let leave = session(&rt, format!("{} paused at {at}", holder(&rt)), &stop).await?;
    match leave {
        Leave::Continue => Ok(()),
        Leave::Quit => Err(Error::DebuggerQuit {
            actor: rt.aid().clone(),
        }),
    }
}

/// `file!()` without the `dir/..` detours a workspace member's paths
/// take (`tractor/../examples/x.rs` is `examples/x.rs`).
fn tidy(file: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in file.split('/') {
        match p {
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            "." => {}
            other => parts.push(other),
        }
    }
    parts.join("/")
}

/// Who holds the lock, for the root's log.
pub(super) fn holder(rt: &ActorRuntime) -> String {
    format!("{}@{}", rt.aid().name, rt.aid().pid)
}

/// A REPL session under the tree's TTY lock.
pub(super) async fn session(
    rt: &Arc<ActorRuntime>,
    holder: String,
    stop: &Stop,
) -> Result<Leave, Error> {
    with_tty_lock(rt, holder, async || Ok(repl::run(rt, stop).await)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn tidy_drops_detours_only() {
        assert_eq!(super::tidy("tractor/../examples/a.rs"), "examples/a.rs");
        assert_eq!(super::tidy("src/main.rs"), "src/main.rs");
        assert_eq!(super::tidy("../x/./y.rs"), "../x/y.rs");
    }
}
