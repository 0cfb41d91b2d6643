//! The engine of the interactive user credentials (device code, browser): silent first from an
//! MSAL token cache (in memory, or persistent and shared with Python and Microsoft's tools) for
//! the account of the `AuthenticationRecord`, then the interactive flow, whose answer is stored
//! as MSAL stores it and becomes the credential's record.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use super::response::TokenResponse;
use super::{EntraClient, claims};
use crate::cache::persistent::{
    AccessTokenQuery, PersistentTokenCache, TokenCacheDocument, TokenCacheEvent,
    TokenCachePersistenceOptions, cloud_aliases, parse_account,
};
use crate::cache::{KeyRef, TokenCache};
use crate::{
    AccessToken, AuthenticationRecord, AzureAuthorityHosts, ClientOptions, Error, ErrorKind,
    Platform, Secret, TokenFuture, TokenRequestOptions,
};

/// Scopes MSAL adds to user flows: a refresh token, an ID token and the profile.
const RESERVED_SCOPES: [&str; 3] = ["offline_access", "openid", "profile"];
/// MSAL treats an access token with less than this left as expired.
const EXPIRY_BUFFER_S: i64 = 300;

pub(crate) type FlowFuture<'a> =
    Pin<Box<dyn Future<Output = Result<TokenResponse, Error>> + Send + 'a>>;

/// The credential-specific interactive step.
pub(crate) trait InteractiveFlow: Send + Sync {
    /// The grant that establishes the account (`account_source` in the cache).
    fn grant_type(&self) -> &'static str;

    /// Signs the user in for `scope` (reserved scopes included) and redeems the grant.
    fn sign_in<'a>(
        &'a self,
        entra: &'a EntraClient,
        tenant: &'a str,
        scope: &'a str,
        claims: Option<&'a str>,
    ) -> FlowFuture<'a>;
}

/// Where the MSAL cache lives: a document per CAE flavour, as Python keeps two caches.
enum Store {
    Memory([Mutex<TokenCacheDocument>; 2]),
    Persistent(Box<Persisted>),
}

/// The persistent caches, opened on first use (opening may find the keyring unusable, which
/// Python reports at the first token request too).
struct Persisted {
    options: TokenCachePersistenceOptions,
    platform: Platform,
    caches: [tokio::sync::OnceCell<PersistentTokenCache>; 2],
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Store::Memory(_) => f.write_str("Memory"),
            Store::Persistent(p) => write!(f, "Persistent({})", p.options.name),
        }
    }
}

impl Store {
    async fn persistent<'a>(
        credential: &'static str,
        options: &TokenCachePersistenceOptions,
        platform: &Platform,
        cell: &'a tokio::sync::OnceCell<PersistentTokenCache>,
        cae: bool,
    ) -> Result<&'a PersistentTokenCache, Error> {
        cell.get_or_try_init(|| PersistentTokenCache::open_for(credential, options, cae, platform))
            .await
    }

    async fn load(
        &self,
        credential: &'static str,
        cae: bool,
    ) -> Result<Arc<TokenCacheDocument>, Error> {
        match self {
            Store::Memory(documents) => Ok(Arc::new(
                documents[usize::from(cae)]
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .clone(),
            )),
            Store::Persistent(p) => {
                Self::persistent(
                    credential,
                    &p.options,
                    &p.platform,
                    &p.caches[usize::from(cae)],
                    cae,
                )
                .await?
                .load()
                .await
            }
        }
    }

    async fn modify(
        &self,
        credential: &'static str,
        cae: bool,
        change: impl FnOnce(&mut TokenCacheDocument),
    ) -> Result<(), Error> {
        match self {
            Store::Memory(documents) => {
                change(
                    &mut documents[usize::from(cae)]
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner),
                );
                Ok(())
            }
            Store::Persistent(p) => {
                Self::persistent(
                    credential,
                    &p.options,
                    &p.platform,
                    &p.caches[usize::from(cae)],
                    cae,
                )
                .await?
                .modify(change)
                .await
            }
        }
    }
}

/// How the engine is set up by a credential.
pub(crate) struct PublicClientOptions<'a> {
    pub credential: &'static str,
    pub tenant_id: Option<&'a str>,
    pub client_id: &'a str,
    pub client_options: &'a ClientOptions,
    pub persistence: Option<&'a TokenCachePersistenceOptions>,
    pub record: Option<AuthenticationRecord>,
    pub disable_automatic_authentication: bool,
}

#[derive(Debug)]
pub(crate) struct PublicClient {
    entra: EntraClient,
    /// MSAL's `authority.instance`: the host, lowercase, without a port.
    environment: String,
    authority_host: String,
    store: Store,
    fast: TokenCache,
    record: Mutex<Option<AuthenticationRecord>>,
    disable_automatic_authentication: bool,
}

impl PublicClient {
    /// A record overrides the client id and the authority, and its tenant is the default.
    pub(crate) fn new(setup: PublicClientOptions<'_>) -> Result<Self, Error> {
        let credential = setup.credential;
        let mut options = setup.client_options.clone();
        let (client_id, tenant_id) = match &setup.record {
            Some(record) => {
                options.authority_host = Some(format!("https://{}", record.authority()));
                (
                    record.client_id().to_owned(),
                    setup
                        .tenant_id
                        .filter(|t| !t.is_empty())
                        .unwrap_or(record.tenant_id())
                        .to_owned(),
                )
            }
            None => (
                setup.client_id.to_owned(),
                setup
                    .tenant_id
                    .filter(|t| !t.is_empty())
                    .unwrap_or("organizations")
                    .to_owned(),
            ),
        };
        let authority = options.authority(credential)?;
        let authority_host = authority.host_and_port().to_ascii_lowercase();
        let environment = url::Url::parse(authority.base())
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_else(|| authority_host.clone());
        let platform = options.platform.clone();
        let store = match setup.persistence {
            Some(persistence) => {
                persistence.cache_name(credential, false)?;
                Store::Persistent(Box::new(Persisted {
                    options: persistence.clone(),
                    platform: platform.clone(),
                    caches: Default::default(),
                }))
            }
            None => Store::Memory(Default::default()),
        };
        Ok(PublicClient {
            entra: EntraClient::new(credential, &tenant_id, &client_id, &options)?,
            environment,
            authority_host,
            store,
            fast: TokenCache::new(platform.clock().clone()),
            record: Mutex::new(setup.record),
            disable_automatic_authentication: setup.disable_automatic_authentication,
        })
    }

    fn credential(&self) -> &'static str {
        self.entra.credential()
    }

    fn current_record(&self) -> Option<AuthenticationRecord> {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Python's default scopes for `authenticate` per cloud.
    pub(crate) fn default_scopes(&self) -> Result<&'static str, Error> {
        let host = self.authority_host.as_str();
        match host {
            AzureAuthorityHosts::AZURE_PUBLIC_CLOUD => {
                Ok("https://management.core.windows.net//.default")
            }
            AzureAuthorityHosts::AZURE_CHINA => {
                Ok("https://management.core.chinacloudapi.cn//.default")
            }
            AzureAuthorityHosts::AZURE_GOVERNMENT => {
                Ok("https://management.core.usgovcloudapi.net//.default")
            }
            _ => Err(Error::unavailable(
                self.credential(),
                "Authenticating in this environment requires a value for the 'scopes' keyword \
                 argument.",
            )),
        }
    }

    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
        flow: &'a dyn InteractiveFlow,
    ) -> TokenFuture<'a> {
        let claims = options.claims.as_deref().filter(|c| !c.trim().is_empty());
        if claims.is_none()
            && let Ok(tenant) = self.entra.resolve_tenant(options.tenant_id.as_deref())
            && let Some(record) = self.current_record()
        {
            let key = KeyRef {
                tenant,
                scopes,
                cae: options.enable_cae,
                partition: record.home_account_id(),
            };
            if let Some(token) = self.fast.fresh(&key) {
                return Box::pin(std::future::ready(Ok(token)));
            }
        }
        Box::pin(async move {
            crate::authority::validate_scopes(self.credential(), scopes)?;
            let tenant = self.entra.resolve_tenant(options.tenant_id.as_deref())?;
            let record = self.current_record();
            let partition = record
                .as_ref()
                .map(|r| r.home_account_id().to_owned())
                .unwrap_or_default();
            let key = KeyRef {
                tenant,
                scopes,
                cae: options.enable_cae,
                partition: &partition,
            };
            self.fast
                .get_or_fetch(key, claims.is_some(), || async {
                    let silent_error = match &record {
                        Some(record) => {
                            match self.silent(record, tenant, scopes, options, claims).await {
                                Ok(token) => return Ok(token),
                                Err(error) if error.is_unavailable() || is_required(&error) => {
                                    error
                                }
                                Err(error) => return Err(error),
                            }
                        }
                        None => self.authentication_required(scopes, claims, None),
                    };
                    if self.disable_automatic_authentication {
                        return Err(silent_error);
                    }
                    let (token, record) = self
                        .interactive(tenant, scopes, options, claims, flow)
                        .await?;
                    // Later calls look the token up under the account it revealed.
                    if record.home_account_id() != partition {
                        let signed_in = KeyRef {
                            partition: record.home_account_id(),
                            ..key
                        };
                        let stored = token.clone();
                        self.fast
                            .get_or_fetch(signed_in, true, || std::future::ready(Ok(stored)))
                            .await?;
                    }
                    Ok(token)
                })
                .await
        })
    }

    /// Signs in interactively whatever the cache holds, and returns the new record.
    pub(crate) async fn authenticate(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
        flow: &dyn InteractiveFlow,
    ) -> Result<AuthenticationRecord, Error> {
        let default;
        let scopes = if scopes.is_empty() {
            default = [self.default_scopes()?];
            &default[..]
        } else {
            scopes
        };
        crate::authority::validate_scopes(self.credential(), scopes)?;
        let tenant = self.entra.resolve_tenant(options.tenant_id.as_deref())?;
        let claims = options.claims.as_deref().filter(|c| !c.trim().is_empty());
        let (token, record) = self
            .interactive(tenant, scopes, options, claims, flow)
            .await?;
        let key = KeyRef {
            tenant,
            scopes,
            cae: options.enable_cae,
            partition: record.home_account_id(),
        };
        self.fast
            .get_or_fetch(key, true, || std::future::ready(Ok(token)))
            .await?;
        Ok(record)
    }

    fn authentication_required(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
        details: Option<&str>,
    ) -> Error {
        let mut message = "Interactive authentication is required to get a token. Call \
                           'authenticate' to begin."
            .to_owned();
        if let Some(details) = details {
            message.push(' ');
            message.push_str(details);
        }
        Error::new(
            ErrorKind::AuthenticationRequired {
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                claims: claims.map(str::to_owned),
            },
            self.credential(),
            message,
        )
    }

    fn request_scope(scopes: &[&str]) -> String {
        let mut all: Vec<&str> = scopes.to_vec();
        for reserved in RESERVED_SCOPES {
            if !all.contains(&reserved) {
                all.push(reserved);
            }
        }
        all.join(" ")
    }

    async fn interactive(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        claims: Option<&str>,
        flow: &dyn InteractiveFlow,
    ) -> Result<(AccessToken, AuthenticationRecord), Error> {
        let credential = self.credential();
        let scope = Self::request_scope(scopes);
        let merged = claims::merge(claims, options.enable_cae);
        let response = flow
            .sign_in(&self.entra, tenant, &scope, merged.as_deref())
            .await?;
        let (_, home) = parse_account(response.raw.map(), &response.raw.id_token_claims());
        let record =
            AuthenticationRecord::from_id_token(&response.raw.id_token_claims(), home.as_deref())
                .ok_or_else(|| {
                Error::failed(
                    credential,
                    "Failed to build AuthenticationRecord from unexpected identity token",
                )
            })?;
        self.remember(
            tenant,
            scopes,
            options.enable_cae,
            &response,
            Some(flow.grant_type()),
            false,
        )
        .await;
        *self.record.lock().unwrap_or_else(PoisonError::into_inner) = Some(record.clone());
        Ok((response.token, record))
    }

    /// Stores a token response in the MSAL cache. A failure to persist is logged, not raised:
    /// the caller has its token, and the next sign-in will try to store again.
    async fn remember(
        &self,
        tenant: &str,
        scopes: &[&str],
        cae: bool,
        response: &TokenResponse,
        grant_type: Option<&str>,
        skip_account_creation: bool,
    ) {
        let request_scope = Self::request_scope(scopes);
        let request_scopes: Vec<&str> = request_scope.split(' ').collect();
        let recorded = TokenCacheEvent::recorded_scopes(response.raw.map(), &request_scopes);
        let now = self.entra.now().unix_timestamp();
        let event = TokenCacheEvent {
            client_id: self.entra.client_id(),
            environment: &self.environment,
            realm: tenant,
            scopes: &recorded,
            grant_type,
            response: response.raw.map(),
            username: None,
            skip_account_creation,
            now,
        };
        if let Err(error) = self
            .store
            .modify(self.credential(), cae, |d| d.add(&event))
            .await
        {
            tracing::warn!(credential = self.credential(), error = %error, "could not store tokens in the token cache");
        }
    }

    /// MSAL's `acquire_token_silent` for the record's account.
    async fn silent(
        &self,
        record: &AuthenticationRecord,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        claims: Option<&str>,
    ) -> Result<AccessToken, Error> {
        let cae = options.enable_cae;
        let document = self.store.load(self.credential(), cae).await?;
        let aliases = cloud_aliases(&self.environment);
        let environments: Vec<&str> = aliases.iter().map(String::as_str).collect();
        let known = document.accounts(&environments).into_iter().any(|a| {
            a.home_account_id == record.home_account_id()
                && a.username.eq_ignore_ascii_case(record.username())
        });
        if !known {
            return Err(self.authentication_required(scopes, claims, None));
        }
        let now = self.entra.now().unix_timestamp();
        let mut fallback = None;
        if claims.is_none()
            && let Some(cached) = document.access_token(&AccessTokenQuery {
                client_id: self.entra.client_id(),
                environments: &environments,
                realm: tenant,
                home_account_id: Some(record.home_account_id()),
                scopes,
            })
            && cached.expires_on - now > EXPIRY_BUFFER_S
        {
            let token = cached_token(&cached.secret, cached.expires_on, cached.refresh_on);
            if cached.refresh_on.is_none_or(|r| r > now) {
                return Ok(token);
            }
            fallback = Some(token);
        }
        let family = document.app_family(&environments, self.entra.client_id());
        // Never seen this app: MSAL tries the Microsoft family's tokens ("1") first.
        let family = match family {
            None => Some("1".to_owned()),
            Some(family) => family,
        };
        let candidates = document.refresh_tokens(
            &environments,
            record.home_account_id(),
            Some(self.entra.client_id()),
            family.as_deref(),
        );
        let mut last_error = None;
        for candidate in candidates {
            match self
                .redeem(&candidate.secret, tenant, scopes, options, claims)
                .await
            {
                Ok(response) => {
                    self.remember(tenant, scopes, cae, &response, Some("refresh_token"), true)
                        .await;
                    return Ok(response.token);
                }
                Err(error) => {
                    let rejected = error
                        .http()
                        .and_then(|h| h.error.as_deref())
                        .is_some_and(|e| e == "invalid_grant");
                    if rejected
                        && candidate
                            .client_id
                            .eq_ignore_ascii_case(self.entra.client_id())
                    {
                        let secret = candidate.secret.clone();
                        if let Err(e) = self
                            .store
                            .modify(self.credential(), cae, |d| {
                                d.remove_refresh_token(&secret);
                            })
                            .await
                        {
                            tracing::debug!(error = %e, "could not remove a rejected refresh token");
                        }
                    }
                    tracing::debug!(credential = self.credential(), error = %error, "refresh token redemption failed");
                    last_error = Some(error);
                }
            }
        }
        if let Some(token) = fallback {
            return Ok(token);
        }
        let details = last_error.as_ref().map(|e| e.message().to_owned());
        Err(self.authentication_required(scopes, claims, details.as_deref()))
    }

    async fn redeem(
        &self,
        refresh_token: &Secret,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        claims: Option<&str>,
    ) -> Result<TokenResponse, Error> {
        let endpoint = self.entra.token_endpoint(tenant).await?;
        let scope = Self::request_scope(scopes);
        let merged = claims::merge(claims, options.enable_cae);
        let mut form = vec![
            ("client_id", self.entra.client_id()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.secret()),
            ("scope", scope.as_str()),
            ("client_info", "1"),
        ];
        if let Some(claims) = &merged {
            form.push(("claims", claims));
        }
        self.entra.request_token(endpoint, &form).await
    }
}

fn is_required(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::AuthenticationRequired { .. })
}

fn cached_token(secret: &Secret, expires_on: i64, refresh_on: Option<i64>) -> AccessToken {
    let at = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).ok();
    AccessToken {
        token: secret.clone(),
        expires_on: at(expires_on).unwrap_or(time::OffsetDateTime::UNIX_EPOCH),
        refresh_on: refresh_on.and_then(at),
        token_type: "Bearer".to_owned(),
    }
}
