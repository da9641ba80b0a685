#[tractor::endpoint]
async extern "C" fn tick() -> u32 {
    1
}

fn main() {}
