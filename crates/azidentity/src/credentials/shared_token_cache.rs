//! `SharedTokenCacheCredential`: the accounts Microsoft developer tools (Visual Studio, older
//! Azure CLI, azure-identity's own user credentials) keep in the shared MSAL cache,
//! `~/.IdentityService/msal.cache.nocae` (`.cae` for CAE requests).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::default::{ChainMember, Within};
use crate::cache::persistent::{
    CachedAccessToken, PersistentTokenCache, TokenCacheDocument, TokenCacheEvent,
    TokenCachePersistenceOptions, cloud_aliases, entry_epoch, entry_text,
};
use crate::cache::{CacheFront, Engine, Request};
use crate::entra::EntraClient;
use crate::entra::response::TokenResponse;
use crate::{
    AccessToken, ClientOptions, Error, ErrorKind, ErrorReason, Platform, Secret, TokenCredential,
    TokenFuture, TokenRequestOptions,
};

const NAME: &str = "SharedTokenCacheCredential";
/// "Microsoft developer sign-on": the first-party client whose family refresh tokens the cache
/// holds.
const DEVELOPER_SIGN_ON_CLIENT_ID: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";

/// Options for [`SharedTokenCacheCredential`].
#[derive(Debug, Clone, Default)]
pub struct SharedTokenCacheCredentialOptions {
    /// The account's user name, when the cache holds several.
    pub username: Option<String>,
    /// The account's home tenant, when the cache holds several accounts.
    pub tenant_id: Option<String>,
    /// Authority (its cloud decides which cache entries count), retries and platform (home
    /// directory).
    pub client_options: ClientOptions,
    /// Which cache to read: default `msal.cache`, encrypted or not, as Python reads it
    /// (`allow_unencrypted_storage` is taken as true when this is `None`). A `store` is refused:
    /// the developer tools' cache is never in an application's store.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

/// Uses an account signed in through Microsoft developer tools, from the shared token cache:
/// a cached access token when one has more than five minutes left, else the account's refresh
/// token redeemed with Microsoft Entra ID. Python: `SharedTokenCacheCredential` (without an
/// authentication record).
///
/// Reads the cache as Python does (the Secret Service when usable, else the plain file, through
/// the same persistent cache as every credential); refreshed tokens are written back, as MSAL
/// does, so other applications and the next process find them.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{SharedTokenCacheCredential, TokenCredential, TokenRequestOptions};
/// let credential = SharedTokenCacheCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct SharedTokenCacheCredential {
    front: CacheFront<SharedEngine>,
}

#[derive(Debug)]
struct SharedEngine {
    username: Option<String>,
    tenant_id: Option<String>,
    platform: Platform,
    client: Result<EntraClient, Error>,
    aliases: Vec<String>,
    persistence: TokenCachePersistenceOptions,
    /// The persistent caches (non-CAE, CAE), opened on first use.
    shared: [tokio::sync::OnceCell<PersistentTokenCache>; 2],
    in_default_chain: bool,
}

/// Inside `DefaultAzureCredential` a refused refresh token is "unavailable" so the chain goes
/// on (configuration errors still stop it).
impl ChainMember for SharedTokenCacheCredential {
    type Options = SharedTokenCacheCredentialOptions;

    fn within(options: SharedTokenCacheCredentialOptions, within: Within) -> Result<Self, Error> {
        Self::build(options, within.is_default_chain())
    }
}

impl SharedTokenCacheCredential {
    /// Validates the tenant and authority; the cache is read when a token is needed.
    pub fn new(options: SharedTokenCacheCredentialOptions) -> Result<Self, Error> {
        Self::within(options, Within::Standalone)
    }

    fn build(
        options: SharedTokenCacheCredentialOptions,
        in_default_chain: bool,
    ) -> Result<Self, Error> {
        let tenant_id = options.tenant_id.filter(|t| !t.is_empty());
        if let Some(tenant) = &tenant_id {
            crate::authority::validate_tenant_id(NAME, tenant)?;
        }
        let authority = options.client_options.authority(NAME)?;
        let host = authority.host_and_port().to_ascii_lowercase();
        let mut aliases = cloud_aliases(&host);
        // MSAL records the host without its port (Python's shared cache compares the port too,
        // and so never finds sign-ins through an authority with an explicit port).
        if let Some((bare, port)) = host.rsplit_once(':')
            && !port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && (!bare.contains(':') || bare.ends_with(']'))
            && !aliases.iter().any(|a| a == bare)
        {
            aliases.push(bare.to_owned());
        }
        let platform = options.client_options.platform.clone();
        let client = EntraClient::new(
            NAME,
            "organizations",
            DEVELOPER_SIGN_ON_CLIENT_ID,
            &options.client_options,
        );
        // Python reads whatever exists, encrypted or not, and never creates a cache.
        let persistence =
            options
                .cache_persistence_options
                .unwrap_or(TokenCachePersistenceOptions {
                    allow_unencrypted_storage: true,
                    ..Default::default()
                });
        persistence.cache_name(NAME, false)?;
        // The credential looks for accounts across the whole cache the developer tools write;
        // an application's store holds one value per partition and cannot be listed, and no
        // developer tool writes there. Refused rather than silently ignored.
        if let Some(store) = persistence.store() {
            return Err(Error::config(
                NAME,
                format!(
                    "SharedTokenCacheCredential reads the developer tools' shared cache (the \
                     Secret Service or ~/.IdentityService), not an application's token cache \
                     store ({store:?}): remove \"store\" from its TokenCachePersistenceOptions"
                ),
            ));
        }
        let clock = platform.clock().clone();
        let engine = SharedEngine {
            username: options.username.filter(|u| !u.is_empty()),
            tenant_id,
            platform,
            client,
            aliases,
            persistence,
            shared: Default::default(),
            in_default_chain,
        };
        Ok(SharedTokenCacheCredential {
            front: CacheFront::new(engine, clock),
        })
    }
}

impl Engine for SharedEngine {
    type Context = ();

    fn validate(&self, scopes: &[&str], options: &TokenRequestOptions) -> Result<(), Error> {
        crate::authority::validate_scopes(NAME, scopes)?;
        if let Some(tenant) = options.tenant_id.as_deref().filter(|t| !t.is_empty()) {
            crate::authority::validate_tenant_id(NAME, tenant)?;
        }
        Ok(())
    }

    /// The requested tenant, as given: the account decides the rest.
    fn tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<&'a str, Error> {
        Ok(options.tenant_id.as_deref().unwrap_or(""))
    }

    async fn acquire<'a>(&'a self, request: Request<'a, ()>) -> Result<AccessToken, Error> {
        self.fetch(request.scopes, request.options, request.claims)
            .await
    }
}

impl SharedEngine {
    async fn fetch(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
        claims: Option<&str>,
    ) -> Result<AccessToken, Error> {
        let cae = options.enable_cae;
        let document = self.load(cae).await?;
        let json = document.as_json();
        let account = self.select_account(json)?;
        let now = self.platform.clock().now();
        if claims.is_none()
            && let Some(token) = cached_access_token(json, &account, scopes, now)
        {
            return Ok(token);
        }
        let refresh_tokens = self.refresh_tokens(json, &account);
        let Some(refresh_token) = refresh_tokens.first() else {
            return Err(Error::unavailable(
                NAME,
                format!(
                    "Token acquisition failed for user '{}'. To fix, re-authenticate\nthrough \
                     developer tooling supporting Azure single sign on",
                    account.username
                ),
            )
            .with_reason(ErrorReason::NotSignedIn));
        };
        // Python redeems the first refresh token and raises its failure at once.
        let (response, tenant) = self
            .redeem(refresh_token, scopes, options, claims)
            .await
            .map_err(|e| {
                if self.in_default_chain && !matches!(e.kind(), ErrorKind::InvalidConfiguration) {
                    e.into_unavailable()
                } else {
                    e
                }
            })?;
        self.write_back(cae, refresh_token, &response, tenant, scopes)
            .await;
        Ok(response.token)
    }

    /// Stores a redemption's answer in the shared cache as MSAL does: the new access token, and
    /// a rotated refresh token in place of the one redeemed. A failure is logged: the caller
    /// has its token.
    async fn write_back(
        &self,
        cae: bool,
        redeemed: &str,
        response: &TokenResponse,
        tenant: &str,
        scopes: &[&str],
    ) {
        let Ok(client) = &self.client else {
            return;
        };
        let Some(cache) = self.shared[usize::from(cae)].get() else {
            return;
        };
        let now = client.now().unix_timestamp();
        let mut answer = response.raw.map().clone();
        let rotated = response.refresh_token.clone();
        let redeemed = Secret::new(redeemed);
        let written = cache
            .modify(|document| {
                if let Some(rotated) = &rotated
                    && document.replace_refresh_token(&redeemed, rotated, now)
                {
                    // Rotated in place (the entry may belong to another client of the family).
                    answer.remove("refresh_token");
                }
                // azure-identity's client records the requested scopes.
                document.add(&TokenCacheEvent {
                    client_id: DEVELOPER_SIGN_ON_CLIENT_ID,
                    environment: client.environment(),
                    realm: tenant,
                    scopes,
                    grant_type: Some("refresh_token"),
                    response: &answer,
                    username: None,
                    skip_account_creation: true,
                    now,
                });
            })
            .await;
        if let Err(error) = written {
            tracing::warn!(
                credential = NAME,
                error = %error,
                "could not write the refreshed token to the shared token cache"
            );
        }
    }

    async fn load(&self, cae: bool) -> Result<Arc<TokenCacheDocument>, Error> {
        let unavailable = |why: String| {
            Error::unavailable(NAME, format!("Shared token cache unavailable: {why}"))
                .with_reason(ErrorReason::CacheUnavailable)
        };
        // Python reads whatever exists, encrypted or not, and never creates a cache.
        let cache = self.shared[usize::from(cae)]
            .get_or_try_init(|| {
                PersistentTokenCache::open_for(NAME, &self.persistence, cae, &self.platform)
            })
            .await
            .map_err(|e| unavailable(e.message().to_owned()))?;
        if !cache.is_encrypted() && !cache.location().is_file() {
            return Err(unavailable(format!(
                "there is no cache file at {}",
                cache.location().display()
            )));
        }
        cache
            .load()
            .await
            .map_err(|e| unavailable(e.message().to_owned()))
    }

    fn in_cloud(&self, entry: &Map<String, Value>) -> bool {
        str_field(entry, "environment")
            .is_some_and(|env| self.aliases.iter().any(|a| a.eq_ignore_ascii_case(env)))
    }

    fn select_account(&self, document: &Map<String, Value>) -> Result<Account, Error> {
        let family_homes: Vec<&str> = section(document, "RefreshToken")
            .filter(|rt| self.in_cloud(rt) && rt.get("family_id").is_some_and(|f| !f.is_null()))
            .filter_map(|rt| str_field(rt, "home_account_id"))
            .collect();
        let mut candidates: BTreeMap<String, Account> = BTreeMap::new();
        for entry in section(document, "Account").filter(|a| self.in_cloud(a)) {
            let Some(home) = str_field(entry, "home_account_id") else {
                continue;
            };
            if !family_homes.contains(&home) {
                continue;
            }
            candidates
                .entry(home.to_owned())
                .or_insert_with(|| Account {
                    home_account_id: home.to_owned(),
                    username: str_field(entry, "username").unwrap_or("").to_owned(),
                });
        }
        let all: Vec<Account> = candidates.into_values().collect();
        let prefix = "SharedTokenCacheCredential authentication unavailable.";
        if all.is_empty() {
            return Err(Error::unavailable(
                NAME,
                format!("{prefix} No accounts were found in the cache."),
            )
            .with_reason(ErrorReason::NoAccount));
        }
        let filtered = self.username.is_some() || self.tenant_id.is_some();
        let mut matching: Vec<Account> = all
            .into_iter()
            .filter(|a| self.username.as_deref().is_none_or(|u| a.username == u))
            .filter(|a| {
                self.tenant_id.as_deref().is_none_or(|t| {
                    a.home_account_id.split_once('.').map(|(_, utid)| utid) == Some(t)
                })
            })
            .collect();
        let criteria = format!(
            "{}{}",
            self.username
                .as_deref()
                .map(|u| format!(" username: {u}"))
                .unwrap_or_default(),
            self.tenant_id
                .as_deref()
                .map(|t| format!(" tenant: {t}"))
                .unwrap_or_default()
        );
        match (matching.len(), filtered) {
            (1, _) => Ok(matching.remove(0)),
            (0, _) => Err(Error::unavailable(
                NAME,
                format!(
                    "{prefix} No account\nmatching the specified{criteria} was found in the cache."
                ),
            )
            .with_reason(ErrorReason::NoAccount)),
            (_, false) => Err(Error::unavailable(
                NAME,
                format!(
                    "{prefix} Multiple accounts\nwere found in the cache. Use username and tenant \
                     id to disambiguate."
                ),
            )
            .with_reason(ErrorReason::MultipleAccounts)),
            (_, true) => Err(Error::unavailable(
                NAME,
                format!(
                    "{prefix} Multiple accounts\nmatching the specified{criteria} were found in the cache."
                ),
            )
            .with_reason(ErrorReason::MultipleAccounts)),
        }
    }

    /// The account's refresh tokens, newest first.
    fn refresh_tokens(&self, document: &Map<String, Value>, account: &Account) -> Vec<String> {
        let mut tokens: Vec<(i64, String)> = section(document, "RefreshToken")
            .filter(|rt| self.in_cloud(rt))
            .filter(|rt| str_field(rt, "home_account_id") == Some(account.home_account_id.as_str()))
            .filter_map(|rt| {
                let secret = str_field(rt, "secret").filter(|s| !s.is_empty())?;
                Some((
                    epoch_field(rt, "last_modification_time").unwrap_or(0),
                    secret.to_owned(),
                ))
            })
            .collect();
        tokens.sort_by_key(|t| std::cmp::Reverse(t.0));
        tokens.into_iter().map(|(_, t)| t).collect()
    }

    async fn redeem<'a>(
        &self,
        refresh_token: &str,
        scopes: &[&str],
        options: &'a TokenRequestOptions,
        claims: Option<&str>,
    ) -> Result<(TokenResponse, &'a str), Error> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let tenant = options
            .tenant_id
            .as_deref()
            .filter(|t| !t.is_empty())
            .unwrap_or("organizations");
        crate::authority::validate_tenant_id(NAME, tenant)?;
        let endpoint = client.token_endpoint(tenant).await?;
        let mut scope: Vec<&str> = scopes.to_vec();
        for extra in ["offline_access", "openid", "profile"] {
            if !scope.contains(&extra) {
                scope.push(extra);
            }
        }
        let scope = scope.join(" ");
        let merged = crate::entra::claims::merge(claims, options.enable_cae);
        let mut form = vec![
            ("client_id", DEVELOPER_SIGN_ON_CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("scope", scope.as_str()),
            ("client_info", "1"),
        ];
        if let Some(claims) = &merged {
            form.push(("claims", claims));
        }
        Ok((client.request_token(endpoint, &form).await?, tenant))
    }
}

/// `~/.IdentityService/msal.cache.nocae`, or `.cae` for CAE requests.
pub(crate) fn cache_path(platform: &Platform, cae: bool) -> Option<PathBuf> {
    let name = if cae {
        "msal.cache.cae"
    } else {
        "msal.cache.nocae"
    };
    platform
        .home_dir()
        .map(|home| home.join(".IdentityService").join(name))
}

struct Account {
    home_account_id: String,
    username: String,
}

fn section<'a>(
    document: &'a Map<String, Value>,
    name: &str,
) -> impl Iterator<Item = &'a Map<String, Value>> {
    document
        .get(name)
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|entries| entries.values())
        .filter_map(Value::as_object)
}

fn str_field<'a>(entry: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    entry_text(entry, name)
}

fn epoch_field(entry: &Map<String, Value>, name: &str) -> Option<i64> {
    entry_epoch(entry, name)
}

/// Any access token of the account covering the scopes with more than five minutes left
/// (Python's rule for this cache: client, realm and environment are not compared).
fn cached_access_token(
    document: &Map<String, Value>,
    account: &Account,
    scopes: &[&str],
    now: OffsetDateTime,
) -> Option<AccessToken> {
    section(document, "AccessToken")
        .filter(|at| str_field(at, "home_account_id") == Some(account.home_account_id.as_str()))
        .filter(|at| {
            let target: Vec<&str> = str_field(at, "target").unwrap_or("").split(' ').collect();
            scopes.iter().all(|s| target.contains(s))
        })
        .filter(|at| str_field(at, "token_type").is_none_or(|t| t.eq_ignore_ascii_case("bearer")))
        .filter_map(|at| {
            let secret = str_field(at, "secret").filter(|s| !s.is_empty())?;
            Some(CachedAccessToken {
                secret: Secret::new(secret),
                expires_on: epoch_field(at, "expires_on")?,
                refresh_on: None,
                cached_at: None,
            })
        })
        // Checked: a hostile `expires_on` must not wrap into a token that looks fresh.
        .filter(|cached| cached.usable_at(now.unix_timestamp()))
        .max_by_key(|cached| cached.expires_on)
        .and_then(|cached| cached.to_access_token())
}

impl TokenCredential for SharedTokenCacheCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.front.get_token(scopes, options, "", &())
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// `expires - 300` on `"-9223372036854775808"` wrapped, in release builds, into a token with
    /// centuries left (and panicked in debug builds).
    #[test]
    fn a_hostile_expiry_in_the_cache_never_looks_fresh() {
        let account = Account {
            home_account_id: "uid.utid".into(),
            username: "u".into(),
        };
        let now = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        for expires in [
            json!("-9223372036854775808"),
            json!(i64::MIN),
            json!("1800000299"),
        ] {
            let document = json!({"AccessToken": {"k": {
                "home_account_id": "uid.utid",
                "target": "s",
                "secret": "old",
                "expires_on": expires,
            }}});
            let document = document.as_object().unwrap();
            assert!(
                cached_access_token(document, &account, &["s"], now).is_none(),
                "{expires}"
            );
        }
        let fresh = json!({"AccessToken": {"k": {
            "home_account_id": "uid.utid", "target": "s", "secret": "ok", "expires_on": "1800003600",
        }}});
        let token = cached_access_token(fresh.as_object().unwrap(), &account, &["s"], now).unwrap();
        assert_eq!(token.token().secret(), "ok");
    }
}
