//! The terminal a REPL talks to: the process's controlling terminal
//! (`/dev/tty`) when it has one, else its stdin and stderr.
//!
//! Children are spawned with stdin on `/dev/null`, but they share the
//! root's session and so its controlling terminal: opening `/dev/tty`
//! reaches the user's terminal from any actor. Without a terminal (a
//! daemon under a supervisor, a CI job), input ends at once and the REPL
//! continues: a debugger must never wedge a tree that nobody can answer.
//!
//! Lines are read on a thread of their own, which polls the terminal and
//! a wake-up pipe. Ending the session wakes it and joins it before the
//! TTY lock is let go: no reader outlives its REPL, so none swallows a
//! line typed for the next REPL (in this actor or another). The
//! terminal's file description is shared with every process of the tree,
//! so its flags (`O_NONBLOCK`) are left alone.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};

use tokio::sync::mpsc;

/// The longest line the REPL takes; the rest of a longer one is dropped.
const MAX_LINE: usize = 4096;

/// One event from the terminal.
#[derive(Debug)]
pub(crate) enum Input {
    /// A line, without its line ending.
    Line(String),
    /// Input ended (no terminal, or it closed).
    Eof,
}

/// A terminal open for one REPL session.
pub(crate) struct Terminal {
    out: File,
    lines: mpsc::Receiver<Input>,
    /// Written to (or closed) to wake the reader for good.
    wake: Option<File>,
    reader: Option<std::thread::JoinHandle<()>>,
    /// Written when the terminal is dropped, if still set: what to tell
    /// the user when the REPL ends without them (its task was cancelled).
    farewell: Option<&'static str>,
}

impl std::fmt::Debug for Terminal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Terminal")
    }
}

impl Terminal {
    /// Opens the controlling terminal, else stdin and stderr.
    pub(crate) fn open() -> std::io::Result<Terminal> {
        let (input, out): (OwnedFd, File) = match std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/tty")
        {
            Ok(tty) => {
                let out = tty.try_clone()?;
                (OwnedFd::from(tty), out)
            }
            Err(_) => {
                let input = std::io::stdin().as_fd().try_clone_to_owned()?;
                let out = File::from(std::io::stderr().as_fd().try_clone_to_owned()?);
                (input, out)
            }
        };
        let (woken, wake) = pipe()?;
        let (tx, lines) = mpsc::channel(8);
        let reader = std::thread::Builder::new()
            .name("tractor-repl-input".into())
            .spawn(move || read_lines(File::from(input), &woken, &tx))?;
        Ok(Terminal {
            out,
            lines,
            wake: Some(wake),
            reader: Some(reader),
            farewell: None,
        })
    }

    /// Writes `text` as it is.
    pub(crate) fn write(&mut self, text: &str) {
        // A terminal that cannot be written to has nobody behind it: the
        // REPL goes on and ends at the input's end.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Sets (or, with `None`, clears) what is written when the terminal
    /// is dropped.
    pub(crate) fn farewell(&mut self, text: Option<&'static str>) {
        self.farewell = text;
    }

    /// The next line (or the end of input).
    pub(crate) async fn next(&mut self) -> Input {
        self.lines.recv().await.unwrap_or(Input::Eof)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        if let Some(text) = self.farewell.take() {
            self.write(text);
        }
        // Closed first: a reader blocked on a full queue gets an error.
        self.lines.close();
        // Closing the pipe's write end wakes the reader's poll.
        drop(self.wake.take());
        if let Some(r) = self.reader.take() {
            // Prompt: the reader waits on nothing else.
            let _ = r.join();
        }
    }
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> std::io::Result<(OwnedFd, File)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: pipe2 succeeded, so both are open descriptors we now own.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    Ok((r, w))
}

/// The reader thread: lines from `input` until input ends, the REPL
/// drops its receiver, or `woken` becomes readable (the REPL ended).
fn read_lines(mut input: File, woken: &OwnedFd, tx: &mpsc::Sender<Input>) {
    let mut pending: Vec<u8> = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let mut fds = [
            libc::pollfd {
                fd: input.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: woken.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is an array of two valid pollfds for the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), 2, -1) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if fds[1].revents != 0 {
            // The REPL ended: not one more byte is taken from the terminal.
            return;
        }
        if fds[0].revents == 0 {
            continue;
        }
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                let line = String::from_utf8_lossy(&pending)
                    .trim_end_matches('\r')
                    .to_string();
                pending.clear();
                if tx.blocking_send(Input::Line(line)).is_err() {
                    return;
                }
            } else if pending.len() < MAX_LINE {
                pending.push(b);
            }
        }
    }
    let _ = tx.blocking_send(Input::Eof);
}
