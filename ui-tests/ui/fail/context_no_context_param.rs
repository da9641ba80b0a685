#[tractor::context]
async fn lookup(key: String) -> u32 {
    key.len() as u32
}

#[tractor::context]
async fn tick() {}

fn main() {}
