//! A real process tree: the root asks a supervisor actor to square some
//! numbers; the supervisor fans the work out to two leaf actors of its own
//! and returns the results. Three levels, five processes, all reaped.
//!
//! `cargo run --example nested_actor_tree`

#[tractor::endpoint]
async fn square(x: u64) -> (u64, u32) {
    (x * x, std::process::id())
}

/// Runs in the supervisor: one leaf per half of the input.
#[tractor::endpoint]
async fn fan_out(xs: Vec<u64>) -> Result<Vec<(u64, u32)>, tractor::Error> {
    tractor::open_nursery(async |an| {
        let leaves = [
            an.start_actor("leaf_0")
                .enable_modules([module_path!()])
                .await?,
            an.start_actor("leaf_1")
                .enable_modules([module_path!()])
                .await?,
        ];
        let calls = xs
            .iter()
            .enumerate()
            .map(|(i, &x)| leaves[i % 2].run(square::call(x)));
        let out = futures::future::try_join_all(calls).await?;
        an.cancel().await;
        Ok(out)
    })
    .await
}

#[tractor::main]
async fn main() -> Result<(), tractor::Error> {
    let xs: Vec<u64> = (1..=8).collect();
    let results = tractor::open_nursery(async |an| {
        let sup = an
            .run_in_actor(fan_out::call(xs.clone()))
            .name("supervisor")
            .await?;
        sup.wait_for_result().await
    })
    .await?;
    for (x, (sq, pid)) in xs.iter().zip(&results) {
        println!("{x}^2 = {sq}  (computed in process {pid})");
    }
    let leaves: std::collections::BTreeSet<u32> = results.iter().map(|r| r.1).collect();
    assert_eq!(leaves.len(), 2, "two leaves did the work");
    assert!(results.iter().zip(&xs).all(|((sq, _), x)| *sq == x * x));
    println!(
        "done: {} squares from {} leaf processes",
        results.len(),
        leaves.len()
    );
    Ok(())
}
