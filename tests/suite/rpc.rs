//! Portals: typed calls, name-based calls, concurrency, dropped calls.

use std::time::Duration;

use tractor::TransportKind;

use crate::both_transports;
use crate::common::{self, MODULE, in_nursery};

both_transports!(
    typed_and_named_calls_agree,
    many_concurrent_calls_on_one_portal,
    dropped_call_cancels_the_remote_task,
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
