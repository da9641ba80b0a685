//! The lifetime stack: exit cleanups run however an actor ends
//! (scenario 12), last-in first-out, exactly once, past a panicking one.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tractor::error::LifetimeError;
use tractor::{Error, TransportKind};

use crate::both_transports;
use crate::common::{self, in_root, marker_path, wait_exists};

both_transports!(
    child_error_runs_its_cleanup,
    nursery_cancel_runs_the_child_cleanup,
    dropped_nursery_runs_the_child_cleanup,
    sigterm_runs_the_child_cleanup,
    cleanups_run_lifo_once_past_a_panic,
);

/// Creates the file at `path` and registers its removal on this actor's
/// lifetime stack.
fn scratch_file(path: String) -> Result<(), Error> {
    common::touch(&path)?;
    tractor::current_actor()?.on_exit(move || {
        let _ = std::fs::remove_file(&path);
    })?;
    Ok(())
}

const FAILS: &str = "scratch_then_fail fails on purpose";

/// Makes a scratch file, then fails.
#[tractor::endpoint]
async fn scratch_then_fail(path: String) -> Result<(), Error> {
    scratch_file(path)?;
    Err(Error::RuntimeFailure(FAILS.into()))
}

/// Makes a scratch file, then sleeps until cancelled.
#[tractor::endpoint]
async fn scratch_then_sleep(path: String) -> Result<(), Error> {
    scratch_file(path)?;
    std::future::pending().await
}

/// Makes a scratch file and returns this actor's pid.
#[tractor::endpoint]
async fn scratch(path: String) -> Result<u32, Error> {
    scratch_file(path)?;
    Ok(std::process::id())
}

fn assert_gone(path: &str) {
    assert!(
        !Path::new(path).exists(),
        "{path} survived: the child's exit cleanup did not run"
    );
}

/// Scenario 12a: the child's endpoint errors; its cleanup ran by the time
/// the nursery returns the error.
async fn child_error_runs_its_cleanup(t: TransportKind) {
    let path = marker_path("lifetime-err");
    let e = common::in_nursery(t, async |an| {
        an.run_in_actor(scratch_then_fail::call(path.clone()))
            .await?;
        Ok(())
    })
    .await
    .unwrap_err();
    let r = e.as_remote().expect("the child's own error");
    assert!(r.message().contains(FAILS), "{r}");
    assert_gone(&path);
}

/// Scenario 12b: the parent cancels the nursery while the child sleeps.
async fn nursery_cancel_runs_the_child_cleanup(t: TransportKind) {
    let path = marker_path("lifetime-cancel");
    common::in_nursery(t, async |an| {
        an.run_in_actor(scratch_then_sleep::call(path.clone()))
            .await?;
        wait_exists(&path).await?;
        an.cancel().await;
        assert_gone(&path);
        Ok(())
    })
    .await
    .unwrap();
}

/// Scenario 12b, tractor's "parent times out": the parent's scope ends
/// around the nursery (its future is dropped, as by a timeout, here as
/// soon as the child made its file); the child is cancelled and cleans up.
async fn dropped_nursery_runs_the_child_cleanup(t: TransportKind) {
    let path = marker_path("lifetime-drop");
    in_root(t, async || {
        let nursery = tractor::open_nursery(async |an| {
            an.run_in_actor(scratch_then_sleep::call(path.clone()))
                .await?;
            std::future::pending::<Result<(), Error>>().await
        });
        tokio::select! {
            r = nursery => panic!("the nursery ended by itself: {r:?}"),
            r = wait_exists(&path) => r?,
        }
        Ok(())
    })
    .await
    .unwrap();
    // The root's teardown reaped the child.
    assert_gone(&path);
}

/// Scenario 12c: SIGTERM makes the child cancel itself; its cleanup runs.
async fn sigterm_runs_the_child_cleanup(t: TransportKind) {
    let path = marker_path("lifetime-term");
    common::in_nursery(t, async |an| {
        let p = an
            .start_actor("scratcher")
            .enable_modules([module_path!()])
            .await?;
        let pid = p.run(scratch::call(path.clone())).await?;
        assert!(Path::new(&path).exists());
        // SAFETY: kill has no memory-safety preconditions; pid is our child.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        // The nursery waits for the daemon to exit by itself.
        Ok(())
    })
    .await
    .unwrap();
    assert_gone(&path);
}

/// In the root: cleanups run last-in first-out, once, after the body;
/// a panicking one does not stop the others; async ones may await; once
/// the actor is gone, registering is refused.
async fn cleanups_run_lifo_once_past_a_panic(t: TransportKind) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let push = |n: u32| {
        let log = log.clone();
        move || log.lock().expect("log").push(n)
    };
    let me = in_root(t, async || {
        let me = tractor::current_actor()?;
        me.on_exit(push(1))?;
        me.on_exit(|| panic!("cleanup 2 fails on purpose"))?;
        let l = log.clone();
        me.on_exit_async(async move {
            // An async cleanup really awaits something before its push.
            tokio::time::sleep(Duration::from_millis(1)).await;
            l.lock().expect("log").push(3);
        })?;
        me.on_exit(push(4))?;
        assert!(log.lock().expect("log").is_empty(), "ran before the exit");
        Ok(me)
    })
    .await
    .unwrap();
    assert_eq!(*log.lock().expect("log"), [4, 3, 1]);
    let refused = me.on_exit(push(5)).unwrap_err();
    assert!(matches!(refused, LifetimeError::Closed { .. }), "{refused}");
    assert_eq!(*log.lock().expect("log"), [4, 3, 1]);
}

/// A middle actor whose own child is stuck in blocking code is healthy,
/// only slow to ack its cancel while its supervisor walks the stuck
/// child's ladder: its parent keeps waiting while it answers liveness
/// probes, so the middle is not killed and its exit cleanups run.
mod stuck_grandchild {
    #[tractor::test]
    async fn tcp_middle_cleanup_runs_while_its_child_is_stuck() {
        super::middle_cleanup_runs_while_its_child_is_stuck(tractor::TransportKind::Tcp).await
    }

    #[tractor::test]
    async fn uds_middle_cleanup_runs_while_its_child_is_stuck() {
        super::middle_cleanup_runs_while_its_child_is_stuck(tractor::TransportKind::Uds).await
    }
}

/// Makes a scratch file at `mine`, then runs a one-shot child that touches
/// `stuck` and blocks its thread for `ms`.
#[tractor::endpoint]
async fn scratch_then_spawn_stuck(mine: String, stuck: String, ms: u64) -> Result<(), Error> {
    scratch_file(mine)?;
    tractor::open_nursery(async |an| {
        an.run_in_actor(common::touch_then_block::call(stuck, ms))
            .name("stuck")
            .await?;
        Ok(())
    })
    .await
}

/// A middle actor whose own child is stuck in blocking code is still
/// responsive: cancelled by its parent, it must get to run its own exit
/// cleanups once its ladder has killed the stuck child.
async fn middle_cleanup_runs_while_its_child_is_stuck(t: TransportKind) {
    let mine = marker_path("lifetime-middle");
    let stuck = marker_path("lifetime-stuck");
    let started = std::time::Instant::now();
    common::in_nursery(t, async |an| {
        an.run_in_actor(scratch_then_spawn_stuck::call(
            mine.clone(),
            stuck.clone(),
            10_000,
        ))
        .name("middle")
        .await?;
        wait_exists(&stuck).await?;
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
    eprintln!(
        "[timing] {t}: cancel of a middle actor with a stuck child: {:?}",
        started.elapsed()
    );
    let _ = std::fs::remove_file(&stuck);
    assert_gone(&mine);
}
