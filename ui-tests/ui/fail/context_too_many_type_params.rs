use tractor::Context;

#[tractor::context]
async fn chat(ctx: Context<u32, String, String, u64>) {
    let _ = ctx;
}

fn main() {}
