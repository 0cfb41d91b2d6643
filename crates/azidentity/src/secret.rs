//! A string that must never be shown: tokens, client secrets, passwords, assertions.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroize;

/// A secret string. `Debug` and `Display` print `***`, never the value, and the memory is zeroed
/// when the last clone is dropped.
///
/// Clones share one allocation, so handing a cached token to many callers costs a reference count,
/// not a copy of the token.
#[derive(Clone)]
pub struct Secret(Arc<Inner>);

struct Inner(String);

impl Drop for Inner {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::new(Inner(value.into())))
    }

    /// The value itself. Keep it out of logs and error messages.
    pub fn secret(&self) -> &str {
        &self.0.0
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.0.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret::new(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl PartialEq for Secret {
    /// Compares in time independent of where the values differ.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (self.secret().as_bytes(), other.secret().as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_value() {
        let s = Secret::new("hunter2-value");
        assert_eq!(format!("{s}"), "***");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.secret(), "hunter2-value");
        assert_eq!(Secret::from("a"), Secret::from(String::from("a")));
        assert_ne!(Secret::from("a"), Secret::from("b"));
    }
}
