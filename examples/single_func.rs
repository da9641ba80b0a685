//! Run a function in a separate process and get its result back.
//!
//! `cargo run --example single_func`

#[tractor::endpoint]
async fn burn_cpu(rounds: u64) -> (u32, u64) {
    let mut acc: u64 = 0;
    for i in 0..rounds {
        acc = acc.wrapping_mul(6364136223846793005).wrapping_add(i);
    }
    (std::process::id(), acc)
}

#[tractor::main]
async fn main() -> Result<(), tractor::Error> {
    let (pid, acc) = tractor::open_nursery(async |an| {
        let child = an.run_in_actor(burn_cpu::call(5_000_000)).await?;
        child.wait_for_result().await
    })
    .await?;
    assert_ne!(
        pid,
        std::process::id(),
        "the function ran in another process"
    );
    println!("burn_cpu ran in process {pid} and returned {acc}");
    Ok(())
}
