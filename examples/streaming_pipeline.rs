//! A streaming pipeline over four processes (tractor's "quadruple"
//! example): the root streams from an aggregator actor, which starts two
//! streamer actors of its own, merges their two streams of 0..1000 and
//! passes each value on once.
//!
//! ```text
//! root ── aggregator ─┬─ streamer_0   (0..1000)
//!                     └─ streamer_1   (0..1000)
//! ```
//!
//! The aggregator is a context rather than a one-way stream endpoint: its
//! nursery (and so its streamers) must stay open while values flow, and a
//! context's body is exactly that scope.
//!
//! `cargo run --example streaming_pipeline`

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::StreamExt;
use tractor::{Context, Error};

const SEED: u32 = 1000;

/// Runs in each streamer: a one-way stream of `0..seed`.
#[tractor::endpoint]
async fn stream_data(seed: u32) -> impl futures::Stream<Item = u32> {
    futures::stream::iter(0..seed)
}

/// Runs in the aggregator: starts two streamers, merges their streams and
/// sends every value once to the root. Returns how many it sent.
#[tractor::context]
async fn aggregate(ctx: Context<(), u32, ()>, seed: u32) -> Result<usize, Error> {
    tractor::open_nursery(async |an| {
        let mut streamers = Vec::new();
        for i in 0..2 {
            let portal = an
                .start_actor(format!("streamer_{i}"))
                .enable_modules([module_path!()])
                .await?;
            streamers.push(portal);
        }
        let mut merged = futures::stream::select(
            streamers[0]
                .open_stream_from(stream_data::call(seed))
                .await?,
            streamers[1]
                .open_stream_from(stream_data::call(seed))
                .await?,
        );

        ctx.started(()).await?;
        let out = ctx.open_stream()?;
        let mut seen = HashSet::new();
        while let Some(value) = merged.next().await {
            let value = value?;
            if seen.insert(value) {
                out.send(value).await?;
            }
        }
        // Both streams ended: the root's iteration ends too.
        out.close();
        // The streamers are daemons: cancel them before the nursery closes.
        an.cancel().await;
        Ok(seen.len())
    })
    .await
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let portal = an
            .start_actor("aggregator")
            .enable_modules([module_path!()])
            .await?;
        let (values, elapsed, sent) = portal
            .open_context(aggregate::call(SEED), async |ctx, ()| {
                let stream = ctx.open_stream()?;
                let start = Instant::now();
                let mut values = Vec::new();
                while let Some(value) = stream.recv().await? {
                    values.push(value);
                }
                let elapsed = start.elapsed();
                let sent = ctx.wait_for_result().await?;
                Ok((values, elapsed, sent))
            })
            .await?;
        println!(
            "the aggregator sent {sent} values; the root got {} in {elapsed:?}",
            values.len()
        );
        assert_eq!(values, (0..SEED).collect::<Vec<_>>());
        assert_eq!(sent, SEED as usize);
        assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");
        println!("got exactly 0..{SEED}, each value once, in order");
        portal.cancel_actor().await?;
        Ok(())
    })
    .await?;
    println!("the pipeline is down: four processes, all reaped");
    Ok(())
}
