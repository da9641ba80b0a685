//! Bounded `Display` of peer-supplied values, for logging.

use std::fmt;

/// Shows at most `max` bytes of a value's `Display`, then `…`: how a
/// peer-supplied value is logged from a message loop, whose cost must
/// not grow with what the peer sent.
pub(crate) struct Clipped<'a, T: ?Sized>(pub &'a T, pub usize);

impl<T: fmt::Display + ?Sized> fmt::Display for Clipped<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut w = Budget {
            out: f,
            left: self.1,
            clipped: false,
        };
        match fmt::write(&mut w, format_args!("{}", self.0)) {
            Ok(()) => Ok(()),
            // Stopped by the budget, not by the formatter: say so.
            Err(_) if w.clipped => w.out.write_str("…"),
            Err(e) => Err(e),
        }
    }
}

/// A writer that forwards up to `left` bytes, then stops the formatting.
struct Budget<'a, 'b> {
    out: &'a mut fmt::Formatter<'b>,
    left: usize,
    clipped: bool,
}

impl fmt::Write for Budget<'_, '_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if s.len() <= self.left {
            self.left -= s.len();
            return self.out.write_str(s);
        }
        let mut end = self.left;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        self.out.write_str(&s[..end])?;
        self.left = 0;
        self.clipped = true;
        Err(fmt::Error)
    }
}

#[cfg(test)]
mod tests {
    use super::Clipped;

    #[test]
    fn clipped_stops_at_its_budget_on_a_char_boundary() {
        assert_eq!(Clipped("short", 10).to_string(), "short");
        assert_eq!(Clipped("abcdef", 3).to_string(), "abc…");
        assert_eq!(Clipped("ééé", 3).to_string(), "é…");
        let huge = "x".repeat(1 << 20);
        assert_eq!(
            Clipped(huge.as_str(), 8).to_string().len(),
            8 + '…'.len_utf8()
        );
    }
}
