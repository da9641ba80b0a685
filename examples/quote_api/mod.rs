//! The quote service's API, shared by the `quote_daemon` and `quote_client`
//! examples: both include this file (`#[path = "quote_api/mod.rs"] mod
//! quote_api;`), and its endpoints carry explicit wire names, so the two
//! binaries agree on them although each compiles its own copy.

use serde::{Deserialize, Serialize};

/// The name the daemon registers under, and the client looks up.
pub(crate) const DAEMON_NAME: &str = "quote_daemon";

/// The module part of the wire names below: what the daemon enables.
pub(crate) const MODULE: &str = "quote_api";

/// Why a quote is refused. Serializable, so the client can downcast it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub(crate) enum QuoteError {
    /// The symbol is not listed.
    #[error("unknown symbol {0:?}")]
    UnknownSymbol(String),
}

/// The price of `symbol`, or [`QuoteError::UnknownSymbol`].
#[tractor::endpoint(name = "quote_api::quote")]
pub(crate) async fn quote(symbol: String) -> Result<f64, QuoteError> {
    match symbol.as_str() {
        "TRCT" => Ok(42.5),
        "TOKIO" => Ok(101.25),
        "SERDE" => Ok(77.0),
        _ => Err(QuoteError::UnknownSymbol(symbol)),
    }
}
