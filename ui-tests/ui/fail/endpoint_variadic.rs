#[tractor::endpoint]
async fn sum(n: u32, rest: ...) -> u32 {
    n
}

fn main() {}
