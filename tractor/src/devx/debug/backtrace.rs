//! Backtraces as a person wants them at a prompt: the frames of the
//! program between the REPL's own and the runtime's, numbered anew.
//! `bt full` shows every frame.

/// Symbols of the debugger itself, above the pause site.
const ABOVE: &[&str] = &[
    "std::backtrace",
    "tractor::devx::debug",
    "tractor::__private",
];
/// Where the program's frames end: the runtime that polls them.
const BELOW: &[&str] = &[
    "tractor::runtime::",
    "tractor::app::",
    "tokio::",
    "std::rt::",
    "std::panicking::",
    "std::panic::",
];
/// Glue between the program's frames that says nothing.
const GLUE: &[&str] = &[
    "<core::pin::Pin<",
    "core::future::",
    "<core::panic::unwind_safe::",
    "<F as core::future",
    "<futures_util::",
    "futures_util::",
    "<tracing::instrument::",
];

/// One frame: its symbol line and the lines under it (`at file:line`).
struct Frame<'a> {
    symbol: &'a str,
    lines: Vec<&'a str>,
}

fn frames(text: &str) -> Vec<Frame<'_>> {
    let mut out: Vec<Frame<'_>> = Vec::new();
    for line in text.lines() {
        let t = line.trim_start();
        let numbered = t
            .split_once(": ")
            .filter(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        match (numbered, out.last_mut()) {
            (Some((_, symbol)), _) => out.push(Frame {
                symbol,
                lines: Vec::new(),
            }),
            (None, Some(f)) => f.lines.push(t),
            (None, None) => {}
        }
    }
    out
}

/// The program's frames of `text` (a `std::backtrace::Backtrace`'s text);
/// all of it when no frame is recognised.
pub(crate) fn short(text: &str) -> String {
    let all = frames(text);
    let starts = |s: &str, set: &[&str]| set.iter().any(|p| s.starts_with(p));
    let first = all
        .iter()
        .position(|f| !starts(f.symbol, ABOVE))
        .unwrap_or(0);
    let mut out = String::new();
    let mut n = 0;
    let mut hidden = 0;
    for f in &all[first..] {
        if n > 0 && starts(f.symbol, BELOW) {
            break;
        }
        if starts(f.symbol, GLUE) {
            hidden += 1;
            continue;
        }
        out.push_str(&format!("{n:>4}: {}\n", f.symbol));
        for l in &f.lines {
            out.push_str(&format!("          {l}\n"));
        }
        n += 1;
    }
    if n == 0 {
        return text.to_string();
    }
    out.push_str(&format!(
        "      ({} frames of the runtime and {hidden} of glue hidden: `bt full` shows all)\n",
        all.len().saturating_sub(first + n + hidden)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn keeps_the_programs_frames_only() {
        let text = "   0: std::backtrace::Backtrace::force_capture
             at /rustc/library/std/src/backtrace.rs:312:9
   1: tractor::devx::debug::pause::pause::{{closure}}
   2: app::settle::{{closure}}
             at src/main.rs:7:9
   3: <core::pin::Pin<P> as core::future::future::Future>::poll
   4: app::outer::{{closure}}
             at src/main.rs:20:5
   5: tractor::runtime::rpc::schedule::{{closure}}
   6: tokio::runtime::task::raw::poll
";
        let s = short(text);
        assert!(
            s.starts_with(
                "   0: app::settle::{{closure}}\n          at src/main.rs:7:9\n   1: app::outer"
            ),
            "{s}"
        );
        assert!(!s.contains("tokio") && !s.contains("force_capture"), "{s}");
        assert!(s.contains("`bt full`"), "{s}");
    }

    #[test]
    fn unrecognised_text_is_kept_whole() {
        assert_eq!(short("disabled backtrace"), "disabled backtrace");
    }
}
