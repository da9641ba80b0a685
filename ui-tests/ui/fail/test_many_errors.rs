#[tractor::test(retries = 3, timeout = 0)]
fn spawns_a_child<T>(n: u32) {}

fn main() {}
