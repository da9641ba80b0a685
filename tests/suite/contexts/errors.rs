//! Errors across a context: a callee's error interrupts an opener that is
//! not reading, a signature mismatch is a `MsgTypeError` scoped to its
//! dialog, an error before `started` is not masked by the cleanup's
//! cancel, and a grandchild's error arrives as an inception through its
//! relay (scenarios 24, 26, 27, 39).

use std::time::{Duration, Instant};

use tractor::{Context, Error, RemoteErrorKind, TransportKind};

use super::{simple_rpc, sleep_after_started, spawn_ctx_actor};
use crate::common::in_nursery;
use crate::{both_transports, on_backend};

/// This module's path: the allowlist entry for its endpoints.
pub(super) const HERE: &str = module_path!();

both_transports!(
    remote_error_interrupts_the_caller,
    signature_mismatch_is_a_msg_type_error,
    error_before_started_is_not_masked,
    grandchild_error_is_an_inception,
);

on_backend!(forkserver = "forkserver": remote_error_interrupts_the_caller, grandchild_error_is_an_inception);
on_backend!(thread = "thread": remote_error_interrupts_the_caller, grandchild_error_is_an_inception);

#[tractor::context]
async fn fail_mid_stream(ctx: Context<(), u32, u32>) -> Result<(), Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
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
                ctx.open_stream()?.send(0).await?;
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
            let s = sibling.open_stream()?;
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
        assert_eq!(r.origin().name, "middle");
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
    let stream = ctx.open_stream()?;
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
                let up = ctx.open_stream()?;
                let down = gctx.open_stream()?;
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
                let s = ctx.open_stream()?;
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
        assert_eq!(r.src_type(), tractor::error::boxed_types::RUNTIME_FAILURE);
        assert_eq!(r.origin().name, "grandchild");
        assert_eq!(r.relay_uid().name, "client");

        c.open_context(client::call(None), async |ctx, ()| {
            let s = ctx.open_stream()?;
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
