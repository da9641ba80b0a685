use tractor::Context;

#[tractor::context]
async fn greet(ctx: &Context<String>) -> Result<(), tractor::Error> {
    ctx.started("hello".into()).await
}

fn main() {}
