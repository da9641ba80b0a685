//! Developer experience: what helps a person look at a tree. The survivor
//! check every test runs (`tractor::testing`) and task dumps
//! (`tractor::introspect`, and `SIGUSR1`); the debugger comes here.
//! Logging setup is not here: it is low (in the runtime), since every
//! layer logs.

pub(crate) mod introspect;
pub(crate) mod survivors;
