//! Two children pause at the same moment. Their REPLs come one after
//! the other, never interleaved: the second prompt appears only once you
//! leave the first (the tree-wide TTY lock, held by the root, is FIFO).
//!
//! ```text
//! cargo run --example multi_subactors
//! ```

use tractor::{Error, RootConfig};

/// Pauses once, then answers with its name.
#[tractor::endpoint]
async fn pause_once(who: String) -> Result<String, Error> {
    tractor::pause!(who).await?;
    Ok(who)
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let cfg = RootConfig::new("root").debug_mode(true);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let a = an
                .run_in_actor(pause_once::call("alice".into()))
                .name("alice")
                .await?;
            let b = an
                .run_in_actor(pause_once::call("bob".into()))
                .name("bob")
                .await?;
            let (a, b) = (a.wait_for_result().await?, b.wait_for_result().await?);
            println!("both resumed: {a}, {b}");
            Ok(())
        })
        .await
    })
    .await
}
