//! `#[tractor::main]` on `async fn main() -> impl Termination`.

#[tractor::main]
async fn main() -> impl std::process::Termination {
    std::future::ready(()).await;
    std::process::ExitCode::SUCCESS
}
