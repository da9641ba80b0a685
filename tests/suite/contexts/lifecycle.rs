//! A context's life: `started` (once, before any stream), the one
//! bidirectional stream, the callee's return, a context with oneself
//! refused, and `current_ipc_ctx` on both sides (scenarios 16, 17, 19, 23).

use std::time::{Duration, Instant};

use futures::StreamExt;
use tractor::{Context, Error, TransportKind};

use super::{simple_rpc, spawn_ctx_actor};
use crate::common::in_nursery;
use crate::{both_transports, on_backend};

/// This module's path: the allowlist entry for its endpoints.
pub(super) const HERE: &str = module_path!();

both_transports!(
    ping_pong,
    started_misuse_is_relayed,
    child_closes_stream_at_once,
    context_with_self_is_refused,
    current_ipc_ctx_is_bound,
);

on_backend!(forkserver = "forkserver": ping_pong, started_misuse_is_relayed);
on_backend!(thread = "thread": ping_pong, started_misuse_is_relayed);

/// Scenario 16: started(data + 1), 10 pings and pongs, the child's loop
/// ends with exactly 10 when the parent closes its stream (a result the
/// caller may ask for twice).
async fn ping_pong(t: TransportKind) {
    in_nursery(t, async |an| {
        let p = spawn_ctx_actor(an, "rpc_server").await?;
        let count = p
            .open_context(simple_rpc::call(10), async |ctx, first| {
                assert_eq!(first, 11);
                let stream = ctx.open_stream()?;
                for _ in 0..10 {
                    stream.send("ping".into()).await?;
                    assert_eq!(stream.recv().await?.as_deref(), Some("pong"));
                }
                stream.close();
                let count = ctx.wait_for_result().await?;
                // Asked again, the result is still there.
                assert_eq!(ctx.wait_for_result().await?, count);
                Ok(count)
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
    let _ = ctx.open_stream()?;
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
async fn open_close_return(ctx: Context<(), u8, u8>) -> Result<(), Error> {
    ctx.started(()).await?;
    let stream = ctx.open_stream()?;
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
            let mut stream = ctx.open_stream()?;
            let mut n = 0;
            while let Some(item) = stream.next().await {
                item?;
                n += 1;
            }
            assert_eq!(n, 0);
            assert_eq!(stream.recv().await?, None);
            let again = ctx.open_stream().unwrap_err();
            assert!(matches!(again, Error::ContextMisuse { .. }), "{again}");
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

/// Scenario 23: a context with one's own actor is refused.
async fn context_with_self_is_refused(t: TransportKind) {
    crate::common::in_root(t, async || {
        let me = tractor::current_actor()?;
        let portal = tractor::connect_portal(me.accept_addr()).await?;
        let e = portal
            .open_context(simple_rpc::call(1), async |_c, _| Ok(()))
            .await
            .unwrap_err();
        assert!(
            matches!(
                &e,
                tractor::Error::ContextMisuse {
                    misuse: tractor::error::Misuse::WithItself { .. },
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("this actor itself"), "{e}");
        Ok(())
    })
    .await
    .unwrap();
}

#[tractor::context]
async fn who_called(ctx: Context<String>) -> Result<(), Error> {
    let info = tractor::current_ipc_ctx().ok_or(Error::custom("no current ctx"))?;
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
