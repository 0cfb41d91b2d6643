//! `DefaultAzureCredential`: Python's default chain, with a faster first walk.

mod build;
mod member;
mod options;
mod selection;
mod setup;
mod walk;

use std::sync::OnceLock;

pub(crate) use build::{ChainMember, Within};
pub use member::{DefaultAzureCredentialMember, UnknownMemberError};
pub use options::DefaultAzureCredentialOptions;
pub use selection::{Exclusion, TokenCredentialsSelection};
pub use setup::MemberSetup;

use selection::{Selection, select};
use walk::{WalkMember, walk};

use crate::credentials::chained::chain_failure;
use crate::{
    AccessToken, EnvironmentVariables as Vars, Error, TokenCredential, TokenFuture,
    TokenRequestOptions,
};

use DefaultAzureCredentialMember as Member;

const NAME: &str = "DefaultAzureCredential";

/// A member in the chain.
#[derive(Debug)]
struct Link {
    member: Member,
    credential: Box<dyn TokenCredential>,
    early: bool,
}

/// Any member, in the chain or not, with what it found.
#[derive(Debug)]
struct Entry {
    member: Member,
    setup: MemberSetup,
    excluded: Option<Exclusion>,
}

/// One member of a [`DefaultAzureCredential`] as built, for explaining the chain (`azid
/// doctor`): what it found, whether it is in the chain, and the credential to try on its own.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct DefaultAzureCredentialMemberInfo<'a> {
    /// Which member.
    pub member: DefaultAzureCredentialMember,
    /// The member's credential, when it is part of the chain.
    pub credential: Option<&'a dyn TokenCredential>,
    /// Why it is not part of the chain.
    pub excluded: Option<Exclusion>,
    /// What it found at construction (variables, tool on `PATH`, managed identity source,
    /// files).
    pub setup: &'a MemberSetup,
    /// Whether it starts before the members above it have answered.
    pub starts_early: bool,
}

/// The credential most applications should use: it tries, in Python's order,
/// [`EnvironmentCredential`], [`WorkloadIdentityCredential`], [`ManagedIdentityCredential`],
/// [`SharedTokenCacheCredential`], [`VisualStudioCodeCredential`], [`AzureCliCredential`],
/// [`AzurePowerShellCredential`], [`AzureDeveloperCliCredential`] and, only when asked for,
/// [`InteractiveBrowserCredential`], and uses the first that gives a token. Python:
/// `DefaultAzureCredential` (its sync chain, without the Windows broker member).
///
/// * A member that is unavailable lets the next one try; any other failure stops the chain. The
///   developer tools' failures count as unavailable here, so a broken `az` does not hide `azd`.
/// * After the first success, every call goes to that member only (sticky, as in Python), even
///   if it later fails. Concurrent first calls walk the chain once.
/// * A member whose constructor fails (for example workload identity without its variables) is
///   kept as an unavailable member carrying the constructor's message.
/// * `AZURE_TOKEN_CREDENTIALS` (`dev`, `prod`, or one credential's name) selects members;
///   explicit `exclude_*` options win over it.
///
/// **Faster first token (beyond Python).** On a developer laptop the IMDS probe of managed
/// identity (up to a second, much longer with some network set-ups) comes before `az`. By
/// default, once environment and workload identity have answered (at once, when they are not
/// configured), the IMDS probe and the `az`, `pwsh` and `azd` subprocesses start together: none
/// of them can prompt or change anything the user would notice. (When a managed identity
/// endpoint is configured, managed identity is the intended credential and nothing starts
/// before it answers.) Their answers
/// are still taken strictly in priority order: `az`'s token is used only after every member
/// above it has reported unavailable, exactly as in a sequential walk, and a token from a lower
/// member that is not needed is dropped (its process killed). Nothing starts before a
/// configured environment or workload identity credential, and the shared token cache and VS
/// Code wait their turn. Set [`DefaultAzureCredentialOptions::sequential`] to walk one member
/// at a time like Python.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{DefaultAzureCredential, TokenCredential, TokenRequestOptions};
/// let credential = DefaultAzureCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
/// [`EnvironmentCredential`]: crate::EnvironmentCredential
/// [`WorkloadIdentityCredential`]: crate::WorkloadIdentityCredential
/// [`ManagedIdentityCredential`]: crate::ManagedIdentityCredential
/// [`SharedTokenCacheCredential`]: crate::SharedTokenCacheCredential
/// [`VisualStudioCodeCredential`]: crate::VisualStudioCodeCredential
/// [`AzureCliCredential`]: crate::AzureCliCredential
/// [`AzurePowerShellCredential`]: crate::AzurePowerShellCredential
/// [`AzureDeveloperCliCredential`]: crate::AzureDeveloperCliCredential
/// [`InteractiveBrowserCredential`]: crate::InteractiveBrowserCredential
#[derive(Debug)]
pub struct DefaultAzureCredential {
    entries: Vec<Entry>,
    /// The included members, in order; `successful` indexes it.
    chain: Vec<Link>,
    successful: OnceLock<usize>,
    /// Serializes first walks so concurrent first callers walk the chain once. It is held
    /// across the walk by design: the waiting callers want its outcome, not a walk of their own.
    first_walk: tokio::sync::Mutex<()>,
    concurrent: bool,
}

impl DefaultAzureCredential {
    /// Builds the chain from the options and the platform's environment. Fails only for an
    /// invalid `AZURE_TOKEN_CREDENTIALS`, `require_envvar` without it, or an empty chain.
    pub fn new(options: DefaultAzureCredentialOptions) -> Result<Self, Error> {
        let platform = &options.client_options.platform;
        let selection = select(
            platform.env().get(Vars::AZURE_TOKEN_CREDENTIALS).as_deref(),
            |member| options.exclusion(member),
            options.require_envvar,
        )?;
        let entries = selection
            .members
            .iter()
            .map(|&(member, excluded)| Entry {
                member,
                setup: MemberSetup::find(member, platform),
                excluded,
            })
            .collect();
        let chain = selection
            .members
            .iter()
            .filter(|(_, excluded)| excluded.is_none())
            .map(|&(member, _)| Link {
                member,
                credential: build::member(member, &options, &selection),
                early: starts_early(member, &options, &selection),
            })
            .collect();
        Ok(DefaultAzureCredential {
            entries,
            chain,
            successful: OnceLock::new(),
            first_walk: tokio::sync::Mutex::new(()),
            concurrent: !options.sequential,
        })
    }

    /// Every member in chain order, included or not, with what it found at construction.
    pub fn members(&self) -> Vec<DefaultAzureCredentialMemberInfo<'_>> {
        self.entries
            .iter()
            .map(|entry| {
                let link = self.chain.iter().find(|l| l.member == entry.member);
                DefaultAzureCredentialMemberInfo {
                    member: entry.member,
                    credential: link.map(|l| l.credential.as_ref()),
                    excluded: entry.excluded,
                    setup: &entry.setup,
                    starts_early: link.is_some_and(|l| l.early) && self.concurrent,
                }
            })
            .collect()
    }

    /// The member that gave the first token, which every later call goes to.
    pub fn successful_credential(&self) -> Option<DefaultAzureCredentialMember> {
        self.successful.get().map(|&i| self.chain[i].member)
    }

    async fn get(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken, Error> {
        if let Some(&index) = self.successful.get() {
            return self.chain[index]
                .credential
                .get_token(scopes, options)
                .await;
        }
        let guard = self.first_walk.lock().await;
        if let Some(&index) = self.successful.get() {
            drop(guard);
            return self.chain[index]
                .credential
                .get_token(scopes, options)
                .await;
        }
        let members: Vec<WalkMember<'_>> = self
            .chain
            .iter()
            .map(|link| WalkMember {
                name: link.member.name(),
                credential: link.credential.as_ref(),
                early: link.early,
            })
            .collect();
        match walk(&members, scopes, options, self.concurrent).await {
            Ok((index, token)) => {
                let _ = self.successful.set(index);
                Ok(token)
            }
            Err(attempts) => Err(chain_failure(NAME, attempts)),
        }
    }
}

impl TokenCredential for DefaultAzureCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        // Once a member has given a token, every call is that member's: its own future (ready
        // on a cache hit) is the answer, with nothing to box.
        if let Some(&index) = self.successful.get() {
            return self.chain[index].credential.get_token(scopes, options);
        }
        TokenFuture::new(self.get(scopes, options))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

/// Managed identity starts early only when it has to probe for IMDS: a configured endpoint (App
/// Service, Arc, a named IMDS…) means it is the intended credential, and the tools below it
/// wait their turn as in Python. It probes when no other source is configured, the endpoint is
/// not named, and it is not the only credential selected.
fn starts_early(
    member: Member,
    options: &DefaultAzureCredentialOptions,
    selection: &Selection,
) -> bool {
    if member != Member::ManagedIdentity {
        return member.may_start_early();
    }
    let env = options.client_options.platform.env();
    !selection.managed_identity_alone
        && crate::ManagedIdentitySource::detect(env) == Some(crate::ManagedIdentitySource::Imds)
        && env
            .non_empty(Vars::AZURE_POD_IDENTITY_AUTHORITY_HOST)
            .is_none()
}
