//! Pins every compile error of `#[tractor::endpoint]` (plain and stream
//! endpoints), `#[tractor::context]`, `#[tractor::main]` and
//! `#[tractor::test]`, and the payload typing at a context's or stream's
//! call site; checks the supported shapes compile.
//!
//! # The pinned toolchain
//!
//! rustc words its messages differently from one release to the next, so
//! the `.stderr` files hold for the release named in `ui-tests/rustc-version`
//! only. The test asks the rustc cargo uses (`$RUSTC`, else `rustc`, which
//! rustup resolves to the toolchain of `cargo +x test`) for its version:
//! - the pinned one: every case runs, messages compared;
//! - another one: the `pass` cases still run (whether supported code
//!   compiles does not depend on wording), the `fail` cases are skipped
//!   with a notice on stderr, shown even when the test passes. A machine
//!   with only another toolchain (CI that cannot download) still checks
//!   what it can instead of failing on wording. Set `TRACTOR_UI_STRICT=1`
//!   (the job that has the pinned toolchain) to make a mismatch a failure,
//!   so the pin cannot rot unnoticed.
//!
//! Run them as pinned with `cargo +1.95.0 test -p ui-tests` (the version
//! in the file). To move the pin to your toolchain, regenerate with
//! `TRYBUILD=overwrite cargo test -p ui-tests`: every case runs, the
//! `.stderr` files are rewritten and `rustc-version` records the version;
//! then read the diff.

use std::io::Write;
use std::path::Path;
use std::process::Command;

#[test]
fn ui() {
    let pin_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("rustc-version");
    let pinned = std::fs::read_to_string(&pin_file)
        .unwrap_or_else(|e| panic!("{}: {e}", pin_file.display()))
        .trim()
        .to_string();
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let current = rustc_version(&rustc);
    let overwrite = std::env::var_os("TRYBUILD").is_some_and(|v| v == "overwrite");

    let t = trybuild::TestCases::new();
    if overwrite || current.as_deref() == Some(pinned.as_str()) {
        t.compile_fail("ui/fail/*.rs");
    } else {
        let current = current.as_deref().unwrap_or("unknown");
        let mismatch = format!(
            "ui-tests: rustc {current} is not the pinned {pinned} (ui-tests/rustc-version)"
        );
        let fix = format!(
            "Run `cargo +{pinned} test -p ui-tests`, or move the pin with \
             `TRYBUILD=overwrite cargo test -p ui-tests` and review the .stderr diff."
        );
        assert!(
            std::env::var_os("TRACTOR_UI_STRICT").is_none(),
            "{mismatch}, and TRACTOR_UI_STRICT is set. {fix}"
        );
        let notice = format!(
            "{mismatch}: the compile-fail cases are SKIPPED, their messages unchecked; \
             only the pass cases run. {fix}"
        );
        // Straight to stderr: libtest hides `eprintln!` of a passing test.
        let _ = writeln!(std::io::stderr(), "\n{notice}\n");
    }
    t.pass("ui/pass/*.rs");
    // trybuild runs the cases when `t` drops; record the pin only after
    // they were written.
    drop(t);
    if overwrite && let Some(current) = current {
        std::fs::write(&pin_file, format!("{current}\n"))
            .unwrap_or_else(|e| panic!("{}: {e}", pin_file.display()));
    }
}

/// `1.95.0` from `rustc 1.95.0 (59807616e 2026-04-14)`; `None` if rustc
/// cannot be asked.
fn rustc_version(rustc: &std::ffi::OsStr) -> Option<String> {
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    text.split_whitespace().nth(1).map(str::to_string)
}
