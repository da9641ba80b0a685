//! The daemon half of a two-program pair: a root that only serves the
//! shared `quote_api` until it is cancelled (by `quote_client --stop`, SIGINT
//! or SIGTERM). At its registry address it becomes the registrar, or
//! registers with the one already there.
//!
//! ```sh
//! TRACTOR_REGISTRY_ADDR=127.0.0.1:1616 cargo run --example quote_daemon
//! ```

#[path = "quote_api/mod.rs"]
mod quote_api;

use tractor::RootConfig;

#[tractor::main]
async fn main() -> Result<(), tractor::Error> {
    println!(
        "{} (pid {}) serves `{}` until cancelled",
        quote_api::DAEMON_NAME,
        std::process::id(),
        quote_api::MODULE
    );
    let cfg = RootConfig::new(quote_api::DAEMON_NAME).enable_modules([quote_api::MODULE]);
    let res = tractor::run_daemon(cfg).await;
    println!("{} stopped: {res:?}", quote_api::DAEMON_NAME);
    res
}
