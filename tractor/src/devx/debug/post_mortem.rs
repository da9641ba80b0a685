//! Post-mortem REPLs: in the actor where a task failed, before its error
//! goes to the caller; then in each parent the boxed error reaches
//! without being handled (its own endpoint fails with it, or its root
//! body does); quitting a REPL lets the error go on up.

use std::sync::Arc;

use super::pause::{holder, session};
use super::repl::Stop;
use crate::ipc::ErrorData;
use crate::runtime::actor::ActorRuntime;
use crate::runtime::endpoint::box_tractor_error;
use crate::runtime::error::{Error, RemoteActorError, boxed_types};

/// The post-mortem of task `path`, which failed with `error`.
pub(crate) async fn task_failed(rt: &Arc<ActorRuntime>, path: &str, error: &ErrorData) {
    if !worth_a_repl(error) {
        return;
    }
    let stop = Stop::Crashed {
        what: format!("`{path}`"),
        error: RemoteActorError::from_data(error.clone()).to_string(),
        backtrace: first_backtrace(error),
    };
    open(rt, &stop).await;
}

/// The post-mortem of a root whose body failed with `error`.
pub(crate) async fn root_failed(rt: &Arc<ActorRuntime>, error: &Error) {
    if matches!(
        error.cause(),
        Error::Cancelled(_) | Error::Interrupted { .. } | Error::DebuggerQuit { .. }
    ) {
        return;
    }
    let data = box_tractor_error(error).into_data(rt.aid());
    if !worth_a_repl(&data) {
        return;
    }
    let stop = Stop::Crashed {
        what: "its root body".to_string(),
        error: error.to_string(),
        backtrace: first_backtrace(&data),
    };
    open(rt, &stop).await;
}

async fn open(rt: &Arc<ActorRuntime>, stop: &Stop) {
    let who = format!("{} (post-mortem)", holder(rt));
    if let Err(e) = session(rt, who, stop).await {
        tracing::warn!(target: "tractor::devx", "the post-mortem REPL could not run: {e}");
    }
}

/// A failure a person wants to look at: not a cancellation (the tree is
/// going down on purpose) nor a quit REPL (they looked already), nor an
/// aggregate made only of those.
fn worth_a_repl(e: &ErrorData) -> bool {
    if e.grouped.is_empty() {
        return !matches!(
            e.src_type.as_str(),
            boxed_types::CONTEXT_CANCELLED | boxed_types::DEBUGGER_QUIT
        );
    }
    e.grouped.iter().any(worth_a_repl)
}

/// The backtrace of the error, or of the first error grouped under it.
fn first_backtrace(e: &ErrorData) -> Option<String> {
    e.backtrace
        .clone()
        .or_else(|| e.grouped.iter().find_map(first_backtrace))
}
