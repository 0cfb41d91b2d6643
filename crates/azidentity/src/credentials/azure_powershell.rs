//! `AzurePowerShellCredential`: the account signed in to Azure PowerShell (`Connect-AzAccount`).

use std::time::Duration;

use crate::developer::{AzurePowerShell, CliCredential, CliSettings};
use crate::{Error, Platform, TokenCredential, TokenFuture, TokenRequestOptions};

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
    /// Validates the tenant; `pwsh` is looked for when a token is needed.
    pub fn new(options: AzurePowerShellCredentialOptions) -> Result<Self, Error> {
        Self::build(options, false)
    }

    pub(crate) fn build(
        options: AzurePowerShellCredentialOptions,
        in_default_chain: bool,
    ) -> Result<Self, Error> {
        let settings = CliSettings {
            tenant_id: options.tenant_id.unwrap_or_default(),
            additionally_allowed_tenants: options.additionally_allowed_tenants,
            process_timeout: options.process_timeout,
            platform: options.platform,
            in_default_chain,
            partition: String::new(),
        };
        Ok(AzurePowerShellCredential {
            inner: CliCredential::new(AzurePowerShell, settings)?,
        })
    }
}

impl TokenCredential for AzurePowerShellCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.inner.get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        crate::developer::AZURE_POWERSHELL_NAME
    }
}
