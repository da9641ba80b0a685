//! The parent side of a context: `open_context` with the callee's typed
//! call; `first`, the stream and the result carry the callee's types.

use tractor::Context;

#[tractor::context]
async fn simple_rpc(ctx: Context<i32, String, String>, data: i32) -> Result<u32, tractor::Error> {
    ctx.started(data + 1).await?;
    let stream = ctx.open_stream()?;
    let mut count = 0;
    while let Some(_ping) = stream.recv().await? {
        stream.send("pong".into()).await?;
        count += 1;
    }
    Ok(count)
}

async fn parent(portal: tractor::Portal) -> Result<u32, tractor::Error> {
    portal
        .open_context(simple_rpc::call(10), async |ctx, first| {
            let first: i32 = first;
            assert_eq!(first, 11);
            let s = ctx.open_stream()?;
            s.send("ping".to_string()).await?;
            let pong: Option<String> = s.recv().await?;
            assert_eq!(pong.as_deref(), Some("pong"));
            s.close();
            ctx.wait_for_result().await
        })
        .await
}

fn main() {
    let _ = parent;
}
