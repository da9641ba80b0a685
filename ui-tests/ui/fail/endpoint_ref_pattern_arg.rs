#[tractor::endpoint]
async fn len(ref s: String) -> usize {
    s.len()
}

fn main() {}
