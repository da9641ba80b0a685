//! A child's CPU affinity: that of the actor's thread when it spawned.
//!
//! A process started by `fork` or `posix_spawn` runs on the CPUs the
//! thread that started it may run on. Children here are started from
//! elsewhere: exec'd ones from the actor's spawner thread, made at its
//! first spawn, forked ones by a server process started at the first
//! forkserver spawn. Left to inheritance, every child would run where the
//! actor's thread could run at that *first* spawn: a program that pins
//! its thread to spawn one actor, then unpins it, would find every later
//! child pinned too (and a bench whose first placement is "one CPU" had
//! all its later "unpinned" actors stuck on that CPU). So each spawn
//! takes the actor thread's affinity of the moment along, and the thread
//! or process that starts the child applies it first, as the actor's own
//! thread starting the child would have had it. (A thread actor's thread
//! is made on the actor's thread: it inherits it directly.)
//!
//! Best effort: a mask that cannot be read (more CPUs than `cpu_set_t`
//! holds) is not carried, and one that cannot be applied (its CPUs left
//! the process's cpuset meanwhile) leaves the child where its starter
//! runs; neither fails a spawn.

use serde::{Deserialize, Serialize};

/// Bits per word of a [`CpuMask`].
const WORD_BITS: usize = u64::BITS as usize;

/// The CPUs a thread may run on, one bit per CPU (as `cpu_set_t` holds
/// them, up to `CPU_SETSIZE`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CpuMask(Box<[u64]>);

impl CpuMask {
    /// The calling thread's affinity, or `None` if it cannot be read.
    pub(crate) fn of_this_thread() -> Option<CpuMask> {
        // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        // SAFETY: sched_getaffinity writes at most the size given into `set`.
        let got =
            unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
        if got != 0 {
            return None;
        }
        let cpus = libc::CPU_SETSIZE as usize;
        let mut words = vec![0u64; cpus.div_ceil(WORD_BITS)];
        for cpu in 0..cpus {
            // SAFETY: `cpu` < CPU_SETSIZE, inside `set`.
            if unsafe { libc::CPU_ISSET(cpu, &set) } {
                words[cpu / WORD_BITS] |= 1 << (cpu % WORD_BITS);
            }
        }
        Some(CpuMask(words.into()))
    }

    /// Restricts the calling thread to these CPUs, unless it is already:
    /// false if the kernel refused (no CPU of the mask is allowed here).
    pub(crate) fn apply_to_this_thread(&self) -> bool {
        if CpuMask::of_this_thread().as_ref() == Some(self) {
            return true;
        }
        // SAFETY: an all-zero cpu_set_t is a valid (empty) set.
        let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
        let cpus = (libc::CPU_SETSIZE as usize).min(self.0.len() * WORD_BITS);
        for cpu in 0..cpus {
            if self.0[cpu / WORD_BITS] & (1 << (cpu % WORD_BITS)) != 0 {
                // SAFETY: `cpu` < CPU_SETSIZE, inside `set`.
                unsafe { libc::CPU_SET(cpu, &mut set) };
            }
        }
        // SAFETY: sched_setaffinity reads the size given from `set`.
        unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread's mask read back after it was applied is the mask; a
    /// thread made afterwards inherits it; the original comes back whole.
    #[test]
    fn applied_masks_read_back_and_are_inherited() {
        std::thread::spawn(|| {
            let all = CpuMask::of_this_thread().expect("affinity readable");
            let first = all
                .0
                .iter()
                .enumerate()
                .find(|(_, w)| **w != 0)
                .map(|(i, w)| i * WORD_BITS + w.trailing_zeros() as usize)
                .expect("some CPU allowed");
            let mut one = CpuMask(vec![0; all.0.len()].into());
            one.0[first / WORD_BITS] = 1 << (first % WORD_BITS);
            assert!(one.apply_to_this_thread());
            assert_eq!(CpuMask::of_this_thread(), Some(one.clone()));
            let inherited = std::thread::spawn(CpuMask::of_this_thread)
                .join()
                .expect("thread ran");
            assert_eq!(inherited, Some(one));
            assert!(all.apply_to_this_thread());
            assert_eq!(CpuMask::of_this_thread(), Some(all));
        })
        .join()
        .expect("test thread");
    }

    /// A mask with no CPU allowed here is refused, and changes nothing.
    #[test]
    fn an_impossible_mask_is_refused() {
        std::thread::spawn(|| {
            let before = CpuMask::of_this_thread().expect("affinity readable");
            let none = CpuMask(vec![0; before.0.len()].into());
            assert!(!none.apply_to_this_thread());
            assert_eq!(CpuMask::of_this_thread(), Some(before));
        })
        .join()
        .expect("test thread");
    }
}
