//! The one way a member is built inside the default chain: every member credential implements
//! [`ChainMember`], whose constructor takes [`Within`]; the chain's options are mapped onto the
//! member's options here, keyed by the member.

use super::{DefaultAzureCredentialMember as Member, DefaultAzureCredentialOptions, Selection};
use crate::{
    AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions, AzurePowerShellCredential,
    AzurePowerShellCredentialOptions, EnvironmentCredential, EnvironmentCredentialOptions,
    EnvironmentVariables as Vars, Error, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, ManagedIdentityId, SharedTokenCacheCredential,
    SharedTokenCacheCredentialOptions, TokenCredential, TokenFuture, TokenRequestOptions,
    VisualStudioCodeCredential, VisualStudioCodeCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

/// Where a credential is built: on its own, or as a member of `DefaultAzureCredential`, which
/// changes a few of Python's rules (its `within_dac`): developer tools that ran and failed, and
/// the shared token cache's refusals, are "unavailable" so the chain goes on; managed identity
/// classifies IMDS failures as unavailable and tolerates a client id on Cloud Shell; a partial
/// environment configuration is logged at INFO instead of WARNING.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Within {
    /// Built by the application.
    #[default]
    Standalone,
    /// A member of `DefaultAzureCredential`.
    DefaultChain {
        /// The chain's own workload identity member was explicitly included
        /// (`exclude_workload_identity_credential: Some(false)`): managed identity may then use
        /// the workload identity source too, as Python's does; otherwise it leaves it to that
        /// member (no duplicate attempt).
        workload_identity_included: bool,
    },
}

impl Within {
    /// Inside the chain, with its workload identity member left to the variable.
    #[cfg(test)]
    pub(crate) const fn default_chain() -> Self {
        Within::DefaultChain {
            workload_identity_included: false,
        }
    }

    pub(crate) fn is_default_chain(self) -> bool {
        matches!(self, Within::DefaultChain { .. })
    }
}

/// A credential that can be a member of the default chain, built the same way standalone
/// (`new` is `within(options, Within::Standalone)`) and inside the chain.
pub(crate) trait ChainMember: TokenCredential + Sized + 'static {
    /// The credential's public options.
    type Options;

    /// Validates `options` and builds the credential for its place.
    fn within(options: Self::Options, within: Within) -> Result<Self, Error>;
}

/// Members without rules of their own inside the chain.
macro_rules! same_in_chain {
    ($($credential:ty => $options:ty),* $(,)?) => {$(
        impl ChainMember for $credential {
            type Options = $options;

            fn within(options: $options, _within: Within) -> Result<Self, Error> {
                <$credential>::new(options)
            }
        }
    )*};
}

same_in_chain!(
    WorkloadIdentityCredential => WorkloadIdentityCredentialOptions,
    VisualStudioCodeCredential => VisualStudioCodeCredentialOptions,
);
#[cfg(feature = "interactive")]
same_in_chain!(crate::InteractiveBrowserCredential => crate::InteractiveBrowserCredentialOptions);

/// A credential whose constructor failed: it is unavailable, with the constructor's message and
/// reason, so the chain goes on (Python's `FailedDACCredential`).
#[derive(Debug)]
struct FailedMember {
    member: Member,
    error: Error,
}

impl TokenCredential for FailedMember {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&'a str],
        _options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        let error = Error::unavailable(self.member.name(), self.error.message().to_owned())
            .with_reason(self.error.reason());
        TokenFuture::ready(Err(error))
    }

    fn name(&self) -> &'static str {
        self.member.name()
    }
}

/// `member` as the chain runs it; a constructor failure becomes an unavailable placeholder.
pub(crate) fn member(
    member: Member,
    options: &DefaultAzureCredentialOptions,
    selection: &Selection,
) -> Box<dyn TokenCredential> {
    build(member, options, selection).unwrap_or_else(|error| {
        tracing::debug!(member = member.name(), error = %error, "member unavailable from the start");
        Box::new(FailedMember { member, error })
    })
}

fn make<C: ChainMember>(
    options: C::Options,
    within: Within,
) -> Result<Box<dyn TokenCredential>, Error> {
    Ok(Box::new(C::within(options, within)?))
}

fn build(
    member: Member,
    options: &DefaultAzureCredentialOptions,
    selection: &Selection,
) -> Result<Box<dyn TokenCredential>, Error> {
    let within = Within::DefaultChain {
        workload_identity_included: options.exclusion(Member::WorkloadIdentity) == Some(false),
    };
    let client_options = options.client_options.clone();
    let platform = client_options.platform.clone();
    let env = platform.env();
    let mi_client_id = match &options.managed_identity_client_id {
        Some(id) if id.is_empty() => None,
        Some(id) => Some(id.clone()),
        None => env.non_empty(Vars::AZURE_CLIENT_ID),
    };
    match member {
        Member::Environment => make::<EnvironmentCredential>(
            EnvironmentCredentialOptions {
                client_options,
                cache_persistence_options: options.cache_persistence_options.clone(),
            },
            within,
        ),
        Member::WorkloadIdentity => make::<WorkloadIdentityCredential>(
            WorkloadIdentityCredentialOptions {
                tenant_id: options.workload_identity_tenant_id.clone(),
                client_id: options.workload_identity_client_id.clone().or(mi_client_id),
                token_file_path: None,
                // Python's DefaultAzureCredential never uses the AKS token proxy.
                enable_azure_proxy: false,
                client_options,
                cache_persistence_options: options.cache_persistence_options.clone(),
            },
            within,
        ),
        Member::ManagedIdentity => make::<ManagedIdentityCredential>(
            ManagedIdentityCredentialOptions {
                id: mi_client_id.map_or(
                    ManagedIdentityId::SystemAssigned,
                    ManagedIdentityId::ClientId,
                ),
                imds_probe: !selection.managed_identity_alone,
                client_options,
            },
            within,
        ),
        Member::SharedTokenCache => make::<SharedTokenCacheCredential>(
            SharedTokenCacheCredentialOptions {
                username: options
                    .shared_cache_username
                    .clone()
                    .or_else(|| env.non_empty(Vars::AZURE_USERNAME)),
                tenant_id: options
                    .shared_cache_tenant_id
                    .clone()
                    .or_else(|| env.non_empty(Vars::AZURE_TENANT_ID)),
                client_options,
                ..Default::default()
            },
            within,
        ),
        Member::VisualStudioCode => make::<VisualStudioCodeCredential>(
            VisualStudioCodeCredentialOptions {
                tenant_id: options.visual_studio_code_tenant_id.clone(),
                client_options,
            },
            within,
        ),
        Member::AzureCli => make::<AzureCliCredential>(
            AzureCliCredentialOptions {
                process_timeout: options.process_timeout,
                platform,
                ..Default::default()
            },
            within,
        ),
        Member::AzurePowerShell => make::<AzurePowerShellCredential>(
            AzurePowerShellCredentialOptions {
                process_timeout: options.process_timeout,
                platform,
                ..Default::default()
            },
            within,
        ),
        Member::AzureDeveloperCli => make::<AzureDeveloperCliCredential>(
            AzureDeveloperCliCredentialOptions {
                process_timeout: options.process_timeout,
                platform,
                ..Default::default()
            },
            within,
        ),
        #[cfg(feature = "interactive")]
        Member::InteractiveBrowser => make::<crate::InteractiveBrowserCredential>(
            crate::InteractiveBrowserCredentialOptions {
                tenant_id: options
                    .interactive_browser_tenant_id
                    .clone()
                    .or_else(|| env.non_empty(Vars::AZURE_TENANT_ID)),
                client_id: options.interactive_browser_client_id.clone(),
                client_options,
                cache_persistence_options: options.cache_persistence_options.clone(),
                ..Default::default()
            },
            within,
        ),
        #[cfg(not(feature = "interactive"))]
        Member::InteractiveBrowser => Err(Error::config(
            member.name(),
            "this build of azidentity has no interactive sign-in: enable its `interactive` \
             feature (on by default)",
        )),
    }
}
