use std::time::Duration;

use futures::{FutureExt, StreamExt};
use tokio::sync::mpsc;
use tokio_stream_shim::channel_stream;

use super::*;

const DEADLINE: Duration = Duration::from_secs(10);

async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .expect("test deadline")
}

/// An mpsc receiver as a `Stream` (tokio-stream is not a dependency).
mod tokio_stream_shim {
    use tokio::sync::mpsc;

    pub(super) fn channel_stream<T>(
        rx: mpsc::UnboundedReceiver<T>,
    ) -> impl futures::Stream<Item = T> {
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|v| (v, rx)) })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_sees_every_item_in_order() {
    within(async {
        let (tx, rx) = mpsc::unbounded_channel();
        let b = broadcast_receiver(channel_stream(rx), 1000);
        let subs: Vec<_> = (0..8).map(|_| b.subscribe().unwrap()).collect();
        let consumers: Vec<_> = subs
            .into_iter()
            .map(|s| tokio::spawn(s.map(Result::unwrap).collect::<Vec<u32>>()))
            .collect();
        for i in 0..100 {
            tx.send(i).unwrap();
            tokio::task::yield_now().await;
        }
        drop(tx);
        for c in consumers {
            assert_eq!(c.await.unwrap(), (0..100).collect::<Vec<_>>());
        }
    })
    .await;
}

#[tokio::test]
async fn a_slow_subscriber_lags_and_resumes_from_the_oldest_kept() {
    within(async {
        let b = broadcast_receiver(futures::stream::iter(0..10u32), 3);
        let mut fast = b.subscribe().unwrap();
        let mut slow = b.subscribe().unwrap();
        for i in 0..8 {
            assert_eq!(fast.recv().await, Ok(Some(i)));
        }
        // Items 5, 6, 7 are kept; 0..5 were dropped for the slow one.
        assert_eq!(slow.recv().await, Err(Lagged(5)));
        assert_eq!(slow.recv().await, Ok(Some(5)));
        let rest: Vec<_> = (&mut slow).map(Result::unwrap).collect().await;
        assert_eq!(rest, vec![6, 7, 8, 9]);
        let rest: Vec<_> = (&mut fast).map(Result::unwrap).collect().await;
        assert_eq!(rest, vec![8, 9]);
    })
    .await;
}

#[tokio::test]
async fn a_backpressuring_subscriber_holds_the_others_back() {
    within(async {
        let b = broadcast_receiver(futures::stream::iter(0..10u32), 2);
        let mut fast = b.subscribe().unwrap();
        let mut slow = b.subscribe_backpressure().unwrap();
        assert_eq!(fast.recv().await, Ok(Some(0)));
        assert_eq!(fast.recv().await, Ok(Some(1)));
        // The buffer (2) is full of what `slow` has not read: `fast` waits
        // (the source is always ready, so a pending recv means blocked).
        assert!(
            fast.recv().now_or_never().is_none(),
            "the fast subscriber must wait"
        );
        assert_eq!(slow.recv().await, Ok(Some(0)));
        // One slot freed: `fast` gets one more item, then waits again.
        assert_eq!(fast.recv().await, Ok(Some(2)));
        assert!(fast.recv().now_or_never().is_none());
        let mut all = vec![0];
        while let Ok(Some(v)) = slow.recv().await {
            all.push(v);
        }
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        // `slow` ran ahead alone, so the non-backpressuring `fast` lagged.
        assert!(matches!(fast.recv().await, Err(Lagged(_))));
    })
    .await;
}

#[tokio::test]
async fn the_source_ending_ends_everyone_and_late_subscribe_fails() {
    within(async {
        let (tx, rx) = mpsc::unbounded_channel::<u8>();
        let b = broadcast_receiver(channel_stream(rx), 4);
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let mut s = b.subscribe().unwrap();
                tokio::spawn(async move { s.recv().await })
            })
            .collect();
        drop(tx);
        for w in waiting {
            assert_eq!(w.await.unwrap(), Ok(None));
        }
        assert_eq!(b.subscribe().unwrap_err(), BroadcastError::Ended);
    })
    .await;
}

#[tokio::test]
async fn close_drops_the_source_and_ends_subscribers() {
    within(async {
        let (tx, rx) = mpsc::unbounded_channel::<u8>();
        let b = broadcast_receiver(channel_stream(rx), 4);
        let mut s = b.subscribe().unwrap();
        let waiter = tokio::spawn(async move { s.recv().await });
        tokio::task::yield_now().await;
        b.close();
        assert_eq!(waiter.await.unwrap(), Ok(None));
        // The source (and so the channel's receiver) was dropped.
        assert!(tx.is_closed());
        assert!(b.subscribe().is_err());
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_subscriber_never_blocks_the_others() {
    within(async {
        let (tx, rx) = mpsc::unbounded_channel::<u8>();
        let b = broadcast_receiver(channel_stream(rx), 1);
        let mut first = b.subscribe_backpressure().unwrap();
        let mut second = b.subscribe().unwrap();
        // `first` polls the source (registering the source's waker), then
        // is cancelled mid-recv and dropped.
        let (polled_tx, polled_rx) = tokio::sync::oneshot::channel::<()>();
        let first_task = tokio::spawn(async move {
            let _ = polled_tx.send(());
            first.recv().await
        });
        polled_rx.await.unwrap();
        tokio::task::yield_now().await;
        first_task.abort();
        let _ = first_task.await;
        let second_task = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Ok(Some(v)) = second.recv().await {
                got.push(v);
            }
            got
        });
        for i in 0..5 {
            tx.send(i).unwrap();
        }
        drop(tx);
        assert_eq!(second_task.await.unwrap(), vec![0, 1, 2, 3, 4]);
    })
    .await;
}

#[tokio::test]
async fn a_subscriber_sees_only_items_after_it_subscribed() {
    within(async {
        let b = broadcast_receiver(futures::stream::iter(0..4u8), 8);
        let mut early = b.subscribe().unwrap();
        assert_eq!(early.recv().await, Ok(Some(0)));
        assert_eq!(early.recv().await, Ok(Some(1)));
        let late = b.subscribe().unwrap();
        let late: Vec<_> = late.map(Result::unwrap).collect().await;
        assert_eq!(late, vec![2, 3]);
    })
    .await;
}

#[tokio::test]
async fn dropping_a_backpressuring_subscriber_frees_the_others() {
    within(async {
        let b = broadcast_receiver(futures::stream::iter(0..6u32), 2);
        let mut fast = b.subscribe().unwrap();
        let slow = b.subscribe_backpressure().unwrap();
        assert_eq!(fast.recv().await, Ok(Some(0)));
        assert_eq!(fast.recv().await, Ok(Some(1)));
        let (polled_tx, polled_rx) = tokio::sync::oneshot::channel::<()>();
        let blocked = tokio::spawn(async move {
            let _ = polled_tx.send(());
            (&mut fast).map(Result::unwrap).collect::<Vec<_>>().await
        });
        polled_rx.await.unwrap();
        tokio::task::yield_now().await;
        drop(slow);
        assert_eq!(blocked.await.unwrap(), vec![2, 3, 4, 5]);
    })
    .await;
}
