//! User flows (password, authorization code, on-behalf-of): the first grant, then stored access
//! tokens, then the refresh token, all bound to one user. The credential supplies the first
//! grant; everything after it is shared here. Tokens live in the token store (MSAL's schema),
//! partitioned by the signed-in account or by the on-behalf-of user assertion's hash; the cache
//! front sits before it.

mod flight;

use std::sync::OnceLock;

use flight::{FirstFlight, Redemptions, Turn};

use super::confidential::ClientAuth;
use super::response::TokenResponse;
use super::{EntraClient, claims};
use crate::authority;
use crate::cache::persistent::{
    AccessTokenQuery, CachedRefreshToken, TokenCacheEvent, TokenCachePersistenceOptions,
};
use crate::cache::store::{Partition as StorePartition, PartitionKind, TokenStore};
use crate::cache::{CacheFront, Engine, Request};
use crate::{AccessToken, ClientOptions, Error, Secret, TokenFuture, TokenRequestOptions};

/// Scopes MSAL adds to user flows: a refresh token, an ID token and the profile.
const RESERVED_SCOPES: &str = "offline_access openid profile";
/// A server that rotates refresh tokens strictly (the emulator, some non-Entra servers) refuses
/// one that a concurrent redemption has just spent; the one stored instead is then tried. This
/// bounds how often.
const ROTATION_RETRIES: usize = 8;

/// The grant that starts a user's session.
pub(crate) trait FirstGrant: Send + Sync {
    /// Its form fields (`grant_type` included), or `None` once it cannot be used again (an
    /// authorization code after its redemption). A single-use grant hands its value out here
    /// and gets it back through [`FirstGrant::restore`] if Entra never saw it.
    fn fields(&self) -> Option<Vec<(&'static str, Secret)>>;

    /// Called with the fields of a request that failed before Entra could have spent the grant:
    /// it was never sent, no answer came, or the service failed (5xx).
    fn restore(&self, _fields: Vec<(&'static str, Secret)>) {}

    /// What to say when there is neither this grant nor a refresh token.
    fn unavailable_message(&self) -> &'static str;
}

/// Which user's tokens a request is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Partition<'a> {
    /// An on-behalf-of user assertion's hash.
    Fixed(&'a str),
    /// The account the first grant signed in (authorization code, password).
    SignedInAccount,
}

/// The user flows' engine behind the cache front.
#[derive(Debug)]
pub(crate) struct UserClient {
    front: CacheFront<UserEngine>,
}

struct UserEngine {
    entra: EntraClient,
    auth: Option<ClientAuth>,
    store: TokenStore,
    /// The home account id the first grant signed in (empty when its answer named no account);
    /// unset before it, and for a client shared by on-behalf-of users.
    account: OnceLock<String>,
    first: FirstFlight,
    redemptions: Redemptions,
}

impl std::fmt::Debug for UserEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserEngine")
            .field("entra", &self.entra)
            .field("auth", &self.auth)
            .field("store", &self.store)
            .field("account", &self.account.get())
            .finish_non_exhaustive()
    }
}

/// What every request of a user flow carries besides its grant.
struct Prepared {
    endpoint: String,
    scope: String,
    claims: Option<String>,
    auth: Vec<(&'static str, Secret)>,
}

/// Where one request's tokens are stored and looked up.
#[derive(Clone, Copy)]
struct Owner<'a> {
    partition: StorePartition<'a>,
    /// The account, for the signed-in account's tokens.
    home_account_id: Option<&'a str>,
    /// The user assertion's hash, for on-behalf-of.
    assertion: Option<&'a str>,
}

impl UserClient {
    /// `auth` is `None` for a public client.
    pub(crate) fn new(
        credential: &'static str,
        tenant_id: &str,
        client_id: &str,
        auth: Option<ClientAuth>,
        options: &ClientOptions,
        persistence: Option<&TokenCachePersistenceOptions>,
    ) -> Result<Self, Error> {
        let engine = UserEngine {
            entra: EntraClient::new(credential, tenant_id, client_id, options)?,
            auth,
            store: TokenStore::new(credential, persistence, &options.platform)?,
            account: OnceLock::new(),
            first: FirstFlight::default(),
            redemptions: Redemptions::default(),
        };
        Ok(UserClient {
            front: CacheFront::new(engine, options.platform.clock().clone()),
        })
    }

    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
        partition: Partition<'a>,
        first: &'a (dyn FirstGrant + 'static),
    ) -> TokenFuture<'a> {
        // The in-memory partition: the user assertion, or nothing for a credential bound to
        // one signed-in user.
        let key = match partition {
            Partition::Fixed(key) => key,
            Partition::SignedInAccount => "",
        };
        self.front.get_token(scopes, options, key, first)
    }
}

impl Engine for UserEngine {
    type Context = dyn FirstGrant;

    fn validate(&self, scopes: &[&str], _: &TokenRequestOptions) -> Result<(), Error> {
        authority::validate_scopes(self.entra.credential(), scopes)
    }

    fn tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<&'a str, Error> {
        self.entra.resolve_tenant(options.tenant_id.as_deref())
    }

    async fn acquire<'a>(
        &'a self,
        request: Request<'a, dyn FirstGrant>,
    ) -> Result<AccessToken, Error> {
        let cae = request.options.enable_cae;
        if !request.partition.is_empty() {
            let owner = Owner {
                partition: StorePartition {
                    kind: PartitionKind::UserAssertion,
                    key: request.partition,
                    cae,
                },
                home_account_id: None,
                assertion: Some(request.partition),
            };
            return self.silent_then_grant(request, owner).await;
        }
        loop {
            if let Some(home) = self.account.get() {
                let owner = Owner {
                    partition: StorePartition {
                        kind: PartitionKind::Account,
                        key: home,
                        cae,
                    },
                    home_account_id: Some(home.as_str()).filter(|h| !h.is_empty()),
                    assertion: None,
                };
                return self.silent_then_grant(request, owner).await;
            }
            match self.first.join().await {
                Turn::Lead(_running) => {
                    // Signed in meanwhile, between the check and the lead.
                    if self.account.get().is_some() {
                        continue;
                    }
                    return self.first_grant(request).await;
                }
                // The leader signed in (its refresh token serves any scope) or failed (then
                // this caller may lead).
                Turn::Waited => continue,
            }
        }
    }
}

impl UserEngine {
    /// A stored access token, else the stored refresh token, else the first grant.
    async fn silent_then_grant(
        &self,
        request: Request<'_, dyn FirstGrant>,
        owner: Owner<'_>,
    ) -> Result<AccessToken, Error> {
        let credential = self.entra.credential();
        let environments = [self.entra.environment()];
        let mut fallback = None;
        if request.claims.is_none() {
            let document = self.store.read(owner.partition).await?;
            let query = AccessTokenQuery {
                client_id: self.entra.client_id(),
                environments: &environments,
                realm: request.tenant,
                home_account_id: owner.home_account_id,
                scopes: request.scopes,
                user_assertion_hash: owner.assertion,
            };
            let now = self.entra.now().unix_timestamp();
            if let Some(cached) = document.access_token(&query) {
                if cached.fresh_at(now)
                    && let Some(token) = cached.to_access_token()
                {
                    return Ok(token);
                }
                if cached.usable_at(now) {
                    fallback = cached.to_access_token();
                }
            }
        }
        let refresh_error = match self.redeem_stored(request, owner).await {
            Ok(token) => return Ok(token),
            Err(error) => error,
        };
        // A refresh that failed: keep using the still-valid token, as MSAL does.
        if let (Some(error), Some(token)) = (&refresh_error, &fallback) {
            tracing::warn!(
                credential,
                error = %error,
                "token refresh failed; using the stored token, which is still valid"
            );
            return Ok(token.clone());
        }
        match (request.context.fields(), fallback) {
            (Some(fields), _) => self.send_first(request, owner, fields).await,
            (None, Some(token)) => Ok(token),
            (None, None) => Err(refresh_error.unwrap_or_else(|| {
                Error::failed(credential, request.context.unavailable_message())
            })),
        }
    }

    /// The newest stored refresh token and the partition holding it: the request's CAE
    /// flavour first, then the other (a user's refresh token serves both; only access tokens
    /// must be kept apart).
    async fn refresh_token<'p>(
        &self,
        owner: Owner<'p>,
    ) -> Result<Option<(CachedRefreshToken, StorePartition<'p>)>, Error> {
        let environments = [self.entra.environment()];
        let client_id = self.entra.client_id();
        for cae in [owner.partition.cae, !owner.partition.cae] {
            let partition = StorePartition {
                cae,
                ..owner.partition
            };
            let document = self.store.read(partition).await?;
            let found = match (owner.assertion, owner.home_account_id) {
                (Some(hash), _) => {
                    document.assertion_refresh_tokens(&environments, client_id, hash)
                }
                (None, home) => document.refresh_tokens(
                    &environments,
                    home.unwrap_or_default(),
                    Some(client_id),
                    None,
                ),
            };
            if let Some(newest) = found.into_iter().next() {
                return Ok(Some((newest, partition)));
            }
        }
        Ok(None)
    }

    /// Redeems the stored refresh token. `Err(None)`: there is none; `Err(Some)`: redemption
    /// failed (a refused token is evicted), which is the caller's error unless the first grant
    /// or a still-valid access token helps.
    async fn redeem_stored(
        &self,
        request: Request<'_, dyn FirstGrant>,
        owner: Owner<'_>,
    ) -> Result<AccessToken, Option<Error>> {
        let credential = self.entra.credential();
        let mut last_error = None;
        for _ in 0..ROTATION_RETRIES {
            let Some((candidate, holder)) = self.refresh_token(owner).await.map_err(Some)? else {
                break;
            };
            let redeeming = self.redemptions.begin(owner.partition.key);
            let fields = vec![
                ("grant_type", Secret::new("refresh_token")),
                ("refresh_token", candidate.secret.clone()),
            ];
            let sent = match self.prepare(request).await {
                Ok(prepared) => self.send(prepared, &fields).await,
                Err(error) => Err(error),
            };
            let error = match sent {
                Ok(response) => {
                    if let (Some(expected), Some(got)) = (owner.home_account_id, &response.account)
                        && expected != got.home_account_id
                    {
                        return Err(Some(Error::failed(
                            credential,
                            "the refresh token was redeemed for a different account than the \
                             one signed in; refusing the token",
                        )));
                    }
                    // Stored before `redeeming` ends, for callers waiting to see it.
                    self.keep(request, owner, &response, "refresh_token").await;
                    drop(redeeming);
                    return Ok(response.token);
                }
                Err(error) => error,
            };
            drop(redeeming);
            let invalid = error
                .http()
                .and_then(|h| h.error.as_deref())
                .is_some_and(|e| e == "invalid_grant");
            tracing::debug!(credential, error = %error, "refresh token redemption failed");
            if !invalid {
                return Err(Some(error));
            }
            last_error = Some(error);
            // Once concurrent redemptions are stored: evict the token (if it is still stored),
            // then try what is stored now (a rotated successor, an older token).
            self.redemptions.settled(owner.partition.key).await;
            let secret = candidate.secret;
            // A store that cannot take the eviction must not fail the request: the first
            // grant (or a still-valid token) may still serve it. The refused token would be
            // found again, so stop trying stored ones.
            if let Err(error) = self
                .store
                .modify(holder, |d| d.remove_refresh_token(&secret))
                .await
            {
                tracing::warn!(
                    credential,
                    error = %error,
                    "could not remove a refused refresh token from the token cache"
                );
                break;
            }
        }
        Err(last_error)
    }

    /// The signed-in account's first grant: the first call, or a later one whose refresh token
    /// is gone.
    async fn first_grant(
        &self,
        request: Request<'_, dyn FirstGrant>,
    ) -> Result<AccessToken, Error> {
        let credential = self.entra.credential();
        let Some(fields) = request.context.fields() else {
            return Err(Error::failed(
                credential,
                request.context.unavailable_message(),
            ));
        };
        // The account is known once Entra answers.
        let unknown = Owner {
            partition: StorePartition {
                kind: PartitionKind::Account,
                key: "",
                cae: request.options.enable_cae,
            },
            home_account_id: None,
            assertion: None,
        };
        self.send_first(request, unknown, fields).await
    }

    /// Sends the credential's grant; for the signed-in account, remembers who signed in.
    async fn send_first(
        &self,
        request: Request<'_, dyn FirstGrant>,
        owner: Owner<'_>,
        fields: Vec<(&'static str, Secret)>,
    ) -> Result<AccessToken, Error> {
        let response = match self.prepare(request).await {
            Ok(prepared) => self.send(prepared, &fields).await.map_err(|e| (e, true)),
            Err(error) => Err((error, false)),
        };
        let response = match response {
            Ok(response) => response,
            Err((error, sent)) => {
                // Entra spends a code it has refused; one it never saw, or saw while failing
                // (5xx), is kept for the next call, as Python keeps it until a redemption
                // succeeds.
                let refused = sent && error.http().is_some_and(|h| (400..500).contains(&h.status));
                if !refused {
                    request.context.restore(fields);
                }
                return Err(error);
            }
        };
        let grant_type = fields
            .iter()
            .find(|(name, _)| *name == "grant_type")
            .map(|(_, value)| value.secret().to_owned())
            .unwrap_or_default();
        if owner.assertion.is_some() {
            self.keep(request, owner, &response, &grant_type).await;
            return Ok(response.token);
        }
        // The first grant reveals the account: its tokens go under its key.
        let home = response
            .account
            .as_ref()
            .map(|a| a.home_account_id.clone())
            .unwrap_or_default();
        let home = self.account.get_or_init(|| home);
        let signed_in = Owner {
            partition: StorePartition {
                key: home,
                ..owner.partition
            },
            home_account_id: Some(home.as_str()).filter(|h| !h.is_empty()),
            assertion: None,
        };
        self.keep(request, signed_in, &response, &grant_type).await;
        Ok(response.token)
    }

    /// Stores a response (access token, rotated refresh token, account) in the owner's
    /// partition, as MSAL stores it.
    async fn keep(
        &self,
        request: Request<'_, dyn FirstGrant>,
        owner: Owner<'_>,
        response: &TokenResponse,
        grant_type: &str,
    ) {
        let scopes = TokenCacheEvent::recorded_scopes(response.raw.map(), request.scopes);
        let event = TokenCacheEvent {
            client_id: self.entra.client_id(),
            environment: self.entra.environment(),
            realm: request.tenant,
            scopes: &scopes,
            grant_type: Some(grant_type),
            response: response.raw.map(),
            username: None,
            // A redemption never re-creates an account that was removed; on-behalf-of users
            // are not this app's signed-in accounts.
            skip_account_creation: grant_type == "refresh_token" || owner.assertion.is_some(),
            now: self.entra.now().unix_timestamp(),
        };
        self.store
            .keep(owner.partition, |d| d.add_for(&event, owner.assertion))
            .await;
    }

    /// The token endpoint, client authentication, scope and claims. Nothing is sent to the token
    /// endpoint yet, so a failure here never spends a grant.
    async fn prepare(&self, request: Request<'_, dyn FirstGrant>) -> Result<Prepared, Error> {
        let tenant = request.tenant;
        let endpoint = self.entra.token_endpoint(tenant).await?;
        let auth = match &self.auth {
            Some(auth) => auth.form_fields(&self.entra, &endpoint, tenant).await?,
            None => Vec::new(),
        };
        Ok(Prepared {
            endpoint,
            scope: format!("{} {RESERVED_SCOPES}", request.scopes.join(" ")),
            claims: claims::merge(request.claims, request.options.enable_cae),
            auth,
        })
    }

    async fn send(
        &self,
        prepared: Prepared,
        grant: &[(&'static str, Secret)],
    ) -> Result<TokenResponse, Error> {
        let mut form: Vec<(&str, &str)> = vec![("client_id", self.entra.client_id())];
        form.extend(grant.iter().map(|(k, v)| (*k, v.secret())));
        form.push(("scope", &prepared.scope));
        form.push(("client_info", "1"));
        form.extend(prepared.auth.iter().map(|(k, v)| (*k, v.secret())));
        if let Some(claims) = &prepared.claims {
            form.push(("claims", claims));
        }
        self.entra.request_token(prepared.endpoint, &form).await
    }
}
