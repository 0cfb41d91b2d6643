//! `ClientAssertionCredential`: a service principal that proves its identity with a JWT the
//! caller supplies (for example one signed by a key in a hardware module, or a federated token
//! from another identity provider).

use std::future::Future;

use crate::entra::confidential::{AssertionFn, CallbackAssertion, ConfidentialClient};
use crate::{
    ClientOptions, Error, TokenCachePersistenceOptions, TokenCredential, TokenFuture,
    TokenRequestOptions,
};

const NAME: &str = "ClientAssertionCredential";

/// Options for [`ClientAssertionCredential`].
#[derive(Debug, Clone, Default)]
pub struct ClientAssertionCredentialOptions {
    /// Authority, tenants, retries and platform.
    pub client_options: ClientOptions,
    /// Keep tokens in a persistent cache shared with other processes and Python
    /// `azure-identity` (or in an application's store, such as Redis). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

/// Authenticates a service principal with a client assertion returned by a function, which is
/// called for every new token (never for a cached one). Python: `ClientAssertionCredential`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{ClientAssertionCredential, TokenCredential, TokenRequestOptions};
/// // Called for every new token: a federated token from your platform, for example.
/// let credential = ClientAssertionCredential::new("tenant-id", "client-id",
///     || std::fs::read_to_string("/var/run/secrets/assertion"), Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientAssertionCredential {
    client: ConfidentialClient,
}

impl ClientAssertionCredential {
    /// `func` returns a signed JWT whose audience is the tenant's token endpoint. It runs on the
    /// async executor, so it should be quick; use [`ClientAssertionCredential::new_async`] for
    /// anything that does I/O.
    pub fn new<F, E>(
        tenant_id: &str,
        client_id: &str,
        func: F,
        options: ClientAssertionCredentialOptions,
    ) -> Result<Self, Error>
    where
        F: Fn() -> Result<String, E> + Send + Sync + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let call = CallbackAssertion::from_fn(NAME, func);
        Self::from_callback(tenant_id, client_id, call, options)
    }

    /// Like [`ClientAssertionCredential::new`], with an async function.
    pub fn new_async<F, Fut, E>(
        tenant_id: &str,
        client_id: &str,
        func: F,
        options: ClientAssertionCredentialOptions,
    ) -> Result<Self, Error>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let call = CallbackAssertion::from_async_fn(NAME, func);
        Self::from_callback(tenant_id, client_id, call, options)
    }

    fn from_callback(
        tenant_id: &str,
        client_id: &str,
        call: AssertionFn,
        options: ClientAssertionCredentialOptions,
    ) -> Result<Self, Error> {
        let client = ConfidentialClient::new(
            NAME,
            tenant_id,
            client_id,
            CallbackAssertion::auth(call),
            &options.client_options,
            options.cache_persistence_options.as_ref(),
        )?;
        Ok(ClientAssertionCredential { client })
    }
}

impl TokenCredential for ClientAssertionCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.client.get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
