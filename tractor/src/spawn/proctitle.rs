//! Process titles, so `ps`, `top` and `pstree` show which actor is which.
//!
//! Linux has no setproctitle: `/proc/<pid>/cmdline` reads the memory that
//! held the original argv, whose bounds the kernel publishes in
//! `/proc/self/stat` (fields 48 and 49). We overwrite that region in place
//! and set the thread name (`comm`, 15 bytes) with `PR_SET_NAME`.

/// Sets the process title to `title` (truncated to the original argv size).
///
/// # Safety
/// Overwrites the memory that held the process's original argv. The
/// caller must have read `std::env::args()` for good before (std keeps
/// pointers into that memory), and no other thread may read the
/// arguments while this runs.
pub(crate) unsafe fn set_title(title: &str) {
    set_comm(title);
    if let Some((start, end)) = argv_bounds() {
        let len = end.saturating_sub(start);
        if len < 2 {
            return;
        }
        let bytes = title.as_bytes();
        let n = bytes.len().min(len - 1);
        // SAFETY: [start, end) is this process's own argv string area as
        // reported by the kernel; it is mapped, writable (initial stack) and
        // nothing else lives in it. Rust's std keeps pointers into it: the
        // caller promised (this fn's contract) that nobody reads them again.
        unsafe {
            let p = start as *mut u8;
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p, n);
            std::ptr::write_bytes(p.add(n), 0, len - n);
        }
    }
}

/// Names the calling thread and the main thread (whose name is the
/// process's `comm`): under a test harness the caller is not the main thread.
fn set_comm(title: &str) {
    let mut buf = [0u8; 16];
    let n = title.len().min(15);
    buf[..n].copy_from_slice(&title.as_bytes()[..n]);
    // SAFETY: buf is NUL-terminated and outlives the call.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, buf.as_ptr() as libc::c_ulong, 0, 0, 0);
    }
    let main_thread = format!("/proc/self/task/{}/comm", std::process::id());
    let _ = std::fs::write(main_thread, &buf[..n]);
}

fn argv_bounds() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The comm field may hold spaces and parens: fields count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    // `rest` starts at field 3 (state); arg_start is field 48, arg_end 49.
    let mut fields = rest.split_whitespace().skip(48 - 3);
    let start = fields.next()?.parse().ok()?;
    let end = fields.next()?.parse().ok()?;
    (start != 0 && end > start).then_some((start, end))
}

/// The title of a sub-actor: `_subactor[<name>@<pid>]`.
pub(crate) fn subactor_title(name: &str, pid: u32) -> String {
    format!("_subactor[{name}@{pid}]")
}
