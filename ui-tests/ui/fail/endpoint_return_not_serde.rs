#[derive(Debug)]
struct Stats {
    calls: u64,
}

#[tractor::endpoint]
async fn stats() -> Result<Stats, String> {
    Ok(Stats { calls: 1 })
}

fn main() {}
