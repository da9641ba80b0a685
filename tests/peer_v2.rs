//! A second program for the suite's cross-binary test: it serves
//! `shared::greet` compiled from *another version* of its signature than
//! the suite's, plus `shared::ping` with the same one; and endpoints over
//! structs it defines in its own source ([`api::v2`]), as the suite does
//! in its own: the same fields and variants, under other Rust paths,
//! except `Quote`, whose `qty` is wider here.
//!
//! The suite starts it with `PEER_V2_SERVE=1`; it prints `ADDR <addr>`
//! and serves until cancelled. Run by `cargo test` on its own, it only
//! checks that it links its endpoints.

use tractor::{Context, Error, RootConfig};

use api::v2::{Order, Price, Quote, Receipt, Side};

/// This program's copy of the shared API's types. The suite defines the
/// same ones at another path, so `type_name` differs while the wire
/// schema does not.
mod api {
    pub(crate) mod v2 {
        use serde::{Deserialize, Serialize};

        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
        pub(crate) struct Price {
            pub units: i64,
            pub cents: u8,
        }

        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
        pub(crate) enum Side {
            Buy,
            Sell { limit: Option<Price> },
            Cancel(u64),
        }

        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
        pub(crate) struct Order {
            pub id: u64,
            pub side: Side,
            pub price: Price,
            pub tags: Vec<String>,
        }

        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
        pub(crate) struct Receipt {
            pub order: Order,
            pub filled: bool,
        }

        /// Changed in this version: `qty` was a `u32`.
        #[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
        pub(crate) struct Quote {
            pub symbol: String,
            pub qty: u64,
        }
    }
}

/// Fills buys, rests the rest.
fn receipt(order: Order) -> Receipt {
    Receipt {
        filled: order.side == Side::Buy,
        order,
    }
}

#[tractor::endpoint(name = "shared::place")]
async fn place(order: Order) -> Receipt {
    receipt(order)
}

/// Its argument's field type differs from the suite's.
#[tractor::endpoint(name = "shared::quote")]
async fn quote(q: Quote) -> u64 {
    q.qty
}

/// Started with the best price; answers each order with its receipt.
#[tractor::context(name = "shared::trade")]
async fn trade(ctx: Context<Price, Receipt, Order>, best: i64) -> Result<u32, Error> {
    ctx.started(Price {
        units: best,
        cents: 0,
    })
    .await?;
    let stream = ctx.open_stream()?;
    let mut n = 0;
    while let Some(order) = stream.recv().await? {
        stream.send(receipt(order)).await?;
        n += 1;
    }
    Ok(n)
}

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
        assert_eq!(
            <trade::Endpoint as tractor::RemoteFn>::PATH,
            "shared::trade"
        );
        assert_eq!(<place::Endpoint as tractor::RemoteFn>::NAME, "place");
        assert_eq!(<quote::Endpoint as tractor::RemoteFn>::NAME, "quote");
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
