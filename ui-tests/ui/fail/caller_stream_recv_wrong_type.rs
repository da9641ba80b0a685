use tractor::Context;

#[tractor::context]
async fn chat(ctx: Context<u32, String, String>) -> Result<(), tractor::Error> {
    ctx.started(1).await?;
    let stream = ctx.open_stream()?;
    while let Some(msg) = stream.recv().await? {
        stream.send(msg).await?;
    }
    Ok(())
}

async fn parent(portal: tractor::Portal) -> Result<(), tractor::Error> {
    portal
        .open_context(chat::call(), async |ctx, _first| {
            let stream = ctx.open_stream()?;
            let reply: Option<u32> = stream.recv().await?;
            let _ = reply;
            Ok(())
        })
        .await
}

fn main() {
    let _ = parent;
}
