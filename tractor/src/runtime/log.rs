//! Logging through `tracing`.
//!
//! `TRACTOR_LOGLEVEL` wins over configuration and is passed to every child,
//! so one variable tunes the whole tree. Besides plain levels and
//! `tracing` filter directives it accepts subsystem names, which enable that
//! subsystem's target in detail and keep the rest at `info`:
//! `transport` (`tractor::ipc`), `runtime`, `spawn`, `cancel`, `devx`.
//! Every runtime event carries the actor's name and pid through the
//! `actor{name,pid}` span.

use std::sync::OnceLock;

use tracing_subscriber::EnvFilter;

/// Turns a tractor level name into a filter directive.
pub(crate) fn directive(level: &str) -> String {
    match level {
        "transport" => "info,tractor::ipc=trace".into(),
        "runtime" => "info,tractor::runtime=debug,tractor::spawn=debug".into(),
        "spawn" => "info,tractor::spawn=debug".into(),
        "cancel" => "info,tractor::cancel=debug".into(),
        "devx" => "info,tractor::devx=debug".into(),
        other => other.into(),
    }
}

/// Installs the process-wide subscriber once and returns the effective
/// level (environment first, then `configured`).
pub(crate) fn init(configured: Option<&str>) -> Option<String> {
    let effective = std::env::var(crate::spawn::env::LOGLEVEL)
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| configured.map(str::to_string));
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let filter = effective
            .as_deref()
            .map(directive)
            .unwrap_or_else(|| "warn".into());
        let filter = EnvFilter::try_new(&filter).unwrap_or_else(|e| {
            eprintln!("tractor: ignoring invalid log filter `{filter}`: {e}");
            EnvFilter::new("warn")
        });
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .try_init();
    });
    effective
}
