//! Endpoints: the typed functions an actor serves over IPC.
//!
//! `#[tractor::endpoint]` turns an `async fn` into an [`Endpoint`] type (for
//! callers) and an [`EndpointEntry`] in the link-time [`ENDPOINTS`] table
//! (for the callee's dispatcher). The table is collected by the linker, so a
//! child process re-executed from the same binary serves every endpoint the
//! binary contains, filtered at run time by its `enable_modules` allowlist.

use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::OnceLock;

use futures::future::LocalBoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ipc::{Aid, ErrorData, FlowSpec, FuncType};
use crate::runtime::error::{RemoteActorError, boxed_types};

/// What every remote-callable fn has, whatever its kind. Implemented by
/// the macros; users rarely name it.
pub trait RemoteFn: 'static {
    /// The arguments, as one serde struct.
    type Args: Serialize + DeserializeOwned + Send + 'static;
    /// The full path: `module_path!()` of the endpoint's module plus its name.
    const PATH: &'static str;
    /// The function's name.
    const NAME: &'static str;
    /// How it is called.
    const KIND: FuncType;

    /// The dialog's wire schema (argument, payload and result types), in
    /// a readable form for messages.
    fn signature() -> String;

    /// What tells a caller and a callee built from different sources
    /// apart: generated code hashes the serde shape of the dialog's types,
    /// traced once; this default hashes [`signature`](Self::signature).
    fn signature_hash() -> u64 {
        crate::ipc::stable_hash(&Self::signature())
    }

    /// The module part of [`PATH`](Self::PATH), which `enable_modules` matches.
    fn module() -> &'static str {
        module_of(Self::PATH, Self::NAME)
    }
}

/// A plain async fn endpoint (`#[tractor::endpoint]`), answered by one value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a plain endpoint",
    label = "not the call of an `#[tractor::endpoint]` fn returning a value",
    note = "`Portal::run` and `run_in_actor` take calls of `#[tractor::endpoint]` fns; open a `#[tractor::context]` with `Portal::open_context` and a stream endpoint with `Portal::open_stream_from`"
)]
pub trait Endpoint: RemoteFn {
    /// The success value.
    type Output: DeserializeOwned + Send + 'static;
}

/// A context endpoint (`#[tractor::context]`): a task linked to the
/// caller's, with a `started` value, a bidirectional stream and a result.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a context endpoint",
    label = "not the call of a `#[tractor::context]` fn",
    note = "`Portal::open_context` takes calls of `#[tractor::context]` fns; call an `#[tractor::endpoint]` with `Portal::run`, or a stream endpoint with `Portal::open_stream_from`"
)]
pub trait ContextEndpoint: RemoteFn {
    /// What the callee's `started` hands the caller.
    type Started: Serialize + DeserializeOwned + 'static;
    /// What the caller sends on the stream.
    type ToCallee: Serialize + DeserializeOwned + 'static;
    /// What the callee sends on the stream.
    type FromCallee: Serialize + DeserializeOwned + 'static;
    /// The callee's success value.
    type Return: DeserializeOwned + 'static;
}

/// A one-way stream endpoint (`#[tractor::endpoint]` returning
/// `impl Stream<Item = T>`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a stream endpoint",
    label = "not the call of an `#[tractor::endpoint]` fn returning `impl Stream`",
    note = "`Portal::open_stream_from` takes calls of endpoints returning `impl Stream<Item = T>`; call a plain endpoint with `Portal::run`, or a context with `Portal::open_context`"
)]
pub trait StreamEndpoint: RemoteFn {
    /// The items.
    type Item: Serialize + DeserializeOwned + 'static;
}

fn module_of(path: &'static str, name: &str) -> &'static str {
    path.strip_suffix(name)
        .and_then(|p| p.strip_suffix("::"))
        .unwrap_or(path)
}

/// A typed call of endpoint `E` with its arguments, made by the generated
/// `my_fn::call(..)` and consumed by [`Portal::run`](crate::Portal::run),
/// [`ActorNursery::run_in_actor`](crate::ActorNursery::run_in_actor),
/// [`Portal::open_context`](crate::Portal::open_context) or
/// [`Portal::open_stream_from`](crate::Portal::open_stream_from).
#[must_use = "a Call does nothing until passed to a Portal or a nursery"]
pub struct Call<E: RemoteFn> {
    pub(crate) args: E::Args,
    pub(crate) flow: FlowSpec,
    _e: PhantomData<fn() -> E>,
}

impl<E: RemoteFn> Call<E> {
    /// Wraps the argument struct.
    pub fn new(args: E::Args) -> Self {
        Call {
            args,
            flow: FlowSpec::default(),
            _e: PhantomData,
        }
    }

    /// The endpoint's module path.
    pub fn module(&self) -> &'static str {
        E::module()
    }

    /// The endpoint's function name.
    pub fn name(&self) -> &'static str {
        E::NAME
    }

    /// The stream buffer of the dialog: how many messages either side may
    /// have unread before the sender waits (or, in overrun mode, overruns).
    /// Default 256.
    pub fn buffer(mut self, messages: u32) -> Self {
        self.flow.window = messages.max(1);
        self
    }

    /// tractor's flow mode: senders never wait; a receiver whose buffer
    /// overflows fails the dialog with `StreamOverrun` (unless it opened
    /// its stream allowing overruns). The default is credit-based backpressure.
    pub fn overrun_mode(mut self) -> Self {
        self.flow.overrun = true;
        self
    }
}

impl<E: RemoteFn> std::fmt::Debug for Call<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Call({})", E::PATH)
    }
}

/// An incoming call's encoded arguments.
pub struct Invocation {
    pub(crate) args: Vec<u8>,
    pub(crate) path: &'static str,
    pub(crate) ctx: Option<std::sync::Arc<crate::runtime::context::CtxCore>>,
}

impl Invocation {
    /// The callee's half of a context endpoint's dialog.
    pub fn context<S, Tx, Rx>(&mut self) -> Result<crate::Context<S, Tx, Rx>, Reply>
    where
        S: Serialize,
        Tx: Serialize,
        Rx: DeserializeOwned,
    {
        match self.ctx.take() {
            Some(core) => Ok(crate::Context::new(core)),
            None => Err(Reply::Err(LocalError::new(
                boxed_types::MSG_TYPE_ERROR,
                format!(
                    "`{}` is a context endpoint; open it with Portal::open_context",
                    self.path
                ),
            ))),
        }
    }

    /// Streams a one-way stream endpoint's items to the caller.
    pub async fn pump<S>(mut self, items: S) -> Reply
    where
        S: futures::Stream,
        S::Item: Serialize,
    {
        match self.ctx.take() {
            Some(core) => crate::runtime::context::pump(core, items).await,
            None => Reply::Err(LocalError::new(
                boxed_types::MSG_TYPE_ERROR,
                format!(
                    "`{}` is a stream endpoint; open it with Portal::open_stream_from",
                    self.path
                ),
            )),
        }
    }

    /// Decodes the argument struct; a mismatch is a `MsgTypeError` reply.
    pub fn decode<A: DeserializeOwned>(&self) -> Result<A, Reply> {
        crate::ipc::codec::decode(&self.args).map_err(|e| {
            Reply::Err(LocalError::new(
                boxed_types::MSG_TYPE_ERROR,
                format!(
                    "arguments of `{}` do not decode as `{}`: {e}; the caller was built with a different signature",
                    self.path,
                    std::any::type_name::<A>()
                ),
            ))
        })
    }
}

/// What a dispatcher hands back to the runtime.
pub enum Reply {
    /// The encoded success value.
    Ok(Vec<u8>),
    /// A failure, boxed by the runtime with this actor's identity.
    Err(LocalError),
}

impl Reply {
    /// Encodes a success value.
    pub fn ok<T: Serialize + ?Sized>(v: &T) -> Reply {
        match postcard::to_stdvec(v) {
            Ok(b) => Reply::Ok(b),
            Err(e) => Reply::Err(LocalError::new(
                boxed_types::MSG_TYPE_ERROR,
                format!(
                    "the return value `{}` could not be encoded: {e}",
                    std::any::type_name::<T>()
                ),
            )),
        }
    }
}

/// An error raised here, before the runtime stamps it with this actor's
/// identity; or an error relayed from a further actor.
#[derive(Debug)]
pub enum LocalError {
    /// Raised in this actor.
    Raised {
        /// Type name.
        ty: String,
        /// Display.
        message: String,
        /// Source chain.
        chain: Vec<String>,
        /// Serialized value, if any.
        value: Option<Vec<u8>>,
        /// Grouped errors.
        grouped: Vec<ErrorData>,
    },
    /// Came from another actor; relayed on with this actor appended.
    Relayed(RemoteActorError),
}

impl LocalError {
    /// A raised error with a type name and message.
    pub fn new(ty: &str, message: impl Into<String>) -> Self {
        LocalError::Raised {
            ty: ty.into(),
            message: message.into(),
            chain: Vec::new(),
            value: None,
            grouped: Vec::new(),
        }
    }

    /// Stamps the error with the raising actor.
    pub fn into_data(self, me: &Aid) -> ErrorData {
        match self {
            LocalError::Raised {
                ty,
                message,
                chain,
                value,
                grouped,
            } => {
                // Only a panic has a meaningful backtrace: taken at the panic
                // site by the hook. An error value's would show the
                // dispatcher, not its origin, and resolving it costs ~70 ms
                // on the error path when RUST_BACKTRACE is set.
                let backtrace = if ty == boxed_types::PANIC {
                    PANIC_BACKTRACE.with(|b| b.borrow_mut().take())
                } else {
                    None
                };
                ErrorData {
                    boxed_type: ty.clone(),
                    src_type: ty,
                    message,
                    source_chain: chain,
                    src_uid: me.clone(),
                    relay_path: vec![me.clone()],
                    backtrace,
                    value,
                    canceller: None,
                    grouped,
                }
            }
            LocalError::Relayed(r) => r.relayed_by(me),
        }
    }
}

/// Boxes a `tractor::Error` returned by an endpoint: remote errors are
/// relayed (keeping their origin), aggregates keep every member.
pub fn box_tractor_error(e: &crate::Error) -> LocalError {
    use crate::Error;
    match e {
        Error::Remote(r) => LocalError::Relayed(r.clone()),
        Error::Multi(m) => LocalError::Raised {
            ty: boxed_types::MULTI_ERROR.into(),
            message: m.to_string(),
            chain: Vec::new(),
            value: None,
            grouped: m
                .errors
                .iter()
                .map(|(aid, e)| match e {
                    Error::Remote(r) => r.data().clone(),
                    other => box_tractor_error(other).into_data(aid),
                })
                .collect(),
        },
        Error::RuntimeFailure(m) => LocalError::new(boxed_types::RUNTIME_FAILURE, m.clone()),
        // The body's value stays here; the error is what travels.
        Error::ValueKept(k) => box_tractor_error(k.error()),
        other => LocalError::Raised {
            ty: format!("tractor::Error::{}", variant_name(other)),
            message: other.to_string(),
            chain: chain_of(other),
            value: None,
            grouped: Vec::new(),
        },
    }
}

fn variant_name(e: &crate::Error) -> String {
    let dbg = format!("{e:?}");
    dbg.split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("Error")
        .to_string()
}

/// `Display` of each `source()` below `e`.
pub fn chain_of(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push(s.to_string());
        cur = s.source();
    }
    out
}

/// The future a dispatcher returns.
pub type HandlerFuture = LocalBoxFuture<'static, Reply>;

/// One endpoint in the link-time table.
pub struct EndpointEntry {
    /// `module_path!()` + `::` + name.
    pub path: &'static str,
    /// The function's name.
    pub name: &'static str,
    /// How it is called.
    pub kind: FuncType,
    /// Its wire schema, readable, for messages.
    pub signature: fn() -> String,
    /// Its wire schema's hash, compared with each caller's.
    pub signature_hash: fn() -> u64,
    /// Decodes the arguments, runs the function, encodes the reply.
    pub handler: fn(Invocation) -> HandlerFuture,
}

/// Every endpoint linked into this binary.
#[linkme::distributed_slice]
pub static ENDPOINTS: [EndpointEntry];

/// The endpoint table is inconsistent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EndpointError {
    /// Two endpoints claim one name.
    #[error(
        "two endpoints are registered as `{path}`; rename one of them (endpoint names are module path + fn name and must be unique in a binary)"
    )]
    Duplicate {
        /// The shared path.
        path: String,
    },
}

/// The dispatch table: module → fn name → entry.
pub struct EndpointTable {
    by_module: HashMap<&'static str, HashMap<&'static str, &'static EndpointEntry>>,
}

/// Why a call could not be dispatched.
pub enum Lookup {
    /// Found.
    Found(&'static EndpointEntry),
    /// The module is not in `enable_modules`.
    NotExposed,
    /// No such function in that module.
    Missing,
}

impl EndpointTable {
    /// The process-wide table, built on first use.
    pub fn global() -> Result<&'static EndpointTable, EndpointError> {
        static TABLE: OnceLock<Result<EndpointTable, EndpointError>> = OnceLock::new();
        TABLE
            .get_or_init(|| Self::build(&ENDPOINTS))
            .as_ref()
            .map_err(Clone::clone)
    }

    fn build(entries: &'static [EndpointEntry]) -> Result<Self, EndpointError> {
        let mut by_module: HashMap<_, HashMap<_, _>> = HashMap::new();
        for e in entries {
            let module = module_of(e.path, e.name);
            if by_module
                .entry(module)
                .or_default()
                .insert(e.name, e)
                .is_some()
            {
                return Err(EndpointError::Duplicate {
                    path: e.path.to_string(),
                });
            }
        }
        Ok(EndpointTable { by_module })
    }

    /// Finds `module::name`, honouring the allowlist.
    pub fn lookup(&self, module: &str, name: &str, exposed: impl Fn(&str) -> bool) -> Lookup {
        if !exposed(module) {
            return Lookup::NotExposed;
        }
        match self.by_module.get(module).and_then(|m| m.get(name)) {
            Some(e) => Lookup::Found(e),
            None => Lookup::Missing,
        }
    }
}

/// Autoref-specialised boxing of an endpoint's error value, most specific
/// first: a tractor error is relayed; a `Serialize + Error` keeps its value
/// for `downcast`; an `Error` keeps its source chain; anything `Display`
/// keeps its message. Used by generated code as
/// `(&&&&ErrorProbe(&e)).box_error()`.
pub struct ErrorProbe<'a, E>(pub &'a E);

/// Level 4: `tractor::Error`.
pub trait BoxTractorError {
    /// Boxes.
    fn box_error(&self) -> LocalError;
}
impl BoxTractorError for &&&ErrorProbe<'_, crate::Error> {
    fn box_error(&self) -> LocalError {
        box_tractor_error(self.0)
    }
}

/// Level 3: serializable errors.
pub trait BoxSerializableError {
    /// Boxes.
    fn box_error(&self) -> LocalError;
}
impl<E: Serialize + std::error::Error + 'static> BoxSerializableError for &&ErrorProbe<'_, E> {
    fn box_error(&self) -> LocalError {
        LocalError::Raised {
            ty: std::any::type_name::<E>().into(),
            message: self.0.to_string(),
            chain: chain_of(self.0),
            value: postcard::to_stdvec(self.0).ok(),
            grouped: Vec::new(),
        }
    }
}

/// Level 2: `std::error::Error`.
pub trait BoxStdError {
    /// Boxes.
    fn box_error(&self) -> LocalError;
}
impl<E: std::error::Error + 'static> BoxStdError for &ErrorProbe<'_, E> {
    fn box_error(&self) -> LocalError {
        LocalError::Raised {
            ty: std::any::type_name::<E>().into(),
            message: self.0.to_string(),
            chain: chain_of(self.0),
            value: None,
            grouped: Vec::new(),
        }
    }
}

/// What an endpoint's error type must be: `Display`, so the caller gets
/// its message. A separate trait so a violation gets a message that says
/// what to do instead of "no method `box_error`".
#[diagnostic::on_unimplemented(
    message = "the error type `{Self}` of an endpoint must implement `std::fmt::Display`",
    label = "`{Self}` is not `Display`",
    note = "the caller gets the error as a `RemoteActorError` carrying its message: implement `Display` for `{Self}` or derive `thiserror::Error` (with serde's `Serialize` too, the caller can downcast it)"
)]
pub trait EndpointErrorDisplay: std::fmt::Display {}
impl<T: std::fmt::Display + ?Sized> EndpointErrorDisplay for T {}

/// Level 1: anything `Display` (`String`, `&str`, ...). Applies to every
/// `E` and asks for `Display` only once picked, so a bad error type gets
/// the [`EndpointErrorDisplay`] message.
pub trait BoxDisplayError<E> {
    /// Boxes.
    fn box_error(&self) -> LocalError
    where
        E: EndpointErrorDisplay;
}
impl<E> BoxDisplayError<E> for ErrorProbe<'_, E> {
    fn box_error(&self) -> LocalError
    where
        E: EndpointErrorDisplay,
    {
        LocalError::new(std::any::type_name::<E>(), self.0.to_string())
    }
}

fn captured_backtrace() -> Option<String> {
    let bt = std::backtrace::Backtrace::capture();
    (bt.status() == std::backtrace::BacktraceStatus::Captured).then(|| bt.to_string())
}

thread_local! {
    static PANIC_BACKTRACE: std::cell::RefCell<Option<String>> = const { std::cell::RefCell::new(None) };
}

/// Chains a panic hook that keeps the backtrace of the panic site (when
/// `RUST_BACKTRACE` enables capture) for the boxed error; the previous hook
/// still prints as usual.
pub(crate) fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let bt = captured_backtrace();
            PANIC_BACKTRACE.with(|b| *b.borrow_mut() = bt);
            prev(info);
        }));
    });
}

/// Turns a panic payload into a boxed `panic` error.
pub fn box_panic(payload: Box<dyn std::any::Any + Send>) -> LocalError {
    let msg = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".to_string()
    };
    LocalError::new(boxed_types::PANIC, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    struct Oops(u8);
    impl std::fmt::Display for Oops {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "oops {}", self.0)
        }
    }
    impl std::error::Error for Oops {}

    fn ty(l: LocalError) -> (String, bool) {
        match l {
            LocalError::Raised { ty, value, .. } => (ty, value.is_some()),
            LocalError::Relayed(_) => ("relayed".into(), false),
        }
    }

    // The extra borrows are the point: they are how generated code picks
    // the most specific boxing.
    #[test]
    #[allow(clippy::needless_borrow)]
    fn probe_picks_most_specific() {
        let e = Oops(3);
        let (t, v) = ty((&&&&ErrorProbe(&e)).box_error());
        assert!(t.ends_with("Oops") && v);
        let io = std::io::Error::other("x");
        let (t, v) = ty((&&&&ErrorProbe(&io)).box_error());
        assert_eq!((t.as_str(), v), ("std::io::error::Error", false));
        let s = String::from("plain");
        let (t, _) = ty((&&&&ErrorProbe(&s)).box_error());
        assert_eq!(t, "alloc::string::String");
    }

    #[test]
    fn module_is_path_minus_name() {
        assert_eq!(module_of("a::b::f", "f"), "a::b");
    }

    fn never(_: Invocation) -> HandlerFuture {
        Box::pin(async { Reply::Ok(Vec::new()) })
    }

    #[test]
    fn duplicate_names_are_reported() {
        static TWICE: [EndpointEntry; 2] = [
            EndpointEntry {
                path: "app::f",
                name: "f",
                kind: FuncType::AsyncFunc,
                signature: String::new,
                signature_hash: || 0,
                handler: never,
            },
            EndpointEntry {
                path: "app::f",
                name: "f",
                kind: FuncType::AsyncFunc,
                signature: String::new,
                signature_hash: || 0,
                handler: never,
            },
        ];
        let err = EndpointTable::build(&TWICE)
            .err()
            .expect("duplicate refused");
        assert!(err.to_string().contains("`app::f`"), "{err}");
        let ok = EndpointTable::build(&TWICE[..1]).expect("one is fine");
        assert!(matches!(ok.lookup("app", "f", |_| true), Lookup::Found(_)));
        assert!(matches!(
            ok.lookup("app", "f", |_| false),
            Lookup::NotExposed
        ));
        assert!(matches!(ok.lookup("app", "g", |_| true), Lookup::Missing));
    }
}
