use tractor::Context;

#[tractor::context]
async fn ping(ctx: Context) {
    let _ = ctx;
}

fn main() {}
