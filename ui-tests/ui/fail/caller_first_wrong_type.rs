use tractor::Context;

#[tractor::context]
async fn chat(ctx: Context<u32, String, String>) -> Result<(), tractor::Error> {
    ctx.started(1).await
}

async fn parent(portal: tractor::Portal) -> Result<(), tractor::Error> {
    portal
        .open_context(chat::call(), async |_ctx, first| {
            let name: String = first;
            let _ = name;
            Ok(())
        })
        .await
}

fn main() {
    let _ = parent;
}
