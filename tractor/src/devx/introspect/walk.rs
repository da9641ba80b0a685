//! The tree below an actor: its own snapshot, and each child's subtree
//! asked over the channel the actor already has to that child.
//!
//! Every ask is bounded in time (a wedged child shows as unreachable
//! instead of hanging the dump) and in depth; children are asked at
//! once, so a dump takes about one time budget, not one per child. Each
//! level gives its children a smaller budget than its own, so a wedged
//! grandchild is reported by its parent before the parent's own ask
//! times out.

use std::sync::Arc;
use std::time::Duration;

use super::endpoints::subtree;
use super::local::snapshot;
use super::tree::{MAX_DEPTH, Subtree, TreeSnapshot};
use crate::runtime::actor::ActorRuntime;
use crate::runtime::error::Clipped;
use crate::runtime::portal::Portal;
use crate::runtime::supervisor::ChildProc;

/// How long the top of a dump waits for each child's subtree.
pub(crate) const BUDGET: Duration = Duration::from_secs(2);
/// The least a level waits for its children, however deep.
const MIN_BUDGET: Duration = Duration::from_millis(100);
/// Most bytes of a child's error shown in a dump.
const SHOWN_ERROR_BYTES: usize = 512;

/// `rt`'s snapshot and every descendant's, as far as they answer.
pub(crate) async fn tree(rt: &Arc<ActorRuntime>) -> TreeSnapshot {
    walk(rt, MAX_DEPTH, BUDGET).await
}

/// `rt`'s snapshot and its descendants' down to `depth_left` levels
/// (the last one only naming the children there), waiting up to `budget`
/// for each child.
pub(crate) async fn walk(
    rt: &Arc<ActorRuntime>,
    depth_left: u32,
    budget: Duration,
) -> TreeSnapshot {
    let actor = snapshot(rt);
    let kids: Vec<Arc<ChildProc>> = rt
        .children()
        .into_iter()
        .filter(|c| c.exit_info().is_none())
        .collect();
    let children =
        futures::future::join_all(kids.iter().map(|c| ask(rt, c, depth_left, budget))).await;
    TreeSnapshot { actor, children }
}

async fn ask(
    rt: &Arc<ActorRuntime>,
    child: &ChildProc,
    depth_left: u32,
    budget: Duration,
) -> Subtree {
    let aid = child.aid.clone();
    let gone = |why: String| Subtree::Unreachable {
        aid: aid.clone(),
        why,
    };
    // Its own level is the last one this walk may fill: the child's
    // subtree would not fit.
    if depth_left <= 1 {
        return gone(format!(
            "not asked: deeper than a dump goes ({MAX_DEPTH} levels)"
        ));
    }
    if !*child.conn.ready.borrow() {
        return gone("booting: not serving yet".into());
    }
    let portal = Portal::kept(rt.clone(), child.conn.clone());
    let below = (budget * 3 / 4).max(MIN_BUDGET);
    let millis = u64::try_from(below.as_millis()).unwrap_or(u64::MAX);
    let call = portal.run(subtree::call(depth_left - 1, millis));
    match tokio::time::timeout(budget, call).await {
        Err(_) => gone(format!(
            "timeout: no answer within {}",
            super::render::age(budget)
        )),
        Ok(Err(e)) => gone(format!("{}", Clipped(&e, SHOWN_ERROR_BYTES))),
        Ok(Ok(t)) if t.actor.aid.uuid != aid.uuid => gone(format!(
            "answered as another actor ({}, uuid {})",
            t.actor.aid, t.actor.aid.uuid
        )),
        // A subtree deeper than asked would make ours deeper than a
        // snapshot may be.
        Ok(Ok(t)) if t.depth() >= depth_left as usize => {
            gone("answered with a subtree deeper than asked".into())
        }
        Ok(Ok(t)) => Subtree::Reached(t),
    }
}
