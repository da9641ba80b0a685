//! Developer experience: what helps a person look at a tree. Today the
//! survivor check every test runs (`tractor::testing`); the debugger and
//! task dumps come here. Logging setup is not here: it is low (in the
//! runtime), since every layer logs.

pub(crate) mod survivors;
