//! Compile-fail and compile-pass tests of tractor's macros: see `tests/ui.rs`.
