//! Every payload that crosses a process boundary is typed at compile time
//! with your own serde types: a context's `started` value, its stream
//! messages (a different type each way) and its result; the items of a
//! one-way stream; and an endpoint's error, which the caller gets back as
//! itself with `RemoteActorError::downcast`.
//!
//! The types are checked where the call is written: `stream.send(42)` to a
//! stream of `Order`s, or `order_desk::call(7)` for an endpoint taking a
//! `String`, does not compile.
//!
//! `cargo run --example typed_payloads`

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tractor::{Context, Error};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Drink {
    Espresso,
    Latte { oat_milk: bool },
    Tea(String),
}

/// One item of the menu board: a one-way stream's item type.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct MenuEntry {
    drink: Drink,
    price_cents: u32,
}

/// The `started` value of the order desk.
#[derive(Debug, Serialize, Deserialize)]
struct Welcome {
    barista: String,
    pid: u32,
}

/// What the root sends on the order desk's stream.
#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: u32,
    drink: Drink,
}

/// What the order desk sends back, one per order.
#[derive(Debug, Serialize, Deserialize)]
enum Receipt {
    Served { id: u32, price_cents: u32 },
    NotOnTheMenu { id: u32 },
}

/// The order desk's result.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Summary {
    served: u32,
    refused: u32,
    revenue_cents: u64,
}

/// A typed error: serializable, so the caller can recover it as itself.
#[derive(Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("out of beans: {wanted} cups wanted, {left} left")]
struct OutOfBeans {
    wanted: u32,
    left: u32,
}

fn price(drink: &Drink) -> Option<u32> {
    match drink {
        Drink::Espresso => Some(250),
        Drink::Latte { oat_milk: false } => Some(380),
        Drink::Latte { oat_milk: true } => Some(420),
        Drink::Tea(kind) if kind == "green" => Some(300),
        Drink::Tea(_) => None,
    }
}

/// A one-way stream endpoint: the caller receives `MenuEntry`s.
#[tractor::endpoint]
async fn menu_board() -> impl futures::Stream<Item = MenuEntry> {
    let drinks = [
        Drink::Espresso,
        Drink::Latte { oat_milk: false },
        Drink::Latte { oat_milk: true },
        Drink::Tea("green".into()),
    ];
    let entries = drinks.into_iter().filter_map(|drink| {
        let price_cents = price(&drink)?;
        Some(MenuEntry { drink, price_cents })
    });
    futures::stream::iter(entries)
}

/// A context endpoint: `started` sends a `Welcome`, the stream sends
/// `Receipt`s and receives `Order`s, and the task returns a `Summary`.
#[tractor::context]
async fn order_desk(
    ctx: Context<Welcome, Receipt, Order>,
    barista: String,
) -> Result<Summary, Error> {
    ctx.started(Welcome {
        barista,
        pid: std::process::id(),
    })
    .await?;
    let stream = ctx.open_stream()?;
    let mut summary = Summary {
        served: 0,
        refused: 0,
        revenue_cents: 0,
    };
    while let Some(Order { id, drink }) = stream.recv().await? {
        let receipt = match price(&drink) {
            Some(price_cents) => {
                summary.served += 1;
                summary.revenue_cents += u64::from(price_cents);
                Receipt::Served { id, price_cents }
            }
            None => {
                summary.refused += 1;
                Receipt::NotOnTheMenu { id }
            }
        };
        stream.send(receipt).await?;
    }
    Ok(summary)
}

/// A plain endpoint with a typed error.
#[tractor::endpoint]
async fn brew_batch(cups: u32) -> Result<u32, OutOfBeans> {
    const LEFT: u32 = 12;
    if cups > LEFT {
        return Err(OutOfBeans {
            wanted: cups,
            left: LEFT,
        });
    }
    Ok(cups)
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let cafe = an
            .start_actor("cafe")
            .enable_modules([module_path!()])
            .await?;

        // A one-way stream of typed items.
        let mut board = cafe.open_stream_from(menu_board::call()).await?;
        let mut menu = Vec::new();
        while let Some(entry) = board.next().await {
            let entry: MenuEntry = entry?;
            println!("menu: {:?} at {} cents", entry.drink, entry.price_cents);
            menu.push(entry);
        }
        assert_eq!(menu.len(), 4);

        // A context: typed started value, typed messages each way, typed result.
        let orders = vec![
            Drink::Espresso,
            Drink::Latte { oat_milk: true },
            Drink::Tea("earl grey".into()),
            Drink::Tea("green".into()),
        ];
        let summary = cafe
            .open_context(
                order_desk::call("frank".into()),
                async |ctx, welcome: Welcome| {
                    println!(
                        "welcome from {} in process {}",
                        welcome.barista, welcome.pid
                    );
                    assert_ne!(welcome.pid, std::process::id());
                    let stream = ctx.open_stream()?;
                    for (id, drink) in (1..).zip(orders) {
                        stream.send(Order { id, drink }).await?;
                        let receipt: Option<Receipt> = stream.recv().await?;
                        println!("order {id}: {receipt:?}");
                    }
                    stream.close();
                    ctx.wait_for_result().await
                },
            )
            .await?;
        println!("summary: {summary:?}");
        assert_eq!(
            summary,
            Summary {
                served: 3,
                refused: 1,
                revenue_cents: 250 + 420 + 300,
            }
        );

        // A typed error comes back as itself.
        assert_eq!(cafe.run(brew_batch::call(10)).await?, 10);
        match cafe.run(brew_batch::call(40)).await {
            Err(Error::Remote(e)) => {
                let err = e.downcast::<OutOfBeans>();
                println!(
                    "brew_batch(40) failed with {err:?} from actor {}",
                    e.origin()
                );
                assert_eq!(
                    err,
                    Some(OutOfBeans {
                        wanted: 40,
                        left: 12
                    })
                );
            }
            other => panic!("expected OutOfBeans, got {other:?}"),
        }

        cafe.cancel_actor().await?;
        Ok(())
    })
    .await?;
    println!("every payload arrived as its own type");
    Ok(())
}
