//! `#[tractor::main]` on `async fn main()`.

#[tractor::main]
async fn main() {
    std::future::ready(()).await;
}
