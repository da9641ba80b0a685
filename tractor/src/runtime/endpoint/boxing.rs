//! Boxing an endpoint's error value for the wire, most specific first.

use serde::Serialize;

use super::local_error::{LocalError, box_tractor_error, chain_of};

/// Autoref-specialised boxing of an endpoint's error value, most specific
/// first: a tractor error is relayed; a `Serialize + Error` keeps its value
/// for `downcast`; an `Error` keeps its source chain; anything `Display`
/// keeps its message. Used by generated code as
/// `(&&&&ErrorProbe(&e)).box_error()`.
pub struct ErrorProbe<'a, E>(pub &'a E);

impl<E> std::fmt::Debug for ErrorProbe<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ErrorProbe<{}>", std::any::type_name::<E>())
    }
}

/// Level 4: `tractor::Error`.
pub trait BoxTractorError {
    /// Boxes.
    fn box_error(&self) -> LocalError;
}
impl BoxTractorError for &&&ErrorProbe<'_, crate::Error> {
    fn box_error(&self) -> LocalError {
        box_tractor_error(self.0)
    }
}

/// Level 3: serializable errors.
pub trait BoxSerializableError {
    /// Boxes.
    fn box_error(&self) -> LocalError;
}
impl<E: Serialize + std::error::Error + 'static> BoxSerializableError for &&ErrorProbe<'_, E> {
    fn box_error(&self) -> LocalError {
        LocalError::Raised {
            ty: std::any::type_name::<E>().into(),
            message: self.0.to_string(),
            chain: chain_of(self.0),
            value: postcard::to_stdvec(self.0).ok(),
            grouped: Vec::new(),
        }
    }
}

/// Level 2: `std::error::Error`.
pub trait BoxStdError {
    /// Boxes.
    fn box_error(&self) -> LocalError;
}
impl<E: std::error::Error + 'static> BoxStdError for &ErrorProbe<'_, E> {
    fn box_error(&self) -> LocalError {
        LocalError::Raised {
            ty: std::any::type_name::<E>().into(),
            message: self.0.to_string(),
            chain: chain_of(self.0),
            value: None,
            grouped: Vec::new(),
        }
    }
}

/// What an endpoint's error type must be: `Display`, so the caller gets
/// its message. A separate trait so a violation gets a message that says
/// what to do instead of "no method `box_error`".
#[diagnostic::on_unimplemented(
    message = "the error type `{Self}` of an endpoint must implement `std::fmt::Display`",
    label = "`{Self}` is not `Display`",
    note = "the caller gets the error as a `RemoteActorError` carrying its message: implement `Display` for `{Self}` or derive `thiserror::Error` (with serde's `Serialize` too, the caller can downcast it)"
)]
pub trait EndpointErrorDisplay: std::fmt::Display {}
impl<T: std::fmt::Display + ?Sized> EndpointErrorDisplay for T {}

/// Level 1: anything `Display` (`String`, `&str`, ...). Applies to every
/// `E` and asks for `Display` only once picked, so a bad error type gets
/// the [`EndpointErrorDisplay`] message.
pub trait BoxDisplayError<E> {
    /// Boxes.
    fn box_error(&self) -> LocalError
    where
        E: EndpointErrorDisplay;
}
impl<E> BoxDisplayError<E> for ErrorProbe<'_, E> {
    fn box_error(&self) -> LocalError
    where
        E: EndpointErrorDisplay,
    {
        LocalError::new(std::any::type_name::<E>(), self.0.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize, PartialEq)]
    struct Oops(u8);
    impl std::fmt::Display for Oops {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "oops {}", self.0)
        }
    }
    impl std::error::Error for Oops {}

    fn ty(l: LocalError) -> (String, bool) {
        match l {
            LocalError::Raised { ty, value, .. } => (ty, value.is_some()),
            LocalError::Relayed(_) => ("relayed".into(), false),
        }
    }

    // The extra borrows are the point: they are how generated code picks
    // the most specific boxing.
    #[test]
    #[allow(clippy::needless_borrow)]
    fn probe_picks_most_specific() {
        let e = Oops(3);
        let (t, v) = ty((&&&&ErrorProbe(&e)).box_error());
        assert!(t.ends_with("Oops") && v);
        let io = std::io::Error::other("x");
        let (t, v) = ty((&&&&ErrorProbe(&io)).box_error());
        assert_eq!((t.as_str(), v), ("std::io::error::Error", false));
        let s = String::from("plain");
        let (t, _) = ty((&&&&ErrorProbe(&s)).box_error());
        assert_eq!(t, "alloc::string::String");
    }
}
