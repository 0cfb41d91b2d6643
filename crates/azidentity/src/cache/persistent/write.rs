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

/// What an access token entry says about time, all checked: services and caches send any
/// number, and an overflowing sum must never wrap into a token that looks fresh.
struct Lifetime {
    expires_on: i64,
    extended_expires_on: i64,
    refresh_on: Option<i64>,
}

impl Lifetime {
    /// `None` when the expiry cannot be represented: such a token is not stored.
    fn of(response: &Map<String, Value>, now: i64) -> Option<Self> {
        let expires_in = match int(response, "expires_in") {
            Some(seconds) => seconds,
            None => match int(response, "expires_on") {
                Some(on) => on.checked_sub(now)?,
                None => 600,
            },
        };
        let expires_on = now.checked_add(expires_in)?;
        let extended_expires_on = int(response, "ext_expires_in")
            .and_then(|ext| now.checked_add(ext))
            .unwrap_or(expires_on);
        let refresh_on = int(response, "refresh_in").and_then(|r| now.checked_add(r));
        Some(Lifetime {
            expires_on,
            extended_expires_on,
            refresh_on,
        })
    }
}

/// What every entry of one response shares.
struct Common<'a> {
    event: &'a TokenCacheEvent<'a>,
    environment: String,
    home: Option<&'a str>,
    home_value: Value,
    target: String,
    id_claims: &'a Map<String, Value>,
    /// On-behalf-of: the user assertion's hash (the field MSAL .NET and Go write), so an
    /// assertion's tokens never answer another's.
    user_assertion_hash: Option<&'a str>,
}

impl TokenCacheDocument {
    /// Stores a token response: access token, account, ID token, refresh token and app
    /// metadata, each replacing any entry with the same key (Python: `TokenCache.add`).
    pub fn add(&mut self, event: &TokenCacheEvent<'_>) {
        self.add_for(event, None);
    }

    /// [`TokenCacheDocument::add`] for an on-behalf-of response: its access and refresh tokens
    /// carry the user assertion's hash.
    pub(crate) fn add_for(
        &mut self,
        event: &TokenCacheEvent<'_>,
        user_assertion_hash: Option<&str>,
    ) {
        let id_claims = text(event.response, "id_token")
            .map(jwt_claims)
            .unwrap_or_default();
        let (has_client_info, home) = parse_account(event.response, &id_claims);
        let mut scopes: Vec<&str> = event.scopes.to_vec();
        scopes.sort_unstable();
        let common = Common {
            event,
            environment: event.environment.to_lowercase(),
            home: home.as_deref(),
            home_value: home
                .as_deref()
                .map_or(Value::Null, |h| Value::String(h.to_owned())),
            target: scopes.join(" "),
            id_claims: &id_claims,
            user_assertion_hash,
        };
        self.add_access_token(&common);
        if has_client_info && !event.skip_account_creation {
            self.add_account(&common);
        }
        self.add_id_token(&common);
        self.add_refresh_token(&common);
        self.add_app_metadata(&common);
    }

    fn add_access_token(&mut self, c: &Common<'_>) {
        let response = c.event.response;
        let Some(access_token) = text(response, "access_token") else {
            return;
        };
        let Some(lifetime) = Lifetime::of(response, c.event.now) else {
            return;
        };
        let mut at = object(json!({
            "credential_type": keys::ACCESS_TOKEN,
            "secret": access_token,
            "home_account_id": c.home_value,
            "environment": c.environment,
            "client_id": c.event.client_id,
            "target": c.target,
            "realm": c.event.realm,
            "token_type": text(response, "token_type").unwrap_or("Bearer"),
            "cached_at": c.event.now.to_string(),
            "expires_on": lifetime.expires_on.to_string(),
            "extended_expires_on": lifetime.extended_expires_on.to_string(),
        }));
        if let Some(refresh_on) = lifetime.refresh_on {
            at.insert("refresh_on".into(), refresh_on.to_string().into());
        }
        if let Some(hash) = c.user_assertion_hash {
            at.insert("user_assertion_hash".into(), hash.into());
        }
        let key = keys::access_token(
            c.home,
            &c.environment,
            c.event.client_id,
            c.event.realm,
            &c.target,
        );
        self.put(keys::ACCESS_TOKEN, key, at);
    }

    fn add_account(&mut self, c: &Common<'_>) {
        let claim = |name: &str| c.id_claims.get(name).and_then(Value::as_str);
        let username = claim("preferred_username")
            .or_else(|| claim("upn"))
            .or(c.event.username)
            .unwrap_or("");
        let local_account_id = c
            .id_claims
            .get("oid")
            .or_else(|| c.id_claims.get("sub"))
            .cloned()
            .unwrap_or(Value::Null);
        let realm = c.event.realm;
        let authority_type = if realm == "adfs" { "ADFS" } else { "MSSTS" };
        let mut account = object(json!({
            "home_account_id": c.home_value,
            "environment": c.environment,
            "realm": realm,
            "local_account_id": local_account_id,
            "username": username,
            "authority_type": authority_type,
        }));
        if let Some(grant) = c.event.grant_type.filter(|g| ACCOUNT_SOURCES.contains(g)) {
            account.insert("account_source".into(), grant.into());
        }
        let key = keys::account(c.home, &c.environment, realm);
        self.put(keys::ACCOUNT, key, account);
    }

    fn add_id_token(&mut self, c: &Common<'_>) {
        let Some(id_token) = text(c.event.response, "id_token") else {
            return;
        };
        let idt = object(json!({
            "credential_type": keys::ID_TOKEN,
            "secret": id_token,
            "home_account_id": c.home_value,
            "environment": c.environment,
            "realm": c.event.realm,
            "client_id": c.event.client_id,
        }));
        let key = keys::id_token(c.home, &c.environment, c.event.client_id, c.event.realm);
        self.put(keys::ID_TOKEN, key, idt);
    }

    fn add_refresh_token(&mut self, c: &Common<'_>) {
        let response = c.event.response;
        let Some(refresh_token) = text(response, "refresh_token") else {
            return;
        };
        let mut rt = object(json!({
            "credential_type": keys::REFRESH_TOKEN,
            "secret": refresh_token,
            "home_account_id": c.home_value,
            "environment": c.environment,
            "client_id": c.event.client_id,
            "target": c.target,
            "last_modification_time": c.event.now.to_string(),
        }));
        if let Some(foci) = response.get("foci") {
            rt.insert("family_id".into(), foci.clone());
        }
        if let Some(hash) = c.user_assertion_hash {
            rt.insert("user_assertion_hash".into(), hash.into());
        }
        let key = keys::refresh_token(c.home, &c.environment, c.event.client_id, &c.target);
        self.put(keys::REFRESH_TOKEN, key, rt);
    }

    fn add_app_metadata(&mut self, c: &Common<'_>) {
        let mut metadata = object(json!({
            "client_id": c.event.client_id,
            "environment": c.environment,
        }));
        if let Some(foci) = c.event.response.get("foci") {
            metadata.insert("family_id".into(), foci.clone());
        }
        let key = keys::app_metadata(&c.environment, c.event.client_id);
        self.put(keys::APP_METADATA, key, metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(response: &'a Map<String, Value>, scopes: &'a [&'a str]) -> TokenCacheEvent<'a> {
        TokenCacheEvent {
            client_id: "c",
            environment: "login.example",
            realm: "t",
            scopes,
            grant_type: None,
            response,
            username: None,
            skip_account_creation: false,
            now: 1_800_000_000,
        }
    }

    /// Hostile lifetimes: sums that overflow store no access token (they used to wrap, in
    /// release builds, into one that looked fresh) and never a wrapped `refresh_on`.
    #[test]
    fn overflowing_lifetimes_never_wrap() {
        let scopes = ["s"];
        for (field, value) in [
            ("expires_in", json!(i64::MAX)),
            ("expires_in", json!(i64::MIN)),
            ("expires_on", json!(i64::MIN)),
            ("expires_on", json!("-9223372036854775808")),
        ] {
            let response = object(json!({"access_token": "at", field: value}));
            let mut document = TokenCacheDocument::new();
            document.add(&event(&response, &scopes));
            let stored: Vec<_> = document.entries(keys::ACCESS_TOKEN).collect();
            for (_, entry) in &stored {
                let on = super::super::document::epoch(entry, "expires_on").unwrap();
                assert!(on < 1_800_000_000, "{field}={value}: {on}");
            }
            assert!(
                stored.is_empty() || field == "expires_in",
                "{field}={value}"
            );
        }
        let response = object(json!({
            "access_token": "at",
            "expires_in": 3600,
            "ext_expires_in": i64::MAX,
            "refresh_in": i64::MAX,
        }));
        let mut document = TokenCacheDocument::new();
        document.add(&event(&response, &scopes));
        let (_, entry) = document.entries(keys::ACCESS_TOKEN).next().unwrap();
        assert_eq!(entry["expires_on"], "1800003600");
        assert_eq!(entry["extended_expires_on"], "1800003600");
        assert!(entry.get("refresh_on").is_none());
    }
}
