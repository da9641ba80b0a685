//! Every spawn backend: the core scenarios on `forkserver` and `thread`
//! (the rest of the suite runs on `exec`, the default).

use tractor::{RootConfig, SpawnMethod, TransportKind};

use crate::common::{self, MODULE};

async fn spawn_and_call(method: SpawnMethod, t: TransportKind) {
    let cfg = RootConfig::new("root").transport(t).spawn_method(method);
    let (child_pid, sum) = tractor::open_root_actor(cfg, async || {
        tractor::open_nursery(async |an| {
            let p = an.start_actor("worker").enable_modules([MODULE]).await?;
            let pid = p.run(common::pid::call()).await?;
            let one = an.run_in_actor(common::add::call(40, 2)).await?;
            let sum = one.wait_for_result().await?;
            an.cancel().await;
            Ok((pid, sum))
        })
        .await
    })
    .await
    .expect("tree ran");
    assert_eq!(sum, 42);
    match method {
        SpawnMethod::Thread => assert_eq!(child_pid, std::process::id()),
        _ => assert_ne!(child_pid, std::process::id()),
    }
}

#[tractor::test]
async fn forkserver_smoke() {
    spawn_and_call(SpawnMethod::Forkserver, TransportKind::Tcp).await
}

#[tractor::test]
async fn thread_smoke() {
    spawn_and_call(SpawnMethod::Thread, TransportKind::Tcp).await
}
