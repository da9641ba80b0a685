//! Flow control on context streams: tractor's overrun mode (with and
//! without `allow_overruns`), credit-based backpressure (the default), and
//! a stalled context that does not slow its siblings (scenarios 21, 22);
//! the same window and byte window hold a one-way stream's generator.

use std::time::Duration;

use futures::StreamExt;

use tractor::{Context, Error, RemoteErrorKind, TransportKind};

use super::{simple_rpc, spawn_ctx_actor};
use crate::common::in_nursery;
use crate::{both_transports, on_backend};

/// This module's path: the allowlist entry for its endpoints.
pub(super) const HERE: &str = module_path!();

both_transports!(
    overrun_mode_fails_the_flooder,
    overrun_mode_with_allow_overruns_completes,
    backpressure_bounds_a_flooder,
    large_items_are_held_by_bytes_not_the_message_window,
    stalled_context_does_not_slow_a_sibling,
    a_one_way_stream_waits_for_window,
    a_one_way_stream_of_large_items_waits_for_byte_window,
);

on_backend!(forkserver = "forkserver": backpressure_bounds_a_flooder, stalled_context_does_not_slow_a_sibling);
on_backend!(thread = "thread":
    stalled_context_does_not_slow_a_sibling;
    skip "it counts in statics, which thread actors share with every other actor of the process":
        backpressure_bounds_a_flooder, large_items_are_held_by_bytes_not_the_message_window,
        a_one_way_stream_waits_for_window, a_one_way_stream_of_large_items_waits_for_byte_window,
);

#[tractor::context]
async fn never_opens_stream(ctx: Context<(), u32, u32>) {
    let _ = ctx.started(()).await;
    std::future::pending::<()>().await
}

/// Scenario 21: in tractor's overrun mode, 65 messages (buffer + 1) to a
/// child that never opens its stream fail the dialog with `StreamOverrun`.
async fn overrun_mode_fails_the_flooder(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "deaf").await?;
        let e = p
            .open_context(
                never_opens_stream::call().buffer(64).overrun_mode(),
                async |ctx, ()| {
                    let stream = ctx.open_stream()?;
                    for i in 0..65 {
                        stream.send(i).await?;
                    }
                    std::future::pending::<Result<(), Error>>().await
                },
            )
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::StreamOverrun, "{r}");
        assert_eq!(r.origin().name, "deaf");
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn slow_echo(
    ctx: Context<(), String, String>,
    allow_overruns: bool,
) -> Result<String, Error> {
    ctx.started(()).await?;
    let stream = if allow_overruns {
        ctx.open_stream_allow_overruns()?
    } else {
        ctx.open_stream()?
    };
    let mut last = String::new();
    while let Some(msg) = stream.recv().await? {
        // The behaviour under test: a reader slower than its sender.
        tokio::time::sleep(Duration::from_millis(2)).await;
        last = msg;
    }
    Ok(last)
}

/// Scenario 22: buffer 1 on a slow side in overrun mode: allowing
/// overruns there completes with the last message; not allowing fails.
async fn overrun_mode_with_allow_overruns_completes(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "slowpoke").await?;
        let flood = async |ctx: &tractor::CallerContext<String, String, String>| {
            let stream = ctx.open_stream()?;
            for _ in 0..20 {
                stream.send("hi".into()).await?;
            }
            stream.send("yo".into()).await?;
            stream.close();
            ctx.wait_for_result().await
        };
        let last = p
            .open_context(
                slow_echo::call(true).buffer(1).overrun_mode(),
                async |ctx, ()| flood(ctx).await,
            )
            .await?;
        assert_eq!(last, "yo");
        let e = p
            .open_context(
                slow_echo::call(false).buffer(1).overrun_mode(),
                async |ctx, ()| flood(ctx).await,
            )
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::StreamOverrun, "{r}");
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

static SENT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

#[tractor::context]
async fn flood(ctx: Context<(), u64, ()>) -> Result<(), Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
    for i in 0.. {
        stream.send(i).await?;
        SENT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
    Ok(())
}

#[tractor::endpoint]
async fn sent_so_far() -> u64 {
    SENT.load(std::sync::atomic::Ordering::SeqCst)
}

/// Backpressure (the default): a sender that outpaces its reader waits
/// once a window is in flight; nothing grows without bound.
async fn backpressure_bounds_a_flooder(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "flooder").await?;
        p.open_context(flood::call().buffer(16), async |ctx, ()| {
            let stream = ctx.open_stream()?;
            // Wait until the sender is parked on its window.
            crate::wait::until_async(
                "the flooder to fill its window",
                Duration::from_secs(5),
                || async {
                    let sent = p.run(sent_so_far::call()).await?;
                    Ok::<_, Error>(crate::wait::holds(sent >= 16, format!("sent {sent}")))
                },
            )
            .await?;
            // Other calls still answer while it is parked, and it stays parked.
            for _ in 0..20 {
                assert_eq!(p.run(sent_so_far::call()).await?, 16);
            }
            // Reading returns window: it moves on, still bounded.
            for i in 0..16 {
                assert_eq!(stream.recv().await?, Some(i));
            }
            crate::wait::until_async(
                "credit to unblock the sender",
                Duration::from_secs(5),
                || async {
                    let sent = p.run(sent_so_far::call()).await?;
                    Ok::<_, Error>(crate::wait::holds(sent >= 32, format!("sent {sent}")))
                },
            )
            .await?;
            assert!(p.run(sent_so_far::call()).await? <= 32);
            ctx.cancel().await;
            Ok(())
        })
        .await?;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

static SENT_BIG: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Bytes of each item [`flood_big`] sends.
const BIG: usize = 512 * 1024;

#[tractor::context]
async fn flood_big(ctx: Context<(), Vec<u8>, ()>) -> Result<(), Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
    loop {
        stream.send(vec![7; BIG]).await?;
        SENT_BIG.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tractor::endpoint]
async fn big_sent_so_far() -> u64 {
    SENT_BIG.load(std::sync::atomic::Ordering::SeqCst)
}

/// With a window of 1,024 messages, a sender of 512 KiB items still
/// parks once 1 MiB of them is unread (2 items), and reading half of
/// that returns enough credit to move it on by as much: what a slow
/// reader holds is bounded in bytes, not by the message window times
/// the item size.
async fn large_items_are_held_by_bytes_not_the_message_window(t: TransportKind) {
    const PARKED: u64 = 2;
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "big-flooder").await?;
        p.open_context(flood_big::call().buffer(1024), async |ctx, ()| {
            let stream = ctx.open_stream()?;
            let sent = || async { p.run(big_sent_so_far::call()).await };
            crate::wait::until_async("the flooder to park", Duration::from_secs(10), || async {
                let n = sent().await?;
                Ok::<_, Error>(crate::wait::holds(n >= PARKED, format!("sent {n}")))
            })
            .await?;
            for _ in 0..20 {
                assert_eq!(sent().await?, PARKED, "parked on bytes, not on the window");
            }
            for _ in 0..PARKED / 2 {
                assert_eq!(stream.recv().await?.map(|v| v.len()), Some(BIG));
            }
            crate::wait::until_async("credit to move it on", Duration::from_secs(10), || async {
                let n = sent().await?;
                Ok::<_, Error>(crate::wait::holds(
                    n >= PARKED + PARKED / 2,
                    format!("sent {n}"),
                ))
            })
            .await?;
            assert!(sent().await? <= PARKED + PARKED / 2);
            ctx.cancel().await;
            Ok(())
        })
        .await?;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// A consumer that stalls on one context does not slow another context
/// on the same channel.
async fn stalled_context_does_not_slow_a_sibling(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "both").await?;
        p.open_context(flood::call().buffer(8), async |stalled, ()| {
            let _never_read = stalled.open_stream()?;
            let count = p
                .open_context(simple_rpc::call(0), async |ctx, _| {
                    let s = ctx.open_stream()?;
                    for _ in 0..200 {
                        s.send("ping".into()).await?;
                        assert_eq!(s.recv().await?.as_deref(), Some("pong"));
                    }
                    s.close();
                    ctx.wait_for_result().await
                })
                .await?;
            assert_eq!(count, 200);
            stalled.cancel().await;
            Ok(())
        })
        .await?;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

static MADE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A one-way stream of `size`-byte items, counting each it makes.
#[tractor::endpoint]
async fn made_on_demand(size: u32) -> impl futures::Stream<Item = serde_bytes::ByteBuf> {
    futures::stream::iter(0..).map(move |_: u64| {
        MADE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        serde_bytes::ByteBuf::from(vec![7; size as usize])
    })
}

#[tractor::endpoint]
async fn made_so_far() -> u64 {
    MADE.load(std::sync::atomic::Ordering::SeqCst)
}

/// Waits until the generator has made `at_least` items, then checks a
/// few times over that it made no more than `at_most` (it is parked).
async fn parks_between(p: &tractor::Portal, at_least: u64, at_most: u64) -> Result<(), Error> {
    crate::wait::until_async(
        "the generator to fill the window",
        Duration::from_secs(5),
        || async {
            let made = p.run(made_so_far::call()).await?;
            Ok::<_, Error>(crate::wait::holds(made >= at_least, format!("made {made}")))
        },
    )
    .await?;
    for _ in 0..20 {
        let made = p.run(made_so_far::call()).await?;
        assert!(
            made <= at_most,
            "the generator made {made} items, past the window ({at_most})"
        );
    }
    Ok(())
}

/// A one-way stream's generator is pulled only while the window has
/// room (its batches take window per item): unread, it stops at the
/// window (plus the one item waiting for it), and each item read lets
/// one more be made.
async fn a_one_way_stream_waits_for_window(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "one-way").await?;
        let mut s = p
            .open_stream_from(made_on_demand::call(8).buffer(100))
            .await?;
        parks_between(&p, 100, 101).await?;
        for _ in 0..50 {
            assert!(s.next().await.transpose()?.is_some());
        }
        parks_between(&p, 150, 151).await?;
        drop(s);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

/// The byte window holds a one-way stream of large items whatever its
/// message window: 256 KiB items stop at 1 MiB unacknowledged (the item
/// that crosses it goes, the next waits).
async fn a_one_way_stream_of_large_items_waits_for_byte_window(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "one-way-big").await?;
        let mut s = p.open_stream_from(made_on_demand::call(256 * 1024)).await?;
        parks_between(&p, 5, 6).await?;
        for _ in 0..4 {
            assert_eq!(
                s.next().await.transpose()?.map(|b| b.len()),
                Some(256 * 1024)
            );
        }
        parks_between(&p, 9, 10).await?;
        drop(s);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}
