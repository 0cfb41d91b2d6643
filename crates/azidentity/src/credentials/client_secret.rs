//! `ClientSecretCredential`: a service principal authenticating with a client secret.

use crate::entra::confidential::{ClientAuth, ConfidentialClient};
use crate::{
    ClientOptions, Error, Secret, TokenCachePersistenceOptions, TokenCredential, TokenFuture,
    TokenRequestOptions,
};

const NAME: &str = "ClientSecretCredential";

/// Options for [`ClientSecretCredential`].
#[derive(Debug, Clone, Default)]
pub struct ClientSecretCredentialOptions {
    /// Authority, tenants, retries and platform.
    pub client_options: ClientOptions,
    /// Keep tokens in a persistent cache shared with other processes and Python
    /// `azure-identity` (or in an application's store, such as Redis). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

/// Authenticates a service principal with a client secret (the OAuth client credentials grant).
/// Tokens are cached in memory per tenant, scopes and CAE mode; concurrent requests for the same
/// token share one request.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{ClientSecretCredential, TokenCredential, TokenRequestOptions};
/// let credential = ClientSecretCredential::new(
///     "tenant-id", "client-id", "client-secret".into(), Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientSecretCredential {
    client: ConfidentialClient,
}

impl ClientSecretCredential {
    /// A credential for the app `client_id` in `tenant_id`. Fails when the tenant id is invalid,
    /// the client id or secret is empty, or the authority is not https.
    pub fn new(
        tenant_id: &str,
        client_id: &str,
        client_secret: Secret,
        options: ClientSecretCredentialOptions,
    ) -> Result<Self, Error> {
        if client_secret.is_empty() {
            return Err(Error::config(
                NAME,
                "client_secret is empty; pass the value of one of the app registration's \
                 client secrets",
            ));
        }
        let client = ConfidentialClient::new(
            NAME,
            tenant_id,
            client_id,
            ClientAuth::Secret(client_secret),
            &options.client_options,
            options.cache_persistence_options.as_ref(),
        )?;
        Ok(ClientSecretCredential { client })
    }
}

impl TokenCredential for ClientSecretCredential {
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
