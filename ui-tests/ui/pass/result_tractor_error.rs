//! `-> Result<T, tractor::Error>`: an error from a further actor is relayed.

#[tractor::endpoint]
async fn relay(rounds: u32) -> Result<u32, tractor::Error> {
    tractor::open_nursery(async |an| {
        let child = an.run_in_actor(square::call(rounds)).await?;
        child.wait_for_result().await
    })
    .await
}

#[tractor::endpoint]
async fn square(x: u32) -> u32 {
    x * x
}

fn main() {
    let _ = relay::call(3);
}
