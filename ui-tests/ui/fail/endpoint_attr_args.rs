#[tractor::endpoint(name = "ping2")]
async fn ping() -> u32 {
    1
}

fn main() {}
