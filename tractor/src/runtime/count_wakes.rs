//! A waker that counts its wakes, for tests of what wakes a task and
//! how often.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::Wake;

/// Counts the wakes of the wakers made from it (`Waker::from(arc)`).
#[derive(Debug, Default)]
pub(crate) struct CountWakes(AtomicUsize);

impl CountWakes {
    /// The wakes so far.
    pub(crate) fn count(&self) -> usize {
        self.0.load(SeqCst)
    }
}

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}
