use tractor::Context;

#[tractor::context]
fn greet(ctx: Context<String>) {
    let _ = ctx;
}

fn main() {}
