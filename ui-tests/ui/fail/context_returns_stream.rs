use tractor::Context;

#[tractor::context]
async fn numbers(ctx: Context<()>, n: u32) -> impl futures::Stream<Item = u32> {
    let _ = ctx;
    futures::stream::iter(0..n)
}

fn main() {}
