//! One actor stream, many local consumers: the root opens one stream of
//! quotes from a `ticker` actor and fans it out with
//! `trionics::broadcast_receiver` to three tasks in a task nursery (an
//! averager, a high-water mark and a counter of big moves). Each sees
//! every quote; the slowest holds the others back rather than lose any
//! (`subscribe_backpressure`). When the ticker's stream ends, every
//! consumer ends with it.
//!
//! `cargo run --example broadcast_fanout`

use std::sync::Arc;

use futures::StreamExt;
use tractor::Error;
use tractor::trionics::{broadcast_receiver, open_task_nursery};

const QUOTES: u64 = 1_000;

/// Runs in the ticker: `n` quotes of a made-up price walk.
#[tractor::endpoint]
async fn quotes(n: u64) -> impl futures::Stream<Item = u64> {
    futures::stream::iter(0..n).map(|i| 1_000 + (i * 7919) % 101)
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let ticker = an
            .start_actor("ticker")
            .enable_modules([module_path!()])
            .await?;
        let stream = ticker.open_stream_from(quotes::call(QUOTES)).await?;
        // `tractor::Error` is not `Clone`: each consumer gets it behind an `Arc`.
        let quotes = broadcast_receiver(stream.map(|r| r.map_err(Arc::new)), 64);
        // Subscribe every consumer before any runs: each sees every quote.
        let mut averager = quotes.subscribe_backpressure().map_err(Error::custom)?;
        let mut high = quotes.subscribe_backpressure().map_err(Error::custom)?;
        let mut moves = quotes.subscribe_backpressure().map_err(Error::custom)?;
        open_task_nursery(async |tn| {
            tn.spawn(async move {
                let (mut sum, mut n) = (0, 0);
                while let Some(q) = averager.recv().await? {
                    sum += q?;
                    n += 1;
                }
                println!("averager: {n} quotes, mean {}", sum / n.max(1));
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            });
            tn.spawn(async move {
                let (mut top, mut n) = (0, 0);
                while let Some(q) = high.recv().await? {
                    top = top.max(q?);
                    n += 1;
                }
                println!("high-water: {n} quotes, top {top}");
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            });
            tn.spawn(async move {
                let (mut last, mut big, mut n) = (None, 0, 0);
                while let Some(q) = moves.recv().await? {
                    let q = q?;
                    if last.is_some_and(|l: u64| l.abs_diff(q) > 50) {
                        big += 1;
                    }
                    last = Some(q);
                    n += 1;
                }
                println!("big moves: {n} quotes, {big} moves over 50");
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            });
            Ok::<_, Error>(())
        })
        .await
        .map_err(Error::custom)?;
        println!("the ticker's stream ended; every consumer ended with it");
        ticker.cancel_actor().await?;
        Ok(())
    })
    .await
}
