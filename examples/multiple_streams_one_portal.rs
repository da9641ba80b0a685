//! Several contexts open at once over one portal: one daemon runs four
//! `accumulate` tasks side by side, each with its own stream, while the
//! root drives all four concurrently. Each dialog has its own id and its
//! own flow control on the one IPC channel, so the streams never mix.
//!
//! `cargo run --example multiple_streams_one_portal`

use tractor::{Context, Error};

const CONTEXTS: u64 = 4;
const VALUES: u64 = 25;

/// Runs in the daemon: sends back the running sum of what it receives and
/// returns the total.
#[tractor::context]
async fn accumulate(ctx: Context<(u64, u32), u64, u64>, id: u64) -> Result<u64, Error> {
    ctx.started((id, std::process::id())).await?;
    let stream = ctx.open_stream()?;
    let mut sum = 0;
    while let Some(x) = stream.recv().await? {
        sum += x;
        stream.send(sum).await?;
    }
    Ok(sum)
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let barrier = tokio::sync::Barrier::new(CONTEXTS as usize);
    let results = tractor::open_nursery(async |an| {
        let portal = an
            .start_actor("accumulator")
            .enable_modules([module_path!()])
            .await?;
        let scopes = (0..CONTEXTS).map(|id| {
            let (portal, barrier) = (&portal, &barrier);
            portal.open_context(accumulate::call(id), async move |ctx, (echoed, pid)| {
                assert_eq!(echoed, id);
                let stream = ctx.open_stream()?;
                // Every scope waits here for the others: all four are open at once.
                if barrier.wait().await.is_leader() {
                    println!("all {CONTEXTS} contexts are open at once on one portal");
                }
                let mut expected = 0;
                for k in 0..VALUES {
                    let x = id * 1000 + k;
                    expected += x;
                    stream.send(x).await?;
                    assert_eq!(stream.recv().await?, Some(expected));
                }
                stream.close();
                let total = ctx.wait_for_result().await?;
                assert_eq!(total, expected);
                Ok((id, pid, total))
            })
        });
        let results = futures::future::try_join_all(scopes).await?;
        portal.cancel_actor().await?;
        Ok(results)
    })
    .await?;
    for (id, pid, total) in &results {
        println!(
            "context {id}: {VALUES} values, running sums checked, total {total} (process {pid})"
        );
    }
    let pids: std::collections::BTreeSet<u32> = results.iter().map(|r| r.1).collect();
    assert_eq!(pids.len(), 1, "one daemon served every context");
    assert_eq!(results.len() as u64, CONTEXTS);
    println!(
        "done: {} concurrent contexts over one portal to process {}",
        results.len(),
        results[0].1
    );
    Ok(())
}
