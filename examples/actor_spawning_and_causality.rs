//! A one-shot child and a daemon: the one-shot runs one function and is
//! reaped as soon as its result arrives; the daemon serves calls until it
//! is cancelled.
//!
//! `cargo run --example actor_spawning_and_causality`

#[tractor::endpoint]
async fn burn_cpu(rounds: u32) -> u32 {
    let mut x: u64 = 0;
    for i in 0..rounds {
        x = x.wrapping_mul(31).wrapping_add(u64::from(i));
    }
    std::hint::black_box(x);
    std::process::id()
}

#[tractor::endpoint]
async fn cellar_door(name: String) -> String {
    format!("{name}: \"cellar door\" is the most beautiful phrase in English")
}

#[tractor::main]
async fn main() -> Result<(), tractor::Error> {
    tractor::open_nursery(async |an| {
        let child = an.run_in_actor(burn_cpu::call(50_000)).await?;
        let daemon = an
            .start_actor("frank")
            .enable_modules([module_path!()])
            .await?;
        let pid: u32 = daemon.run(burn_cpu::call(10)).await?;
        let quote = daemon.run(cellar_door::call("frank".into())).await?;
        let child_pid: u32 = child.wait_for_result().await?;
        println!("one-shot child ran in process {child_pid}");
        println!("daemon frank runs in process {pid} and says {quote}");
        assert!(
            daemon.cancel_actor().await?,
            "frank acknowledged the cancel"
        );
        Ok(())
    })
    .await?;
    println!("every actor is reaped");
    Ok(())
}
