//! The human text of a snapshot: what SIGUSR1, `tractor tasks` and
//! `tractor tree` print. One block per actor, its lines indented under
//! it; a tree nests each child's block under its parent's.

use std::fmt::{self, Display, Formatter, Write as _};
use std::time::Duration;

use super::model::{
    ActorSnapshot, ChildState, DialogInfo, DialogKind, DialogState, NurseryInfo, StreamInfo,
};
use super::tree::TreeSnapshot;
use crate::runtime::context::Side;

/// An age as a person reads it: `850ms`, `3.2s`, `4m05s`, `2h07m`.
pub(crate) fn age(d: Duration) -> String {
    let secs = d.as_secs();
    if secs == 0 {
        format!("{}ms", d.as_millis())
    } else if secs < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else if secs < 3600 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{}h{:02}m", secs / 3600, (secs % 3600) / 60)
    }
}

impl Display for DialogKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DialogKind::Call => "call",
            DialogKind::Context => "context",
            DialogKind::Stream => "stream",
        })
    }
}

impl Display for DialogState {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DialogState::Running => "running",
            DialogState::Opening => "opening (no `started` yet)",
            DialogState::Started => "started",
            DialogState::Streaming => "streaming",
            DialogState::Cancelling => "cancelling",
            DialogState::Returned => "returned",
            DialogState::Failed => "failed",
            DialogState::Lost => "lost (channel closed)",
        })
    }
}

impl Display for ChildState {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ChildState::Booting => f.write_str("booting"),
            ChildState::Running => f.write_str("running"),
            ChildState::Cancelling => f.write_str("cancelling"),
            ChildState::Exited { status } => write!(f, "exited ({status})"),
        }
    }
}

impl Display for StreamInfo {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.overrun {
            f.write_str("overrun mode")?;
        } else {
            write!(f, "window {} (credit {})", self.window, self.credit)?;
        }
        write!(
            f,
            ", queued {}/{} ({} B)",
            self.queued, self.recv_window, self.queued_bytes
        )?;
        match (self.closed_here, self.closed_by_peer) {
            (true, true) => f.write_str(", closed both ways"),
            (true, false) => f.write_str(", closed here"),
            (false, true) => f.write_str(", closed by the peer"),
            (false, false) => Ok(()),
        }
    }
}

impl Display for DialogInfo {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let dir = match self.side {
            Side::Callee => "from",
            Side::Caller => "in",
        };
        write!(
            f,
            "{} ({} #{}) {dir} {}: {}, {}",
            self.path,
            self.kind,
            self.cid,
            self.peer,
            self.state,
            age(self.age)
        )?;
        match &self.stream {
            Some(s) => write!(f, "; stream: {s}"),
            None => Ok(()),
        }
    }
}

impl Display for NurseryInfo {
    /// The nursery's line, then one line per child (indented by two).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.render(f, "a task outside any RPC task")
    }
}

impl NurseryInfo {
    /// As `Display`, naming an owner outside any RPC task `unowned`.
    fn render(&self, f: &mut Formatter<'_>, unowned: &str) -> fmt::Result {
        let owner = self.owner.as_deref().unwrap_or(unowned);
        write!(f, "nursery of {owner}, open {}", age(self.age))?;
        if self.cancel_called {
            f.write_str(", cancelled")?;
        }
        if self.children.is_empty() {
            f.write_str(": no children")?;
        }
        for c in &self.children {
            write!(
                f,
                "\n  {} (uuid {}): {}, {}",
                c.aid,
                c.aid.uuid,
                c.state,
                age(c.age)
            )?;
        }
        Ok(())
    }
}

/// Writes `text`'s lines to `out`, each after `indent`.
fn indented(out: &mut String, indent: &str, text: impl Display) {
    for line in text.to_string().lines() {
        let _ = writeln!(out, "{indent}{line}");
    }
}

impl ActorSnapshot {
    /// The block of this actor's lines.
    fn block(&self) -> String {
        let mut out = String::new();
        let role = match (&self.parent, self.is_root) {
            (_, true) => "root".to_string(),
            (Some(p), false) => format!("child of {p}"),
            (None, false) => "no parent".to_string(),
        };
        let _ = write!(
            out,
            "actor {} (uuid {}, {role}), up {}",
            self.aid,
            self.aid.uuid,
            age(self.age)
        );
        if self.cancel_called {
            out.push_str(", cancelling");
        }
        out.push('\n');
        section(&mut out, "rpc tasks", &self.rpc_tasks);
        section(&mut out, "dialogs opened", &self.dialogs);
        // Outside any RPC task, a root's nursery is its body's.
        let unowned = if self.is_root {
            "the root's body"
        } else {
            "a task outside any RPC task"
        };
        let nurseries: Vec<_> = self.nurseries.iter().map(|n| Owned(n, unowned)).collect();
        section(&mut out, "nurseries", &nurseries);
        out
    }
}

/// A nursery rendered with the name of an owner outside any RPC task.
struct Owned<'a>(&'a NurseryInfo, &'a str);

impl Display for Owned<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.0.render(f, self.1)
    }
}

fn section<T: Display>(out: &mut String, title: &str, items: &[T]) {
    if items.is_empty() {
        let _ = writeln!(out, "  {title}: none");
        return;
    }
    let _ = writeln!(out, "  {title} ({}):", items.len());
    for item in items {
        indented(out, "    ", item);
    }
}

impl Display for ActorSnapshot {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.block())
    }
}

impl Display for TreeSnapshot {
    /// Every actor's block, depth first, each indented under its parent.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        for (depth, node) in self.walk() {
            let indent = "    ".repeat(depth);
            match node {
                Ok(actor) => indented(&mut out, &indent, actor.block()),
                Err((aid, why)) => {
                    indented(
                        &mut out,
                        &indent,
                        format_args!("actor {aid} (uuid {}): unreachable ({why})", aid.uuid),
                    );
                }
            }
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_a_person_writes_them() {
        assert_eq!(age(Duration::from_millis(850)), "850ms");
        assert_eq!(age(Duration::from_millis(3240)), "3.2s");
        assert_eq!(age(Duration::from_secs(245)), "4m05s");
        assert_eq!(age(Duration::from_secs(2 * 3600 + 7 * 60 + 3)), "2h07m");
    }
}
