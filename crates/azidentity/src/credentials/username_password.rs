//! `UsernamePasswordCredential`: a user's name and password sent to Entra ID (the resource
//! owner password credentials grant).
//!
//! Deprecated in Python and discouraged by Microsoft: it cannot do multi-factor authentication,
//! so it fails for any user or tenant that requires MFA (AADSTS50076), and Entra's MFA
//! enforcement for Azure sign-ins makes that most users. It does not work with personal
//! Microsoft accounts or federated (ADFS) users either. Prefer an interactive credential, or a
//! service principal for automation.

use crate::entra::user::{FirstGrant, Partition, UserClient};
use crate::{
    ClientOptions, Error, Secret, TokenCachePersistenceOptions, TokenCredential, TokenFuture,
    TokenRequestOptions,
};

const NAME: &str = "UsernamePasswordCredential";

/// Options for [`UsernamePasswordCredential`].
#[derive(Debug, Clone, Default)]
pub struct UsernamePasswordCredentialOptions {
    /// Authority, tenants, retries and platform.
    pub client_options: ClientOptions,
    /// The user's tenant; default `organizations` (Entra finds it from the user name).
    pub tenant_id: Option<String>,
    /// Keep tokens in a persistent cache shared with other processes and Python
    /// `azure-identity` (or in an application's store, such as Redis). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

struct PasswordGrant {
    username: String,
    password: Secret,
}

impl FirstGrant for PasswordGrant {
    fn fields(&self) -> Option<Vec<(&'static str, Secret)>> {
        Some(vec![
            ("grant_type", Secret::new("password")),
            ("username", Secret::new(self.username.clone())),
            ("password", self.password.clone()),
        ])
    }

    fn unavailable_message(&self) -> &'static str {
        "no password is available"
    }
}

/// Authenticates a user with a user name and password. Python: `UsernamePasswordCredential`
/// (deprecated there; see the module documentation for its limits, MFA above all).
///
/// The first token comes from the password grant; later ones from the cache, then from the
/// refresh token, which stays bound to the signed-in account.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{UsernamePasswordCredential, TokenCredential, TokenRequestOptions};
/// let credential = UsernamePasswordCredential::new("client-id", "user@contoso.com",
///     std::env::var("PASSWORD")?.into(), Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
pub struct UsernamePasswordCredential {
    client: UserClient,
    grant: PasswordGrant,
}

impl std::fmt::Debug for UsernamePasswordCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsernamePasswordCredential")
            .field("client", &self.client)
            .field("username", &self.grant.username)
            .finish_non_exhaustive()
    }
}

impl UsernamePasswordCredential {
    /// A credential for `username` signing in to the public client app `client_id`. Fails when
    /// the user name or password is empty, or the configuration is invalid.
    pub fn new(
        client_id: &str,
        username: &str,
        password: Secret,
        options: UsernamePasswordCredentialOptions,
    ) -> Result<Self, Error> {
        if username.trim().is_empty() || password.is_empty() {
            return Err(Error::config(
                NAME,
                "username and password must both be given (AZURE_USERNAME, AZURE_PASSWORD)",
            ));
        }
        let tenant = options
            .tenant_id
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or("organizations");
        let client = UserClient::new(
            NAME,
            tenant,
            client_id,
            None,
            &options.client_options,
            options.cache_persistence_options.as_ref(),
        )?;
        Ok(UsernamePasswordCredential {
            client,
            grant: PasswordGrant {
                username: username.to_owned(),
                password,
            },
        })
    }
}

impl TokenCredential for UsernamePasswordCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.client
            .get_token(scopes, options, Partition::SignedInAccount, &self.grant)
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
