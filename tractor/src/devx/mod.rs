//! Developer experience: logging, and test support.

pub mod log;
pub mod survivors;
