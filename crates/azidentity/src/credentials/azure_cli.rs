//! `AzureCliCredential`: the account signed in to the Azure CLI (`az login`).

use std::time::Duration;

use super::developer_tool::developer_tool_credential;
use crate::developer::{AzureCli, CliCredential};
use crate::{Error, Platform};

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
    /// `az`, pinned to the subscription when one is given (validated: it goes on a command
    /// line); cached tokens are kept apart per subscription.
    fn tool(options: &AzureCliCredentialOptions) -> Result<(AzureCli, String), Error> {
        let subscription = options.subscription.clone().filter(|s| !s.is_empty());
        if let Some(subscription) = &subscription {
            crate::developer::validate_subscription(subscription)?;
        }
        let partition = subscription.clone().unwrap_or_default();
        Ok((AzureCli { subscription }, partition))
    }
}

developer_tool_credential!(AzureCliCredential, AzureCliCredentialOptions, AzureCli);
