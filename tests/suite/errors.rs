//! Errors: boxing, relay, aggregation, one-cancels-all (scenarios 1-6, 14, 15).

use std::time::{Duration, Instant};

use tractor::{Error, RemoteErrorKind, TransportKind};

use crate::common::{self, MODULE, NotEnoughCoffee, in_nursery, in_root};
use crate::{both_transports, on_backend};

both_transports!(
    wrong_arguments_is_a_single_msg_type_error,
    one_shot_fails_while_daemons_idle,
    two_failures_aggregate,
    twenty_five_failures_all_kept timeout = 60,
    daemon_rpc_error_cancels_sleepers,
    nested_multierrors timeout = 60,
    allowlist_and_missing_endpoint,
    second_root_is_a_runtime_failure,
    typed_error_downcasts,
    panic_is_boxed_and_actor_keeps_serving,
);

on_backend!(forkserver = "forkserver":
    wrong_arguments_is_a_single_msg_type_error,
    one_shot_fails_while_daemons_idle,
    two_failures_aggregate,
    nested_multierrors timeout = 60,
    typed_error_downcasts,
    panic_is_boxed_and_actor_keeps_serving,
);
on_backend!(thread = "thread":
    wrong_arguments_is_a_single_msg_type_error,
    one_shot_fails_while_daemons_idle,
    two_failures_aggregate,
    nested_multierrors timeout = 60,
    typed_error_downcasts,
    panic_is_boxed_and_actor_keeps_serving,
);

/// Scenario 1: a call with arguments that do not match the endpoint's
/// signature raises one (not grouped) remote error naming the mismatch.
async fn wrong_arguments_is_a_single_msg_type_error(t: TransportKind) {
    let err = in_nursery(t, async |an| {
        let p = an.start_actor("typed").enable_modules([MODULE]).await?;
        // `add` takes two u64s; send a string instead.
        let _: u64 = p.run_by_name(MODULE, "add", &("nope",)).await?;
        Ok(())
    })
    .await
    .unwrap_err();
    let r = err
        .as_remote()
        .expect("a bare remote error, not an aggregate");
    assert_eq!(r.kind(), RemoteErrorKind::MsgTypeError, "{r}");
    assert!(r.message().contains("add"), "{r}");
    assert_eq!(r.origin().name, "typed");
}

/// Scenario 2: a one-shot child fails while 3 daemons idle: the root sees
/// the boxed assertion, the daemons are cancelled, nothing survives.
async fn one_shot_fails_while_daemons_idle(t: TransportKind) {
    let err = in_nursery(t, async |an| {
        for i in 0..3 {
            an.start_actor(format!("daemon_{i}"))
                .enable_modules([MODULE])
                .await?;
        }
        an.run_in_actor(common::assert_err::call(0)).await?;
        Ok(())
    })
    .await
    .unwrap_err();
    let r = err.as_remote().expect("bare remote error");
    assert_eq!(r.kind(), RemoteErrorKind::Panic);
    assert!(r.message().contains("assertion"), "{r}");
    assert_eq!(r.origin().name, "assert_err");
}

/// Scenario 3: two one-shot children fail; the body re-raises the one it
/// awaited; the nursery raises both, once each.
async fn two_failures_aggregate(t: TransportKind) {
    // Both fail at once; tractor's order waits for both, so neither is
    // cancelled before it fails (under one-cancels-all either may be).
    let err = common::in_root(t, async || {
        tractor::open_nursery_with(tractor::Supervision::WaitForAllResults, async |an| {
            let a = an
                .run_in_actor(common::assert_err::call(0))
                .name("a")
                .await?;
            an.run_in_actor(common::assert_err::call(0))
                .name("b")
                .await?;
            a.wait_for_result().await?;
            Ok(())
        })
        .await
    })
    .await
    .unwrap_err();
    let Error::Multi(m) = err else {
        panic!("expected an aggregate, got {err}")
    };
    let mut names: Vec<_> = m.errors.iter().map(|(a, _)| a.name.clone()).collect();
    names.sort();
    assert_eq!(names, ["a", "b"], "{m}");
    for (_, e) in &m.errors {
        assert_eq!(
            e.as_remote().map(|r| r.kind()),
            Some(RemoteErrorKind::Panic)
        );
    }
}

/// Scenario 4: 25 one-shot children fail (half at once, half after
/// 0.5 s) in a nursery that waits for every result (tractor's order, the
/// opt-in for batch jobs): exactly 25 boxed errors, none dropped.
async fn twenty_five_failures_all_kept(t: TransportKind) {
    let started = Instant::now();
    let err = common::in_root(t, async || {
        tractor::open_nursery_with(tractor::Supervision::WaitForAllResults, async |an| {
            for i in 0..25u64 {
                let delay = if i % 2 == 0 { 0 } else { 500 };
                an.run_in_actor(common::assert_err::call(delay))
                    .name(format!("fail_{i}"))
                    .await?;
            }
            Ok(())
        })
        .await
    })
    .await
    .unwrap_err();
    let Error::Multi(m) = err else {
        panic!("expected an aggregate, got {err}")
    };
    assert_eq!(m.errors.len(), 25, "{m}");
    assert!(m.errors.iter().all(|(_, e)| {
        e.as_remote()
            .is_some_and(|r| r.kind() == RemoteErrorKind::Panic)
    }));
    assert!(started.elapsed() < Duration::from_secs(30));
}

/// Scenario 5: a daemon's RPC fails while 3 one-shot children sleep
/// forever; the body re-raises: one bare error, the sleepers cancelled.
async fn daemon_rpc_error_cancels_sleepers(t: TransportKind) {
    let err = in_nursery(t, async |an| {
        for i in 0..3 {
            an.run_in_actor(common::sleep_forever::call())
                .name(format!("sleeper_{i}"))
                .await?;
        }
        let d = an.start_actor("daemon").enable_modules([MODULE]).await?;
        d.run(common::assert_err::call(0)).await?;
        Ok(())
    })
    .await
    .unwrap_err();
    let r = err.as_remote().expect("bare remote error");
    assert_eq!(r.origin().name, "daemon");
    assert_eq!(r.kind(), RemoteErrorKind::Panic);
}

/// Scenario 6: root → 2 spawners → 2 sub-spawners each → 2 failing leaves
/// each: the root gets exactly 2 errors, each boxing an aggregate.
async fn nested_multierrors(t: TransportKind) {
    let started = Instant::now();
    let err = common::in_root(t, async || {
        tractor::open_nursery_with(tractor::Supervision::WaitForAllResults, async |an| {
            for i in 0..2 {
                an.run_in_actor(common::spawn_and_error::call(2, 2))
                    .name(format!("spawner_{i}"))
                    .await?;
            }
            Ok(())
        })
        .await
    })
    .await
    .unwrap_err();
    let Error::Multi(m) = err else {
        panic!("expected an aggregate, got {err}")
    };
    assert_eq!(m.errors.len(), 2, "{m}");
    for (_, e) in &m.errors {
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::Multi, "{r}");
        let inner: Vec<_> = r.grouped().collect();
        assert_eq!(inner.len(), 2, "{r}");
        for sub in inner {
            assert_eq!(sub.kind(), RemoteErrorKind::Multi, "{sub}");
            assert_eq!(sub.grouped().count(), 2);
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
}

/// Scenario 14: a module outside the allowlist, and a missing fn in an
/// enabled one, are refused with distinct typed errors.
async fn allowlist_and_missing_endpoint(t: TransportKind) {
    in_nursery(t, async |an| {
        let closed = an.start_actor("closed").await?;
        let e = closed.run(common::pid::call()).await.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::ModuleNotExposed, "{r}");
        assert!(r.message().contains("enable_modules"), "{r}");

        let open = an.start_actor("open").enable_modules([MODULE]).await?;
        let e = open
            .run_by_name::<_, ()>(MODULE, "does_not_exist", &())
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::NoSuchEndpoint, "{r}");
        assert!(r.message().contains("does_not_exist"), "{r}");
        // The actor keeps serving after refusals.
        assert_eq!(open.run(common::add::call(1, 1)).await?, 2);
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// Scenario 15: a second root inside a live tree is a runtime failure;
/// done in a child, it arrives boxed.
async fn second_root_is_a_runtime_failure(t: TransportKind) {
    in_root(t, async || {
        let e = tractor::open_root_actor(tractor::RootConfig::new("again"), async || Ok(()))
            .await
            .unwrap_err();
        assert!(matches!(e, Error::NestedRoot { .. }), "{e}");
        tractor::open_nursery(async |an| {
            let p = an.start_actor("child").enable_modules([MODULE]).await?;
            let e = p.run(common::open_second_root::call()).await.unwrap_err();
            let r = e.as_remote().expect("remote");
            assert_eq!(r.kind(), RemoteErrorKind::RuntimeFailure, "{r}");
            p.cancel_actor().await?;
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// A serializable error type comes back as itself through `downcast`, with
/// its type name, message and source actor.
async fn typed_error_downcasts(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("barista").enable_modules([MODULE]).await?;
        assert_eq!(p.run(common::need_coffee::call(3)).await?, 3);
        let e = p.run(common::need_coffee::call(1)).await.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::User);
        assert!(r.boxed_type().ends_with("NotEnoughCoffee"), "{r}");
        assert_eq!(r.message(), "only 1 cups of coffee");
        assert_eq!(r.origin().name, "barista");
        assert_eq!(r.relay_path().len(), 1);
        assert_eq!(
            r.downcast::<NotEnoughCoffee>(),
            Some(NotEnoughCoffee { cups: 1 })
        );
        assert_eq!(r.downcast::<String>(), None);
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// A panicking endpoint gives its caller a boxed `panic` while another
/// call in flight in the same actor, and later calls, still answer.
async fn panic_is_boxed_and_actor_keeps_serving(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("fragile").enable_modules([MODULE]).await?;
        // A call that is still in flight when the other one panics.
        let slow = p.run(common::sleep_ms::call(300));
        let boom = p.run(common::panic_now::call("kaboom".into()));
        let (slow, boom) = tokio::join!(slow, boom);
        assert_eq!(slow?, 300);
        let e = boom.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::Panic);
        assert_eq!(r.message(), "kaboom");
        assert_eq!(p.run(common::add::call(20, 22)).await?, 42);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}
