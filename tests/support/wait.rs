//! The one way a test waits for a condition it can only poll (a process's
//! exit status, a listening socket, a registry entry, a counter in an
//! actor): poll it until it holds or its deadline passes, then fail with a
//! message naming what was awaited and the last state seen.
//!
//! A probe returns one of:
//! - `bool`: ready when `true`;
//! - `Option<T>`: ready with `T` when `Some`;
//! - `Result<T, S>`: ready with `T` when `Ok`, else `S` is the state seen
//!   (shown with `{:?}` in the failure); [`holds`] builds one from a
//!   condition and the state it was judged on.
//!
//! [`until`] polls a blocking probe, [`until_async`] an async one that may
//! fail (its error is returned at once), [`try_until`] gives the last
//! state back instead of failing (for a caller that records it).
//!
//! Between polls it sleeps 1 ms, doubling up to 20 ms: that sleep is the
//! polling interval, not a guess at how long the condition takes.
//!
//! Shared by several test targets (each includes it as a top-level
//! `mod wait` with `#[path]`); each uses a part of it.
#![allow(dead_code)]

use std::fmt::Debug;
use std::future::Future;
use std::time::Duration;

/// The first pause between two polls.
const FIRST_PAUSE: Duration = Duration::from_millis(1);
/// The longest pause between two polls.
const MAX_PAUSE: Duration = Duration::from_millis(20);

/// What a probe returns: ready (with a value) or not yet (with the state
/// seen, for the failure message).
pub(crate) trait Probe {
    /// Handed back once the condition holds.
    type Ready;
    /// What was seen while it did not.
    type Seen: Debug;
    fn check(self) -> Result<Self::Ready, Self::Seen>;
}

impl Probe for bool {
    type Ready = ();
    type Seen = bool;
    fn check(self) -> Result<(), bool> {
        if self { Ok(()) } else { Err(false) }
    }
}

impl<T> Probe for Option<T> {
    type Ready = T;
    type Seen = &'static str;
    fn check(self) -> Result<T, &'static str> {
        self.ok_or("None")
    }
}

impl<T, S: Debug> Probe for Result<T, S> {
    type Ready = T;
    type Seen = S;
    fn check(self) -> Result<T, S> {
        self
    }
}

/// `Ok(())` when `cond` holds, else `Err(seen)`: a probe that reports
/// the state its condition was judged on.
pub(crate) fn holds<S>(cond: bool, seen: S) -> Result<(), S> {
    if cond { Ok(()) } else { Err(seen) }
}

fn timed_out(what: &str, within: Duration, seen: &dyn Debug) -> ! {
    panic!("timed out after {within:?} waiting for {what}; last seen: {seen:?}")
}

/// Polls the blocking `probe` until it is ready and returns its value;
/// panics naming `what` and the last state seen once `within` has passed.
#[track_caller]
pub(crate) fn until<P: Probe>(what: &str, within: Duration, probe: impl FnMut() -> P) -> P::Ready {
    match try_until(within, probe) {
        Ok(v) => v,
        Err(seen) => timed_out(what, within, &seen),
    }
}

/// Polls the blocking `probe` until it is ready (`Ok` with its value) or
/// `within` has passed (`Err` with the last state seen).
pub(crate) fn try_until<P: Probe>(
    within: Duration,
    mut probe: impl FnMut() -> P,
) -> Result<P::Ready, P::Seen> {
    let deadline = std::time::Instant::now() + within;
    let mut pause = FIRST_PAUSE;
    loop {
        let seen = match probe().check() {
            Ok(v) => return Ok(v),
            Err(seen) => seen,
        };
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(seen);
        }
        std::thread::sleep(pause.min(left));
        pause = (pause * 2).min(MAX_PAUSE);
    }
}

/// Polls the async `probe` until it is ready and returns its value; an
/// error from the probe is returned at once. Panics naming `what` and the
/// last state seen once `within` has passed.
pub(crate) async fn until_async<P, E, F, Fut>(
    what: &str,
    within: Duration,
    mut probe: F,
) -> Result<P::Ready, E>
where
    P: Probe,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<P, E>>,
{
    let deadline = tokio::time::Instant::now() + within;
    let mut pause = FIRST_PAUSE;
    loop {
        let seen = match probe().await?.check() {
            Ok(v) => return Ok(v),
            Err(seen) => seen,
        };
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            timed_out(what, within, &seen);
        }
        tokio::time::sleep(pause.min(left)).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
