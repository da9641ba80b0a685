//! Post-mortems up a tree: two children fail at once, one of them
//! because of its own child. Each failing actor opens a post-mortem REPL
//! (one at a time: the TTY lock queues them), the middle actor opens one
//! as the grandchild's error climbs through it, and last the root opens
//! one on the aggregate. `continue` (or `quit`) at each lets the error
//! go on up; the program then exits with the error.
//!
//! ```text
//! cargo run --example multi_subactor_root_errors
//! ```

use tractor::{Error, RootConfig};

/// Fails with an error of its own.
#[tractor::endpoint]
async fn name_error() -> Result<(), String> {
    Err("name `doggypants` is not defined".to_string())
}

/// Fails like `name_error`, once its cousin `name_error_1` is up: both
/// failures are then under way at once, whatever the scheduling.
#[tractor::endpoint]
async fn name_error_with_cousin() -> Result<(), Error> {
    tractor::wait_for_actor("name_error_1").await?;
    Err(Error::custom("name `doggypants` is not defined"))
}

/// Spawns a child that fails, and fails with its error (not handling it).
#[tractor::endpoint]
async fn spawn_error() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let child = an
            .run_in_actor(name_error::call())
            .name("name_error_1")
            .await?;
        child.wait_for_result().await
    })
    .await
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let cfg = RootConfig::new("root").debug_mode(true);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            an.run_in_actor(name_error_with_cousin::call())
                .name("name_error")
                .await?;
            an.run_in_actor(spawn_error::call())
                .name("spawn_error")
                .await?;
            Ok(())
        })
        .await
    })
    .await
}
