//! The SSH launcher: the same program, run on another host by the system
//! `ssh` client, its hand-over and lifeline on the session's stdin.
//!
//! The remote command line holds no credential: only the program's path,
//! its arguments, and two markers (`TRACTOR_SSH_CHILD`, the tree's id).
//! The dial-back address, the secret and the tree's TLS travel as the
//! first frame on stdin ([`Handover`](super::Handover)). The `ssh` client
//! is this process's child and dies with it (its parent-death signal), so
//! a parent killed outright closes the session, and the remote child, at
//! EOF, cancels itself and is killed [`ORPHAN_GRACE`] later.

use std::collections::HashSet;
use std::io::Write;
use std::path::PathBuf;
use std::process::{ChildStdin, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::super::process::ExecChild;
use super::super::{ChildEnv, SpawnError, env};
use super::handover::{Control, Handover, ORPHAN_GRACE, frame};
use crate::ipc::Addr;

/// Which program the remote host runs.
///
/// ```
/// use tractor::RemoteExe;
/// let copied = RemoteExe::Copy; // this binary, copied once per host
/// let installed = RemoteExe::Installed("/opt/app/bin/worker".into());
/// # let _ = (copied, installed);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RemoteExe {
    /// This very binary, copied to `~/.cache/tractor/` on the remote
    /// host under a name made of its content's hash (copied once; a
    /// rebuilt program gets a new name).
    #[default]
    Copy,
    /// A binary already installed at this path on the remote host; it must
    /// be a build of the same program (the endpoints' signatures are
    /// still checked on every call).
    Installed(PathBuf),
}

/// A host to launch children on, and how to reach it with `ssh`.
///
/// Authentication is SSH's own (keys, an agent, `~/.ssh/config`): the
/// client runs in batch mode and never prompts. The parent must listen
/// where the remote host can reach it (`RootConfig::bind_addr`).
///
/// ```
/// use tractor::SshHost;
/// let host = SshHost::new("deploy@10.0.0.7")
///     .port(2222)
///     .identity("/home/me/.ssh/deploy_ed25519")
///     .option("StrictHostKeyChecking=accept-new");
/// # let _ = host;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SshHost {
    destination: String,
    port: Option<u16>,
    identity: Option<PathBuf>,
    options: Vec<String>,
    exe: RemoteExe,
}

impl SshHost {
    /// `destination` as `ssh` takes it: `host`, `user@host`, or a `Host`
    /// of `~/.ssh/config`.
    pub fn new(destination: impl Into<String>) -> Self {
        SshHost {
            destination: destination.into(),
            port: None,
            identity: None,
            options: Vec::new(),
            exe: RemoteExe::Copy,
        }
    }

    /// The SSH port (`ssh -p`).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// The private key to log in with (`ssh -i`).
    pub fn identity(mut self, key: impl Into<PathBuf>) -> Self {
        self.identity = Some(key.into());
        self
    }

    /// One more `ssh -o` option, `Name=value`.
    pub fn option(mut self, option: impl Into<String>) -> Self {
        self.options.push(option.into());
        self
    }

    /// Which program runs there (default: this one, copied).
    pub fn exe(mut self, exe: RemoteExe) -> Self {
        self.exe = exe;
        self
    }

    /// The destination, as given.
    pub fn destination(&self) -> &str {
        &self.destination
    }

    /// `ssh` with this host's options, ready for a remote command.
    fn command(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new("ssh");
        // No prompt, no pty, no forwarding: a pipe to one program.
        cmd.args(["-T", "-x", "-a", "-o", "BatchMode=yes"]);
        if let Some(p) = self.port {
            cmd.arg("-p").arg(p.to_string());
        }
        if let Some(k) = &self.identity {
            cmd.arg("-i").arg(k);
        }
        for o in &self.options {
            cmd.arg("-o").arg(o);
        }
        cmd.arg("--").arg(&self.destination);
        cmd
    }
}

impl From<&str> for SshHost {
    fn from(destination: &str) -> Self {
        SshHost::new(destination)
    }
}

impl From<String> for SshHost {
    fn from(destination: String) -> Self {
        SshHost::new(destination)
    }
}

/// A host as `ssh` reaches it: destination and port.
type HostKey = (String, Option<u16>);

/// Hosts this process already copied its binary to.
static COPIED: Mutex<Option<HashSet<HostKey>>> = Mutex::new(None);

/// This binary's content hash (hex, 16 digits), computed once.
fn exe_hash() -> Result<&'static str, String> {
    static HASH: OnceLock<Result<String, String>> = OnceLock::new();
    HASH.get_or_init(|| {
        use sha2::Digest;
        use std::io::Read;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let err = |e: std::io::Error| format!("{}: {e}", exe.display());
        let mut file = std::fs::File::open(&exe).map_err(err)?;
        let mut hasher = sha2::Sha256::new();
        // In pieces: a debug build can be hundreds of MB.
        let mut buf = vec![0u8; 1 << 20];
        loop {
            match file.read(&mut buf).map_err(err)? {
                0 => break,
                n => hasher.update(&buf[..n]),
            }
        }
        let digest = hasher.finalize();
        Ok(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    })
    .as_deref()
    .map_err(Clone::clone)
}

/// Quotes `s` for the remote shell.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The remote path of this binary on `host`, copied there first if it is
/// not there yet.
async fn remote_exe(host: &SshHost) -> Result<String, SpawnError> {
    let fail = |what: String| SpawnError::Launch {
        host: host.destination.clone(),
        reason: what,
    };
    match &host.exe {
        RemoteExe::Installed(p) => Ok(sh_quote(&p.to_string_lossy())),
        RemoteExe::Copy => {
            let hash = exe_hash().map_err(|e| fail(format!("cannot hash this binary: {e}")))?;
            let name = std::env::current_exe()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "tractor-program".into())
                .replace(
                    |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '_',
                    "_",
                );
            // `$HOME` expands remotely; the name is ours, quoted.
            let path = format!(
                "\"$HOME\"/.cache/tractor/{}",
                sh_quote(&format!("{name}-{hash}"))
            );
            let key = (host.destination.clone(), host.port);
            let done = lock(&COPIED)
                .get_or_insert_with(HashSet::new)
                .contains(&key);
            if !done {
                copy_exe(host, &path).await.map_err(fail)?;
                lock(&COPIED).get_or_insert_with(HashSet::new).insert(key);
            }
            Ok(path)
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Copies this binary to `path` on `host` unless it is there already
/// (written under a temporary name, then renamed: a concurrent copy or
/// an interrupted one never leaves a half file at `path`).
async fn copy_exe(host: &SshHost, path: &str) -> Result<(), String> {
    let script = format!(
        "test -x {path} && exit 0; mkdir -p \"$HOME\"/.cache/tractor && \
         cat > {path}.$$ && chmod 700 {path}.$$ && mv -f {path}.$$ {path}"
    );
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = host.command();
    cmd.arg(script);
    let out = tokio::task::spawn_blocking(move || -> std::io::Result<std::process::Output> {
        let file = std::fs::File::open(&exe)?;
        cmd.stdin(Stdio::from(file))
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd.output()
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| format!("cannot run ssh: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "copying this binary there failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// Launches child `env` on `host`: this program in child mode, reached
/// through `ssh`, started from the actor's thread (whose death the `ssh`
/// client dies with).
pub(crate) async fn launch_ssh(
    host: &SshHost,
    env: &ChildEnv,
    args: &[String],
    loglevel: Option<&str>,
) -> Result<RemoteChild, SpawnError> {
    let fail = |what: String| SpawnError::Launch {
        host: host.destination.clone(),
        reason: what,
    };
    match &env.parent_addr {
        Addr::Tcp(sa) if !crate::ipc::tls::on_this_host(sa.ip()) => {}
        other => {
            return Err(fail(format!(
                "this actor listens at {other}, which another host cannot reach; \
                 bind it where that host can (RootConfig::bind_addr)"
            )));
        }
    }
    let exe = remote_exe(host).await?;
    let handover = frame(&Handover {
        parent_addr: env.parent_addr.to_string(),
        name: env.name.clone(),
        uuid: env.uuid.into_bytes(),
        secret: env.secret.expose().to_vec(),
        tls: env.tls.as_deref().map(|t| t.spec().clone()),
        loglevel: loglevel.map(str::to_string),
        build: env.build,
    })
    .map_err(|e| fail(e.to_string()))?;
    let mut remote = format!(
        "exec env {}=1 {}={} {exe}",
        env::SSH_CHILD,
        env::TREE,
        sh_quote(&env.tree_id)
    );
    for a in args {
        remote.push(' ');
        remote.push_str(&sh_quote(a));
    }
    let mut cmd = host.command();
    cmd.arg(remote).stdin(Stdio::piped());
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: between fork and exec only prctl runs, which is
        // async-signal-safe. The client dies with this thread, the
        // actor's (not started from the spawner thread: the pipe to its
        // stdin must be in this thread's fd table).
        unsafe {
            cmd.pre_exec(|| {
                let sig = libc::SIGKILL as libc::c_ulong;
                if libc::prctl(libc::PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut ssh = ExecChild::spawn(&mut cmd).map_err(|e| fail(format!("cannot run ssh: {e}")))?;
    let Some(mut stdin) = ssh.take_stdin() else {
        return Err(fail("the ssh client has no stdin".into()));
    };
    // The hand-over fits in the pipe's buffer (MAX_FRAME), so this write
    // does not wait on the remote side.
    if let Err(e) = stdin
        .write_all(&handover)
        .and_then(|()| stdin.flush())
        .and_then(|()| set_nonblocking(&stdin))
    {
        let _ = ssh.start_kill();
        let _ = ssh.wait().await;
        return Err(fail(format!("cannot hand the child over: {e}")));
    }
    Ok(RemoteChild {
        host: host.destination.clone(),
        ssh,
        stdin: Some(stdin),
        killed: None,
    })
}

/// Later writes to the lifeline never block the actor: a session that has
/// stopped taking bytes is cut instead (a control frame is a few bytes, so
/// a pipe write of one is whole or refused).
fn set_nonblocking(pipe: &ChildStdin) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = pipe.as_raw_fd();
    // SAFETY: fcntl on an fd we own, with integer arguments only.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0 || unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A child on another host, as its supervisor sees it: the `ssh` client
/// that runs it, and the lifeline to it.
#[derive(Debug)]
pub(crate) struct RemoteChild {
    host: String,
    ssh: ExecChild,
    stdin: Option<ChildStdin>,
    /// When it was killed: the session is cut if it has not ended by then.
    killed: Option<Instant>,
}

/// How long a killed remote child's session may take to end on its own
/// (the kill travels over it) before the `ssh` client is killed, which
/// closes the session and, at EOF, kills the child anyway.
const KILL_GRACE: Duration = Duration::from_secs(2);

impl RemoteChild {
    /// The `ssh` client's pid, until it is reaped.
    pub(crate) fn id(&self) -> Option<u32> {
        self.ssh.id()
    }

    /// Sends `sig` to the remote child over its lifeline.
    pub(crate) fn signal(&mut self, sig: libc::c_int) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        let sent = frame(&Control::Signal(sig)).and_then(|f| {
            stdin.write_all(&f)?;
            stdin.flush()
        });
        if sent.is_err() {
            // The session is gone, or stalled (a full pipe): closing it
            // ends the child at EOF, and `wait` cuts a stalled session.
            self.stdin = None;
            self.killed.get_or_insert_with(Instant::now);
        }
    }

    /// Kills the remote child (and its process group), then closes its
    /// lifeline; the session is cut [`KILL_GRACE`] later if still open.
    pub(crate) fn kill(&mut self) {
        self.signal(libc::SIGKILL);
        self.stdin = None;
        self.killed.get_or_insert_with(Instant::now);
    }

    /// Waits for the session's end (the remote child's exit status, or 255
    /// when ssh failed). Cancel-safe.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        let Some(killed) = self.killed else {
            return self.ssh.wait().await;
        };
        let deadline = tokio::time::Instant::from_std(killed + KILL_GRACE + ORPHAN_GRACE);
        match tokio::time::timeout_at(deadline, self.ssh.wait()).await {
            Ok(st) => st,
            Err(_) => {
                tracing::warn!(target: "tractor::spawn", host = %self.host, "a killed remote child's session did not end; cutting it");
                let _ = self.ssh.start_kill();
                self.ssh.wait().await
            }
        }
    }
}
