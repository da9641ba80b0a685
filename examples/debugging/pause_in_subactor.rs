//! A pause in a subactor: the child stops twice in a REPL on your
//! terminal (look at `i`, the task tree, the actor tree; `continue`),
//! then the root pauses once itself.
//!
//! ```text
//! cargo run --example pause_in_subactor
//! ```

use tractor::{Error, RootConfig};

/// Counts to `rounds`, pausing at each step in debug mode.
#[tractor::endpoint]
async fn count_with_pauses(rounds: u32) -> Result<u32, Error> {
    let mut total = 0;
    for i in 0..rounds {
        total += i;
        tractor::pause!(i, total).await?;
    }
    Ok(total)
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let cfg = RootConfig::new("root").debug_mode(true);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let child = an
                .run_in_actor(count_with_pauses::call(3))
                .name("pauser")
                .await?;
            let total: u32 = child.wait_for_result().await?;
            println!("the child counted to {total}");
            tractor::pause!(total).await?;
            println!("root resumed; done");
            Ok(())
        })
        .await
    })
    .await
}
