//! The link's rules, one test each; every wait has a deadline.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::timeout;

use super::*;

const DEADLINE: Duration = Duration::from_secs(10);

/// Sends on its channel when dropped: proof that the foreign function's
/// frame (and so its loop) has ended on the foreign thread.
struct Ended(Option<oneshot::Sender<LinkError>>, LinkError);
impl Drop for Ended {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(self.1);
        }
    }
}

async fn within<T>(f: impl std::future::Future<Output = T>) -> T {
    match timeout(DEADLINE, f).await {
        Ok(v) => v,
        Err(_) => panic!("deadline passed"),
    }
}

#[derive(Debug, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("valve {0} stuck")]
struct Stuck(u8);

/// A foreign loop that echoes until `get` fails, then reports why.
fn echo(
    mut side: ForeignSide<u32, u32>,
    ended: oneshot::Sender<LinkError>,
) -> Result<(), LinkError> {
    let mut guard = Ended(Some(ended), LinkError::AlreadyStarted);
    side.started_nowait(0)?;
    loop {
        match side.get() {
            Ok(v) => side.send(v + 1)?,
            Err(e) => {
                guard.1 = e;
                return Err(e);
            }
        }
    }
}

#[tokio::test]
async fn round_trip_and_first_value() {
    let (tx, _rx) = oneshot::channel();
    let (mut chan, first) = within(open_channel_from(move |s| echo(s, tx)))
        .await
        .unwrap();
    assert_eq!(first, 0);
    for i in 0..100 {
        within(chan.send(i)).await.unwrap();
        assert_eq!(within(chan.recv()).await.unwrap(), i + 1);
    }
}

#[tokio::test]
async fn error_before_started_is_returned_with_its_type() {
    let got = within(open_channel_from(|_s: ForeignSide<(), ()>| {
        Err::<(), _>(Stuck(4))
    }))
    .await;
    match got {
        Err(ForeignError::Failed(e)) => assert_eq!(e, Stuck(4)),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn ok_before_started_is_not_started() {
    let got = within(open_channel_from(|_s: ForeignSide<(), ()>| {
        Ok::<_, Stuck>(())
    }))
    .await;
    assert!(matches!(got, Err(ForeignError::NotStarted)), "{got:?}");
}

#[tokio::test]
async fn panic_before_started_is_panicked() {
    let got = within(open_channel_from(
        |_s: ForeignSide<(), ()>| -> Result<(), Stuck> { panic!("gauge cracked") },
    ))
    .await;
    match got {
        Err(ForeignError::Panicked { message }) => assert_eq!(message, "gauge cracked"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn panic_after_started_reaches_recv() {
    let (mut chan, ()) = within(open_channel_from(
        |mut s: ForeignSide<(), ()>| -> Result<(), LinkError> {
            s.started_nowait(())?;
            s.get()?;
            panic!("pump {} failed", 2)
        },
    ))
    .await
    .unwrap();
    within(chan.send(())).await.unwrap();
    match within(chan.recv()).await {
        Err(ForeignError::Panicked { message }) => assert_eq!(message, "pump 2 failed"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        within(chan.wait_for_result()).await,
        Err(ForeignError::AlreadyReported)
    ));
}

#[tokio::test]
async fn error_after_started_reaches_recv_and_send() {
    let (mut chan, ()) = within(open_channel_from(|mut s: ForeignSide<u8, ()>| {
        s.started_nowait(()).map_err(|_| Stuck(0))?;
        let v = s.get().map_err(|_| Stuck(0))?;
        Err::<(), _>(Stuck(v))
    }))
    .await
    .unwrap();
    within(chan.send(7)).await.unwrap();
    // The foreign side has gone: a send reports why.
    let mut err = None;
    for _ in 0..=BUFFER {
        if let Err(e) = within(chan.send(1)).await {
            err = Some(e);
            break;
        }
    }
    assert!(
        matches!(err, Some(ForeignError::Failed(Stuck(7)))),
        "{err:?}"
    );
    assert!(matches!(
        within(chan.recv()).await,
        Err(ForeignError::AlreadyReported)
    ));
}

#[tokio::test]
async fn foreign_exits_early_while_receiving() {
    let (mut chan, _) = within(open_channel_from(|mut s: ForeignSide<(), u8>| {
        s.started_nowait(0)?;
        s.send_nowait(1).map_err(|_| LinkError::Closed)?;
        Ok::<_, LinkError>("result")
    }))
    .await
    .unwrap();
    assert_eq!(within(chan.recv()).await.unwrap(), 1);
    assert!(matches!(
        within(chan.recv()).await,
        Err(ForeignError::Exited)
    ));
    assert!(matches!(
        within(chan.recv()).await,
        Err(ForeignError::Exited)
    ));
    assert_eq!(within(chan.wait_for_result()).await.unwrap(), "result");
}

#[tokio::test]
async fn foreign_self_cancel_is_cancelled() {
    let (mut chan, ()) = within(open_channel_from(|mut s: ForeignSide<(), ()>| {
        s.started_nowait(())?;
        s.cancel();
        assert!(s.is_cancelled());
        Ok::<_, LinkError>(())
    }))
    .await
    .unwrap();
    assert!(matches!(
        within(chan.recv()).await,
        Err(ForeignError::Cancelled)
    ));
    assert!(chan.is_cancelled());
}

#[tokio::test]
async fn dropping_the_channel_cancels_and_ends_the_foreign_loop() {
    let (tx, ended) = oneshot::channel();
    let (chan, _) = within(open_channel_from(move |s| echo(s, tx)))
        .await
        .unwrap();
    drop(chan);
    assert_eq!(within(ended).await.unwrap(), LinkError::Cancelled);
}

/// Dropping the channel cancels the token before its sender goes, so the
/// foreign side never mistakes a cancel for `Closed` (repeated: a race).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_channel_is_always_cancelled_never_closed() {
    for _ in 0..50 {
        let (tx, ended) = oneshot::channel();
        let (chan, _) = within(open_channel_from(move |s| echo(s, tx)))
            .await
            .unwrap();
        drop(chan);
        assert_eq!(within(ended).await.unwrap(), LinkError::Cancelled);
    }
}

#[tokio::test]
async fn explicit_cancel_fires_the_token_and_fails_get() {
    let (tx, ended) = oneshot::channel();
    let (chan, _) = within(open_channel_from(move |s| echo(s, tx)))
        .await
        .unwrap();
    chan.cancel();
    assert_eq!(within(ended).await.unwrap(), LinkError::Cancelled);
    assert!(matches!(
        within(chan.wait_for_result()).await,
        Err(ForeignError::Failed(LinkError::Cancelled))
    ));
}

#[tokio::test]
async fn a_token_polling_loop_sees_the_cancel() {
    let (tx, ended) = oneshot::channel();
    let (chan, ()) = within(open_channel_from(move |mut s: ForeignSide<(), ()>| {
        let _guard = Ended(Some(tx), LinkError::Cancelled);
        s.started_nowait(())?;
        let token = s.cancelled_token();
        // A C-like loop: does a slice of work, then checks the flag.
        while !token.is_cancelled() {
            std::thread::yield_now();
        }
        Ok::<_, LinkError>(())
    }))
    .await
    .unwrap();
    drop(chan);
    within(ended).await.unwrap();
}

#[tokio::test]
async fn aborting_the_actor_task_cancels_the_foreign_loop() {
    let (tx, ended) = oneshot::channel();
    let (ready_tx, ready) = oneshot::channel();
    let task = tokio::spawn(async move {
        let (mut chan, _) = open_channel_from(move |s| echo(s, tx)).await?;
        let _ = ready_tx.send(());
        // Blocks forever: the foreign side only answers sends.
        chan.recv().await
    });
    within(ready).await.unwrap();
    task.abort();
    assert!(within(task).await.unwrap_err().is_cancelled());
    assert_eq!(within(ended).await.unwrap(), LinkError::Cancelled);
}

#[tokio::test]
async fn a_panicking_actor_task_cancels_the_foreign_loop() {
    let (tx, ended) = oneshot::channel();
    let task = tokio::spawn(async move {
        let (_chan, first) = open_channel_from(move |s| echo(s, tx)).await.unwrap();
        if first == 0 {
            panic!("actor side failed");
        }
    });
    assert!(within(task).await.unwrap_err().is_panic());
    assert_eq!(within(ended).await.unwrap(), LinkError::Cancelled);
}

#[tokio::test]
async fn dropping_open_channel_from_before_started_cancels() {
    let (tx, ended) = oneshot::channel();
    let (entered_tx, entered) = oneshot::channel();
    let opening = open_channel_from(move |s: ForeignSide<(), ()>| {
        let _guard = Ended(Some(tx), LinkError::Cancelled);
        let token = s.cancelled_token();
        let _ = entered_tx.send(());
        futures::executor::block_on(token.cancelled());
        Ok::<_, LinkError>(())
    });
    // Poll the opening until the foreign side runs, then drop it.
    tokio::select! {
        _ = opening => panic!("never starts"),
        got = entered => got.unwrap(),
    }
    within(ended).await.unwrap();
}

#[tokio::test]
async fn send_nowait_reports_full_then_closed() {
    let (probe_tx, probe) = oneshot::channel();
    let (go_tx, go) = std::sync::mpsc::channel::<()>();
    let (done_tx, done) = oneshot::channel();
    let (chan, _) = within(open_channel_from(move |mut s: ForeignSide<(), u32>| {
        s.started_nowait(0)?;
        let mut n = 0;
        let full = loop {
            match s.send_nowait(n) {
                Ok(()) => n += 1,
                Err(e) => break e,
            }
        };
        let _ = probe_tx.send((n, full));
        let _ = go.recv();
        let _ = done_tx.send(s.send_nowait(1));
        Ok::<_, LinkError>(())
    }))
    .await
    .unwrap();
    let (n, full) = within(probe).await.unwrap();
    assert_eq!(
        (n as usize, full),
        (BUFFER, TrySendError::Full(BUFFER as u32))
    );
    drop(chan);
    go_tx.send(()).unwrap();
    assert_eq!(within(done).await.unwrap(), Err(TrySendError::Closed(1)));
}

#[tokio::test]
async fn wait_for_result_closes_input() {
    let (mut chan, ()) = within(open_channel_from(|mut s: ForeignSide<u32, ()>| {
        s.started_nowait(())?;
        let mut sum = 0;
        loop {
            match s.get() {
                Ok(v) => sum += v,
                Err(LinkError::Closed) => return Ok(sum),
                Err(e) => return Err(e),
            }
        }
    }))
    .await
    .unwrap();
    for v in 1..=4 {
        within(chan.send(v)).await.unwrap();
    }
    assert_eq!(within(chan.wait_for_result()).await.unwrap(), 10);
}

#[tokio::test]
async fn started_twice_is_an_error() {
    let (chan, ()) = within(open_channel_from(|mut s: ForeignSide<(), ()>| {
        s.started_nowait(())?;
        s.started_nowait(())
    }))
    .await
    .unwrap();
    assert!(matches!(
        within(chan.wait_for_result()).await,
        Err(ForeignError::Failed(LinkError::AlreadyStarted))
    ));
}

#[tokio::test]
async fn run_task_result_error_panic() {
    assert_eq!(within(run_task(|_t| Ok::<_, Stuck>(5))).await.unwrap(), 5);
    assert!(matches!(
        within(run_task(|_t| Err::<(), _>(Stuck(1)))).await,
        Err(ForeignError::Failed(Stuck(1)))
    ));
    let got = within(run_task(|_t| -> Result<(), Stuck> { panic!("no") })).await;
    assert!(matches!(got, Err(ForeignError::Panicked { ref message }) if message == "no"));
}

#[tokio::test]
async fn dropping_run_task_cancels_it() {
    let (tx, ended) = oneshot::channel();
    let (entered_tx, entered) = oneshot::channel();
    let task = run_task(move |token| {
        let _guard = Ended(Some(tx), LinkError::Cancelled);
        let _ = entered_tx.send(());
        futures::executor::block_on(token.cancelled());
        Ok::<_, Stuck>(())
    });
    tokio::select! {
        _ = task => panic!("never ends by itself"),
        got = entered => got.unwrap(),
    }
    within(ended).await.unwrap();
}

#[test]
fn dropped_outside_a_runtime_is_still_joined() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (tx, ended) = std::sync::mpsc::channel();
    let (chan, ()) = rt
        .block_on(open_channel_from(move |mut s: ForeignSide<(), ()>| {
            let _guard = EndedStd(tx);
            s.started_nowait(())?;
            s.get()
        }))
        .unwrap();
    drop(rt);
    // No runtime here: the reaper thread joins it.
    drop(chan);
    ended.recv_timeout(DEADLINE).unwrap();
}

struct EndedStd(std::sync::mpsc::Sender<()>);
impl Drop for EndedStd {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

#[test]
fn error_type_serializes_with_the_foreign_value() {
    let e: ForeignError<Stuck> = ForeignError::Failed(Stuck(3));
    let bytes = postcard::to_stdvec(&e).unwrap();
    let back: ForeignError<Stuck> = postcard::from_bytes(&bytes).unwrap();
    assert!(matches!(back, ForeignError::Failed(Stuck(3))));
    assert_eq!(e.to_string(), "the foreign side failed: valve 3 stuck");
    assert!(std::error::Error::source(&e).is_some());
}

#[tokio::test]
async fn stream_ends_on_exit_and_yields_an_error_last() {
    use futures::StreamExt;
    let (mut chan, ()) = within(open_channel_from(|mut s: ForeignSide<(), u8, ()>| {
        s.started_nowait(()).map_err(|_| Stuck(0))?;
        s.send(1).map_err(|_| Stuck(0))?;
        Err::<(), _>(Stuck(9))
    }))
    .await
    .unwrap();
    let got: Vec<_> = within(chan.stream().collect()).await;
    assert!(
        matches!(got.as_slice(), [Ok(1), Err(ForeignError::Failed(Stuck(9)))]),
        "{got:?}"
    );
}

/// Another executor: a user's own multi-thread runtime drives the foreign
/// side through its `Handle` (its tasks run on that runtime's workers);
/// cancelling the actor side ends the async loop there.
#[test]
fn a_users_multi_thread_runtime_drives_the_foreign_side() {
    let theirs = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("user-rt")
        .enable_all()
        .build()
        .unwrap();
    let handle = theirs.handle().clone();
    let (ended_tx, ended_rx) = oneshot::channel();
    let actor = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    actor.block_on(within(async {
        let (mut chan, first) = open_channel_from(move |mut side: ForeignSide<u32, String>| {
            handle.clone().block_on(async move {
                let _ended = Ended(Some(ended_tx), LinkError::Cancelled);
                side.started_nowait("ready".into())?;
                loop {
                    let token = side.cancelled_token();
                    let v = tokio::select! {
                        _ = token.cancelled() => return Ok::<(), LinkError>(()),
                        v = side.recv() => v?,
                    };
                    // Work on the user's runtime, then answer.
                    let worker = tokio::spawn(async move {
                        format!("{v} on {}", std::thread::current().name().unwrap_or("?"))
                    });
                    let answer = worker.await.map_err(|_| LinkError::Closed)?;
                    side.send_async(answer).await?;
                }
            })
        })
        .await
        .unwrap();
        assert_eq!(first, "ready");
        chan.send(7).await.unwrap();
        assert_eq!(chan.recv().await.unwrap(), "7 on user-rt");
        chan.cancel();
        drop(chan);
        assert_eq!(ended_rx.await, Ok(LinkError::Cancelled));
    }));
    theirs.shutdown_timeout(DEADLINE);
}
