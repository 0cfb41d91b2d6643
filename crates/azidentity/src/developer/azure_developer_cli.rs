//! `azd auth token`: Azure Developer CLI's answer and failures.
//!
//! `expiresOn` is read as the UTC time it says it is (`…Z`). Python 1.27 parses it as a naive
//! local time, which shifts the expiry by the local UTC offset (hours early or late); that bug is
//! deliberately not reproduced.

use base64::Engine as _;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{CliRequest, CliTool, validate_scope};
use crate::platform::{CommandLine, ProcessOutput, safe_working_dir, which};
use crate::redact::excerpt;
use crate::{AccessToken, Error, ErrorReason, Platform};

pub(crate) const NAME: &str = "AzureDeveloperCliCredential";
pub(crate) const CLI_NOT_FOUND: &str = "Azure Developer CLI could not be found. Please visit \
     https://aka.ms/azure-dev for installation instructions and then, once installed, \
     authenticate to your Azure account using 'azd auth login'.";
pub(crate) const NOT_LOGGED_IN: &str = "Please run 'azd auth login' from a command prompt to authenticate before using this credential.";
const CLAIMS_UNSUPPORTED: &str = "This version of the Azure Developer CLI does not accept a \
     claims challenge (--claims); update it to version 1.18.1 or later.";

/// `azd`.
#[derive(Debug, Clone, Default)]
pub(crate) struct AzureDeveloperCli;

impl CliTool for AzureDeveloperCli {
    const NAME: &'static str = NAME;
    const LABEL: &'static str = "Azure Developer CLI";
    const TROUBLESHOOT: &'static str = crate::troubleshooting::DEVELOPER_TOOLS;

    fn validate_scopes(&self, scopes: &[&str]) -> Result<(), Error> {
        if scopes.is_empty() {
            return Err(Error::config(
                NAME,
                "Missing scope in request; request at least one, e.g. \
                 https://management.azure.com/.default",
            ));
        }
        scopes.iter().try_for_each(|s| validate_scope(NAME, s))
    }

    fn refuse_claims(&self, _request: &CliRequest<'_>) -> Option<Error> {
        None
    }

    fn command(&self, request: &CliRequest<'_>, platform: &Platform) -> Result<CommandLine, Error> {
        let env = platform.env();
        let Some(azd) = which(env, "azd") else {
            return Err(
                Error::unavailable(NAME, CLI_NOT_FOUND).with_reason(ErrorReason::ToolNotFound)
            );
        };
        let cwd = safe_working_dir(env).map_err(|e| {
            Error::unavailable(NAME, e.to_string()).with_reason(ErrorReason::ToolFailed)
        })?;
        let mut command =
            CommandLine::new(azd).with_args(["auth", "token", "--output", "json", "--no-prompt"]);
        for scope in request.scopes {
            command = command.arg("--scope").arg(*scope);
        }
        if !request.tenant.is_empty() {
            command = command.arg("--tenant-id").arg(request.tenant);
        }
        if let Some(claims) = request.claims {
            let encoded = base64::engine::general_purpose::STANDARD.encode(claims);
            command = command.arg("--claims").sensitive_arg(encoded);
        }
        Ok(command.env("NO_COLOR", "true").current_dir(cwd))
    }

    fn interpret(
        &self,
        output: &ProcessOutput,
        _platform: &Platform,
    ) -> Result<AccessToken, Error> {
        if !output.success() {
            return Err(classify(output));
        }
        parse(&output.stdout).ok_or_else(|| {
            let shown = excerpt(&output.stdout, 200);
            Error::failed(
                NAME,
                format!(
                    "Unexpected output from Azure Developer CLI: '{shown}'. \nTo mitigate this \
                     issue, please refer to the troubleshooting guidelines here at {}.",
                    Self::TROUBLESHOOT
                ),
            )
            .with_reason(ErrorReason::ToolFailed)
        })
    }
}

fn classify(output: &ProcessOutput) -> Error {
    let stderr = output.stderr.trim();
    if output.exit_code == Some(127) || stderr.starts_with("'azd' is not recognized") {
        return Error::unavailable(NAME, CLI_NOT_FOUND).with_reason(ErrorReason::ToolNotFound);
    }
    if stderr.contains("not logged in, run `azd auth login` to login") && !stderr.contains("AADSTS")
    {
        return Error::unavailable(NAME, NOT_LOGGED_IN).with_reason(ErrorReason::NotSignedIn);
    }
    if stderr.contains("unknown flag: --claims") {
        return Error::unavailable(NAME, CLAIMS_UNSUPPORTED)
            .with_reason(ErrorReason::ClaimsChallenge);
    }
    let message = match json_messages(stderr) {
        Some(message) => message,
        None if stderr.is_empty() => "Failed to invoke Azure Developer CLI".to_owned(),
        None => stderr.to_owned(),
    };
    let reason = ErrorReason::aadsts_in(&message).unwrap_or(ErrorReason::ToolFailed);
    Error::failed(NAME, excerpt(&message, 2000)).with_reason(reason)
}

/// azd writes its errors as JSON lines: a structured `error` (1.23.7 and later) or the older
/// `{"type":"consoleMessage","data":{"message":…}}`.
fn json_messages(stderr: &str) -> Option<String> {
    let messages: Vec<String> = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line.trim()).ok())
        .filter_map(|value| {
            let structured = match value.get("error") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(e @ Value::Object(_)) => {
                    e.get("message").and_then(Value::as_str).map(str::to_owned)
                }
                _ => None,
            };
            structured.or_else(|| {
                value
                    .pointer("/data/message")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
        })
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty())
        .collect();
    (!messages.is_empty()).then(|| messages.join(" "))
}

fn parse(stdout: &str) -> Option<AccessToken> {
    let json: Value = serde_json::from_str(stdout.trim()).ok()?;
    let token = json.get("token")?.as_str().filter(|t| !t.is_empty())?;
    let expires_on =
        OffsetDateTime::parse(json.get("expiresOn")?.as_str()?.trim(), &Rfc3339).ok()?;
    Some(AccessToken::new(token, expires_on))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(code: i32, stderr: &str) -> Error {
        classify(&ProcessOutput {
            exit_code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
        })
    }

    #[test]
    fn expires_on_is_utc() {
        let t = parse(r#"{"token":"tok","expiresOn":"2027-01-15T10:00:00Z"}"#).unwrap();
        assert_eq!(t.expires_on().unix_timestamp(), 1_800_007_200);
        assert!(parse(r#"{"token":"tok","expiresOn":"2027-01-15 10:00:00"}"#).is_none());
        assert!(parse(r#"{"accessToken":"tok","expiresOn":"2027-01-15T10:00:00Z"}"#).is_none());
    }

    #[test]
    fn failures_are_classified() {
        let e = failure(1, "ERROR: not logged in, run `azd auth login` to login");
        assert!(e.is_unavailable() && e.message() == NOT_LOGGED_IN);
        let e = failure(1, "Error: unknown flag: --claims");
        assert!(e.is_unavailable() && e.message().contains("1.18.1"));
        let e = failure(
            1,
            "{\"type\":\"consoleMessage\",\"timestamp\":\"x\",\"data\":{\"message\":\"\\nERROR: fetching token: AADSTS70043: expired\\n\"}}",
        );
        assert!(!e.is_unavailable());
        assert_eq!(e.message(), "ERROR: fetching token: AADSTS70043: expired");
        let e = failure(
            1,
            "{\"error\":{\"code\":\"x\",\"message\":\"structured failure\"}}",
        );
        assert_eq!(e.message(), "structured failure");
        let e = failure(1, "plain \"token\": \"leak\" text");
        assert!(!e.message().contains("leak"), "{e}");
        let e = failure(
            1,
            "{\"error\":{\"message\":\"refresh failed: refresh_token=rt-leak-3; Bearer at-leak-4\"}}",
        );
        for secret in ["rt-leak-3", "at-leak-4"] {
            assert!(!e.message().contains(secret), "{secret}: {e}");
        }
        assert!(e.message().starts_with("refresh failed"), "{e}");
        assert!(failure(127, "").is_unavailable());
    }
}
