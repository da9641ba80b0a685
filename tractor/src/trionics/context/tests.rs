use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, oneshot};

use super::*;

const DEADLINE: Duration = Duration::from_secs(10);

async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .expect("test deadline")
}

type Io = std::io::Error;
type Opening<T> = Pin<Box<dyn Future<Output = Result<T, Io>> + Send>>;

/// A cache whose closes are reported on a channel.
fn cache() -> (
    ContextCache<&'static str, u32>,
    mpsc::UnboundedReceiver<u32>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let cache = ContextCache::new(move |v: u32| {
        let tx = tx.clone();
        async move { tx.send(v).map_err(|_| "test gone") }
    });
    (cache, rx)
}

#[tokio::test]
async fn hit_miss_and_the_last_user_closes() {
    within(async {
        let (cache, mut closed) = cache();
        let opens = Arc::new(AtomicUsize::new(0));
        let open = |v| {
            let opens = opens.clone();
            async move || {
                opens.fetch_add(1, Ordering::SeqCst);
                Ok::<_, Io>(v)
            }
        };
        let a = cache.maybe_open_context("k", open(1)).await.unwrap();
        let b = cache.maybe_open_context("k", open(2)).await.unwrap();
        let other = cache.maybe_open_context("other", open(3)).await.unwrap();
        assert_eq!((*a, a.cache_hit()), (1, false));
        assert_eq!((*b, b.cache_hit()), (1, true));
        assert_eq!((*other, other.cache_hit()), (3, false));
        assert_eq!(opens.load(Ordering::SeqCst), 2);
        a.release().await.unwrap();
        assert!(closed.try_recv().is_err(), "not closed while b uses it");
        b.release().await.unwrap();
        assert_eq!(
            closed.try_recv(),
            Ok(1),
            "the last user's release closed it"
        );
        // Dropping (not releasing) the last user closes it too, detached.
        drop(other);
        assert_eq!(closed.recv().await, Some(3));
        // A fresh open after the close is a miss.
        let c = cache.maybe_open_context("k", open(4)).await.unwrap();
        assert_eq!((*c, c.cache_hit()), (4, false));
    })
    .await;
}

#[tokio::test]
async fn the_last_user_gets_the_close_error() {
    within(async {
        let cache = ContextCache::new(|_v: u8| async { Err::<(), _>("flush failed") });
        let a = cache
            .maybe_open_context((), async || Ok::<_, Io>(1))
            .await
            .unwrap();
        let b = cache
            .maybe_open_context((), async || Ok::<_, Io>(2))
            .await
            .unwrap();
        assert!(a.release().await.is_ok());
        let err = b.release().await.unwrap_err();
        assert!(err.to_string().contains("flush failed"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn waiters_share_an_open_in_progress() {
    within(async {
        let (cache, _closed) = cache();
        let gate = Arc::new(Notify::new());
        let (opening_tx, opening_rx) = oneshot::channel();
        let opener = {
            let (cache, gate) = (cache.clone(), gate.clone());
            tokio::spawn(async move {
                cache
                    .maybe_open_context("k", async move || {
                        let _ = opening_tx.send(());
                        gate.notified().await;
                        Ok::<_, Io>(10)
                    })
                    .await
            })
        };
        opening_rx.await.unwrap();
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .maybe_open_context("k", async || Ok::<_, Io>(99))
                    .await
                    .map(|g| (*g, g.cache_hit()))
            })
        };
        tokio::task::yield_now().await;
        gate.notify_one();
        // The opener holds its share until the waiter has its own.
        let held = opener.await.unwrap().unwrap();
        assert_eq!((*held, held.cache_hit()), (10, false));
        assert_eq!(waiter.await.unwrap().unwrap(), (10, true));
    })
    .await;
}

#[tokio::test]
async fn cancelling_the_opener_mid_open_leaves_the_cache_sound() {
    within(async {
        let (cache, _closed) = cache();
        let (opening_tx, opening_rx) = oneshot::channel();
        let opener = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let _ = cache
                    .maybe_open_context("k", async move || {
                        let _ = opening_tx.send(());
                        std::future::pending::<Result<u32, Io>>().await
                    })
                    .await;
            })
        };
        opening_rx.await.unwrap();
        // A second caller waits on the open in progress...
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .maybe_open_context("k", async || Ok::<_, Io>(5))
                    .await
                    .map(|g| (*g, g.cache_hit()))
            })
        };
        tokio::task::yield_now().await;
        // ...and the opener is cancelled: the waiter opens instead.
        opener.abort();
        let _ = opener.await;
        assert_eq!(waiter.await.unwrap().unwrap(), (5, false));
        // A failed open leaves nothing behind either.
        let err = cache
            .maybe_open_context("j", async || Err::<u32, _>(Io::other("refused")))
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "refused");
        let j = cache
            .maybe_open_context("j", async || Ok::<_, Io>(6))
            .await
            .unwrap();
        assert!(!j.cache_hit());
    })
    .await;
}

#[tokio::test]
async fn re_entry_during_teardown_waits_then_opens_afresh() {
    within(async {
        let gate = Arc::new(Notify::new());
        let (closing_tx, mut closing_rx) = mpsc::unbounded_channel();
        let cache = {
            let gate = gate.clone();
            ContextCache::new(move |v: u32| {
                let (gate, closing_tx) = (gate.clone(), closing_tx.clone());
                async move {
                    let _ = closing_tx.send(v);
                    gate.notified().await;
                    Ok::<(), Io>(())
                }
            })
        };
        let a = cache
            .maybe_open_context("k", async || Ok::<_, Io>(1))
            .await
            .unwrap();
        let releasing = tokio::spawn(a.release());
        assert_eq!(closing_rx.recv().await, Some(1));
        // The close is running: a newcomer waits for it.
        let newcomer = {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .maybe_open_context("k", async || Ok::<_, Io>(2))
                    .await
                    .map(|g| (*g, g.cache_hit()))
            })
        };
        tokio::task::yield_now().await;
        assert!(!newcomer.is_finished());
        gate.notify_one();
        releasing.await.unwrap().unwrap();
        assert_eq!(newcomer.await.unwrap().unwrap(), (2, false));
    })
    .await;
}

#[tokio::test]
async fn gather_returns_values_in_input_order() {
    within(async {
        let (tx, rx) = oneshot::channel::<()>();
        let slow_first = async move {
            // Finishes after the second one, yet comes first.
            let _ = rx.await;
            Ok::<_, Io>("first")
        };
        let fast_second = async move {
            let _ = tx.send(());
            Ok::<_, Io>("second")
        };
        let opens: Vec<Opening<&str>> = vec![Box::pin(slow_first), Box::pin(fast_second)];
        assert_eq!(
            gather_contexts(opens).await.unwrap(),
            vec!["first", "second"]
        );
        let none: Vec<std::future::Ready<Result<u8, Io>>> = Vec::new();
        assert!(matches!(
            gather_contexts(none).await,
            Err(GatherError::Empty)
        ));
        let failing = vec![
            Box::pin(async { Ok::<u8, Io>(1) }) as Opening<u8>,
            Box::pin(async { Err(Io::other("no")) }),
        ];
        assert!(matches!(
            gather_contexts(failing).await,
            Err(GatherError::Failed(_))
        ));
    })
    .await;
}
