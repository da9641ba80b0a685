//! Pins every compile error of `#[tractor::endpoint]` (plain and stream
//! endpoints), `#[tractor::context]`, `#[tractor::main]` and
//! `#[tractor::test]`, and the payload typing at a context's or stream's
//! call site; checks the supported shapes compile.
//!
//! Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p ui-tests`, then read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("ui/fail/*.rs");
    t.pass("ui/pass/*.rs");
}
