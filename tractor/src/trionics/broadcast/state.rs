//! The shared buffer behind a broadcast: one source, a window of recent
//! items, and each subscriber's position in it.
//!
//! Items are pulled from the source by whichever subscriber needs one
//! first (no background task). The source is polled with a waker that
//! wakes every waiting subscriber, so a subscriber dropped after polling it
//! leaves nobody stranded.

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use futures::Stream;
use futures::task::ArcWake;

/// What one poll of a subscriber gives.
pub(super) enum Next<T> {
    Item(T),
    Lagged(u64),
    End,
}

pub(super) struct State<S: Stream> {
    source: Option<Pin<Box<S>>>,
    buf: VecDeque<S::Item>,
    /// The sequence number of `buf[0]`.
    head: u64,
    max_buffer: usize,
    subs: HashMap<u64, Sub>,
    next_id: u64,
}

#[derive(Debug, Clone, Copy)]
struct Sub {
    /// The sequence number of the next item this subscriber takes.
    next: u64,
    backpressure: bool,
}

/// Subscribers waiting for an item or for room; the source's waker.
#[derive(Debug, Default)]
pub(super) struct Waiters(Mutex<HashMap<u64, Waker>>);

impl Waiters {
    pub(super) fn register(&self, id: u64, waker: &Waker) {
        if let Ok(mut w) = self.0.lock() {
            w.insert(id, waker.clone());
        }
    }

    pub(super) fn remove(&self, id: u64) {
        if let Ok(mut w) = self.0.lock() {
            w.remove(&id);
        }
    }

    pub(super) fn wake_all(&self) {
        let wakers: Vec<Waker> = match self.0.lock() {
            Ok(mut w) => w.drain().map(|(_, w)| w).collect(),
            Err(_) => Vec::new(),
        };
        for w in wakers {
            w.wake();
        }
    }
}

impl ArcWake for Waiters {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.wake_all();
    }
}

impl<S: Stream> State<S> {
    pub(super) fn new(source: S, max_buffer: usize) -> State<S> {
        State {
            source: Some(Box::pin(source)),
            buf: VecDeque::new(),
            head: 0,
            max_buffer: max_buffer.max(1),
            subs: HashMap::new(),
            next_id: 0,
        }
    }

    fn tail(&self) -> u64 {
        self.head + self.buf.len() as u64
    }

    pub(super) fn ended(&self) -> bool {
        self.source.is_none()
    }

    /// A new subscriber, seeing items pulled from now on; `None` if ended.
    pub(super) fn subscribe(&mut self, backpressure: bool) -> Option<u64> {
        if self.ended() {
            return None;
        }
        let id = self.next_id;
        self.next_id += 1;
        let next = self.tail();
        self.subs.insert(id, Sub { next, backpressure });
        Some(id)
    }

    /// Forgets a subscriber; returns whether room was freed.
    pub(super) fn unsubscribe(&mut self, id: u64) -> bool {
        self.subs.remove(&id);
        self.trim()
    }

    /// Ends the broadcast: drops the source; buffered items stay readable.
    pub(super) fn close(&mut self) {
        self.source = None;
    }

    /// Drops the items no subscriber still needs; returns whether any went.
    fn trim(&mut self) -> bool {
        let keep_from = self
            .subs
            .values()
            .map(|s| s.next)
            .min()
            .unwrap_or(self.tail());
        let mut trimmed = false;
        while self.head < keep_from && self.buf.pop_front().is_some() {
            self.head += 1;
            trimmed = true;
        }
        trimmed
    }
}

impl<S: Stream> State<S>
where
    S::Item: Clone,
{
    /// The next item for subscriber `id`, pulling from the source if it is
    /// at the front. `woke_others` is set when others should be woken (an
    /// item was pulled, room was freed, or the source ended).
    pub(super) fn poll_next(
        &mut self,
        id: u64,
        source_waker: &Waker,
        woke_others: &mut bool,
    ) -> Poll<Next<S::Item>> {
        let Some(sub) = self.subs.get(&id).copied() else {
            return Poll::Ready(Next::End);
        };
        if sub.next < self.head {
            let skipped = self.head - sub.next;
            self.set_next(id, self.head);
            return Poll::Ready(Next::Lagged(skipped));
        }
        if sub.next < self.tail() {
            return Poll::Ready(Next::Item(self.take(id, sub.next, woke_others)));
        }
        // At the front: pull one item, if there is room for it.
        let Some(source) = self.source.as_mut() else {
            return Poll::Ready(Next::End);
        };
        if self.buf.len() >= self.max_buffer {
            let head = self.head;
            if self.subs.values().any(|s| s.backpressure && s.next == head) {
                // A backpressuring subscriber still needs the oldest item;
                // it wakes the waiters when it takes it.
                return Poll::Pending;
            }
            // Lagging subscribers lose the oldest item.
            self.buf.pop_front();
            self.head += 1;
        }
        match source
            .as_mut()
            .poll_next(&mut Context::from_waker(source_waker))
        {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.source = None;
                *woke_others = true;
                Poll::Ready(Next::End)
            }
            Poll::Ready(Some(item)) => {
                self.buf.push_back(item);
                *woke_others = true;
                let seq = self.tail() - 1;
                Poll::Ready(Next::Item(self.take(id, seq, woke_others)))
            }
        }
    }

    fn set_next(&mut self, id: u64, next: u64) {
        if let Some(s) = self.subs.get_mut(&id) {
            s.next = next;
        }
    }

    fn take(&mut self, id: u64, seq: u64, woke_others: &mut bool) -> S::Item {
        let idx = (seq - self.head) as usize;
        let item = self.buf[idx].clone();
        self.set_next(id, seq + 1);
        if self.trim() {
            *woke_others = true;
        }
        item
    }
}

/// What a broadcast's handle and its subscribers share.
pub(super) struct Shared<S: Stream> {
    pub(super) state: Mutex<State<S>>,
    pub(super) waiters: Arc<Waiters>,
}

impl<S: Stream> Shared<S> {
    pub(super) fn lock(&self) -> MutexGuard<'_, State<S>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
