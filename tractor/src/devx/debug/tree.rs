//! The REPL's `tree`: the whole actor tree, as the root sees it.

use std::sync::Arc;
use std::time::Duration;

use super::endpoints::whole_tree as ask_parent;
use crate::runtime::actor::ActorRuntime;
use crate::runtime::portal::Portal;

/// How long the REPL waits for the root's answer.
const ASK_ROOT_FOR: Duration = Duration::from_secs(5);

/// The tree from its root, rendered: asked of the parent (which asks its
/// own, up to the root) from a child; this actor's subtree if that fails.
pub(crate) async fn whole_tree(rt: &Arc<ActorRuntime>) -> String {
    let Some(parent) = rt.parent.get().cloned() else {
        return format!("{}\n", crate::devx::introspect::tree(rt).await);
    };
    let portal = Portal::kept(rt.clone(), parent);
    match tokio::time::timeout(ASK_ROOT_FOR, portal.run(ask_parent::call())).await {
        Ok(Ok(text)) => text,
        failed => {
            let why = match failed {
                Ok(Err(e)) => e.to_string(),
                _ => format!("no answer within {ASK_ROOT_FOR:?}"),
            };
            format!(
                "(the root could not be asked: {why}; this actor's subtree:)\n{}\n",
                crate::devx::introspect::tree(rt).await
            )
        }
    }
}
