//! `#[tractor::main]` on `async fn main() -> Result<(), tractor::Error>`.

#[tractor::main]
async fn main() -> Result<(), tractor::Error> {
    std::future::ready(()).await;
    Ok(())
}
