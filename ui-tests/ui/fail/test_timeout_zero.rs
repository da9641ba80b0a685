#[tractor::test(timeout = 0)]
async fn spawns_a_child() {}

fn main() {}
