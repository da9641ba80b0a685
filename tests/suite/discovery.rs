//! Discovery: the registrar, lookups by name, liveness (scenarios 34-38).

use std::time::Duration;

use tractor::discovery::registrar;
use tractor::{Addr, Aid, Error, Registration, RootConfig, TransportKind};

use crate::common::{self, MODULE};
use crate::{both_transports, on_backend};

const HERE: &str = module_path!();

both_transports!(
    actors_register_and_deregister,
    sigkill_is_pruned_within_a_second,
    sigterm_deregisters_gracefully,
    fifty_actors_leave_the_table_exact timeout = 90,
    lookups_find_wait_and_miss,
    stale_entry_is_removed_on_lookup,
    duplicate_names_latest_wins,
    registrar_on_a_chosen_address,
    ensure_registry_refuses_a_second_registrar,
    children_use_the_tree_transport,
    both_registration_paths_find_and_call,
);

on_backend!(forkserver = "forkserver":
    actors_register_and_deregister,
    both_registration_paths_find_and_call,
    sigkill_is_pruned_within_a_second,
    sigterm_deregisters_gracefully,
    lookups_find_wait_and_miss,
);
on_backend!(thread = "thread":
    actors_register_and_deregister, lookups_find_wait_and_miss,
    both_registration_paths_find_and_call;
    skip "signals reach a process, not a thread actor of it":
        sigkill_is_pruned_within_a_second, sigterm_deregisters_gracefully,
);

#[path = "../support/registrar.rs"]
mod registrar_support;
use registrar_support::{free_addr, registrar_root};

/// Runs `body` in a nursery of a root that is the registrar at a fresh address.
async fn in_registrar_nursery<T: Send + 'static>(
    t: TransportKind,
    body: impl AsyncFnOnce(&tractor::ActorNursery) -> Result<T, Error>,
) -> Result<T, Error> {
    let (cfg, _) = registrar_root(t);
    tractor::open_root_actor(cfg, async move || tractor::open_nursery(body).await).await
}

async fn names() -> Result<Vec<String>, Error> {
    let mut n: Vec<String> = tractor::list_actors()
        .await?
        .into_iter()
        .map(|r| r.aid.name)
        .collect();
    n.sort();
    Ok(n)
}

/// Polls the registrar until `ok` holds of its table, failing past `within`.
async fn until(within: Duration, what: &str, ok: impl Fn(&[String]) -> bool) -> Result<(), Error> {
    crate::wait::until_async(what, within, || async {
        let n = names().await?;
        Ok(crate::wait::holds(ok(&n), n))
    })
    .await
}

/// Scenario 34: children register at boot and de-register when cancelled;
/// the table ends with only the root.
async fn actors_register_and_deregister(t: TransportKind) {
    in_registrar_nursery(t, async |an| {
        for i in 0..3 {
            an.start_actor(format!("kid_{i}")).await?;
        }
        assert_eq!(names().await?, ["kid_0", "kid_1", "kid_2", "root"]);
        an.cancel().await;
        // De-registration happens before the process exits.
        assert_eq!(names().await?, ["root"]);
        Ok(())
    })
    .await
    .unwrap();
}

/// An actor that dies without de-registering (SIGKILL) is pruned as soon
/// as its channel to the registrar drops: within 1 s.
async fn sigkill_is_pruned_within_a_second(t: TransportKind) {
    in_registrar_nursery(t, async |an| {
        let p = an.start_actor("doomed").enable_modules([MODULE]).await?;
        let pid = p.run(common::pid::call()).await?;
        assert!(names().await?.contains(&"doomed".to_string()));
        // SAFETY: kill has no memory-safety preconditions; pid is our child.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        until(Duration::from_secs(1), "doomed still listed", |n| {
            !n.contains(&"doomed".to_string())
        })
        .await?;
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap_err_or_ok();
}

/// SIGTERM makes an actor cancel itself gracefully: it de-registers on its
/// way out (not pruned: it exits successfully, so its nursery sees no failure).
async fn sigterm_deregisters_gracefully(t: TransportKind) {
    in_registrar_nursery(t, async |an| {
        let p = an.start_actor("polite").enable_modules([MODULE]).await?;
        let pid = p.run(common::pid::call()).await?;
        // SAFETY: kill has no memory-safety preconditions; pid is our child.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        until(Duration::from_secs(2), "polite still listed", |n| {
            !n.contains(&"polite".to_string())
        })
        .await?;
        Ok(())
    })
    .await
    .unwrap();
}

trait UnwrapErrOrOk {
    fn unwrap_err_or_ok(self);
}

/// The killed child fails the nursery (it died unexpectedly): that is the
/// supervision working, not a test failure; anything else is.
impl UnwrapErrOrOk for Result<(), Error> {
    fn unwrap_err_or_ok(self) {
        match self {
            Ok(()) => {}
            Err(Error::ActorFailure { actor, .. }) => assert_eq!(actor.name, "doomed"),
            Err(e) => panic!("{e}"),
        }
    }
}

/// 50 actors registering and de-registering concurrently leave the table exact.
async fn fifty_actors_leave_the_table_exact(t: TransportKind) {
    in_registrar_nursery(t, async |an| {
        let spawns = (0..50).map(|i| an.start_actor(format!("w{i:02}")).into_future());
        futures::future::try_join_all(spawns).await?;
        let mut want: Vec<String> = (0..50).map(|i| format!("w{i:02}")).collect();
        want.push("root".into());
        want.sort();
        assert_eq!(names().await?, want);
        an.cancel().await;
        assert_eq!(names().await?, ["root"]);
        Ok(())
    })
    .await
    .unwrap();
}

use std::future::IntoFuture;

/// Starts daemon `name` here, in an actor that is not the registrar (so
/// it registers by a call, not through its `Ready`), reports whether a
/// lookup finds it the moment its spawn returned, then holds it until
/// the context is cancelled.
#[tractor::context]
async fn hold_findable_child(
    ctx: tractor::Context<bool, (), ()>,
    name: String,
) -> Result<(), Error> {
    tractor::open_nursery(async |an| {
        let _child = an
            .start_actor(name.as_str())
            .enable_modules([MODULE])
            .await?;
        let found = tractor::find_actor(&name).await?.is_some();
        ctx.started(found).await?;
        std::future::pending::<()>().await;
        Ok(())
    })
    .await
}

/// A child of the registrar is registered by the `Ready` that ends its
/// spawn, a grandchild (whose parent is no registrar) by its own call:
/// either is found the moment its spawn returned, at an address that
/// answers, and leaves the table when torn down.
async fn both_registration_paths_find_and_call(t: TransportKind) {
    in_registrar_nursery(t, async |an| {
        let kid = an.start_actor("kid").enable_modules([MODULE, HERE]).await?;
        let found = tractor::find_actor("kid")
            .await?
            .expect("the child is registered");
        assert_eq!(found.aid().uuid, kid.aid().uuid);
        assert_eq!(found.run(common::add::call(2, 3)).await?, 5);
        kid.open_context(
            hold_findable_child::call("grandkid".into()),
            async |ctx, found| {
                assert!(
                    found,
                    "the grandchild was not registered when its spawn returned"
                );
                let gk = tractor::find_actor("grandkid").await?.expect("registered");
                assert_eq!(gk.run(common::add::call(4, 5)).await?, 9);
                let q = tractor::query_actor("grandkid").await?.expect("registered");
                assert_eq!(q.addrs.first().map(Addr::transport), Some(t));
                ctx.cancel().await;
                Ok(())
            },
        )
        .await?;
        until(Duration::from_secs(5), "grandkid still listed", |n| {
            !n.contains(&"grandkid".to_string())
        })
        .await?;
        an.cancel().await;
        assert_eq!(names().await?, ["root"]);
        Ok(())
    })
    .await
    .unwrap();
}

/// `find_actor` hits and misses (a miss is `None`), `wait_for_actor`
/// returns once the actor registers, `query_actor` gives addresses.
async fn lookups_find_wait_and_miss(t: TransportKind) {
    let (cfg, _) = registrar_root(t);
    tractor::open_root_actor(cfg, async || {
        assert!(tractor::find_actor("nobody").await?.is_none());
        tractor::open_nursery(async |an| {
            let waiter = async {
                let p = tractor::wait_for_actor("late").await?;
                p.run(common::add::call(1, 2)).await
            };
            let spawner = async {
                // A head start for the waiter, so that it is most likely
                // already waiting (no public call can tell): the checks
                // below hold either way, the sleep only makes the
                // waiting path the one usually taken.
                tokio::time::sleep(Duration::from_millis(50)).await;
                an.start_actor("late").enable_modules([MODULE]).await
            };
            let (sum, _late) = tokio::try_join!(waiter, spawner)?;
            assert_eq!(sum, 3);
            let found = tractor::find_actor("late").await?.expect("registered");
            assert_eq!(found.aid().name, "late");
            let q = tractor::query_actor("late").await?.expect("registered");
            assert_eq!(q.addrs.first().map(Addr::transport), Some(t));
            an.cancel().await;
            assert!(tractor::find_actor("late").await?.is_none());
            Ok(())
        })
        .await
    })
    .await
    .unwrap();
}

/// Scenario 35: an entry whose actor no longer listens is removed on lookup,
/// and the lookup yields `None`.
async fn stale_entry_is_removed_on_lookup(t: TransportKind) {
    let (cfg, _) = registrar_root(t);
    tractor::open_root_actor(cfg, async || {
        let reg = tractor::registrar().await?;
        let ghost = Registration {
            aid: Aid::new("ghost"),
            addrs: vec![free_addr(t)],
        };
        reg.run(registrar::register::call(ghost)).await?;
        assert!(names().await?.contains(&"ghost".to_string()));
        assert!(tractor::find_actor("ghost").await?.is_none());
        assert!(!names().await?.contains(&"ghost".to_string()));
        Ok(())
    })
    .await
    .unwrap();
}

/// Scenario 36: duplicate names are allowed; a lookup returns the latest.
async fn duplicate_names_latest_wins(t: TransportKind) {
    in_registrar_nursery(t, async |an| {
        let first = an.start_actor("twin").enable_modules([MODULE]).await?;
        let second = an.start_actor("twin").enable_modules([MODULE]).await?;
        assert_eq!(names().await?, ["root", "twin", "twin"]);
        let q = tractor::query_actor("twin").await?.expect("registered");
        assert_eq!(&q.aid, second.aid());
        assert_ne!(&q.aid, first.aid());
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
}

/// A registrar on a non-default address: the root listens there; every
/// actor of the tree registers there.
async fn registrar_on_a_chosen_address(t: TransportKind) {
    let (cfg, addr) = registrar_root(t);
    tractor::open_root_actor(cfg, async || {
        let me = tractor::current_actor()?;
        assert_eq!(me.accept_addr(), &addr);
        assert_eq!(tractor::runtime_vars()?.registry_addrs, vec![addr.clone()]);
        let reg = tractor::registrar().await?;
        assert_eq!(reg.aid(), me.aid());
        Ok(())
    })
    .await
    .unwrap();
}

/// `ensure_registry` demands creating the registrar: an error when one
/// already answers; joining it works.
async fn ensure_registry_refuses_a_second_registrar(t: TransportKind) {
    let (cfg, addr) = registrar_root(t);
    tractor::open_root_actor(cfg, async || {
        let addr2 = addr.clone();
        // A second program (here: another thread with its own root).
        let other = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let again = RootConfig::new("second")
                    .transport(t)
                    .registry_addrs([addr2.clone()])
                    .registrar(tractor::RegistrarRole::Become);
                let refused = tractor::open_root_actor(again, async || Ok(())).await;
                let joined = RootConfig::new("joiner")
                    .transport(t)
                    .registry_addrs([addr2]);
                let listed = tractor::open_root_actor(joined, async || names().await).await;
                (
                    refused.err().map(|e| e.to_string()),
                    listed.map_err(|e| e.to_string()),
                )
            })
        });
        let (refused, listed) = tokio::task::spawn_blocking(move || other.join().expect("thread"))
            .await
            .expect("join");
        let refused = refused.expect("ensure_registry refused");
        assert!(refused.contains("ensure_registry"), "{refused}");
        assert_eq!(listed.expect("joined"), ["joiner", "root"]);
        Ok(())
    })
    .await
    .unwrap();
}

/// Scenario 38: children listen on the tree's transport; a registry
/// address of another transport fails fast, naming both settings.
async fn children_use_the_tree_transport(t: TransportKind) {
    in_registrar_nursery(t, async |an| {
        let p = an.start_actor("kid").enable_modules([MODULE]).await?;
        let addr: Addr = p
            .run(common::accept_addr::call())
            .await?
            .parse()
            .expect("an address");
        assert_eq!(addr.transport(), t);
        an.cancel().await;
        Ok(())
    })
    .await
    .unwrap();
    let other = match t {
        TransportKind::Tcp => free_addr(TransportKind::Uds),
        TransportKind::Uds => free_addr(TransportKind::Tcp),
    };
    let bad = RootConfig::new("mismatch")
        .transport(t)
        .registry_addrs([other]);
    let e = tractor::open_root_actor(bad, async || Ok(()))
        .await
        .unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("tcp") && msg.contains("uds") && msg.contains("transport"),
        "{msg}"
    );
}

/// Scenario 37: a registry address occupied by a listener that closes
/// without a handshake fails the root's boot; nothing binds over it.
#[tractor::test]
async fn occupied_registry_address_fails_boot() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = Addr::Tcp(listener.local_addr().expect("addr"));
    let acceptor = tokio::spawn(async move {
        loop {
            if let Ok((sock, _)) = listener.accept().await {
                drop(sock);
            }
        }
    });
    let cfg = RootConfig::new("root").registry_addrs([addr.clone()]);
    let e = tractor::open_root_actor(cfg, async || Ok(()))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("occupied"), "{e}");
    assert!(!acceptor.is_finished(), "our listener still owns the port");
    acceptor.abort();
}
