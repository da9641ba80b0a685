//! The one-shot child of `run_in_actor`: the slot its main result lands
//! in (idempotent, so every wait gives the same value), and the typed
//! handle a user waits on.

use std::marker::PhantomData;
use std::time::Duration;

use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::ipc::Aid;
use crate::runtime::error::{Error, RemoteActorError};
use crate::runtime::portal::{Portal, decode_pld};

/// How a one-shot child's main task ended, kept so that
/// `wait_for_result` is idempotent.
#[derive(Clone, Debug)]
pub(crate) enum MainOutcome {
    Returned(Vec<u8>),
    Raised(RemoteActorError),
    /// The channel closed first; `silent_for` when we gave up on a silent peer.
    Lost {
        peer: Aid,
        silent_for: Option<Duration>,
    },
    Failed(String),
}

/// The result slot of a `run_in_actor` child.
pub(crate) struct MainSlot {
    pub path: &'static str,
    tx: watch::Sender<Option<MainOutcome>>,
    caused_by_cancel: std::sync::atomic::AtomicBool,
}

impl MainSlot {
    pub(crate) fn new(path: &'static str) -> Self {
        MainSlot {
            path,
            tx: watch::channel(None).0,
            caused_by_cancel: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Records whether the outcome is a consequence of our own cancellation.
    pub(crate) fn mark_caused_by_cancel(&self, yes: bool) {
        self.caused_by_cancel
            .store(yes, std::sync::atomic::Ordering::SeqCst);
    }

    pub(crate) fn caused_by_cancel(&self) -> bool {
        self.caused_by_cancel
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn set(&self, o: MainOutcome) {
        self.tx.send_if_modified(|v| {
            if v.is_none() {
                *v = Some(o);
                true
            } else {
                false
            }
        });
    }

    /// The outcome, if it arrived.
    pub(crate) fn outcome(&self) -> Option<MainOutcome> {
        self.tx.borrow().clone()
    }

    pub(crate) async fn wait(&self) -> MainOutcome {
        let mut rx = self.tx.subscribe();
        match rx.wait_for(Option::is_some).await {
            Ok(v) => v
                .clone()
                .unwrap_or_else(|| MainOutcome::Failed("no outcome".into())),
            Err(_) => MainOutcome::Failed("the result slot was dropped".into()),
        }
    }
}

impl MainOutcome {
    pub(crate) fn into_result(self, child: &Aid) -> Result<Vec<u8>, Error> {
        match self {
            MainOutcome::Returned(b) => Ok(b),
            MainOutcome::Raised(r) => Err(Error::Remote(r)),
            MainOutcome::Lost {
                peer,
                silent_for: Some(silent_for),
            } => Err(Error::PeerUnresponsive { peer, silent_for }),
            MainOutcome::Lost { peer, .. } => Err(Error::TransportClosed { peer }),
            MainOutcome::Failed(reason) => Err(Error::ActorFailure {
                actor: child.clone(),
                reason,
            }),
        }
    }
}

/// The handle of a `run_in_actor` child: a [`Portal`] whose main task
/// returns `T`.
///
/// ```no_run
/// #[tractor::endpoint]
/// async fn answer() -> u32 { 42 }
///
/// async fn demo(an: &tractor::ActorNursery) -> Result<(), tractor::Error> {
///     let child = an.run_in_actor(answer::call()).await?;
///     assert_eq!(child.wait_for_result().await?, 42);
///     Ok(())
/// }
/// # fn main() {}
/// ```
pub struct RunInActor<T> {
    portal: Portal,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for RunInActor<T> {
    fn clone(&self) -> Self {
        RunInActor {
            portal: self.portal.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for RunInActor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RunInActor").field(&self.portal).finish()
    }
}

impl<T: DeserializeOwned> RunInActor<T> {
    pub(crate) fn new(portal: Portal) -> Self {
        RunInActor {
            portal,
            _t: PhantomData,
        }
    }

    /// The child's main result. Idempotent: every call (also after the
    /// nursery exited) gives the same value.
    pub async fn wait_for_result(&self) -> Result<T, Error> {
        let (path, pld) = self.portal.main_result().await?;
        decode_pld(path, &pld)
    }

    /// The portal to the child.
    pub fn portal(&self) -> &Portal {
        &self.portal
    }
}

impl<T> std::ops::Deref for RunInActor<T> {
    type Target = Portal;
    fn deref(&self) -> &Portal {
        &self.portal
    }
}
