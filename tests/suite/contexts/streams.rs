//! One-way streams (`open_stream_from`): consumers cancelled and
//! restarted lose nothing, a dropped consumer cancels the remote task,
//! and a 4-actor streaming pipeline cancelled at any moment tears down
//! cleanly, and one stream fans out to 22 local subscribers through
//! `trionics::broadcast_receiver` (scenarios 31, 32, 33). Batching keeps
//! every item's order and promptness: what comes before a failure arrives
//! before it, and a slow generator's items are not held back.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tractor::{Context, Error, TransportKind};

use super::spawn_ctx_actor;
use crate::common::in_nursery;
use crate::{both_transports, on_backend};

/// This module's path: the allowlist entry for its endpoints.
pub(super) const HERE: &str = module_path!();

both_transports!(
    items_of_every_size_arrive_whole_and_in_order,
    shared_bytes_of_every_size_arrive_whole_and_in_order,
    shared_bytes_echo_both_ways_on_a_context_stream,
    one_way_stream_survives_consumer_restarts,
    dropping_a_one_way_stream_cancels_it,
    pipeline_dedups_and_cancels_cleanly timeout = 60,
    local_fanout_from_one_stream,
    items_before_a_generator_panic_arrive_first,
    items_before_one_that_does_not_encode_arrive_first,
    a_slow_generator_s_items_are_not_held_back,
);

on_backend!(forkserver = "forkserver":
    one_way_stream_survives_consumer_restarts,
    dropping_a_one_way_stream_cancels_it,
);
on_backend!(thread = "thread":
    one_way_stream_survives_consumer_restarts, items_of_every_size_arrive_whole_and_in_order,
    shared_bytes_of_every_size_arrive_whole_and_in_order;
    skip "it counts drops in statics, which thread actors share with every other actor of the process":
        dropping_a_one_way_stream_cancels_it,
);

/// Item sizes around every threshold of the path: empty, tiny, a read
/// buffer's worth, a frame handed over whole (1 MiB and up), 16 MiB; small
/// ones between large ones.
const SIZES: [usize; 12] = [
    0,
    1,
    100,
    64 * 1024,
    1024 * 1024 - 1,
    7,
    1024 * 1024,
    1024 * 1024 + 1,
    3,
    16 * 1024 * 1024,
    5,
    200_000,
];

fn item(i: usize) -> Vec<u8> {
    (0..SIZES[i]).map(|b| (b * 31 + i) as u8).collect()
}

#[tractor::endpoint]
async fn sized_items() -> impl futures::Stream<Item = serde_bytes::ByteBuf> {
    futures::stream::iter((0..SIZES.len()).map(|i| serde_bytes::ByteBuf::from(item(i))))
}

/// Every item, whatever its size, arrives whole and in order, twice over
/// (the second time after the buffers the first left behind).
async fn items_of_every_size_arrive_whole_and_in_order(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "sizes").await?;
        for _ in 0..2 {
            let mut s = p.open_stream_from(sized_items::call()).await?;
            for (i, size) in SIZES.iter().enumerate() {
                let got = s.recv().await?.expect("an item");
                assert_eq!(got.len(), *size, "item {i}");
                assert!(got.into_vec() == item(i), "item {i} arrived altered");
            }
            assert!(s.recv().await?.is_none());
        }
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// The same sizes as [`tractor::Bytes`], two of the one buffer per item
/// (large ones are spliced into their frame, not copied): the items and
/// the pairs arrive whole and in order.
#[tractor::endpoint]
async fn sized_shared_items() -> impl futures::Stream<Item = (tractor::Bytes, tractor::Bytes)> {
    futures::stream::iter((0..SIZES.len()).map(|i| {
        let b = tractor::Bytes::from(item(i));
        (b.clone(), b)
    }))
}

async fn shared_bytes_of_every_size_arrive_whole_and_in_order(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "shared").await?;
        let mut s = p.open_stream_from(sized_shared_items::call()).await?;
        for (i, size) in SIZES.iter().enumerate() {
            let (a, b) = s.recv().await?.expect("an item");
            assert_eq!((a.len(), b.len()), (*size, *size), "item {i}");
            assert!(*a == *item(i) && a == b, "item {i} arrived altered");
        }
        assert!(s.recv().await?.is_none());
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// Echoes each `Bytes` it gets back on its context stream, then returns
/// how many bytes it echoed.
#[tractor::context]
async fn echo_bytes(ctx: Context<(), tractor::Bytes, tractor::Bytes>) -> Result<u64, Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
    let mut total = 0u64;
    while let Some(b) = stream.recv().await? {
        total += b.len() as u64;
        stream.send(b).await?;
    }
    Ok(total)
}

/// Every size, 16 MiB included, goes out and comes back intact on a
/// context stream (sent with `MsgStream::send` on both sides).
async fn shared_bytes_echo_both_ways_on_a_context_stream(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "echo").await?;
        let total = p
            .open_context(echo_bytes::call(), async |ctx, ()| {
                let stream = ctx.open_stream()?;
                for (i, size) in SIZES.iter().enumerate() {
                    stream.send(tractor::Bytes::from(item(i))).await?;
                    let back = stream.recv().await?.expect("the echo");
                    assert!(
                        *back == *item(i),
                        "item {i} ({size} bytes) came back altered"
                    );
                }
                stream.close();
                ctx.wait_for_result().await
            })
            .await?;
        assert_eq!(total, SIZES.iter().sum::<usize>() as u64);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::endpoint]
async fn count_to(n: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..n)
}

/// Scenario 32: a one-way stream of 11 values whose consumer task is
/// cancelled and restarted on every even value loses nothing.
async fn one_way_stream_survives_consumer_restarts(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "streamer").await?;
        let mut stream = p.open_stream_from(count_to::call(11)).await?;
        let mut got = Vec::new();
        loop {
            // A consumer that is cancelled (dropped) right after an even value.
            let consumer = async {
                loop {
                    match stream.recv().await? {
                        Some(v) => {
                            got.push(v);
                            if v % 2 == 0 {
                                std::future::pending::<()>().await;
                            }
                        }
                        None => return Ok::<bool, Error>(true),
                    }
                }
            };
            match tokio::time::timeout(Duration::from_millis(20), consumer).await {
                Ok(done) => {
                    assert!(done?);
                    break;
                }
                Err(_) => continue,
            }
        }
        assert_eq!(got, (0..11).collect::<Vec<_>>());
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::endpoint]
async fn endless() -> impl futures::Stream<Item = u64> {
    let guard = crate::common::CountDrop("endless");
    futures::stream::iter(0..).map(move |i| {
        let _ = &guard;
        i
    })
}

/// Dropping the consumer of a one-way stream cancels the remote task.
async fn dropping_a_one_way_stream_cancels_it(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "endless").await?;
        let mut s = p.open_stream_from(endless::call()).await?;
        for i in 0..100 {
            assert_eq!(s.next().await.transpose()?, Some(i));
        }
        drop(s);
        crate::wait::until_async(
            "the remote stream's task to be dropped",
            Duration::from_secs(5),
            || async {
                let n = p.run(crate::common::drops::call("endless".into())).await?;
                Ok::<_, Error>(crate::wait::holds(n == 1, format!("{n} drops")))
            },
        )
        .await?;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::endpoint]
async fn stream_data(seed: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..seed)
}

/// root ← aggregator ← two streamers: merges and de-duplicates.
#[tractor::context]
async fn aggregate(ctx: Context<(), u32, ()>, seed: u32) -> Result<usize, Error> {
    tractor::open_nursery(async |an| {
        let mut merged = futures::stream::SelectAll::new();
        for i in 0..2 {
            let p = spawn_ctx_actor(an, &format!("streamer_{i}")).await?;
            merged.push(p.open_stream_from(stream_data::call(seed)).await?);
        }
        ctx.started(()).await?;
        let out = ctx.open_stream()?;
        let mut seen = std::collections::HashSet::new();
        while let Some(v) = merged.next().await {
            let v = v?;
            if seen.insert(v) {
                out.send(v).await?;
            }
        }
        out.close();
        an.cancel().await;
        Ok(seen.len())
    })
    .await
}

/// Scenario 33: a 4-actor pipeline de-duplicates 2 × 1000 values into
/// 0..1000 in under 3 s; cancelled at any of 6 delays it tears down
/// cleanly, every process reaped.
async fn pipeline_dedups_and_cancels_cleanly(t: TransportKind) {
    let run = async |cancel_after: Option<Duration>| {
        let pipeline = in_nursery(t, async |an| {
            let agg = spawn_ctx_actor(an, "aggregator").await?;
            let got = agg
                .open_context(aggregate::call(1000), async |ctx, ()| {
                    let mut got = Vec::new();
                    let mut s = ctx.open_stream()?;
                    while let Some(v) = s.next().await {
                        got.push(v?);
                    }
                    assert_eq!(ctx.wait_for_result().await?, 1000);
                    Ok(got)
                })
                .await?;
            agg.cancel_actor().await?;
            Ok((got, crate::common::tree_id()))
        });
        match cancel_after {
            None => Some(pipeline.await),
            Some(d) => tokio::time::timeout(d, pipeline).await.ok(),
        }
    };
    let started = Instant::now();
    let (mut got, tree) = run(None).await.expect("ran").unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    got.sort_unstable();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
    for ms in [0, 5, 10, 20, 50, 100] {
        if let Some(r) = run(Some(Duration::from_millis(ms))).await {
            r.unwrap();
        }
        let left = tractor::testing::wait_gone_async(&tree, Duration::from_secs(3)).await;
        assert!(
            left.is_empty(),
            "cancel after {ms} ms left {}",
            tractor::testing::describe(&left)
        );
    }
}

#[tractor::endpoint]
async fn ticks(every_ms: u64) -> impl futures::Stream<Item = u64> {
    futures::stream::unfold(0u64, move |i| async move {
        tokio::time::sleep(Duration::from_millis(every_ms)).await;
        Some((i, i + 1))
    })
}

/// Scenario 31: 22 local tasks share one remote stream through
/// `broadcast_receiver`; after 0.5 s the parent is done and closes it
/// (which cancels the stream in the child), and every subscriber ends
/// having seen the same items.
async fn local_fanout_from_one_stream(t: TransportKind) {
    use std::sync::{Arc, Mutex};
    use tractor::trionics::{TaskError, broadcast_receiver, open_task_nursery};

    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "fanout").await?;
        let stream = p.open_stream_from(ticks::call(5)).await?;
        // `tractor::Error` is not `Clone`: share it behind an `Arc`.
        let b = broadcast_receiver(stream.map(|r| r.map_err(Arc::new)), 10_000);
        let seen = Arc::new(Mutex::new(Vec::new()));
        // Every subscriber and the body meet once each has an item: the
        // run lasts 0.5 s, and on a slow machine at least until then.
        let first_items = Arc::new(tokio::sync::Barrier::new(23));
        open_task_nursery(async |tn| {
            for _ in 0..22 {
                let mut sub = b.subscribe().expect("the stream is live");
                let seen = seen.clone();
                let first_items = first_items.clone();
                tn.spawn(async move {
                    let mut got = Vec::new();
                    while let Some(item) = sub.next().await {
                        let tick = item.map_err(TaskError::failed)?;
                        got.push(tick.map_err(TaskError::failed)?);
                        if got.len() == 1 {
                            first_items.wait().await;
                        }
                    }
                    seen.lock().expect("not poisoned").push(got);
                    Ok::<(), TaskError>(())
                });
            }
            // The scenario's workload: the parent is done after 0.5 s.
            tokio::time::sleep(Duration::from_millis(500)).await;
            first_items.wait().await;
            // Done: drop the stream (the child's stream task is cancelled);
            // subscribers read what is buffered, then end.
            b.close();
            Ok::<(), TaskError>(())
        })
        .await
        .expect("every subscriber ends cleanly");
        let seen = std::mem::take(&mut *seen.lock().expect("not poisoned"));
        assert_eq!(seen.len(), 22);
        assert!(!seen[0].is_empty(), "every subscriber saw an item");
        assert_eq!(seen[0], (0..seen[0].len() as u64).collect::<Vec<_>>());
        assert!(
            seen.iter().all(|got| *got == seen[0]),
            "identical items for all"
        );
        assert!(
            b.subscribe().is_err(),
            "a closed broadcast refuses subscribers"
        );
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// `0..`, panicking when it gets to `n`.
#[tractor::endpoint]
async fn panics_at(n: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..).map(move |i| {
        assert!(i != n, "the generator panics at {n}");
        i
    })
}

/// The items a generator made before it panicked reach the consumer,
/// then the panic as a remote error (they were gathered in one batch).
async fn items_before_a_generator_panic_arrive_first(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "panicky").await?;
        let mut s = p.open_stream_from(panics_at::call(100)).await?;
        for i in 0..100 {
            assert_eq!(s.recv().await?, Some(i));
        }
        let err = s.recv().await.expect_err("the panic");
        assert!(err.to_string().contains("panics at 100"), "{err}");
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// An item whose `Serialize` fails at `n`.
#[derive(Debug)]
struct Refuses(u32, u32);

impl serde::Serialize for Refuses {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0 == self.1 {
            return Err(serde::ser::Error::custom("this item refuses to encode"));
        }
        s.serialize_u32(self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Refuses {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        u32::deserialize(d).map(|i| Refuses(i, u32::MAX))
    }
}

#[tractor::endpoint]
async fn refuses_at(n: u32) -> impl futures::Stream<Item = Refuses> {
    futures::stream::iter(0..).map(move |i| Refuses(i, n))
}

/// The items before one that does not encode reach the consumer, then
/// the encoding error.
async fn items_before_one_that_does_not_encode_arrive_first(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "refuser").await?;
        let mut s = p.open_stream_from(refuses_at::call(50)).await?;
        for i in 0..50 {
            assert_eq!(s.recv().await?.map(|r| r.0), Some(i));
        }
        let err = s.recv().await.expect_err("the encoding error");
        let msg = err.to_string();
        assert!(
            msg.contains("could not be encoded") && msg.contains("Refuses"),
            "{msg}"
        );
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// An endless generator that takes a few milliseconds of blocking work
/// per item (always ready when polled, never fast).
#[tractor::endpoint]
async fn slow_items() -> impl futures::Stream<Item = u64> {
    futures::stream::iter(0..).map(|i| {
        std::thread::sleep(Duration::from_millis(30));
        i
    })
}

/// A generator that is always ready but slow does not have its items
/// gathered until a batch fills or the task's budget runs out (128 items,
/// about 4 s here): each goes out within a few items' making.
async fn a_slow_generator_s_items_are_not_held_back(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "slow").await?;
        let mut s = p.open_stream_from(slow_items::call()).await?;
        let first_three = async {
            for i in 0..3 {
                assert_eq!(s.recv().await?, Some(i));
            }
            Ok::<_, Error>(())
        };
        tokio::time::timeout(Duration::from_secs(2), first_three)
            .await
            .expect("the first items of a slow generator were held back")?;
        drop(s);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}
