//! Cancelling a context: by the opener (acked, absorbed), by the callee
//! itself, with the callee's whole actor, by a third actor (raised), and
//! by an error in the opener's body (scenarios 18, 20, 25).

use tractor::{Context, Error, RemoteErrorKind, TransportKind};

use super::{sleep_after_started, spawn_ctx_actor};
use crate::common::in_nursery;
use crate::{both_transports, on_backend};

/// This module's path: the allowlist entry for its endpoints.
pub(super) const HERE: &str = module_path!();

both_transports!(
    parent_cancel_is_absorbed,
    actor_cancel_is_raised,
    child_cancels_itself_before_started,
    third_party_cancel_is_raised,
    body_error_cancels_the_callee,
);

on_backend!(forkserver = "forkserver": parent_cancel_is_absorbed, actor_cancel_is_raised);
on_backend!(thread = "thread": parent_cancel_is_absorbed, actor_cancel_is_raised);

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

/// Cancels the actor at `addr` on behalf of this (third) actor.
#[tractor::endpoint]
async fn cancel_actor_at(addr: String) -> Result<bool, Error> {
    let addr: tractor::Addr = addr.parse().map_err(|e| Error::custom(format!("{e}")))?;
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
                Err::<(), _>(Error::custom("the parent fails"))
            })
            .await
            .unwrap_err();
        assert!(
            matches!(&e, Error::Custom(m) if m.to_string() == "the parent fails"),
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
