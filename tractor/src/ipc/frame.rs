//! Length-prefixed framing: a little-endian `u32` byte count, then the body.
//!
//! The reader checks the announced length against the maximum *before*
//! allocating, so a peer that claims a 4 GiB frame costs us four bytes of
//! reading and a clear error, never a 4 GiB allocation.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Default largest frame an actor accepts: 64 MiB.
pub const DEFAULT_MAX_FRAME: usize = 64 * 1024 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The peer announced a frame larger than this actor accepts.
    #[error(
        "peer announced a {len}-byte frame, above the {max}-byte maximum; the connection is dropped"
    )]
    Oversized {
        /// Announced length.
        len: u64,
        /// Configured maximum.
        max: usize,
    },
    /// The connection ended in the middle of a frame.
    #[error("connection closed in the middle of a frame ({got} of {want} bytes)")]
    Truncated {
        /// Bytes received.
        got: usize,
        /// Bytes announced.
        want: usize,
    },
    /// An I/O error from the socket.
    #[error("socket error: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads one frame into `buf` (cleared first). `Ok(false)` is a clean EOF
/// between frames.
pub async fn read_frame<R: AsyncRead + Unpin + ?Sized>(
    r: &mut R,
    buf: &mut Vec<u8>,
    max: usize,
) -> Result<bool, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < 4 {
        let n = r.read(&mut len[got..]).await?;
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(FrameError::Truncated { got, want: 4 });
        }
        got += n;
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > max {
        return Err(FrameError::Oversized {
            len: len as u64,
            max,
        });
    }
    buf.clear();
    buf.resize(len, 0);
    let mut got = 0;
    while got < len {
        let n = r.read(&mut buf[got..]).await?;
        if n == 0 {
            return Err(FrameError::Truncated { got, want: len });
        }
        got += n;
    }
    Ok(true)
}

/// Writes one frame; the caller flushes (the channel's writer batches).
pub async fn write_frame<W: AsyncWrite + Unpin + ?Sized>(
    w: &mut W,
    body: &[u8],
) -> std::io::Result<()> {
    let len = u32::try_from(body.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "frame above 4 GiB"))?;
    w.write_all(&len.to_le_bytes()).await?;
    w.write_all(body).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn oversized_is_refused_without_allocating() {
        let bytes = u32::MAX.to_le_bytes();
        let mut buf = Vec::new();
        let err = read_frame(&mut &bytes[..], &mut buf, 1024)
            .await
            .unwrap_err();
        assert!(matches!(err, FrameError::Oversized { .. }), "{err}");
        assert!(buf.capacity() < 1024);
    }

    #[tokio::test]
    async fn truncated_and_clean_eof() {
        let mut buf = Vec::new();
        assert!(!read_frame(&mut &[][..], &mut buf, 1024).await.unwrap());
        let bytes = [5u8, 0, 0, 0, 1, 2];
        let err = read_frame(&mut &bytes[..], &mut buf, 1024)
            .await
            .unwrap_err();
        assert!(
            matches!(err, FrameError::Truncated { got: 2, want: 5 }),
            "{err}"
        );
        let mut out = Vec::new();
        write_frame(&mut out, b"hey").await.unwrap();
        assert!(read_frame(&mut &out[..], &mut buf, 1024).await.unwrap());
        assert_eq!(buf, b"hey");
    }
}
