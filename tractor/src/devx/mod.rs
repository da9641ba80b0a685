//! Developer experience: what helps a person look at a tree: the
//! multi-process debugger ([`debug`]), task-tree dumps ([`introspect`]),
//! and the survivor check every test runs (`tractor::testing`). Logging
//! setup is not here: it is low (in the runtime), since every layer logs.

pub(crate) mod debug;
pub(crate) mod introspect;
pub(crate) mod survivors;
