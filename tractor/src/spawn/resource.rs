//! OS resource exhaustion: which limit an OS error means, and what to do
//! about it. Shared by the spawner (fork/exec), the accept loop and child
//! boot, so every layer names the same cause the same way.

/// An OS resource that ran out, with what to do about it.
///
/// ```
/// use tractor::error::Resource;
/// let r = Resource::of_errno(libc::EMFILE).unwrap();
/// assert_eq!(r, Resource::FileDescriptors);
/// println!("{r}: {}", r.advice()); // "out of file descriptors: raise the open-file limit ..."
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resource {
    /// File descriptors: the process limit (`EMFILE`, `RLIMIT_NOFILE`) or
    /// the system-wide table (`ENFILE`).
    FileDescriptors,
    /// Processes: `RLIMIT_NPROC` or pid exhaustion (`EAGAIN` from fork).
    Processes,
    /// Memory or kernel buffers (`ENOMEM`, `ENOBUFS`).
    Memory,
}

impl Resource {
    /// The resource an OS error number means ran out, if any. `EAGAIN`
    /// only means "processes" where fork returned it, so it is not
    /// mapped here; see [`Resource::of_spawn_error`].
    pub fn of_errno(errno: i32) -> Option<Resource> {
        match errno {
            libc::EMFILE | libc::ENFILE => Some(Resource::FileDescriptors),
            libc::ENOMEM | libc::ENOBUFS => Some(Resource::Memory),
            _ => None,
        }
    }

    /// The resource an I/O error means ran out, if any.
    pub fn of_io(e: &std::io::Error) -> Option<Resource> {
        e.raw_os_error().and_then(Resource::of_errno)
    }

    /// The resource a failed fork/exec ran out of: as [`Resource::of_io`],
    /// plus `EAGAIN`, which fork returns at the process limit.
    pub fn of_spawn_error(e: &std::io::Error) -> Option<Resource> {
        match e.raw_os_error() {
            Some(libc::EAGAIN) => Some(Resource::Processes),
            _ => Resource::of_io(e),
        }
    }

    /// The first resource exhaustion in `e`'s chain of sources.
    pub fn in_chain(e: &(dyn std::error::Error + 'static)) -> Option<Resource> {
        let mut cur = Some(e);
        while let Some(err) = cur {
            if let Some(r) = err
                .downcast_ref::<std::io::Error>()
                .and_then(Resource::of_io)
            {
                return Some(r);
            }
            cur = err.source();
        }
        None
    }

    /// What to do when this resource runs out.
    pub fn advice(self) -> &'static str {
        match self {
            Resource::FileDescriptors => {
                "raise the open-file limit (`ulimit -n`, or LimitNOFILE= for a systemd unit) or spawn fewer actors"
            }
            Resource::Processes => {
                "raise the process limit (`ulimit -u`, or the pids cgroup / kernel.pid_max) or spawn fewer actors"
            }
            Resource::Memory => "free memory or spawn fewer actors",
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Resource::FileDescriptors => "out of file descriptors",
            Resource::Processes => "out of processes",
            Resource::Memory => "out of memory",
        })
    }
}

/// How a child in child mode reports, by its exit code, why it died
/// before completing its boot; the parent turns it back into a cause.
///
/// ```
/// use tractor::error::BootExit;
/// // Exit code 71: the child could not reach its parent.
/// assert_eq!(BootExit::from_code(71), Some(BootExit::NoParent));
/// assert_eq!(BootExit::from_code(0), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BootExit {
    /// The child-mode environment was malformed.
    BadEnv = 64,
    /// The child could not build its tokio runtime.
    NoRuntime = 70,
    /// The child could not connect to (or handshake with) its parent.
    NoParent = 71,
    /// The parent sent no `SpawnSpec`.
    NoSpawnSpec = 72,
    /// The child's runtime failed to boot (bind its listener...).
    BootFailed = 73,
    /// Any boot step failed because the child ran out of file descriptors.
    ChildOutOfFds = 74,
    /// Any boot step failed because the child ran out of memory.
    ChildOutOfMemory = 75,
    /// The program launched on another host is another build: its
    /// endpoints differ from its parent's.
    OtherBuild = 76,
}

impl BootExit {
    /// The exit code for a failed boot step, or the resource exit code
    /// when `err` says a resource ran out.
    pub(crate) fn for_error(self, err: &(dyn std::error::Error + 'static)) -> BootExit {
        match Resource::in_chain(err) {
            Some(Resource::FileDescriptors) => BootExit::ChildOutOfFds,
            Some(Resource::Memory) => BootExit::ChildOutOfMemory,
            _ => self,
        }
    }

    /// Exits the process with this code.
    pub(crate) fn exit(self) -> ! {
        std::process::exit(self as i32)
    }

    /// The boot failure a child's exit code reports, if it is one.
    pub fn from_code(code: i32) -> Option<BootExit> {
        [
            BootExit::BadEnv,
            BootExit::NoRuntime,
            BootExit::NoParent,
            BootExit::NoSpawnSpec,
            BootExit::BootFailed,
            BootExit::ChildOutOfFds,
            BootExit::ChildOutOfMemory,
            BootExit::OtherBuild,
        ]
        .into_iter()
        .find(|b| *b as i32 == code)
    }
}

impl std::fmt::Display for BootExit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BootExit::BadEnv => "its child-mode environment was malformed",
            BootExit::NoRuntime => "it could not build its tokio runtime",
            BootExit::NoParent => "it could not connect back to its parent",
            BootExit::NoSpawnSpec => "its parent sent no SpawnSpec",
            BootExit::BootFailed => "its actor runtime failed to boot (see its stderr)",
            BootExit::ChildOutOfFds => "it ran out of file descriptors while booting",
            BootExit::ChildOutOfMemory => "it ran out of memory while booting",
            BootExit::OtherBuild => {
                "the program it runs is another build than its parent's (its endpoints differ): install the same build there, or let the launcher copy this one (RemoteExe::Copy)"
            }
        })
    }
}
