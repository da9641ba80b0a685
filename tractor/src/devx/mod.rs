//! Developer experience: logging, and test support.

pub(crate) mod survivors;
