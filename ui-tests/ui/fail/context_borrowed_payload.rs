use tractor::Context;

#[tractor::context]
async fn greet(ctx: Context<&str>) -> Result<(), tractor::Error> {
    ctx.started("hello").await
}

fn main() {}
