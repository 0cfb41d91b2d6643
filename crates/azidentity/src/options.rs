//! Options shared by every credential that talks to Microsoft Entra ID.

use std::time::Duration;

use crate::authority::Authority;
use crate::{AzureAuthorityHosts, EnvironmentVariables, Error, Platform};

/// Options common to all Entra ID credentials. Every `XxxCredentialOptions` holds one as
/// `client_options`.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The authority host, e.g. `login.microsoftonline.com` or an [`AzureAuthorityHosts`]
    /// constant. Default: `AZURE_AUTHORITY_HOST`, else the public cloud. Must be https.
    pub authority_host: Option<String>,
    /// Skip instance discovery (authority validation) for hosts Microsoft does not list, such as
    /// private clouds, Azure Stack or a local emulator.
    pub disable_instance_discovery: bool,
    /// Where instance discovery is asked for hosts that are not well known. Default: the public
    /// cloud's `/common/discovery/instance`.
    pub instance_discovery_endpoint: Option<String>,
    /// Tenants, besides the configured one, that `TokenRequestOptions::tenant_id` may name; `"*"`
    /// allows any.
    pub additionally_allowed_tenants: Vec<String>,
    /// Send confidential client (client credentials) token requests to a regional Entra
    /// endpoint: a region name such as `westus2`, or `tryautodetect` to find it from the
    /// `REGION_NAME` variable or the VM's instance metadata. Default:
    /// `AZURE_REGIONAL_AUTHORITY_NAME`, else none.
    pub regional_authority: Option<String>,
    /// Retries of token requests.
    pub retry: RetryOptions,
    /// Ambient inputs: environment, clock, HTTP transport.
    pub platform: Platform,
}

/// How token requests are retried after 408, 429, 5xx and connection failures.
#[derive(Debug, Clone)]
pub struct RetryOptions {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first retry is immediate; retry n (n ≥ 2) waits `backoff × 2^(n-1)`.
    pub backoff: Duration,
    /// No wait (including a server's `Retry-After`) is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryOptions {
    fn default() -> Self {
        RetryOptions {
            max_retries: 3,
            backoff: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
        }
    }
}

impl ClientOptions {
    /// The authority to use: the option, else `AZURE_AUTHORITY_HOST`, else the public cloud.
    pub(crate) fn authority(&self, credential: &'static str) -> Result<Authority, Error> {
        let env = self.platform.env();
        let host = self
            .authority_host
            .clone()
            .or_else(|| env.non_empty(EnvironmentVariables::AZURE_AUTHORITY_HOST))
            .unwrap_or_else(|| AzureAuthorityHosts::AZURE_PUBLIC_CLOUD.to_owned());
        Authority::parse(credential, &host)
    }

    /// Python treats any non-empty value as "on", even "false".
    pub(crate) fn multitenant_disabled(&self) -> bool {
        self.platform
            .env()
            .non_empty(EnvironmentVariables::AZURE_IDENTITY_DISABLE_MULTITENANTAUTH)
            .is_some()
    }
}
