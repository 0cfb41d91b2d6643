//! The one error type. Its kind carries the chain rule: `CredentialUnavailable` and
//! `AuthenticationRequired` mean "could not even try" (a chain moves on); every other kind stops a
//! chain.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// What went wrong, at the level a caller (or a credential chain) acts on.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The credential could not attempt authentication (not configured, tool missing, endpoint
    /// absent). A chain tries the next credential. Python: `CredentialUnavailableError`.
    CredentialUnavailable,
    /// Authentication was attempted and failed. A chain stops. Python: `ClientAuthenticationError`.
    AuthenticationFailed,
    /// User interaction is required; call the credential's `authenticate`. A chain moves on.
    /// Python: `AuthenticationRequiredError`.
    AuthenticationRequired {
        /// The scopes that were requested.
        scopes: Vec<String>,
        /// The claims challenge, if any.
        claims: Option<String>,
    },
    /// The configuration is invalid (bad tenant id, non-https authority, empty secret). Python
    /// raises `ValueError` for these; a chain stops.
    InvalidConfiguration,
    /// Every member of a credential chain failed or was unavailable; one attempt per member.
    Chain(Vec<ChainAttempt>),
}

/// One member's outcome inside a chain error.
#[derive(Debug, Clone)]
pub struct ChainAttempt {
    /// The member credential's name.
    pub credential: String,
    /// Why it did not produce a token.
    pub error: Error,
}

/// What Microsoft Entra ID (or another token service) said when it refused a request.
#[derive(Debug, Clone, Default)]
pub struct HttpErrorDetails {
    /// HTTP status code.
    pub status: u16,
    /// The OAuth `error` value, e.g. `invalid_client`.
    pub error: Option<String>,
    /// Entra's `error_codes`, e.g. `[7000215]` (shown as AADSTS7000215).
    pub error_codes: Vec<i64>,
    /// The `error_description`, with any token values removed.
    pub description: Option<String>,
    /// Entra's correlation id, quoted when asking Microsoft for help.
    pub correlation_id: Option<String>,
    /// Entra's trace id.
    pub trace_id: Option<String>,
    /// The response body with token values replaced by `***`, cut to a few kilobytes.
    pub body: String,
}

impl HttpErrorDetails {
    /// The first error code as Entra prints it, e.g. `AADSTS7000215`.
    pub fn aadsts(&self) -> Option<String> {
        self.error_codes.first().map(|c| format!("AADSTS{c}"))
    }
}

/// An authentication error: its kind, the credential that raised it, and a message that says
/// what happened and what to do. Never contains a token, secret, assertion or password.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    credential: Cow<'static, str>,
    message: String,
    http: Option<Box<HttpErrorDetails>>,
    source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl Error {
    /// A new error. Custom credentials use this; the message must not contain secrets.
    pub fn new(
        kind: ErrorKind,
        credential: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        let error = Error {
            kind,
            credential: credential.into(),
            message: message.into(),
            http: None,
            source: None,
        };
        error.trace("error created");
        error
    }

    /// Every error shows at TRACE (target `azidentity::error`) as it is made and as details are
    /// attached, including those a chain swallows; the test harness's leak scan searches these
    /// lines, so what errors print is scanned wherever they go.
    fn trace(&self, event: &'static str) {
        tracing::trace!(target: "azidentity::error", error = %self, debug = ?self, "{event}");
    }

    pub(crate) fn unavailable(credential: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::CredentialUnavailable, credential, message)
    }

    pub(crate) fn failed(credential: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::AuthenticationFailed, credential, message)
    }

    pub(crate) fn config(credential: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidConfiguration, credential, message)
    }

    /// Attaches what the token service answered.
    pub fn with_http(mut self, details: HttpErrorDetails) -> Self {
        self.http = Some(Box::new(details));
        self.trace("error details attached");
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// Re-labels the error as raised by another credential (a wrapper such as
    /// `EnvironmentCredential` reporting its inner credential's failure).
    pub(crate) fn in_credential(mut self, credential: &'static str) -> Self {
        self.credential = Cow::Borrowed(credential);
        self
    }

    /// Turns the error into `CredentialUnavailable`, keeping its message (developer tools inside
    /// `DefaultAzureCredential` do this so the chain goes on).
    pub fn into_unavailable(mut self) -> Self {
        self.kind = ErrorKind::CredentialUnavailable;
        self
    }

    /// The kind, which decides whether a chain goes on.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The name of the credential that raised it.
    pub fn credential(&self) -> &str {
        &self.credential
    }

    /// The human message (without the credential name).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What the token service answered, when the failure came from an HTTP response.
    pub fn http(&self) -> Option<&HttpErrorDetails> {
        self.http.as_deref()
    }

    /// True when a chain should try its next credential.
    pub fn is_unavailable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::CredentialUnavailable | ErrorKind::AuthenticationRequired { .. }
        )
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("credential", &self.credential)
            .field("message", &self.message)
            .field("http", &self.http)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.credential, self.message)?;
        if let ErrorKind::Chain(attempts) = &self.kind {
            f.write_str("\nAttempted credentials:")?;
            for attempt in attempts {
                let text = attempt.error.to_string().replace('\n', "\n\t");
                let text = text
                    .strip_prefix(&format!("{}: ", attempt.credential))
                    .unwrap_or(&text);
                write!(f, "\n\t{}: {}", attempt.credential, text)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_display_lists_every_attempt() {
        let a = Error::unavailable("EnvironmentCredential", "not configured");
        let b = Error::failed("ClientSecretCredential", "HTTP 401\nline two");
        let chain = Error::new(
            ErrorKind::Chain(vec![
                ChainAttempt {
                    credential: a.credential().into(),
                    error: a,
                },
                ChainAttempt {
                    credential: b.credential().into(),
                    error: b,
                },
            ]),
            "ChainedTokenCredential",
            "failed to retrieve a token from the included credentials.",
        );
        let text = chain.to_string();
        assert!(text.contains("Attempted credentials:\n\tEnvironmentCredential: not configured"));
        assert!(text.contains("\n\tClientSecretCredential: HTTP 401\n\tline two"));
        assert!(!chain.is_unavailable());
    }

    #[test]
    fn unavailable_kinds_let_a_chain_continue() {
        assert!(Error::unavailable("X", "m").is_unavailable());
        let required = ErrorKind::AuthenticationRequired {
            scopes: vec![],
            claims: None,
        };
        assert!(Error::new(required, "X", "m").is_unavailable());
        assert!(!Error::config("X", "m").is_unavailable());
    }
}
