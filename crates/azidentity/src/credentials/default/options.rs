//! `DefaultAzureCredentialOptions`: Python's keyword arguments, and the exclusions keyed by
//! member.

use std::time::Duration;

use super::DefaultAzureCredentialMember as Member;
use crate::ClientOptions;

/// Options for [`DefaultAzureCredential`](crate::DefaultAzureCredential). Every `exclude_*` is
/// `None` by default, meaning "as `AZURE_TOKEN_CREDENTIALS` says" (everything included when it
/// is unset); `Some(true)` or `Some(false)` wins over the variable, as an explicit keyword
/// argument does in Python. [`exclusion`](Self::exclusion) and
/// [`set_exclusion`](Self::set_exclusion) reach the same fields by member.
#[derive(Debug, Clone)]
pub struct DefaultAzureCredentialOptions {
    /// Leave out [`EnvironmentCredential`](crate::EnvironmentCredential).
    pub exclude_environment_credential: Option<bool>,
    /// Leave out [`WorkloadIdentityCredential`](crate::WorkloadIdentityCredential).
    pub exclude_workload_identity_credential: Option<bool>,
    /// Leave out [`ManagedIdentityCredential`](crate::ManagedIdentityCredential).
    pub exclude_managed_identity_credential: Option<bool>,
    /// Leave out [`SharedTokenCacheCredential`](crate::SharedTokenCacheCredential).
    pub exclude_shared_token_cache_credential: Option<bool>,
    /// Leave out [`VisualStudioCodeCredential`](crate::VisualStudioCodeCredential).
    pub exclude_visual_studio_code_credential: Option<bool>,
    /// Leave out [`AzureCliCredential`](crate::AzureCliCredential).
    pub exclude_cli_credential: Option<bool>,
    /// Leave out [`AzurePowerShellCredential`](crate::AzurePowerShellCredential).
    pub exclude_powershell_credential: Option<bool>,
    /// Leave out [`AzureDeveloperCliCredential`](crate::AzureDeveloperCliCredential).
    pub exclude_developer_cli_credential: Option<bool>,
    /// Leave out [`InteractiveBrowserCredential`](crate::InteractiveBrowserCredential); `None`
    /// leaves it out too (it opens a browser) unless `AZURE_TOKEN_CREDENTIALS` names it.
    /// `Some(false)` adds it last.
    pub exclude_interactive_browser_credential: Option<bool>,
    /// The user-assigned managed identity's client id. `None`: `AZURE_CLIENT_ID` when set, else
    /// system-assigned. An empty string forces system-assigned (Python's explicit `None`).
    pub managed_identity_client_id: Option<String>,
    /// The workload identity app's client id; default: `managed_identity_client_id`, else
    /// `AZURE_CLIENT_ID`.
    pub workload_identity_client_id: Option<String>,
    /// The workload identity app's tenant; default `AZURE_TENANT_ID`.
    pub workload_identity_tenant_id: Option<String>,
    /// The account [`SharedTokenCacheCredential`](crate::SharedTokenCacheCredential) uses;
    /// default `AZURE_USERNAME`.
    pub shared_cache_username: Option<String>,
    /// The tenant [`SharedTokenCacheCredential`](crate::SharedTokenCacheCredential) uses;
    /// default `AZURE_TENANT_ID`.
    pub shared_cache_tenant_id: Option<String>,
    /// The tenant [`VisualStudioCodeCredential`](crate::VisualStudioCodeCredential) uses.
    pub visual_studio_code_tenant_id: Option<String>,
    /// The tenant [`InteractiveBrowserCredential`](crate::InteractiveBrowserCredential) signs in
    /// to; default `AZURE_TENANT_ID`.
    pub interactive_browser_tenant_id: Option<String>,
    /// The application [`InteractiveBrowserCredential`](crate::InteractiveBrowserCredential)
    /// signs in to; default Microsoft's developer sign-on app.
    pub interactive_browser_client_id: Option<String>,
    /// How long `az`, `pwsh` and `azd` may run (default 10 s).
    pub process_timeout: Duration,
    /// Fail at construction unless `AZURE_TOKEN_CREDENTIALS` is set.
    pub require_envvar: bool,
    /// Walk the chain strictly one member at a time, as Python does, instead of starting the
    /// non-interactive members at once (see [`DefaultAzureCredential`](crate::DefaultAzureCredential)).
    pub sequential: bool,
    /// Authority, tenants, retries and platform for the members that talk to Entra ID or
    /// managed identity; the platform also for the developer tools.
    pub client_options: ClientOptions,
    /// A persistent cache (or an application's store) for the members that use Entra ID
    /// directly: environment, workload identity, interactive browser. Default: in memory.
    pub cache_persistence_options: Option<crate::TokenCachePersistenceOptions>,
}

impl Default for DefaultAzureCredentialOptions {
    fn default() -> Self {
        DefaultAzureCredentialOptions {
            exclude_environment_credential: None,
            exclude_workload_identity_credential: None,
            exclude_managed_identity_credential: None,
            exclude_shared_token_cache_credential: None,
            exclude_visual_studio_code_credential: None,
            exclude_cli_credential: None,
            exclude_powershell_credential: None,
            exclude_developer_cli_credential: None,
            exclude_interactive_browser_credential: None,
            managed_identity_client_id: None,
            workload_identity_client_id: None,
            workload_identity_tenant_id: None,
            shared_cache_username: None,
            shared_cache_tenant_id: None,
            visual_studio_code_tenant_id: None,
            interactive_browser_tenant_id: None,
            interactive_browser_client_id: None,
            process_timeout: crate::developer::DEFAULT_PROCESS_TIMEOUT,
            require_envvar: false,
            sequential: false,
            client_options: ClientOptions::default(),
            cache_persistence_options: None,
        }
    }
}

impl DefaultAzureCredentialOptions {
    /// The `exclude_*` option of `member`: `None` leaves it to `AZURE_TOKEN_CREDENTIALS`.
    pub fn exclusion(&self, member: Member) -> Option<bool> {
        match member {
            Member::Environment => self.exclude_environment_credential,
            Member::WorkloadIdentity => self.exclude_workload_identity_credential,
            Member::ManagedIdentity => self.exclude_managed_identity_credential,
            Member::SharedTokenCache => self.exclude_shared_token_cache_credential,
            Member::VisualStudioCode => self.exclude_visual_studio_code_credential,
            Member::AzureCli => self.exclude_cli_credential,
            Member::AzurePowerShell => self.exclude_powershell_credential,
            Member::AzureDeveloperCli => self.exclude_developer_cli_credential,
            Member::InteractiveBrowser => self.exclude_interactive_browser_credential,
        }
    }

    /// Sets the `exclude_*` option of `member`: `Some(true)` leaves it out, `Some(false)` keeps
    /// it in whatever `AZURE_TOKEN_CREDENTIALS` says, `None` leaves it to the variable.
    pub fn set_exclusion(&mut self, member: Member, exclude: Option<bool>) {
        let field = match member {
            Member::Environment => &mut self.exclude_environment_credential,
            Member::WorkloadIdentity => &mut self.exclude_workload_identity_credential,
            Member::ManagedIdentity => &mut self.exclude_managed_identity_credential,
            Member::SharedTokenCache => &mut self.exclude_shared_token_cache_credential,
            Member::VisualStudioCode => &mut self.exclude_visual_studio_code_credential,
            Member::AzureCli => &mut self.exclude_cli_credential,
            Member::AzurePowerShell => &mut self.exclude_powershell_credential,
            Member::AzureDeveloperCli => &mut self.exclude_developer_cli_credential,
            Member::InteractiveBrowser => &mut self.exclude_interactive_browser_credential,
        };
        *field = exclude;
    }

    /// Keeps only `member` in the chain (every other member's option set to exclude it),
    /// whatever `AZURE_TOKEN_CREDENTIALS` says.
    pub fn only(&mut self, member: Member) {
        for other in Member::ALL {
            self.set_exclusion(other, Some(other != member));
        }
    }
}
