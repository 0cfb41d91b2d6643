//! `az account get-access-token`: Azure CLI's answer and failures.

use base64::Engine as _;
use serde_json::Value;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::{CliRequest, CliTool, local_time, single_resource};
use crate::platform::{CommandLine, ProcessOutput, safe_working_dir, which};
use crate::redact::excerpt;
use crate::{AccessToken, Error, ErrorReason, Platform};

pub(crate) const NAME: &str = "AzureCliCredential";
pub(crate) const CLI_NOT_FOUND: &str = "Azure CLI not found on path";
pub(crate) const NOT_LOGGED_IN: &str = "Please run 'az login' to set up an account";

/// `az`, optionally pinned to a subscription.
#[derive(Debug, Clone, Default)]
pub(crate) struct AzureCli {
    pub subscription: Option<String>,
}

/// Python's rule for subscription names and ids: letters, digits, `_`, `.`, `-` and spaces.
pub(crate) fn validate_subscription(subscription: &str) -> Result<(), Error> {
    let ok = !subscription.trim().is_empty()
        && subscription
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b' '));
    if ok {
        Ok(())
    } else {
        Err(Error::config(
            NAME,
            format!(
                "Invalid subscription {subscription:?}: use the subscription's id or name \
                 (letters, digits, spaces and '_', '.', '-')"
            ),
        ))
    }
}

impl CliTool for AzureCli {
    const NAME: &'static str = NAME;
    const LABEL: &'static str = "Azure CLI";
    const TROUBLESHOOT: &'static str = crate::troubleshooting::DEVELOPER_TOOLS;

    fn validate_scopes(&self, scopes: &[&str]) -> Result<(), Error> {
        single_resource(NAME, scopes).map(|_| ())
    }

    fn refuse_claims(&self, request: &CliRequest<'_>) -> Option<Error> {
        let claims = request.claims?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(claims);
        let mut command = format!("az login --claims-challenge {encoded}");
        if !request.tenant.is_empty() {
            command.push_str(&format!(" --tenant {}", request.tenant));
        }
        for scope in request.scopes {
            command.push_str(&format!(" --scope {scope}"));
        }
        Some(
            Error::unavailable(
                NAME,
                format!(
                    "Failed to get token. Azure CLI cannot satisfy a claims challenge (for example \
                 multi-factor authentication) silently. Run: {command}"
                ),
            )
            .with_reason(ErrorReason::ClaimsChallenge),
        )
    }

    fn command(&self, request: &CliRequest<'_>, platform: &Platform) -> Result<CommandLine, Error> {
        let resource = single_resource(NAME, request.scopes)?;
        let env = platform.env();
        let Some(az) = which(env, "az") else {
            return Err(
                Error::unavailable(NAME, CLI_NOT_FOUND).with_reason(ErrorReason::ToolNotFound)
            );
        };
        let cwd = safe_working_dir(env).map_err(|e| {
            Error::unavailable(NAME, e.to_string()).with_reason(ErrorReason::ToolFailed)
        })?;
        let mut command = CommandLine::new(az)
            .with_args([
                "account",
                "get-access-token",
                "--output",
                "json",
                "--resource",
            ])
            .arg(resource);
        if !request.tenant.is_empty() {
            command = command.arg("--tenant").arg(request.tenant);
        }
        if let Some(subscription) = &self.subscription {
            command = command.arg("--subscription").arg(subscription);
        }
        Ok(command.env("AZURE_CORE_NO_COLOR", "true").current_dir(cwd))
    }

    fn interpret(&self, output: &ProcessOutput, platform: &Platform) -> Result<AccessToken, Error> {
        if !output.success() {
            return Err(classify(output));
        }
        parse(&output.stdout, platform).ok_or_else(|| {
            let shown = excerpt(&output.stdout, 200);
            Error::failed(
                NAME,
                format!(
                    "Unexpected output from Azure CLI: '{shown}'. \nTo mitigate this issue, \
                     please refer to the troubleshooting guidelines here at {}.",
                    Self::TROUBLESHOOT
                ),
            )
            .with_reason(ErrorReason::ToolFailed)
        })
    }
}

fn classify(output: &ProcessOutput) -> Error {
    let stderr = output.stderr.trim();
    if output.exit_code == Some(127) || stderr.starts_with("'az' is not recognized") {
        return Error::unavailable(NAME, CLI_NOT_FOUND).with_reason(ErrorReason::ToolNotFound);
    }
    if (stderr.contains("az login") || stderr.contains("az account set"))
        && !stderr.contains("AADSTS")
    {
        return Error::unavailable(NAME, NOT_LOGGED_IN).with_reason(ErrorReason::NotSignedIn);
    }
    let message = if stderr.is_empty() {
        "Failed to invoke Azure CLI".to_owned()
    } else {
        excerpt(stderr, 2000)
    };
    let reason = ErrorReason::aadsts_in(stderr).unwrap_or(ErrorReason::ToolFailed);
    Error::failed(NAME, message).with_reason(reason)
}

/// `accessToken`, and `expires_on` (epoch seconds, number or string; Azure CLI 2.54+) or else
/// `expiresOn` (local time without offset).
fn parse(stdout: &str, platform: &Platform) -> Option<AccessToken> {
    let json: Value = serde_json::from_str(stdout.trim()).ok()?;
    let token = json
        .get("accessToken")?
        .as_str()
        .filter(|t| !t.is_empty())?;
    let expires_on = match json.get("expires_on") {
        Some(Value::Number(n)) => OffsetDateTime::from_unix_timestamp(n.as_i64()?).ok()?,
        Some(Value::String(s)) => {
            OffsetDateTime::from_unix_timestamp(s.trim().parse().ok()?).ok()?
        }
        _ => {
            let text = json.get("expiresOn")?.as_str()?;
            let local = parse_local(text)?;
            local_time::local_to_utc(local, platform.env())
        }
    };
    let mut access = AccessToken::new(token, expires_on);
    if let Some(kind) = json.get("tokenType").and_then(Value::as_str) {
        access = access.with_token_type(kind.to_owned());
    }
    Some(access)
}

/// `%Y-%m-%d %H:%M:%S.%f`, and without the fraction as some versions print it.
pub(super) fn parse_local(text: &str) -> Option<PrimitiveDateTime> {
    let with_fraction =
        format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");
    let whole = format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    PrimitiveDateTime::parse(text.trim(), with_fraction)
        .or_else(|_| PrimitiveDateTime::parse(text.trim(), whole))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Env;

    fn platform(tz: &str) -> Platform {
        Platform::system().with_env(Env::from_pairs([("TZ", tz)]))
    }

    fn output(code: i32, stdout: &str, stderr: &str) -> ProcessOutput {
        ProcessOutput {
            exit_code: Some(code),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn prefers_expires_on_and_reads_both_forms() {
        let p = platform("UTC");
        let t = parse(
            r#"{"accessToken":"tok","expiresOn":"2000-01-01 00:00:00.000000","expires_on":1800000000,"tokenType":"Bearer"}"#,
            &p,
        )
        .unwrap();
        assert_eq!(t.expires_on().unix_timestamp(), 1_800_000_000);
        let t = parse(r#"{"accessToken":"tok","expires_on":"1800000001"}"#, &p).unwrap();
        assert_eq!(t.expires_on().unix_timestamp(), 1_800_000_001);
        let t = parse(
            r#"{"accessToken":"tok","expiresOn":"2027-01-15 10:00:00.123456"}"#,
            &p,
        )
        .unwrap();
        assert_eq!(t.expires_on().unix_timestamp(), 1_800_007_200);
        assert_eq!(t.expires_on().nanosecond(), 123_456_000);
        assert!(parse(r#"{"accessToken":"","expires_on":1}"#, &p).is_none());
        assert!(parse(r#"{"expires_on":1}"#, &p).is_none());
        assert!(parse("<html>", &p).is_none());
        assert!(parse(r#"{"accessToken":"t","expiresOn":"tomorrow"}"#, &p).is_none());
    }

    #[test]
    fn failures_are_classified_as_python_does() {
        let e = classify(&output(127, "", "az: not found"));
        assert!(e.is_unavailable() && e.message() == CLI_NOT_FOUND);
        let e = classify(&output(
            1,
            "",
            "ERROR: Please run 'az login' to setup account.",
        ));
        assert!(e.is_unavailable() && e.message() == NOT_LOGGED_IN);
        let aadsts = "ERROR: AADSTS70043: The refresh token has expired. Run 'az login'.";
        let e = classify(&output(1, "", aadsts));
        assert!(!e.is_unavailable());
        assert!(e.message().contains("AADSTS70043"));
        let e = classify(&output(2, "", ""));
        assert_eq!(e.message(), "Failed to invoke Azure CLI");
        // Whatever az quotes on stderr (a refresh token, a bearer header, a JWT) is masked.
        let e = classify(&output(
            1,
            "",
            "ERROR: request failed: {\"refreshToken\": \"rt-secret-1\"} Authorization: \
             Bearer opaque-bearer-2 1.ARoAv4j5cvGGr0GRqy180BHbR9xZ2kQ8b1mJ3XoT7uYp \
             eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.sig",
        ));
        for secret in ["rt-secret-1", "opaque-bearer-2", "1.ARoA", "eyJ0eXAi"] {
            assert!(!e.message().contains(secret), "{secret}: {e}");
        }
        assert!(e.message().starts_with("ERROR: request failed"), "{e}");
        let e = AzureCli::default()
            .interpret(
                &output(0, r#"{"accessToken": "secret-value", "expiresOn": 5}"#, ""),
                &platform("UTC"),
            )
            .unwrap_err();
        assert!(e.message().starts_with("Unexpected output from Azure CLI"));
        assert!(!e.message().contains("secret-value"), "{e}");
    }

    #[test]
    fn claims_are_refused_with_the_command_to_run() {
        let request = CliRequest {
            scopes: &["https://management.azure.com/.default"],
            tenant: "t1",
            claims: Some("{\"access_token\":{}}"),
        };
        let e = AzureCli::default().refuse_claims(&request).unwrap();
        assert!(e.is_unavailable());
        assert!(
            e.message().contains(
                "az login --claims-challenge eyJhY2Nlc3NfdG9rZW4iOnt9fQ== --tenant t1 --scope https://management.azure.com/.default"
            ),
            "{e}"
        );
    }

    #[test]
    fn subscriptions_are_checked() {
        assert!(validate_subscription("My Sub-1_a.b").is_ok());
        for bad in ["", " ", "a;b", "$(x)", "a\nb"] {
            assert!(validate_subscription(bad).is_err(), "{bad:?}");
        }
    }
}
