//! The forkserver's loop: one thread, blocking `poll`, raw syscalls.
//!
//! It serves links: the one it was started with (to the actor that
//! started it, its lifeline) and one per child it forked (the child's own,
//! for the grandchildren it asks for). Each child belongs to the link
//! that asked for it: only that link may signal it and hears of its exit,
//! and when that link closes (its actor died or left) its children are
//! killed. That is the parent-death rule of the exec backend, kept by the
//! one process that is every forked actor's parent, and it applies down
//! the tree: a killed child's link closes in turn.

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use uuid::Uuid;

use super::fdpass;
use super::proto::{self, Reply, Request};
use crate::ipc::{Addr, Secret};
use crate::spawn::ChildEnv;
use crate::spawn::affinity::CpuMask;

/// Bytes a link may have queued towards it before it is taken for
/// wedged and dropped (its children are killed): replies are a few bytes
/// each, so only a link that stopped reading gets near this.
const MAX_OUT: usize = 1 << 20;

/// The write end of the SIGCHLD self-pipe, for the signal handler.
static SIGCHLD_PIPE: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(-1);

extern "C" fn on_sigchld(_: libc::c_int) {
    let fd = SIGCHLD_PIPE.load(std::sync::atomic::Ordering::Relaxed);
    if fd >= 0 {
        // SAFETY: write is async-signal-safe; a full pipe already holds a
        // wakeup. errno is restored for the code the signal interrupted.
        unsafe {
            let errno = *libc::__errno_location();
            libc::write(fd, [0u8].as_ptr().cast(), 1);
            *libc::__errno_location() = errno;
        }
    }
}

/// Signals whose default would kill the server, ignored in it: a signal
/// to the whole process group (ctrl-c, a terminal hangup, `kill -TERM
/// -pgid`) is for the root, which turns it into a graceful cancel that
/// needs the server until the end. The lifeline and the parent-death
/// signal bound its life instead. A forked child gets the defaults back.
const IGNORED: [libc::c_int; 4] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT];

/// Fds a link may have waiting for the fork requests they go with. One
/// rides with the first byte of each request and requests are handled
/// as they complete, so a well-behaved link has at most one waiting;
/// more means fds sent without requests, and the link is dropped.
const MAX_PENDING_FDS: usize = 16;

struct Link {
    stream: UnixStream,
    inbuf: Vec<u8>,
    outbuf: Vec<u8>,
    /// Fds received and not yet taken by the fork request each came with.
    fds: VecDeque<OwnedFd>,
    dead: bool,
}

struct Server {
    /// Links by key; key 0 is the lifeline.
    links: HashMap<u64, Link>,
    next_key: u64,
    /// Live children and the key of the link that owns each.
    children: HashMap<i32, u64>,
    /// The SIGCHLD self-pipe (never closed in the server: it lives as
    /// long as the process).
    pipe_r: RawFd,
    pipe_w: RawFd,
    on_child: fn(ChildEnv) -> !,
    me: i32,
}

/// Serves `lifeline` until it closes, then kills whatever children are
/// left, reaps them and exits.
pub(super) fn serve(lifeline: UnixStream, on_child: fn(ChildEnv) -> !) -> ! {
    match Server::new(lifeline, on_child) {
        Ok(mut s) => s.run(),
        Err(e) => {
            eprintln!("tractor forkserver: cannot start: {e}");
            std::process::exit(70);
        }
    }
}

impl Server {
    fn new(lifeline: UnixStream, on_child: fn(ChildEnv) -> !) -> std::io::Result<Server> {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two fds into the array on success.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let (pipe_r, pipe_w) = (fds[0], fds[1]);
        SIGCHLD_PIPE.store(pipe_w, std::sync::atomic::Ordering::Relaxed);
        // SAFETY: installs an async-signal-safe handler; SA_RESTART keeps
        // blocking calls going, and SA_NOCLDSTOP ignores stopped children.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigchld as extern "C" fn(libc::c_int) as usize;
            sa.sa_flags = libc::SA_RESTART | libc::SA_NOCLDSTOP;
            if libc::sigaction(libc::SIGCHLD, &sa, std::ptr::null_mut()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            for sig in IGNORED {
                libc::signal(sig, libc::SIG_IGN);
            }
        }
        lifeline.set_nonblocking(true)?;
        let mut s = Server {
            links: HashMap::new(),
            next_key: 1,
            children: HashMap::new(),
            pipe_r,
            pipe_w,
            on_child,
            me: std::process::id() as i32,
        };
        s.links.insert(0, Link::new(lifeline));
        let hello = Reply::Hello { pid: s.me };
        s.send(0, &hello);
        Ok(s)
    }

    fn run(&mut self) -> ! {
        loop {
            self.poll_once();
            self.reap();
            if self.links.get(&0).is_none_or(|l| l.dead) {
                self.exit();
            }
            let dead: Vec<u64> = self
                .links
                .iter()
                .filter(|(_, l)| l.dead)
                .map(|(k, _)| *k)
                .collect();
            for key in dead {
                self.drop_link(key);
            }
        }
    }

    fn poll_once(&mut self) {
        let keys: Vec<u64> = self.links.keys().copied().collect();
        let mut fds: Vec<libc::pollfd> = Vec::with_capacity(keys.len() + 1);
        fds.push(pollfd(self.pipe_r, libc::POLLIN));
        for k in &keys {
            let l = &self.links[k];
            let mut ev = libc::POLLIN;
            if !l.outbuf.is_empty() {
                ev |= libc::POLLOUT;
            }
            fds.push(pollfd(l.stream.as_raw_fd(), ev));
        }
        // SAFETY: `fds` is a live array of `fds.len()` pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 {
            return; // EINTR (SIGCHLD): reap, then poll again.
        }
        if fds[0].revents != 0 {
            let mut sink = [0u8; 64];
            // SAFETY: reads into a local buffer from our nonblocking pipe.
            while unsafe { libc::read(self.pipe_r, sink.as_mut_ptr().cast(), 64) } > 0 {}
        }
        for (k, p) in keys.iter().zip(&fds[1..]) {
            if p.revents & libc::POLLOUT != 0 {
                self.flush(*k);
            }
            if p.revents & (libc::POLLIN | libc::POLLHUP | libc::POLLERR) != 0 {
                self.read(*k);
            }
        }
    }

    fn read(&mut self, key: u64) {
        let mut chunk = [0u8; 4096];
        let mut fds = Vec::new();
        // One turn reads at most about a frame's worth from a link, so a
        // busy link does not keep the others waiting (poll reports the
        // rest again).
        let mut this_turn = 0usize;
        loop {
            let Some(link) = self.links.get_mut(&key) else {
                return;
            };
            if link.dead {
                return;
            }
            let got = fdpass::recv_with_fds(link.stream.as_raw_fd(), &mut chunk, &mut fds);
            link.fds.extend(fds.drain(..));
            let more = match got {
                Ok(0) => {
                    link.dead = true;
                    false
                }
                Ok(n) => {
                    link.inbuf.extend_from_slice(&chunk[..n]);
                    this_turn += n;
                    this_turn <= proto::MAX_FRAME + 4
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => true,
                Err(e) => {
                    eprintln!("tractor forkserver: dropping a link that cannot be read: {e}");
                    link.dead = true;
                    false
                }
            };
            // Requests are handled as they complete, so the fds waiting
            // are only those of requests not yet whole: one, from a
            // well-behaved actor, however many it sends at once.
            match proto::decode_all::<Request>(&mut link.inbuf) {
                Ok(requests) => {
                    for req in requests {
                        self.handle(key, req);
                    }
                }
                Err(e) => {
                    eprintln!("tractor forkserver: dropping a link that sent a bad frame: {e}");
                    link.dead = true;
                    return;
                }
            }
            if let Some(link) = self.links.get_mut(&key)
                && link.fds.len() > MAX_PENDING_FDS
            {
                eprintln!(
                    "tractor forkserver: dropping a link that sent fds without fork requests"
                );
                link.dead = true;
                return;
            }
            if !more {
                return;
            }
        }
    }

    fn handle(&mut self, key: u64, req: Request) {
        match req {
            Request::Signal { pid, sig } => {
                if self.children.get(&pid) == Some(&key) {
                    // SAFETY: `pid` is our unreaped child: it cannot be recycled.
                    unsafe {
                        libc::kill(pid, sig);
                    }
                }
            }
            Request::Fork {
                id,
                name,
                uuid,
                tree_id,
                parent_addr,
                secret,
                tls,
                channel,
                cpus,
            } => {
                // The fd that came with this request, if it said one did.
                let channel = match channel {
                    false => None,
                    true => match self.links.get_mut(&key).and_then(|l| l.fds.pop_front()) {
                        Some(fd) => Some(fd),
                        None => {
                            let errno = libc::EBADF;
                            return self.send(key, &Reply::Failed { id, errno });
                        }
                    },
                };
                let env = match child_env(name, uuid, tree_id, &parent_addr, secret, tls) {
                    Ok(env) => env,
                    Err(()) => {
                        return self.send(
                            key,
                            &Reply::Failed {
                                id,
                                errno: libc::EINVAL,
                            },
                        );
                    }
                };
                match self.fork(key, env, channel, cpus) {
                    Ok(pid) => self.send(key, &Reply::Forked { id, pid }),
                    Err(e) => {
                        let errno = e.raw_os_error().unwrap_or(libc::EIO);
                        self.send(key, &Reply::Failed { id, errno })
                    }
                }
            }
        }
    }

    /// Forks the child `env` describes for link `owner`, with `channel`
    /// (the end of its channel to its parent that the parent handed over)
    /// if there is one, on the CPUs `cpus` names (those of the asking
    /// actor's thread, see `spawn::affinity`); in the child, never returns.
    fn fork(
        &mut self,
        owner: u64,
        env: ChildEnv,
        channel: Option<OwnedFd>,
        cpus: Option<CpuMask>,
    ) -> std::io::Result<i32> {
        let (ours, theirs) = UnixStream::pair()?;
        // Before the fork: once forked, a child must be recorded.
        ours.set_nonblocking(true)?;
        // SAFETY: this process runs this one thread of ours (a test
        // harness may have an idle thread blocked in its own wait), and the
        // child only runs code that is fine after fork: it resets the
        // state above and becomes an actor.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(std::io::Error::last_os_error());
        }
        if pid == 0 {
            if let Some(cpus) = cpus {
                // Refused: it runs where the server may (see `affinity`).
                let _ = cpus.apply_to_this_thread();
            }
            self.become_child(theirs, ours.as_raw_fd(), channel, env);
        }
        // The child has its copy; the parent keeps the other end.
        drop(channel);
        drop(theirs);
        let key = self.next_key;
        self.next_key += 1;
        self.links.insert(key, Link::new(ours));
        self.children.insert(pid, owner);
        Ok(pid)
    }

    /// In a fresh child: `link` is its end of its link, `server_end` the
    /// server's (not recorded yet, so closed here explicitly), `channel`
    /// its channel to its parent when the parent handed one.
    fn become_child(
        &mut self,
        link: UnixStream,
        server_end: RawFd,
        channel: Option<OwnedFd>,
        env: ChildEnv,
    ) -> ! {
        // SAFETY: resets the signal state this loop set up; async-signal-safe calls.
        unsafe {
            libc::signal(libc::SIGCHLD, libc::SIG_DFL);
            for sig in IGNORED {
                libc::signal(sig, libc::SIG_DFL);
            }
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) != 0
                || libc::getppid() != self.me
            {
                libc::_exit(1);
            }
        }
        SIGCHLD_PIPE.store(-1, std::sync::atomic::Ordering::Relaxed);
        let (link, channel) = self.keep_only(link, server_end, channel);
        super::INHERITED_LINK.with_link(link);
        if let Some(channel) = channel {
            super::HANDED_CHANNEL.with_link(channel);
        }
        (self.on_child)(env)
    }

    /// In a child: closes every fd but stdio, `link`, which becomes fd 3,
    /// and `channel`, which becomes fd 4. Every other fd is the server's
    /// (its links, fds they sent, its self-pipe). One `close_range` rather
    /// than a close per link: with a thousand children, closing each
    /// one's thousand links by hand costs more than the forks.
    fn keep_only(
        &mut self,
        link: UnixStream,
        server_end: RawFd,
        channel: Option<OwnedFd>,
    ) -> (UnixStream, Option<UnixStream>) {
        use std::os::fd::{FromRawFd, IntoRawFd};
        const LINK_FD: RawFd = 3;
        const CHANNEL_FD: RawFd = 4;
        let link = link.into_raw_fd();
        let channel = channel.map(IntoRawFd::into_raw_fd);
        // SAFETY: raw fd juggling in a fresh single-threaded child: every
        // fd named is ours; each is first copied above the two it goes to
        // (F_DUPFD never replaces an open fd), so placing one cannot close
        // the other; the results are close-on-exec, so exec'd
        // grandchildren do not inherit them.
        unsafe {
            let above = |fd: RawFd| {
                let moved = libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, CHANNEL_FD + 1);
                if moved < 0 {
                    libc::_exit(1);
                }
                moved
            };
            let (link_moved, channel_moved) = (above(link), channel.map(above));
            if libc::dup3(link_moved, LINK_FD, libc::O_CLOEXEC) < 0 {
                libc::_exit(1);
            }
            if let Some(c) = channel_moved
                && libc::dup3(c, CHANNEL_FD, libc::O_CLOEXEC) < 0
            {
                libc::_exit(1);
            }
            let first_closed = if channel.is_some() {
                CHANNEL_FD + 1
            } else {
                CHANNEL_FD
            };
            let closed = libc::syscall(libc::SYS_close_range, first_closed as u32, u32::MAX, 0);
            if closed != 0 {
                // Before Linux 5.9: one by one.
                let kept = |fd: RawFd| fd == LINK_FD || (channel.is_some() && fd == CHANNEL_FD);
                let links = self.links.values();
                let theirs = links.flat_map(|l| {
                    std::iter::once(l.stream.as_raw_fd())
                        .chain(l.fds.iter().map(AsRawFd::as_raw_fd))
                });
                let ours = [self.pipe_r, self.pipe_w, link, server_end, link_moved];
                let ours = ours.into_iter().chain(channel).chain(channel_moved);
                for fd in theirs.chain(ours) {
                    if !kept(fd) {
                        libc::close(fd);
                    }
                }
            }
            // The server's structures stay behind, untouched (copy-on-write
            // pages nobody writes cost nothing): dropping them would close
            // fds that are now someone else's.
            std::mem::forget(std::mem::take(&mut self.links));
            let channel = channel.map(|_| UnixStream::from_raw_fd(CHANNEL_FD));
            (UnixStream::from_raw_fd(LINK_FD), channel)
        }
    }

    /// Reaps every exited child and tells its owner.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: waitpid writes the status into a local.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                return;
            }
            if let Some(owner) = self.children.remove(&pid) {
                self.send(owner, &Reply::Exited { pid, status });
            }
        }
    }

    /// Link `key` closed: kill its children (they die with their parent).
    fn drop_link(&mut self, key: u64) {
        self.links.remove(&key);
        for (pid, owner) in &self.children {
            if *owner == key {
                // SAFETY: an unreaped child of ours.
                unsafe {
                    libc::kill(*pid, libc::SIGKILL);
                }
            }
        }
    }

    /// The lifeline closed: the actor that started us is gone or done.
    fn exit(&mut self) -> ! {
        for pid in self.children.keys() {
            // SAFETY: an unreaped child of ours.
            unsafe {
                libc::kill(*pid, libc::SIGKILL);
            }
        }
        for pid in self.children.keys() {
            let mut status = 0;
            // SAFETY: waits for our own SIGKILLed child.
            unsafe {
                libc::waitpid(*pid, &mut status, 0);
            }
        }
        std::process::exit(0)
    }

    fn send(&mut self, key: u64, reply: &Reply) {
        let Some(link) = self.links.get_mut(&key) else {
            return;
        };
        if proto::encode(reply, &mut link.outbuf).is_err() || link.outbuf.len() > MAX_OUT {
            link.dead = true;
            return;
        }
        self.flush(key);
    }

    fn flush(&mut self, key: u64) {
        let Some(link) = self.links.get_mut(&key) else {
            return;
        };
        while !link.outbuf.is_empty() {
            match link.stream.write(&link.outbuf) {
                Ok(0) => {
                    link.dead = true;
                    return;
                }
                Ok(n) => {
                    link.outbuf.drain(..n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => {
                    link.dead = true;
                    return;
                }
            }
        }
    }
}

impl Link {
    fn new(stream: UnixStream) -> Link {
        Link {
            stream,
            inbuf: Vec::new(),
            outbuf: Vec::new(),
            fds: VecDeque::new(),
            dead: false,
        }
    }
}

fn pollfd(fd: RawFd, events: libc::c_short) -> libc::pollfd {
    libc::pollfd {
        fd,
        events,
        revents: 0,
    }
}

fn child_env(
    name: String,
    uuid: [u8; 16],
    tree_id: String,
    parent_addr: &str,
    secret: Vec<u8>,
    tls: Option<Box<crate::ipc::tls::TlsSpec>>,
) -> Result<ChildEnv, ()> {
    let parent_addr: Addr = parent_addr.parse().map_err(|_| ())?;
    let secret = Secret::from_origin(secret, "the forkserver").map_err(|_| ())?;
    Ok(ChildEnv {
        parent_addr,
        name,
        uuid: Uuid::from_bytes(uuid),
        tree_id,
        secret,
        tls: tls.map(|t| std::sync::Arc::new(crate::ipc::TreeTls::from_spec(*t))),
        build: None,
    })
}
