//! Contexts, the cross-actor task pairs, one job per file: their
//! life ([`lifecycle`]), cancelling them ([`cancellation`]), errors
//! across them ([`errors`]), flow control on their streams
//! ([`flow_control`]), and one-way streams ([`streams`]). Each scenario
//! runs over TCP and over unix sockets.
//!
//! Shared here: the endpoints several files use, and the actor every test
//! spawns, with every module of these tests enabled.

use tractor::{Context, Error};

use crate::common::MODULE;

mod cancellation;
mod errors;
mod flow_control;
mod lifecycle;
mod streams;

/// The allowlist of the actors these tests spawn: every module here with
/// endpoints, and the common one.
const MODULES: [&str; 7] = [
    module_path!(),
    cancellation::HERE,
    errors::HERE,
    flow_control::HERE,
    lifecycle::HERE,
    streams::HERE,
    MODULE,
];

/// A daemon serving every endpoint of these tests.
async fn spawn_ctx_actor(an: &tractor::ActorNursery, name: &str) -> Result<tractor::Portal, Error> {
    an.start_actor(name).enable_modules(MODULES).await
}

/// Says `started(data + 1)`, then answers every `ping` with `pong`;
/// returns how many it answered.
#[tractor::context]
async fn simple_rpc(ctx: Context<i32, String, String>, data: i32) -> Result<u32, Error> {
    ctx.started(data + 1).await?;
    let stream = ctx.open_stream()?;
    let mut count = 0;
    while let Some(msg) = stream.recv().await? {
        assert_eq!(msg, "ping");
        stream.send("pong".into()).await?;
        count += 1;
    }
    Ok(count)
}

/// Says `started`, then waits until cancelled.
#[tractor::context]
async fn sleep_after_started(ctx: Context<()>) {
    let _ = ctx.started(()).await;
    std::future::pending::<()>().await
}
