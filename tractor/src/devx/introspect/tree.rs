//! A whole (sub)tree's snapshot: an actor's, then each child's subtree
//! or why it could not be had.
//!
//! On the wire a tree is flat: its actors in depth-first order, each with
//! its depth. Decoding rebuilds the nesting with a loop and refuses a tree
//! deeper than [`MAX_DEPTH`], so a peer's answer can never drive a
//! recursion (in the decoder, or in `Drop`) deeper than that.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::model::ActorSnapshot;
use crate::ipc::Aid;

/// The deepest tree a snapshot holds (levels below its top actor).
pub(crate) const MAX_DEPTH: u32 = 32;

/// An actor's snapshot and, for each of its children, the child's own
/// subtree, or why it is missing. Its `Display` is the indented text a
/// task dump prints, actor by actor.
///
/// ```no_run
/// # async fn demo(root: tractor::Portal) -> Result<(), tractor::Error> {
/// use tractor::introspect::Subtree;
/// let tree = root.run(tractor::introspect::tree::call()).await?;
/// eprintln!("{tree}");
/// for child in &tree.children {
///     if let Subtree::Unreachable { aid, why } = child {
///         eprintln!("{aid} did not answer: {why}");
///     }
/// }
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct TreeSnapshot {
    /// The actor at the top.
    pub actor: ActorSnapshot,
    /// Its children, in the order they were spawned.
    pub children: Vec<Subtree>,
}

/// A child's part of a [`TreeSnapshot`].
///
/// ```no_run
/// # fn demo(tree: &tractor::introspect::TreeSnapshot) {
/// use tractor::introspect::Subtree;
/// let answered = tree.children.iter().filter(|c| matches!(c, Subtree::Reached(_))).count();
/// println!("{answered} of {} children answered", tree.children.len());
/// # }
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Subtree {
    /// The child answered with its subtree.
    Reached(TreeSnapshot),
    /// The child did not answer (it is wedged, booting, exiting, or below
    /// the dump's depth limit).
    Unreachable {
        /// The child.
        aid: Aid,
        /// Why it is missing.
        why: String,
    },
}

/// One entry of a tree's depth-first walk: its depth (0 for the top
/// actor) and the actor's snapshot, or an unreachable child and why.
pub(crate) type Visit<'a> = (usize, Result<&'a ActorSnapshot, (&'a Aid, &'a str)>);

impl TreeSnapshot {
    /// Every actor that answered, depth first from the top one.
    ///
    /// ```no_run
    /// # fn demo(tree: &tractor::introspect::TreeSnapshot) {
    /// let pids: Vec<u32> = tree.actors().iter().map(|a| a.aid.pid).collect();
    /// println!("the tree's processes: {pids:?}");
    /// # }
    /// ```
    pub fn actors(&self) -> Vec<&ActorSnapshot> {
        self.walk()
            .into_iter()
            .filter_map(|(_, n)| n.ok())
            .collect()
    }

    /// The tree depth first, each actor with its depth.
    pub(crate) fn walk(&self) -> Vec<Visit<'_>> {
        let mut out = Vec::new();
        // An explicit stack: a tree's depth is bounded, but its walk
        // needs no recursion at all.
        let mut stack: Vec<(usize, &Subtree)> = Vec::new();
        out.push((0, Ok(&self.actor)));
        stack.extend(self.children.iter().rev().map(|c| (1, c)));
        while let Some((depth, node)) = stack.pop() {
            match node {
                Subtree::Reached(t) => {
                    out.push((depth, Ok(&t.actor)));
                    stack.extend(t.children.iter().rev().map(|c| (depth + 1, c)));
                }
                Subtree::Unreachable { aid, why } => out.push((depth, Err((aid, why.as_str())))),
            }
        }
        out
    }

    /// How many levels lie below the top actor.
    pub(crate) fn depth(&self) -> usize {
        self.walk().iter().map(|(d, _)| *d).max().unwrap_or(0)
    }
}

/// One actor of a flattened tree (borrowed, to encode).
#[derive(Serialize)]
enum NodeRef<'a> {
    Actor(&'a ActorSnapshot),
    Unreachable { aid: &'a Aid, why: &'a str },
}

/// One actor of a flattened tree (owned, decoded).
#[derive(Deserialize)]
enum Node {
    Actor(ActorSnapshot),
    Unreachable { aid: Aid, why: String },
}

impl Serialize for TreeSnapshot {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let flat: Vec<(u32, NodeRef<'_>)> = self
            .walk()
            .into_iter()
            .map(|(depth, node)| {
                let node = match node {
                    Ok(a) => NodeRef::Actor(a),
                    Err((aid, why)) => NodeRef::Unreachable { aid, why },
                };
                (u32::try_from(depth).unwrap_or(u32::MAX), node)
            })
            .collect();
        flat.serialize(s)
    }
}

impl<'de> Deserialize<'de> for TreeSnapshot {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let flat = Vec::<(u32, Node)>::deserialize(d)?;
        unflatten(flat).map_err(D::Error::custom)
    }
}

/// Rebuilds a tree from its depth-first list, checking its shape: one
/// top actor at depth 0, each next one at most a level deeper than the
/// one before and under an actor (not under an unreachable child), and
/// no deeper than [`MAX_DEPTH`].
fn unflatten(flat: Vec<(u32, Node)>) -> Result<TreeSnapshot, String> {
    let mut it = flat.into_iter();
    let top = match it.next() {
        Some((0, Node::Actor(a))) => a,
        _ => return Err("a tree snapshot must start with its top actor at depth 0".into()),
    };
    // The open path from the top: stack[i] is the actor at depth i.
    let mut stack = vec![TreeSnapshot {
        actor: top,
        children: Vec::new(),
    }];
    for (depth, node) in it {
        let depth = depth as usize;
        if depth == 0 || depth > stack.len() || depth > MAX_DEPTH as usize {
            return Err(format!(
                "a tree snapshot entry at depth {depth} does not fit (at most {} here, {MAX_DEPTH} in all)",
                stack.len().min(MAX_DEPTH as usize)
            ));
        }
        close_to(&mut stack, depth);
        match node {
            Node::Actor(actor) => stack.push(TreeSnapshot {
                actor,
                children: Vec::new(),
            }),
            Node::Unreachable { aid, why } => {
                if let Some(parent) = stack.last_mut() {
                    parent.children.push(Subtree::Unreachable { aid, why });
                }
            }
        }
    }
    close_to(&mut stack, 1);
    stack
        .pop()
        .ok_or_else(|| "a tree snapshot lost its top actor".to_string())
}

/// Closes the open path down to `len` actors, each closed one becoming
/// its parent's latest child.
fn close_to(stack: &mut Vec<TreeSnapshot>, len: usize) {
    while stack.len() > len {
        let Some(done) = stack.pop() else { return };
        if let Some(parent) = stack.last_mut() {
            parent.children.push(Subtree::Reached(done));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn actor(name: &str) -> ActorSnapshot {
        ActorSnapshot {
            aid: Aid::new(name),
            parent: None,
            is_root: false,
            age: Duration::from_millis(1500),
            cancel_called: false,
            rpc_tasks: Vec::new(),
            dialogs: Vec::new(),
            nurseries: Vec::new(),
        }
    }

    fn leaf(name: &str) -> Subtree {
        Subtree::Reached(TreeSnapshot {
            actor: actor(name),
            children: Vec::new(),
        })
    }

    #[test]
    fn a_tree_survives_the_wire() {
        let tree = TreeSnapshot {
            actor: actor("root"),
            children: vec![
                Subtree::Reached(TreeSnapshot {
                    actor: actor("a"),
                    children: vec![
                        leaf("a1"),
                        Subtree::Unreachable {
                            aid: Aid::new("a2"),
                            why: "timeout".into(),
                        },
                    ],
                }),
                leaf("b"),
            ],
        };
        let bytes = postcard::to_stdvec(&tree).unwrap();
        let back: TreeSnapshot = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, tree);
        assert_eq!(back.depth(), 2);
        let names: Vec<_> = back
            .walk()
            .iter()
            .map(|(d, n)| {
                (
                    *d,
                    n.map_or_else(|(a, _)| a.name.clone(), |a| a.aid.name.clone()),
                )
            })
            .collect();
        let want = [(0, "root"), (1, "a"), (2, "a1"), (2, "a2"), (1, "b")];
        assert_eq!(names, want.map(|(d, n)| (d, n.to_string())));
    }

    fn decode(flat: Vec<(u32, Node)>) -> Result<TreeSnapshot, String> {
        unflatten(flat)
    }

    #[test]
    fn a_malformed_or_too_deep_tree_is_refused() {
        let a = || Node::Actor(actor("x"));
        let gone = || Node::Unreachable {
            aid: Aid::new("y"),
            why: String::new(),
        };
        assert!(decode(vec![]).is_err());
        assert!(decode(vec![(1, a())]).is_err());
        assert!(decode(vec![(0, gone())]).is_err());
        assert!(decode(vec![(0, a()), (0, a())]).is_err());
        assert!(decode(vec![(0, a()), (2, a())]).is_err());
        // Nothing lives under an unreachable child.
        assert!(decode(vec![(0, a()), (1, gone()), (2, a())]).is_err());
        let chain: Vec<_> = (0..=MAX_DEPTH).map(|d| (d, a())).collect();
        assert_eq!(decode(chain).unwrap().depth(), MAX_DEPTH as usize);
        let deeper: Vec<_> = (0..=MAX_DEPTH + 1).map(|d| (d, a())).collect();
        assert!(decode(deeper).is_err());
    }
}
