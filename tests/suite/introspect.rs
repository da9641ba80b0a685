//! Introspection of a live tree: a root, a child serving a context with
//! an open stream (three messages queued unread) while it waits on a
//! stuck call in its own child. The tree's snapshot shows all three
//! actors with their pids, the context's path, peer, state, window and
//! queue depth, the nurseries' children, and the stuck call as a running
//! task; a wedged child shows as unreachable instead of hanging the dump.

use std::time::Duration;

use tractor::error::ConfigError;
use tractor::introspect::{
    ActorSnapshot, ChildState, DialogInfo, DialogKind, DialogState, Subtree, TreeSnapshot,
};
use tractor::{Context, Error, RootConfig, Side, TransportKind};

use crate::both_transports;
use crate::common::{self, in_nursery};
use crate::{isolated, wait};

const MODULE: &str = module_path!();
/// What the root sends on the stream and the child leaves unread.
const UNREAD: u64 = 3;

both_transports!(
    the_tree_shows_every_actor_task_stream_and_nursery,
    a_wedged_child_shows_as_unreachable
);

/// Spawns a grandchild, hands its pid over as the started value, opens
/// the stream and then reads nothing: it waits forever on a call that
/// never returns in the grandchild.
#[tractor::context]
async fn streamer(ctx: Context<u32, (), u64>) -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let gc = an
            .start_actor("grandchild")
            .enable_modules([common::MODULE])
            .await?;
        ctx.started(gc.aid().pid).await?;
        let _stream = ctx.open_stream()?;
        gc.run(common::sleep_forever::call()).await?;
        Ok(())
    })
    .await
}

fn path_of(name: &str) -> String {
    format!("{MODULE}::{name}")
}

fn reached(t: &TreeSnapshot, name: &str) -> Option<TreeSnapshot> {
    t.children.iter().find_map(|c| match c {
        Subtree::Reached(s) if s.actor.aid.name == name => Some(s.clone()),
        _ => None,
    })
}

fn dialog<'a>(list: &'a [DialogInfo], path: &str) -> Option<&'a DialogInfo> {
    list.iter().find(|d| d.path == path)
}

/// Whether the child's side of the context holds every message unread.
fn all_queued(t: &TreeSnapshot) -> bool {
    reached(t, "child")
        .and_then(|c| {
            dialog(&c.actor.rpc_tasks, &path_of("streamer"))
                .and_then(|d| d.stream.clone())
                .map(|s| s.queued == UNREAD)
        })
        .unwrap_or(false)
}

async fn the_tree_shows_every_actor_task_stream_and_nursery(t: TransportKind) {
    in_nursery(t, async |an| {
        let child = an.start_actor("child").enable_modules([MODULE]).await?;
        child
            .open_context(streamer::call(), async |ctx, gc_pid| {
                let stream = ctx.open_stream()?;
                for n in 0..UNREAD {
                    stream.send(n).await?;
                }
                let tree = wait::until_async(
                    "the child to hold the stream's messages unread",
                    Duration::from_secs(10),
                    || async {
                        let tree = tractor::introspect::local_tree().await?;
                        let ok = all_queued(&tree);
                        Ok::<_, Error>(wait::holds(ok, tree.to_string()).map(|()| tree))
                    },
                )
                .await?;
                check_tree(&tree, child.aid(), gc_pid);
                // The child's own endpoint answers the same, though its
                // `enable_modules` does not name the introspection module.
                let tasks: ActorSnapshot = child.run(tractor::introspect::tasks::call()).await?;
                assert_eq!(&tasks.aid, child.aid());
                assert!(dialog(&tasks.rpc_tasks, &path_of("streamer")).is_some());
                let sub = child.run(tractor::introspect::tree::call()).await?;
                assert!(reached(&sub, "grandchild").is_some(), "{sub}");
                ctx.cancel().await;
                Ok(())
            })
            .await?;
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

fn check_tree(tree: &TreeSnapshot, child_aid: &tractor::Aid, gc_pid: u32) {
    let text = tree.to_string();
    let pids: Vec<u32> = tree.actors().iter().map(|a| a.aid.pid).collect();
    assert_eq!(pids, [std::process::id(), child_aid.pid, gc_pid], "{text}");

    // The root: its context to the child, streaming, 3 sends of window used.
    let root = &tree.actor;
    assert!(root.is_root && root.parent.is_none(), "{text}");
    let ctx = dialog(&root.dialogs, &path_of("streamer")).expect(&text);
    assert_eq!(
        (ctx.kind, ctx.side, ctx.state),
        (DialogKind::Context, Side::Caller, DialogState::Streaming),
        "{text}"
    );
    assert_eq!(&ctx.peer, child_aid, "{text}");
    let s = ctx.stream.as_ref().expect(&text);
    assert_eq!(s.credit, u64::from(s.window) - UNREAD, "{text}");
    let [nursery] = root.nurseries.as_slice() else {
        panic!("one nursery in the root:\n{text}");
    };
    assert_eq!(nursery.owner, None, "{text}");
    assert_eq!(nursery.children.len(), 1, "{text}");
    assert_eq!(&nursery.children[0].aid, child_aid, "{text}");
    assert_eq!(nursery.children[0].state, ChildState::Running, "{text}");

    // The child: the context's task with three messages queued unread,
    // its nursery holding the grandchild, its stuck call into it.
    let child = reached(tree, "child").expect(&text);
    assert_eq!(child.actor.parent.as_ref(), Some(&root.aid), "{text}");
    let task = dialog(&child.actor.rpc_tasks, &path_of("streamer")).expect(&text);
    assert_eq!(
        (task.kind, task.side, task.state),
        (DialogKind::Context, Side::Callee, DialogState::Streaming),
        "{text}"
    );
    assert_eq!(task.peer, root.aid, "{text}");
    let s = task.stream.as_ref().expect(&text);
    assert_eq!(s.queued, UNREAD, "{text}");
    assert!(s.queued_bytes > 0 && s.recv_window >= 3, "{text}");
    let [nursery] = child.actor.nurseries.as_slice() else {
        panic!("one nursery in the child:\n{text}");
    };
    assert_eq!(nursery.owner.as_deref(), Some(path_of("streamer").as_str()));
    assert_eq!(nursery.children[0].aid.pid, gc_pid, "{text}");
    assert_eq!(nursery.children[0].state, ChildState::Running, "{text}");
    let sleeper = format!("{}::sleep_forever", common::MODULE);
    let call = dialog(&child.actor.dialogs, &sleeper).expect(&text);
    assert_eq!(
        (call.kind, call.state),
        (DialogKind::Call, DialogState::Running)
    );

    // The grandchild: the stuck endpoint, a running task with its path.
    let gc = reached(&child, "grandchild").expect(&text);
    let stuck = dialog(&gc.actor.rpc_tasks, &sleeper).expect(&text);
    assert_eq!(
        (stuck.kind, stuck.side, stuck.state),
        (DialogKind::Call, Side::Callee, DialogState::Running),
        "{text}"
    );
    assert_eq!(stuck.peer, child.actor.aid, "{text}");
    assert!(gc.children.is_empty(), "{text}");

    // The text shows the same, actor by actor.
    for needle in [
        format!("actor {}", root.aid),
        format!("actor {child_aid}"),
        format!("actor grandchild@{gc_pid}"),
        format!("{} (context", path_of("streamer")),
        format!("queued {UNREAD}/"),
        format!("{sleeper} (call"),
    ] {
        assert!(text.contains(&needle), "no {needle:?} in:\n{text}");
    }
}

async fn a_wedged_child_shows_as_unreachable(t: TransportKind) {
    in_nursery(t, async |an| {
        let child = an
            .start_actor("wedged")
            .enable_modules([common::MODULE])
            .await?;
        let marker = common::marker_path("wedged");
        let blocked = child.run(common::touch_then_block::call(marker.clone(), 3_000));
        let dump = async {
            common::wait_exists(&marker).await?;
            let asked = std::time::Instant::now();
            let tree = tractor::introspect::local_tree().await?;
            let took = asked.elapsed();
            let text = tree.to_string();
            let [Subtree::Unreachable { aid, why }] = tree.children.as_slice() else {
                panic!("the wedged child must be unreachable:\n{text}");
            };
            assert_eq!(aid, child.aid());
            assert!(why.starts_with("timeout"), "{text}");
            assert!(text.contains("unreachable (timeout"), "{text}");
            assert!(took < Duration::from_secs(3), "the dump took {took:?}");
            Ok::<_, Error>(())
        };
        let (blocked, dumped) = tokio::join!(blocked, dump);
        let _ = std::fs::remove_file(&marker);
        blocked?;
        dumped?;
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// In its isolated run (with the variable set), says whether a root
/// booted.
async fn env_body() -> Result<(), Error> {
    let cfg = RootConfig::new("root").transport(TransportKind::Tcp);
    match tractor::open_root_actor(cfg, async || Ok(())).await {
        Ok(()) => println!("BOOTED"),
        Err(Error::Config(ConfigError::StackscopeEnv { value })) => println!("REFUSED {value}"),
        Err(e) => println!("FAILED {e}"),
    }
    Ok(())
}

/// `TRACTOR_ENABLE_STACKSCOPE` is a switch: a value that is none is a
/// typed configuration error at the root, not a silent "off". Each runs
/// in a process of its own, since the variable is process-wide.
#[tractor::test]
async fn a_stackscope_value_that_is_no_switch_is_refused() {
    if isolated::active() {
        return env_body().await.unwrap();
    }
    let path = "introspect::a_stackscope_value_that_is_no_switch_is_refused";
    for (value, expect) in [
        ("1", "BOOTED"),
        ("off", "BOOTED"),
        ("maybe", "REFUSED maybe"),
    ] {
        let out = isolated::run_with(path, &[("TRACTOR_ENABLE_STACKSCOPE", value)]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.lines().any(|l| l.ends_with(expect)),
            "TRACTOR_ENABLE_STACKSCOPE={value}: expected `{expect}`; got:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
