//! [`MultiError`]: every failure of one nursery, none dropped.

use std::fmt;

use super::Error;
use crate::ipc::Aid;

/// Several children of one nursery failed. Each error is kept with the
/// actor it belongs to, in the order the children were spawned.
///
/// ```
/// use tractor::{Aid, Error, MultiError};
/// let m = MultiError {
///     errors: vec![(Aid::new("a"), Error::custom("x")), (Aid::new("b"), Error::custom("y"))],
/// };
/// // Report every child's failure, not just the first:
/// for (actor, e) in &m.errors {
///     eprintln!("{} failed: {e}", actor.name);
/// }
/// assert!(m.to_string().starts_with("ActorNursery errored with 2 errors"));
/// ```
#[derive(Debug)]
pub struct MultiError {
    /// `(actor, error)` pairs; the nursery's own body error is keyed by the local actor.
    pub errors: Vec<(Aid, Error)>,
}

impl fmt::Display for MultiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ActorNursery errored with {} errors:", self.errors.len())?;
        for (aid, e) in &self.errors {
            write!(f, "\n  - {aid}: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MultiError {}
