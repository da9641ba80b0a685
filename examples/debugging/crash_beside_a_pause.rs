//! A crash beside a pause, one level down: a supervisor actor runs two
//! workers; one crashes while the other is paused (or waiting for the
//! terminal). The crash's post-mortem comes first; the supervisor's
//! nursery then cancels the other worker, but only once its REPL is done:
//! nobody is cancelled out of a REPL. Then the supervisor's and the root's
//! post-mortems follow as the error climbs.
//!
//! ```text
//! cargo run --example crash_beside_a_pause
//! ```

use tractor::{Error, RootConfig};

/// Fails at once.
#[tractor::endpoint]
async fn crash() -> Result<(), String> {
    Err("the disk is on fire".to_string())
}

/// Pauses once, then answers.
#[tractor::endpoint]
async fn inspect(what: String) -> Result<String, Error> {
    tractor::pause!(what).await?;
    Ok(what)
}

/// Runs both workers and waits for both.
#[tractor::endpoint]
async fn supervise() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let crasher = an.run_in_actor(crash::call()).name("crasher").await?;
        let inspector = an
            .run_in_actor(inspect::call("the ledger".into()))
            .name("inspector")
            .await?;
        crasher.wait_for_result().await?;
        inspector.wait_for_result().await?;
        Ok(())
    })
    .await
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let cfg = RootConfig::new("root").debug_mode(true);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let sup = an
                .run_in_actor(supervise::call())
                .name("supervisor")
                .await?;
            sup.wait_for_result().await
        })
        .await
    })
    .await
}
