//! A worker pool over an actor cluster (tractor's `quick_cluster` and
//! `concurrent_actors_primes`): one daemon per core from
//! `open_actor_cluster`, a queue of jobs, and one local task per daemon
//! (in a trionics task nursery) that feeds it the next job until the
//! queue is empty. The results are gathered and checked against a sieve
//! run here; the cluster is torn down with the pool.
//!
//! `cargo run --example cluster_worker_pool`

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use tractor::trionics::open_task_nursery;
use tractor::{Cluster, Error};

const LIMIT: u64 = 200_000;
const JOBS: u64 = 40;

/// Runs in a worker: how many primes lie in `lo..hi` (trial division,
/// so each job costs real CPU).
#[tractor::endpoint]
async fn count_primes(lo: u64, hi: u64) -> u64 {
    (lo..hi).filter(|&n| is_prime(n)).count() as u64
}

fn is_prime(n: u64) -> bool {
    n >= 2
        && (2..)
            .take_while(|d| d * d <= n)
            .all(|d| !n.is_multiple_of(d))
}

/// The same count, by a sieve in this process: what the pool must match.
fn sieve_count(limit: u64) -> u64 {
    let mut composite = vec![false; limit as usize];
    let mut count = 0;
    for n in 2..limit as usize {
        if !composite[n] {
            count += 1;
            (n * n..limit as usize)
                .step_by(n)
                .for_each(|m| composite[m] = true);
        }
    }
    count
}

#[tractor::main]
async fn main() -> Result<(), Error> {
    let step = LIMIT / JOBS;
    let queue: VecDeque<(u64, u64)> = (0..JOBS).map(|j| (j * step, (j + 1) * step)).collect();
    let queue = Arc::new(Mutex::new(queue));
    let results = Arc::new(Mutex::new(BTreeMap::new()));
    let workers = tractor::open_actor_cluster(Cluster::new([module_path!()]), async |cluster| {
        open_task_nursery(async |tn| {
            for (name, portal) in cluster.iter() {
                let (queue, results) = (queue.clone(), results.clone());
                let (name, portal) = (name.to_string(), portal.clone());
                // A job that fails fails the pool: its siblings are cancelled.
                tn.spawn(async move {
                    loop {
                        let next = queue
                            .lock()
                            .map_err(|_| Error::custom("poisoned"))?
                            .pop_front();
                        let Some((lo, hi)) = next else {
                            return Ok::<(), Error>(());
                        };
                        let found = portal.run(count_primes::call(lo, hi)).await?;
                        results
                            .lock()
                            .map_err(|_| Error::custom("poisoned"))?
                            .insert(lo, (found, name.clone()));
                    }
                });
            }
            Ok::<_, Error>(())
        })
        .await
        .map_err(Error::custom)?;
        Ok(cluster.len())
    })
    .await?;
    let results = std::mem::take(&mut *results.lock().map_err(|_| Error::custom("poisoned"))?);
    let total: u64 = results.values().map(|(n, _)| n).sum();
    let mut per_worker: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, name) in results.values() {
        *per_worker.entry(name).or_default() += 1;
    }
    println!(
        "{} jobs over {workers} workers: {total} primes below {LIMIT}",
        results.len()
    );
    println!("jobs per worker: {per_worker:?}");
    assert_eq!(
        total,
        sieve_count(LIMIT),
        "the pool's count differs from the sieve's"
    );
    println!("matches the sieve; the cluster is torn down");
    Ok(())
}
