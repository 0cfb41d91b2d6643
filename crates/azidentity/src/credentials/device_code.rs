//! `DeviceCodeCredential`: the user signs in on another device with a code this credential shows.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::entra::EntraClient;
use crate::entra::device_code;
use crate::entra::public_client::{FlowFuture, InteractiveFlow, PublicClient, PublicClientOptions};
use crate::{
    AuthenticationRecord, ClientOptions, Error, TokenCachePersistenceOptions, TokenCredential,
    TokenFuture, TokenRequestOptions,
};

const NAME: &str = "DeviceCodeCredential";
/// "Microsoft developer sign-on", Python's default client for user credentials.
pub(crate) const DEVELOPER_SIGN_ON_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// Shows the user where to sign in: `(verification_uri, user_code, expires_on)`, as Python's
/// `prompt_callback`.
pub type DeviceCodePrompt = Arc<dyn Fn(&str, &str, OffsetDateTime) + Send + Sync>;

/// Options for [`DeviceCodeCredential`].
#[derive(Clone, Default)]
pub struct DeviceCodeCredentialOptions {
    /// The application; default the Microsoft developer sign-on app (Azure CLI's).
    pub client_id: Option<String>,
    /// The tenant; default `organizations` (or the record's tenant).
    pub tenant_id: Option<String>,
    /// Stop waiting for the user after this long, if that is sooner than the code expires.
    pub timeout: Option<Duration>,
    /// Shows the code; without one the service's message is printed to stdout, as Python does.
    pub prompt_callback: Option<DeviceCodePrompt>,
    /// The account to authenticate silently (from an earlier [`DeviceCodeCredential::authenticate`]).
    pub authentication_record: Option<AuthenticationRecord>,
    /// Fail with [`ErrorKind::AuthenticationRequired`](crate::ErrorKind::AuthenticationRequired)
    /// instead of prompting when no token can be had silently.
    pub disable_automatic_authentication: bool,
    /// Keep tokens in the persistent cache shared with other applications.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
    /// Authority, retries, additionally allowed tenants, platform.
    pub client_options: ClientOptions,
}

impl std::fmt::Debug for DeviceCodeCredentialOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCodeCredentialOptions")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("timeout", &self.timeout)
            .field("prompt_callback", &self.prompt_callback.is_some())
            .field("authentication_record", &self.authentication_record)
            .field(
                "disable_automatic_authentication",
                &self.disable_automatic_authentication,
            )
            .field("cache_persistence_options", &self.cache_persistence_options)
            .field("client_options", &self.client_options)
            .finish()
    }
}

struct DeviceFlowRunner {
    timeout: Option<Duration>,
    prompt: Option<DeviceCodePrompt>,
}

impl InteractiveFlow for DeviceFlowRunner {
    fn grant_type(&self) -> &'static str {
        "urn:ietf:params:oauth:grant-type:device_code"
    }

    fn sign_in<'a>(
        &'a self,
        entra: &'a EntraClient,
        tenant: &'a str,
        scope: &'a str,
        claims: Option<&'a str>,
    ) -> FlowFuture<'a> {
        Box::pin(async move {
            let flow = device_code::start(entra, tenant, scope, claims).await?;
            match &self.prompt {
                Some(prompt) => prompt(
                    &flow.info.verification_uri,
                    &flow.info.user_code,
                    flow.info.expires_on,
                ),
                None => println!("{}", flow.info.message),
            }
            // Python: the caller's timeout counts only when it is shorter than the code's life.
            let deadline = match self.timeout {
                Some(timeout) => {
                    let by_timeout = entra.now() + timeout;
                    by_timeout.min(flow.info.expires_on)
                }
                None => flow.info.expires_on,
            };
            device_code::poll(entra, tenant, &flow, deadline, claims).await
        })
    }
}

/// Authenticates a user through the device code flow: the user opens a page on any device and
/// enters a code (Python: `DeviceCodeCredential`). Silent first for the account of its
/// [`AuthenticationRecord`]; with `cache_persistence_options`, tokens outlive the process and are
/// shared with Python `azure-identity` and Microsoft's developer tools.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{DeviceCodeCredential, DeviceCodeCredentialOptions, TokenCachePersistenceOptions, TokenCredential, TokenRequestOptions};
/// let credential = DeviceCodeCredential::new(DeviceCodeCredentialOptions {
///     cache_persistence_options: Some(TokenCachePersistenceOptions::default()),
///     ..Default::default()
/// })?;
/// // Once; keep the record (`record.serialize()`) to be silent in later runs.
/// let record = credential.authenticate(&[], &TokenRequestOptions::default()).await?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
pub struct DeviceCodeCredential {
    client: PublicClient,
    flow: DeviceFlowRunner,
}

impl std::fmt::Debug for DeviceCodeCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(NAME)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl DeviceCodeCredential {
    /// Validates the options; nothing is requested until a token is needed.
    pub fn new(options: DeviceCodeCredentialOptions) -> Result<Self, Error> {
        let client_id = options
            .client_id
            .as_deref()
            .unwrap_or(DEVELOPER_SIGN_ON_CLIENT_ID);
        let client = PublicClient::new(PublicClientOptions {
            credential: NAME,
            tenant_id: options.tenant_id.as_deref(),
            client_id,
            client_options: &options.client_options,
            persistence: options.cache_persistence_options.as_ref(),
            record: options.authentication_record.clone(),
            disable_automatic_authentication: options.disable_automatic_authentication,
        })?;
        Ok(DeviceCodeCredential {
            client,
            flow: DeviceFlowRunner {
                timeout: options.timeout,
                prompt: options.prompt_callback,
            },
        })
    }

    /// Prompts the user whatever the cache holds and returns the record of the account they
    /// signed in with (store it to authenticate silently later). Without `scopes`, Azure
    /// Resource Manager's of the authority's cloud, as in Python.
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AuthenticationRecord, Error> {
        self.client.authenticate(scopes, options, &self.flow).await
    }
}

impl TokenCredential for DeviceCodeCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.client.get_token(scopes, options, &self.flow)
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
