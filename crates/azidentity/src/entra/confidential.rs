//! Confidential clients: an app authenticating as itself (client credentials grant), with the
//! in-memory cache in front.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::region::Region;
use super::response::TokenResponse;
use super::{EntraClient, assertion, claims};
use crate::authority;
use crate::cache::persistent::{
    AccessTokenQuery, CachedAccessToken, TokenCacheEvent, TokenCachePersistenceOptions,
};
use crate::cache::store::{Coordinated, Partition, PartitionKind, TokenStore};
use crate::cache::{CacheFront, Engine, Request};
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
    front: CacheFront<AppEngine>,
}

/// The client credentials grant, with the app's tokens in the token store.
#[derive(Debug)]
struct AppEngine {
    entra: EntraClient,
    auth: ClientAuth,
    region: Option<Region>,
    store: TokenStore,
}

impl ConfidentialClient {
    pub(crate) fn new(
        credential: &'static str,
        tenant_id: &str,
        client_id: &str,
        auth: ClientAuth,
        options: &ClientOptions,
        persistence: Option<&TokenCachePersistenceOptions>,
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
        let store = TokenStore::new(credential, persistence, &options.platform)?;
        let engine = AppEngine {
            entra,
            auth,
            region,
            store,
        };
        Ok(ConfidentialClient {
            front: CacheFront::new(engine, options.platform.clock().clone()),
        })
    }

    #[inline]
    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.front.get_token(scopes, options, "", &())
    }
}

impl Engine for AppEngine {
    type Context = ();

    fn validate(&self, scopes: &[&str], _: &TokenRequestOptions) -> Result<(), Error> {
        authority::validate_scopes(self.entra.credential(), scopes)
    }

    #[inline]
    fn tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<&'a str, Error> {
        self.entra.resolve_tenant(options.tenant_id.as_deref())
    }

    async fn acquire<'a>(&'a self, request: Request<'a, ()>) -> Result<AccessToken, Error> {
        let tenant = request.tenant;
        // MSAL's partition key for an application's tokens.
        let key = format!("{}_{tenant}_AppTokenCache", self.entra.client_id());
        let partition = Partition {
            kind: PartitionKind::App,
            key: &key,
            cae: request.options.enable_cae,
        };
        let environment = self.entra.environment();
        let query = AccessTokenQuery {
            client_id: self.entra.client_id(),
            environments: &[environment],
            realm: tenant,
            home_account_id: None,
            scopes: request.scopes,
            user_assertion_hash: None,
        };
        let mut fallback = None;
        let mut lease = None;
        if request.claims.is_none() {
            // A token another process (or Python) stored, or this one before a restart.
            let now = self.entra.now().unix_timestamp();
            let document = self.store.read(partition).await?;
            if let Some(cached) = document.access_token(&query) {
                if cached.fresh_at(now) {
                    return cached_token(self.entra.credential(), &cached);
                }
                if cached.usable_at(now) {
                    fallback = cached.to_access_token();
                }
            }
            if fallback.is_none() {
                let what = lease_name(request.scopes);
                let found = self
                    .store
                    .coordinate(partition, &what, |document| {
                        let now = self.entra.now().unix_timestamp();
                        document
                            .access_token(&query)
                            .filter(|cached| cached.fresh_at(now))
                    })
                    .await;
                match found {
                    Coordinated::Found(cached) => {
                        return cached_token(self.entra.credential(), &cached);
                    }
                    Coordinated::Fetch(taken) => lease = taken,
                }
            }
        }
        let result = self
            .fetch(tenant, request.scopes, request.options, request.claims)
            .await;
        if let Ok(response) = &result {
            let scopes = TokenCacheEvent::recorded_scopes(response.raw.map(), request.scopes);
            let event = TokenCacheEvent {
                client_id: self.entra.client_id(),
                environment,
                realm: tenant,
                scopes: &scopes,
                grant_type: Some("client_credentials"),
                response: response.raw.map(),
                username: None,
                skip_account_creation: true,
                now: self.entra.now().unix_timestamp(),
            };
            self.store.keep(partition, |d| d.add(&event)).await;
        }
        self.store.release(lease).await;
        match (result, fallback) {
            (Ok(response), _) => Ok(response.token),
            // MSAL: a failed refresh of a still-usable token returns the cached one.
            (Err(error), Some(cached)) => {
                tracing::warn!(
                    credential = self.entra.credential(),
                    error = %error,
                    "token refresh failed; using the stored token, which is still valid"
                );
                Ok(cached)
            }
            (Err(error), None) => Err(error),
        }
    }
}

/// A stored token as an `AccessToken`; a stored expiry out of `time`'s range is an error.
fn cached_token(
    credential: &'static str,
    cached: &CachedAccessToken,
) -> Result<AccessToken, Error> {
    cached.to_access_token().ok_or_else(|| {
        Error::failed(
            credential,
            "the token cache holds a token with an impossible expiry; delete the cache",
        )
    })
}

/// Names the token being fetched for other processes: its scopes as a set.
pub(crate) fn lease_name(scopes: &[&str]) -> String {
    let mut scopes: Vec<String> = scopes.iter().map(|s| s.to_ascii_lowercase()).collect();
    scopes.sort();
    scopes.dedup();
    scopes.join(" ")
}

impl AppEngine {
    async fn fetch(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        claims: Option<&str>,
    ) -> Result<TokenResponse, Error> {
        let region = match &self.region {
            Some(region) if !tenant.eq_ignore_ascii_case("adfs") => region.name().await,
            _ => None,
        };
        let endpoint = match region {
            Some(region) => self.entra.regional_token_endpoint(region, tenant),
            None => self.entra.token_endpoint(tenant).await?,
        };
        let scope = scopes.join(" ");
        let claims = claims::merge(claims, options.enable_cae);
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
        self.entra.request_token(endpoint, &form).await
    }
}
