use tractor::Context;

#[tractor::context]
async fn relay(up: Context<(), u32, u32>, down: Context<(), String, String>) {
    let _ = (up, down);
}

fn main() {}
