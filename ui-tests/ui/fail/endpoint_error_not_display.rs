#[derive(Debug)]
struct Oops;

#[tractor::endpoint]
async fn fail() -> Result<u32, Oops> {
    Err(Oops)
}

fn main() {}
