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
#[non_exhaustive]
pub struct ChainAttempt {
    /// The member credential's name.
    pub credential: String,
    /// Why it did not produce a token.
    pub error: Error,
}

/// What Microsoft Entra ID (or another token service) said when it refused a request.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
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

/// Why a credential gave no token, as a closed set a program can act on (`azid doctor` picks
/// its advice from it). Messages are for people and may be reworded; [`ErrorReason::code`] is
/// stable: a code, once published, keeps its meaning. Read it with [`Error::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorReason {
    /// Environment variables the credential needs are not set, or only some of them are.
    VariablesMissing,
    /// The developer tool (`az`, `azd`, `pwsh`, or PowerShell's Az.Accounts module) is not
    /// installed.
    ToolNotFound,
    /// Nobody is signed in to the tool (`az login`, `azd auth login`, `Connect-AzAccount`, VS
    /// Code), or the signed-in account's refresh token is gone.
    NotSignedIn,
    /// A tool did not finish in time and was stopped.
    TimedOut,
    /// No managed identity endpoint answered at the IMDS address: not an Azure VM (or a proxy,
    /// such as Docker Desktop's, refused).
    ImdsUnreachable,
    /// The managed identity endpoint answered that no (such) identity is assigned to the host.
    IdentityNotFound,
    /// The token cache holds several accounts and nothing says which one to use.
    MultipleAccounts,
    /// The token cache holds no account, or none matching the requested username and tenant.
    NoAccount,
    /// The persistent token cache does not exist or could not be read.
    CacheUnavailable,
    /// A claims challenge (e.g. multi-factor authentication) needs an interactive sign-in the
    /// tool cannot do silently; the message names the command to run.
    ClaimsChallenge,
    /// The sign-in is reachable only through the Windows authentication broker (VS Code).
    BrokerRequired,
    /// No browser could be opened, or the loopback redirect server could not start.
    BrowserUnavailable,
    /// The tool ran and failed for a reason not listed here (its output is in the message).
    ToolFailed,
    /// No HTTP answer arrived: connection refused, DNS, TLS, a timeout, an oversized body.
    NoResponse,
    /// Microsoft Entra ID refused the request with this AADSTS error code (e.g. 7000215 for an
    /// invalid client secret).
    Aadsts(u32),
    /// A token service answered with an HTTP error that carries no AADSTS code.
    ServiceError,
    /// The configuration is invalid ([`ErrorKind::InvalidConfiguration`]).
    InvalidConfiguration,
    /// User interaction is required ([`ErrorKind::AuthenticationRequired`]).
    InteractionRequired,
    /// Every member of a credential chain failed ([`ErrorKind::Chain`]); each attempt has its
    /// own reason.
    Chain,
    /// None of the above.
    Other,
}

impl ErrorReason {
    /// The stable, machine-readable code: `snake_case`, e.g. `tool_not_found`; `aadsts` for
    /// every [`ErrorReason::Aadsts`] (the number is in [`ErrorReason::aadsts`]).
    pub fn code(self) -> &'static str {
        match self {
            ErrorReason::VariablesMissing => "variables_missing",
            ErrorReason::ToolNotFound => "tool_not_found",
            ErrorReason::NotSignedIn => "not_signed_in",
            ErrorReason::TimedOut => "timed_out",
            ErrorReason::ImdsUnreachable => "imds_unreachable",
            ErrorReason::IdentityNotFound => "identity_not_found",
            ErrorReason::MultipleAccounts => "multiple_accounts",
            ErrorReason::NoAccount => "no_account",
            ErrorReason::CacheUnavailable => "cache_unavailable",
            ErrorReason::ClaimsChallenge => "claims_challenge",
            ErrorReason::BrokerRequired => "broker_required",
            ErrorReason::BrowserUnavailable => "browser_unavailable",
            ErrorReason::ToolFailed => "tool_failed",
            ErrorReason::NoResponse => "no_response",
            ErrorReason::Aadsts(_) => "aadsts",
            ErrorReason::ServiceError => "service_error",
            ErrorReason::InvalidConfiguration => "invalid_configuration",
            ErrorReason::InteractionRequired => "interaction_required",
            ErrorReason::Chain => "chain",
            ErrorReason::Other => "other",
        }
    }

    /// The AADSTS code as Entra prints it (`AADSTS7000215`), for [`ErrorReason::Aadsts`].
    pub fn aadsts(self) -> Option<String> {
        match self {
            ErrorReason::Aadsts(code) => Some(format!("AADSTS{code}")),
            _ => None,
        }
    }

    /// The first `AADSTS<digits>` in a tool's output (az and azd print Entra's refusal as
    /// text), so the reason of a tool failure says what Entra said.
    pub(crate) fn aadsts_in(text: &str) -> Option<ErrorReason> {
        let at = text.find("AADSTS")?;
        let digits: String = text[at + 6..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().ok().map(ErrorReason::Aadsts)
    }
}

impl fmt::Display for ErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.aadsts() {
            Some(code) => f.write_str(&code),
            None => f.write_str(self.code()),
        }
    }
}

/// An authentication error: its kind, the credential that raised it, its reason, and a message
/// that says what happened and what to do. Never contains a token, secret, assertion or
/// password.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    credential: Cow<'static, str>,
    message: Box<str>,
    reason: Option<ErrorReason>,
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
            message: message.into().into_boxed_str(),
            reason: None,
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

    /// Says why, for programs (see [`ErrorReason`]); without it, [`Error::reason`] derives one
    /// from the service's answer, the cause or the kind.
    pub fn with_reason(mut self, reason: ErrorReason) -> Self {
        self.reason = Some(reason);
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

    /// Why, as a closed set (stable codes for programs; the message is for people). Set where
    /// the error is made; otherwise: the AADSTS code of the service's answer, any other HTTP
    /// error as [`ErrorReason::ServiceError`], no answer at all as [`ErrorReason::NoResponse`],
    /// then by kind, else [`ErrorReason::Other`].
    pub fn reason(&self) -> ErrorReason {
        if let Some(reason) = self.reason {
            return reason;
        }
        match &self.kind {
            ErrorKind::InvalidConfiguration => return ErrorReason::InvalidConfiguration,
            ErrorKind::AuthenticationRequired { .. } => return ErrorReason::InteractionRequired,
            ErrorKind::Chain(_) => return ErrorReason::Chain,
            _ => {}
        }
        if let Some(http) = &self.http {
            return http
                .error_codes
                .first()
                .and_then(|&code| u32::try_from(code).ok())
                .map_or(ErrorReason::ServiceError, ErrorReason::Aadsts);
        }
        if self
            .source
            .as_deref()
            .is_some_and(|s| s.is::<crate::platform::TransportError>())
        {
            return ErrorReason::NoResponse;
        }
        ErrorReason::Other
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
            .field("reason", &self.reason())
            .field("http", &self.http)
            .field("source", &self.source)
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

    #[test]
    fn reasons_are_explicit_or_derived() {
        let e = Error::unavailable("AzureCliCredential", "Azure CLI not found on path")
            .with_reason(ErrorReason::ToolNotFound);
        assert_eq!(e.reason(), ErrorReason::ToolNotFound);
        assert_eq!(e.reason().code(), "tool_not_found");
        // Kept when a chain turns a failure into "unavailable".
        let e = Error::failed("X", "m")
            .with_reason(ErrorReason::TimedOut)
            .into_unavailable();
        assert_eq!(e.reason(), ErrorReason::TimedOut);
        let refused =
            Error::failed("ClientSecretCredential", "refused").with_http(HttpErrorDetails {
                status: 401,
                error_codes: vec![7000215],
                ..Default::default()
            });
        assert_eq!(refused.reason(), ErrorReason::Aadsts(7000215));
        assert_eq!(refused.reason().code(), "aadsts");
        assert_eq!(refused.reason().to_string(), "AADSTS7000215");
        let plain = Error::failed("X", "m").with_http(HttpErrorDetails {
            status: 500,
            ..Default::default()
        });
        assert_eq!(plain.reason(), ErrorReason::ServiceError);
        let no_answer = Error::failed("X", "m").with_source(crate::platform::TransportError::new(
            crate::platform::TransportErrorKind::Connect,
            "refused",
        ));
        assert_eq!(no_answer.reason(), ErrorReason::NoResponse);
        assert_eq!(
            Error::config("X", "m").reason(),
            ErrorReason::InvalidConfiguration
        );
        assert_eq!(Error::failed("X", "m").reason(), ErrorReason::Other);
        assert_eq!(
            ErrorReason::aadsts_in("ERROR: AADSTS70043: The refresh token has expired"),
            Some(ErrorReason::Aadsts(70043))
        );
        assert_eq!(ErrorReason::aadsts_in("AADSTS: none"), None);
    }

    #[test]
    fn debug_shows_the_source_and_reason() {
        let e = Error::failed("X", "m").with_source(crate::platform::TransportError::new(
            crate::platform::TransportErrorKind::Timeout,
            "no answer within 10 s",
        ));
        let debug = format!("{e:?}");
        assert!(debug.contains("no answer within 10 s"), "{debug}");
        assert!(debug.contains("NoResponse"), "{debug}");
    }

    #[test]
    fn source_chains_reach_the_cause() {
        use crate::platform::{
            Env, HttpOptions, ProcessError, ReqwestTransport, TransportError, TransportErrorKind,
        };
        use std::error::Error as _;
        let transport = TransportError::new(TransportErrorKind::Connect, "no answer")
            .with_source(std::io::Error::other("refused by peer"));
        let e = Error::failed("X", "m").with_source(transport);
        let mut chain = Vec::new();
        let mut next = e.source();
        while let Some(cause) = next {
            chain.push(cause.to_string());
            next = cause.source();
        }
        assert_eq!(chain, ["no answer", "refused by peer"]);
        let spawn = ProcessError::Spawn(std::io::Error::other("permission denied"));
        assert_eq!(spawn.source().unwrap().to_string(), "permission denied");
        let options = HttpOptions {
            use_system_roots: false,
            additional_root_certificates: vec!["not a certificate".into()],
            ..Default::default()
        };
        let env = Env::from_pairs([("X", "1")]);
        let bad = ReqwestTransport::new(&options, &env).unwrap_err();
        assert_eq!(bad.kind, TransportErrorKind::Setup);
    }
}
