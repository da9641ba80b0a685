//! Tracing across the tree: a call made inside a span carries its trace
//! context, and the callee's `rpc` span is its child, through
//! root → child → grandchild, for plain calls, contexts and streams.
//!
//! Every process of the tree must record its spans, and children re-run
//! this binary: so each scenario runs in a process of its own
//! ([`isolated`]) with [`LOG_ENV`] set, and every process that has it set
//! installs, before `main` (an `.init_array` constructor, as a program
//! would in `main` before `tractor::init()`), a subscriber whose layer
//! appends what it sees to that file, and a propagator. The isolated root
//! then reads the file and checks the tree's spans.

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;

use tracing::Instrument;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerCx, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tractor::trace::{Carrier, Propagator, TraceContext};
use tractor::{Context, Error};

use crate::isolated;

/// The file every process of an isolated run appends its records to.
const LOG_ENV: &str = "TRACTOR_SUITE_TRACE_LOG";

#[used]
#[unsafe(link_section = ".init_array")]
static INSTALL: extern "C" fn() = install;

/// Runs before `main` in every process of this binary: with [`LOG_ENV`]
/// set, installs the capturing subscriber and the test propagator.
/// Must not panic (it runs outside of Rust's `main`).
extern "C" fn install() {
    let Some(path) = std::env::var_os(LOG_ENV) else {
        return;
    };
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    else {
        return;
    };
    let _ = LOG.set(file);
    let subscriber = tracing_subscriber::registry().with(Capture);
    let _ = tracing::subscriber::set_global_default(subscriber);
    let _ = tractor::trace::set_propagator(Carry);
}

static LOG: OnceLock<std::fs::File> = OnceLock::new();

/// Appends one record (one `write`, so lines of processes never mix).
fn append(line: String) {
    if let Some(mut f) = LOG.get() {
        let _ = f.write_all(line.as_bytes());
    }
}

/// A span's or event's fields, as text.
#[derive(Default)]
struct Fields(Vec<(String, String)>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.push((field.name().into(), value.into()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().into(), format!("{value:?}")));
    }
}

impl Fields {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Records every `rpc` span as it is created, and the propagator's
/// `extracted` events with the span they were emitted in.
struct Capture;

impl<S> tracing_subscriber::Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        cx: LayerCx<'_, S>,
    ) {
        if attrs.metadata().name() != "rpc" {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        let mut line = format!("rpc pid={}", std::process::id());
        for (k, v) in &fields.0 {
            let _ = write!(line, " {k}={v}");
        }
        line.push('\n');
        append(line);
        if let Some(span) = cx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, cx: LayerCx<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        if fields.get("message") != Some("extracted") {
            return;
        }
        let in_span = cx
            .event_span(event)
            .and_then(|s| {
                s.extensions()
                    .get::<Fields>()?
                    .get("span_id")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        let carried = fields.get("carried").unwrap_or_default();
        append(format!(
            "extracted pid={} carried={carried} span_id={in_span}\n",
            std::process::id()
        ));
    }
}

/// Carries the caller's span id as a carrier entry; the callee emits it
/// in the new task's span, so the test sees the propagator's two halves
/// meet.
#[derive(Debug)]
struct Carry;

impl Propagator for Carry {
    fn inject(&self, _span: &tracing::Span, carrier: &mut Carrier) {
        if let Some(cx) = tractor::trace::current() {
            let _ = carrier.insert("caller-span", cx.span_id.to_string());
        }
    }
    fn extract(&self, carrier: &Carrier, span: &tracing::Span) {
        let carried = carrier.get("caller-span").unwrap_or("none");
        tracing::info!(parent: span, carried, "extracted");
    }
}

/// One `rpc` record of the log.
#[derive(Debug, Clone)]
struct RpcSpan {
    pid: u32,
    endpoint: String,
    trace_id: String,
    span_id: String,
    parent_span_id: Option<String>,
}

fn parse(line: &str) -> (String, Fields) {
    let mut words = line.split(' ');
    let kind = words.next().unwrap_or_default().to_string();
    let fields = words
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (kind, Fields(fields))
}

fn rpc_spans(log: &str, endpoint: &str) -> Vec<RpcSpan> {
    log.lines()
        .map(parse)
        .filter(|(kind, f)| kind == "rpc" && f.get("endpoint") == Some(endpoint))
        .map(|(_, f)| RpcSpan {
            pid: f.get("pid").and_then(|p| p.parse().ok()).unwrap_or(0),
            endpoint: endpoint.to_string(),
            trace_id: f.get("trace_id").unwrap_or_default().to_string(),
            span_id: f.get("span_id").unwrap_or_default().to_string(),
            parent_span_id: f.get("parent_span_id").map(str::to_string),
        })
        .collect()
}

/// The single span of `spans` whose parent is `parent`.
fn child_of<'a>(spans: &'a [RpcSpan], parent: &str, log: &str) -> &'a RpcSpan {
    let found: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id.as_deref() == Some(parent))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one span under {parent} expected, found {found:?} in:\n{log}"
    );
    found[0]
}

/// The tree's spans for `endpoint`, called once from the root's span
/// `root`: the child's span is a child of `root`, the grandchild's of
/// the child's; all three in one trace, in three processes; and the
/// propagator carried the caller's span id to each.
fn check_tree(log: &str, endpoint: &str, root: TraceContext) {
    let spans = rpc_spans(log, endpoint);
    assert_eq!(spans.len(), 2, "two `{endpoint}` tasks expected in:\n{log}");
    let child = child_of(&spans, &root.span_id.to_string(), log);
    let grandchild = child_of(&spans, &child.span_id, log);
    for s in [child, grandchild] {
        assert_eq!(
            s.trace_id,
            root.trace_id.to_string(),
            "{} in pid {} is in another trace than the root's:\n{log}",
            s.endpoint,
            s.pid
        );
        let extracted = log
            .lines()
            .map(parse)
            .filter(|(kind, f)| kind == "extracted" && f.get("span_id") == Some(&s.span_id))
            .map(|(_, f)| f.get("carried").unwrap_or_default().to_string())
            .collect::<Vec<_>>();
        assert_eq!(
            extracted,
            [s.parent_span_id.clone().unwrap_or_default()],
            "the propagator's carrier did not reach the span of pid {}:\n{log}",
            s.pid
        );
    }
    let me = std::process::id();
    assert!(
        child.pid != me && grandchild.pid != me && child.pid != grandchild.pid,
        "three processes expected (root {me}):\n{log}"
    );
}

/// Runs `scenario` in a process of its own with the capture installed
/// everywhere; there, runs it inside a root span, waits for the tree to
/// be gone and checks the log.
async fn traced<F>(path: &str, endpoint: &str, scenario: F)
where
    F: AsyncFnOnce(&tractor::ActorNursery) -> Result<u32, Error>,
{
    if !isolated::active() {
        let log = crate::common::marker_path("trace");
        isolated::run_with(path, &[(LOG_ENV, &log)]).await;
        let _ = std::fs::remove_file(&log);
        return;
    }
    let log_path = std::env::var(LOG_ENV).expect("the capture log's path");
    let root = tracing::info_span!("root");
    let (cx, hops) = async {
        let cx = tractor::trace::current().expect("a root span has a trace context");
        let hops = tractor::open_nursery(scenario).await.expect("the scenario");
        (cx, hops)
    }
    .instrument(root)
    .await;
    assert_eq!(hops, 2, "root → child → grandchild");
    assert_eq!(cx.parent_span_id, None, "the root span starts the trace");
    let log = std::fs::read_to_string(&log_path).expect("the capture log");
    check_tree(&log, &format!("{}::{endpoint}", module_path!()), cx);
}

/// Spawns a daemon enabled for this module.
async fn daemon(an: &tractor::ActorNursery, name: &str) -> Result<tractor::Portal, Error> {
    an.start_actor(name).enable_modules([module_path!()]).await
}

#[tractor::endpoint]
async fn hop_run(depth: u32) -> Result<u32, Error> {
    if depth == 0 {
        return Ok(0);
    }
    tractor::open_nursery(async |an| {
        let p = daemon(an, "grandchild").await?;
        let below = p.run(hop_run::call(depth - 1)).await?;
        p.cancel_actor().await?;
        Ok(below + 1)
    })
    .await
}

#[tractor::context]
async fn hop_ctx(ctx: Context<u32>, depth: u32) -> Result<u32, Error> {
    let hops = if depth == 0 {
        0
    } else {
        tractor::open_nursery(async |an| {
            let p = daemon(an, "grandchild").await?;
            let below = p
                .open_context(hop_ctx::call(depth - 1), async |_ctx, first| Ok(first))
                .await?;
            p.cancel_actor().await?;
            Ok(below + 1)
        })
        .await?
    };
    ctx.started(hops).await?;
    Ok(hops)
}

/// Yields the hops below it, then its own.
#[tractor::endpoint]
async fn hop_stream(depth: u32) -> impl futures::Stream<Item = u32> {
    let mut seen = Vec::new();
    if depth > 0 {
        let below = tractor::open_nursery(async |an| {
            let p = daemon(an, "grandchild").await?;
            let mut items = Vec::new();
            let mut s = p.open_stream_from(hop_stream::call(depth - 1)).await?;
            while let Some(i) = s.recv().await? {
                items.push(i);
            }
            p.cancel_actor().await?;
            Ok::<_, Error>(items)
        })
        .await;
        seen = below.unwrap_or_default();
    }
    seen.push(depth);
    futures::stream::iter(seen)
}

/// A plain call's task spans, two actors down, are in the root span's trace.
#[tractor::test]
async fn a_trace_crosses_the_tree_through_calls() {
    traced(
        "trace::a_trace_crosses_the_tree_through_calls",
        "hop_run",
        async |an| {
            let p = daemon(an, "child").await?;
            let hops = p.run(hop_run::call(1)).await?;
            p.cancel_actor().await?;
            Ok(hops + 1)
        },
    )
    .await
}

/// So are a context's.
#[tractor::test]
async fn a_trace_crosses_the_tree_through_contexts() {
    traced(
        "trace::a_trace_crosses_the_tree_through_contexts",
        "hop_ctx",
        async |an| {
            let p = daemon(an, "child").await?;
            let hops = p
                .open_context(hop_ctx::call(1), async |_ctx, first| Ok(first))
                .await?;
            p.cancel_actor().await?;
            Ok(hops + 1)
        },
    )
    .await
}

/// And a one-way stream's.
#[tractor::test]
async fn a_trace_crosses_the_tree_through_streams() {
    traced(
        "trace::a_trace_crosses_the_tree_through_streams",
        "hop_stream",
        async |an| {
            let p = daemon(an, "child").await?;
            let mut items = Vec::new();
            let mut s = p.open_stream_from(hop_stream::call(1)).await?;
            while let Some(i) = s.recv().await? {
                items.push(i);
            }
            p.cancel_actor().await?;
            assert_eq!(items, [0, 1], "the grandchild's item, then the child's");
            Ok(2)
        },
    )
    .await
}
