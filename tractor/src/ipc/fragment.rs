//! Large frames in fragments, so small ones pass them on the wire.
//!
//! A byte stream carries one frame at a time: a reply, a credit or a
//! cancel queued while a 16 MiB item is being written would wait for all
//! of it (2-3 ms), however early the outbox lets it jump the queue. So a
//! frame whose body is over [`WHOLE_MAX`] goes out as fragments of at
//! most [`FRAGMENT`] bytes, each introduced by a control frame
//! ([`Control::Fragment`]: the frame's total length and the fragment's),
//! and the writer may put other dialogs' small frames between two
//! fragments. A small message then waits for one fragment at most.
//!
//! The receiver appends each fragment to the frame in progress and hands
//! the frame on, whole and owned, once the last arrives; the frames that
//! came between were handed on first. One fragmented frame is in
//! progress at a time per direction (the writer writes large frames one
//! after the other), so a fragment needs no frame id: one that disagrees
//! with the frame in progress is a [`FrameError::BadFragment`].
//!
//! Nothing is copied for it: the writer writes each fragment's header and
//! its bytes from the frame's own buffers in one vectored write, and the
//! reader reads the bytes into the frame's buffer. That buffer is made
//! once, for the length the first fragment announces, so it never moves:
//! one grown as the bytes came was moved by the allocator now and then,
//! a copy of what had arrived (3% of a 16 MiB stream's bytes in the
//! bench). Making it touches no page: only those the bytes land in are,
//! so a peer that announces 16 MiB and sends one fragment costs us that
//! fragment's memory and 16 MiB of address space, within the frame limit,
//! for one frame per connection and the fragment deadline. Where the
//! allocator refuses that much at once (a strict overcommit policy), the
//! buffer grows as the bytes arrive instead.
//!
//! [`Control::Fragment`]: super::shm_ring::Control::Fragment
//! [`FrameError::BadFragment`]: super::frame::FrameError::BadFragment

use super::frame::FrameError;

/// The body bytes one fragment carries (the last may carry fewer).
pub(crate) const FRAGMENT: usize = 64 * 1024;

/// The largest body sent whole: larger ones go in fragments. Twice a
/// fragment, so an item of [`FRAGMENT`] bytes plus its envelope is never
/// split into a full fragment and a sliver.
pub(crate) const WHOLE_MAX: usize = 2 * FRAGMENT;

/// A frame being put together from its fragments, on the reading side.
#[derive(Debug)]
pub(crate) struct Assembly {
    /// The frame so far, behind four bytes where a frame read whole has
    /// its length prefix (what an owned frame's buffer starts with).
    pub(crate) buf: Vec<u8>,
    /// The body's length.
    total: usize,
    /// Bytes of the current fragment not read yet.
    pub(crate) left: usize,
}

impl Assembly {
    /// Checks a fragment's header against the frame in progress (`None`:
    /// it starts one) and the largest frame accepted; the frame to append
    /// its bytes to, with room for them.
    pub(crate) fn accept(
        asm: Option<Assembly>,
        total: u64,
        len: u32,
        max: usize,
    ) -> Result<Assembly, FrameError> {
        let bad = |reason: String| FrameError::BadFragment { reason };
        let len = len as usize;
        if len == 0 || len > WHOLE_MAX {
            return Err(bad(format!(
                "a fragment of {len} bytes (1 to {WHOLE_MAX} may come)"
            )));
        }
        let mut asm = match asm {
            Some(asm) if asm.total as u64 != total => {
                return Err(bad(format!(
                    "a fragment of a {total}-byte frame while a {}-byte one is in progress",
                    asm.total
                )));
            }
            Some(asm) => asm,
            None => {
                if total > max as u64 {
                    return Err(FrameError::Oversized { len: total, max });
                }
                let total = total as usize;
                let mut buf = Vec::new();
                // The whole frame's room (untouched until bytes land in
                // it), else room as the fragments come.
                if buf.try_reserve_exact(4 + total).is_err() {
                    buf.reserve(4 + len.min(total));
                }
                Assembly {
                    buf,
                    total,
                    left: 0,
                }
                .with_prefix()
            }
        };
        let got = asm.got();
        if got + len > asm.total {
            return Err(bad(format!(
                "a {len}-byte fragment after {got} of {} bytes",
                asm.total
            )));
        }
        // Room for the frame was made with its first fragment; only a
        // buffer the allocator would not make whole grows here.
        asm.buf.reserve(len);
        asm.left = len;
        Ok(asm)
    }

    fn with_prefix(mut self) -> Assembly {
        self.buf.extend_from_slice(&[0; 4]);
        self
    }

    /// Body bytes received.
    pub(crate) fn got(&self) -> usize {
        self.buf.len() - 4
    }

    /// Whether every byte of the frame is here.
    pub(crate) fn is_complete(&self) -> bool {
        self.left == 0 && self.got() == self.total
    }

    /// The error for an EOF inside the frame.
    pub(crate) fn truncated(&self) -> FrameError {
        FrameError::Truncated {
            got: self.got(),
            want: self.total,
        }
    }

    /// The error for a fragment that did not arrive in time.
    pub(crate) fn stalled(&self, within: std::time::Duration) -> FrameError {
        FrameError::Stalled {
            got: self.got(),
            want: self.total,
            within,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64 << 20;

    fn reason(e: FrameError) -> String {
        match e {
            FrameError::BadFragment { reason } => reason,
            e => panic!("not a bad fragment: {e}"),
        }
    }

    #[test]
    fn fragments_must_agree_with_the_frame_in_progress() {
        let total = 3 * FRAGMENT as u64;
        let mut asm = Assembly::accept(None, total, FRAGMENT as u32, MAX).unwrap();
        assert_eq!(asm.left, FRAGMENT);
        assert!(asm.buf.capacity() >= 4 + FRAGMENT);
        asm.buf.resize(4 + FRAGMENT, 1);
        asm.left = 0;
        assert!(!asm.is_complete());
        let e = Assembly::accept(Some(asm), total + 1, 1, MAX).unwrap_err();
        assert!(reason(e).contains("in progress"));

        let mut asm = Assembly::accept(None, total, FRAGMENT as u32, MAX).unwrap();
        asm.buf.resize(4 + FRAGMENT, 1);
        asm.left = 0;
        let e = Assembly::accept(Some(asm), total, 2 * FRAGMENT as u32 + 1, MAX).unwrap_err();
        assert!(
            reason(e).contains("fragment of"),
            "longer than a fragment may be"
        );

        let mut asm = Assembly::accept(None, 10, 10, MAX).unwrap();
        asm.buf.resize(4 + 10, 1);
        asm.left = 0;
        assert!(asm.is_complete());
        let e = Assembly::accept(Some(asm), 10, 1, MAX).unwrap_err();
        assert!(reason(e).contains("after"), "past the frame's end");

        let e = Assembly::accept(None, 10, 0, MAX).unwrap_err();
        assert!(reason(e).contains("0 bytes"));
    }

    #[test]
    fn an_oversized_frame_is_refused_before_anything_is_held() {
        let e = Assembly::accept(None, u64::MAX, 1, MAX).unwrap_err();
        assert!(matches!(
            e,
            FrameError::Oversized {
                len: u64::MAX,
                max: MAX
            }
        ));
        // A claimed 64 MiB gets its room (address space: no page of it
        // is touched before bytes land in it), and no more.
        let asm = Assembly::accept(None, MAX as u64, 1, MAX).unwrap();
        assert_eq!(asm.buf.len(), 4);
        assert!(asm.buf.capacity() >= 4 + MAX && asm.buf.capacity() < 4 + MAX + 4096);
    }

    /// The frame's buffer is made once: what arrived is never moved (a
    /// copy) as more does.
    #[test]
    fn a_frame_s_buffer_never_moves_as_its_fragments_arrive() {
        let total = 16 * FRAGMENT + 100;
        let mut asm = None;
        let mut at = None;
        let mut got = 0;
        while got < total {
            let len = FRAGMENT.min(total - got);
            let mut a = Assembly::accept(asm.take(), total as u64, len as u32, MAX).unwrap();
            let here = a.buf.as_ptr();
            assert_eq!(*at.get_or_insert(here), here, "moved after {got} bytes");
            a.buf.resize(4 + got + len, 7);
            a.left = 0;
            got += len;
            asm = Some(a);
        }
        let asm = asm.unwrap();
        assert!(asm.is_complete());
        assert_eq!(asm.buf.as_ptr(), at.unwrap());
    }
}
