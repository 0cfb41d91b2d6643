//! `ManagedIdentityCredential`: the identity Azure gives the host the code runs on. The source
//! (IMDS, App Service, Azure Arc, Service Fabric, Cloud Shell, Azure ML, workload identity) is
//! detected from the environment once, at construction.

use super::default::{ChainMember, Within};
use crate::managed_identity::{self, MiClient, Mode, NAME};
use crate::{
    ClientOptions, EnvironmentVariables as Vars, Error, ManagedIdentityId, ManagedIdentitySource,
    TokenCredential, TokenFuture, TokenRequestOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};

/// Options for [`ManagedIdentityCredential`].
#[derive(Debug, Clone, Default)]
pub struct ManagedIdentityCredentialOptions {
    /// Which identity: system-assigned (the default) or a user-assigned one. On the workload
    /// identity source only a client id applies, and `AZURE_CLIENT_ID` is the default.
    pub id: ManagedIdentityId,
    /// On IMDS, precede the first request with a one-second probe without retries (unless
    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` names the endpoint), so a machine without IMDS fails
    /// fast with "unavailable". Only the probe: how later IMDS errors are classified does not
    /// change (inside `DefaultAzureCredential` they are "unavailable" so the chain moves on).
    pub imds_probe: bool,
    /// Retries (not used by IMDS, which has its own rules) and platform.
    pub client_options: ClientOptions,
}

#[derive(Debug)]
enum Inner {
    Endpoint(Box<MiClient>),
    Workload(Box<WorkloadIdentityCredential>),
    /// The environment names an endpoint but not which kind of host it is.
    Undetermined,
}

/// Authenticates as an Azure managed identity on any host that offers one. Python:
/// `ManagedIdentityCredential`.
///
/// Tokens are cached per resource and identity; a token request must name exactly one scope.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{ManagedIdentityCredential, ManagedIdentityCredentialOptions, ManagedIdentityId, TokenCredential, TokenRequestOptions};
/// // System-assigned: `Default::default()`; user-assigned by client id:
/// let credential = ManagedIdentityCredential::new(ManagedIdentityCredentialOptions {
///     id: ManagedIdentityId::from_selectors(Some("client-id"), None, None)?,
///     ..Default::default()
/// })?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ManagedIdentityCredential {
    inner: Inner,
    source: Option<ManagedIdentitySource>,
}

impl ManagedIdentityCredential {
    /// Detects the source from the platform's environment and validates the configuration: a
    /// user-assigned id on a host that cannot select one (Service Fabric, Cloud Shell), a
    /// malformed endpoint or thumbprint are errors here, not at the first request.
    pub fn new(options: ManagedIdentityCredentialOptions) -> Result<Self, Error> {
        Self::within(options, Within::Standalone)
    }

    fn build(
        options: ManagedIdentityCredentialOptions,
        allow_workload_identity: bool,
        mode: Mode,
    ) -> Result<Self, Error> {
        let env = options.client_options.platform.env().clone();
        let source = managed_identity::detect(&env, allow_workload_identity);
        let inner = match source {
            None => Inner::Undetermined,
            Some(ManagedIdentitySource::WorkloadIdentity) => {
                Inner::Workload(Box::new(workload(&options, &env)?))
            }
            Some(kind) => Inner::Endpoint(Box::new(managed_identity::client_for(
                kind,
                options.id.clone(),
                &options.client_options,
                mode,
            )?)),
        };
        match source {
            Some(kind) => tracing::info!(
                credential = NAME,
                "ManagedIdentityCredential will use {kind}{}",
                match options.id.value() {
                    Some(v) => format!(" with {}: {v}", options.id.kind_name()),
                    None => String::new(),
                }
            ),
            None => tracing::info!(
                credential = NAME,
                "ManagedIdentityCredential found no managed identity endpoint"
            ),
        }
        Ok(ManagedIdentityCredential { inner, source })
    }

    /// The source detected at construction; `None` when the environment names an endpoint
    /// without saying which kind of host it is.
    pub fn source(&self) -> Option<ManagedIdentitySource> {
        self.source
    }
}

/// Standalone, IMDS failures after retries stay failures whatever `imds_probe` says. Inside
/// `DefaultAzureCredential` (Python ties this to running inside a chain rather than to an
/// option) they are "unavailable" so the chain moves on; Cloud Shell tolerates a client id (the
/// chain passes `AZURE_CLIENT_ID` to every source); and the workload identity source is left to
/// the chain's own member unless that member was explicitly included.
impl ChainMember for ManagedIdentityCredential {
    type Options = ManagedIdentityCredentialOptions;

    fn within(options: ManagedIdentityCredentialOptions, within: Within) -> Result<Self, Error> {
        let in_chain = within.is_default_chain();
        let mode = Mode {
            probe_imds: options.imds_probe,
            in_chain,
            in_default_chain: in_chain,
        };
        let allow_workload_identity = match within {
            Within::Standalone => true,
            Within::DefaultChain {
                workload_identity_included,
            } => workload_identity_included,
        };
        Self::build(options, allow_workload_identity, mode)
    }
}

/// Workload identity as a managed identity source: the tenant, token file and authority come
/// from the environment; the client id from the options, else `AZURE_CLIENT_ID`.
fn workload(
    options: &ManagedIdentityCredentialOptions,
    env: &crate::Env,
) -> Result<WorkloadIdentityCredential, Error> {
    let client_id = match &options.id {
        ManagedIdentityId::ClientId(id) => Some(id.clone()),
        ManagedIdentityId::SystemAssigned => env.non_empty(Vars::AZURE_CLIENT_ID),
        other => {
            return Err(Error::config(
                NAME,
                format!(
                    "workload identity was selected (AZURE_FEDERATED_TOKEN_FILE is set) but the \
                     {other} cannot be used with it; pass the identity's client id"
                ),
            ));
        }
    };
    let Some(client_id) = client_id else {
        return Err(Error::config(
            NAME,
            "Workload identity was selected but no client ID was provided. Configure the \
             environment with a client ID (AZURE_CLIENT_ID) or pass ManagedIdentityId::ClientId",
        ));
    };
    WorkloadIdentityCredential::new(WorkloadIdentityCredentialOptions {
        tenant_id: env.non_empty(Vars::AZURE_TENANT_ID),
        client_id: Some(client_id),
        token_file_path: env
            .non_empty(Vars::AZURE_FEDERATED_TOKEN_FILE)
            .map(Into::into),
        enable_azure_proxy: false,
        client_options: options.client_options.clone(),
        ..Default::default()
    })
    .map_err(|e| e.in_credential(NAME))
}

impl TokenCredential for ManagedIdentityCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        match &self.inner {
            Inner::Endpoint(client) => client.get_token(scopes, options),
            Inner::Workload(credential) => TokenFuture::new(async move {
                managed_identity::resource_for(scopes)?;
                credential
                    .get_token(scopes, options)
                    .await
                    .map_err(|e| e.in_credential(NAME))
            }),
            Inner::Undetermined => TokenFuture::ready(Err(Error::unavailable(
                NAME,
                format!(
                    "No managed identity endpoint found. The target Azure platform could not \
                     be determined from environment variables: IDENTITY_ENDPOINT is set, but \
                     neither IDENTITY_HEADER (App Service, Service Fabric) nor IMDS_ENDPOINT \
                     (Azure Arc) is. See {}",
                    crate::troubleshooting::MANAGED_IDENTITY
                ),
            )
            .with_reason(crate::ErrorReason::VariablesMissing))),
        }
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
