//! Running an example program as a user would: its stdout read line by
//! line as it comes, signals sent to it, its exit awaited with a deadline,
//! and everything it spawned checked gone by its tree marker.
//!
//! Needs `support/wait.rs` included beside it as the crate's `mod wait`.

use std::io::BufRead;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// `target/<profile>/examples/<name>`, next to this test's `deps/` dir.
pub(crate) fn example_path(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    profile_dir.join("examples").join(name)
}

/// A loopback address nobody listens on yet: a registrar of its own per
/// run, since programs run concurrently here.
pub(crate) fn free_registry() -> std::net::SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

/// An example's command: tree marker, registry address, not in child
/// mode, stdin closed, stdout and stderr piped.
pub(crate) fn example_command(name: &str, tree: &str, registry: &str) -> Command {
    let mut cmd = Command::new(example_path(name));
    cmd.env("TRACTOR_TREE", tree)
        .env("TRACTOR_REGISTRY_ADDR", registry)
        .env_remove("TRACTOR_PARENT_ADDR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Whether some process listens on loopback TCP `port` (from /proc/net/tcp).
pub(crate) fn tcp_listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap_or_default()
        .lines()
        .skip(1)
        .any(|line| {
            let mut fields = line.split_whitespace().skip(1);
            // local_address, rem_address, st (0A = LISTEN)
            fields.next() == Some(local.as_str()) && fields.nth(1) == Some("0A")
        })
}

/// A running example with a fresh tree marker and registrar address.
pub(crate) struct Program {
    pub name: String,
    pub tree: String,
    /// The registry address it was pointed at (nobody listens there
    /// until a root of the program becomes the registrar).
    pub registry: std::net::SocketAddr,
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every stdout line read so far.
    pub stdout: Vec<String>,
    /// Its stderr lines as they come, when captured (else inherited).
    err_lines: Option<mpsc::Receiver<String>>,
    /// Every stderr line read so far (when captured).
    pub stderr: Vec<String>,
}

impl Program {
    /// Starts example `name` with extra environment; `own_group` puts it
    /// in a process group of its own (as a shell does for a job), so a
    /// signal can be sent to the whole group like a terminal's ctrl-c.
    pub(crate) fn start(name: &str, env: &[(&str, &str)], own_group: bool) -> Program {
        Program::start_with(name, env, own_group, false)
    }

    /// As [`start`](Self::start); with `capture_stderr`, its stderr is
    /// read line by line too (see [`wait_stderr_line`](Self::wait_stderr_line)).
    pub(crate) fn start_with(
        name: &str,
        env: &[(&str, &str)],
        own_group: bool,
        capture_stderr: bool,
    ) -> Program {
        let tree = format!("program-{name}-{}-{}", std::process::id(), uuid_ish());
        let registry = free_registry();
        let mut cmd = example_command(name, &tree, &format!("tcp://{registry}"));
        if !capture_stderr {
            cmd.stderr(Stdio::inherit());
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        if own_group {
            use std::os::unix::process::CommandExt;
            cmd.process_group(0);
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run example {name} (built by `cargo test`?): {e}"));
        let lines = read_lines(child.stdout.take().expect("piped stdout"));
        let err_lines = child.stderr.take().map(read_lines);
        Program {
            name: name.into(),
            tree,
            registry,
            child,
            lines,
            stdout: Vec::new(),
            err_lines,
            stderr: Vec::new(),
        }
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Reads stdout until a line contains `needle`; panics past `within`.
    pub(crate) fn wait_line(&mut self, needle: &str, within: Duration) -> String {
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.stdout.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{} printed no line with {needle:?} within {within:?}; it printed:\n{}",
                    self.name,
                    self.stdout.join("\n")
                ),
            }
        }
    }

    /// Reads stderr (captured by [`start_with`](Self::start_with)) until a
    /// line contains `needle`; panics past `within`.
    pub(crate) fn wait_stderr_line(&mut self, needle: &str, within: Duration) -> String {
        let lines = self.err_lines.as_ref().expect("stderr captured");
        let deadline = Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) => {
                    self.stderr.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "{} printed no stderr line with {needle:?} within {within:?}; it printed:\n{}",
                    self.name,
                    self.stderr.join("\n")
                ),
            }
        }
    }

    /// Sends `sig` to the program (or, with `group`, to its process group).
    pub(crate) fn signal(&self, sig: i32, group: bool) {
        let target = if group { -self.pid() } else { self.pid() };
        // SAFETY: kill has no memory-safety preconditions.
        let r = unsafe { libc::kill(target, sig) };
        assert_eq!(r, 0, "kill({target}, {sig}) failed");
    }

    /// Waits for the exit (panics past `within`), then reads the rest of
    /// stdout.
    pub(crate) fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let what = format!(
            "{} to exit; it printed:\n{}\n(end of its output)",
            self.name,
            self.stdout.join("\n")
        );
        let child = &mut self.child;
        // Polling an exit status (no child-exit event to wait on here).
        let status = crate::wait::until(&what, within, || child.try_wait().expect("try_wait"));
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(2)) {
            self.stdout.push(line);
        }
        status
    }

    /// Asserts that no process of the program's tree is left.
    pub(crate) fn assert_tree_gone(&self, within: Duration) {
        let left = tractor::testing::wait_gone(&self.tree, within);
        assert!(
            left.is_empty(),
            "{} left processes behind: {}",
            self.name,
            tractor::testing::describe(&left)
        );
    }
}

impl Drop for Program {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // A failed test: take the whole tree down.
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        for pid in tractor::testing::survivors(&self.tree) {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        }
    }
}

/// A channel of `out`'s lines, read by a thread as they come.
fn read_lines(out: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    lines
}

fn uuid_ish() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}
