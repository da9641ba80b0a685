//! Which spawn backend makes a tree's children.

use std::fmt;
use std::str::FromStr;

use super::exec::SpawnError;

/// How a child actor process comes to exist (tractor's `start_method`).
/// `TRACTOR_SPAWN_METHOD` wins over configuration.
///
/// ```
/// use tractor::SpawnMethod;
/// assert_eq!("exec".parse::<SpawnMethod>().unwrap(), SpawnMethod::Exec);
/// assert!("trio".parse::<SpawnMethod>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpawnMethod {
    /// Re-run the current executable in child mode (fork + exec): the
    /// child starts from a clean process image and finds its role in its
    /// environment.
    #[default]
    Exec,
}

impl SpawnMethod {
    /// The name `TRACTOR_SPAWN_METHOD` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            SpawnMethod::Exec => "exec",
        }
    }

    /// The method `TRACTOR_SPAWN_METHOD` names, if set: it wins over
    /// `configured`.
    pub(crate) fn effective(configured: SpawnMethod) -> Result<SpawnMethod, SpawnError> {
        match std::env::var(super::env::SPAWN_METHOD) {
            Ok(v) if !v.is_empty() => v.parse(),
            _ => Ok(configured),
        }
    }
}

impl FromStr for SpawnMethod {
    type Err = SpawnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "exec" => Ok(SpawnMethod::Exec),
            other => Err(SpawnError::UnknownMethod(other.to_string())),
        }
    }
}

impl fmt::Display for SpawnMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
