//! One actor per core, then the root fails on purpose: every child is
//! cancelled and reaped before the error reaches `main`.
//!
//! `cargo run --example we_are_processes`

use std::time::Duration;

#[tractor::endpoint]
async fn target() {
    // Idle until cancelled.
    std::future::pending::<()>().await
}

#[tractor::main]
async fn main() {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let res = tractor::open_nursery(async |an| {
        for i in 0..cores {
            an.run_in_actor(target::call())
                .name(format!("worker_{i}"))
                .await?;
        }
        println!("{cores} worker processes are up:");
        for aid in an.children() {
            println!("  {aid}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Err::<(), _>(tractor::Error::Cancelled(
            "the root gives up on purpose".into(),
        ))
    })
    .await;
    match res {
        Err(e) => {
            println!("root failed as planned: {e}");
            println!("Zombies contained");
        }
        Ok(()) => unreachable!("the root always fails"),
    }
}
