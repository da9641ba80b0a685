//! The multi-process integration suite: real actor processes over real
//! sockets. Every `#[tractor::test]` has a deadline and fails if any
//! process of its tree survives it. Each scenario runs over TCP and over
//! unix sockets.

mod common;
#[path = "../support/hosts.rs"]
mod hosts_support;
#[path = "../support/wait.rs"]
mod wait;

mod auth;
mod backends;
mod cancellation;
mod cluster;
mod connections;
mod contexts;
mod cross_binary;
mod debug_mode;
mod discovery;
mod errors;
mod exhaustion;
mod foreign;
mod fuzz;
mod hostile;
mod hosts;
mod introspect;
mod ipc_robustness;
mod isolated;
mod kill9;
mod lifetime;
mod own_runtime;
mod resources;
mod rpc;
mod shm_lane;
mod spawning;
mod supervision;
mod tls;
mod trace;
