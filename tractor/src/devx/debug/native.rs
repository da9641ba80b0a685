//! Attaching a native debugger (gdb, lldb) to the paused actor.
//!
//! The debugger runs as a child of the paused process, on the terminal,
//! and the REPL waits for it to exit. Linux's Yama module lets a process
//! trace only its descendants unless the tracee allows it: the actor
//! allows any tracer with `PR_SET_PTRACER` for as long as the debugger
//! runs, then takes that back.
//!
//! `TRACTOR_NATIVE_DEBUGGER` replaces the command: a shell command line in
//! which `{pid}` stands for the actor's pid (for example
//! `gdb -q -batch -ex bt -p {pid}` to print the stacks and come back).

use std::process::Stdio;

use super::tty::Terminal;

/// The variable that replaces the debugger's command line.
pub(crate) const NATIVE_DEBUGGER_ENV: &str = "TRACTOR_NATIVE_DEBUGGER";

/// Runs `which` (`gdb` or `lldb`) attached to this process, on the
/// terminal, until it exits; what to tell the user afterwards.
pub(crate) async fn attach(which: &str, term: &mut Terminal) -> String {
    let pid = std::process::id();
    let line = match std::env::var(NATIVE_DEBUGGER_ENV) {
        Ok(custom) if !custom.trim().is_empty() => custom.replace("{pid}", &pid.to_string()),
        _ => format!("{which} -p {pid}"),
    };
    term.write(&format!("attaching: {line}\n"));
    let (stdin, stdout, stderr) = tty_stdio();
    let _allow = AllowTracing::any();
    let status = tokio::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&line)
        .stdin(stdin)
        .stdout(stdout)
        .stderr(stderr)
        .kill_on_drop(true)
        .status()
        .await;
    match status {
        Ok(st) if st.success() => format!("{which} detached; back in the tractor REPL\n"),
        Ok(st) => format!(
            "`{line}` ended with {st}; is {which} installed (or set {NATIVE_DEBUGGER_ENV})?\n"
        ),
        Err(e) => format!("cannot run `{line}`: {e}\n"),
    }
}

/// The debugger's stdin, stdout and stderr: the terminal, else ours.
fn tty_stdio() -> (Stdio, Stdio, Stdio) {
    let open = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
    };
    match (open(), open(), open()) {
        (Ok(a), Ok(b), Ok(c)) => (a.into(), b.into(), c.into()),
        _ => (Stdio::inherit(), Stdio::inherit(), Stdio::inherit()),
    }
}

/// Any process may trace this one while it lives (Yama's
/// `PR_SET_PTRACER`); a kernel without Yama ignores it.
struct AllowTracing(());

impl AllowTracing {
    fn any() -> Self {
        // SAFETY: prctl with PR_SET_PTRACER takes plain integers.
        unsafe {
            libc::prctl(libc::PR_SET_PTRACER, libc::PR_SET_PTRACER_ANY, 0, 0, 0);
        }
        AllowTracing(())
    }
}

impl Drop for AllowTracing {
    fn drop(&mut self) {
        // SAFETY: as above; 0 takes the permission back.
        unsafe {
            libc::prctl(libc::PR_SET_PTRACER, 0, 0, 0, 0);
        }
    }
}
