#[tractor::endpoint]
fn lookup<K: Ord>(key: &K, (lo, hi): (u32, u32)) -> impl Into<u32> {
    let _ = key;
    lo + hi
}

fn main() {}
