//! Contexts and streams (scenarios 16-23, 25, 27, 32, 39 and flow control).

use std::time::{Duration, Instant};

use futures::StreamExt;
use tractor::{Context, Error, RemoteErrorKind, TransportKind};

use crate::both_transports;
use crate::common::{MODULE, in_nursery};

/// This module's path: the allowlist entry for its context endpoints.
const HERE: &str = module_path!();

both_transports!(
    ping_pong,
    started_misuse_is_relayed,
    parent_cancel_is_absorbed,
    actor_cancel_is_raised,
    child_closes_stream_at_once,
    child_cancels_itself_before_started,
    overrun_mode_fails_the_flooder,
    overrun_mode_with_allow_overruns_completes,
    backpressure_bounds_a_flooder,
    stalled_context_does_not_slow_a_sibling,
    context_with_self_is_refused,
    third_party_cancel_is_raised,
    remote_error_interrupts_the_caller,
    body_error_cancels_the_callee,
    one_way_stream_survives_consumer_restarts,
    dropping_a_one_way_stream_cancels_it,
    signature_mismatch_is_a_msg_type_error,
    current_ipc_ctx_is_bound,
);

async fn spawn_ctx_actor(an: &tractor::ActorNursery, name: &str) -> Result<tractor::Portal, Error> {
    an.start_actor(name).enable_modules([HERE, MODULE]).await
}

#[tractor::context]
async fn simple_rpc(ctx: Context<i32, String, String>, data: i32) -> Result<u32, Error> {
    ctx.started(data + 1).await?;
    let stream = ctx.open_stream().await?;
    let mut count = 0;
    while let Some(msg) = stream.recv().await? {
        assert_eq!(msg, "ping");
        stream.send("pong".into()).await?;
        count += 1;
    }
    Ok(count)
}

/// Scenario 16: started(data + 1), 10 pings and pongs, the child's loop
/// ends with exactly 10 when the parent closes its stream.
async fn ping_pong(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "rpc_server").await?;
        let count = p
            .open_context(simple_rpc::call(10), async |ctx, first| {
                assert_eq!(first, 11);
                let stream = ctx.open_stream().await?;
                for _ in 0..10 {
                    stream.send("ping".into()).await?;
                    assert_eq!(stream.recv().await?.as_deref(), Some("pong"));
                }
                stream.close();
                ctx.wait_for_result().await
            })
            .await?;
        assert_eq!(count, 10);
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn started_twice(ctx: Context<u8>) -> Result<(), Error> {
    ctx.started(1).await?;
    ctx.started(2).await?;
    Ok(())
}

#[tractor::context]
async fn stream_before_started(ctx: Context<u8, u8, u8>) -> Result<(), Error> {
    let _ = ctx.open_stream().await?;
    ctx.started(1).await
}

/// Scenario 17: `started` twice, or `open_stream` before `started`, is a
/// remote error at the parent.
async fn started_misuse_is_relayed(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "misuser").await?;
        let e = p
            .open_context(started_twice::call(), async |ctx, first| {
                assert_eq!(first, 1);
                ctx.wait_for_result().await
            })
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("started() was already called"),
            "{e}"
        );
        let e = p
            .open_context(stream_before_started::call(), async |_ctx, _| Ok(()))
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("open_stream() before started()"),
            "{e}"
        );
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn sleep_after_started(ctx: Context<()>) {
    let _ = ctx.started(()).await;
    std::future::pending::<()>().await
}

/// Scenario 18a: the parent cancels the blocked child task through the
/// context: acked, absorbed at scope exit; the result is a
/// `ContextCancelled` naming the parent.
async fn parent_cancel_is_absorbed(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "sleeper").await?;
        let me = tractor::current_actor()?.aid().clone();
        p.open_context(sleep_after_started::call(), async |ctx, ()| {
            assert!(ctx.cancel().await, "cancel acked");
            assert!(ctx.cancel_called() && ctx.cancel_acked());
            let e = ctx.wait_for_result().await.unwrap_err();
            let r = e.as_remote().expect("remote");
            assert_eq!(r.kind(), RemoteErrorKind::ContextCancelled, "{r}");
            assert_eq!(r.canceller(), Some(&me));
            assert_eq!(ctx.canceller(), Some(me.clone()));
            Ok(())
        })
        .await?;
        // The actor itself is fine: only the task was cancelled.
        p.open_context(sleep_after_started::call(), async |ctx, ()| {
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

/// Scenario 18b: cancelling the child's whole actor instead raises the
/// `ContextCancelled` in the open context.
async fn actor_cancel_is_raised(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "sleeper").await?;
        let e = p
            .open_context(sleep_after_started::call(), async |_ctx, ()| {
                p.cancel_actor().await?;
                std::future::pending::<Result<(), Error>>().await
            })
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::ContextCancelled, "{r}");
        assert_eq!(r.canceller(), Some(tractor::current_actor()?.aid()));
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn open_close_return(ctx: Context<(), u8, u8>) -> Result<(), Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream().await?;
    stream.close();
    Ok(())
}

/// Scenario 19: the child opens and closes its stream at once and
/// returns: the parent's iteration ends empty, later receives see the end,
/// a second stream is refused, all fast.
async fn child_closes_stream_at_once(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "closer").await?;
        let started = Instant::now();
        p.open_context(open_close_return::call(), async |ctx, ()| {
            let mut stream = ctx.open_stream().await?;
            let mut n = 0;
            while let Some(item) = stream.next().await {
                item?;
                n += 1;
            }
            assert_eq!(n, 0);
            assert_eq!(stream.recv().await?, None);
            let again = ctx.open_stream().await.unwrap_err();
            assert!(matches!(again, Error::ContextMisuse(_)), "{again}");
            Ok(())
        })
        .await?;
        assert!(started.elapsed() < Duration::from_millis(500));
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn cancel_self_before_started(ctx: Context<()>) {
    ctx.cancel();
    std::future::pending::<()>().await
}

/// Scenario 20: a child that cancels its own context before `started`
/// makes the parent's open fail with `ContextCancelled` naming the child.
async fn child_cancels_itself_before_started(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "quitter").await?;
        let e = p
            .open_context(cancel_self_before_started::call(), async |_c, ()| Ok(()))
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::ContextCancelled, "{r}");
        assert_eq!(r.canceller().map(|a| a.name.as_str()), Some("quitter"));
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

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
                    let stream = ctx.open_stream().await?;
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
        assert_eq!(r.src_uid().name, "deaf");
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
        ctx.open_stream_allow_overruns().await?
    } else {
        ctx.open_stream().await?
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
            let stream = ctx.open_stream().await?;
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
    let stream = ctx.open_stream().await?;
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
            let stream = ctx.open_stream().await?;
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

/// A consumer that stalls on one context does not slow another context
/// on the same channel.
async fn stalled_context_does_not_slow_a_sibling(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "both").await?;
        p.open_context(flood::call().buffer(8), async |stalled, ()| {
            let _never_read = stalled.open_stream().await?;
            let count = p
                .open_context(simple_rpc::call(0), async |ctx, _| {
                    let s = ctx.open_stream().await?;
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

/// Scenario 23: a context with one's own actor is refused.
async fn context_with_self_is_refused(t: TransportKind) {
    crate::common::in_root(t, async || {
        let me = tractor::current_actor()?;
        let portal = tractor::connect_portal(me.accept_addr()).await?;
        let e = portal
            .open_context(simple_rpc::call(1), async |_c, _| Ok(()))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("Invalid Operation"), "{e}");
        Ok(())
    })
    .await
    .unwrap();
}

/// Cancels the actor at `addr` on behalf of this (third) actor.
#[tractor::endpoint]
async fn cancel_actor_at(addr: String) -> Result<bool, Error> {
    let addr: tractor::Addr = addr.parse().map_err(|e| Error::Config(format!("{e}")))?;
    let p = tractor::connect_portal(&addr).await?;
    p.cancel_actor().await
}

/// Scenario 25: a third actor cancels the actor our context runs in: the
/// context raises `ContextCancelled` naming that third actor.
async fn third_party_cancel_is_raised(t: TransportKind) {
    in_nursery(t, async |an| {
        let sleeper = spawn_ctx_actor(an, "sleeper").await?;
        let canceller = spawn_ctx_actor(an, "canceller").await?;
        let addr = sleeper.run(crate::common::accept_addr::call()).await?;
        let e = sleeper
            .open_context(sleep_after_started::call(), async |_ctx, ()| {
                assert!(canceller.run(cancel_actor_at::call(addr)).await?);
                std::future::pending::<Result<(), Error>>().await
            })
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::ContextCancelled, "{r}");
        assert_eq!(r.canceller().map(|a| a.name.as_str()), Some("canceller"));
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn fail_mid_stream(ctx: Context<(), u32, u32>) -> Result<(), Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream().await?;
    stream.send(1).await?;
    // Fails once the parent says it sits in its body, not reading.
    stream.recv().await?;
    Err(Error::RuntimeFailure(
        "the child gives up mid-stream".into(),
    ))
}

/// Scenario 27 (and no half-open dialogs): a child error interrupts a
/// parent that is not even reading, and arrives as itself.
async fn remote_error_interrupts_the_caller(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "faulty").await?;
        let e = p
            .open_context(fail_mid_stream::call(), async |ctx, ()| {
                // Tell the child we are here, then never read.
                ctx.open_stream().await?.send(0).await?;
                std::future::pending::<Result<(), Error>>().await
            })
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::RuntimeFailure, "{r}");
        assert!(r.message().contains("gives up mid-stream"), "{r}");
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn observe_cancel(ctx: Context<()>) {
    let _guard = crate::common::CountDrop("observe_cancel");
    let _ = ctx.started(()).await;
    std::future::pending::<()>().await
}

/// An error on the parent's side cancels the child task, which observes
/// it (its future is dropped); the parent gets its own error back.
async fn body_error_cancels_the_callee(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "observer").await?;
        let e = p
            .open_context(observe_cancel::call(), async |_ctx, ()| {
                Err::<(), _>(Error::Config("the parent fails".into()))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Config(m) if m == "the parent fails"),
            "{e}"
        );
        // By the time the scope returned, the remote task was cancelled.
        let dropped = p
            .run(crate::common::drops::call("observe_cancel".into()))
            .await?;
        assert_eq!(dropped, 1);
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

/// A stand-in for `simple_rpc` as another binary or version compiled it:
/// same name, different argument type.
struct OldSimpleRpc;

#[derive(serde::Serialize, serde::Deserialize)]
struct OldArgs {
    data: String,
}

impl tractor::RemoteFn for OldSimpleRpc {
    type Args = OldArgs;
    const PATH: &'static str = <simple_rpc::Endpoint as tractor::RemoteFn>::PATH;
    const NAME: &'static str = "simple_rpc";
    const KIND: tractor::__private::FuncType = tractor::__private::FuncType::Context;
    fn signature() -> String {
        "fn(alloc::string::String) with [i32, alloc::string::String, alloc::string::String] -> u32"
            .into()
    }
}

impl tractor::ContextEndpoint for OldSimpleRpc {
    type Started = i32;
    type ToCallee = String;
    type FromCallee = String;
    type Return = u32;
}

/// Scenario 39 and the cross-version case: a caller compiled against a
/// different signature gets `MsgTypeError` naming the endpoint, scoped to
/// that one dialog; a sibling context on the same channel keeps running.
async fn signature_mismatch_is_a_msg_type_error(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "typed").await?;
        p.open_context(simple_rpc::call(1), async |sibling, first| {
            assert_eq!(first, 2);
            let s = sibling.open_stream().await?;
            let call = tractor::Call::<OldSimpleRpc>::new(OldArgs { data: "x".into() });
            let e = p
                .open_context(call, async |_c, _| Ok(()))
                .await
                .unwrap_err();
            let r = e.as_remote().expect("remote");
            assert_eq!(r.kind(), RemoteErrorKind::MsgTypeError, "{r}");
            assert!(r.message().contains("simple_rpc"), "{r}");
            assert!(r.message().contains("different signature"), "{r}");
            // The sibling dialog on the same channel is untouched.
            s.send("ping".into()).await?;
            assert_eq!(s.recv().await?.as_deref(), Some("pong"));
            s.close();
            assert_eq!(sibling.wait_for_result().await?, 1);
            Ok(())
        })
        .await?;
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn who_called(ctx: Context<String>) -> Result<(), Error> {
    let info = tractor::current_ipc_ctx().ok_or(Error::Config("no current ctx".into()))?;
    assert_eq!(info.side(), tractor::Side::Callee);
    ctx.started(format!("{}:{}", info.peer().name, info.endpoint()))
        .await
}

/// `current_ipc_ctx()` gives each side the context its task belongs to.
async fn current_ipc_ctx_is_bound(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "introspect").await?;
        assert!(tractor::current_ipc_ctx().is_none());
        let seen = p
            .open_context(who_called::call(), async |ctx, seen| {
                let mine = tractor::current_ipc_ctx().expect("caller side bound");
                assert_eq!(mine.side(), tractor::Side::Caller);
                assert_eq!(mine.cid(), ctx.info().cid());
                Ok(seen)
            })
            .await?;
        assert!(
            seen.starts_with("root:") && seen.ends_with("who_called"),
            "{seen}"
        );
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

mod inter_peer {
    use super::*;

    both_transports!(
        error_before_started_is_not_masked,
        grandchild_error_is_an_inception
    );
}

/// A value whose serialization always fails.
struct Unserializable;

impl serde::Serialize for Unserializable {
    fn serialize<S: serde::Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be serialized",
        ))
    }
}

impl<'de> serde::Deserialize<'de> for Unserializable {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <()>::deserialize(d).map(|()| Unserializable)
    }
}

#[tractor::context]
async fn bad_started_with_peer(ctx: Context<Unserializable>) -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let peer = spawn_ctx_actor(an, "peer").await?;
        peer.open_context(sleep_after_started::call(), async |_peer_ctx, ()| {
            ctx.started(Unserializable).await
        })
        .await
    })
    .await
}

/// Scenario 24: a child with a context open to a peer fails to send its
/// `started` value; cleaning up cancels the peer context; the root sees
/// the encoding error, not a `ContextCancelled`.
async fn error_before_started_is_not_masked(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "middle").await?;
        let e = p
            .open_context(bad_started_with_peer::call(), async |_c, _| Ok(()))
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_ne!(r.kind(), RemoteErrorKind::ContextCancelled, "{r}");
        assert!(
            r.message().contains("started value could not be encoded"),
            "{r}"
        );
        assert_eq!(r.src_uid().name, "middle");
        p.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn echo_then_maybe_fail(
    ctx: Context<(), String, String>,
    fail_after: Option<u32>,
) -> Result<(), Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream().await?;
    let mut n = 0;
    while let Some(msg) = stream.recv().await? {
        if fail_after == Some(n) {
            return Err(Error::RuntimeFailure(
                "the grandchild fails mid-echo".into(),
            ));
        }
        stream.send(msg).await?;
        n += 1;
    }
    Ok(())
}

/// A client that runs an echo context in a grandchild it spawns and relays
/// what the root sends.
#[tractor::context]
async fn client(ctx: Context<(), String, String>, fail_after: Option<u32>) -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let server = spawn_ctx_actor(an, "grandchild").await?;
        server
            .open_context(echo_then_maybe_fail::call(fail_after), async |gctx, ()| {
                ctx.started(()).await?;
                let up = ctx.open_stream().await?;
                let down = gctx.open_stream().await?;
                while let Some(msg) = up.recv().await? {
                    down.send(msg).await?;
                    match down.recv().await? {
                        Some(echo) => up.send(echo).await?,
                        None => break,
                    }
                }
                Ok(())
            })
            .await
    })
    .await
}

/// Scenario 26: a grandchild fails mid-echo: the root's context with the
/// client raises an inception error (relayed by the client, raised in the
/// grandchild); without the failure, cancelling the client's context is
/// absorbed and tears the grandchild down.
async fn grandchild_error_is_an_inception(t: TransportKind) {
    let started = Instant::now();
    in_nursery(t, async |an| {
        let c = spawn_ctx_actor(an, "client").await?;
        let e = c
            .open_context(client::call(Some(3)), async |ctx, ()| {
                let s = ctx.open_stream().await?;
                for i in 0..10 {
                    s.send(format!("msg {i}")).await?;
                    s.recv().await?;
                }
                Ok(())
            })
            .await
            .unwrap_err();
        let r = e.as_remote().expect("remote");
        assert_eq!(r.kind(), RemoteErrorKind::Relayed, "{r}");
        assert!(r.is_inception());
        assert_eq!(r.src_type(), tractor::boxed_types::RUNTIME_FAILURE);
        assert_eq!(r.src_uid().name, "grandchild");
        assert_eq!(r.relay_uid().name, "client");

        c.open_context(client::call(None), async |ctx, ()| {
            let s = ctx.open_stream().await?;
            s.send("hello".into()).await?;
            assert_eq!(s.recv().await?.as_deref(), Some("hello"));
            ctx.cancel().await;
            Ok(())
        })
        .await?;
        c.cancel_actor().await?;
        Ok(())
    })
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    // The grandchild went down with its client: checked by the test's survivor check.
}

mod pipeline {
    use super::*;

    both_transports!(pipeline_dedups_and_cancels_cleanly timeout = 60);
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
        let out = ctx.open_stream().await?;
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
                    let mut s = ctx.open_stream().await?;
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
