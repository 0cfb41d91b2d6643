//! `AzureDeveloperCliCredential`: the account signed in to the Azure Developer CLI (`azd auth
//! login`).

use std::time::Duration;

use super::developer_tool::developer_tool_credential;
use crate::developer::{AzureDeveloperCli, CliCredential};
use crate::{Error, Platform};

/// Options for [`AzureDeveloperCliCredential`].
#[derive(Debug, Clone)]
pub struct AzureDeveloperCliCredentialOptions {
    /// The tenant to ask `azd` for (`--tenant-id`); default: azd's, and any tenant a request
    /// names.
    pub tenant_id: Option<String>,
    /// Tenants, besides `tenant_id`, that a request may name; `"*"` allows any.
    pub additionally_allowed_tenants: Vec<String>,
    /// How long `azd` may run (default 10 s); it is killed after that.
    pub process_timeout: Duration,
    /// Where `azd` is looked up (`PATH`) and how it is run.
    pub platform: Platform,
}

impl Default for AzureDeveloperCliCredentialOptions {
    fn default() -> Self {
        AzureDeveloperCliCredentialOptions {
            tenant_id: None,
            additionally_allowed_tenants: Vec::new(),
            process_timeout: crate::developer::DEFAULT_PROCESS_TIMEOUT,
            platform: Platform::default(),
        }
    }
}

/// Gets tokens from the Azure Developer CLI: runs `azd auth token --output json --no-prompt
/// --scope <scope>… [--tenant-id T] [--claims <base64>]` directly (no shell), from `/bin`, with
/// stdin closed and `NO_COLOR=true`. Python: `AzureDeveloperCliCredential`.
///
/// Differences from Python: `expiresOn` is read as UTC, as azd prints it (Python 1.27 reads it
/// as local time and gets the expiry wrong by the UTC offset); tokens are cached in memory until
/// five minutes before they expire.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{AzureDeveloperCliCredential, TokenCredential, TokenRequestOptions};
/// // After `azd auth login`.
/// let credential = AzureDeveloperCliCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AzureDeveloperCliCredential {
    inner: CliCredential<AzureDeveloperCli>,
}

impl AzureDeveloperCliCredential {
    fn tool(
        _options: &AzureDeveloperCliCredentialOptions,
    ) -> Result<(AzureDeveloperCli, String), Error> {
        Ok((AzureDeveloperCli, String::new()))
    }
}

developer_tool_credential!(
    AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions,
    AzureDeveloperCli
);
