//! Storing a token response the way MSAL Python's `TokenCache.add` does, field for field, so
//! that Python finds, refreshes and removes what we write.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::document::TokenCacheDocument;
use super::keys;

/// The grants after which MSAL records how the account was established (`account_source`).
const ACCOUNT_SOURCES: &[&str] = &[
    "authorization_code",
    "password",
    "urn:ietf:params:oauth:grant-type:device_code",
    "broker",
];

/// One successful token response and where it came from (MSAL's cache "event").
#[derive(Clone, Copy)]
pub struct TokenCacheEvent<'a> {
    /// The application that asked.
    pub client_id: &'a str,
    /// The authority host as configured, e.g. `login.microsoftonline.com` (lowercased when
    /// written).
    pub environment: &'a str,
    /// The tenant segment of the token endpoint's path, as configured (`organizations`, a
    /// GUID, a domain).
    pub realm: &'a str,
    /// The scopes to record: the response's `scope` when it has one, else the request's
    /// (see [`TokenCacheEvent::recorded_scopes`]).
    pub scopes: &'a [&'a str],
    /// The grant type of the request, e.g. `authorization_code`.
    pub grant_type: Option<&'a str>,
    /// The token endpoint's JSON answer.
    pub response: &'a Map<String, Value>,
    /// The user name a password grant signed in with (a fallback for the account's name).
    pub username: Option<&'a str>,
    /// Do not (re)create the account: silent refreshes must not resurrect a removed account.
    pub skip_account_creation: bool,
    /// Now, in Unix seconds.
    pub now: i64,
}

impl std::fmt::Debug for TokenCacheEvent<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCacheEvent")
            .field("client_id", &self.client_id)
            .field("environment", &self.environment)
            .field("realm", &self.realm)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl TokenCacheEvent<'_> {
    /// MSAL's rule for the recorded scopes: the response's `scope` (split on spaces) when it
    /// has one, else the requested scopes.
    pub fn recorded_scopes<'r>(
        response: &'r Map<String, Value>,
        requested: &[&'r str],
    ) -> Vec<&'r str> {
        match response.get("scope").and_then(Value::as_str) {
            Some(scope) => scope.split_whitespace().collect(),
            None => requested.to_vec(),
        }
    }
}

/// An integer sent as a number or a string (AAD v1-style endpoints send strings).
fn int(response: &Map<String, Value>, name: &str) -> Option<i64> {
    match response.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text<'a>(response: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    response
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The unverified claims of a JWT (the ID token came from the service over TLS).
fn jwt_claims(jwt: &str) -> Map<String, Value> {
    jwt.split('.')
        .nth(1)
        .and_then(|part| URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|v| match v {
            Value::Object(map) => Some(map),
            _ => None,
        })
        .unwrap_or_default()
}

/// `(has client_info, home_account_id)`, as MSAL's `__parse_account`.
pub(crate) fn parse_account(
    response: &Map<String, Value>,
    id_claims: &Map<String, Value>,
) -> (bool, Option<String>) {
    let info = text(response, "client_info")
        .and_then(|info| URL_SAFE_NO_PAD.decode(info.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    if let Some(info) = &info
        && let (Some(uid), Some(utid)) = (
            info.get("uid").and_then(Value::as_str),
            info.get("utid").and_then(Value::as_str),
        )
    {
        return (true, Some(format!("{uid}.{utid}")));
    }
    // An end user on ADFS, which sends no client_info.
    if let Some(sub) = id_claims.get("sub").and_then(Value::as_str) {
        return (true, Some(sub.to_owned()));
    }
    (false, None)
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

impl TokenCacheDocument {
    /// Stores a token response: access token, account, ID token, refresh token and app
    /// metadata, each replacing any entry with the same key (Python: `TokenCache.add`).
    pub fn add(&mut self, event: &TokenCacheEvent<'_>) {
        let response = event.response;
        let now = event.now;
        let environment = event.environment.to_lowercase();
        let realm = event.realm;
        let client_id = event.client_id;
        let id_token = text(response, "id_token");
        let id_claims = id_token.map(jwt_claims).unwrap_or_default();
        let (has_client_info, home) = parse_account(response, &id_claims);
        let home = home.as_deref();
        let mut scopes: Vec<&str> = event.scopes.to_vec();
        scopes.sort_unstable();
        let target = scopes.join(" ");
        let home_value = home.map_or(Value::Null, |h| Value::String(h.to_owned()));

        if let Some(access_token) = text(response, "access_token") {
            let default_expires_in = int(response, "expires_on").map_or(600, |on| on - now);
            let expires_in = int(response, "expires_in").unwrap_or(default_expires_in);
            let ext_expires_in = int(response, "ext_expires_in").unwrap_or(expires_in);
            let mut at = object(json!({
                "credential_type": keys::ACCESS_TOKEN,
                "secret": access_token,
                "home_account_id": home_value,
                "environment": environment,
                "client_id": client_id,
                "target": target,
                "realm": realm,
                "token_type": text(response, "token_type").unwrap_or("Bearer"),
                "cached_at": now.to_string(),
                "expires_on": (now + expires_in).to_string(),
                "extended_expires_on": (now + ext_expires_in).to_string(),
            }));
            if let Some(refresh_in) = int(response, "refresh_in") {
                at.insert("refresh_on".into(), (now + refresh_in).to_string().into());
            }
            let key = keys::access_token(home, &environment, client_id, realm, &target);
            self.put(keys::ACCESS_TOKEN, key, at);
        }

        if has_client_info && !event.skip_account_creation {
            let claim = |name: &str| id_claims.get(name).and_then(Value::as_str);
            let username = claim("preferred_username")
                .or_else(|| claim("upn"))
                .or(event.username)
                .unwrap_or("");
            let local_account_id = id_claims
                .get("oid")
                .or_else(|| id_claims.get("sub"))
                .cloned()
                .unwrap_or(Value::Null);
            let authority_type = if realm == "adfs" { "ADFS" } else { "MSSTS" };
            let mut account = object(json!({
                "home_account_id": home_value,
                "environment": environment,
                "realm": realm,
                "local_account_id": local_account_id,
                "username": username,
                "authority_type": authority_type,
            }));
            if let Some(grant) = event.grant_type.filter(|g| ACCOUNT_SOURCES.contains(g)) {
                account.insert("account_source".into(), grant.into());
            }
            self.put(
                keys::ACCOUNT,
                keys::account(home, &environment, realm),
                account,
            );
        }

        if let Some(id_token) = id_token {
            let idt = object(json!({
                "credential_type": keys::ID_TOKEN,
                "secret": id_token,
                "home_account_id": home_value,
                "environment": environment,
                "realm": realm,
                "client_id": client_id,
            }));
            let key = keys::id_token(home, &environment, client_id, realm);
            self.put(keys::ID_TOKEN, key, idt);
        }

        let foci = response.get("foci").cloned();
        if let Some(refresh_token) = text(response, "refresh_token") {
            let mut rt = object(json!({
                "credential_type": keys::REFRESH_TOKEN,
                "secret": refresh_token,
                "home_account_id": home_value,
                "environment": environment,
                "client_id": client_id,
                "target": target,
                "last_modification_time": now.to_string(),
            }));
            if let Some(foci) = &foci {
                rt.insert("family_id".into(), foci.clone());
            }
            let key = keys::refresh_token(home, &environment, client_id, &target);
            self.put(keys::REFRESH_TOKEN, key, rt);
        }

        let mut metadata = object(json!({
            "client_id": client_id,
            "environment": environment,
        }));
        if let Some(foci) = foci {
            metadata.insert("family_id".into(), foci);
        }
        let key = keys::app_metadata(&environment, client_id);
        self.put(keys::APP_METADATA, key, metadata);
    }
}
