#[tractor::test]
fn spawns_a_child() {}

fn main() {}
