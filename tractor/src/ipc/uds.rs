//! The unix-socket bindspace: a private directory per user, socket files
//! named after their actor and pid, and the removal of files whose actor
//! is gone (at bind, at dial, and of a killed tree's at its root's end).

use std::path::{Path, PathBuf};

use tokio::net::UnixStream;

/// The (device, inode) of the file at `path`.
pub(super) fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

/// Whether the file at `path` is a unix socket.
pub(super) fn is_socket(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
}

/// Unlinks the socket file at `path` in the bindspace if its name says
/// which actor made it ([`default_bind_addr`]) and that process is gone.
/// Returns whether it did.
pub(super) fn remove_if_owner_dead(path: &Path) -> bool {
    if path.parent() != Some(uds_bindspace().as_path()) {
        return false;
    }
    let owner = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(socket_owner);
    match owner {
        Some(pid) if is_socket(path) && !process_exists(pid) => {
            let removed = std::fs::remove_file(path).is_ok();
            if removed {
                tracing::debug!(target: "tractor::ipc", "unlinked {} of dead actor {pid}", path.display());
            }
            removed
        }
        _ => false,
    }
}

/// A bind to `path` found it taken: unlinks it if it is a socket file
/// nobody serves (its actor was SIGKILLed). A file named after its owner
/// goes if that process is gone; any other (a fixed registry address)
/// goes if connecting to it is refused a few times over ~30 ms (a live
/// actor can be between its bind and its listen for a moment only), and
/// only if it is still the same file. Returns whether it was removed.
pub(super) async fn remove_if_unserved(path: &Path) -> bool {
    if !is_socket(path) {
        return false;
    }
    let named = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(socket_owner)
        .is_some();
    if named && path.parent() == Some(uds_bindspace().as_path()) {
        return remove_if_owner_dead(path);
    }
    let before = file_id(path);
    for attempt in 0..3 {
        match UnixStream::connect(path).await {
            Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {}
            // Served (or busy, or not a socket we can judge): leave it.
            _ => return false,
        }
        if attempt < 2 {
            tokio::time::sleep(std::time::Duration::from_millis(15)).await;
        }
    }
    if before.is_none() || file_id(path) != before {
        return false;
    }
    let removed = std::fs::remove_file(path).is_ok();
    if removed {
        tracing::info!(target: "tractor::ipc", "removed the stale socket file {} (no actor serves it)", path.display());
    }
    removed
}

/// Creates `dir` (and missing parents) readable by its owner only (0700).
///
/// With `strict` (the socket bindspace and the cookie's directory, which
/// tractor owns), an existing directory must belong to this user (else an
/// error: another user may have planted it to squat our socket names) and
/// is narrowed to 0700 if it is wider. Without, an existing directory is
/// the user's own choice (a configured socket path) and left as it is.
pub(crate) fn create_private_dir(dir: &Path, strict: bool) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    if !strict {
        return Ok(());
    }
    // SAFETY: geteuid cannot fail.
    let ours = unsafe { libc::geteuid() };
    // The entry itself (a link planted by another user) and what it names.
    for meta in [std::fs::symlink_metadata(dir)?, std::fs::metadata(dir)?] {
        if meta.uid() != ours {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "the directory {} belongs to uid {}, not to this user (uid {ours}); another user may have made it to intercept tractor's sockets: remove it, or point XDG_RUNTIME_DIR at a directory of your own",
                    dir.display(),
                    meta.uid()
                ),
            ));
        }
    }
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode != 0o700 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        tracing::warn!(target: "tractor::ipc", "{} had mode {mode:o}; narrowed it to 0700 (owner only)", dir.display());
    }
    Ok(())
}

/// The directory unix sockets live in: `$XDG_RUNTIME_DIR/tractor/`, else
/// `<tmp>/tractor-<uid>/`.
pub(crate) fn uds_bindspace() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) if !d.is_empty() => PathBuf::from(d).join("tractor"),
        // SAFETY: getuid cannot fail.
        _ => std::env::temp_dir().join(format!("tractor-{}", unsafe { libc::getuid() })),
    }
}

/// Unlinks the socket files in the bindspace whose actor process is gone.
///
/// A listener unlinks its own file when it closes, which a SIGKILLed actor
/// never does. Each file's name carries its owner's pid
/// (`<name>@<pid>-<tag>.sock`, see [`default_bind_addr`]); a file whose
/// pid no longer exists is garbage. A live pid is left alone, whoever it
/// is now. Returns how many files were removed.
pub(crate) fn sweep_stale_sockets() -> usize {
    sweep_dir(&uds_bindspace())
}

/// [`sweep_stale_sockets`] in directory `dir`.
pub(super) fn sweep_dir(dir: &Path) -> usize {
    use std::os::unix::fs::FileTypeExt;
    let Ok(dir) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for ent in dir.flatten() {
        let is_socket = ent.file_type().is_ok_and(|t| t.is_socket());
        let name = ent.file_name();
        let Some(pid) = name.to_str().and_then(socket_owner) else {
            continue;
        };
        if is_socket && !process_exists(pid) && std::fs::remove_file(ent.path()).is_ok() {
            removed += 1;
        }
    }
    if removed > 0 {
        tracing::debug!(target: "tractor::ipc", "unlinked {removed} socket files of dead actors");
    }
    removed
}

/// [`sweep_stale_sockets`] at the end of a tree: descendants killed with
/// their parent (the parent-death signal) may still be dying, so this
/// waits, up to `within`, for every socket owner whose environment holds
/// the tree's marker entry (`KEY=value`) to be gone, unlinking as they go.
pub(crate) async fn sweep_tree_sockets(marker: &str, within: std::time::Duration) {
    let deadline = tokio::time::Instant::now() + within;
    let me = std::process::id() as i32;
    loop {
        // Looked at before sweeping: an owner that dies between the two
        // is swept now, not missed.
        let dying = socket_owners()
            .into_iter()
            .any(|pid| pid != me && process_exists(pid) && in_tree_or_exiting(pid, marker));
        sweep_stale_sockets();
        if !dying || tokio::time::Instant::now() >= deadline {
            return;
        }
        // Polling process exits: there is no event for a stranger's death.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
}

pub(super) fn socket_owners() -> Vec<i32> {
    let Ok(dir) = std::fs::read_dir(uds_bindspace()) else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str().and_then(socket_owner))
        .collect()
}

/// Whether process `pid`'s environment holds the entry `marker`, or can
/// no longer be read: a process on its way out has released its memory
/// before it turns into a zombie.
pub(super) fn in_tree_or_exiting(pid: i32, marker: &str) -> bool {
    let env = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
    env.is_empty()
        || env
            .split(|b| *b == 0)
            .any(|entry| entry == marker.as_bytes())
}

/// The pid in a socket file name made by [`default_bind_addr`].
pub(super) fn socket_owner(file: &str) -> Option<i32> {
    let stem = file.strip_suffix(".sock")?;
    let (_, rest) = stem.rsplit_once('@')?;
    let (pid, _tag) = rest.split_once('-')?;
    pid.parse().ok().filter(|p| *p > 0)
}

/// Whether `pid` is a live process. A zombie is dead: an actor killed
/// with its parent waits, unreaped, for whoever inherited it.
pub(super) fn process_exists(pid: i32) -> bool {
    // SAFETY: kill with signal 0 only checks for existence and permission.
    let r = unsafe { libc::kill(pid, 0) };
    if r != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH) {
        return false;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next());
    !matches!(state, Some("Z" | "X"))
}

#[cfg(test)]
mod private_dir_tests {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    use super::create_private_dir;

    fn mode(p: &std::path::Path) -> u32 {
        std::fs::metadata(p).unwrap().mode() & 0o777
    }

    #[test]
    fn created_owner_only_and_narrowed_when_wider() {
        let base = std::env::temp_dir().join(format!("tractor-dir-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let d = base.join("a/tractor");
        create_private_dir(&d, true).unwrap();
        assert_eq!(mode(&d), 0o700);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o755)).unwrap();
        // A configured directory is the user's choice...
        create_private_dir(&d, false).unwrap();
        assert_eq!(mode(&d), 0o755);
        // ...the bindspace is ours to keep private.
        create_private_dir(&d, true).unwrap();
        assert_eq!(mode(&d), 0o700);
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&d, Some(65534), None).unwrap();
            let e = create_private_dir(&d, true).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
            assert!(e.to_string().contains("uid 65534"), "{e}");
            // A link we do not own, to a directory we do.
            std::os::unix::fs::chown(&d, Some(0), None).unwrap();
            let link = base.join("link");
            std::os::unix::fs::symlink(&d, &link).unwrap();
            std::os::unix::fs::lchown(&link, Some(65534), None).unwrap();
            assert!(create_private_dir(&link, true).is_err());
        }
        std::fs::remove_dir_all(&base).unwrap();
    }
}

#[cfg(test)]
mod sweep_tests {
    use super::socket_owner;

    #[test]
    fn owners_are_read_from_our_names_only() {
        assert_eq!(socket_owner("mid_0@4242-1a2b3c4d.sock"), Some(4242));
        assert_eq!(socket_owner("a@b@17-ffff0000.sock"), Some(17));
        assert_eq!(socket_owner("registry.sock"), None);
        assert_eq!(socket_owner("x@-1-ab.sock"), None);
        assert_eq!(socket_owner("x@12-ab.txt"), None);
    }
}

#[cfg(test)]
mod stale_tests {
    use super::*;
    use crate::ipc::addr::Addr;
    use crate::ipc::transport::{MsgListener, MsgTransport};

    /// A fresh private directory under the temp dir.
    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tractor-{tag}-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).expect("create the scratch dir");
        dir
    }

    /// The pid of a process that has exited and been reaped.
    fn dead_pid() -> u32 {
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("run `true`");
        let pid = child.id();
        child.wait().expect("reap `true`");
        pid
    }

    /// Leaves a socket file at `path` with nobody listening on it, the
    /// way a SIGKILLed actor does (std's listener never unlinks).
    /// A socket file nobody serves, made without a socket: a listener
    /// bound and dropped here still listens in a child that a test running
    /// alongside forked meanwhile, until that child execs or exits, and
    /// the file then rightly counts as served (a flake seen in CI).
    fn leave_stale_socket(path: &Path) {
        use std::os::unix::ffi::OsStrExt;
        let c = std::ffi::CString::new(path.as_os_str().as_bytes()).expect("a path without NUL");
        // SAFETY: `c` is a valid NUL-terminated path for the call's span.
        let made = unsafe { libc::mknod(c.as_ptr(), libc::S_IFSOCK | 0o600, 0) };
        assert_eq!(made, 0, "mknod: {}", std::io::Error::last_os_error());
        assert!(is_socket(path));
    }

    #[tokio::test]
    async fn a_bind_replaces_a_socket_file_nobody_serves() {
        let dir = scratch("stale-bind");
        let path = dir.join("registry@1616.sock");
        leave_stale_socket(&path);
        let l = MsgListener::bind(&Addr::Uds(path.clone()), 1024)
            .await
            .expect("bind over a stale socket file");
        assert!(UnixStream::connect(&path).await.is_ok());
        drop(l);
        assert!(!path.exists(), "the listener did not unlink its file");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn a_bind_never_takes_a_served_address() {
        let dir = scratch("served-bind");
        let path = dir.join("registry@1616.sock");
        let first = MsgListener::bind(&Addr::Uds(path.clone()), 1024)
            .await
            .expect("first bind");
        let second = MsgListener::bind(&Addr::Uds(path.clone()), 1024).await;
        assert!(second.is_err(), "a served address was taken over");
        assert!(UnixStream::connect(&path).await.is_ok());
        drop(first);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A fresh file name in the bindspace, `<tag>@<pid>-<8 hex>.sock`.
    fn in_bindspace(tag: &str, pid: u32) -> PathBuf {
        let dir = uds_bindspace();
        create_private_dir(&dir, true).expect("create the bindspace");
        let n = &uuid::Uuid::new_v4().simple().to_string()[..8];
        dir.join(format!("{tag}@{pid}-{n}.sock"))
    }

    #[tokio::test]
    async fn a_bind_sweeps_files_of_dead_actors_in_the_bindspace() {
        let dead = in_bindspace("gone", dead_pid());
        leave_stale_socket(&dead);
        let me = in_bindspace("alive", std::process::id());
        leave_stale_socket(&me);
        let l = MsgListener::bind(&Addr::Uds(in_bindspace("new", std::process::id())), 1024)
            .await
            .expect("bind");
        assert!(!dead.exists(), "the dead actor's file was not swept");
        assert!(me.exists(), "a live process's file was removed");
        drop(l);
        let _ = std::fs::remove_file(me);
    }

    #[tokio::test]
    async fn dialing_a_dead_actors_file_removes_it() {
        let dir = scratch("stale-dial");
        let dead = in_bindspace("gone", dead_pid());
        leave_stale_socket(&dead);
        let err = MsgTransport::connect(&Addr::Uds(dead.clone()), 1024, None).await;
        assert!(err.is_err());
        assert!(!dead.exists(), "the dead actor's file was left");
        // A file without an owner in its name is left to the next bind.
        let fixed = dir.join("registry@1616.sock");
        leave_stale_socket(&fixed);
        assert!(
            MsgTransport::connect(&Addr::Uds(fixed.clone()), 1024, None)
                .await
                .is_err()
        );
        assert!(fixed.exists());
        // Nor is a file outside the bindspace touched.
        let outside = dir.join(format!("gone@{}-00000000.sock", dead_pid()));
        leave_stale_socket(&outside);
        assert!(
            MsgTransport::connect(&Addr::Uds(outside.clone()), 1024, None)
                .await
                .is_err()
        );
        assert!(outside.exists());
        let _ = std::fs::remove_dir_all(dir);
    }
}
