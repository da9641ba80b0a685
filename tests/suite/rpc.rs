//! Portals: typed calls, name-based calls, concurrency, dropped calls,
//! calls answered at once and calls that wait.

use std::time::Duration;

use tractor::{RemoteErrorKind, TransportKind};

use crate::both_transports;
use crate::common::{self, MODULE, in_nursery};

both_transports!(
    typed_and_named_calls_agree,
    many_concurrent_calls_on_one_portal,
    dropped_call_cancels_the_remote_task,
    calls_ready_at_once_and_calls_that_wait_mix,
);

async fn typed_and_named_calls_agree(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("calc").enable_modules([MODULE]).await?;
        let typed = p.run(common::add::call(40, 2)).await?;
        #[derive(serde::Serialize)]
        struct AddArgs {
            a: u64,
            b: u64,
        }
        let named: u64 = p
            .run_by_name(MODULE, "add", &AddArgs { a: 40, b: 2 })
            .await?;
        assert_eq!((typed, named), (42, 42));
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

async fn many_concurrent_calls_on_one_portal(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("busy").enable_modules([MODULE]).await?;
        let calls = (0..200u64).map(|i| p.run(common::add::call(i, 1)));
        let results = futures::future::try_join_all(calls).await?;
        assert_eq!(results, (1..=200).collect::<Vec<u64>>());
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Dropping a `run` future asks the remote task to cancel; the actor stays
/// healthy.
async fn dropped_call_cancels_the_remote_task(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("worker").enable_modules([MODULE]).await?;
        // Boxed, so that `drop` really drops the call's future.
        let mut call = Box::pin(p.run(common::counted_sleep_forever::call()));
        // Wait until the remote task runs, then drop the call.
        let running =
            crate::wait::until_async("the remote task to run", Duration::from_secs(5), || async {
                let n = p.run(common::live_sleepers::call()).await?;
                Ok::<_, tractor::Error>(crate::wait::holds(n == 1, format!("{n} running")))
            });
        tokio::select! {
            r = &mut call => panic!("sleeper returned: {r:?}"),
            r = running => r?,
        }
        drop(call);
        crate::wait::until_async("the remote task to end", Duration::from_secs(5), || async {
            let n = p.run(common::live_sleepers::call()).await?;
            Ok::<_, tractor::Error>(crate::wait::holds(n == 0, format!("{n} still running")))
        })
        .await?;
        assert_eq!(p.run(common::add::call(1, 2)).await?, 3);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Waits `turns` turns of the event loop, then answers with the name of
/// the actor it runs in.
#[tractor::endpoint]
async fn name_after(turns: u32) -> Result<String, tractor::Error> {
    for _ in 0..turns {
        tokio::task::yield_now().await;
    }
    Ok(tractor::current_actor()?.name().to_string())
}

/// A call with its result at once is answered from the message loop; one
/// that waits goes on in a task of its own. Mixed and concurrent, each
/// kind sees its actor and gets its own answer: a value, an error or a
/// panic.
async fn calls_ready_at_once_and_calls_that_wait_mix(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an
            .start_actor("mixed")
            .enable_modules([MODULE, module_path!()])
            .await?;
        for round in 0..3u32 {
            let names = (0..40u32).map(|i| p.run(name_after::call((i + round) % 4)));
            let sums = (0..40u64).map(|i| p.run(common::add::call(i, 1)));
            let errors = (0..10u32).map(|i| p.run(common::need_coffee::call(i % 3)));
            let panics = (0..10u32).map(|i| p.run(common::panic_now::call(format!("boom {i}"))));
            let (names, sums, errors, panics) = tokio::join!(
                futures::future::join_all(names),
                futures::future::try_join_all(sums),
                futures::future::join_all(errors),
                futures::future::join_all(panics),
            );
            for name in names {
                assert_eq!(name?, "mixed");
            }
            assert_eq!(sums?, (1..=40).collect::<Vec<u64>>());
            for (i, e) in errors.into_iter().enumerate() {
                let e = e.unwrap_err();
                let r = e.as_remote().expect("a remote error");
                assert_eq!(r.kind(), RemoteErrorKind::User, "{r}");
                assert_eq!(r.message(), format!("only {} cups of coffee", i % 3));
            }
            for (i, e) in panics.into_iter().enumerate() {
                let e = e.unwrap_err();
                let r = e.as_remote().expect("a remote error");
                assert_eq!(r.kind(), RemoteErrorKind::Panic, "{r}");
                assert!(r.message().contains(&format!("boom {i}")), "{r}");
            }
        }
        assert_eq!(p.run(common::add::call(1, 2)).await?, 3);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}
