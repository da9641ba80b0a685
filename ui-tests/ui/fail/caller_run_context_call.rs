use tractor::Context;

#[tractor::context]
async fn chat(ctx: Context<u32>) -> Result<u32, tractor::Error> {
    ctx.started(1).await?;
    Ok(2)
}

async fn parent(portal: tractor::Portal) -> Result<u32, tractor::Error> {
    portal.run(chat::call()).await
}

fn main() {
    let _ = parent;
}
