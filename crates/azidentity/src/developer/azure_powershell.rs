//! Azure PowerShell: `pwsh` runs a small script calling `Get-AzAccessToken` and printing
//! `azsdk%<token>%<expiry>`.
//!
//! Python runs `pwsh` through `/bin/sh -c` (`cmd /c` on Windows); here `pwsh` is found on the
//! platform's `PATH` and run directly, so no shell ever sees the command. The script is passed
//! base64-encoded (`-EncodedCommand`), and the resource and tenant it embeds in single-quoted
//! PowerShell strings are restricted to characters that cannot end such a string.

use base64::Engine as _;

use super::{CliRequest, CliTool, single_resource};
use crate::platform::{CommandLine, ProcessOutput, safe_working_dir, which};
use crate::redact::excerpt;
use crate::{AccessToken, Error, ErrorReason, Platform};

pub(crate) const NAME: &str = "AzurePowerShellCredential";
pub(crate) const POWERSHELL_NOT_INSTALLED: &str = "PowerShell is not installed";
pub(crate) const AZ_ACCOUNT_NOT_INSTALLED: &str = "Az.Account module >= 2.2.0 is not installed";
pub(crate) const RUN_CONNECT_AZ_ACCOUNT: &str =
    "Please run \"Connect-AzAccount\" to set up account";
pub(crate) const BLOCKED_BY_EXECUTION_POLICY: &str =
    "Execution policy prevented invoking Azure PowerShell";
const FAILED_TO_INVOKE: &str =
    "Failed to invoke PowerShell. Enable debug logging for additional information.";
/// Printed by the script when Az.Accounts is missing.
const NO_AZ_ACCOUNT_MODULE: &str = "NO_AZ_ACCOUNT_MODULE";

/// `pwsh` (or Windows PowerShell where `pwsh` is absent, on Windows).
#[derive(Debug, Clone, Default)]
pub(crate) struct AzurePowerShell;

/// The script `pwsh` runs. `resource` and `tenant` are validated (letters, digits and
/// `_.:/-`), so they cannot break out of the quotes.
pub(crate) fn script(resource: &str, tenant: &str) -> String {
    format!(
        r#"$ErrorActionPreference = 'Stop'
$module = Import-Module Az.Accounts -MinimumVersion '2.2.0' -PassThru -ErrorAction SilentlyContinue
if (-not $module) {{
    Write-Output '{NO_AZ_ACCOUNT_MODULE}'
    exit 0
}}
$arguments = @{{ ResourceUrl = '{resource}'; WarningAction = 'Ignore' }}
$tenant = '{tenant}'
if ($tenant -ne '') {{ $arguments.TenantId = $tenant }}
# Az.Accounts 2.17 to 4.x return a plain string unless asked for a SecureString; 5.0 always does.
if ($module.Version -ge [version]'2.17.0' -and $module.Version -lt [version]'5.0.0') {{
    $arguments.AsSecureString = $true
}}
$result = Get-AzAccessToken @arguments
$value = $result.Token
if ($value -is [System.Security.SecureString]) {{
    if ($PSVersionTable.PSVersion.Major -ge 7) {{
        $value = ConvertFrom-SecureString -SecureString $value -AsPlainText
    }} else {{
        $pointer = [System.Runtime.InteropServices.Marshal]::SecureStringToBSTR($value)
        try {{ $value = [System.Runtime.InteropServices.Marshal]::PtrToStringBSTR($pointer) }}
        finally {{ [System.Runtime.InteropServices.Marshal]::ZeroFreeBSTR($pointer) }}
    }}
}}
Write-Output ("`nazsdk%{{0}}%{{1}}`n" -f $value, $result.ExpiresOn.ToUnixTimeSeconds())
"#
    )
}

/// PowerShell's `-EncodedCommand`: base64 of the UTF-16LE script.
pub(crate) fn encode_script(script: &str) -> String {
    let utf16: Vec<u8> = script.encode_utf16().flat_map(u16::to_le_bytes).collect();
    base64::engine::general_purpose::STANDARD.encode(utf16)
}

impl CliTool for AzurePowerShell {
    const NAME: &'static str = NAME;
    const LABEL: &'static str = "Azure PowerShell";
    const TROUBLESHOOT: &'static str = crate::troubleshooting::DEVELOPER_TOOLS;

    fn validate_scopes(&self, scopes: &[&str]) -> Result<(), Error> {
        single_resource(NAME, scopes).map(|_| ())
    }

    fn refuse_claims(&self, request: &CliRequest<'_>) -> Option<Error> {
        let claims = request.claims?;
        let encoded = base64::engine::general_purpose::STANDARD.encode(claims);
        let mut command = format!("Connect-AzAccount -ClaimsChallenge {encoded}");
        if !request.tenant.is_empty() {
            command.push_str(&format!(" -Tenant {}", request.tenant));
        }
        Some(
            Error::unavailable(
                NAME,
                format!(
                    "Failed to get token. Azure PowerShell cannot satisfy a claims challenge \
                 silently. Run: {command}"
                ),
            )
            .with_reason(ErrorReason::ClaimsChallenge),
        )
    }

    fn command(&self, request: &CliRequest<'_>, platform: &Platform) -> Result<CommandLine, Error> {
        let resource = single_resource(NAME, request.scopes)?;
        let env = platform.env();
        let program = which(env, "pwsh").or_else(|| {
            if cfg!(windows) {
                which(env, "powershell")
            } else {
                None
            }
        });
        let Some(program) = program else {
            return Err(Error::unavailable(NAME, POWERSHELL_NOT_INSTALLED)
                .with_reason(ErrorReason::ToolNotFound));
        };
        let cwd = safe_working_dir(env).map_err(|e| {
            Error::unavailable(NAME, e.to_string()).with_reason(ErrorReason::ToolFailed)
        })?;
        let encoded = encode_script(&script(resource, request.tenant));
        Ok(CommandLine::new(program)
            .with_args(["-NoProfile", "-NonInteractive", "-EncodedCommand"])
            .arg(encoded)
            .current_dir(cwd))
    }

    fn interpret(
        &self,
        output: &ProcessOutput,
        _platform: &Platform,
    ) -> Result<AccessToken, Error> {
        if !output.success() {
            return Err(classify(output));
        }
        if output.stdout.contains(NO_AZ_ACCOUNT_MODULE) {
            return Err(Error::unavailable(NAME, AZ_ACCOUNT_NOT_INSTALLED)
                .with_reason(ErrorReason::ToolNotFound));
        }
        parse(&output.stdout).ok_or_else(|| {
            // A malformed `azsdk%…` line may still hold a token.
            let shown: Vec<&str> = output
                .stdout
                .split_whitespace()
                .map(|w| {
                    if w.starts_with("azsdk%") {
                        "azsdk%****"
                    } else {
                        w
                    }
                })
                .collect();
            Error::failed(
                NAME,
                format!(
                    "Unexpected output from Get-AzAccessToken: \"{}\"",
                    excerpt(&shown.join(" "), 200)
                ),
            )
            .with_reason(ErrorReason::ToolFailed)
        })
    }
}

fn classify(output: &ProcessOutput) -> Error {
    let stderr = &output.stderr;
    if output.exit_code == Some(127) || stderr.contains("' is not recognized") {
        return Error::unavailable(NAME, POWERSHELL_NOT_INSTALLED)
            .with_reason(ErrorReason::ToolNotFound);
    }
    if stderr.contains("Run Connect-AzAccount to login") {
        return Error::unavailable(NAME, RUN_CONNECT_AZ_ACCOUNT)
            .with_reason(ErrorReason::NotSignedIn);
    }
    if stderr.contains("AuthorizationManager check failed") {
        return Error::unavailable(NAME, BLOCKED_BY_EXECUTION_POLICY)
            .with_reason(ErrorReason::ToolFailed);
    }
    // Too noisy for the message, useful when debugging (as in Python).
    tracing::debug!(credential = NAME, stderr = %excerpt(stderr, 2000), "Azure PowerShell failed");
    Error::unavailable(NAME, FAILED_TO_INVOKE).with_reason(ErrorReason::ToolFailed)
}

fn parse(stdout: &str) -> Option<AccessToken> {
    let line = stdout
        .split_whitespace()
        .find(|w| w.starts_with("azsdk%"))?;
    let mut parts = line.split('%');
    let (_, Some(token), Some(expires), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if token.is_empty() {
        return None;
    }
    let expires = time::OffsetDateTime::from_unix_timestamp(expires.parse().ok()?).ok()?;
    Some(AccessToken::new(token, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_and_failures() {
        let t = parse("WARNING: x\n\nazsdk%tok.en%1800000000\n\n").unwrap();
        assert_eq!(t.token().secret(), "tok.en");
        assert_eq!(t.expires_on().unix_timestamp(), 1_800_000_000);
        assert!(parse("azsdk%tok%soon").is_none());
        assert!(parse("azsdk%%1").is_none());
        assert!(parse("nothing").is_none());
        let e = AzurePowerShell
            .interpret(
                &ProcessOutput {
                    exit_code: Some(0),
                    stdout: "azsdk%secret-token%soon\n".into(),
                    stderr: String::new(),
                },
                &Platform::system(),
            )
            .unwrap_err();
        assert!(!e.message().contains("secret-token"), "{e}");
        let out = |code, stderr: &str| ProcessOutput {
            exit_code: Some(code),
            stdout: String::new(),
            stderr: stderr.into(),
        };
        for (code, stderr, message) in [
            (127, "", POWERSHELL_NOT_INSTALLED),
            (1, "Run Connect-AzAccount to login.", RUN_CONNECT_AZ_ACCOUNT),
            (
                1,
                "AuthorizationManager check failed.",
                BLOCKED_BY_EXECUTION_POLICY,
            ),
            (1, "anything else", FAILED_TO_INVOKE),
        ] {
            let e = classify(&out(code, stderr));
            assert!(e.is_unavailable());
            assert_eq!(e.message(), message);
        }
    }

    #[test]
    fn stderr_is_scrubbed_before_it_is_logged() {
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || Sink(sink.clone()))
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            classify(&ProcessOutput {
                exit_code: Some(1),
                stdout: String::new(),
                stderr: "Get-AzAccessToken: request with Authorization: Bearer pwsh-leak-5 \
                         and refresh_token=pwsh-leak-6 failed"
                    .into(),
            })
        });
        let text = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        assert!(text.contains("Azure PowerShell failed"), "{text}");
        for secret in ["pwsh-leak-5", "pwsh-leak-6"] {
            assert!(!text.contains(secret), "{secret}: {text}");
        }
    }

    struct Sink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_script_round_trips_through_the_encoding() {
        let encoded = encode_script(&script("https://vault.azure.net", "t-1"));
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .unwrap();
        let units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let text = String::from_utf16(&units).unwrap();
        assert!(text.contains("ResourceUrl = 'https://vault.azure.net'"));
        assert!(text.contains("$tenant = 't-1'"));
        assert!(text.contains("azsdk%{0}%{1}"));
    }
}
