//! `AzurePowerShellCredential`: the account signed in to Azure PowerShell (`Connect-AzAccount`).

use std::time::Duration;

use super::developer_tool::developer_tool_credential;
use crate::developer::{AzurePowerShell, CliCredential};
use crate::{Error, Platform};

/// Options for [`AzurePowerShellCredential`].
#[derive(Debug, Clone)]
pub struct AzurePowerShellCredentialOptions {
    /// The tenant to ask for (`-TenantId`); default: the PowerShell context's, and any tenant a
    /// request names.
    pub tenant_id: Option<String>,
    /// Tenants, besides `tenant_id`, that a request may name; `"*"` allows any.
    pub additionally_allowed_tenants: Vec<String>,
    /// How long `pwsh` may run (default 10 s); it is killed after that.
    pub process_timeout: Duration,
    /// Where `pwsh` is looked up (`PATH`) and how it is run.
    pub platform: Platform,
}

impl Default for AzurePowerShellCredentialOptions {
    fn default() -> Self {
        AzurePowerShellCredentialOptions {
            tenant_id: None,
            additionally_allowed_tenants: Vec::new(),
            process_timeout: crate::developer::DEFAULT_PROCESS_TIMEOUT,
            platform: Platform::default(),
        }
    }
}

/// Gets tokens from Azure PowerShell: runs
/// `pwsh -NoProfile -NonInteractive -EncodedCommand <script>` directly (Python goes through
/// `/bin/sh -c`), the script calling
/// `Get-AzAccessToken` from Az.Accounts 2.2.0 or later. Python: `AzurePowerShellCredential`.
///
/// Tokens are cached in memory until five minutes before they expire (Python runs PowerShell,
/// which takes seconds to start, on every call).
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{AzurePowerShellCredential, TokenCredential, TokenRequestOptions};
/// // After `Connect-AzAccount` in PowerShell 7.
/// let credential = AzurePowerShellCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AzurePowerShellCredential {
    inner: CliCredential<AzurePowerShell>,
}

impl AzurePowerShellCredential {
    fn tool(
        _options: &AzurePowerShellCredentialOptions,
    ) -> Result<(AzurePowerShell, String), Error> {
        Ok((AzurePowerShell, String::new()))
    }
}

developer_tool_credential!(
    AzurePowerShellCredential,
    AzurePowerShellCredentialOptions,
    AzurePowerShell
);
