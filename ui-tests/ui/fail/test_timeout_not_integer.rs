#[tractor::test(timeout = "30s")]
async fn spawns_a_child() {}

fn main() {}
