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
    /// The credential's section of TROUBLESHOOTING.md.
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

/// For the fuzz targets: a finished run read as each tool's answer.
pub(crate) fn fuzz_interpret(output: &ProcessOutput, platform: &Platform) {
    for result in [
        AzureCli::default().interpret(output, platform),
        AzureDeveloperCli.interpret(output, platform),
        AzurePowerShell.interpret(output, platform),
    ] {
        if let Err(error) = result {
            let _ = (error.to_string(), format!("{error:?}"));
        }
    }
}

/// For the fuzz targets: `when` (az's local time format) converted with `zone` as the TZif file.
pub(crate) fn fuzz_local_time(zone: &[u8], when: &[u8]) {
    local_time::fuzz(zone, &String::from_utf8_lossy(when));
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
}
