//! `AuthorizationCodeCredential`: redeems an authorization code the application obtained
//! itself (a web app's sign-in redirect), then keeps the user's session going.

use std::sync::{Mutex, PoisonError};

use crate::entra::confidential::ClientAuth;
use crate::entra::user::{FirstGrant, Partition, UserClient};
use crate::{
    ClientOptions, Error, Secret, TokenCachePersistenceOptions, TokenCredential, TokenFuture,
    TokenRequestOptions,
};

const NAME: &str = "AuthorizationCodeCredential";

/// Options for [`AuthorizationCodeCredential`].
#[derive(Debug, Clone, Default)]
pub struct AuthorizationCodeCredentialOptions {
    /// Authority, tenants, retries and platform.
    pub client_options: ClientOptions,
    /// The client secret of a confidential (web) app; none for a public client.
    pub client_secret: Option<Secret>,
    /// The PKCE verifier, when the authorization request carried a code challenge.
    pub code_verifier: Option<Secret>,
    /// Keep tokens in a persistent cache shared with other processes and Python
    /// `azure-identity` (or in an application's store, such as Redis). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

struct CodeGrant {
    code: Mutex<Option<Secret>>,
    redirect_uri: String,
    code_verifier: Option<Secret>,
}

impl FirstGrant for CodeGrant {
    fn fields(&self) -> Option<Vec<(&'static str, Secret)>> {
        // Taken, not read: a code is single-use. It comes back through `restore` when Entra
        // never saw it; the user flow engine runs one first grant at a time.
        let code = self
            .code
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()?;
        let mut fields = vec![
            ("grant_type", Secret::new("authorization_code")),
            ("code", code),
            ("redirect_uri", Secret::new(self.redirect_uri.clone())),
        ];
        if let Some(verifier) = &self.code_verifier {
            fields.push(("code_verifier", verifier.clone()));
        }
        Some(fields)
    }

    fn restore(&self, fields: Vec<(&'static str, Secret)>) {
        if let Some((_, code)) = fields.into_iter().find(|(name, _)| *name == "code") {
            self.code
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert(code);
        }
    }

    fn unavailable_message(&self) -> &'static str {
        "No authorization code, cached access token, or refresh token available."
    }
}

/// Authenticates a user with an authorization code obtained elsewhere. Python:
/// `AuthorizationCodeCredential`.
///
/// The first `get_token` redeems the code (once); later calls return cached access tokens for
/// the signed-in account, then redeem its refresh token (for any scope the user consented to).
/// Tokens and the refresh token are bound to the account the code signed in. Concurrent first
/// calls, for any scopes, share the one redemption; a redemption that failed before Entra
/// refused the code (no answer, a 5xx) leaves the code for the next call.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{AuthorizationCodeCredential, TokenCredential, TokenRequestOptions};
/// # let code = String::new();
/// // The code your redirect URI received.
/// let credential = AuthorizationCodeCredential::new("tenant-id", "client-id", code.into(),
///     "http://localhost:8400", Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
pub struct AuthorizationCodeCredential {
    client: UserClient,
    grant: CodeGrant,
}

impl std::fmt::Debug for AuthorizationCodeCredential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationCodeCredential")
            .field("client", &self.client)
            .field("redirect_uri", &self.grant.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl AuthorizationCodeCredential {
    /// `redirect_uri` must be the one the code was issued for.
    pub fn new(
        tenant_id: &str,
        client_id: &str,
        authorization_code: Secret,
        redirect_uri: &str,
        options: AuthorizationCodeCredentialOptions,
    ) -> Result<Self, Error> {
        if authorization_code.is_empty() {
            return Err(Error::config(NAME, "the authorization code is empty"));
        }
        if redirect_uri.trim().is_empty() {
            return Err(Error::config(
                NAME,
                "redirect_uri is empty; pass the redirect URI the code was issued for",
            ));
        }
        let auth = match options.client_secret {
            Some(secret) if secret.is_empty() => {
                return Err(Error::config(NAME, "client_secret is empty"));
            }
            Some(secret) => Some(ClientAuth::Secret(secret)),
            None => None,
        };
        let client = UserClient::new(
            NAME,
            tenant_id,
            client_id,
            auth,
            &options.client_options,
            options.cache_persistence_options.as_ref(),
        )?;
        Ok(AuthorizationCodeCredential {
            client,
            grant: CodeGrant {
                code: Mutex::new(Some(authorization_code)),
                redirect_uri: redirect_uri.to_owned(),
                code_verifier: options.code_verifier,
            },
        })
    }
}

impl TokenCredential for AuthorizationCodeCredential {
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
