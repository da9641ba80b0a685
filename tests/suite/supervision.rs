//! Supervision under failure: a failure cancels its siblings at once, a
//! stopped or wedged child is detected by the channel heartbeat and
//! killed, and a value a body produced is never thrown away.

use std::time::{Duration, Instant};

use tractor::{Context, Error, Heartbeat, RemoteErrorKind, RootConfig, TransportKind};

use crate::common::{self, MODULE, in_nursery};
use crate::{both_transports, on_backend};

both_transports!(
    failure_cancels_healthy_siblings_at_once,
    failure_cancels_a_sibling_that_never_ends,
    body_propagating_a_child_error_cancels_siblings,
    daemon_killed_by_a_signal_cancels_siblings,
    stopped_child_is_detected_and_killed,
    wedged_child_is_detected_and_killed,
    idle_channels_stay_alive_on_heartbeats,
    context_value_kept_when_callee_dies_after_body,
    nursery_value_kept_when_daemon_dies_after_body,
    cancelled_task_reports_its_children_failures,
    failing_callee_error_is_not_masked_by_its_stream_end,
);

on_backend!(forkserver = "forkserver":
    failure_cancels_healthy_siblings_at_once,
    daemon_killed_by_a_signal_cancels_siblings,
    stopped_child_is_detected_and_killed,
);
on_backend!(thread = "thread":
    failure_cancels_healthy_siblings_at_once;
    skip "signals reach a process, not a thread actor of it":
        daemon_killed_by_a_signal_cancels_siblings, stopped_child_is_detected_and_killed,
);

/// A root whose channels give a silent peer `timeout_ms`.
async fn in_fast_heartbeat_nursery<T: Send + 'static>(
    t: TransportKind,
    interval_ms: u64,
    timeout_ms: u64,
    body: impl AsyncFnOnce(&tractor::ActorNursery) -> Result<T, Error>,
) -> Result<T, Error> {
    let hb = Heartbeat::new(
        Duration::from_millis(interval_ms),
        Duration::from_millis(timeout_ms),
    );
    let cfg = RootConfig::new("root").transport(t).heartbeat(Some(hb));
    tractor::open_root_actor(cfg, async move || tractor::open_nursery(body).await).await
}

/// The failures inside a nursery error, by actor name.
fn failed_names(err: &Error) -> Vec<String> {
    let mut names: Vec<String> = match err.cause() {
        Error::Multi(m) => m.errors.iter().map(|(a, _)| a.name.clone()).collect(),
        Error::Remote(r) => vec![r.origin().name.clone()],
        Error::ActorFailure { actor, .. } => vec![actor.name.clone()],
        Error::PeerUnresponsive { peer, .. } => vec![peer.name.clone()],
        other => panic!("not a child failure: {other}"),
    };
    names.sort();
    names
}

/// 7 failing one-shot children among 20: the 13 healthy ones (each would
/// run 30 s) are cancelled at once, and only the 7 failures are reported.
async fn failure_cancels_healthy_siblings_at_once(t: TransportKind) {
    let started = Instant::now();
    let err = in_nursery(t, async |an| {
        for i in 0..20u32 {
            if i % 3 == 0 {
                an.run_in_actor(common::assert_err::call(0))
                    .name(format!("fail_{i:02}"))
                    .await?;
            } else {
                an.run_in_actor(common::sleep_ms::call(30_000))
                    .name(format!("slow_{i:02}"))
                    .await?;
            }
        }
        Ok(())
    })
    .await
    .unwrap_err();
    let names = failed_names(&err);
    assert!(!names.is_empty(), "{err}");
    assert!(
        names.iter().all(|n| n.starts_with("fail_")),
        "only failures are reported, not the cancelled siblings: {err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "siblings were not cancelled at once: {:?}",
        started.elapsed()
    );
}

/// A sibling that never ends (a one-shot child sleeping forever) cannot
/// hold the nursery open once another child failed.
async fn failure_cancels_a_sibling_that_never_ends(t: TransportKind) {
    let started = Instant::now();
    let err = in_nursery(t, async |an| {
        an.run_in_actor(common::counted_sleep_forever::call())
            .name("forever")
            .await?;
        an.run_in_actor(common::assert_err::call(200))
            .name("failing")
            .await?;
        // The body waits on the sibling that never ends: interrupted too.
        std::future::pending::<()>().await;
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(failed_names(&err), ["failing"], "{err}");
    assert_eq!(
        err.as_remote().map(|r| r.kind()),
        Some(RemoteErrorKind::Panic)
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// The natural code: await a child's result and pass its error on with
/// `?`. The siblings are cancelled at once and the error is reported once.
async fn body_propagating_a_child_error_cancels_siblings(t: TransportKind) {
    let started = Instant::now();
    let err = in_nursery(t, async |an| {
        let d = an.start_actor("daemon").enable_modules([MODULE]).await?;
        an.run_in_actor(common::sleep_ms::call(30_000))
            .name("slow")
            .await?;
        let failing = an
            .run_in_actor(common::assert_err::call(100))
            .name("failing")
            .await?;
        failing.wait_for_result().await?;
        d.run(common::sleep_forever::call()).await?;
        Ok(())
    })
    .await
    .unwrap_err();
    let r = err.as_remote().expect("the child's error, bare");
    assert_eq!(r.origin().name, "failing");
    assert_eq!(r.kind(), RemoteErrorKind::Panic);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A daemon that dies by a signal (SIGKILL from outside) is a failure
/// that cancels its siblings and names the daemon.
async fn daemon_killed_by_a_signal_cancels_siblings(t: TransportKind) {
    let started = Instant::now();
    let err = in_nursery(t, async |an| {
        let victim = an.start_actor("victim").enable_modules([MODULE]).await?;
        an.run_in_actor(common::sleep_ms::call(30_000))
            .name("slow")
            .await?;
        let pid = victim.run(common::pid::call()).await?;
        // SAFETY: kill has no memory-safety preconditions; the pid is our child.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        std::future::pending::<()>().await;
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(failed_names(&err), ["victim"], "{err}");
    let Error::ActorFailure { reason, .. } = err.cause() else {
        panic!("expected an ActorFailure, got {err}")
    };
    assert!(reason.contains("signal 9"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// A SIGSTOPped daemon cannot answer: with a 500 ms heartbeat timeout it
/// is declared unresponsive, SIGKILLed and reaped; the call in flight to
/// it ends with that typed error, and the nursery reports it by name.
async fn stopped_child_is_detected_and_killed(t: TransportKind) {
    let started = Instant::now();
    let err = in_fast_heartbeat_nursery(t, 100, 500, async |an| {
        let stopped = an.start_actor("stopped").enable_modules([MODULE]).await?;
        let healthy = an.start_actor("healthy").enable_modules([MODULE]).await?;
        let pid = stopped.run(common::pid::call()).await?;
        // SAFETY: kill has no memory-safety preconditions; the pid is our child.
        unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
        let in_flight = stopped.run(common::sleep_forever::call()).await;
        match &in_flight {
            Err(Error::PeerUnresponsive { peer, .. }) => assert_eq!(peer.name, "stopped"),
            other => panic!("expected PeerUnresponsive, got {other:?}"),
        }
        // The rest of the tree kept working meanwhile.
        assert_eq!(healthy.run(common::add::call(1, 2)).await?, 3);
        in_flight.map(|_| ())
    })
    .await
    .unwrap_err();
    assert_eq!(failed_names(&err), ["stopped"], "{err}");
    assert!(
        matches!(err.cause(), Error::PeerUnresponsive { .. }),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

/// A one-shot child whose runtime thread is wedged in blocking code is
/// detected the same way (and killed: it could not act on SIGTERM).
async fn wedged_child_is_detected_and_killed(t: TransportKind) {
    let started = Instant::now();
    let err = in_fast_heartbeat_nursery(t, 100, 500, async |an| {
        an.run_in_actor(common::block_thread::call(60_000))
            .name("wedged")
            .await?;
        Ok(())
    })
    .await
    .unwrap_err();
    assert_eq!(failed_names(&err), ["wedged"], "{err}");
    let Error::PeerUnresponsive { silent_for, .. } = err.cause() else {
        panic!("expected PeerUnresponsive, got {err}")
    };
    assert!(*silent_for >= Duration::from_millis(500), "{silent_for:?}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

/// Quiet is not dead: with no traffic for many timeouts, heartbeats keep
/// every channel alive.
async fn idle_channels_stay_alive_on_heartbeats(t: TransportKind) {
    in_fast_heartbeat_nursery(t, 20, 100, async |an| {
        let d = an.start_actor("quiet").enable_modules([MODULE]).await?;
        // 1 s of silence on the RPC, 10 heartbeat timeouts.
        assert_eq!(d.run(common::sleep_ms::call(1_000)).await?, 1_000);
        assert!(d.is_connected());
        d.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Runs until the caller closes the stream, then the actor dies before
/// returning (SIGKILL to itself).
#[tractor::context]
pub(crate) async fn die_after_stream(ctx: Context<(), (), u64>) -> Result<u64, Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
    while stream.recv().await?.is_some() {}
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
    std::future::pending().await
}

/// A context body returns a value, then the callee's actor dies before
/// its result: the error says so, and the body's value comes back with it.
async fn context_value_kept_when_callee_dies_after_body(t: TransportKind) {
    let err = in_nursery(t, async |an| {
        let d = an
            .start_actor("doomed")
            .enable_modules([module_path!()])
            .await?;
        let res = d
            .open_context(die_after_stream::call(), async |ctx, ()| {
                let stream = ctx.open_stream()?;
                stream.close();
                Ok(42u64)
            })
            .await;
        let mut e = res.expect_err("the callee died before its result");
        assert!(
            matches!(e.cause(), Error::TransportClosed { peer } if peer.name == "doomed"),
            "{e}"
        );
        assert_eq!(e.take_value::<u64>(), Some(42));
        Ok(())
    })
    .await
    .unwrap_err();
    // The daemon's death is also the nursery's failure.
    assert_eq!(failed_names(&err), ["doomed"], "{err}");
}

/// The body returns a value, then a daemon the nursery still waits on
/// dies: the nursery's error names the daemon and carries the value.
async fn nursery_value_kept_when_daemon_dies_after_body(t: TransportKind) {
    let (returned, body_returned) = tokio::sync::oneshot::channel::<()>();
    let mut err = in_nursery(t, async |an| {
        let d = an.start_actor("doomed").enable_modules([MODULE]).await?;
        let pid = d.run(common::pid::call()).await?;
        // The daemon is SIGKILLed once the body has returned: the end of
        // the body drops `returned`, which wakes this task.
        tokio::spawn(async move {
            let _ = body_returned.await;
            // SAFETY: kill has no memory-safety preconditions; the pid is our child.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        });
        let _returned = returned;
        Ok(String::from("the body's value"))
    })
    .await
    .expect_err("the daemon died");
    assert_eq!(failed_names(&err), ["doomed"], "{err}");
    assert!(err.to_string().contains("already returned"), "{err}");
    assert_eq!(
        err.take_value::<String>().as_deref(),
        Some("the body's value")
    );
}

/// Waits (tractor's order) for a child that fails at once while another
/// sleeps forever; says `started` once the failure is in, then waits.
#[tractor::context]
pub(crate) async fn failed_child_then_wait(ctx: Context) -> Result<(), Error> {
    tractor::open_nursery_with(tractor::Supervision::WaitForAllResults, async |an| {
        let failing = an
            .run_in_actor(common::assert_err::call(0))
            .name("failing_grandchild")
            .await?;
        an.run_in_actor(common::sleep_forever::call())
            .name("sleeping_grandchild")
            .await?;
        let _ = failing.wait_for_result().await;
        ctx.started(()).await?;
        std::future::pending::<()>().await;
        Ok(())
    })
    .await
}

/// A task cancelled while its nursery holds a child's failure reports
/// that failure (as trio would), not a cancellation that would drop it.
async fn cancelled_task_reports_its_children_failures(t: TransportKind) {
    in_nursery(t, async |an| {
        let middle = an
            .start_actor("middle")
            .enable_modules([module_path!(), MODULE])
            .await?;
        let res = middle
            .open_context(failed_child_then_wait::call(), async |ctx, ()| {
                assert!(ctx.cancel().await, "the cancel was acked");
                Ok(())
            })
            .await;
        let err = res.expect_err("the grandchild's failure comes up");
        let r = err.as_remote().expect("a remote error");
        assert_ne!(r.kind(), RemoteErrorKind::ContextCancelled, "{r}");
        assert_eq!(r.origin().name, "failing_grandchild", "{r}");
        assert_eq!(r.src_type(), "panic", "{r}");
        middle.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Sends one value, then fails with its stream still open (dropped).
#[tractor::context]
pub(crate) async fn send_one_then_fail(ctx: Context<(), u64, ()>) -> Result<(), String> {
    ctx.started(()).await.map_err(|e| e.to_string())?;
    let stream = ctx.open_stream().map_err(|e| e.to_string())?;
    stream.send(1).await.map_err(|e| e.to_string())?;
    Err("the callee failed after sending".into())
}

/// A callee that fails with its stream open: the caller's `recv` gives
/// the value, then the callee's error, never a clean end that a caller
/// could take for its own failure and so mask the callee's.
async fn failing_callee_error_is_not_masked_by_its_stream_end(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an
            .start_actor("failing")
            .enable_modules([module_path!()])
            .await?;
        for _ in 0..20 {
            let res: Result<(), Error> = p
                .open_context(send_one_then_fail::call(), async |ctx, ()| {
                    let stream = ctx.open_stream()?;
                    assert_eq!(stream.recv().await?, Some(1));
                    match stream.recv().await {
                        Ok(None) => Err(Error::custom("a clean end instead of the error")),
                        Ok(Some(v)) => panic!("unexpected value {v}"),
                        Err(e) => Err(e),
                    }
                })
                .await;
            let err = res.expect_err("the callee failed");
            let r = err.as_remote().unwrap_or_else(|| panic!("masked: {err}"));
            assert_eq!(r.message(), "the callee failed after sending", "{r}");
        }
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}
