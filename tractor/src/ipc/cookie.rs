//! The cookie file: the secret separate programs of one user share,
//! `tractor.cookie` in the user's runtime directory, mode 0600.
//!
//! Created on first use, atomically: the first program writes a fresh
//! random cookie to a private temporary file and hard-links it into
//! place, so concurrent first users all end up reading one cookie, and
//! nobody ever reads a half-written file. A cookie file that others may
//! read, or that belongs to someone else, is refused rather than used.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::auth::{MAX_SECRET_LEN, Secret, SecretError, fill_random, trim_ascii};

/// Reads the cookie file at `path`, creating it first if it is missing.
pub(crate) fn load_or_create(path: &Path) -> Result<Secret, SecretError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let strict = dir == super::uds::uds_bindspace();
        super::uds::create_private_dir(dir, strict).map_err(|source| SecretError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // A creation that loses the race reads the winner's file; a file
    // removed between the two is created again, a bounded number of times.
    for _ in 0..3 {
        match read(path) {
            Err(SecretError::Io { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                create(path)?;
            }
            other => return other,
        }
    }
    Err(SecretError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other("the cookie file keeps disappearing"),
    })
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> SecretError + '_ {
    move |source| SecretError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn read(path: &Path) -> Result<Secret, SecretError> {
    let f = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path);
    let mut f = match f {
        Ok(f) => f,
        // O_NOFOLLOW on a symbolic link.
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(SecretError::NotAFile {
                path: path.to_path_buf(),
            });
        }
        Err(e) => return Err(io_err(path)(e)),
    };
    let meta = f.metadata().map_err(io_err(path))?;
    if !meta.is_file() {
        return Err(SecretError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    // SAFETY: geteuid cannot fail.
    let ours = unsafe { libc::geteuid() };
    if meta.uid() != ours {
        return Err(SecretError::ForeignOwner {
            path: path.to_path_buf(),
            owner: meta.uid(),
            ours,
        });
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretError::Insecure {
            path: path.to_path_buf(),
            mode,
        });
    }
    let mut bytes = Vec::new();
    (&mut f)
        .take(MAX_SECRET_LEN as u64 + 64)
        .read_to_end(&mut bytes)
        .map_err(io_err(path))?;
    trim_ascii(&mut bytes);
    Secret::from_origin(bytes, &path.display().to_string())
}

/// Writes a fresh cookie next to `path` and links it into place, unless
/// someone else did first.
fn create(path: &Path) -> Result<(), SecretError> {
    let mut raw = [0u8; 32];
    fill_random(&mut raw)?;
    let mut text: String = raw.iter().map(|b| format!("{b:02x}")).collect();
    text.push('\n');
    let mut tag = [0u8; 4];
    fill_random(&mut tag)?;
    let tmp = PathBuf::from(format!(
        "{}.{}-{:02x}{:02x}{:02x}{:02x}.tmp",
        path.display(),
        std::process::id(),
        tag[0],
        tag[1],
        tag[2],
        tag[3]
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()
    })();
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    });
    let _ = std::fs::remove_file(&tmp);
    linked.map_err(io_err(path))?;
    tracing::info!(target: "tractor::ipc", "created the cookie file {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("tractor-cookie-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn created_0600_once_then_reused() {
        let d = scratch("reuse");
        let p = d.join("tractor.cookie");
        let a = load_or_create(&p).unwrap();
        let meta = std::fs::metadata(&p).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o777, 0o700);
        assert_eq!(std::fs::read_to_string(&p).unwrap().trim().len(), 64);
        let b = load_or_create(&p).unwrap();
        assert_eq!(a, b);
        // Only the cookie: no temporary file left behind.
        assert_eq!(std::fs::read_dir(&d).unwrap().count(), 1);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn concurrent_first_users_share_one_cookie() {
        let d = scratch("race");
        let p = d.join("tractor.cookie");
        std::fs::create_dir_all(&d).unwrap();
        let all: Vec<Secret> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..8)
                .map(|_| s.spawn(|| load_or_create(&p).unwrap()))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert!(all.iter().all(|s| *s == all[0]));
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn wider_modes_other_owners_and_links_are_refused() {
        let d = scratch("refuse");
        let p = d.join("tractor.cookie");
        load_or_create(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = load_or_create(&p).unwrap_err();
        assert!(
            matches!(e, SecretError::Insecure { mode: 0o644, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&p, Some(65534), None).unwrap();
            let e = load_or_create(&p).unwrap_err();
            assert!(
                matches!(e, SecretError::ForeignOwner { owner: 65534, .. }),
                "{e}"
            );
        }
        std::fs::remove_file(&p).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", &p).unwrap();
        let e = load_or_create(&p).unwrap_err();
        assert!(matches!(e, SecretError::NotAFile { .. }), "{e}");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn text_is_the_cookie_whitespace_trimmed() {
        let d = scratch("text");
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("tractor.cookie");
        std::fs::write(&p, "  hello cookie \n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        let s = load_or_create(&p).unwrap();
        assert_eq!(s, Secret::from_bytes(b"hello cookie".to_vec()).unwrap());
        std::fs::write(&p, "\n").unwrap();
        assert!(matches!(load_or_create(&p), Err(SecretError::Empty { .. })));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
