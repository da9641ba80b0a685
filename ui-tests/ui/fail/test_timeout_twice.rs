#[tractor::test(timeout = 30, timeout = 60)]
async fn spawns_a_child() {}

fn main() {}
