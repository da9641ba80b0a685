use tractor::Context;

#[tractor::context(buffer = 16)]
async fn greet(ctx: Context<String>) -> Result<(), tractor::Error> {
    ctx.started("hello".into()).await
}

fn main() {}
