//! A pause two levels down: the root spawns `middle`, which spawns
//! `leaf`, which stops in a REPL. `tree` there shows all three actors
//! with their pids; `continue` lets the leaf answer up the tree.
//!
//! ```text
//! cargo run --example nested_pause
//! ```

use tractor::{Error, RootConfig};

/// Pauses, then answers with its pid.
#[tractor::endpoint]
async fn leaf_work(depth: u32) -> Result<u32, Error> {
    tractor::pause!(depth).await?;
    Ok(std::process::id())
}

/// Spawns the leaf and relays its answer.
#[tractor::endpoint]
async fn middle_work() -> Result<u32, Error> {
    tractor::open_nursery(async |an| {
        let leaf = an.run_in_actor(leaf_work::call(2)).name("leaf").await?;
        leaf.wait_for_result().await
    })
    .await
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let cfg = RootConfig::new("root").debug_mode(true);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let middle = an.run_in_actor(middle_work::call()).name("middle").await?;
            let pid: u32 = middle.wait_for_result().await?;
            println!("the leaf (pid {pid}) answered");
            Ok(())
        })
        .await
    })
    .await
}
