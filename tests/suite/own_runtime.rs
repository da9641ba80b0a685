//! Calling into a tree from threads and tasks that are not the actor's
//! own (a program's multi-thread runtime): portals, contexts and streams
//! work as they are, discovery inside `Actor::scope`; a channel dialed
//! from there is served at the actor's home; nurseries refuse with a
//! typed error. (The root itself inside a user's `#[tokio::main]`
//! multi-thread runtime is the `inside_your_runtime` example.)

use std::time::Duration;

use tractor::{Context, Error, TransportKind};

use crate::both_transports;
use crate::common::{self, in_nursery};

/// This module's path: the allowlist entry for its endpoints.
const MODULE: &str = module_path!();

both_transports!(
    calls_from_another_runtime,
    a_plain_task_on_the_home_thread_dials,
    nurseries_refuse_away_from_home,
    a_handle_starts_children_from_another_runtime,
    a_handle_outliving_its_nursery_is_refused,
    a_handle_spawn_racing_the_scopes_end_is_waited_for,
);

/// Starts a leaf actor, reports its address, and keeps it (and its
/// nursery) until the caller closes the stream.
#[tractor::context]
async fn hold_leaf(ctx: Context<String, (), ()>) -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let leaf = an
            .start_actor("leaf")
            .enable_modules([common::MODULE])
            .await?;
        let addr = leaf.run(common::accept_addr::call()).await?;
        ctx.started(addr).await?;
        let stream = ctx.open_stream()?;
        while stream.recv().await?.is_some() {}
        an.cancel().await;
        Ok(())
    })
    .await
}

/// Runs `work` on a thread of its own, under a multi-thread runtime of
/// its own (a program's other runtime), without blocking the actor's.
async fn on_other_runtime<T, F>(work: F) -> T
where
    T: Send + 'static,
    F: Future<Output = T> + Send + 'static,
{
    let joined = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("runtime: {e}"));
        // On a worker thread, not the one that calls `block_on`.
        rt.block_on(async move { tokio::spawn(work).await })
    });
    match tokio::time::timeout(Duration::from_secs(20), joined).await {
        Ok(Ok(Ok(v))) => v,
        Ok(Ok(Err(e))) | Ok(Err(e)) => panic!("the other runtime's task failed: {e}"),
        Err(_) => panic!("the other runtime's task passed its 20 s deadline"),
    }
}

/// Runs `body(me, mid, leaf_addr)` in a root whose child `mid` holds a
/// `leaf` actor the root has no channel to, then tears both down.
async fn with_leaf(
    t: TransportKind,
    body: impl AsyncFnOnce(tractor::Actor, tractor::Portal, tractor::Addr) -> Result<(), Error>,
) {
    let res = in_nursery(t, async |an| {
        let mid = an
            .start_actor("mid")
            .enable_modules([MODULE, common::MODULE])
            .await?;
        let me = tractor::current_actor()?;
        let held = mid.clone();
        mid.open_context(hold_leaf::call(), async |ctx, leaf_addr| {
            let stream = ctx.open_stream()?;
            body(me, held, leaf_addr.parse()?).await?;
            stream.close();
            ctx.wait_for_result().await
        })
        .await?;
        mid.cancel_actor().await?;
        Ok(())
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
}

async fn calls_from_another_runtime(t: TransportKind) {
    with_leaf(t, async |me, mid, addr| {
        let (sum, echoed, found) = on_other_runtime(async move {
            // A portal made at home, used here.
            let sum = mid.run(common::add::call(2, 3)).await?;
            // A channel the actor has no channel for yet, dialed from
            // here: its message loop runs at the actor's home.
            let leaf = me.scope(tractor::connect_portal(&addr)).await?;
            let echoed = leaf.run(common::echo::call("hi".into())).await?;
            let found = me
                .scope(tractor::find_actor("leaf"))
                .await?
                .map(|p| p.aid().name.clone());
            Ok::<_, Error>((sum, echoed, found))
        })
        .await?;
        assert_eq!(sum, 5);
        assert_eq!(echoed, "hi");
        assert_eq!(found.as_deref(), Some("leaf"));
        Ok(())
    })
    .await;
}

async fn a_plain_task_on_the_home_thread_dials(t: TransportKind) {
    with_leaf(t, async |me, _mid, addr| {
        // `tokio::spawn` on the actor's current-thread runtime: the
        // actor's thread, but outside its `LocalSet`.
        let task = tokio::spawn(me.scope(async move {
            let leaf = tractor::connect_portal(&addr).await?;
            leaf.run(common::add::call(40, 2)).await
        }));
        let sum = tokio::time::timeout(Duration::from_secs(20), task)
            .await
            .map_err(Error::custom)?
            .map_err(Error::custom)??;
        assert_eq!(sum, 42);
        Ok(())
    })
    .await;
}

async fn nurseries_refuse_away_from_home(t: TransportKind) {
    let res = in_nursery(t, async |_an| {
        let me = tractor::current_actor()?;
        let here = me.aid().clone();
        let refused = on_other_runtime(async move {
            // Not `Send` (a nursery's scope stays at home): driven on this
            // worker thread by a runtime of its own.
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("runtime: {e}"));
                rt.block_on(me.scope(tractor::open_nursery(async |an| {
                    an.start_actor("never").await?;
                    Ok(())
                })))
            })
            .join()
            .unwrap_or_else(|_| panic!("the nursery thread panicked"))
        })
        .await;
        match refused {
            Err(Error::AwayFromHome { actor }) => assert_eq!(actor, here),
            other => panic!("expected AwayFromHome, got {other:?}"),
        }
        Ok(())
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
}

/// A root whose future is dropped mid-body (no teardown ran): a portal
/// kept on another thread fails its calls instead of waiting forever.
#[tractor::test]
async fn a_dropped_root_fails_calls_from_other_threads() {
    let (portal_tx, portal_rx) = tokio::sync::oneshot::channel();
    let root = common::in_nursery(TransportKind::Tcp, async |an| {
        let p = an
            .start_actor("kept")
            .enable_modules([common::MODULE])
            .await?;
        let _ = portal_tx.send(p);
        std::future::pending::<()>().await;
        Ok(())
    });
    let kept = tokio::select! {
        _ = root => panic!("the root returned"),
        p = portal_rx => p.expect("the portal"),
    };
    // The root's future is dropped here, its home with it.
    let res = on_other_runtime(async move { kept.run(common::add::call(1, 2)).await }).await;
    assert!(res.is_err(), "{res:?}");
}

async fn a_handle_starts_children_from_another_runtime(t: TransportKind) {
    let res = in_nursery(t, async |an| {
        let handle = an.handle();
        let started = on_other_runtime(async move {
            let mut aids = Vec::new();
            for i in 0..2 {
                let p = handle
                    .start_actor(format!("remote_{i}"))
                    .enable_modules([common::MODULE])
                    .await?;
                assert_eq!(p.run(common::add::call(i, 1)).await?, i + 1);
                aids.push(p.aid().clone());
            }
            Ok::<_, Error>(aids)
        })
        .await?;
        // They are this nursery's children, reaped when it ends.
        let children = an.children();
        for aid in &started {
            assert!(children.contains(aid), "{aid} not in {children:?}");
        }
        // Daemons keep a nursery open until cancelled, wherever started.
        an.cancel().await;
        Ok(())
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
    common::assert_tree_gone(Duration::from_secs(3)).await;
}

async fn a_handle_outliving_its_nursery_is_refused(t: TransportKind) {
    let kept = common::in_root(t, async || {
        let handle = tractor::open_nursery(async |an| Ok(an.handle())).await?;
        assert!(handle.cancel_called());
        let late = on_other_runtime({
            let handle = handle.clone();
            async move { handle.start_actor("late").await }
        })
        .await;
        assert!(matches!(late, Err(Error::Cancelled(_))), "{late:?}");
        Ok(handle)
    })
    .await;
    let handle = match kept {
        Ok(h) => h,
        Err(e) => panic!("the root failed: {e}"),
    };
    // The root itself has ended now.
    let ended = on_other_runtime(async move { handle.start_actor("later").await }).await;
    assert!(matches!(ended, Err(Error::ActorEnded { .. })), "{ended:?}");
}

async fn a_handle_spawn_racing_the_scopes_end_is_waited_for(t: TransportKind) {
    let res = common::in_root(t, async || {
        let (go_tx, go) = tokio::sync::oneshot::channel::<()>();
        let mut spawner = None;
        tractor::open_nursery(async |an| {
            let handle = an.handle();
            // Another runtime's thread starts a child as the body ends.
            spawner = Some(std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap_or_else(|e| panic!("runtime: {e}"));
                rt.block_on(async move {
                    let _ = go_tx.send(());
                    let p = handle.start_actor("racer").await?;
                    p.cancel_actor().await?;
                    Ok::<_, Error>(p.aid().pid)
                })
            }));
            let _ = go.await;
            // Return while the child is booting: its process exists, its
            // spawn has not finished (the scope must wait for it).
            let tree = common::tree_id();
            let booting = async {
                while tractor::testing::wait_gone_async(&tree, Duration::ZERO)
                    .await
                    .is_empty()
                {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), booting).await;
            Ok(())
        })
        .await?;
        // The scope returned (the root still runs): a child it admitted
        // is reaped by now.
        let left = tractor::testing::wait_gone_async(&common::tree_id(), Duration::ZERO).await;
        let spawner = spawner.ok_or_else(|| Error::custom("the body did not run"))?;
        let started = tokio::task::spawn_blocking(move || spawner.join())
            .await
            .map_err(Error::custom)?
            .map_err(|_| Error::custom("the spawning thread panicked"))?;
        match started {
            Ok(pid) => assert!(
                left.is_empty(),
                "child {pid} outlived its nursery's scope: {}",
                tractor::testing::describe(&left)
            ),
            // Too late: the scope had closed.
            Err(Error::Cancelled(_)) => {}
            Err(e) => panic!("unexpected: {e}"),
        }
        Ok(())
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
}
