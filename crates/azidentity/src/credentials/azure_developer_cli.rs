//! `AzureDeveloperCliCredential`: the account signed in to the Azure Developer CLI (`azd auth
//! login`).

use std::time::Duration;

use crate::developer::{AzureDeveloperCli, CliCredential, CliSettings};
use crate::{Error, Platform, TokenCredential, TokenFuture, TokenRequestOptions};

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
    /// Validates the tenant; `azd` is looked for when a token is needed.
    pub fn new(options: AzureDeveloperCliCredentialOptions) -> Result<Self, Error> {
        Self::build(options, false)
    }

    pub(crate) fn build(
        options: AzureDeveloperCliCredentialOptions,
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
        Ok(AzureDeveloperCliCredential {
            inner: CliCredential::new(AzureDeveloperCli, settings)?,
        })
    }
}

impl TokenCredential for AzureDeveloperCliCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.inner.get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        crate::developer::AZURE_DEVELOPER_CLI_NAME
    }
}
