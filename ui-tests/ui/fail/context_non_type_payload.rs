use tractor::Context;

#[tractor::context]
async fn chat(ctx: Context<u32, Item = String>) -> Result<(), tractor::Error> {
    ctx.started(1).await
}

fn main() {}
