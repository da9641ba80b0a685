use tractor::Context;

#[tractor::endpoint]
async fn greet(ctx: Context<String>) -> Result<(), tractor::Error> {
    ctx.started("hello".into()).await
}

fn main() {}
