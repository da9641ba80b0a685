//! `open_actor_cluster`: n daemons started at once, by name, torn down
//! together however the body ends (tractor's `test_clustering.py`).

use std::collections::HashSet;
use std::time::Duration;

use tractor::{Cluster, Context, Error, RemoteErrorKind, TransportKind};

use crate::both_transports;
use crate::common::{self, in_root};

/// This module's path: the allowlist entry for its endpoints.
const MODULE: &str = module_path!();

both_transports!(
    a_cluster_by_name,
    one_actor_per_core_by_default,
    streaming_to_an_actor_cluster,
    a_failing_actor_tears_the_cluster_down,
    hard_kill_reaps_a_wedged_actor,
);

/// Echoes every item back, doubled, until the caller closes its side;
/// returns how many it echoed.
#[tractor::context]
async fn doubler(ctx: Context<(), u64, u64>) -> Result<u64, Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
    let mut n = 0;
    while let Some(v) = stream.recv().await? {
        stream.send(v * 2).await?;
        n += 1;
    }
    Ok(n)
}

async fn a_cluster_by_name(t: TransportKind) {
    let res = in_root(t, async || {
        let cluster = Cluster::new([common::MODULE]).names(["left", "middle", "right"]);
        let pids = tractor::open_actor_cluster(cluster, async |c| {
            assert_eq!(c.len(), 3);
            assert_eq!(c.names().collect::<Vec<_>>(), ["left", "middle", "right"]);
            let middle = c.get("middle").ok_or_else(|| Error::custom("no middle"))?;
            assert_eq!(middle.aid().name, "middle");
            assert!(c.get("nobody").is_none());
            let mut pids = HashSet::new();
            for (name, portal) in c.iter() {
                assert_eq!(portal.aid().name, name);
                pids.insert(portal.run(common::pid::call()).await?);
            }
            Ok(pids)
        })
        .await?;
        assert_eq!(pids.len(), 3, "three processes");
        assert!(!pids.contains(&std::process::id()));
        // Torn down together when the body returned.
        common::assert_tree_gone(Duration::from_secs(3)).await;
        Ok(())
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
}

async fn one_actor_per_core_by_default(t: TransportKind) {
    let res = in_root(t, async || {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let names = tractor::open_actor_cluster(Cluster::new([common::MODULE]), async |c| {
            Ok(c.names().map(str::to_string).collect::<Vec<_>>())
        })
        .await?;
        let expected: Vec<String> = (0..cores).map(|i| format!("worker_{i}")).collect();
        assert_eq!(names, expected);
        Ok(())
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
}

async fn streaming_to_an_actor_cluster(t: TransportKind) {
    let res = in_root(t, async || {
        let cluster = Cluster::new([MODULE]).count(3);
        tractor::open_actor_cluster(cluster, async |c| {
            // One context per actor, all streaming at once.
            let per_actor = c.portals().map(|portal| {
                portal.open_context(doubler::call(), async |ctx, ()| {
                    let stream = ctx.open_stream()?;
                    let mut sum = 0;
                    for v in 1..=50u64 {
                        stream.send(v).await?;
                        sum += stream.recv().await?.ok_or_else(|| Error::custom("ended"))?;
                    }
                    stream.close();
                    let echoed = ctx.wait_for_result().await?;
                    Ok::<_, Error>((sum, echoed))
                })
            });
            for (sum, echoed) in futures::future::try_join_all(per_actor).await? {
                assert_eq!(sum, 2 * (1..=50).sum::<u64>());
                assert_eq!(echoed, 50);
            }
            Ok(())
        })
        .await
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
}

async fn a_failing_actor_tears_the_cluster_down(t: TransportKind) {
    let res = in_root(t, async || {
        let cluster = Cluster::new([common::MODULE]).count(3);
        let res = tractor::open_actor_cluster(cluster, async |c| {
            let second = c
                .get("worker_1")
                .ok_or_else(|| Error::custom("no worker_1"))?;
            second.run(common::panic_now::call("boom".into())).await?;
            Ok(())
        })
        .await;
        match &res {
            Err(Error::Remote(r)) => {
                assert_eq!(r.kind(), RemoteErrorKind::Panic, "{r}");
                assert!(r.message().contains("boom"), "{r}");
            }
            other => panic!("expected the worker's panic, got {other:?}"),
        }
        common::assert_tree_gone(Duration::from_secs(3)).await;
        Ok(())
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
}

async fn hard_kill_reaps_a_wedged_actor(t: TransportKind) {
    let res = in_root(t, async || {
        let marker = common::marker_path("cluster-wedged");
        let cluster = Cluster::new([common::MODULE]).count(2).hard_kill();
        let outcome = tractor::open_actor_cluster(cluster, async |c| {
            let wedged = c
                .get("worker_0")
                .ok_or_else(|| Error::custom("no worker_0"))?;
            // Blocks its actor's only thread: it cannot answer a cancel.
            let call = wedged.run(common::touch_then_block::call(marker.clone(), 60_000));
            tokio::select! {
                r = call => panic!("the blocking call returned: {r:?}"),
                r = common::wait_exists(&marker) => r?,
            }
            Ok(())
        })
        .await;
        let _ = std::fs::remove_file(&marker);
        outcome?;
        common::assert_tree_gone(Duration::from_secs(3)).await;
        Ok(())
    })
    .await;
    assert!(res.is_ok(), "{res:?}");
}
