//! `AzureCliCredential`: the account signed in to the Azure CLI (`az login`).

use std::time::Duration;

use crate::developer::{AzureCli, CliCredential, CliSettings};
use crate::{Error, Platform, TokenCredential, TokenFuture, TokenRequestOptions};

/// Options for [`AzureCliCredential`].
#[derive(Debug, Clone)]
pub struct AzureCliCredentialOptions {
    /// The tenant to ask `az` for (`--tenant`); default: the CLI's current tenant, and any
    /// tenant a request names.
    pub tenant_id: Option<String>,
    /// The subscription (id or name) whose tenant `az` uses (`--subscription`).
    pub subscription: Option<String>,
    /// Tenants, besides `tenant_id`, that a request may name; `"*"` allows any.
    pub additionally_allowed_tenants: Vec<String>,
    /// How long `az` may run (default 10 s); it is killed after that.
    pub process_timeout: Duration,
    /// Where `az` is looked up (`PATH`) and how it is run.
    pub platform: Platform,
}

impl Default for AzureCliCredentialOptions {
    fn default() -> Self {
        AzureCliCredentialOptions {
            tenant_id: None,
            subscription: None,
            additionally_allowed_tenants: Vec::new(),
            process_timeout: crate::developer::DEFAULT_PROCESS_TIMEOUT,
            platform: Platform::default(),
        }
    }
}

/// Gets tokens from the Azure CLI: runs `az account get-access-token --output json --resource
/// <resource> [--tenant T] [--subscription S]` directly (no shell), from `/bin`, with stdin
/// closed and `AZURE_CORE_NO_COLOR=true`. Python: `AzureCliCredential`.
///
/// Beyond Python: tokens are cached in memory until five minutes before they expire, so `az`
/// (a Python program taking about half a second) runs once per resource and tenant instead of
/// on every call.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{AzureCliCredential, TokenCredential, TokenRequestOptions};
/// // After `az login`.
/// let credential = AzureCliCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AzureCliCredential {
    inner: CliCredential<AzureCli>,
}

impl AzureCliCredential {
    /// Validates the tenant and subscription; `az` is looked for when a token is needed.
    pub fn new(options: AzureCliCredentialOptions) -> Result<Self, Error> {
        Self::build(options, false)
    }

    pub(crate) fn build(
        options: AzureCliCredentialOptions,
        in_default_chain: bool,
    ) -> Result<Self, Error> {
        let subscription = options.subscription.filter(|s| !s.is_empty());
        if let Some(subscription) = &subscription {
            crate::developer::validate_subscription(subscription)?;
        }
        let settings = CliSettings {
            tenant_id: options.tenant_id.unwrap_or_default(),
            additionally_allowed_tenants: options.additionally_allowed_tenants,
            process_timeout: options.process_timeout,
            platform: options.platform,
            in_default_chain,
            partition: subscription.clone().unwrap_or_default(),
        };
        Ok(AzureCliCredential {
            inner: CliCredential::new(AzureCli { subscription }, settings)?,
        })
    }
}

impl TokenCredential for AzureCliCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.inner.get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        crate::developer::AZURE_CLI_NAME
    }
}
