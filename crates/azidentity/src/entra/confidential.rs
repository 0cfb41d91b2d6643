//! Confidential clients: an app authenticating as itself (client credentials grant), with the
//! in-memory cache in front.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::region::Region;
use super::{EntraClient, assertion, claims};
use crate::authority;
use crate::cache::{KeyRef, TokenCache};
use crate::certificate::ClientCertificate;
use crate::{AccessToken, ClientOptions, Error, Secret, TokenFuture, TokenRequestOptions};

/// The future an [`AssertionProvider`] returns.
pub(crate) type AssertionFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Secret, Error>> + Send + 'a>>;

/// Supplies a client assertion (a JWT) for each new token: a user callback, a workload identity
/// token file, an Azure Pipelines OIDC request.
pub(crate) trait AssertionProvider: Send + Sync + fmt::Debug {
    fn assertion(&self) -> AssertionFuture<'_>;
}

/// A caller's error type, as assertion functions return it.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A caller's assertion function, made uniform: it returns a future of a `Secret`.
pub(crate) type AssertionFn = Box<dyn Fn() -> AssertionFuture<'static> + Send + Sync>;

/// The assertion provider for a caller's function (`ClientAssertionCredential`, on-behalf-of
/// with `client_assertion_func`). Never prints what the function returns.
pub(crate) struct CallbackAssertion(AssertionFn);

impl CallbackAssertion {
    /// Wraps a synchronous function.
    pub(crate) fn from_fn<F, E>(credential: &'static str, func: F) -> AssertionFn
    where
        F: Fn() -> Result<String, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        Box::new(move || {
            let result = func()
                .map(Secret::new)
                .map_err(|e| callback_error(credential, e.into()));
            Box::pin(std::future::ready(result))
        })
    }

    /// Wraps an async function.
    pub(crate) fn from_async_fn<F, Fut, E>(credential: &'static str, func: F) -> AssertionFn
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Box::new(move || {
            let pending = func();
            Box::pin(async move {
                pending
                    .await
                    .map(Secret::new)
                    .map_err(|e| callback_error(credential, e.into()))
            })
        })
    }

    /// The client authentication that calls `call` for every new token.
    pub(crate) fn auth(call: AssertionFn) -> ClientAuth {
        ClientAuth::Assertion(Arc::new(CallbackAssertion(call)))
    }
}

impl fmt::Debug for CallbackAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CallbackAssertion")
    }
}

impl AssertionProvider for CallbackAssertion {
    fn assertion(&self) -> AssertionFuture<'_> {
        (self.0)()
    }
}

/// Our own `Error` passes through (so a callback can say "unavailable"); anything else becomes
/// an authentication failure naming the callback. The text is the callback's own; it must not
/// hold the assertion.
fn callback_error(credential: &'static str, error: BoxError) -> Error {
    match error.downcast::<Error>() {
        Ok(ours) => *ours,
        Err(other) => Error::failed(
            credential,
            format!("the client assertion callback failed: {other}"),
        ),
    }
}

/// The OAuth `client_assertion_type` for a JWT assertion.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// How the app proves its identity.
#[derive(Clone)]
pub(crate) enum ClientAuth {
    Secret(Secret),
    /// Called once per new token (never for cached ones).
    Assertion(Arc<dyn AssertionProvider>),
    /// A JWT signed with the certificate's key, made for each request.
    Certificate {
        certificate: Arc<ClientCertificate>,
        /// Put the chain in the `x5c` header (subject name / issuer authentication).
        send_chain: bool,
    },
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientAuth::Secret(_) => f.write_str("ClientAuth::Secret(***)"),
            ClientAuth::Assertion(provider) => write!(f, "ClientAuth::Assertion({provider:?})"),
            ClientAuth::Certificate {
                certificate,
                send_chain,
            } => write!(
                f,
                "ClientAuth::Certificate({certificate:?}, send_chain: {send_chain})"
            ),
        }
    }
}

impl ClientAuth {
    /// The form fields that authenticate the app to `endpoint` (an assertion's audience) of
    /// `tenant`.
    pub(crate) async fn form_fields(
        &self,
        entra: &EntraClient,
        endpoint: &str,
        tenant: &str,
    ) -> Result<Vec<(&'static str, Secret)>, Error> {
        let credential = entra.credential();
        let assertion = match self {
            ClientAuth::Secret(secret) => return Ok(vec![("client_secret", secret.clone())]),
            ClientAuth::Assertion(provider) => {
                let assertion = provider.assertion().await?;
                if assertion.secret().trim().is_empty() {
                    return Err(Error::failed(
                        credential,
                        "the client assertion is empty; the assertion source must return a \
                         signed JWT",
                    ));
                }
                assertion
            }
            ClientAuth::Certificate {
                certificate,
                send_chain,
            } => assertion::sign(
                credential,
                certificate,
                entra.client_id(),
                endpoint,
                assertion::Signature::for_tenant(tenant),
                *send_chain,
                entra.now(),
            )?,
        };
        Ok(vec![
            ("client_assertion_type", Secret::new(JWT_BEARER)),
            ("client_assertion", assertion),
        ])
    }
}

/// Client credentials grant plus cache, shared by the service principal credentials.
#[derive(Debug)]
pub(crate) struct ConfidentialClient {
    entra: EntraClient,
    auth: ClientAuth,
    cache: Arc<TokenCache>,
    region: Option<Region>,
}

impl ConfidentialClient {
    pub(crate) fn new(
        credential: &'static str,
        tenant_id: &str,
        client_id: &str,
        auth: ClientAuth,
        options: &ClientOptions,
    ) -> Result<Self, Error> {
        let entra = EntraClient::new(credential, tenant_id, client_id, options)?;
        // Python sends only its MSAL-based credentials (secret, certificate) to a region; the
        // assertion-based ones (workload identity, pipelines) always use the global endpoint.
        let region = match auth {
            ClientAuth::Secret(_) | ClientAuth::Certificate { .. } => {
                Region::from_options(credential, options)?
            }
            ClientAuth::Assertion(_) => None,
        };
        Ok(ConfidentialClient {
            entra,
            auth,
            cache: Arc::new(TokenCache::new(options.platform.clock().clone())),
            region,
        })
    }

    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        let bypass = options
            .claims
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        if !bypass && let Ok(tenant) = self.entra.resolve_tenant(options.tenant_id.as_deref()) {
            let key = KeyRef {
                tenant,
                scopes,
                cae: options.enable_cae,
                partition: "",
            };
            if let Some(token) = self.cache.fresh(&key) {
                return Box::pin(std::future::ready(Ok(token)));
            }
        }
        Box::pin(self.get_token_slow(scopes, options, bypass))
    }

    async fn get_token_slow(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
        bypass: bool,
    ) -> Result<AccessToken, Error> {
        // Before the cache: an invalid scope must not create an entry.
        authority::validate_scopes(self.entra.credential(), scopes)?;
        let tenant = self.entra.resolve_tenant(options.tenant_id.as_deref())?;
        let key = KeyRef {
            tenant,
            scopes,
            cae: options.enable_cae,
            partition: "",
        };
        self.cache
            .get_or_fetch(key, bypass, || self.fetch(tenant, scopes, options))
            .await
    }

    async fn fetch(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken, Error> {
        let region = match &self.region {
            Some(region) if !tenant.eq_ignore_ascii_case("adfs") => region.name().await,
            _ => None,
        };
        let endpoint = match region {
            Some(region) => self.entra.regional_token_endpoint(region, tenant),
            None => self.entra.token_endpoint(tenant).await?,
        };
        let scope = scopes.join(" ");
        let claims = claims::merge(options.claims.as_deref(), options.enable_cae);
        let mut form: Vec<(&str, &str)> = vec![
            ("client_id", self.entra.client_id()),
            ("grant_type", "client_credentials"),
            ("scope", &scope),
        ];
        let auth = self
            .auth
            .form_fields(&self.entra, &endpoint, tenant)
            .await?;
        form.extend(auth.iter().map(|(name, value)| (*name, value.secret())));
        if let Some(claims) = &claims {
            form.push(("claims", claims));
        }
        Ok(self.entra.request_token(endpoint, &form).await?.token)
    }
}
