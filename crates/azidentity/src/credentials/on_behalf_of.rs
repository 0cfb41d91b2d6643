//! `OnBehalfOfCredential`: a middle-tier service exchanges the access token a user sent it (the
//! user assertion) for a token to a downstream API, as that user.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use base64::Engine as _;
use ring::digest;

use super::certificate::{CertificateCredentialOptions, certificate_auth};
use crate::certificate::CertificateSource;
use crate::entra::confidential::{AssertionFn, CallbackAssertion, ClientAuth};
use crate::entra::user::{FirstGrant, Partition, UserClient};
use crate::{
    ClientOptions, Error, Secret, TokenCachePersistenceOptions, TokenCredential, TokenFuture,
    TokenRequestOptions,
};

const NAME: &str = "OnBehalfOfCredential";
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// How the middle-tier app authenticates itself: exactly one of Python's `client_secret`,
/// `client_certificate` and `client_assertion_func`.
#[non_exhaustive]
pub enum OnBehalfOfAuth {
    /// A client secret.
    ClientSecret(Secret),
    /// A certificate with its private key (PEM or PKCS#12); the password is in the options.
    ClientCertificate(CertificateSource),
    /// A function returning a client assertion, called for every new token; made by
    /// [`OnBehalfOfAuth::client_assertion`] or [`OnBehalfOfAuth::client_assertion_async`].
    ClientAssertion(ClientAssertionCallback),
}

/// A caller's client assertion function, as [`OnBehalfOfAuth::ClientAssertion`] holds it.
pub struct ClientAssertionCallback(AssertionFn);

impl fmt::Debug for ClientAssertionCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<function>")
    }
}

impl fmt::Debug for OnBehalfOfAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OnBehalfOfAuth::ClientSecret(_) => f.write_str("ClientSecret(***)"),
            OnBehalfOfAuth::ClientCertificate(source) => {
                f.debug_tuple("ClientCertificate").field(source).finish()
            }
            OnBehalfOfAuth::ClientAssertion(_) => f.write_str("ClientAssertion(<function>)"),
        }
    }
}

impl OnBehalfOfAuth {
    /// A synchronous assertion function (see [`OnBehalfOfAuth::ClientAssertion`]).
    pub fn client_assertion<F, E>(func: F) -> Self
    where
        F: Fn() -> Result<String, E> + Send + Sync + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        OnBehalfOfAuth::ClientAssertion(ClientAssertionCallback(CallbackAssertion::from_fn(
            NAME, func,
        )))
    }

    /// An async assertion function.
    pub fn client_assertion_async<F, Fut, E>(func: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        OnBehalfOfAuth::ClientAssertion(ClientAssertionCallback(CallbackAssertion::from_async_fn(
            NAME, func,
        )))
    }
}

/// Options for [`OnBehalfOfCredential`].
#[derive(Debug, Clone, Default)]
pub struct OnBehalfOfCredentialOptions {
    /// Authority, tenants, retries and platform.
    pub client_options: ClientOptions,
    /// The certificate's password, for [`OnBehalfOfAuth::ClientCertificate`].
    pub password: Option<Secret>,
    /// Send the certificate chain (`x5c`), for [`OnBehalfOfAuth::ClientCertificate`].
    pub send_certificate_chain: bool,
    /// Keep tokens in a persistent cache shared with other processes and Python
    /// `azure-identity` (or in an application's store, such as Redis). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

struct OboGrant {
    assertion: Secret,
    /// The assertion's hash as MSAL computes it: tokens are cached per user assertion.
    partition: String,
}

impl FirstGrant for OboGrant {
    fn fields(&self) -> Option<Vec<(&'static str, Secret)>> {
        Some(vec![
            ("grant_type", Secret::new(JWT_BEARER_GRANT)),
            ("requested_token_use", Secret::new("on_behalf_of")),
            ("assertion", self.assertion.clone()),
        ])
    }

    fn unavailable_message(&self) -> &'static str {
        "no user assertion is available"
    }
}

impl OboGrant {
    fn new(assertion: Secret) -> Result<Self, Error> {
        if assertion.secret().trim().is_empty() {
            return Err(Error::config(NAME, "\"user_assertion\" must not be empty."));
        }
        let partition = user_assertion_hash(assertion.secret());
        Ok(OboGrant {
            assertion,
            partition,
        })
    }
}

/// MSAL's `user_assertion_hash` (.NET `UserAssertion.AssertionHash`, Go, node): the unpadded
/// base64url SHA-256 of the assertion, so entries and store partitions match theirs.
fn user_assertion_hash(assertion: &str) -> String {
    let hash = digest::digest(&digest::SHA256, assertion.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.as_ref())
}

/// Authenticates a middle-tier service on behalf of a user. Python: `OnBehalfOfCredential`.
///
/// Tokens (and the refresh token Entra returns) are cached per user assertion: a token is never
/// served for another assertion. [`OnBehalfOfCredential::for_user_assertion`] makes a
/// credential for another user's request that shares the app's authentication and cache.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{OnBehalfOfAuth, OnBehalfOfCredential, TokenCredential, TokenRequestOptions};
/// # let incoming_token = String::new();
/// // The token your API received, exchanged for one to a downstream API.
/// let credential = OnBehalfOfCredential::new("tenant-id", "client-id", incoming_token.into(),
///     OnBehalfOfAuth::ClientSecret("client-secret".into()), Default::default())?;
/// let token = credential.get_token(&["https://graph.microsoft.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
pub struct OnBehalfOfCredential {
    client: Arc<UserClient>,
    grant: OboGrant,
}

impl fmt::Debug for OnBehalfOfCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnBehalfOfCredential")
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl OnBehalfOfCredential {
    /// A credential exchanging `user_assertion` (the access token the user sent this service)
    /// for the app `client_id` of `tenant_id`.
    pub fn new(
        tenant_id: &str,
        client_id: &str,
        user_assertion: Secret,
        auth: OnBehalfOfAuth,
        options: OnBehalfOfCredentialOptions,
    ) -> Result<Self, Error> {
        let grant = OboGrant::new(user_assertion)?;
        let auth = match auth {
            OnBehalfOfAuth::ClientSecret(secret) if secret.is_empty() => {
                return Err(Error::config(NAME, "client_secret is empty"));
            }
            OnBehalfOfAuth::ClientSecret(secret) => ClientAuth::Secret(secret),
            OnBehalfOfAuth::ClientCertificate(source) => certificate_auth(
                NAME,
                &source,
                &CertificateCredentialOptions {
                    client_options: options.client_options.clone(),
                    password: options.password.clone(),
                    send_certificate_chain: options.send_certificate_chain,
                    ..Default::default()
                },
            )?,
            OnBehalfOfAuth::ClientAssertion(ClientAssertionCallback(func)) => {
                CallbackAssertion::auth(func)
            }
        };
        let client = UserClient::new(
            NAME,
            tenant_id,
            client_id,
            Some(auth),
            &options.client_options,
            options.cache_persistence_options.as_ref(),
        )?;
        Ok(OnBehalfOfCredential {
            client: Arc::new(client),
            grant,
        })
    }

    /// A credential for another user assertion, sharing this one's app authentication, HTTP
    /// transport and token cache (in which each assertion has its own entries).
    pub fn for_user_assertion(&self, user_assertion: Secret) -> Result<Self, Error> {
        Ok(OnBehalfOfCredential {
            client: self.client.clone(),
            grant: OboGrant::new(user_assertion)?,
        })
    }
}

impl TokenCredential for OnBehalfOfCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.client.get_token(
            scopes,
            options,
            Partition::Fixed(&self.grant.partition),
            &self.grant,
        )
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod assertion_hash_tests {
    /// MSAL's value for "abc": base64url without padding, not hex.
    #[test]
    fn user_assertion_hash_is_msals() {
        assert_eq!(
            super::user_assertion_hash("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
