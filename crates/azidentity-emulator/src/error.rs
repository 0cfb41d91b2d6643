//! The emulator's error type, for the library API and the launcher.

use std::fmt;
use std::io;

/// What went wrong, for callers that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Binding a port, reading or writing a file, making keys or certificates.
    Io,
    /// A configuration the emulator cannot serve: a PEM without a certificate, a bad
    /// configuration file, an unusable directory.
    Config,
    /// A control request names something that is not registered: a user, an application, a
    /// device code.
    NotFound,
    /// A control request that Entra would refuse too: an unregistered redirect URI, a scope
    /// of several resources.
    Refused,
    /// A token that does not verify: not signed by this emulator, expired, malformed.
    InvalidToken,
}

/// An error of the emulator's API: a kind, a message that says what happened, and the I/O
/// error behind it when there is one.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    source: Option<io::Error>,
}

/// The emulator's `Result`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// An I/O failure while doing `what` (e.g. "binding 127.0.0.1:8443").
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self {
            kind: ErrorKind::Io,
            message: what.into(),
            source: Some(source),
        }
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Config, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }

    pub(crate) fn invalid_token(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidToken, message)
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// What happened, without the source's text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            Some(source) => write!(f, "{}: {source}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<io::Error> for Error {
    fn from(source: io::Error) -> Self {
        Self {
            kind: ErrorKind::Io,
            message: "I/O error".to_owned(),
            source: Some(source),
        }
    }
}

/// So code written when `start` returned `io::Result` keeps compiling with `?`.
impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match (&error.source, error.kind) {
            (Some(source), _) => source.kind(),
            (None, ErrorKind::NotFound) => io::ErrorKind::NotFound,
            (None, ErrorKind::Config | ErrorKind::Refused | ErrorKind::InvalidToken) => {
                io::ErrorKind::InvalidInput
            }
            (None, ErrorKind::Io) => io::ErrorKind::Other,
        };
        io::Error::new(kind, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_conversions() {
        let error = Error::io("binding 127.0.0.1:1", io::Error::other("in use"));
        assert_eq!(error.to_string(), "binding 127.0.0.1:1: in use");
        assert_eq!(error.kind(), ErrorKind::Io);
        assert!(std::error::Error::source(&error).is_some());
        let io: io::Error = Error::not_found("no user").into();
        assert_eq!(io.kind(), io::ErrorKind::NotFound);
        assert_eq!(io.to_string(), "no user");
    }
}
