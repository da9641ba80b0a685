#[tractor::endpoint]
struct Ping {
    n: u32,
}

fn main() {}
