//! Running one suite test alone in a fresh process: for measurements that
//! other tests running beside it would disturb (fd counts, CPU time) and
//! for limits that must not leak into the rest of the suite (rlimits).
//!
//! One test, two roles: the test re-runs this binary on exactly itself
//! with [`ISOLATED_ENV`] set and checks the figures that run prints; in
//! that run ([`active`]), it runs its body (a plain `async fn`) instead:
//!
//! ```ignore
//! #[tractor::test]
//! async fn fds_stay_flat() {
//!     if isolated::active() {
//!         return measure_fds().await; // prints `FDS_AFTER <n>`
//!     }
//!     let out = isolated::run("module::fds_stay_flat", None).await;
//!     assert!(isolated::figure(&out, "FDS_AFTER") < 100);
//! }
//! ```
//!
//! So the test list holds no body that does nothing when run on its own,
//! and the child actors of the isolated run (which re-run this binary on
//! the same test) find a test to run.

use std::process::Output;

/// Set in the environment of an isolated run.
const ISOLATED_ENV: &str = "TRACTOR_SUITE_ISOLATED";

/// Whether this process is an isolated run of one test.
pub(crate) fn active() -> bool {
    std::env::var_os(ISOLATED_ENV).is_some()
}

/// Runs test `path` (e.g. `resources::fds_body`) alone in a fresh process,
/// with `RLIMIT_NOFILE` set to `nofile` (soft, hard) from its start.
pub(crate) async fn run(path: &str, nofile: Option<(u64, u64)>) -> Output {
    run_in(path, nofile, &[]).await
}

/// [`run`] with extra environment for the inner test, no rlimit.
pub(crate) async fn run_with(path: &str, env: &[(&str, &str)]) -> Output {
    run_in(path, None, env).await
}

async fn run_in(path: &str, nofile: Option<(u64, u64)>, env: &[(&str, &str)]) -> Output {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = tokio::process::Command::new(exe);
    cmd.envs(env.iter().copied());
    cmd.args([path, "--exact", "--nocapture", "--test-threads=1"])
        .env(ISOLATED_ENV, "1")
        .env_remove("TRACTOR_LOGLEVEL")
        .env("RUST_BACKTRACE", "0")
        .kill_on_drop(true);
    if let Some((soft, hard)) = nofile {
        // SAFETY: only setrlimit, async-signal-safe, runs between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let lim = libc::rlimit {
                    rlim_cur: soft,
                    rlim_max: hard,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().await.expect("run the isolated test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "isolated test {path} failed ({}):\n{stdout}\n{}",
        out.status,
        tail(&String::from_utf8_lossy(&out.stderr), 40)
    );
    out
}

/// The number after `key` in `out` (libtest may print its own text
/// before it on the same line).
pub(crate) fn figure(out: &Output, key: &str) -> u64 {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let key = format!("{key} ");
    stdout
        .lines()
        .find_map(|l| {
            l.split_once(&key)?
                .1
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no `{key}` figure in:\n{stdout}"))
}

/// The last `n` lines of `s`.
pub(crate) fn tail(s: &str, n: usize) -> String {
    let lines: Vec<_> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// How many fds this process has open.
pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("read /proc/self/fd")
        .count()
}

/// CPU time (user + system) this process has used, in milliseconds.
/// From getrusage rather than /proc/self/stat: it must work with no fd left.
pub(crate) fn cpu_ms() -> u64 {
    // SAFETY: an all-zero rusage is a valid value to be overwritten.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage only writes the struct we pass.
    assert_eq!(unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) }, 0);
    let ms = |t: libc::timeval| t.tv_sec as u64 * 1000 + t.tv_usec as u64 / 1000;
    ms(ru.ru_utime) + ms(ru.ru_stime)
}
