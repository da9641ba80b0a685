//! A tree that runs out of fds: the open-file limit is raised at boot,
//! a spawn that cannot get fds fails with an error naming them, and an
//! accept loop that cannot get one backs off instead of spinning while
//! the actor keeps serving the channels it has.

use tractor::error::Resource;
use tractor::{Error, TransportKind};

use crate::common::{MODULE, in_nursery};
use crate::isolated;

/// The soft and hard open-file limits the isolated run starts with.
const SOFT: u64 = 48;
const HARD: u64 = 96;
/// Bounds that a spinning accept loop blows through many times over.
const MAX_EPISODE_CPU_MS: u64 = 1000;
const MAX_STDERR_LINES: usize = 200;

/// Dials `addr` from this actor on a connection of its own (a portal
/// would share the channel to the parent instead): whether the handshake
/// came through, so whether `addr` accepted.
#[tractor::endpoint]
pub(crate) async fn dial(addr: String) -> bool {
    let (Ok(a), Ok(me)) = (addr.parse::<tractor::Addr>(), tractor::current_actor()) else {
        return false;
    };
    let limits = tractor::Limits::default().handshake_timeout(std::time::Duration::from_secs(5));
    let Some(secret) = tractor::wire::tree_secret() else {
        return false;
    };
    match tractor::wire::Channel::connect(&a, me.aid(), &secret, None, &limits).await {
        Ok((chan, _reader)) => {
            chan.close();
            true
        }
        Err(_) => false,
    }
}

#[tractor::test(timeout = 120)]
async fn running_out_of_fds_is_an_error_not_a_spin() {
    if isolated::active() {
        return out_of_fds_body().await;
    }
    let out = isolated::run(
        "exhaustion::running_out_of_fds_is_an_error_not_a_spin",
        Some((SOFT, HARD)),
    )
    .await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let soft = isolated::figure(&out, "NOFILE_SOFT");
    let hard = isolated::figure(&out, "NOFILE_HARD");
    let spawned = isolated::figure(&out, "SPAWNED");
    let cpu = isolated::figure(&out, "EPISODE_CPU_MS");
    let wall = isolated::figure(&out, "EPISODE_WALL_MS");
    let lines = stderr.lines().count();
    println!(
        "limit {soft}/{hard}; {spawned} daemons before a spawn failed; accept episode: {cpu} ms CPU over {wall} ms; {lines} stderr lines"
    );
    assert_eq!(
        (soft, hard),
        (HARD, HARD),
        "the soft fd limit was not raised to the hard one at boot"
    );
    assert!(
        cpu < MAX_EPISODE_CPU_MS,
        "the root used {cpu} ms of CPU over {wall} ms while it could not accept: it spins"
    );
    assert!(
        lines < MAX_STDERR_LINES,
        "{lines} lines on stderr; the accept failure is not logged once per interval:\n{}",
        isolated::tail(&stderr, 20)
    );
}

/// The isolated run of [`running_out_of_fds_is_an_error_not_a_spin`],
/// under a low fd limit: prints the figures the outer run checks.
async fn out_of_fds_body() {
    let (soft, hard) = nofile();
    println!("NOFILE_SOFT {soft}\nNOFILE_HARD {hard}");
    in_nursery(TransportKind::Uds, async |an| {
        // One fd kept back, to be freed with the hog below: a spawn can use
        // up this process's last fd (its child is started from the spawner
        // thread's own fd table, and only the accept of its dial fails).
        let reserve = std::fs::File::open("/dev/null").expect("an fd to keep back");
        let mut portals = Vec::new();
        let failure = loop {
            assert!(
                portals.len() < 4 * HARD as usize,
                "spawned {} daemons under an fd limit of {HARD}",
                portals.len()
            );
            match an
                .start_actor(format!("d{}", portals.len()))
                .enable_modules([MODULE, module_path!()])
                .await
            {
                Ok(p) => portals.push(p),
                Err(e) => break e,
            }
        };
        println!("SPAWNED {}\nSPAWN_ERROR {failure}", portals.len());
        let msg = failure.to_string();
        assert!(
            matches!(&failure, Error::Spawn(e) if e.resource() == Some(Resource::FileDescriptors)),
            "not a typed fd exhaustion: {failure:?}"
        );
        assert!(
            msg.contains("file descriptors") && !msg.contains("#[tractor::main]"),
            "{msg}"
        );
        assert!(
            portals.len() >= 2,
            "too few daemons to go on: {}",
            portals.len()
        );

        // Take every fd left, so the root cannot accept a daemon's dial.
        let mut hog = vec![reserve];
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hog.push(f);
        }
        let root = tractor::current_actor()?.accept_addr().to_string();
        let (cpu0, t0) = (isolated::cpu_ms(), std::time::Instant::now());
        let blocked = portals[0].run(dial::call(root.clone()));
        // Meanwhile the root still serves the channels it has.
        let served = portals[1].run(crate::common::pid::call());
        let (blocked, served) = tokio::join!(blocked, served);
        assert!(!blocked?, "the root accepted a dial with no fd left");
        served?;
        println!(
            "EPISODE_CPU_MS {}\nEPISODE_WALL_MS {}",
            isolated::cpu_ms() - cpu0,
            t0.elapsed().as_millis()
        );
        drop(hog);
        assert!(
            portals[0].run(dial::call(root)).await?,
            "the root does not accept again once fds are free"
        );
        an.cancel().await;
        Ok(())
    })
    .await
    .expect("exhaust fds, then tear down");
}

fn nofile() -> (u64, u64) {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
    (lim.rlim_cur, lim.rlim_max)
}
