//! The same-host shared-memory lane for large frames (unix sockets and
//! loopback TCP): items of sizes below, inside and above the lane's
//! bounds cross it intact in both directions between real processes,
//! many times round the ring, and the lane is really taken (the child
//! maps the ring it made and the one its parent offered). In TLS it is
//! not: see `tls::a_link_in_tls_takes_no_shared_memory_lane`.

use tractor::{Context, Error, TransportKind};

use crate::both_transports;
use crate::common::in_nursery;

both_transports!(large_items_cross_the_lane_intact_both_ways);

/// Below the lane (inline), at and inside its bounds, just past its
/// largest frame (inline again), and a large item between them.
const SIZES: [usize; 9] = [
    10,
    64 * 1024 - 1,
    64 * 1024,
    64 * 1024 + 7,
    100_000,
    256 * 1024,
    320 * 1024,
    320 * 1024 + 1,
    3 << 20,
];

/// Items each way: the 1.25 MiB ring wraps many times over.
const ITEMS: usize = 10 * SIZES.len();

/// Item `i`: its bytes depend on `i`, so an item read from the wrong
/// place of the ring, or a stale one, does not pass for it.
fn item(i: usize) -> Vec<u8> {
    let size = SIZES[i % SIZES.len()];
    (0..size).map(|j| ((j + i * 131) % 251) as u8).collect()
}

#[tractor::endpoint]
async fn items() -> impl futures::Stream<Item = tractor::Bytes> {
    futures::stream::iter((0..ITEMS).map(|i| tractor::Bytes::from(item(i))))
}

/// Checks each item it is sent against [`item`]; returns how many came
/// and which of them arrived altered.
#[tractor::context]
async fn check_items(ctx: Context<(), (), tractor::Bytes>) -> Result<(usize, Vec<usize>), Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
    let (mut i, mut altered) = (0, Vec::new());
    while let Some(b) = stream.recv().await? {
        if *b != *item(i) {
            altered.push(i);
        }
        i += 1;
    }
    Ok((i, altered))
}

/// The shared-memory rings process `pid` maps.
pub(crate) fn rings_mapped(pid: u32) -> usize {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).expect("maps");
    maps.lines()
        .filter(|l| l.contains("memfd:tractor-ring"))
        .count()
}

async fn large_items_cross_the_lane_intact_both_ways(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an
            .start_actor("lane")
            .enable_modules([module_path!()])
            .await?;
        let mut s = p.open_stream_from(items::call()).await?;
        for i in 0..ITEMS {
            let b = s.recv().await?.expect("an item");
            assert!(
                *b == *item(i),
                "item {i} ({} bytes) arrived altered",
                b.len()
            );
        }
        assert!(s.recv().await?.is_none());
        let checked = p
            .open_context(check_items::call(), async |ctx, ()| {
                let stream = ctx.open_stream()?;
                for i in 0..ITEMS {
                    stream.send(tractor::Bytes::from(item(i))).await?;
                }
                stream.close();
                ctx.wait_for_result().await
            })
            .await?;
        assert_eq!(checked, (ITEMS, Vec::new()), "(items, altered ones)");
        // The child maps the ring it made (as a receiver) and ours (as a
        // sender), over either transport: its parent is on this host.
        // (This process runs other tests' trees at once: what it maps
        // proves nothing.)
        let theirs = rings_mapped(p.aid().pid);
        assert!(theirs >= 2, "the child maps {theirs} rings over {t:?}");
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}
