//! Where a tree's registrar is: the default address and the
//! `TRACTOR_REGISTRY_ADDR` override, in one place for the runtime and for
//! tools (the `tractor` CLI reads them through the same functions).

use crate::ipc::{Addr, TransportKind};
use crate::runtime::error::{ConfigError, Error};

/// The environment variable that sets the registry addresses
/// (comma-separated); it wins over configuration, like `TRACTOR_LOGLEVEL`.
///
/// ```
/// assert_eq!(tractor::discovery::REGISTRY_ADDR_ENV, "TRACTOR_REGISTRY_ADDR");
/// ```
pub const REGISTRY_ADDR_ENV: &str = "TRACTOR_REGISTRY_ADDR";

/// The default registry address for a transport: `127.0.0.1:1616`, or
/// `registry@1616.sock` in the unix-socket bindspace.
///
/// ```
/// use tractor::{Addr, TransportKind};
/// let a = tractor::discovery::default_registry_addr(TransportKind::Tcp);
/// assert_eq!(a, "tcp://127.0.0.1:1616".parse::<Addr>().unwrap());
/// ```
pub fn default_registry_addr(t: TransportKind) -> Addr {
    match t {
        TransportKind::Tcp => Addr::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 1616))),
        TransportKind::Uds => {
            Addr::Uds(crate::ipc::uds::uds_bindspace().join("registry@1616.sock"))
        }
    }
}

/// The registry addresses `TRACTOR_REGISTRY_ADDR` names, if it is set and
/// not empty; a malformed one is an error naming the variable.
///
/// ```
/// // SAFETY: a doc test is single-threaded here.
/// unsafe { std::env::remove_var(tractor::discovery::REGISTRY_ADDR_ENV) };
/// assert_eq!(tractor::discovery::registry_addrs_from_env().unwrap(), None);
/// ```
pub fn registry_addrs_from_env() -> Result<Option<Vec<Addr>>, Error> {
    match std::env::var(REGISTRY_ADDR_ENV) {
        Ok(v) => parse_registry_addrs(&v).map_err(Error::from),
        Err(_) => Ok(None),
    }
}

/// Parses a comma-separated list of registry addresses (`None` if it
/// names none).
pub(crate) fn parse_registry_addrs(v: &str) -> Result<Option<Vec<Addr>>, ConfigError> {
    let addrs = v
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<Addr>().map_err(|e| ConfigError::RegistryEnv {
                value: s.to_string(),
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((!addrs.is_empty()).then_some(addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_and_name_the_bad_entry() {
        let two = parse_registry_addrs("127.0.0.1:1, uds:///tmp/r.sock").unwrap();
        assert_eq!(two.map(|v| v.len()), Some(2));
        assert_eq!(parse_registry_addrs(" , ").unwrap(), None);
        let err = parse_registry_addrs("127.0.0.1:1,nope").unwrap_err();
        assert!(err.to_string().contains("`nope`"), "{err}");
    }
}
