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
            stream.send(5u32).await?;
            Ok(())
        })
        .await
}

fn main() {
    let _ = parent;
}
