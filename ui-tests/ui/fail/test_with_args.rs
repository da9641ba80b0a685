#[tractor::test]
async fn spawns_a_child(n: u32) {
    let _ = n;
}

fn main() {}
