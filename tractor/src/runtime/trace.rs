//! Tracing across the tree: the caller's trace context travels in every
//! `Start`, and the callee's task span is created as its child.
//!
//! tractor keeps its own ids, so a plain subscriber can stitch processes
//! together: every span that takes part in a trace gets [`SpanIds`]
//! (a 128-bit trace id shared by the whole trace, a 64-bit span id, the
//! parent's span id), kept in the span's extensions when the subscriber
//! is built on `tracing_subscriber`'s `Registry`. They are given lazily,
//! the first time a call (or [`current`]) asks for them: a span inherits
//! its parent's trace, and a span with no parent starts a trace, or,
//! inside an RPC task, continues the task's. Each RPC task also keeps its
//! ids in its task-local, so a trace crosses an actor whose task span is
//! disabled (filtered out) without breaking.
//!
//! A user [`Propagator`] adds a second, foreign context (OpenTelemetry's)
//! through a [`Carrier`] of string pairs; it costs nothing when none is
//! set.

use std::cell::Cell;
use std::fmt;
use std::sync::OnceLock;

use tracing::Span;
use tracing_subscriber::registry::{LookupSpan, Registry};

use crate::ipc::{Carrier, TraceParent};

/// The id of a trace: 128 bits, shown as 32 lowercase hex digits (the
/// W3C trace-id form).
///
/// ```
/// use tractor::trace::TraceId;
/// assert_eq!(TraceId(0xab).to_string(), format!("{:0>32}", "ab"));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(pub u128);

/// The id of a span within a trace: 64 bits, shown as 16 lowercase hex
/// digits (the W3C parent-id form).
///
/// ```
/// use tractor::trace::SpanId;
/// assert_eq!(SpanId(0xab).to_string(), "00000000000000ab");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(pub u64);

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({self})")
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({self})")
    }
}

/// Where the current span sits in a trace: what a call made here carries
/// to the callee, whose task span gets the same `trace_id` and this
/// `span_id` as its `parent_span_id`.
///
/// ```
/// # async fn demo(portal: tractor::Portal) -> Result<(), tractor::Error> {
/// use tracing::Instrument;
/// let job = tracing::info_span!("job");
/// async {
///     if let Some(cx) = tractor::trace::current() {
///         tracing::info!(trace_id = %cx.trace_id, "calling out");
///     }
///     // ... portal.run(..): the callee's `rpc` span is in the same trace.
/// }
/// .instrument(job)
/// .await;
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TraceContext {
    /// The trace.
    pub trace_id: TraceId,
    /// The current span.
    pub span_id: SpanId,
    /// Its parent, if it has one in the trace (in this process or the
    /// caller's).
    pub parent_span_id: Option<SpanId>,
}

/// The trace context of the current span, or, when it is disabled or the
/// subscriber keeps no span data, of the current RPC task; `None` outside
/// both (a call made there starts a new trace in the callee).
///
/// Spans are given ids when first asked: a span with no parent starts a
/// trace (or continues its RPC task's), any other inherits its parent's.
/// Ids are kept in spans only by a subscriber built on
/// `tracing_subscriber`'s `Registry` (`tracing_subscriber::fmt()` and
/// `tracing_subscriber::registry()` are).
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer());
/// tracing::subscriber::with_default(subscriber, || {
///     assert_eq!(tractor::trace::current(), None, "no span, no RPC task");
///     let root = tracing::info_span!("root");
///     let _in_root = root.enter();
///     let outer = tractor::trace::current().unwrap();
///     let inner = tracing::info_span!("inner").in_scope(tractor::trace::current).unwrap();
///     assert_eq!(inner.trace_id, outer.trace_id);
///     assert_eq!(inner.parent_span_id, Some(outer.span_id));
///     assert_eq!(tractor::trace::current(), Some(outer), "ids are kept");
/// });
/// ```
pub fn current() -> Option<TraceContext> {
    let span = Span::current();
    ids_of(&span).or_else(task_ids).map(SpanIds::context)
}

/// Carries a foreign trace context (OpenTelemetry's, say) across a call,
/// beside tractor's own ids: [`inject`](Self::inject) runs on the caller's
/// side for every call, [`extract`](Self::extract) on the callee's, before
/// its task span is first entered. Set one per process with
/// [`set_propagator`], in every process of the tree.
///
/// ```
/// use tractor::trace::{Carrier, Propagator};
///
/// /// Carries tractor's own context as a W3C `traceparent`.
/// #[derive(Debug)]
/// struct W3c;
///
/// impl Propagator for W3c {
///     fn inject(&self, _span: &tracing::Span, carrier: &mut Carrier) {
///         if let Some(cx) = tractor::trace::current() {
///             let tp = format!("00-{}-{}-01", cx.trace_id, cx.span_id);
///             let _ = carrier.insert("traceparent", tp);
///         }
///     }
///     fn extract(&self, carrier: &Carrier, span: &tracing::Span) {
///         if let Some(tp) = carrier.get("traceparent") {
///             tracing::debug!(parent: span, traceparent = tp, "called from");
///         }
///     }
/// }
/// ```
pub trait Propagator: Send + Sync + 'static {
    /// Caller's side: writes the context of `span` (the caller's current
    /// span) into `carrier`. What does not fit is refused by
    /// [`Carrier::insert`]; a call is never failed for it.
    fn inject(&self, span: &Span, carrier: &mut Carrier);

    /// Callee's side: reads the caller's context from `carrier` and makes
    /// it the parent of `span`, the new task's span (for OpenTelemetry:
    /// `span.set_parent(cx)`). Called for every call that carried a
    /// context, with the carrier possibly empty.
    fn extract(&self, carrier: &Carrier, span: &Span);

    /// Called in a child actor after its runtime has shut down, just
    /// before its process exits: a child never returns from `main`, so
    /// an exporter's buffered spans are flushed here. Does nothing by
    /// default.
    fn flush(&self) {}
}

static PROPAGATOR: OnceLock<Box<dyn Propagator>> = OnceLock::new();

/// Installs this process's [`Propagator`]; `false` (and `propagator` is
/// dropped) when one is installed already. Call it in every process of
/// the tree before tractor runs there: in `main` before
/// [`tractor::init()`](crate::init), so children run it too (they re-run
/// the binary, and `init` turns them into actors).
///
/// ```
/// use tractor::trace::{Carrier, Propagator};
/// #[derive(Debug)]
/// struct Nothing;
/// impl Propagator for Nothing {
///     fn inject(&self, _: &tracing::Span, _: &mut Carrier) {}
///     fn extract(&self, _: &Carrier, _: &tracing::Span) {}
/// }
/// assert!(tractor::trace::set_propagator(Nothing));
/// assert!(!tractor::trace::set_propagator(Nothing), "once per process");
/// ```
pub fn set_propagator(propagator: impl Propagator) -> bool {
    let mut set = false;
    PROPAGATOR.get_or_init(|| {
        set = true;
        Box::new(propagator)
    });
    set
}

/// One span's place in a trace, as tractor keeps it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanIds {
    pub(crate) trace_id: u128,
    pub(crate) span_id: u64,
    pub(crate) parent: Option<u64>,
}

impl SpanIds {
    /// A span under `parent`, or the root of a new trace.
    fn under(parent: Option<(u128, u64)>) -> SpanIds {
        SpanIds {
            trace_id: parent.map_or_else(new_trace_id, |p| p.0),
            span_id: new_span_id(),
            parent: parent.map(|p| p.1),
        }
    }

    fn context(self) -> TraceContext {
        TraceContext {
            trace_id: TraceId(self.trace_id),
            span_id: SpanId(self.span_id),
            parent_span_id: self.parent.map(SpanId),
        }
    }

    /// The ids of an RPC task started by a `Start` carrying `parent`.
    pub(crate) fn for_task(parent: Option<&TraceParent>) -> SpanIds {
        SpanIds::under(parent.map(|p| (p.trace_id, p.span_id)))
    }

    /// The trace id, for a span field.
    pub(crate) fn trace(&self) -> TraceId {
        TraceId(self.trace_id)
    }

    /// The span id, for a span field.
    pub(crate) fn span(&self) -> SpanId {
        SpanId(self.span_id)
    }

    /// The parent's span id, for a span field (recorded only when set).
    pub(crate) fn parent_field(&self) -> Option<tracing::field::DisplayValue<SpanId>> {
        self.parent.map(|p| tracing::field::display(SpanId(p)))
    }
}

/// The trace context a `Start` made here carries: the current span's
/// (or RPC task's) ids, and what the propagator injects, if one is set.
/// Without a propagator this allocates nothing.
pub(crate) fn capture() -> Option<TraceParent> {
    let span = Span::current();
    let ids = ids_of(&span).or_else(task_ids)?;
    let mut carrier = Carrier::new();
    if let Some(p) = PROPAGATOR.get() {
        p.inject(&span, &mut carrier);
    }
    Some(TraceParent {
        trace_id: ids.trace_id,
        span_id: ids.span_id,
        carrier,
    })
}

/// Binds a new RPC task's `span` to its trace: keeps `ids` in it (so
/// spans opened inside the task find them) and lets the propagator set
/// its foreign parent from what the caller carried.
pub(crate) fn attach(span: &Span, ids: SpanIds, parent: Option<&TraceParent>) {
    if let Some(id) = span.id() {
        tracing::dispatcher::get_default(|d| {
            if let Some(span) = d.downcast_ref::<Registry>().and_then(|r| r.span(&id)) {
                let mut ext = span.extensions_mut();
                if ext.get_mut::<SpanIds>().is_none() {
                    ext.insert(ids);
                }
            }
        });
    }
    if let (Some(p), Some(parent)) = (PROPAGATOR.get(), parent) {
        p.extract(&parent.carrier, span);
    }
}

/// Lets the propagator flush what it buffered: the process is about to
/// exit without returning from `main` (a child actor's end).
pub(crate) fn flush() {
    if let Some(p) = PROPAGATOR.get() {
        p.flush();
    }
}

/// The ids of the current RPC task, if the calling code runs in one.
fn task_ids() -> Option<SpanIds> {
    super::rpc::current_task_trace()
}

/// The ids of `span`, given now to it and to those of its ancestors that
/// have none yet; `None` when it is disabled or the subscriber keeps no
/// span data.
fn ids_of(span: &Span) -> Option<SpanIds> {
    let id = span.id()?;
    tracing::dispatcher::get_default(|d| {
        let registry = d.downcast_ref::<Registry>()?;
        let span = registry.span(&id)?;
        if let Some(ids) = span.extensions().get::<SpanIds>() {
            return Some(*ids);
        }
        // From this span up to the nearest one with ids (or the root).
        let mut bare = Vec::new();
        let mut above = None;
        for s in span.scope() {
            if let Some(ids) = s.extensions().get::<SpanIds>() {
                above = Some(*ids);
                break;
            }
            bare.push(s);
        }
        // A root here continues the trace of the RPC task it runs in.
        let mut parent = above.or_else(task_ids);
        for s in bare.into_iter().rev() {
            let mine = SpanIds::under(parent.map(|p| (p.trace_id, p.span_id)));
            let mut ext = s.extensions_mut();
            // Another thread may have been first.
            let kept = match ext.get_mut::<SpanIds>() {
                Some(theirs) => *theirs,
                None => {
                    ext.insert(mine);
                    mine
                }
            };
            parent = Some(kept);
        }
        parent
    })
}

thread_local! {
    /// SplitMix64 state: seeded once per thread from the OS, then each
    /// id is one step (a bijection, so a thread never repeats an id).
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    if crate::ipc::auth::fill_random(&mut b).is_ok() {
        return u64::from_ne_bytes(b);
    }
    // No OS randomness: time, pid and this thread's stack address.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let here = &b as *const _ as u64;
    nanos ^ (u64::from(std::process::id()) << 32) ^ here.rotate_left(17)
}

fn next_u64() -> u64 {
    RNG.with(|s| {
        let x = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(x);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    })
}

/// A fresh span id (never zero, which W3C reserves for "none").
fn new_span_id() -> u64 {
    loop {
        let id = next_u64();
        if id != 0 {
            return id;
        }
    }
}

/// A fresh trace id (never zero).
fn new_trace_id() -> u128 {
    (u128::from(next_u64()) << 64) | u128::from(new_span_id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    fn with_registry(f: impl FnOnce()) {
        let subscriber = tracing_subscriber::registry().with(tracing_subscriber::fmt::layer());
        tracing::subscriber::with_default(subscriber, f);
    }

    #[test]
    fn spans_inherit_their_parents_trace() {
        with_registry(|| {
            let root = tracing::info_span!("root");
            let (a, b) = root.in_scope(|| {
                let a = tracing::info_span!("a").in_scope(|| current().unwrap());
                let b = tracing::info_span!("b").in_scope(|| current().unwrap());
                (a, b)
            });
            let r = root.in_scope(|| current().unwrap());
            assert_eq!((a.trace_id, b.trace_id), (r.trace_id, r.trace_id));
            assert_eq!(a.parent_span_id, Some(r.span_id));
            assert_eq!(b.parent_span_id, Some(r.span_id));
            assert_ne!(a.span_id, b.span_id);
            assert_eq!(r.parent_span_id, None, "a root starts the trace");
            let other = tracing::info_span!("other").in_scope(|| current().unwrap());
            assert_ne!(other.trace_id, r.trace_id, "another root, another trace");
        });
    }

    #[test]
    fn a_start_carries_the_current_spans_ids() {
        with_registry(|| {
            assert_eq!(capture(), None);
            let span = tracing::info_span!("caller");
            let sent = span.in_scope(|| capture().unwrap());
            let cx = span.in_scope(|| current().unwrap());
            assert_eq!((sent.trace_id, sent.span_id), (cx.trace_id.0, cx.span_id.0));
            assert!(sent.carrier.is_empty(), "no propagator, no carrier");
            let task = SpanIds::for_task(Some(&sent));
            assert_eq!(task.trace_id, sent.trace_id);
            assert_eq!(task.parent, Some(sent.span_id));
            let rpc = tracing::info_span!("rpc");
            attach(&rpc, task, Some(&sent));
            let inside =
                tracing::info_span!(parent: &rpc, "inside").in_scope(|| current().unwrap());
            assert_eq!(inside.trace_id.0, sent.trace_id);
            assert_eq!(inside.parent_span_id, Some(SpanId(task.span_id)));
        });
    }

    #[test]
    fn ids_are_fresh_and_never_zero() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = new_span_id();
            assert_ne!(id, 0);
            assert!(seen.insert(id));
        }
        assert_ne!(new_trace_id(), new_trace_id());
    }
}
