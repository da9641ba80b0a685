//! Discovery inside one tree: the root starts a daemon named "quotes", then
//! finds it again by name through the registrar (not through the portal
//! `start_actor` gave it), calls it, sees that a name nobody registered is
//! not found, and cancels the daemon through the portal it found.
//!
//! `cargo run --example service_daemon_discovery`

use std::time::Duration;

#[tractor::endpoint]
async fn quote(symbol: String) -> Result<f64, String> {
    match symbol.as_str() {
        "TRCT" => Ok(42.5),
        _ => Err(format!("unknown symbol {symbol:?}")),
    }
}

#[tractor::main]
async fn main() -> Result<(), tractor::Error> {
    tractor::open_nursery(async |an| {
        let started = an
            .start_actor("quotes")
            .enable_modules([module_path!()])
            .await?;

        // The daemon registers at boot; wait until the registrar lists it.
        tokio::time::timeout(Duration::from_secs(10), tractor::wait_for_actor("quotes"))
            .await
            .map_err(|_| tractor::Error::custom("quotes never registered"))??;
        let registered = tractor::query_actor("quotes")
            .await?
            .ok_or_else(|| tractor::Error::custom("quotes left the registry"))?;
        let addrs: Vec<String> = registered.addrs.iter().map(|a| a.to_string()).collect();
        println!(
            "the registrar lists {} at {}",
            registered.aid,
            addrs.join(", ")
        );

        // Look it up by name.
        let found = tractor::find_actor("quotes")
            .await?
            .expect("quotes is registered");
        assert_eq!(found.aid(), started.aid());
        let price: f64 = found.run(quote::call("TRCT".into())).await?;
        println!(
            "find_actor(\"quotes\") found {}; TRCT = {price}",
            found.aid()
        );

        // A name nobody registered.
        let missing = tractor::find_actor("nobody").await?;
        println!("find_actor(\"nobody\") is None: {}", missing.is_none());
        assert!(missing.is_none());

        let acked = found.cancel_actor().await?;
        println!("cancelled quotes through the found portal (acknowledged: {acked})");
        Ok(())
    })
    .await?;
    println!("every actor is reaped");
    Ok(())
}
