//! `#[tractor::test]` with and without a timeout.

#[tractor::test]
async fn default_deadline() {}

#[tractor::test(timeout = 5)]
async fn short_deadline() -> Result<(), tractor::Error> {
    Ok(())
}

fn main() {}
