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
            .filter(|e| match query.home_account_id {
                Some(home) => same(e, "home_account_id", home),
                None => e.get("home_account_id").is_none_or(Value::is_null),
            })
            .filter(|e| is_bearer(e) && covers(e, query.scopes))
            .filter_map(|e| {
                let secret = text(e, "secret").filter(|s| !s.is_empty())?;
                Some(CachedAccessToken {
                    secret: Secret::new(secret),
                    expires_on: epoch(e, "expires_on")?,
                    refresh_on: epoch(e, "refresh_on"),
                })
            })
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
        let mut found: Vec<(i64, CachedRefreshToken)> = self
            .entries(keys::REFRESH_TOKEN)
            .map(|(_, e)| e)
            .filter(|e| in_cloud(e, environments) && same(e, "home_account_id", home_account_id))
            .filter(|e| {
                let own = client_id.is_none_or(|c| same(e, "client_id", c));
                let in_family = family.is_some_and(|f| family_of(e).as_deref() == Some(f));
                own || in_family
            })
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
