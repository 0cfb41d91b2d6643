//! User flows (password, authorization code, on-behalf-of): the first grant, then cached access
//! tokens, then the refresh token, all bound to one user. The credential supplies the first
//! grant; everything after it is shared here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::confidential::ClientAuth;
use super::response::{Account, TokenResponse};
use super::{EntraClient, claims};
use crate::authority;
use crate::cache::{KeyRef, TokenCache};
use crate::{AccessToken, ClientOptions, Error, Secret, TokenFuture, TokenRequestOptions};

/// Scopes MSAL adds to user flows: a refresh token, an ID token and the profile.
const RESERVED_SCOPES: &str = "offline_access openid profile";

/// A fixed partition's refresh tokens unused for this long are forgotten: an on-behalf-of
/// partition is one user assertion, which a client stops presenting once it expires (an hour,
/// typically), and the assertion itself can always start over.
const IDLE_PARTITION_MS: i64 = 24 * 3600 * 1000;
/// At most this many fixed partitions keep refresh tokens; beyond it the least recently used
/// are forgotten, so a busy middle tier's memory stays bounded.
const MAX_FIXED_PARTITIONS: usize = 10_000;
const FIRST_SWEEP_AT: usize = 64;

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

/// One partition's refresh tokens, by lower-cased tenant.
struct PartitionTokens {
    by_tenant: HashMap<String, RefreshEntry>,
    /// Redemptions hold it shared; a caller whose token was refused takes it exclusively, so it
    /// sees what concurrent redemptions stored before deciding the token is dead.
    redeeming: Arc<tokio::sync::RwLock<()>>,
    last_used_ms: i64,
    /// A fixed partition, which may be forgotten (the signed-in account's never is: its code
    /// or password may be gone).
    evictable: bool,
}

/// A stored refresh token, ready to redeem.
struct Found {
    token: Secret,
    account: Option<Account>,
    redeeming: Arc<tokio::sync::RwLock<()>>,
}

/// Refresh tokens by partition.
struct RefreshTokens {
    partitions: HashMap<String, PartitionTokens>,
    sweep_at: usize,
}

impl RefreshTokens {
    fn new() -> Self {
        RefreshTokens {
            partitions: HashMap::new(),
            sweep_at: FIRST_SWEEP_AT,
        }
    }

    /// The tenant's own refresh token, else the partition's from another tenant: Entra
    /// redeems a user's refresh token in any tenant the user may sign in to. The account-less
    /// partition (`""`, a sign-in whose answer named no account) is not one user, so only its
    /// tenant's own token is used.
    fn find(&mut self, partition: &str, tenant: &str, now_ms: i64) -> Option<Found> {
        let tokens = self.partitions.get_mut(partition)?;
        tokens.last_used_ms = now_ms;
        let entry = if tokens.by_tenant.contains_key(tenant) || partition.is_empty() {
            tokens.by_tenant.get(tenant)
        } else {
            tokens.by_tenant.values().next()
        }?;
        Some(Found {
            token: entry.token.clone(),
            account: entry.account.clone(),
            redeeming: tokens.redeeming.clone(),
        })
    }

    fn insert(
        &mut self,
        partition: String,
        tenant: String,
        entry: RefreshEntry,
        evictable: bool,
        now_ms: i64,
    ) {
        if !self.partitions.contains_key(&partition) && self.partitions.len() >= self.sweep_at {
            self.sweep(now_ms);
        }
        let tokens = self
            .partitions
            .entry(partition)
            .or_insert_with(|| PartitionTokens {
                by_tenant: HashMap::new(),
                redeeming: Arc::default(),
                last_used_ms: now_ms,
                evictable,
            });
        tokens.last_used_ms = now_ms;
        tokens.by_tenant.insert(tenant, entry);
    }

    /// Removes `token` from the partition; false when it is no longer stored (a concurrent
    /// redemption replaced it).
    fn forget(&mut self, partition: &str, token: &Secret) -> bool {
        let Some(tokens) = self.partitions.get_mut(partition) else {
            return false;
        };
        let before = tokens.by_tenant.len();
        tokens.by_tenant.retain(|_, entry| entry.token != *token);
        let removed = tokens.by_tenant.len() < before;
        if tokens.by_tenant.is_empty() {
            self.partitions.remove(partition);
        }
        removed
    }

    /// Forgets idle fixed partitions, then the least recently used beyond the limit. Runs when
    /// the number of partitions doubles (or reaches the limit), so it costs amortised
    /// O(log n) per new partition.
    fn sweep(&mut self, now_ms: i64) {
        self.partitions.retain(|_, p| {
            !p.evictable || now_ms.saturating_sub(p.last_used_ms) < IDLE_PARTITION_MS
        });
        let mut fixed: Vec<(i64, String)> = self
            .partitions
            .iter()
            .filter(|(_, p)| p.evictable)
            .map(|(key, p)| (p.last_used_ms, key.clone()))
            .collect();
        if fixed.len() >= MAX_FIXED_PARTITIONS {
            fixed.sort_unstable();
            let excess = fixed.len() - MAX_FIXED_PARTITIONS * 3 / 4;
            for (_, key) in fixed.into_iter().take(excess) {
                self.partitions.remove(&key);
            }
        }
        let len = self.partitions.len();
        self.sweep_at = (len * 2).clamp(FIRST_SWEEP_AT, MAX_FIXED_PARTITIONS.max(len + 1));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.partitions.len()
    }
}

/// What every request of a user flow carries besides its grant.
struct Prepared {
    endpoint: String,
    scope: String,
    claims: Option<String>,
    auth: Vec<(&'static str, Secret)>,
}

pub(crate) struct UserClient {
    entra: EntraClient,
    auth: Option<ClientAuth>,
    cache: Arc<TokenCache>,
    refresh: Mutex<RefreshTokens>,
    /// The account the first grant signed in ([`Partition::SignedInAccount`] only; a client
    /// shared by on-behalf-of users has none).
    account: OnceLock<Account>,
    /// Held by the caller that runs the first grant of the signed-in account: concurrent first
    /// callers, whatever their scopes, tenant or CAE flag, wait and then use the account's
    /// refresh token instead of racing for a single-use code.
    first_grant: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for UserClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserClient")
            .field("entra", &self.entra)
            .field("auth", &self.auth)
            .field("account", &self.account.get())
            .finish_non_exhaustive()
    }
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
            refresh: Mutex::new(RefreshTokens::new()),
            account: OnceLock::new(),
            first_grant: tokio::sync::Mutex::new(()),
        })
    }

    /// Borrowed: this runs on every cached `get_token`.
    fn partition_key<'a>(&'a self, partition: Partition<'a>) -> Option<&'a str> {
        match partition {
            Partition::Fixed(key) => Some(key),
            Partition::SignedInAccount => self.account.get().map(|a| a.home_account_id.as_str()),
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
                partition: key,
            };
            if let Some(token) = self.cache.fresh(&lookup) {
                return Box::pin(std::future::ready(Ok(token)));
            }
        }
        Box::pin(async move {
            let credential = self.entra.credential();
            authority::validate_scopes(credential, scopes)?;
            let tenant = self.entra.resolve_tenant(options.tenant_id.as_deref())?;
            let key = match self.partition_key(partition) {
                Some(key) => key,
                // Only the signed-in account is unknown before the first grant.
                None => {
                    let _first = self.first_grant.lock().await;
                    match self.partition_key(partition) {
                        // Another caller signed in meanwhile: its refresh token serves any scope.
                        Some(key) => key,
                        None => {
                            return self
                                .first_grant_token(tenant, scopes, options, bypass, first)
                                .await;
                        }
                    }
                }
            };
            let lookup = KeyRef {
                tenant,
                scopes,
                cae: options.enable_cae,
                partition: key,
            };
            self.cache
                .get_or_fetch(lookup, bypass, || async {
                    self.fetch(tenant, scopes, options, key, partition, first)
                        .await
                        .map(|(token, _)| token)
                })
                .await
        })
    }

    /// The signed-in account's first grant (under `first_grant`). The token is cached under an
    /// account-less key (for a response that names no account) and under the account's key.
    async fn first_grant_token(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        bypass: bool,
        first: &dyn FirstGrant,
    ) -> Result<AccessToken, Error> {
        let before = KeyRef {
            tenant,
            scopes,
            cae: options.enable_cae,
            partition: "",
        };
        self.cache
            .get_or_fetch(before, bypass, || async {
                let (token, account) = self
                    .fetch(
                        tenant,
                        scopes,
                        options,
                        "",
                        Partition::SignedInAccount,
                        first,
                    )
                    .await?;
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
            .await
    }

    /// Refresh token first, then the first grant. `key` is the partition's key, empty before
    /// the signed-in account's first grant.
    async fn fetch(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        key: &str,
        partition: Partition<'_>,
        first: &dyn FirstGrant,
    ) -> Result<(AccessToken, Option<Account>), Error> {
        let credential = self.entra.credential();
        let tenant_key = tenant.to_ascii_lowercase();
        let now_ms = self.entra.clock().now_unix_ms();
        let mut refresh_error = None;
        // A server that rotates refresh tokens strictly (the emulator, some non-Entra servers)
        // refuses a token that a concurrent redemption for another scope has just spent; the
        // token that redemption stored is then tried. A retry only follows another caller's
        // success, so this ends; the bound is a safety net.
        for _ in 0..8 {
            let found = self.lock_refresh().find(key, &tenant_key, now_ms);
            let Some(Found {
                token: refresh_token,
                account,
                redeeming,
            }) = found
            else {
                break;
            };
            let redeeming_now = redeeming.read().await;
            let fields = vec![
                ("grant_type", Secret::new("refresh_token")),
                ("refresh_token", refresh_token.clone()),
            ];
            let sent = match self.prepare(tenant, scopes, options).await {
                Ok(prepared) => self.send(prepared, &fields).await,
                Err(error) => Err(error),
            };
            let error = match sent {
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
                    // Stored before `redeeming_now` is released, for callers checking for it.
                    return Ok(self.keep(key.to_owned(), tenant_key, partition, response, account));
                }
                Err(error) => error,
            };
            drop(redeeming_now);
            let invalid = error
                .http()
                .and_then(|h| h.error.as_deref())
                .is_some_and(|e| e == "invalid_grant");
            tracing::debug!(credential, error = %error, "refresh token redemption failed");
            refresh_error = Some(error);
            if !invalid {
                break;
            }
            // Once concurrent redemptions are done: evict the token if it is still the stored
            // one, else try its rotated successor.
            let _settled = redeeming.write().await;
            if self.lock_refresh().forget(key, &refresh_token) {
                break;
            }
        }
        let Some(fields) = first.fields() else {
            return Err(refresh_error
                .unwrap_or_else(|| Error::failed(credential, first.unavailable_message())));
        };
        let response = match self.prepare(tenant, scopes, options).await {
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
                    first.restore(fields);
                }
                return Err(error);
            }
        };
        let account = response.account.clone();
        let key = match partition {
            Partition::SignedInAccount if key.is_empty() => {
                if let Some(account) = &account {
                    let _ = self.account.set(account.clone());
                }
                // The first grant reveals the account: its refresh token goes under its key.
                account
                    .as_ref()
                    .map(|a| a.home_account_id.clone())
                    .unwrap_or_default()
            }
            _ => key.to_owned(),
        };
        Ok(self.keep(key, tenant_key, partition, response, account))
    }

    fn lock_refresh(&self) -> std::sync::MutexGuard<'_, RefreshTokens> {
        self.refresh.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores a returned (rotated) refresh token and hands back the access token.
    fn keep(
        &self,
        key: String,
        tenant: String,
        partition: Partition<'_>,
        response: TokenResponse,
        account: Option<Account>,
    ) -> (AccessToken, Option<Account>) {
        let account = response.account.or(account);
        if let Some(token) = response.refresh_token {
            let now_ms = self.entra.clock().now_unix_ms();
            self.lock_refresh().insert(
                key,
                tenant,
                RefreshEntry {
                    token,
                    account: account.clone(),
                },
                matches!(partition, Partition::Fixed(_)),
                now_ms,
            );
        }
        (response.token, account)
    }

    /// The token endpoint, client authentication, scope and claims. Nothing is sent to the token
    /// endpoint yet, so a failure here never spends a grant.
    async fn prepare(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<Prepared, Error> {
        let endpoint = self.entra.token_endpoint(tenant).await?;
        let auth = match &self.auth {
            Some(auth) => auth.form_fields(&self.entra, &endpoint, tenant).await?,
            None => Vec::new(),
        };
        Ok(Prepared {
            endpoint,
            scope: format!("{} {RESERVED_SCOPES}", scopes.join(" ")),
            claims: claims::merge(options.claims.as_deref(), options.enable_cae),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(token: &str) -> RefreshEntry {
        RefreshEntry {
            token: Secret::new(token),
            account: None,
        }
    }

    /// An on-behalf-of app gets a new partition per user assertion: their refresh tokens are
    /// bounded in number and forgotten when idle; the signed-in account's never are.
    #[test]
    fn fixed_partitions_are_bounded_and_forgotten_when_idle() {
        let mut store = RefreshTokens::new();
        store.insert("account".into(), "t".into(), entry("keep"), false, 0);
        for i in 0..30_000i64 {
            store.insert(format!("obo:{i}"), "t".into(), entry("rt"), true, i * 1000);
        }
        assert!(store.len() <= MAX_FIXED_PARTITIONS + 1, "{}", store.len());
        assert!(store.find("obo:29999", "t", 30_000_000).is_some());
        assert!(store.find("obo:0", "t", 30_000_000).is_none());
        store.sweep(30_000_000 + IDLE_PARTITION_MS + 1);
        assert_eq!(store.len(), 1);
        let kept = store.find("account", "other-tenant", 0).unwrap();
        assert_eq!(kept.token.secret(), "keep");
    }

    #[test]
    fn a_rotated_token_is_not_forgotten_in_place_of_the_spent_one() {
        let mut store = RefreshTokens::new();
        store.insert("p".into(), "t".into(), entry("rt-1"), false, 0);
        store.insert("p".into(), "t".into(), entry("rt-2"), false, 0);
        assert!(!store.forget("p", &Secret::new("rt-1")));
        assert_eq!(store.find("p", "t", 0).unwrap().token.secret(), "rt-2");
        assert!(store.forget("p", &Secret::new("rt-2")));
        assert!(store.find("p", "t", 0).is_none());
    }
}
