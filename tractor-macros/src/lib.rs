//! Proc-macros of [tractor](https://docs.rs/tractor). Use them through the
//! `tractor` crate (`#[tractor::endpoint]`, `#[tractor::context]`,
//! `#[tractor::main]`, `#[tractor::test]`), which re-exports them and every path the generated
//! code names.
//!
//! Each macro goes parse → model → codegen; every problem found while
//! parsing is collected and reported as a `compile_error!` at the span of
//! the offending token (the item is kept, so no "not found" errors pile
//! on). Their messages are pinned by the `ui-tests` crate.

use proc_macro::TokenStream;

mod diag;
mod endpoint;
mod entry;

/// Makes an `async fn` callable from another actor.
///
/// Generates, beside the fn (which stays callable locally), a module of the
/// same name holding the argument struct `Args`, the `Endpoint` marker type,
/// the typed client stub `call(..)` and the dispatcher registered in the
/// link-time endpoint table under `module_path!()` + fn name.
///
/// `#[tractor::endpoint(name = "module::fn")]` sets the wire name
/// explicitly, for programs built from different crates (a service and
/// its clients) that must agree on it.
///
/// Declare endpoints at module level: the generated module reaches the fn
/// through `super::`, which a fn declared inside another fn's body is not
/// visible from.
#[proc_macro_attribute]
pub fn endpoint(attr: TokenStream, item: TokenStream) -> TokenStream {
    endpoint::expand(attr.into(), item.into(), endpoint::Macro::Endpoint).into()
}

/// Makes an `async fn` taking a `tractor::Context<Started, Tx, Rx>` a
/// context endpoint: a task linked to its caller's, opened with
/// `Portal::open_context`.
///
/// The `Context` type parameters fix the dialog's payloads (the `started`
/// value, what this side sends and receives on the stream; omitted ones are
/// `()`); the return type (`T` or `Result<T, E>`) is the dialog's result.
/// The other parameters are the call's arguments, as for
/// `#[tractor::endpoint]`, whose generated module this mirrors.
#[proc_macro_attribute]
pub fn context(attr: TokenStream, item: TokenStream) -> TokenStream {
    endpoint::expand(attr.into(), item.into(), endpoint::Macro::Context).into()
}

/// Wraps an `async fn main` so the binary can be re-executed as a child
/// actor, running the root on a current-thread tokio runtime otherwise.
#[proc_macro_attribute]
pub fn main(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand_main(attr.into(), item.into()).into()
}

/// Wraps an async test: children re-run the test binary on just this test;
/// the test fails past its deadline (`#[tractor::test(timeout = 30)]`,
/// seconds, default 60) or if any process of its tree survives it.
/// `spawn_method = "forkserver"` (or `"thread"`, `"exec"`) runs the test's
/// tree on that backend, unless its `RootConfig` or `TRACTOR_SPAWN_METHOD`
/// says otherwise.
#[proc_macro_attribute]
pub fn test(attr: TokenStream, item: TokenStream) -> TokenStream {
    entry::expand_test(attr.into(), item.into()).into()
}
