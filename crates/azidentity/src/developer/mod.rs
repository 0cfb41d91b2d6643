//! Developer tools as credentials: one generic credential ([`CliCredential`]) runs a tool through
//! the platform's process runner and caches what it returns; each tool ([`CliTool`]) only says
//! how its command looks, how its output reads and what its failures mean.

mod azure_cli;
mod azure_developer_cli;
mod azure_powershell;
mod credential;
mod local_time;

pub(crate) use azure_cli::{AzureCli, validate_subscription};
pub(crate) use azure_developer_cli::AzureDeveloperCli;
pub(crate) use azure_powershell::AzurePowerShell;
pub(crate) use credential::{CliCredential, CliSettings, DEFAULT_PROCESS_TIMEOUT};

use std::fmt;

use crate::platform::{CommandLine, ProcessOutput};
use crate::{AccessToken, Error, Platform};

/// One token request, after validation and tenant resolution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CliRequest<'a> {
    pub scopes: &'a [&'a str],
    /// The tenant to ask for; empty for the tool's default.
    pub tenant: &'a str,
    /// A claims challenge (non-empty), for tools that accept one.
    pub claims: Option<&'a str>,
}

/// What differs between `az`, `azd` and `pwsh`.
pub(crate) trait CliTool: Send + Sync + fmt::Debug + 'static {
    /// The credential's name, as Python's class.
    const NAME: &'static str;
    /// How messages name the tool ("Azure CLI").
    const LABEL: &'static str;
    /// Python's troubleshooting page for the credential.
    const TROUBLESHOOT: &'static str;

    /// Checks the scopes before anything runs. Failures are configuration errors: they stop a
    /// chain, as Python's `ValueError` does.
    fn validate_scopes(&self, scopes: &[&str]) -> Result<(), Error>;

    /// For tools that cannot take a claims challenge: the unavailable error naming the command
    /// that satisfies it. `None` when the tool passes the claims on.
    fn refuse_claims(&self, request: &CliRequest<'_>) -> Option<Error>;

    /// The command to run; `Err` (unavailable) when the tool is not installed.
    fn command(&self, request: &CliRequest<'_>, platform: &Platform) -> Result<CommandLine, Error>;

    /// Reads a finished run: the token, or the error its exit code and output mean.
    fn interpret(&self, output: &ProcessOutput, platform: &Platform) -> Result<AccessToken, Error>;
}

/// Python's `validate_scope`: scopes go on a command line, so only the characters real scopes
/// use are accepted.
pub(crate) fn validate_scope(credential: &'static str, scope: &str) -> Result<(), Error> {
    let ok = !scope.is_empty()
        && scope
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'/' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            credential,
            format!(
                "Invalid scope {scope:?}: a scope may contain only letters, digits and the \
                 characters '_', '.', ':', '/' and '-', e.g. https://management.azure.com/.default"
            ),
        ))
    }
}

/// The one resource of a single-scope request, without `/.default` (Python's
/// `_scopes_to_resource`).
pub(crate) fn single_resource<'a>(
    credential: &'static str,
    scopes: &[&'a str],
) -> Result<&'a str, Error> {
    let [scope] = scopes else {
        return Err(Error::config(
            credential,
            format!(
                "This credential requires exactly one scope per token request, got {}; request \
                 one resource, e.g. https://management.azure.com/.default",
                scopes.len()
            ),
        ));
    };
    validate_scope(credential, scope)?;
    Ok(scope.strip_suffix("/.default").unwrap_or(scope))
}

/// Replaces the value of a JSON string field (`"accessToken": "…"`) with `****` wherever it
/// appears, even cut short, so tool output can go into a message.
pub(crate) fn redact_json_field(text: &str, field: &str) -> String {
    let needle = format!("\"{field}\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&needle) {
        let after_key = &rest[at + needle.len()..];
        let trimmed = after_key.trim_start_matches([' ', ':', '\t']);
        if !trimmed.starts_with('"') || trimmed.len() == after_key.len() {
            out.push_str(&rest[..at + needle.len()]);
            rest = after_key;
            continue;
        }
        out.push_str(&rest[..at]);
        out.push_str("****");
        let value = &trimmed[1..];
        rest = match value.find('"') {
            Some(end) => &value[end + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

/// The first `limit` characters of tool output for a message, on one line.
pub(crate) fn excerpt(text: &str, limit: usize) -> String {
    let text = text.trim();
    let mut cut: String = text.chars().take(limit).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_checked_for_command_line_safety() {
        assert!(validate_scope("X", "https://management.azure.com//.default").is_ok());
        assert!(validate_scope("X", "api://a-b_c.d/x").is_ok());
        for bad in [
            "",
            "a b",
            "x;rm -rf /",
            "$(id)",
            "a'b",
            "a\"b",
            "a`b",
            "a|b",
            "a\nb",
        ] {
            let e = validate_scope("X", bad).unwrap_err();
            assert!(matches!(e.kind(), crate::ErrorKind::InvalidConfiguration));
        }
        assert_eq!(
            single_resource("X", &["https://vault.azure.net/.default"]).unwrap(),
            "https://vault.azure.net"
        );
        assert!(single_resource("X", &["a", "b"]).is_err());
        assert!(single_resource("X", &[]).is_err());
    }

    #[test]
    fn token_fields_are_redacted() {
        let text = r#"{"accessToken": "eyJ.secret.sig", "x": 1} "accessToken":"cut"#;
        let red = redact_json_field(text, "accessToken");
        assert!(!red.contains("eyJ"), "{red}");
        assert!(!red.contains("cut"), "{red}");
        assert!(red.contains("\"x\": 1"), "{red}");
        assert_eq!(
            redact_json_field("\"accessToken\" is missing", "accessToken"),
            "\"accessToken\" is missing"
        );
        assert_eq!(excerpt("  abcdef ", 3), "abc…");
    }
}
