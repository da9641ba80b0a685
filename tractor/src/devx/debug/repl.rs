//! The REPL itself: a line prompt on the terminal, in the actor that
//! paused or crashed, run while the tree's TTY lock is held.
//!
//! Commands are plain words (with the usual one-letter forms) so that a
//! person and a test through a pty type the same thing. The REPL is
//! async: `tasks` and `tree` look at the live runtime (and, for `tree`,
//! ask the other actors over IPC) while the paused task waits.

use std::fmt::Write as _;
use std::sync::Arc;

use tokio::signal::unix::{Signal as Listener, SignalKind, signal};

use super::tty::{Input, Terminal};
use crate::runtime::actor::ActorRuntime;

/// Why a REPL opened, and what it can show.
#[derive(Debug)]
pub(crate) enum Stop {
    /// `pause!()` at `site`, with the values it was given.
    Paused {
        site: String,
        values: Vec<(&'static str, String)>,
        backtrace: std::backtrace::Backtrace,
    },
    /// `what` (an endpoint's task, the root's body) failed with `error`
    /// (rendered), and its backtrace when one was captured.
    Crashed {
        what: String,
        error: String,
        backtrace: Option<String>,
    },
}

/// How the user left the REPL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Leave {
    Continue,
    Quit,
}

const HELP: &str = "\
commands:
  c, continue    resume (after a crash: let the error go on up the tree)
  q, quit        end the paused task with an error that propagates like any
                 other (after a crash: same as continue)
  bt, backtrace  where the task stopped (`bt full`: with the runtime's frames)
  v, values      the values given to pause!()
  e, error       the error (after a crash)
  tasks          this actor's tasks, contexts, streams and nurseries
  tree           the actor tree, with names and pids
  gdb, lldb      attach a native debugger to this process (quit it to come back)
  h, help        this text
ctrl-c clears the line; it does not cancel the tree while a REPL is up.
";

/// Runs one REPL session on the terminal until the user leaves it.
pub(crate) async fn run(rt: &Arc<ActorRuntime>, stop: &Stop) -> Leave {
    let mut term = match Terminal::open() {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(target: "tractor::devx", "no terminal for the debugger REPL ({e}); continuing");
            return Leave::Continue;
        }
    };
    let me = rt.aid();
    let banner = match stop {
        Stop::Paused { site, .. } => {
            format!(
                "\nOpening a REPL in paused actor `{}` (pid {}) at {site}\n",
                me.name, me.pid
            )
        }
        Stop::Crashed { what, error, .. } => format!(
            "\nOpening a post-mortem REPL in crashed actor `{}` (pid {}): {what} failed\n{error}\n",
            me.name, me.pid
        ),
    };
    term.write(&banner);
    term.write("type `help` for commands\n");
    let prompt = format!("(tractor {}) ", me.name);
    // Said only if the REPL is dropped mid-way (its task was cancelled).
    term.farewell(Some("\n(the REPL closed: its task was cancelled)\n"));
    // Ctrl-C re-prompts here: in the root the tree's handler is shielded
    // while the lock is held, and children ignore SIGINT anyway.
    let mut sigint: Option<Listener> = signal(SignalKind::interrupt()).ok();
    loop {
        term.write(&prompt);
        let input = tokio::select! {
            i = term.next() => i,
            () = next_sigint(&mut sigint) => {
                term.write("^C\n(ctrl-c is shielded while a REPL is up: `continue` or `quit`)\n");
                continue;
            }
        };
        let line = match input {
            Input::Line(l) => l,
            Input::Eof => {
                term.write("\n(end of input: continuing)\n");
                return leave(&mut term, Leave::Continue);
            }
        };
        let mut words = line.split_whitespace();
        let Some(cmd) = words.next() else { continue };
        match cmd {
            "c" | "cont" | "continue" => return leave(&mut term, Leave::Continue),
            "q" | "quit" | "exit" => return leave(&mut term, Leave::Quit),
            "bt" | "backtrace" | "where" | "w" => {
                let full = words.next() == Some("full");
                term.write(&backtrace(stop, full));
            }
            "v" | "values" | "p" => term.write(&values(stop)),
            "e" | "error" => term.write(&error(stop)),
            "tasks" => term.write(&format!("{}\n", crate::devx::introspect::snapshot(rt))),
            "tree" => term.write(&super::tree::whole_tree(rt).await),
            "gdb" | "lldb" => {
                let out = super::native::attach(cmd, &mut term).await;
                term.write(&out);
            }
            "h" | "help" | "?" => term.write(HELP),
            other => term.write(&format!("unknown command `{other}`; type `help`\n")),
        }
    }
}

/// Leaves the REPL as the user asked.
fn leave(term: &mut Terminal, how: Leave) -> Leave {
    term.farewell(None);
    how
}

async fn next_sigint(listener: &mut Option<Listener>) {
    if let Some(l) = listener
        && l.recv().await.is_some()
    {
        return;
    }
    std::future::pending().await
}

fn backtrace(stop: &Stop, full: bool) -> String {
    let text = match stop {
        Stop::Paused { backtrace, .. } => backtrace.to_string(),
        Stop::Crashed {
            backtrace: Some(bt),
            ..
        } => bt.clone(),
        Stop::Crashed { .. } => {
            return "no backtrace was captured: the endpoint returned an error (a panic's backtrace is kept)\n".into();
        }
    };
    if full {
        format!("{text}\n")
    } else {
        super::backtrace::short(&text)
    }
}

fn values(stop: &Stop) -> String {
    match stop {
        Stop::Paused { values, .. } if values.is_empty() => {
            "no values: pass some to show, `pause!(a, b)`\n".into()
        }
        Stop::Paused { values, .. } => {
            let mut out = String::new();
            for (name, value) in values {
                let _ = writeln!(out, "{name} = {value}");
            }
            out
        }
        Stop::Crashed { .. } => "no values after a crash; `error` shows the error\n".into(),
    }
}

fn error(stop: &Stop) -> String {
    match stop {
        Stop::Crashed { error, .. } => format!("{error}\n"),
        Stop::Paused { .. } => "no error: this task paused\n".into(),
    }
}
