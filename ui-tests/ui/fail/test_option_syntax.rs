#[tractor::test(timeout: 30)]
async fn spawns_a_child() {}

fn main() {}
