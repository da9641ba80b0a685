//! An actor's side of its link to a forkserver: fork requests, signals,
//! and the exits the server reports.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, watch};

use super::proto::{self, Reply, Request};
use crate::spawn::affinity::CpuMask;
use crate::spawn::process::ExecChild;
use crate::spawn::{ChildEnv, SpawnError, env};

/// How long a new server may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a server whose lifeline closed may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(2);
/// The raw wait status of a process killed by SIGKILL: what a child
/// reports once its server is gone (it died with the server).
const KILLED: i32 = libc::SIGKILL;

type Forked = Result<(i32, watch::Receiver<Option<ExitStatus>>, KillGuard), i32>;

/// One frame to the server, and the fd that rides with it (a fork
/// request's channel end).
pub(super) struct Outgoing {
    frame: Vec<u8>,
    fd: Option<OwnedFd>,
}

/// Kills a forked child when dropped armed: made as soon as the server
/// reports the fork, so a child whose spawn is given up at any point
/// (before or after the reply reached its caller) is never left running.
struct KillGuard {
    pid: i32,
    tx: mpsc::WeakUnboundedSender<Outgoing>,
    armed: bool,
}

impl Drop for KillGuard {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let mut frame = Vec::new();
        let kill = Request::Signal {
            pid: self.pid,
            sig: libc::SIGKILL,
        };
        if proto::encode(&kill, &mut frame).is_ok()
            && let Some(tx) = self.tx.upgrade()
        {
            let _ = tx.send(Outgoing { frame, fd: None });
        }
    }
}

#[derive(Default)]
struct State {
    forks: HashMap<u64, oneshot::Sender<Forked>>,
    exits: HashMap<i32, watch::Sender<Option<ExitStatus>>>,
    hello: Option<oneshot::Sender<i32>>,
    closed: bool,
}

/// A link to a forkserver.
pub(crate) struct ForkClient {
    /// Frames to the server, written by a task; requests are ours (one per
    /// spawn, a few per teardown), so the queue is bounded by our children.
    tx: Mutex<Option<mpsc::UnboundedSender<Outgoing>>>,
    state: Arc<Mutex<State>>,
    next_id: AtomicU64,
    /// The server process, when this actor started it.
    server: tokio::sync::Mutex<Option<ExecChild>>,
}

impl std::fmt::Debug for ForkClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForkClient").finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn fs_err(what: String) -> SpawnError {
    SpawnError::Forkserver(what)
}

impl ForkClient {
    /// The link this process was forked with, or a new server started from
    /// this binary (run the way `exec_args` say, in tree `tree_id`).
    /// Runs inside the actor's tokio runtime.
    pub(crate) async fn open(
        exec_args: &[String],
        tree_id: &str,
    ) -> Result<Arc<ForkClient>, SpawnError> {
        if let Some(link) = super::INHERITED_LINK.take() {
            return ForkClient::over(link, None);
        }
        let (ours, theirs) = std::os::unix::net::UnixStream::pair()
            .map_err(|e| fs_err(format!("cannot make its link: {e}")))?;
        let server = start_server(theirs, exec_args, tree_id)?;
        let (hello_tx, hello_rx) = oneshot::channel();
        let client = ForkClient::over(ours, Some(hello_tx))?;
        let mut server = server;
        let said_hello = tokio::select! {
            h = hello_rx => h.ok(),
            st = server.wait() => {
                let st = st.map_or_else(|e| e.to_string(), |s| s.to_string());
                return Err(fs_err(format!("it exited at start ({st}); is this binary's main wrapped in #[tractor::main] or does it call tractor::init() first?")));
            }
            _ = tokio::time::sleep(HELLO_TIMEOUT) => None,
        };
        if said_hello.is_none() {
            let _ = server.start_kill();
            let _ = server.wait().await;
            return Err(fs_err(format!("it did not start within {HELLO_TIMEOUT:?}")));
        }
        *client.server.lock().await = Some(server);
        Ok(client)
    }

    fn over(
        link: std::os::unix::net::UnixStream,
        hello: Option<oneshot::Sender<i32>>,
    ) -> Result<Arc<ForkClient>, SpawnError> {
        let io = |e: std::io::Error| fs_err(format!("cannot use its link: {e}"));
        link.set_nonblocking(true).map_err(io)?;
        let link = tokio::net::UnixStream::from_std(link).map_err(io)?;
        let (read, write) = link.into_split();
        let (tx, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(State {
            hello,
            ..State::default()
        }));
        tokio::spawn(read_loop(read, state.clone(), tx.downgrade()));
        tokio::spawn(write_loop(write, rx));
        Ok(Arc::new(ForkClient {
            tx: Mutex::new(Some(tx)),
            state,
            next_id: AtomicU64::new(1),
            server: tokio::sync::Mutex::new(None),
        }))
    }

    fn send(&self, req: &Request) -> bool {
        self.send_with(req, None)
    }

    /// Queues `req`, with `fd` riding on its first byte if given.
    fn send_with(&self, req: &Request, fd: Option<OwnedFd>) -> bool {
        let mut frame = Vec::new();
        if proto::encode(req, &mut frame).is_err() {
            return false;
        }
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        tx.as_ref()
            .is_some_and(|tx| tx.send(Outgoing { frame, fd }).is_ok())
    }

    /// Forks the child `child` describes; `channel`, if given, is the
    /// child's end of its channel to its parent (handed over with the
    /// request; the child then does not dial).
    pub(crate) async fn fork(
        self: &Arc<Self>,
        child: &ChildEnv,
        channel: Option<OwnedFd>,
    ) -> Result<ForkedChild, SpawnError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (done, forked) = oneshot::channel();
        {
            let mut st = lock(&self.state);
            if st.closed {
                return Err(fs_err("its link is closed (the server died)".into()));
            }
            st.forks.insert(id, done);
        }
        let req = Request::Fork {
            id,
            name: child.name.clone(),
            uuid: child.uuid.into_bytes(),
            tree_id: child.tree_id.clone(),
            parent_addr: child.parent_addr.to_string(),
            secret: child.secret.expose().to_vec(),
            tls: child.tls.as_deref().map(|t| Box::new(t.spec().clone())),
            channel: channel.is_some(),
            cpus: CpuMask::of_this_thread(),
        };
        if !self.send_with(&req, channel) {
            lock(&self.state).forks.remove(&id);
            return Err(fs_err("its link is closed".into()));
        }
        match forked.await {
            Ok(Ok((pid, exit, guard))) => Ok(ForkedChild {
                pid,
                client: self.clone(),
                exit,
                guard,
            }),
            Ok(Err(errno)) => Err(SpawnError::starting(
                &child.name,
                std::io::Error::from_raw_os_error(errno),
            )),
            Err(_) => Err(fs_err("it died while forking".into())),
        }
    }

    fn signal(&self, pid: i32, sig: i32) {
        self.send(&Request::Signal { pid, sig });
    }

    /// Closes the link; a server this actor started then kills whatever
    /// children are left and exits, and is reaped here.
    pub(crate) async fn close(&self) {
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(mut server) = self.server.lock().await.take() else {
            return;
        };
        if tokio::time::timeout(EXIT_TIMEOUT, server.wait())
            .await
            .is_err()
        {
            tracing::warn!(target: "tractor::spawn", "the forkserver did not exit {EXIT_TIMEOUT:?} after its lifeline closed; killing it");
            let _ = server.start_kill();
            let _ = server.wait().await;
        }
    }
}

/// Execs this binary as a forkserver whose lifeline is `theirs`.
fn start_server(
    theirs: std::os::unix::net::UnixStream,
    exec_args: &[String],
    tree_id: &str,
) -> Result<ExecChild, SpawnError> {
    use std::os::fd::AsRawFd;
    let exe = std::env::current_exe().map_err(SpawnError::CurrentExe)?;
    let fd = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(exec_args)
        .env(env::FORKSERVER_FD, fd.to_string())
        .env(env::TREE, tree_id)
        .env_remove(env::PARENT_ADDR)
        .env_remove(env::ACTOR_NAME)
        .env_remove(env::ACTOR_UUID)
        .env_remove(env::SECRET_FD)
        .env_remove(env::PARENT_PID)
        .stdin(Stdio::null());
    // The lifeline is the one fd the server inherits.
    crate::spawn::die_with_this_thread(&mut cmd, fd);
    let server = ExecChild::spawn(&mut cmd).map_err(|e| fs_err(format!("cannot start it: {e}")));
    drop(theirs);
    server
}

async fn write_loop(
    mut w: tokio::net::unix::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
) {
    while let Some(Outgoing { frame, fd }) = rx.recv().await {
        let mut at = 0;
        if let Some(fd) = fd {
            // The fd goes with the frame's first byte; the rest, if the
            // socket takes only part, follows as plain bytes. An fd that
            // cannot be passed fails its one request (the server answers
            // a request without its fd with EBADF), not the link.
            match send_fd(&w, &frame, &fd).await {
                Ok(sent) => at = sent,
                Err(e) => {
                    tracing::warn!(target: "tractor::spawn", "cannot pass a child's channel to the forkserver: {e}");
                }
            }
        }
        if w.write_all(&frame[at..]).await.is_err() {
            return;
        }
    }
    let _ = w.shutdown().await;
}

/// Sends (a first part of) `frame` with `fd` attached, once the socket
/// takes bytes; how much was sent.
async fn send_fd(
    w: &tokio::net::unix::OwnedWriteHalf,
    frame: &[u8],
    fd: &OwnedFd,
) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let sock = w.as_ref();
    loop {
        sock.writable().await?;
        match sock.try_io(tokio::io::Interest::WRITABLE, || {
            super::fdpass::send_with_fd(sock.as_raw_fd(), frame, fd.as_raw_fd())
        }) {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            other => return other,
        }
    }
}

/// Reads the server's replies; `tx` (weak: the link closes when the
/// client lets go) kills a child whose spawn was given up meanwhile.
async fn read_loop(
    mut r: tokio::net::unix::OwnedReadHalf,
    state: Arc<Mutex<State>>,
    tx: mpsc::WeakUnboundedSender<Outgoing>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match r.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        match proto::decode_all::<Reply>(&mut buf) {
            Ok(replies) => {
                for reply in replies {
                    on_reply(&state, reply, &tx);
                }
            }
            Err(e) => {
                tracing::error!(target: "tractor::spawn", "the forkserver sent a bad frame ({e}); dropping its link");
                break;
            }
        }
    }
    // Both ways: the server then kills this link's children, which are
    // reported dead below.
    {
        use std::os::fd::AsRawFd;
        let sock: &tokio::net::UnixStream = r.as_ref();
        // SAFETY: shutdown on our own socket's fd, which stays open here.
        unsafe {
            libc::shutdown(sock.as_raw_fd(), libc::SHUT_RDWR);
        }
    }
    // The server is gone, and every child it forked for us died with it.
    let mut st = lock(&state);
    st.closed = true;
    st.forks.clear();
    st.hello = None;
    for (_, exit) in st.exits.drain() {
        exit.send_replace(Some(ExitStatus::from_raw(KILLED)));
    }
}

fn on_reply(state: &Mutex<State>, reply: Reply, tx: &mpsc::WeakUnboundedSender<Outgoing>) {
    let mut st = lock(state);
    match reply {
        Reply::Hello { .. } => {
            if let Some(h) = st.hello.take() {
                let _ = h.send(0);
            }
        }
        Reply::Forked { id, pid } => {
            let (exit_tx, exit_rx) = watch::channel(None);
            st.exits.insert(pid, exit_tx);
            let guard = KillGuard {
                pid,
                tx: tx.clone(),
                armed: true,
            };
            match st.forks.remove(&id) {
                // Unclaimed (its caller gave up), the guard kills it.
                Some(done) => drop(done.send(Ok((pid, exit_rx, guard)))),
                None => {
                    tracing::warn!(target: "tractor::spawn", id, "the forkserver answered a request nobody made")
                }
            }
        }
        Reply::Failed { id, errno } => {
            if let Some(done) = st.forks.remove(&id) {
                let _ = done.send(Err(errno));
            }
        }
        Reply::Exited { pid, status } => {
            if let Some(exit) = st.exits.remove(&pid) {
                exit.send_replace(Some(ExitStatus::from_raw(status)));
            }
        }
    }
}

/// A child forked by a forkserver for this actor.
pub(crate) struct ForkedChild {
    pid: i32,
    client: Arc<ForkClient>,
    exit: watch::Receiver<Option<ExitStatus>>,
    /// Kills the child if this handle is dropped before it exited.
    guard: KillGuard,
}

impl std::fmt::Debug for ForkedChild {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForkedChild")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl ForkedChild {
    fn exited(&self) -> bool {
        self.exit.borrow().is_some()
    }

    pub(crate) fn id(&self) -> Option<u32> {
        (!self.exited()).then_some(self.pid as u32)
    }

    pub(crate) fn signal(&self, sig: libc::c_int) {
        if !self.exited() {
            self.client.signal(self.pid, sig);
        }
    }

    /// Waits until the server reports the child's exit. Cancel-safe.
    pub(crate) async fn wait(&mut self) -> std::io::Result<ExitStatus> {
        match self.exit.wait_for(Option::is_some).await {
            Ok(st) => (*st).ok_or_else(|| std::io::Error::other("no exit status")),
            // The sender is dropped only after sending; treat as killed.
            Err(_) => Ok(ExitStatus::from_raw(KILLED)),
        }
    }
}

impl Drop for ForkedChild {
    fn drop(&mut self) {
        // Exited: nothing to kill (and the pid may be another's by now).
        // Else the guard kills it (a spawn abandoned mid-boot); the server reaps it.
        self.guard.armed = !self.exited();
    }
}
