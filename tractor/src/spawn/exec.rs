//! The `exec` backend: fork + exec of the current binary in child mode.

use std::os::unix::process::CommandExt;
use std::process::Stdio;
use std::str::FromStr;

use uuid::Uuid;

use super::affinity::CpuMask;
use super::env;
use super::process::ExecChild;
use super::resource::{BootExit, Resource};
use super::spawner::SpawnerSlot;
use crate::ipc::{Addr, Secret};

/// The step of a spawn that ran out of a resource:
/// [`SpawnError::ResourceExhausted`].
///
/// ```
/// use tractor::error::{SpawnError, SpawnStage};
/// // `Accept`: this process (not the child) is out of file descriptors.
/// fn ours(e: &SpawnError) -> bool {
///     matches!(e, SpawnError::ResourceExhausted { stage: SpawnStage::Accept, .. })
/// }
/// assert!(!ours(&SpawnError::BadEnv("TRACTOR_ACTOR_UUID".into())));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnStage {
    /// Starting the process (fork/exec).
    Exec,
    /// Accepting the child's connection back to this process.
    Accept,
}

impl std::fmt::Display for SpawnStage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SpawnStage::Exec => "fork/exec failed",
            SpawnStage::Accept => "the child could not connect back because this process could not accept its connection",
        })
    }
}

fn cause_text(cause: Option<BootExit>) -> String {
    match cause {
        Some(BootExit::ChildOutOfFds) => format!(
            "{}; {}",
            BootExit::ChildOutOfFds,
            Resource::FileDescriptors.advice()
        ),
        Some(BootExit::ChildOutOfMemory) => {
            format!("{}; {}", BootExit::ChildOutOfMemory, Resource::Memory.advice())
        }
        Some(c) => format!("{c}; its stderr says more"),
        None => "it exited before completing the parent handshake without saying why; is this binary's main wrapped in #[tractor::main] or does it call tractor::init() first?".into(),
    }
}

impl SpawnError {
    /// Child `name` could not be started (fork, exec or thread creation
    /// failed with `source`): a resource that ran out says which.
    pub(crate) fn starting(name: &str, source: std::io::Error) -> SpawnError {
        match Resource::of_spawn_error(&source) {
            Some(resource) => SpawnError::ResourceExhausted {
                name: name.to_string(),
                resource,
                stage: SpawnStage::Exec,
                source,
            },
            None => SpawnError::Exec {
                name: name.to_string(),
                source,
            },
        }
    }

    /// A failed boot of child `name` that exited with `status`.
    pub(crate) fn died_during_boot(
        name: &str,
        status: Option<std::process::ExitStatus>,
        err: Option<std::io::Error>,
    ) -> SpawnError {
        let cause = status.and_then(|s| s.code()).and_then(BootExit::from_code);
        let status = match (status, err) {
            (Some(s), _) => s.to_string(),
            (None, Some(e)) => e.to_string(),
            (None, None) => "status unknown".into(),
        };
        SpawnError::DiedDuringBoot {
            name: name.to_string(),
            status,
            cause,
        }
    }

    /// The resource that ran out, when that is why the spawn failed.
    ///
    /// ```
    /// use tractor::error::{BootExit, Resource, SpawnError};
    /// let e = SpawnError::DiedDuringBoot {
    ///     name: "worker".into(),
    ///     status: "exit status: 74".into(),
    ///     cause: Some(BootExit::ChildOutOfFds),
    /// };
    /// assert_eq!(e.resource(), Some(Resource::FileDescriptors));
    /// ```
    pub fn resource(&self) -> Option<Resource> {
        match self {
            SpawnError::ResourceExhausted { resource, .. } => Some(*resource),
            SpawnError::DiedDuringBoot {
                cause: Some(BootExit::ChildOutOfFds),
                ..
            } => Some(Resource::FileDescriptors),
            SpawnError::DiedDuringBoot {
                cause: Some(BootExit::ChildOutOfMemory),
                ..
            } => Some(Resource::Memory),
            _ => None,
        }
    }
}

/// Why a child could not be started: [`Error::Spawn`](crate::Error::Spawn).
///
/// ```no_run
/// use tractor::{Error, error::SpawnError};
/// # async fn demo(an: &tractor::ActorNursery) -> Result<(), Error> {
/// match an.start_actor("worker").await {
///     Ok(portal) => println!("spawned {}", portal.aid()),
///     // Out of fds or processes: back off instead of failing the tree.
///     Err(Error::Spawn(e)) if e.resource().is_some() => eprintln!("{e}"),
///     Err(e) => return Err(e),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpawnError {
    /// The current executable could not be found.
    #[error("cannot find the current executable to re-exec as a child actor: {0}")]
    CurrentExe(std::io::Error),
    /// fork/exec failed.
    #[error("could not start child actor `{name}`: {source}")]
    Exec {
        /// The child's name.
        name: String,
        /// OS error.
        source: std::io::Error,
    },
    /// The OS ran out of a resource while starting the child: fork/exec
    /// failed, or this process could not accept the child's connection.
    #[error("could not start child actor `{name}`: {stage}: this process is {resource} ({source}); {advice}", advice = resource.advice())]
    ResourceExhausted {
        /// The child's name.
        name: String,
        /// What ran out.
        resource: Resource,
        /// Which step of the spawn failed.
        stage: SpawnStage,
        /// The OS error.
        source: std::io::Error,
    },
    /// The child died before completing its handshake.
    #[error("child actor `{name}` died during boot ({status}): {}", cause_text(*cause))]
    DiedDuringBoot {
        /// The child's name.
        name: String,
        /// Its exit status.
        status: String,
        /// Why, when the child entered child mode and reported it by its
        /// exit code; `None` when it died without saying.
        cause: Option<BootExit>,
    },
    /// The child did not connect back in time.
    #[error("child actor `{name}` did not connect back within {secs} s; it was killed")]
    BootTimeout {
        /// The child's name.
        name: String,
        /// Seconds waited.
        secs: u64,
    },
    /// A child could not be launched on another host.
    #[error("could not launch a child actor on {host}: {reason}")]
    Launch {
        /// The host (as given to the launcher).
        host: String,
        /// What went wrong.
        reason: String,
    },
    /// A child-mode environment variable is malformed.
    #[error("malformed child environment: {0}")]
    BadEnv(String),
    /// The requested spawn method does not exist here.
    #[error("unknown spawn method `{0}`: this build supports `exec`, `forkserver` and `thread`")]
    UnknownMethod(String),
    /// The forkserver could not be started or reached.
    #[error("the forkserver failed: {0}")]
    Forkserver(String),
}

/// What a child learns from its environment before any IPC.
#[derive(Clone, Debug)]
pub(crate) struct ChildEnv {
    /// Where the parent listens.
    pub parent_addr: Addr,
    /// The child's name.
    pub name: String,
    /// The child's uuid.
    pub uuid: Uuid,
    /// Tree marker.
    pub tree_id: String,
    /// The tree's secret (handed over through an inherited pipe).
    pub secret: Secret,
    /// The tree's TLS, for the child's links beyond loopback (its link to
    /// the parent among them, when the parent listens beyond loopback).
    /// Handed over with the secret.
    pub tls: Option<std::sync::Arc<crate::ipc::TreeTls>>,
    /// The identity of the parent's build (its endpoints), when the child
    /// may be another build (launched on another host): the child checks
    /// its own against it before it dials back.
    pub build: Option<u64>,
}

impl ChildEnv {
    /// Reads child mode from the environment: `None` when this process is
    /// not a spawned actor.
    pub(crate) fn from_env() -> Option<Result<ChildEnv, SpawnError>> {
        if std::env::var_os(env::SSH_CHILD).is_some() {
            // Launched on this host by a parent on another: all it needs
            // comes on stdin.
            return Some(unblock_signals().and_then(|()| super::launcher::remote_child_env()));
        }
        let addr = std::env::var(env::PARENT_ADDR).ok()?;
        Some(Self::parse(&addr))
    }

    fn parse(addr: &str) -> Result<ChildEnv, SpawnError> {
        let bad = |what: &str| SpawnError::BadEnv(what.to_string());
        let parent_addr =
            Addr::from_str(addr).map_err(|e| bad(&format!("{}: {e}", env::PARENT_ADDR)))?;
        let name = std::env::var(env::ACTOR_NAME).map_err(|_| bad(env::ACTOR_NAME))?;
        let uuid = std::env::var(env::ACTOR_UUID)
            .ok()
            .and_then(|u| Uuid::parse_str(&u).ok())
            .ok_or_else(|| bad(env::ACTOR_UUID))?;
        let tree_id = std::env::var(env::TREE).unwrap_or_default();
        unblock_signals()?;
        die_with_parent()?;
        let (secret, tls) = read_handover()?;
        Ok(ChildEnv {
            parent_addr,
            name,
            uuid,
            tree_id,
            secret,
            tls: tls.map(|t| std::sync::Arc::new(crate::ipc::TreeTls::from_spec(t))),
            build: None,
        })
    }
}

/// Unblocks every signal on the thread that calls `init()`: a child
/// starts with the signal mask of the thread that spawned it, and the
/// parent's spawner thread blocks them all (see `spawn::spawner`), which
/// would leave SIGTERM, the cancel ladder's second step, pending forever.
/// The actor runs on this thread or on threads it starts, which inherit
/// the cleared mask. A thread started before `init()` (a test harness's,
/// or a `#[tokio::main]` runtime's workers) keeps every signal blocked;
/// signals sent to the process reach the threads that do not block them.
fn unblock_signals() -> Result<(), SpawnError> {
    let mut none = std::mem::MaybeUninit::<libc::sigset_t>::uninit();
    // SAFETY: sigemptyset initialises the set; pthread_sigmask only
    // changes this thread's mask.
    let rc = unsafe {
        libc::sigemptyset(none.as_mut_ptr());
        libc::pthread_sigmask(libc::SIG_SETMASK, none.as_ptr(), std::ptr::null_mut())
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(SpawnError::BadEnv(format!(
            "cannot unblock the signals this child inherited: {}",
            std::io::Error::from_raw_os_error(rc)
        )))
    }
}

/// Arms this child to die with the parent thread that spawned it
/// (`PR_SET_PDEATHSIG`), and leaves at once if that parent is gone
/// already ([`env::PARENT_PID`] names it).
///
/// The child arms this itself, first thing in `init()`, rather than
/// between fork and exec in the parent: a spawn with nothing to run
/// between the two is a `posix_spawn` (a `vfork`), which copies none of
/// the parent's page tables and does not leave the parent's memory
/// copy-on-write behind it, so a parent with many children spawns fast.
/// The signal follows the thread that spawned this process either way.
fn die_with_parent() -> Result<(), SpawnError> {
    let bad = |what: String| SpawnError::BadEnv(format!("{}: {what}", env::PARENT_PID));
    let parent: libc::pid_t = std::env::var(env::PARENT_PID)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|pid| *pid > 0)
        .ok_or_else(|| {
            bad(
                "missing; a child actor must be started by a tractor parent (of this version)"
                    .into(),
            )
        })?;
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and no
    // pointers.
    let armed = unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if armed != 0 {
        return Err(bad(format!(
            "cannot arm the parent-death signal: {}",
            std::io::Error::last_os_error()
        )));
    }
    // The parent may have died before the signal was armed: then none
    // will ever come, so leave now, as the signal would have made us.
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } != parent {
        eprintln!(
            "tractor: the parent that spawned this child actor (pid {parent}) is gone; exiting"
        );
        BootExit::NoParent.exit();
    }
    Ok(())
}

/// What a parent hands a child through the pipe on its stdin: the tree's
/// secret, and its TLS if it has any.
#[derive(serde::Serialize, serde::Deserialize)]
struct Handover {
    #[serde(with = "serde_bytes")]
    secret: Vec<u8>,
    tls: Option<crate::ipc::tls::TlsSpec>,
}

/// The most a [`Handover`] takes: far below a pipe's 64 KiB buffer, so
/// the parent's write, made before the child runs, never blocks.
const MAX_HANDOVER: usize = crate::ipc::auth::MAX_SECRET_LEN + crate::ipc::tls::MAX_SPEC_BYTES + 64;

/// Reads the tree's secret and TLS from the pipe our parent left as our
/// stdin ([`env::SECRET_FD`] is `0`), then puts `/dev/null` in its place
/// (a child actor's stdin was always empty).
fn read_handover() -> Result<(Secret, Option<crate::ipc::tls::TlsSpec>), SpawnError> {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let bad = |what: String| SpawnError::BadEnv(format!("{}: {what}", env::SECRET_FD));
    let fd: i32 = std::env::var(env::SECRET_FD)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|fd| *fd == 0)
        .ok_or_else(|| {
            bad(
                "missing; a child actor must be started by a tractor parent (of this version)"
                    .into(),
            )
        })?;
    // Only a pipe is ours to take: never read a terminal or a file that
    // happens to be our stdin.
    let mut st = std::mem::MaybeUninit::<libc::stat>::zeroed();
    // SAFETY: fstat writes into `st`, a properly sized buffer.
    let is_pipe = unsafe { libc::fstat(fd, st.as_mut_ptr()) } == 0 && {
        // SAFETY: fstat succeeded, so `st` is initialised.
        let st = unsafe { st.assume_init() };
        st.st_mode & libc::S_IFMT == libc::S_IFIFO
    };
    if !is_pipe {
        return Err(bad(format!("fd {fd} is not an inherited pipe")));
    }
    // SAFETY: the parent made this pipe for us alone (checked above). It
    // is read through a borrowed handle: fd 0 is replaced below, never
    // closed, so no later open takes its number.
    let f = std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(fd) });
    let mut bytes = Vec::new();
    (&*f)
        .take(MAX_HANDOVER as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot read the secret: {e}")))?;
    stdin_from_dev_null().map_err(|e| bad(format!("cannot reopen stdin on /dev/null: {e}")))?;
    if bytes.len() > MAX_HANDOVER {
        return Err(bad(format!(
            "more than the {MAX_HANDOVER} bytes a parent hands over"
        )));
    }
    let handover: Handover = postcard::from_bytes(&bytes).map_err(|e| {
        bad(format!(
            "not a parent's hand-over ({e}); is the parent this program?"
        ))
    })?;
    let secret =
        Secret::from_origin(handover.secret, "the parent").map_err(|e| bad(e.to_string()))?;
    Ok((secret, handover.tls))
}

/// Replaces fd 0 with `/dev/null` (closing the pipe that was there).
fn stdin_from_dev_null() -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let null = std::fs::File::open("/dev/null")?;
    // SAFETY: dup2 onto fd 0 atomically replaces (and closes) what was
    // there; `null` stays ours and is closed on drop.
    if unsafe { libc::dup2(null.as_raw_fd(), 0) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A pipe holding `handover` (the secret and TLS, encoded), for one
/// child: its read end, to become the child's stdin; its write end is
/// written and closed here. Both ends are close-on-exec, so no other
/// child spawned meanwhile inherits either.
fn handover_pipe(handover: &[u8]) -> std::io::Result<std::os::fd::OwnedFd> {
    use std::io::Write;
    use std::os::fd::FromRawFd;
    let mut fds = [0i32; 2];
    // SAFETY: pipe2 writes two fds into the array on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: both fds were just created and are owned by nobody else.
    let (r, w) = unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    // At most MAX_HANDOVER bytes: below a pipe's buffer, so this never
    // blocks.
    std::fs::File::from(w).write_all(handover)?;
    Ok(r)
}

/// Starts a child actor process: the current executable with `args`, in
/// child mode, from the actor's spawner thread (`spawner`), which lives
/// as long as the actor's runtime: the child arms itself to die with that
/// thread (`die_with_parent`).
///
/// Nothing runs between fork and exec here, so the standard library
/// starts the child with `posix_spawn` (a `vfork`): its cost does not
/// grow with this process's memory, which matters to a parent of many.
pub(crate) async fn spawn_exec(
    child: &ChildEnv,
    args: &[String],
    loglevel: Option<&str>,
    spawner: &SpawnerSlot,
) -> Result<ExecChild, SpawnError> {
    let exe = std::env::current_exe().map_err(SpawnError::CurrentExe)?;
    let spawn_err = |source| SpawnError::starting(&child.name, source);
    // The child is started from the spawner thread's own fd table, so
    // nothing in starting it needs an fd of ours; accepting its dial
    // does. Out of fds, fail now, not once the child gave up dialing.
    fd_to_spare().map_err(spawn_err)?;
    // SAFETY: getpid has no preconditions.
    let parent_pid = unsafe { libc::getpid() };
    let mut cmd = std::process::Command::new(exe);
    cmd.args(args)
        .env(env::PARENT_ADDR, child.parent_addr.to_string())
        .env(env::PARENT_PID, parent_pid.to_string())
        .env(env::ACTOR_NAME, &child.name)
        .env(env::ACTOR_UUID, child.uuid.to_string())
        .env(env::TREE, &child.tree_id)
        .env(env::SECRET_FD, "0")
        .env_remove(env::FORKSERVER_FD);
    match loglevel {
        Some(l) => cmd.env(env::LOGLEVEL, l),
        None => cmd.env_remove(env::LOGLEVEL),
    };
    let handover = postcard::to_stdvec(&Handover {
        secret: child.secret.expose().to_vec(),
        tls: child.tls.as_deref().map(|t| t.spec().clone()),
    })
    .map_err(|e| spawn_err(std::io::Error::other(e)))?;
    if handover.len() > MAX_HANDOVER {
        return Err(spawn_err(std::io::Error::other(format!(
            "the secret and TLS to hand over take {} bytes, more than {MAX_HANDOVER}",
            handover.len()
        ))));
    }
    // The CPUs this thread may run on now: the child's (see `affinity`).
    let cpus = CpuMask::of_this_thread();
    // Runs on the spawner thread, whose fd table is its own: the pipe is
    // made there, becomes the child's stdin (its only inherited fd
    // besides stdout and stderr), and its read end is closed there when
    // the command drops, once the child is started.
    let start = move || {
        if let Some(cpus) = &cpus {
            // Refused: the child runs where the spawner may (see `affinity`).
            let _ = cpus.apply_to_this_thread();
        }
        let pipe = handover_pipe(&handover)?;
        cmd.stdin(Stdio::from(pipe)).spawn()
    };
    let spawned = ExecChild::spawn_on(spawner, Box::new(start))
        .await
        .map_err(spawn_err)?;
    if let Some(pid) = spawned.id() {
        lock_unreaped().push((pid, child.tree_id.clone()));
    }
    Ok(spawned)
}

/// Whether this process can open one more fd (`EMFILE`/`ENFILE` if not).
fn fd_to_spare() -> std::io::Result<()> {
    use std::os::fd::FromRawFd;
    // SAFETY: F_DUPFD_CLOEXEC makes a new fd (>= 3) or fails; it is owned
    // here and closed at once.
    let fd = unsafe { libc::fcntl(2, libc::F_DUPFD_CLOEXEC, 3) };
    if fd >= 0 {
        // SAFETY: a fresh fd from fcntl, owned by nobody else.
        drop(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) });
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => Err(e),
        // No stderr to copy: the probe says nothing, the accept will.
        _ => Ok(()),
    }
}

/// This process's arguments as it was started (without the program
/// name): how a child re-runs this binary. Read before a process title
/// overwrites them (`remember_args`).
pub(crate) fn process_args() -> Vec<String> {
    ARGS.get_or_init(|| std::env::args().skip(1).collect())
        .clone()
}

static ARGS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// Arms `cmd`'s process to die with the calling thread
/// (`PR_SET_PDEATHSIG`), leaving at once if this process died before the
/// signal was armed, and to inherit `keep_fd` (its only inherited fd
/// besides stdio; every fd here is close-on-exec).
pub(crate) fn die_with_this_thread(cmd: &mut std::process::Command, keep_fd: std::os::fd::RawFd) {
    // SAFETY: getpid is async-signal-safe and called before the fork.
    let parent_pid = unsafe { libc::getpid() };
    // SAFETY: the closure runs between fork and exec and only calls
    // async-signal-safe functions (prctl, getppid, fcntl, _exit).
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then no
            // signal will ever come, so leave now.
            if libc::getppid() != parent_pid {
                libc::_exit(1);
            }
            if libc::fcntl(keep_fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Children of this process not reaped yet, with their tree: a zombie
/// has no readable environment, so this is how a survivor check tells
/// its own tree's zombies from another tree's in the same process.
static UNREAPED: std::sync::Mutex<Vec<(u32, String)>> = std::sync::Mutex::new(Vec::new());

fn lock_unreaped() -> std::sync::MutexGuard<'static, Vec<(u32, String)>> {
    UNREAPED.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records that child `pid` was waited on.
pub(crate) fn note_reaped(pid: u32) {
    lock_unreaped().retain(|(p, _)| *p != pid);
}

/// Spawned, not yet reaped children of this process in tree `tree_id`.
pub(crate) fn unreaped(tree_id: &str) -> Vec<u32> {
    lock_unreaped()
        .iter()
        .filter(|(_, t)| t == tree_id)
        .map(|(p, _)| *p)
        .collect()
}
