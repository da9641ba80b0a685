//! Passing a file descriptor over the forkserver link (`SCM_RIGHTS`): how
//! a spawning actor hands its new child the other end of the channel it
//! made for it.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// Fds one `recvmsg` takes at most. A read ends right after the bytes an
/// fd came with, so it brings one sender's batch at most: ours send one.
/// A batch that does not fit is cut by the kernel (`MSG_CTRUNC`), which
/// fails the read: fds would no longer match the requests they go with.
const FDS_PER_READ: usize = 16;

/// Control-message buffer for [`FDS_PER_READ`] fds, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct Cmsg([u8; cmsg_space(FDS_PER_READ)]);

const fn cmsg_space(fds: usize) -> usize {
    // CMSG_SPACE, which libc does not offer as a const fn: the header
    // (16 bytes on 64-bit Linux) plus the data, each rounded to 8 bytes.
    let header = std::mem::size_of::<libc::cmsghdr>();
    let data = fds * std::mem::size_of::<RawFd>();
    header.div_ceil(8) * 8 + data.div_ceil(8) * 8
}

/// A message header over the one buffer `iov` and `controllen` bytes of
/// the control buffer `cmsg`.
fn header(iov: &mut libc::iovec, cmsg: &mut Cmsg, controllen: usize) -> libc::msghdr {
    // SAFETY: a zeroed msghdr is a valid empty one (null pointers, zero
    // lengths); the fields set point at live buffers the caller keeps.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = iov;
    msg.msg_iovlen = 1;
    msg.msg_control = cmsg.0.as_mut_ptr().cast();
    msg.msg_controllen = controllen.min(cmsg.0.len()) as _;
    msg
}

/// Sends `data` on the unix stream socket `sock`, with `fd` attached to
/// its first byte. Returns the bytes sent (the rest, if any, goes without
/// the fd, which went with the first).
pub(super) fn send_with_fd(sock: RawFd, data: &[u8], fd: RawFd) -> io::Result<usize> {
    let mut cmsg = Cmsg([0; cmsg_space(FDS_PER_READ)]);
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // SAFETY: `msg` points at a live iovec and control buffer; the
    // CMSG_* calls stay within the buffer, sized by CMSG_SPACE for one fd.
    unsafe {
        let one_fd = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let msg = header(&mut iov, &mut cmsg, one_fd);
        let hdr = libc::CMSG_FIRSTHDR(&msg);
        (*hdr).cmsg_level = libc::SOL_SOCKET;
        (*hdr).cmsg_type = libc::SCM_RIGHTS;
        (*hdr).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(hdr).cast::<RawFd>(), fd);
        let n = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(n as usize)
    }
}

/// Reads from the unix stream socket `sock` into `buf`; fds that came
/// with the bytes are appended to `fds` (close-on-exec). `Ok(0)` is EOF.
pub(super) fn recv_with_fds(
    sock: RawFd,
    buf: &mut [u8],
    fds: &mut Vec<OwnedFd>,
) -> io::Result<usize> {
    let mut cmsg = Cmsg([0; cmsg_space(FDS_PER_READ)]);
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `msg` points at a live iovec and control buffer; the kernel
    // writes at most `msg_controllen` bytes of control data, which the
    // CMSG_* walk reads within; each fd it carries is new and ours.
    unsafe {
        let all = cmsg.0.len();
        let mut msg = header(&mut iov, &mut cmsg, all);
        let n = libc::recvmsg(sock, &mut msg, libc::MSG_CMSG_CLOEXEC);
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut hdr = libc::CMSG_FIRSTHDR(&msg);
        while !hdr.is_null() {
            if (*hdr).cmsg_level == libc::SOL_SOCKET && (*hdr).cmsg_type == libc::SCM_RIGHTS {
                let data = libc::CMSG_DATA(hdr);
                let len = ((*hdr).cmsg_len as usize).saturating_sub(libc::CMSG_LEN(0) as usize);
                for i in 0..len / std::mem::size_of::<RawFd>() {
                    let fd = std::ptr::read_unaligned(data.cast::<RawFd>().add(i));
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            hdr = libc::CMSG_NXTHDR(&msg, hdr);
        }
        if msg.msg_flags & libc::MSG_CTRUNC != 0 {
            return Err(io::Error::other(
                "fds were cut from a message (too many at once, or no fd left here)",
            ));
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, IntoRawFd};
    use std::os::unix::net::UnixStream;

    use super::*;

    #[test]
    fn an_fd_crosses_with_its_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        let (x, y) = UnixStream::pair().unwrap();
        assert_eq!(
            send_with_fd(a.as_raw_fd(), b"hello", x.as_raw_fd()).unwrap(),
            5
        );
        drop(x);
        let mut buf = [0u8; 64];
        let mut fds = Vec::new();
        let n = recv_with_fds(b.as_raw_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(&buf[..n], b"hello");
        assert_eq!(fds.len(), 1);
        // The fd received is the other end of `y`: bytes written there arrive.
        let got = UnixStream::from(fds.pop().unwrap());
        use std::io::{Read, Write};
        (&y).write_all(b"ping").unwrap();
        let mut four = [0u8; 4];
        (&got).read_exact(&mut four).unwrap();
        assert_eq!(&four, b"ping");
        // Close-on-exec, as every fd of ours.
        let raw = got.into_raw_fd();
        // SAFETY: fcntl F_GETFD on an fd we own; closed right after.
        let flags = unsafe { libc::fcntl(raw, libc::F_GETFD) };
        assert_ne!(flags & libc::FD_CLOEXEC, 0);
        // SAFETY: `raw` is ours.
        unsafe { libc::close(raw) };
    }

    #[test]
    fn bytes_without_fds_read_as_usual() {
        let (a, b) = UnixStream::pair().unwrap();
        use std::io::Write;
        (&a).write_all(b"plain").unwrap();
        let mut buf = [0u8; 64];
        let mut fds = Vec::new();
        let n = recv_with_fds(b.as_raw_fd(), &mut buf, &mut fds).unwrap();
        assert_eq!(&buf[..n], b"plain");
        assert!(fds.is_empty());
        drop(a);
        assert_eq!(recv_with_fds(b.as_raw_fd(), &mut buf, &mut fds).unwrap(), 0);
    }
}
