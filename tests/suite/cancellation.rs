//! Cancellation: nursery cancel, cancel_actor and its ack, the teardown
//! ladder against actors that cannot answer (scenario 7 and the ladder).

use std::time::{Duration, Instant};

use tractor::{Error, RemoteErrorKind, TransportKind};

use crate::common::{self, MODULE, in_nursery, in_root};
use crate::{both_transports, on_backend};

both_transports!(
    nursery_cancel_returns_cleanly,
    body_error_propagates_bare,
    cancel_actor_is_acked,
    unresponsive_actor_is_too_slow_then_killed,
    hard_kill_skips_the_request,
    cancelled_call_reports_context_cancelled,
    relayed_error_records_its_path,
);

on_backend!(forkserver = "forkserver":
    nursery_cancel_returns_cleanly,
    body_error_propagates_bare,
    cancel_actor_is_acked,
    unresponsive_actor_is_too_slow_then_killed,
    hard_kill_skips_the_request,
    cancelled_call_reports_context_cancelled,
);
on_backend!(thread = "thread":
    nursery_cancel_returns_cleanly,
    body_error_propagates_bare,
    cancel_actor_is_acked,
    cancelled_call_reports_context_cancelled;
    skip "a thread cannot be killed: a stuck thread actor is abandoned (backends::thread_stuck_actor_is_abandoned)":
        unresponsive_actor_is_too_slow_then_killed, hard_kill_skips_the_request,
);

/// Scenario 7a: `an.cancel()` on an idle daemon returns cleanly.
async fn nursery_cancel_returns_cleanly(t: TransportKind) {
    in_nursery(t, async |an| {
        an.start_actor("idle").await?;
        assert_eq!(an.children().len(), 1);
        an.cancel().await;
        assert!(an.cancel_called());
        assert!(an.children().is_empty());
        Ok(())
    })
    .await
    .unwrap();
}

#[derive(Debug, thiserror::Error)]
#[error("interrupted by the user")]
struct Interrupted;

/// Scenario 7b: an error raised in the body (tractor's KeyboardInterrupt
/// case) propagates as itself after the daemon is cancelled.
async fn body_error_propagates_bare(t: TransportKind) {
    let err = in_nursery(t, async |an| {
        an.start_actor("idle").await?;
        Err::<(), _>(Error::Cancelled(Interrupted.to_string()))
    })
    .await
    .unwrap_err();
    assert!(
        matches!(&err, Error::Cancelled(m) if m == "interrupted by the user"),
        "{err}"
    );
}

/// `cancel_actor` returns whether the actor acknowledged; a second call on
/// the gone actor answers `false` at once.
async fn cancel_actor_is_acked(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("polite").enable_modules([MODULE]).await?;
        p.run(common::pid::call()).await?;
        assert!(p.cancel_actor().await?);
        // Once the actor is gone, a cancel answers `false` at once.
        crate::wait::until_async(
            "the cancelled actor to disconnect",
            Duration::from_secs(5),
            || async { Ok::<_, Error>(!p.is_connected()) },
        )
        .await?;
        let again = Instant::now();
        assert!(!p.cancel_actor().await?);
        assert!(again.elapsed() < Duration::from_millis(50));
        Ok(())
    })
    .await
    .unwrap();
}

/// An actor whose thread is blocked cannot ack: with `raise_on_timeout`
/// that is `ActorTooSlow`; the nursery's ladder still reaps it.
async fn unresponsive_actor_is_too_slow_then_killed(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("stuck").enable_modules([MODULE]).await?;
        let path = common::marker_path("too-slow");
        let blocked = p.run(common::touch_then_block::call(path.clone(), 5_000));
        tokio::pin!(blocked);
        // Make sure the block started: a StartAck cannot tell us, so the
        // endpoint creates a file right before it blocks its thread.
        tokio::select! {
            _ = &mut blocked => panic!("block ended early"),
            r = common::wait_exists(&path) => r?,
        }
        let _ = std::fs::remove_file(&path);
        let e = p
            .cancel_actor()
            .timeout(Duration::from_millis(100))
            .raise_on_timeout()
            .await
            .unwrap_err();
        assert!(matches!(e, Error::ActorTooSlow { .. }), "{e}");
        let started = Instant::now();
        an.cancel().await;
        // Cancel request (0.5 s) → SIGTERM (ignored while blocked, 1.6 s) → SIGKILL.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?}",
            started.elapsed()
        );
        Ok(())
    })
    .await
    .unwrap();
}

/// `cancel().hard_kill()` terminates at once, without a cancel request.
async fn hard_kill_skips_the_request(t: TransportKind) {
    in_nursery(t, async |an| {
        for i in 0..3 {
            an.start_actor(format!("victim_{i}")).await?;
        }
        let started = Instant::now();
        an.cancel().hard_kill().await;
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(an.children().is_empty());
        Ok(())
    })
    .await
    .unwrap();
}

/// A call in flight when its actor is cancelled ends with
/// `ContextCancelled` naming the canceller.
async fn cancelled_call_reports_context_cancelled(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("sleepy").enable_modules([MODULE]).await?;
        let (res, acked) = tokio::join!(p.run(common::sleep_forever::call()), async {
            // Cancel once the call is known to be running.
            p.run(common::pid::call()).await.ok();
            p.cancel_actor().await
        });
        assert!(acked?);
        let e = res.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::ContextCancelled, "{r}");
        assert_eq!(r.canceller(), Some(tractor::current_actor()?.aid()));
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::endpoint]
async fn relay_need_coffee() -> Result<u32, tractor::Error> {
    tractor::open_nursery(async |an| {
        let p = an.start_actor("leaf").enable_modules([MODULE]).await?;
        p.run(common::need_coffee::call(0)).await
    })
    .await
}

/// An error crossing two hops keeps its source and records its path.
async fn relayed_error_records_its_path(t: TransportKind) {
    in_root(t, async || {
        let e = tractor::open_nursery(async |an| {
            let mid = an
                .run_in_actor(relay_need_coffee::call())
                .name("middle")
                .await?;
            mid.wait_for_result().await
        })
        .await
        .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::Relayed, "{r}");
        assert!(r.is_inception());
        assert!(r.src_type().ends_with("NotEnoughCoffee"));
        assert_eq!(r.origin().name, "leaf");
        assert_eq!(r.relay_uid().name, "middle");
        let path: Vec<_> = r.relay_path().iter().map(|a| a.name.as_str()).collect();
        assert_eq!(path, ["leaf", "middle"]);
        assert!(r.downcast::<common::NotEnoughCoffee>().is_some());
        Ok(())
    })
    .await
    .unwrap();
}

mod absorbed {
    use super::*;

    both_transports!(cancelling_a_one_shot_ourselves_is_absorbed);
}

/// A one-shot child we cancel ourselves (`cancel_actor`) does not fail the
/// nursery; its result says it was cancelled, by us.
async fn cancelling_a_one_shot_ourselves_is_absorbed(t: TransportKind) {
    in_root(t, async || {
        let child = tractor::open_nursery(async |an| {
            let c = an.run_in_actor(common::sleep_forever::call()).await?;
            c.run(common::pid::call()).await.ok();
            assert!(c.cancel_actor().await?);
            Ok(c)
        })
        .await?;
        let e = child.wait_for_result().await.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::ContextCancelled, "{r}");
        assert_eq!(r.canceller(), Some(tractor::current_actor()?.aid()));
        Ok(())
    })
    .await
    .unwrap();
}

mod root_cancel {
    use super::*;

    both_transports!(cancelling_the_root_cancels_its_body);
}

/// Cancels the actor at `addr` on behalf of this actor.
#[tractor::endpoint]
async fn cancel_root_at(addr: String) -> Result<bool, Error> {
    let addr: tractor::Addr = addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
    tractor::connect_portal(&addr).await?.cancel_actor().await
}

/// A cancel request to the root itself (here from its own child, as the
/// `tractor cancel` CLI would send it) cancels the root's body and tears
/// the tree down, instead of leaving a root that refuses all work.
async fn cancelling_the_root_cancels_its_body(t: TransportKind) {
    let started = Instant::now();
    let e = in_root(t, async || {
        let root_addr = tractor::current_actor()?.accept_addr().to_string();
        tractor::open_nursery(async |an| {
            let kid = an
                .start_actor("rebel")
                .enable_modules([module_path!()])
                .await?;
            // The call cannot return: the root's cancel ends this body first.
            kid.run(cancel_root_at::call(root_addr)).await?;
            Err::<(), _>(Error::custom("the body outlived the root's cancellation"))
        })
        .await
    })
    .await
    .unwrap_err();
    assert!(
        matches!(&e, Error::Cancelled(m) if m.contains("cancelled by rebel")),
        "{e}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

mod stuck {
    use super::*;

    both_transports!(
        body_error_beats_a_child_blocked_in_sleep,
        grandchild_blocked_in_sync_sleep,
        busy_looping_child_is_killed_on_nursery_cancel,
    );
}

/// Longer than the whole ladder: only SIGKILL ends the block in time.
const BLOCK_MS: u64 = 10_000;
/// Cancel request (0.5 s) + SIGTERM grace (1.6 s) + slack for a loaded box.
const LADDER_BOUND: Duration = Duration::from_secs(4);

/// The root body's own failure, tractor's "assert 0" in the root.
fn root_assertion() -> Result<Error, Error> {
    Ok(Error::Remote(tractor::RemoteActorError::new_local(
        "AssertionError",
        "the root asserts while a descendant is stuck",
        tractor::current_actor()?.aid(),
    )))
}

/// The nursery returned the body's own error, not a cancellation or a
/// child failure that the teardown caused.
fn assert_is_root_assertion(e: &Error) {
    let r = e
        .as_remote()
        .unwrap_or_else(|| panic!("expected the body's own error, got {e}"));
    assert_eq!(r.boxed_type(), "AssertionError", "{r}");
    assert_eq!(r.origin().name, "root", "{r}");
}

/// Runs a nursery whose body starts `stuck` (which touches a marker file,
/// then blocks), waits for the marker, then fails; returns the nursery's
/// error and how long it took from the failure. Asserts the tree is gone.
async fn fail_while_stuck<F>(t: TransportKind, tag: &str, stuck: F) -> (Error, Duration)
where
    F: AsyncFnOnce(&tractor::ActorNursery, String) -> Result<(), Error>,
{
    let path = common::marker_path(tag);
    let out = in_root(t, async || {
        let mut failed_at = None;
        let e = tractor::open_nursery(async |an| {
            stuck(an, path.clone()).await?;
            common::wait_exists(&path).await?;
            failed_at = Some(Instant::now());
            Err::<(), _>(root_assertion()?)
        })
        .await
        .unwrap_err();
        let took = failed_at.expect("the body failed").elapsed();
        common::assert_tree_gone(Duration::from_secs(1)).await;
        Ok((e, took))
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&path);
    out
}

/// A one-shot child blocked in `std::thread::sleep` cannot ack the cancel
/// its nursery sends when the body fails: the ladder escalates to SIGKILL
/// within its bounds, and the body's error is what the root sees.
async fn body_error_beats_a_child_blocked_in_sleep(t: TransportKind) {
    let (e, took) = fail_while_stuck(t, "sleeper", async |an, path| {
        an.run_in_actor(common::touch_then_block::call(path, BLOCK_MS))
            .name("sleeper")
            .await?;
        Ok(())
    })
    .await;
    eprintln!("[timing] {t}: body error -> nursery returned (child blocked in sleep): {took:?}");
    assert_is_root_assertion(&e);
    assert!(took < LADDER_BOUND, "{took:?}");
}

/// Opens a nursery with one one-shot grandchild that touches `path`, then
/// blocks in non-yielding code for `ms`.
#[tractor::endpoint]
async fn spawn_blocked_grandchild(path: String, ms: u64) -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        an.run_in_actor(common::touch_then_block::call(path, ms))
            .name("blocked_grandchild")
            .await?;
        Ok(())
    })
    .await
}

/// Scenario 10: a grandchild blocked in non-yielding code; the root's body
/// fails meanwhile → the root's own error surfaces within the ladder's
/// bounds, the grandchild is hard-killed and every process is reaped.
async fn grandchild_blocked_in_sync_sleep(t: TransportKind) {
    let (e, took) = fail_while_stuck(t, "grandchild", async |an, path| {
        an.run_in_actor(spawn_blocked_grandchild::call(path, BLOCK_MS))
            .name("spawner")
            .await?;
        Ok(())
    })
    .await;
    eprintln!(
        "[timing] {t}: body error -> nursery returned (grandchild blocked in sleep): {took:?}"
    );
    assert_is_root_assertion(&e);
    assert!(took < LADDER_BOUND, "{took:?}");
}

/// A daemon busy-looping (`loop {}` style, never yielding) under a
/// nursery cancel: SIGTERM cannot be handled either, SIGKILL ends it, all
/// within the ladder's bounds.
async fn busy_looping_child_is_killed_on_nursery_cancel(t: TransportKind) {
    let path = common::marker_path("spinner");
    in_nursery(t, async |an| {
        let p = an.start_actor("spinner").enable_modules([MODULE]).await?;
        tokio::select! {
            r = p.run(common::touch_then_spin::call(path.clone(), BLOCK_MS)) => {
                panic!("the spin ended before the cancel: {r:?}")
            }
            r = common::wait_exists(&path) => r?,
        }
        let started = Instant::now();
        an.cancel().await;
        let took = started.elapsed();
        eprintln!("[timing] {t}: nursery cancel of a busy-looping child: {took:?}");
        assert!(took < LADDER_BOUND, "{took:?}");
        assert!(an.children().is_empty());
        Ok(())
    })
    .await
    .unwrap();
    let _ = std::fs::remove_file(&path);
}
