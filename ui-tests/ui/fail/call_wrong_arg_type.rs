#[tractor::endpoint]
async fn add(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {
    let _call = add::call(1, "two");
}
