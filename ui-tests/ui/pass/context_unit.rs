//! `Context<()>` and no other argument: `call()` takes nothing, and the
//! omitted stream payloads are `()`.

use tractor::{Context, ContextEndpoint};

#[tractor::context]
async fn wait_here(ctx: Context<()>) {
    let _ = ctx.started(()).await;
}

fn payloads<E>(_: &tractor::Call<E>)
where
    E: ContextEndpoint<Started = (), ToCallee = (), FromCallee = (), Return = ()>,
{
}

fn main() {
    let call = wait_here::call();
    payloads(&call);
    assert_eq!(call.name(), "wait_here");
}
