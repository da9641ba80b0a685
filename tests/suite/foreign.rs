//! Foreign loops linked to an endpoint (scenario 40): a foreign thread's
//! error reaches the parent boxed with its type; cancelling the child
//! cancels and joins the foreign loop its endpoint is linked to.

use std::time::Duration;

use tractor::foreign::{self, ForeignError, ForeignSide, LinkError};
use tractor::{Context, Error, RemoteErrorKind, TransportKind};

use crate::both_transports;
use crate::common::in_nursery;

/// This module's path: the allowlist entry for its endpoints.
const MODULE: &str = module_path!();

both_transports!(
    foreign_error_is_boxed_with_its_type,
    foreign_task_error_and_panic_are_boxed,
    cancelling_the_child_cancels_and_joins_its_foreign_loop,
    foreign_self_cancel_is_boxed,
    echo_server_through_a_foreign_loop,
);

/// The foreign code's own error type.
#[derive(Debug, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
#[error("valve {valve} stuck")]
pub(crate) struct ValveStuck {
    valve: u32,
}

/// Links to a blocking loop that fails on the first value it gets.
#[tractor::endpoint]
pub(crate) async fn foreign_fails(valve: u32) -> Result<u32, ForeignError<ValveStuck>> {
    let (mut chan, first) = foreign::open_channel_from(move |mut side: ForeignSide<u32, u32>| {
        side.started_nowait(valve)
            .map_err(|_| ValveStuck { valve: 0 })?;
        let v = side.get().map_err(|_| ValveStuck { valve: 0 })?;
        Err::<(), _>(ValveStuck { valve: v })
    })
    .await?;
    chan.send(first).await?;
    chan.recv().await
}

/// A one-shot foreign task that fails, or panics.
#[tractor::endpoint]
pub(crate) async fn foreign_task(valve: u32, panic: bool) -> Result<(), ForeignError<ValveStuck>> {
    foreign::run_task(move |_token| {
        if panic {
            panic!("valve {valve} burst");
        }
        Err(ValveStuck { valve })
    })
    .await
}

/// Links to a blocking loop that waits for values until cancelled; it
/// writes `started` once running and `ended` (with why) on its way out.
#[tractor::endpoint]
pub(crate) async fn linked_blocking_loop(dir: String) -> Result<(), ForeignError<LinkError>> {
    let (mut chan, ()) = foreign::open_channel_from(move |mut side: ForeignSide<(), ()>| {
        let dir = std::path::PathBuf::from(dir);
        side.started_nowait(())?;
        let _ = std::fs::write(dir.join("started"), "");
        let got = loop {
            if let Err(e) = side.get() {
                break e;
            }
        };
        let _ = std::fs::write(dir.join("ended"), format!("{got:?}"));
        Err::<(), _>(got)
    })
    .await?;
    // Nothing ever comes: this waits until the actor is cancelled.
    chan.recv().await
}

/// Scenario 40: an error in the foreign thread arrives at the parent as a
/// remote error boxed with its type, which the parent can downcast.
async fn foreign_error_is_boxed_with_its_type(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("plumber").enable_modules([MODULE]).await?;
        let e = p.run(foreign_fails::call(7)).await.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::User, "{r}");
        assert!(r.boxed_type().contains("ValveStuck"), "{r}");
        assert!(r.message().contains("valve 7 stuck"), "{r}");
        assert!(matches!(
            r.downcast::<ForeignError<ValveStuck>>(),
            Some(ForeignError::Failed(ValveStuck { valve: 7 }))
        ));
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// `run_task` in an endpoint: the foreign error is boxed with its type, a
/// foreign panic with its message; the actor keeps serving.
async fn foreign_task_error_and_panic_are_boxed(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("plumber").enable_modules([MODULE]).await?;
        let e = p.run(foreign_task::call(3, false)).await.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert!(r.boxed_type().contains("ValveStuck"), "{r}");
        assert!(matches!(
            r.downcast::<ForeignError<ValveStuck>>(),
            Some(ForeignError::Failed(ValveStuck { valve: 3 }))
        ));
        let e = p.run(foreign_task::call(4, true)).await.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert!(r.message().contains("valve 4 burst"), "{r}");
        assert!(matches!(
            r.downcast::<ForeignError<ValveStuck>>(),
            Some(ForeignError::Panicked { .. })
        ));
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// Cancelling a child whose endpoint is linked to a blocking foreign loop
/// cancels that loop (its `get` fails with `Cancelled`) before the child
/// exits; the test's survivor check sees no process left.
async fn cancelling_the_child_cancels_and_joins_its_foreign_loop(t: TransportKind) {
    let dir = std::env::temp_dir().join(format!(
        "tractor-foreign-{}-{t:?}-{}",
        std::process::id(),
        uuid_ish()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let arg = dir.to_string_lossy().into_owned();
    let started = dir.join("started");
    in_nursery(t, async |an| {
        let p = an.start_actor("pump").enable_modules([MODULE]).await?;
        let (res, acked) = tokio::join!(p.run(linked_blocking_loop::call(arg)), async {
            crate::wait::until_async(
                "the foreign loop to start",
                Duration::from_secs(10),
                || async { Ok::<_, Error>(started.exists()) },
            )
            .await?;
            p.cancel_actor().await
        });
        assert!(acked?);
        assert!(res.is_err());
        Ok(())
    })
    .await
    .unwrap();
    // The foreign loop saw the cancel (its `get` failed with `Cancelled`)
    // and ended: it wrote why on its way out, before its process exited.
    let ended = dir.join("ended");
    let seen = crate::wait::until_async(
        "the foreign loop to end",
        Duration::from_secs(10),
        || async {
            let got = std::fs::read_to_string(&ended).unwrap_or_default();
            Ok::<_, Error>(crate::wait::holds(got == "Cancelled", got))
        },
    )
    .await;
    let _ = std::fs::remove_dir_all(&dir);
    seen.unwrap();
}

/// A name part no other run of this test shares.
fn uuid_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}

/// Links to a foreign loop that cancels the link itself.
#[tractor::endpoint]
pub(crate) async fn foreign_cancels_itself() -> Result<(), ForeignError<LinkError>> {
    let (mut chan, ()) = foreign::open_channel_from(|mut side: ForeignSide<(), ()>| {
        side.started_nowait(())?;
        side.cancel();
        Ok::<_, LinkError>(())
    })
    .await?;
    chan.recv().await
}

/// Scenario 40: a foreign side that cancels itself reaches the parent as
/// a boxed `ForeignError::Cancelled`.
async fn foreign_self_cancel_is_boxed(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("quitter").enable_modules([MODULE]).await?;
        let e = p.run(foreign_cancels_itself::call()).await.unwrap_err();
        let r = e.as_remote().expect("remote");
        assert!(r.boxed_type().contains("ForeignError"), "{r}");
        assert!(r.message().contains("cancelled the link"), "{r}");
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// An echo server: each value from the parent's stream goes through a
/// blocking foreign loop and back; the loop fails on `fail_at`.
#[tractor::context]
pub(crate) async fn foreign_echo(
    ctx: Context<(), u32, u32>,
    fail_at: Option<u32>,
) -> Result<u32, Error> {
    let (mut chan, ()) = foreign::open_channel_from(move |mut side: ForeignSide<u32, u32, ()>| {
        side.started_nowait(())
            .map_err(|_| ValveStuck { valve: 0 })?;
        while let Ok(v) = side.get() {
            if Some(v) == fail_at {
                return Err(ValveStuck { valve: v });
            }
            if side.send(v).is_err() {
                break;
            }
        }
        Ok(())
    })
    .await
    .map_err(Error::custom)?;
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
    let mut count = 0;
    while let Some(v) = stream.recv().await? {
        chan.send(v).await.map_err(Error::custom)?;
        let back = chan.recv().await.map_err(Error::custom)?;
        stream.send(back).await?;
        count += 1;
    }
    chan.wait_for_result().await.map_err(Error::custom)?;
    Ok(count)
}

/// Scenario 40: an echo server over a context, its stream and a foreign
/// channel does 100 round trips; an error of the foreign loop mid-stream
/// reaches the parent with its message.
async fn echo_server_through_a_foreign_loop(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = an.start_actor("echo").enable_modules([MODULE]).await?;
        let count = p
            .open_context(foreign_echo::call(None), async |ctx, ()| {
                let stream = ctx.open_stream()?;
                for i in 0..100 {
                    stream.send(i).await?;
                    assert_eq!(stream.recv().await?, Some(i));
                }
                stream.close();
                ctx.wait_for_result().await
            })
            .await?;
        assert_eq!(count, 100);
        let e = p
            .open_context(foreign_echo::call(Some(50)), async |ctx, ()| {
                let stream = ctx.open_stream()?;
                for i in 0..100 {
                    stream.send(i).await?;
                    stream.recv().await?;
                }
                stream.close();
                ctx.wait_for_result().await
            })
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert!(r.message().contains("valve 50 stuck"), "{r}");
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}
