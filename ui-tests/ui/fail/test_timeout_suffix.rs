#[tractor::test(timeout = 500ms)]
async fn spawns_a_child() {}

fn main() {}
