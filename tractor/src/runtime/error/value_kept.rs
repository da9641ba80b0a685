//! [`ValueKept`]: a scope's error with the value its body had returned.

use std::fmt;

use super::Error;

/// The error of a scope whose body had already returned a value, and the
/// value, kept: see [`Error::ValueKept`].
///
/// ```
/// # fn demo(mut e: tractor::Error) {
/// if let Some(total) = e.take_value::<u64>() {
///     println!("the body computed {total} before: {e}");
/// }
/// # }
/// ```
pub struct ValueKept {
    pub(super) error: Error,
    pub(super) type_name: &'static str,
    pub(super) value: std::sync::Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl ValueKept {
    /// The error that came after the body's value.
    pub fn error(&self) -> &Error {
        &self.error
    }

    /// Takes the body's value out, if it is a `T` (once).
    pub fn take<T: 'static>(&self) -> Option<T> {
        let mut slot = self.value.lock().unwrap_or_else(|p| p.into_inner());
        match slot.take()?.downcast::<T>() {
            Ok(v) => Some(*v),
            Err(other) => {
                *slot = Some(other);
                None
            }
        }
    }
}

impl fmt::Debug for ValueKept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ValueKept")
            .field("error", &self.error)
            .field("value_type", &self.type_name)
            .finish()
    }
}

impl fmt::Display for ValueKept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (the scope's body had already returned a `{}`; get it with Error::take_value)",
            self.error, self.type_name
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipc::Aid;

    #[test]
    fn the_value_comes_back_once_and_the_cause_shows_through() {
        let peer = Aid::new("p");
        let mut e = Error::keeping(Error::TransportClosed { peer }, 42u64);
        assert!(matches!(e.cause(), Error::TransportClosed { .. }));
        assert!(e.to_string().contains("already returned a `u64`"), "{e}");
        assert_eq!(e.take_value::<String>(), None);
        assert_eq!(e.take_value::<u64>(), Some(42));
        assert_eq!(e.take_value::<u64>(), None);
        let unit = Error::keeping(Error::NoRuntime, ());
        assert!(matches!(unit, Error::NoRuntime));
    }

    #[test]
    fn errors_are_send_and_sync() {
        fn check<T: Send + Sync + 'static>() {}
        check::<Error>();
    }
}
