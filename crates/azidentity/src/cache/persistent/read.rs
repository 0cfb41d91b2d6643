//! Finding accounts and tokens by their fields, as MSAL does (never by key: other SDKs format
//! keys differently). Readers are lenient where that cannot hand out a wrong token: hosts,
//! tenants and ids compare case-insensitively, times may be strings or numbers.

use serde_json::{Map, Value};

use super::document::{TokenCacheDocument, epoch, text};
use super::keys;
use crate::Secret;

/// An account in the cache (an `Account` entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedAccount {
    /// `<object id>.<home tenant id>`, MSAL's account identifier.
    pub home_account_id: String,
    /// The authority host the account signed in through.
    pub environment: String,
    /// The tenant segment of the authority the account signed in through.
    pub realm: String,
    /// The user's sign-in name (may be empty).
    pub username: String,
    /// The account's object id in `realm`, when known.
    pub local_account_id: Option<String>,
    /// `MSSTS` (Entra ID and Microsoft accounts) or `ADFS`.
    pub authority_type: String,
}

/// An access token found in the cache.
#[derive(Debug, Clone)]
pub(crate) struct CachedAccessToken {
    pub secret: Secret,
    pub expires_on: i64,
    pub refresh_on: Option<i64>,
    pub cached_at: Option<i64>,
}

/// MSAL treats an access token with less than this left as expired.
pub(crate) const EXPIRY_BUFFER_S: i64 = 300;

impl CachedAccessToken {
    /// MSAL's rule: more than five minutes left. Checked: a hostile `expires_on` (say
    /// `i64::MIN`) must not wrap into a token that looks fresh.
    pub(crate) fn usable_at(&self, now: i64) -> bool {
        self.expires_on
            .checked_sub(now)
            .is_some_and(|left| left > EXPIRY_BUFFER_S)
    }

    /// When to refresh: the stored `refresh_on`, else (as for a fresh answer) half a long
    /// lifetime counted from `cached_at`.
    pub(crate) fn refresh_at(&self) -> Option<i64> {
        self.refresh_on.or_else(|| {
            let cached_at = self.cached_at?;
            let lifetime = self.expires_on.checked_sub(cached_at)?;
            (lifetime >= 2 * 3600).then(|| cached_at + lifetime / 2)
        })
    }

    /// Usable and not yet due for a refresh.
    pub(crate) fn fresh_at(&self, now: i64) -> bool {
        self.usable_at(now) && self.refresh_at().is_none_or(|at| at > now)
    }

    /// The token as credentials hand it out.
    pub(crate) fn to_access_token(&self) -> Option<crate::AccessToken> {
        let at = |t: i64| time::OffsetDateTime::from_unix_timestamp(t).ok();
        Some(
            crate::AccessToken::new(self.secret.clone(), at(self.expires_on)?)
                .with_refresh_on(self.refresh_at().and_then(at)),
        )
    }
}

/// A refresh token found in the cache.
#[derive(Debug, Clone)]
pub(crate) struct CachedRefreshToken {
    pub secret: Secret,
    pub client_id: String,
}

/// What an access token lookup matches on.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessTokenQuery<'a> {
    pub client_id: &'a str,
    pub environments: &'a [&'a str],
    pub realm: &'a str,
    /// `None` for application tokens, which are stored with a null `home_account_id`.
    pub home_account_id: Option<&'a str>,
    pub scopes: &'a [&'a str],
    /// On-behalf-of: only this assertion's tokens; otherwise only tokens of no assertion.
    pub user_assertion_hash: Option<&'a str>,
}

fn assertion_matches(entry: &Map<String, Value>, wanted: Option<&str>) -> bool {
    match (text(entry, "user_assertion_hash"), wanted) {
        (None, None) => true,
        (Some(have), Some(wanted)) => have == wanted,
        _ => false,
    }
}

fn same(entry: &Map<String, Value>, field: &str, wanted: &str) -> bool {
    text(entry, field).is_some_and(|v| v.eq_ignore_ascii_case(wanted))
}

fn in_cloud(entry: &Map<String, Value>, environments: &[&str]) -> bool {
    environments
        .iter()
        .any(|env| same(entry, "environment", env))
}

/// Bearer tokens only: other SDKs leave `token_type` out for Bearer, and key-bound tokens
/// (SSH certificates, PoP) must never answer a Bearer request.
fn is_bearer(entry: &Map<String, Value>) -> bool {
    text(entry, "token_type").is_none_or(|t| t.eq_ignore_ascii_case("bearer"))
        && !entry.contains_key("key_id")
        && !entry.contains_key("kid")
        && !entry.contains_key("keyid")
        && !entry.contains_key("ext_cache_key")
}

fn covers(entry: &Map<String, Value>, scopes: &[&str]) -> bool {
    let target: Vec<&str> = text(entry, "target")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    scopes
        .iter()
        .all(|s| target.iter().any(|t| t.eq_ignore_ascii_case(s)))
}

impl TokenCacheDocument {
    /// The accounts signed in through any of `environments` (aliases of one cloud), one per
    /// `home_account_id` and realm, in key order.
    pub fn accounts(&self, environments: &[&str]) -> Vec<CachedAccount> {
        let mut accounts: Vec<CachedAccount> = self
            .entries(keys::ACCOUNT)
            .filter(|(_, a)| in_cloud(a, environments))
            .filter_map(|(_, a)| {
                Some(CachedAccount {
                    home_account_id: text(a, "home_account_id")?.to_owned(),
                    environment: text(a, "environment")?.to_owned(),
                    realm: text(a, "realm").unwrap_or("").to_owned(),
                    username: text(a, "username").unwrap_or("").to_owned(),
                    local_account_id: text(a, "local_account_id").map(str::to_owned),
                    authority_type: text(a, "authority_type").unwrap_or("MSSTS").to_owned(),
                })
            })
            .collect();
        accounts.dedup_by(|a, b| {
            a.home_account_id.eq_ignore_ascii_case(&b.home_account_id)
                && a.realm.eq_ignore_ascii_case(&b.realm)
        });
        accounts
    }

    /// The matching access token that expires last.
    pub(crate) fn access_token(&self, query: &AccessTokenQuery<'_>) -> Option<CachedAccessToken> {
        self.entries(keys::ACCESS_TOKEN)
            .map(|(_, e)| e)
            .filter(|e| same(e, "client_id", query.client_id))
            .filter(|e| in_cloud(e, query.environments))
            .filter(|e| same(e, "realm", query.realm))
            .filter(
                |e| match (query.home_account_id, query.user_assertion_hash) {
                    (Some(home), _) => same(e, "home_account_id", home),
                    // An assertion's tokens are found by its hash, whoever the user is.
                    (None, Some(_)) => true,
                    (None, None) => e.get("home_account_id").is_none_or(Value::is_null),
                },
            )
            .filter(|e| is_bearer(e) && covers(e, query.scopes))
            .filter(|e| assertion_matches(e, query.user_assertion_hash))
            .filter_map(|e| {
                let secret = text(e, "secret").filter(|s| !s.is_empty())?;
                Some(CachedAccessToken {
                    secret: Secret::new(secret),
                    expires_on: epoch(e, "expires_on")?,
                    refresh_on: epoch(e, "refresh_on"),
                    cached_at: epoch(e, "cached_at"),
                })
            })
            // An expiry no date can hold (another writer's bug, or hostile) is no token.
            .filter(|t| t.to_access_token().is_some())
            .max_by_key(|t| t.expires_on)
    }

    /// The account's refresh tokens in the cloud, newest first. `family` admits the refresh
    /// tokens of other clients of that family (FOCI); otherwise only `client_id`'s are used.
    pub(crate) fn refresh_tokens(
        &self,
        environments: &[&str],
        home_account_id: &str,
        client_id: Option<&str>,
        family: Option<&str>,
    ) -> Vec<CachedRefreshToken> {
        self.newest_refresh_tokens(|e| {
            let own = client_id.is_none_or(|c| same(e, "client_id", c));
            let in_family = family.is_some_and(|f| family_of(e).as_deref() == Some(f));
            in_cloud(e, environments)
                && same(e, "home_account_id", home_account_id)
                && (own || in_family)
        })
    }

    /// The refresh tokens an on-behalf-of user assertion obtained for `client_id`, newest first.
    pub(crate) fn assertion_refresh_tokens(
        &self,
        environments: &[&str],
        client_id: &str,
        user_assertion_hash: &str,
    ) -> Vec<CachedRefreshToken> {
        self.newest_refresh_tokens(|e| {
            in_cloud(e, environments)
                && same(e, "client_id", client_id)
                && assertion_matches(e, Some(user_assertion_hash))
        })
    }

    /// The refresh tokens `wanted` accepts, newest (`last_modification_time`) first.
    fn newest_refresh_tokens(
        &self,
        wanted: impl Fn(&Map<String, Value>) -> bool,
    ) -> Vec<CachedRefreshToken> {
        let mut found: Vec<(i64, CachedRefreshToken)> = self
            .entries(keys::REFRESH_TOKEN)
            .map(|(_, e)| e)
            .filter(|e| wanted(e))
            .filter_map(|e| {
                let secret = text(e, "secret").filter(|s| !s.is_empty())?;
                Some((
                    epoch(e, "last_modification_time").unwrap_or(0),
                    CachedRefreshToken {
                        secret: Secret::new(secret),
                        client_id: text(e, "client_id").unwrap_or("").to_owned(),
                    },
                ))
            })
            .collect();
        found.sort_by_key(|(time, _)| std::cmp::Reverse(*time));
        found.into_iter().map(|(_, t)| t).collect()
    }

    /// The family an application belongs to, from its `AppMetadata`: `None` when the cache has
    /// never seen the app, `Some(None)` when it is in no family.
    pub(crate) fn app_family(
        &self,
        environments: &[&str],
        client_id: &str,
    ) -> Option<Option<String>> {
        self.entries(keys::APP_METADATA)
            .map(|(_, e)| e)
            .find(|e| in_cloud(e, environments) && same(e, "client_id", client_id))
            .map(family_of)
    }

    /// Puts `new` in place of the refresh token whose secret is `old` (MSAL's `update_rt`: same
    /// entry, new secret and modification time); false when no entry holds `old`.
    pub(crate) fn replace_refresh_token(&mut self, old: &Secret, new: &Secret, now: i64) -> bool {
        let Some(Value::Object(entries)) = self.root.get_mut(keys::REFRESH_TOKEN) else {
            return false;
        };
        for entry in entries.values_mut() {
            if let Value::Object(entry) = entry
                && text(entry, "secret") == Some(old.secret())
            {
                entry.insert("secret".into(), new.secret().into());
                entry.insert("last_modification_time".into(), now.to_string().into());
                return true;
            }
        }
        false
    }

    /// Removes the refresh tokens whose secret is `secret` (after the service rejected it).
    pub(crate) fn remove_refresh_token(&mut self, secret: &Secret) -> usize {
        self.remove_where(keys::REFRESH_TOKEN, |e| {
            text(e, "secret").is_some_and(|s| Secret::new(s) == *secret)
        })
    }
}

/// `family_id` as text: MSAL writes `"1"`, some SDKs a number.
fn family_of(entry: &Map<String, Value>) -> Option<String> {
    match entry.get("family_id")? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Hosts of one cloud that share accounts (azure-identity's table; MSAL would ask instance
/// discovery over the network).
const ALIAS_GROUPS: &[&[&str]] = &[
    &[
        "login.microsoftonline.com",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    ],
    &["login.chinacloudapi.cn", "login.partner.microsoftonline.cn"],
    &["login.microsoftonline.us", "login.usgovcloudapi.net"],
];

/// `environment` first, then the other hosts of its cloud.
pub(crate) fn cloud_aliases(environment: &str) -> Vec<String> {
    let environment = environment.to_ascii_lowercase();
    let mut hosts = vec![environment.clone()];
    if let Some(group) = ALIAS_GROUPS
        .iter()
        .find(|g| g.contains(&environment.as_str()))
    {
        hosts.extend(
            group
                .iter()
                .filter(|h| **h != environment)
                .map(|h| (*h).to_owned()),
        );
    }
    hosts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cached(expires_on: i64) -> CachedAccessToken {
        CachedAccessToken {
            secret: Secret::new("s"),
            expires_on,
            refresh_on: None,
            cached_at: Some(1_800_000_000),
        }
    }

    /// A cache entry with `"expires_on": "-9223372036854775808"` once wrapped into a token with
    /// centuries left (release builds) or panicked (debug builds).
    #[test]
    fn a_hostile_expiry_never_looks_fresh() {
        let now = 1_800_000_000;
        for hostile in [i64::MIN, i64::MIN + 1, -1, 0, now, now + EXPIRY_BUFFER_S] {
            assert!(!cached(hostile).usable_at(now), "{hostile}");
            assert!(!cached(hostile).fresh_at(now), "{hostile}");
        }
        assert!(cached(now + EXPIRY_BUFFER_S + 1).usable_at(now));
        assert!(cached(i64::MAX).usable_at(now));
        assert!(cached(i64::MAX).to_access_token().is_none());
    }

    #[test]
    fn long_lived_tokens_refresh_at_half_life() {
        let now = 1_800_000_000;
        let day = cached(now + 86_400);
        assert_eq!(day.refresh_at(), Some(now + 43_200));
        assert!(day.fresh_at(now + 43_199));
        assert!(!day.fresh_at(now + 43_200));
        assert_eq!(cached(now + 3600).refresh_at(), None);
    }
}
