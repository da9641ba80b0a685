//! Where the two ends of a measurement run: CPU placements, and pinning
//! this thread (and so the processes it spawns next) to CPUs.

/// Where the ping-pong peers run relative to the measuring thread.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Both ends pinned to one CPU: the software path alone.
    SameCpu,
    /// The ends pinned to two different CPUs: adds the cross-CPU wake-up.
    TwoCpus,
    /// No pinning: wherever the scheduler puts them.
    Free,
}

impl Placement {
    pub(crate) const ALL: [Placement; 3] =
        [Placement::SameCpu, Placement::TwoCpus, Placement::Free];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Placement::SameCpu => "1 CPU",
            Placement::TwoCpus => "2 CPUs",
            Placement::Free => "unpinned",
        }
    }
}

/// One measurement's placement in effect: from [`Pinned::start`] this
/// thread (and so the processes it spawns) runs on the peers' CPU; the
/// actor is pinned with [`pin`](Self::pin) once spawned, this thread moves
/// to its own CPU with [`measure_here`](Self::measure_here), and its
/// original affinity comes back when this drops.
pub(crate) struct Pinned {
    orig: libc::cpu_set_t,
    /// (CPU the peers run on, CPU this thread measures on); `None`
    /// unpinned.
    cpus: Option<(usize, usize)>,
}

impl Pinned {
    /// Starts placing the ends as `at` says; `None` when this machine
    /// cannot (or this thread's affinity cannot be read).
    pub(crate) fn start(at: Placement) -> Option<Pinned> {
        let orig = affinity()?;
        let cpus = match (at, cpus_of(&orig).as_slice()) {
            (Placement::Free, _) => None,
            (Placement::SameCpu, [a, ..]) => Some((*a, *a)),
            (Placement::TwoCpus, [a, b, ..]) => Some((*b, *a)),
            _ => return None,
        };
        if let Some((peers, _)) = cpus {
            set_affinity(&cpu_set(&[peers]));
        }
        Some(Pinned { orig, cpus })
    }

    /// Pins every thread of peer process `pid` to the peers' CPU.
    pub(crate) fn pin(&self, pid: u32) {
        if let Some((peers, _)) = self.cpus {
            pin_process(pid, &cpu_set(&[peers]));
        }
    }

    /// Moves this thread to its measuring CPU (the peers are spawned).
    pub(crate) fn measure_here(&self) {
        if let Some((_, me)) = self.cpus {
            set_affinity(&cpu_set(&[me]));
        }
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        set_affinity(&self.orig);
    }
}

/// This thread's CPU affinity.
fn affinity() -> Option<libc::cpu_set_t> {
    // SAFETY: an all-zero cpu_set_t is valid; the kernel writes at most
    // `size_of::<cpu_set_t>()` bytes into it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        let n = std::mem::size_of::<libc::cpu_set_t>();
        (libc::sched_getaffinity(0, n, &mut set) == 0).then_some(set)
    }
}

/// Pins this thread (and so the processes it spawns next).
fn set_affinity(set: &libc::cpu_set_t) {
    // SAFETY: `set` is a valid cpu_set_t of the size passed.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) };
    if rc != 0 {
        eprintln!(
            "tractor_bench: sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

fn cpu_set(cpus: &[usize]) -> libc::cpu_set_t {
    // SAFETY: an all-zero cpu_set_t is valid and the indices are below
    // CPU_SETSIZE (they come from `cpus_of`).
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for &c in cpus {
            libc::CPU_SET(c, &mut set);
        }
        set
    }
}

fn cpus_of(set: &libc::cpu_set_t) -> Vec<usize> {
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `c` is below CPU_SETSIZE.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, set) })
        .collect()
}

/// Pins every thread of process `pid`: an actor's threads started after
/// its spawn (its runtime's) as well as the one it was spawned with.
fn pin_process(pid: u32, set: &libc::cpu_set_t) {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        eprintln!("tractor_bench: cannot list the threads of {pid} to pin them");
        return;
    };
    for tid in tasks
        .flatten()
        .filter_map(|t| t.file_name().to_str()?.parse::<i32>().ok())
    {
        // SAFETY: `set` is a valid cpu_set_t of the size passed.
        let rc =
            unsafe { libc::sched_setaffinity(tid, std::mem::size_of::<libc::cpu_set_t>(), set) };
        if rc != 0 {
            eprintln!(
                "tractor_bench: sched_setaffinity({tid}): {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// Whether this thread and process `peer` last ran on the same CPU
/// (`None` if either cannot be read). Read after a round, while the peer
/// waits for the next request: where the scheduler left the pair.
pub(crate) fn on_one_cpu(peer: u32) -> Option<bool> {
    // SAFETY: sched_getcpu has no preconditions.
    let me = unsafe { libc::sched_getcpu() };
    let stat = std::fs::read_to_string(format!("/proc/{peer}/stat")).ok()?;
    // Field 39 (`processor`), counted after the command's closing paren
    // (the command may hold spaces): the 37th field past it.
    let theirs: i32 = stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(36)?
        .parse()
        .ok()?;
    (me >= 0).then_some(me == theirs)
}
