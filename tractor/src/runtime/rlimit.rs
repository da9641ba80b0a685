//! The open-file limit. A tree holds sockets per child, so the default
//! soft limit (often 1024) runs out long before the hard one; like Go's
//! runtime, every tractor process raises its soft limit to the hard limit
//! at boot. Children inherit the raised limit across exec.

use std::sync::Once;

/// Raises this process's soft `RLIMIT_NOFILE` to its hard limit, once per
/// process. A failure leaves the limit as it was: only logged, since the
/// process still works, just with fewer fds.
pub(crate) fn raise_fd_limit() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if let Err(e) = raise_soft_to_hard() {
            tracing::debug!(target: "tractor::runtime", "could not raise the open-file limit: {e}");
        }
    });
}

/// Sets the soft `RLIMIT_NOFILE` to the hard limit; the new soft limit.
fn raise_soft_to_hard() -> std::io::Result<libc::rlim_t> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    if lim.rlim_cur >= lim.rlim_max {
        return Ok(lim.rlim_cur);
    }
    let mut want = lim.rlim_max;
    // An unlimited hard limit is refused for fds above fs.nr_open.
    if want == libc::RLIM_INFINITY
        && let Some(nr_open) = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse::<libc::rlim_t>().ok())
    {
        want = nr_open;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: setrlimit only reads the struct we pass.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(want)
}

#[cfg(test)]
mod tests {
    fn nofile() -> libc::rlimit {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit only writes the struct we pass.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) }, 0);
        lim
    }

    #[test]
    fn soft_limit_is_raised_to_a_finite_hard_limit() {
        let hard = nofile().rlim_max;
        if hard == libc::RLIM_INFINITY || hard < 64 {
            return;
        }
        let lowered = libc::rlimit {
            rlim_cur: 64,
            rlim_max: hard,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lowered) }, 0);
        assert_eq!(super::raise_soft_to_hard().expect("raise"), hard);
        assert_eq!(nofile().rlim_cur, hard);
    }
}
