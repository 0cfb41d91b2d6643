//! `DefaultAzureCredential`: Python's default chain, with a faster first walk.

mod selection;
mod walk;

use std::sync::OnceLock;
use std::time::Duration;

use selection::{Member, select};
use walk::{WalkMember, walk};

use crate::credentials::chained::chain_failure;
use crate::platform::which;
use crate::{
    AccessToken, AzureCliCredential, AzureCliCredentialOptions, AzureDeveloperCliCredential,
    AzureDeveloperCliCredentialOptions, AzurePowerShellCredential,
    AzurePowerShellCredentialOptions, ClientOptions, EnvironmentCredential,
    EnvironmentCredentialOptions, EnvironmentVariables as Vars, Error,
    InteractiveBrowserCredential, InteractiveBrowserCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, ManagedIdentityId, SharedTokenCacheCredential,
    SharedTokenCacheCredentialOptions, TokenCredential, TokenFuture, TokenRequestOptions,
    VisualStudioCodeCredential, VisualStudioCodeCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

const NAME: &str = "DefaultAzureCredential";

/// Options for [`DefaultAzureCredential`]. Every `exclude_*` is `None` by default, meaning "as
/// `AZURE_TOKEN_CREDENTIALS` says" (everything included when it is unset); `Some(true)` or
/// `Some(false)` wins over the variable, as an explicit keyword argument does in Python.
#[derive(Debug, Clone)]
pub struct DefaultAzureCredentialOptions {
    /// Leave out [`EnvironmentCredential`].
    pub exclude_environment_credential: Option<bool>,
    /// Leave out [`WorkloadIdentityCredential`].
    pub exclude_workload_identity_credential: Option<bool>,
    /// Leave out [`ManagedIdentityCredential`].
    pub exclude_managed_identity_credential: Option<bool>,
    /// Leave out [`SharedTokenCacheCredential`].
    pub exclude_shared_token_cache_credential: Option<bool>,
    /// Leave out [`VisualStudioCodeCredential`].
    pub exclude_visual_studio_code_credential: Option<bool>,
    /// Leave out [`AzureCliCredential`].
    pub exclude_cli_credential: Option<bool>,
    /// Leave out [`AzurePowerShellCredential`].
    pub exclude_powershell_credential: Option<bool>,
    /// Leave out [`AzureDeveloperCliCredential`].
    pub exclude_developer_cli_credential: Option<bool>,
    /// Leave out [`InteractiveBrowserCredential`]; `None` leaves it out too (it opens a
    /// browser) unless `AZURE_TOKEN_CREDENTIALS` names it. `Some(false)` adds it last.
    pub exclude_interactive_browser_credential: Option<bool>,
    /// The user-assigned managed identity's client id. `None`: `AZURE_CLIENT_ID` when set, else
    /// system-assigned. An empty string forces system-assigned (Python's explicit `None`).
    pub managed_identity_client_id: Option<String>,
    /// The workload identity app's client id; default: `managed_identity_client_id`, else
    /// `AZURE_CLIENT_ID`.
    pub workload_identity_client_id: Option<String>,
    /// The workload identity app's tenant; default `AZURE_TENANT_ID`.
    pub workload_identity_tenant_id: Option<String>,
    /// The account [`SharedTokenCacheCredential`] uses; default `AZURE_USERNAME`.
    pub shared_cache_username: Option<String>,
    /// The tenant [`SharedTokenCacheCredential`] uses; default `AZURE_TENANT_ID`.
    pub shared_cache_tenant_id: Option<String>,
    /// The tenant [`VisualStudioCodeCredential`] uses.
    pub visual_studio_code_tenant_id: Option<String>,
    /// The tenant [`InteractiveBrowserCredential`] signs in to; default `AZURE_TENANT_ID`.
    pub interactive_browser_tenant_id: Option<String>,
    /// The application [`InteractiveBrowserCredential`] signs in to; default Microsoft's
    /// developer sign-on app.
    pub interactive_browser_client_id: Option<String>,
    /// How long `az`, `pwsh` and `azd` may run (default 10 s).
    pub process_timeout: Duration,
    /// Fail at construction unless `AZURE_TOKEN_CREDENTIALS` is set.
    pub require_envvar: bool,
    /// Walk the chain strictly one member at a time, as Python does, instead of starting the
    /// non-interactive members at once (see [`DefaultAzureCredential`]).
    pub sequential: bool,
    /// Authority, tenants, retries and platform for the members that talk to Entra ID or
    /// managed identity; the platform also for the developer tools.
    pub client_options: ClientOptions,
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
        }
    }
}

impl DefaultAzureCredentialOptions {
    fn explicit_excludes(&self) -> [Option<bool>; 9] {
        [
            self.exclude_environment_credential,
            self.exclude_workload_identity_credential,
            self.exclude_managed_identity_credential,
            self.exclude_shared_token_cache_credential,
            self.exclude_visual_studio_code_credential,
            self.exclude_cli_credential,
            self.exclude_powershell_credential,
            self.exclude_developer_cli_credential,
            self.exclude_interactive_browser_credential,
        ]
    }
}

/// A credential whose constructor failed: it is unavailable, with the constructor's message, so
/// the chain goes on (Python's `FailedDACCredential`).
#[derive(Debug)]
struct FailedMember {
    name: &'static str,
    error: Error,
}

impl TokenCredential for FailedMember {
    fn get_token<'a>(
        &'a self,
        _scopes: &'a [&'a str],
        _options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        let error = Error::unavailable(self.name, self.error.message().to_owned())
            .with_reason(self.error.reason());
        Box::pin(std::future::ready(Err(error)))
    }

    fn name(&self) -> &'static str {
        self.name
    }
}

#[derive(Debug)]
struct Entry {
    member: Member,
    credential: Box<dyn TokenCredential>,
    setup: String,
    early: bool,
}

/// One member of a [`DefaultAzureCredential`], for explaining the chain (`azid doctor`).
#[derive(Debug, Clone, Copy)]
pub struct DefaultAzureCredentialMember<'a> {
    /// The credential's name, e.g. `AzureCliCredential`.
    pub name: &'static str,
    /// The member, when it is part of the chain.
    pub credential: Option<&'a dyn TokenCredential>,
    /// Why it is not part of the chain (an `exclude_*` option or `AZURE_TOKEN_CREDENTIALS`).
    pub excluded: Option<&'a str>,
    /// What it found at construction: which variables are set, which tool is on `PATH`, which
    /// managed identity source was detected, or why it could not be built.
    pub setup: &'a str,
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
#[derive(Debug)]
pub struct DefaultAzureCredential {
    entries: Vec<Entry>,
    excluded: Vec<(Member, String, String)>,
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
        let env = options.client_options.platform.env().clone();
        let selection = select(
            env.get(Vars::AZURE_TOKEN_CREDENTIALS).as_deref(),
            options.explicit_excludes(),
            options.require_envvar,
        )?;
        let mut entries = Vec::new();
        let mut excluded = Vec::new();
        for (member, reason) in selection.members {
            let setup = describe(member, &options);
            if let Some(reason) = reason {
                excluded.push((member, reason, setup));
                continue;
            }
            let credential = match build(member, &options, selection.managed_identity_alone) {
                Ok(credential) => credential,
                Err(error) => {
                    tracing::debug!(member = member.name(), error = %error, "member unavailable from the start");
                    Box::new(FailedMember {
                        name: member.name(),
                        error,
                    }) as Box<dyn TokenCredential>
                }
            };
            // Managed identity starts early only when it has to probe for IMDS: a configured
            // endpoint (App Service, Arc, a named IMDS…) means it is the intended credential,
            // and the tools below it wait their turn as in Python.
            let early = member.starts_early()
                && (member != Member::ManagedIdentity
                    || probes_imds(&options, selection.managed_identity_alone));
            entries.push(Entry {
                member,
                credential,
                setup,
                early,
            });
        }
        Ok(DefaultAzureCredential {
            entries,
            excluded,
            successful: OnceLock::new(),
            first_walk: tokio::sync::Mutex::new(()),
            concurrent: !options.sequential,
        })
    }

    /// Every member in chain order, included or not, with what it found at construction.
    pub fn members(&self) -> Vec<DefaultAzureCredentialMember<'_>> {
        Member::ALL
            .into_iter()
            .filter_map(|member| {
                if let Some(entry) = self.entries.iter().find(|e| e.member == member) {
                    return Some(DefaultAzureCredentialMember {
                        name: member.name(),
                        credential: Some(entry.credential.as_ref()),
                        excluded: None,
                        setup: &entry.setup,
                        starts_early: entry.early && self.concurrent,
                    });
                }
                self.excluded
                    .iter()
                    .find(|(m, _, _)| *m == member)
                    .map(|(_, reason, setup)| DefaultAzureCredentialMember {
                        name: member.name(),
                        credential: None,
                        excluded: Some(reason),
                        setup,
                        starts_early: false,
                    })
            })
            .collect()
    }

    /// The member that gave the first token, which every later call goes to.
    pub fn successful_credential(&self) -> Option<&'static str> {
        self.successful
            .get()
            .map(|&i| self.entries[i].member.name())
    }

    async fn get(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken, Error> {
        if let Some(&index) = self.successful.get() {
            return self.entries[index]
                .credential
                .get_token(scopes, options)
                .await;
        }
        let guard = self.first_walk.lock().await;
        if let Some(&index) = self.successful.get() {
            drop(guard);
            return self.entries[index]
                .credential
                .get_token(scopes, options)
                .await;
        }
        let members: Vec<WalkMember<'_>> = self
            .entries
            .iter()
            .map(|e| WalkMember {
                name: e.member.name(),
                credential: e.credential.as_ref(),
                early: e.early,
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
        Box::pin(self.get(scopes, options))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

/// Whether managed identity in this chain would probe IMDS first: no other source is configured,
/// the endpoint is not named, and it is not the only credential selected.
fn probes_imds(options: &DefaultAzureCredentialOptions, managed_identity_alone: bool) -> bool {
    let env = options.client_options.platform.env();
    !managed_identity_alone
        && crate::ManagedIdentitySource::detect(env) == Some(crate::ManagedIdentitySource::Imds)
        && env
            .non_empty(Vars::AZURE_POD_IDENTITY_AUTHORITY_HOST)
            .is_none()
}

fn build(
    member: Member,
    options: &DefaultAzureCredentialOptions,
    managed_identity_alone: bool,
) -> Result<Box<dyn TokenCredential>, Error> {
    let client_options = options.client_options.clone();
    let env = client_options.platform.env().clone();
    let platform = client_options.platform.clone();
    let mi_client_id = match &options.managed_identity_client_id {
        Some(id) if id.is_empty() => None,
        Some(id) => Some(id.clone()),
        None => env.non_empty(Vars::AZURE_CLIENT_ID),
    };
    Ok(match member {
        Member::Environment => Box::new(EnvironmentCredential::for_default_chain(
            EnvironmentCredentialOptions { client_options },
        )?),
        Member::WorkloadIdentity => Box::new(WorkloadIdentityCredential::new(
            WorkloadIdentityCredentialOptions {
                tenant_id: options.workload_identity_tenant_id.clone(),
                client_id: options
                    .workload_identity_client_id
                    .clone()
                    .or_else(|| mi_client_id.clone()),
                token_file_path: None,
                // Python's DefaultAzureCredential never uses the AKS token proxy.
                enable_azure_proxy: false,
                client_options,
            },
        )?),
        Member::ManagedIdentity => {
            let id = match mi_client_id {
                Some(id) => ManagedIdentityId::ClientId(id),
                None => ManagedIdentityId::SystemAssigned,
            };
            let exclude_workload = options.exclude_workload_identity_credential != Some(false);
            Box::new(ManagedIdentityCredential::for_default_chain(
                ManagedIdentityCredentialOptions {
                    id,
                    imds_probe: !managed_identity_alone,
                    client_options,
                },
                exclude_workload,
            )?)
        }
        Member::SharedTokenCache => Box::new(SharedTokenCacheCredential::build(
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
            },
            true,
        )?),
        Member::VisualStudioCode => Box::new(VisualStudioCodeCredential::new(
            VisualStudioCodeCredentialOptions {
                tenant_id: options.visual_studio_code_tenant_id.clone(),
                client_options,
            },
        )?),
        Member::AzureCli => Box::new(AzureCliCredential::build(
            AzureCliCredentialOptions {
                process_timeout: options.process_timeout,
                platform,
                ..Default::default()
            },
            true,
        )?),
        Member::AzurePowerShell => Box::new(AzurePowerShellCredential::build(
            AzurePowerShellCredentialOptions {
                process_timeout: options.process_timeout,
                platform,
                ..Default::default()
            },
            true,
        )?),
        Member::InteractiveBrowser => Box::new(InteractiveBrowserCredential::new(
            InteractiveBrowserCredentialOptions {
                tenant_id: options
                    .interactive_browser_tenant_id
                    .clone()
                    .or_else(|| env.non_empty(Vars::AZURE_TENANT_ID)),
                client_id: options.interactive_browser_client_id.clone(),
                client_options,
                ..Default::default()
            },
        )?),
        Member::AzureDeveloperCli => Box::new(AzureDeveloperCliCredential::build(
            AzureDeveloperCliCredentialOptions {
                process_timeout: options.process_timeout,
                platform,
                ..Default::default()
            },
            true,
        )?),
    })
}

/// What a member will find, in words, without doing any I/O beyond a `PATH` lookup and a file
/// existence check.
fn describe(member: Member, options: &DefaultAzureCredentialOptions) -> String {
    let platform = &options.client_options.platform;
    let env = platform.env();
    let set = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter(|n| env.non_empty(n).is_some())
            .map(|n| (*n).to_owned())
            .collect()
    };
    let tool = |name: &str| match which(env, name) {
        Some(path) => format!("{name} found at {}", path.display()),
        None => format!("{name} is not on PATH"),
    };
    match member {
        Member::Environment => {
            let present = set(&[
                Vars::AZURE_TENANT_ID,
                Vars::AZURE_CLIENT_ID,
                Vars::AZURE_CLIENT_SECRET,
                Vars::AZURE_CLIENT_CERTIFICATE_PATH,
                Vars::AZURE_USERNAME,
                Vars::AZURE_PASSWORD,
            ]);
            if present.is_empty() {
                "no AZURE_* service principal variables are set".to_owned()
            } else {
                format!("set: {}", present.join(", "))
            }
        }
        Member::WorkloadIdentity => {
            let present = set(&[
                Vars::AZURE_FEDERATED_TOKEN_FILE,
                Vars::AZURE_TENANT_ID,
                Vars::AZURE_CLIENT_ID,
            ]);
            if present
                .iter()
                .any(|v| v == Vars::AZURE_FEDERATED_TOKEN_FILE)
            {
                format!("set: {}", present.join(", "))
            } else {
                "AZURE_FEDERATED_TOKEN_FILE is not set (not a Kubernetes pod with workload identity)"
                    .to_owned()
            }
        }
        Member::ManagedIdentity => match crate::ManagedIdentitySource::detect(env) {
            Some(crate::ManagedIdentitySource::Imds) => {
                match env.non_empty(Vars::AZURE_POD_IDENTITY_AUTHORITY_HOST) {
                    Some(host) => format!("IMDS at {host} (AZURE_POD_IDENTITY_AUTHORITY_HOST)"),
                    None => "no managed identity variables; will probe IMDS at 169.254.169.254 \
                             (1 s, no retries)"
                        .to_owned(),
                }
            }
            Some(source) => format!("detected {source}"),
            None => "IDENTITY_ENDPOINT is set without IDENTITY_HEADER or IMDS_ENDPOINT".to_owned(),
        },
        Member::SharedTokenCache => {
            match crate::credentials::shared_token_cache::cache_path(platform, false) {
                Some(path) if path.is_file() => format!("cache file {}", path.display()),
                Some(path) => format!("no cache file at {}", path.display()),
                None => "no home directory".to_owned(),
            }
        }
        Member::VisualStudioCode => {
            match crate::credentials::visual_studio_code::auth_record_path(platform) {
                Some(path) => format!("auth record {}", path.display()),
                None => "no VS Code Azure Resources auth record".to_owned(),
            }
        }
        Member::AzureCli => tool("az"),
        Member::AzurePowerShell => tool("pwsh"),
        Member::AzureDeveloperCli => tool("azd"),
        Member::InteractiveBrowser => {
            "signs in through the default browser and a loopback redirect".to_owned()
        }
    }
}
