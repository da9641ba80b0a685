//! Statistics of the samples: quantiles of latencies, rates of rounds,
//! and the CPU time both ends of a measurement spent.

use std::time::Duration;

/// Samples in nanoseconds.
#[derive(Clone, Default)]
pub(crate) struct Samples(pub(crate) Vec<u64>);

impl Samples {
    pub(crate) fn push(&mut self, d: Duration) {
        self.0.push(d.as_nanos() as u64);
    }
    pub(crate) fn push_ns(&mut self, ns: u64) {
        self.0.push(ns);
    }
    pub(crate) fn quantile(&self, q: f64) -> u64 {
        if self.0.is_empty() {
            return 0;
        }
        let mut v = self.0.clone();
        v.sort_unstable();
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v[i.min(v.len() - 1)]
    }
    pub(crate) fn median(&self) -> u64 {
        self.quantile(0.5)
    }
    pub(crate) fn p99(&self) -> u64 {
        self.quantile(0.99)
    }
}

pub(crate) fn fmt_ns(ns: u64) -> String {
    if ns >= 10_000_000 {
        format!("{:.1} ms", ns as f64 / 1e6)
    } else if ns >= 1_000_000 {
        format!("{:.2} ms", ns as f64 / 1e6)
    } else if ns >= 1_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{ns} ns")
    }
}

/// CPU time of both ends over `calls` round trips.
#[derive(Default, Clone, Copy)]
pub(crate) struct Cpu {
    pub(crate) me_ns: u64,
    pub(crate) peer_ns: u64,
    pub(crate) calls: u64,
}

impl Cpu {
    /// CPU clocks of this process and of `peer` now.
    pub(crate) fn start(peer: u32) -> (u64, u64) {
        (cpu_ns(0), cpu_ns(peer))
    }

    /// Adds what this process and `peer` spent since `start`.
    pub(crate) fn stop(&mut self, start: (u64, u64), peer: u32, calls: usize) {
        self.me_ns += cpu_ns(0).saturating_sub(start.0);
        self.peer_ns += cpu_ns(peer).saturating_sub(start.1);
        self.calls += calls as u64;
    }

    pub(crate) fn per_call(&self) -> (u64, u64) {
        let n = self.calls.max(1);
        (self.me_ns / n, self.peer_ns / n)
    }
}

/// CPU time consumed so far by process `pid` (0: this one), in ns.
pub(crate) fn cpu_ns(pid: u32) -> u64 {
    let mut clk: libc::clockid_t = libc::CLOCK_PROCESS_CPUTIME_ID;
    // SAFETY: `clk` is a valid out-pointer.
    if pid != 0 && unsafe { libc::clock_getcpuclockid(pid as libc::pid_t, &mut clk) } != 0 {
        return 0;
    }
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    if unsafe { libc::clock_gettime(clk, &mut ts) } != 0 {
        return 0;
    }
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Rates measured in rounds (items or bytes per second), with the CPU
/// time of both ends.
#[derive(Default)]
pub(crate) struct Rates {
    pub(crate) per_s: Vec<f64>,
    pub(crate) cpu: Cpu,
}

impl Rates {
    pub(crate) fn push(&mut self, amount: u64, d: Duration) {
        self.per_s.push(amount as f64 / d.as_secs_f64().max(1e-9));
    }
    pub(crate) fn median(&self) -> f64 {
        let mut v = self.per_s.clone();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    }
    pub(crate) fn min(&self) -> f64 {
        self.per_s.iter().copied().fold(f64::INFINITY, f64::min)
    }
    pub(crate) fn max(&self) -> f64 {
        self.per_s.iter().copied().fold(0.0, f64::max)
    }
}
