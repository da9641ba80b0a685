#[tractor::endpoint]
async fn name() -> &'static str {
    "frank"
}

fn main() {}
