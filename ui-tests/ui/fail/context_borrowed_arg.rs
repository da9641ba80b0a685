use tractor::Context;

#[tractor::context]
async fn greet(ctx: Context<String>, name: &str) -> Result<(), tractor::Error> {
    ctx.started(format!("hello {name}")).await
}

fn main() {}
