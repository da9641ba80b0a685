//! The client half of a two-program pair: its own root, which finds the
//! `quote_daemon` through the registrar by name, calls it typed (through
//! the shared `quote_api`) and by name (`run_by_name`, with a local
//! argument struct), gets the typed error for an unknown symbol back, and
//! with `--stop` cancels the daemon.
//!
//! ```sh
//! TRACTOR_REGISTRY_ADDR=127.0.0.1:1616 cargo run --example quote_daemon   # first, elsewhere
//! TRACTOR_REGISTRY_ADDR=127.0.0.1:1616 cargo run --example quote_client -- --stop
//! ```

#[path = "quote_api/mod.rs"]
mod quote_api;

use std::time::Duration;

use quote_api::QuoteError;
use tractor::{Error, RootConfig};

/// How long to wait for the daemon to show up at the registrar.
const FIND_TIMEOUT: Duration = Duration::from_secs(10);

/// The argument struct of `quote_api::quote`, as a client that does not
/// link the endpoint would write it: the same fields, in the same order.
#[derive(serde::Serialize)]
struct Args {
    symbol: String,
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let stop = std::env::args().skip(1).any(|a| a == "--stop");
    tractor::open_root_actor(RootConfig::new("quote_client"), async || {
        let name = quote_api::DAEMON_NAME;
        let daemon = tokio::time::timeout(FIND_TIMEOUT, tractor::wait_for_actor(name))
            .await
            .map_err(|_| {
                Error::custom(format!(
                    "no actor named {name} registered within {FIND_TIMEOUT:?}; start `cargo run --example quote_daemon` with the same TRACTOR_REGISTRY_ADDR first"
                ))
            })??;
        println!("found {} through the registrar", daemon.aid());

        // Typed: the shared API's stub; a wrong argument does not compile.
        let price: f64 = daemon
            .run(quote_api::quote::call("TRCT".into()))
            .await?;
        println!("typed: TRCT = {price}");

        // By name: module and fn as strings, a local serde struct as arguments.
        let price: f64 = daemon
            .run_by_name(
                quote_api::MODULE,
                "quote",
                &Args {
                    symbol: "TOKIO".into(),
                },
            )
            .await?;
        println!("by name: TOKIO = {price}");

        // An unknown symbol: the daemon's QuoteError comes back as itself.
        match daemon.run(quote_api::quote::call("NOPE".into())).await {
            Err(Error::Remote(e)) => {
                let err = e.downcast::<QuoteError>();
                println!("NOPE failed with {err:?} from actor {}", e.origin());
                assert_eq!(err, Some(QuoteError::UnknownSymbol("NOPE".into())));
            }
            other => panic!("expected a QuoteError, got {other:?}"),
        }

        if stop {
            let acked = daemon.cancel_actor().await?;
            println!("asked {name} to stop; acknowledged: {acked}");
        }
        Ok(())
    })
    .await?;
    println!("quote_client done");
    Ok(())
}
