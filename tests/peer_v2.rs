//! A second program for the suite's cross-binary test: it serves
//! `shared::greet` compiled from *another version* of its signature than
//! the suite's, plus `shared::ping` with the same one.
//!
//! The suite starts it with `PEER_V2_SERVE=1`; it prints `ADDR <addr>`
//! and serves until cancelled. Run by `cargo test` on its own, it only
//! checks that it links both endpoints.

use tractor::{Context, Error, RootConfig};

/// Version 2: takes a number where version 1 took a string.
#[tractor::context(name = "shared::greet")]
async fn greet(ctx: Context<String>, times: u64) -> Result<(), Error> {
    ctx.started("hi ".repeat(times as usize)).await
}

/// The same in both versions.
#[tractor::endpoint(name = "shared::ping")]
async fn ping() -> u32 {
    std::process::id()
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    if std::env::var_os("PEER_V2_SERVE").is_none() {
        assert_eq!(
            <greet::Endpoint as tractor::RemoteFn>::PATH,
            "shared::greet"
        );
        assert_eq!(<ping::Endpoint as tractor::RemoteFn>::module(), "shared");
        return Ok(());
    }
    let cfg = RootConfig::new("peer_v2").enable_modules(["shared"]);
    tractor::open_root_actor(cfg, async || {
        let me = tractor::current_actor()?;
        println!("ADDR {}", me.accept_addr());
        me.cancelled().await;
        Ok(())
    })
    .await
}
