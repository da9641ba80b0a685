//! A daemon that pauses: the root calls a service actor, which stops in
//! a REPL mid-request (look at the request, `tasks` shows the call being
//! served, `tree` the actors, `gdb` attaches gdb to it). Ctrl-c while the
//! REPL is up only clears the line; `continue` answers the call, and the
//! tree then serves until ctrl-c cancels it.
//!
//! ```text
//! cargo run --example daemon_pause
//! ```

use tractor::{Error, RootConfig};

/// Looks an order up, pausing to let you inspect it.
#[tractor::endpoint]
async fn lookup(order: u32) -> Result<String, Error> {
    let record = format!("order {order}: 3 crates of tractors");
    tractor::pause!(order, record).await?;
    Ok(record)
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let cfg = RootConfig::new("root").debug_mode(true);
    tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let daemon = an
                .start_actor("orders")
                .enable_modules([module_path!()])
                .await?;
            let answer = daemon.run(lookup::call(7)).await?;
            println!("the daemon answered: {answer}");
            println!("serving until ctrl-c");
            // Until ctrl-c (or `tractor cancel root`) cancels the tree.
            tractor::current_actor()?.cancelled().await;
            Ok(())
        })
        .await
    })
    .await
}
