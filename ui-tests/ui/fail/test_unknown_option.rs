#[tractor::test(retries = 3)]
async fn spawns_a_child() {}

fn main() {}
