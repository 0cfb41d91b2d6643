//! User flows (password, authorization code, on-behalf-of): the first grant, then cached access
//! tokens, then the refresh token, all bound to one user. The credential supplies the first
//! grant; everything after it is shared here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use super::confidential::ClientAuth;
use super::response::{Account, TokenResponse};
use super::{EntraClient, claims};
use crate::authority;
use crate::cache::{KeyRef, TokenCache};
use crate::{AccessToken, ClientOptions, Error, Secret, TokenFuture, TokenRequestOptions};

/// Scopes MSAL adds to user flows: a refresh token, an ID token and the profile.
const RESERVED_SCOPES: &str = "offline_access openid profile";

/// The grant that starts a user's session.
pub(crate) trait FirstGrant: Send + Sync {
    /// Its form fields (`grant_type` included), or `None` once it cannot be used again (an
    /// authorization code after its redemption).
    fn fields(&self) -> Option<Vec<(&'static str, Secret)>>;

    /// Called after the grant succeeded.
    fn redeemed(&self) {}

    /// What to say when there is neither this grant nor a refresh token.
    fn unavailable_message(&self) -> &'static str;
}

/// Which user's tokens a request is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Partition<'a> {
    /// A fixed key, such as a hash of an on-behalf-of user assertion.
    Fixed(&'a str),
    /// The account the first grant signed in (authorization code, password).
    SignedInAccount,
}

/// A refresh token and the account it belongs to.
struct RefreshEntry {
    token: Secret,
    account: Option<Account>,
}

/// Refresh tokens by (partition, tenant).
type RefreshTokens = HashMap<(String, String), RefreshEntry>;

#[derive(Debug)]
pub(crate) struct UserClient {
    entra: EntraClient,
    auth: Option<ClientAuth>,
    cache: Arc<TokenCache>,
    refresh: Mutex<RefreshTokens>,
    account: Mutex<Option<Account>>,
}

impl std::fmt::Debug for RefreshEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshEntry").finish_non_exhaustive()
    }
}

impl UserClient {
    /// `auth` is `None` for a public client.
    pub(crate) fn new(
        credential: &'static str,
        tenant_id: &str,
        client_id: &str,
        auth: Option<ClientAuth>,
        options: &ClientOptions,
    ) -> Result<Self, Error> {
        Ok(UserClient {
            entra: EntraClient::new(credential, tenant_id, client_id, options)?,
            auth,
            cache: Arc::new(TokenCache::new(options.platform.clock().clone())),
            refresh: Mutex::new(HashMap::new()),
            account: Mutex::new(None),
        })
    }

    /// The account the first grant signed in, once it has.
    pub(crate) fn signed_in_account(&self) -> Option<Account> {
        self.account
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn partition_key(&self, partition: Partition<'_>) -> Option<String> {
        match partition {
            Partition::Fixed(key) => Some(key.to_owned()),
            Partition::SignedInAccount => self.signed_in_account().map(|a| a.home_account_id),
        }
    }

    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
        partition: Partition<'a>,
        first: &'a dyn FirstGrant,
    ) -> TokenFuture<'a> {
        let bypass = options
            .claims
            .as_deref()
            .is_some_and(|c| !c.trim().is_empty());
        if !bypass
            && let Ok(tenant) = self.entra.resolve_tenant(options.tenant_id.as_deref())
            && let Some(key) = self.partition_key(partition)
        {
            let lookup = KeyRef {
                tenant,
                scopes,
                cae: options.enable_cae,
                partition: &key,
            };
            if let Some(token) = self.cache.fresh(&lookup) {
                return Box::pin(std::future::ready(Ok(token)));
            }
        }
        Box::pin(async move {
            let credential = self.entra.credential();
            authority::validate_scopes(credential, scopes)?;
            let tenant = self.entra.resolve_tenant(options.tenant_id.as_deref())?;
            // Before the first grant nothing is cached for the signed-in account. Concurrent
            // first callers share one grant (single flight on an account-less key); the token
            // is then also stored under the account the grant revealed.
            let Some(key) = self.partition_key(partition) else {
                let before = KeyRef {
                    tenant,
                    scopes,
                    cae: options.enable_cae,
                    partition: "",
                };
                return self
                    .cache
                    .get_or_fetch(before, bypass, || async {
                        let (token, account) =
                            self.fetch(tenant, scopes, options, "", first).await?;
                        let key = account.map(|a| a.home_account_id).unwrap_or_default();
                        let after = KeyRef {
                            partition: &key,
                            ..before
                        };
                        let stored = token.clone();
                        self.cache
                            .get_or_fetch(after, true, || std::future::ready(Ok(stored)))
                            .await?;
                        Ok(token)
                    })
                    .await;
            };
            let lookup = KeyRef {
                tenant,
                scopes,
                cae: options.enable_cae,
                partition: &key,
            };
            self.cache
                .get_or_fetch(lookup, bypass, || async {
                    self.fetch(tenant, scopes, options, &key, first)
                        .await
                        .map(|(token, _)| token)
                })
                .await
        })
    }

    /// Refresh token first, then the first grant.
    async fn fetch(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        partition: &str,
        first: &dyn FirstGrant,
    ) -> Result<(AccessToken, Option<Account>), Error> {
        let credential = self.entra.credential();
        let slot = (partition.to_owned(), tenant.to_ascii_lowercase());
        // The tenant's own refresh token, else the account's from another tenant: Entra
        // redeems a user's refresh token in any tenant the user may sign in to.
        let refresh = {
            let stored = self.refresh.lock().unwrap_or_else(PoisonError::into_inner);
            stored
                .get(&slot)
                .or_else(|| {
                    stored
                        .iter()
                        .find(|((key, _), _)| !key.is_empty() && *key == slot.0)
                        .map(|(_, entry)| entry)
                })
                .map(|e| (e.token.clone(), e.account.clone()))
        };
        let mut refresh_error = None;
        if let Some((refresh_token, account)) = refresh {
            let fields = vec![
                ("grant_type", Secret::new("refresh_token")),
                ("refresh_token", refresh_token),
            ];
            match self.request(tenant, scopes, options, fields).await {
                Ok(response) => {
                    let returned = response.account.clone();
                    if let (Some(expected), Some(got)) = (&account, &returned)
                        && expected.home_account_id != got.home_account_id
                    {
                        return Err(Error::failed(
                            credential,
                            "the refresh token was redeemed for a different account than the \
                             one signed in; refusing the token",
                        ));
                    }
                    return Ok(self.keep(slot, response, account));
                }
                Err(error) => {
                    let invalid = error
                        .http()
                        .and_then(|h| h.error.as_deref())
                        .is_some_and(|e| e == "invalid_grant");
                    if invalid {
                        self.refresh
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .remove(&slot);
                    }
                    tracing::debug!(credential, error = %error, "refresh token redemption failed");
                    refresh_error = Some(error);
                }
            }
        }
        let Some(fields) = first.fields() else {
            return Err(refresh_error
                .unwrap_or_else(|| Error::failed(credential, first.unavailable_message())));
        };
        let response = self.request(tenant, scopes, options, fields).await?;
        first.redeemed();
        let account = response.account.clone();
        if let Some(account) = &account {
            let mut signed_in = self.account.lock().unwrap_or_else(PoisonError::into_inner);
            signed_in.get_or_insert_with(|| account.clone());
        }
        // The first grant reveals the account: its refresh token goes under the account's key.
        let slot = if partition.is_empty() {
            let key = account
                .as_ref()
                .map(|a| a.home_account_id.clone())
                .unwrap_or_default();
            (key, slot.1)
        } else {
            slot
        };
        Ok(self.keep(slot, response, account))
    }

    /// Stores a returned (rotated) refresh token and hands back the access token.
    fn keep(
        &self,
        slot: (String, String),
        response: TokenResponse,
        account: Option<Account>,
    ) -> (AccessToken, Option<Account>) {
        let account = response.account.or(account);
        if let Some(token) = response.refresh_token {
            self.refresh
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    slot,
                    RefreshEntry {
                        token,
                        account: account.clone(),
                    },
                );
        }
        (response.token, account)
    }

    async fn request(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        grant: Vec<(&'static str, Secret)>,
    ) -> Result<TokenResponse, Error> {
        let endpoint = self.entra.token_endpoint(tenant).await?;
        let scope = format!("{} {RESERVED_SCOPES}", scopes.join(" "));
        let claims = claims::merge(options.claims.as_deref(), options.enable_cae);
        let auth = match &self.auth {
            Some(auth) => auth.form_fields(&self.entra, &endpoint, tenant).await?,
            None => Vec::new(),
        };
        let mut form: Vec<(&str, &str)> = vec![("client_id", self.entra.client_id())];
        form.extend(grant.iter().map(|(k, v)| (*k, v.secret())));
        form.push(("scope", &scope));
        form.push(("client_info", "1"));
        form.extend(auth.iter().map(|(k, v)| (*k, v.secret())));
        if let Some(claims) = &claims {
            form.push(("claims", claims));
        }
        self.entra.request_token(endpoint, &form).await
    }
}
