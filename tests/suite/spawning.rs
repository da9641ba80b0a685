//! Spawning: run_in_actor, start_actor, results, titles, log levels,
//! nested trees, dropped scopes.

use std::time::Duration;

use tractor::{Error, TransportKind};

use crate::common::{self, MODULE, in_nursery, in_root};
use crate::{both_transports, on_backend};

both_transports!(
    run_in_actor_and_daemon,
    result_readable_inside_and_after_nursery,
    subactor_process_title,
    loglevel_is_inherited,
    nested_three_level_tree,
    dropped_nursery_scope_reaps_children,
    implicit_root_and_current_actor,
    spawns_given_up_at_any_moment_leave_nothing,
);

on_backend!(forkserver = "forkserver":
    run_in_actor_and_daemon,
    result_readable_inside_and_after_nursery,
    subactor_process_title,
    loglevel_is_inherited,
    nested_three_level_tree,
    dropped_nursery_scope_reaps_children,
    implicit_root_and_current_actor,
    spawns_given_up_at_any_moment_leave_nothing,
);
on_backend!(thread = "thread":
    result_readable_inside_and_after_nursery,
    dropped_nursery_scope_reaps_children,
    implicit_root_and_current_actor,
    spawns_given_up_at_any_moment_leave_nothing;
    skip "thread actors share their root's pid and process title (their threads carry the names)":
        run_in_actor_and_daemon, subactor_process_title, nested_three_level_tree,
);

/// The opening example: a one-shot child and a daemon.
async fn run_in_actor_and_daemon(t: TransportKind) {
    in_nursery(t, async |an| {
        let child = an.run_in_actor(common::pid::call()).await?;
        let daemon = an.start_actor("frank").enable_modules([MODULE]).await?;
        let daemon_pid: u32 = daemon.run(common::pid::call()).await?;
        let child_pid: u32 = child.wait_for_result().await?;
        assert_ne!(daemon_pid, child_pid);
        assert_ne!(daemon_pid, std::process::id());
        assert_eq!(daemon.run(common::add::call(2, 3)).await?, 5);
        // A daemon has no main result: its portal has no `wait_for_result`
        // to call (a `RunInActor` has, typed by its endpoint).
        assert!(daemon.cancel_actor().await?, "cancel was acked");
        Ok(())
    })
    .await
    .unwrap();
}

/// Scenario 13: a one-shot child's result (`()` or a string) is readable
/// inside and after the nursery, the same value each time.
async fn result_readable_inside_and_after_nursery(t: TransportKind) {
    let (none, word) = in_root(t, async || {
        let handles = tractor::open_nursery(async |an| {
            let none = an.run_in_actor(common::return_none::call()).await?;
            let word = an
                .run_in_actor(common::echo::call("yo".into()))
                .name("wordsmith")
                .await?;
            assert_eq!(word.wait_for_result().await?, "yo");
            none.wait_for_result().await?;
            Ok((none, word))
        })
        .await?;
        // After the nursery: same values, children already reaped.
        let (none, word) = handles;
        none.wait_for_result().await?;
        assert_eq!(word.wait_for_result().await?, "yo");
        Ok((none.wait_for_result().await?, word.wait_for_result().await?))
    })
    .await
    .unwrap();
    assert_eq!(none, ());
    assert_eq!(word, "yo");
}

/// Sub-actors show up in `ps` as `_subactor[<name>@<pid>]`.
async fn subactor_process_title(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("titled").enable_modules([MODULE]).await?;
        let pid: u32 = p.run(common::pid::call()).await?;
        let want = format!("_subactor[titled@{pid}]");
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline);
        assert!(cmdline.starts_with(&want), "cmdline was {cmdline:?}");
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(comm.trim_end(), &want[..15]);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Children inherit the tree's log level; a per-child level overrides it.
async fn loglevel_is_inherited(t: TransportKind) {
    if std::env::var_os("TRACTOR_LOGLEVEL").is_some() {
        // The environment wins over both levels: check them in a run of
        // this test without it.
        crate::isolated::run(&format!("spawning::{t}::loglevel_is_inherited"), None).await;
        return;
    }
    let cfg = tractor::RootConfig::new("root")
        .transport(t)
        .loglevel("warn");
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let a = an.start_actor("inherits").enable_modules([MODULE]).await?;
            let b = an
                .start_actor("overrides")
                .enable_modules([MODULE])
                .loglevel("error")
                .await?;
            assert_eq!(
                a.run(common::loglevel::call()).await?.as_deref(),
                Some("warn")
            );
            assert_eq!(
                b.run(common::loglevel::call()).await?.as_deref(),
                Some("error")
            );
            an.cancel().await;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

#[tractor::endpoint]
async fn spawn_grandchild() -> Result<(u32, u32), tractor::Error> {
    tractor::open_nursery(async |an| {
        let gc = an
            .run_in_actor(common::pid::call())
            .name("grandchild")
            .await?;
        Ok((std::process::id(), gc.wait_for_result().await?))
    })
    .await
}

/// root → child → grandchild, all distinct processes, all reaped.
async fn nested_three_level_tree(t: TransportKind) {
    in_root(t, async || {
        let (child, grandchild) = tractor::open_nursery(async |an| {
            let c = an.run_in_actor(spawn_grandchild::call()).await?;
            c.wait_for_result().await
        })
        .await?;
        assert_ne!(child, grandchild);
        assert_ne!(child, std::process::id());
        common::assert_tree_gone(Duration::from_secs(3)).await;
        Ok(())
    })
    .await
    .unwrap();
}

/// Dropping a nursery's future mid-way (here: a local timeout) still gets
/// every child cancelled and reaped by the runtime.
async fn dropped_nursery_scope_reaps_children(t: TransportKind) {
    in_root(t, async || {
        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
        let scope = tractor::open_nursery(async |an| {
            let a = an.start_actor("a").enable_modules([MODULE]).await?;
            let _b = an.run_in_actor(common::sleep_forever::call()).await?;
            a.run(common::pid::call()).await?;
            let _ = ready_tx.send(());
            std::future::pending::<Result<(), Error>>().await
        });
        // Boxed, so that `drop` really drops the scope's future.
        let mut scope = Box::pin(scope);
        tokio::select! {
            r = &mut scope => panic!("scope ended: {r:?}"),
            _ = ready_rx => {}
        }
        drop(scope);
        common::assert_tree_gone(Duration::from_secs(5)).await;
        Ok(())
    })
    .await
    .unwrap();
}

/// Spawns given up at moments spread over their start (local timeouts
/// from nothing to a whole spawn's time: before the child exists, while
/// it is started, while it boots) leave no process behind, and the
/// nursery goes on spawning. The narrow moment right after an exec'd
/// child is handed over is pinned by the spawner's unit test.
async fn spawns_given_up_at_any_moment_leave_nothing(t: TransportKind) {
    in_nursery(t, async |an| {
        // The timeouts spread over one whole spawn's time, as measured here.
        let t0 = std::time::Instant::now();
        an.start_actor("measured").enable_modules([MODULE]).await?;
        let whole = t0.elapsed();
        let mut finished = 0;
        for k in 0..40u32 {
            let spawn = an
                .start_actor(format!("given-up-{k}"))
                .enable_modules([MODULE])
                .spawn();
            if tokio::time::timeout(whole * k / 32, spawn)
                .await
                .is_ok_and(|r| r.is_ok())
            {
                finished += 1;
            }
        }
        let p = an.start_actor("after").enable_modules([MODULE]).await?;
        p.run(common::pid::call()).await?;
        an.cancel().await;
        common::assert_tree_gone(Duration::from_secs(5)).await;
        println!("{finished} of 40 spawns finished within their timeout ({whole:?} for one)");
        Ok(())
    })
    .await
    .unwrap();
}

/// `open_nursery` boots an implicit root named `root`; identity is inspectable.
async fn implicit_root_and_current_actor(_t: TransportKind) {
    assert!(matches!(tractor::current_actor(), Err(Error::NoRuntime)));
    tractor::open_nursery(async |_an| {
        let me = tractor::current_actor()?;
        assert_eq!(me.name(), "root");
        assert_eq!(me.aid().pid, std::process::id());
        assert!(tractor::is_root_process());
        Ok(())
    })
    .await
    .unwrap();
    assert!(!tractor::is_root_process());
}
