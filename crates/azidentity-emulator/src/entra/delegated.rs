//! Tokens issued for a user (password, authorization code, refresh token, on-behalf-of): the
//! delegated access token, and on request an ID token, `client_info` and a refresh token.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::claims::random_bytes;
use super::error::EntraError;
use super::grants::RefreshGrant;
use super::scope::looks_like_resource;
use super::token::TokenResponse;
use super::{BACKDATE_SECS, RequestContext, cae};
use crate::config::{Application, User};
use crate::state::Shared;

/// OpenID Connect scopes: they shape the answer, not the access token.
const OIDC_SCOPES: &[&str] = &["openid", "profile", "offline_access", "email"];
const GRAPH: &str = "https://graph.microsoft.com";
/// Microsoft's first-party clients in the family that shares refresh tokens (FOCI): Azure
/// CLI (the developer sign-on app), Azure PowerShell, Visual Studio. Entra marks their
/// refresh tokens with `foci: "1"`, which is how the shared token cache finds accounts.
const FAMILY_CLIENTS: &[&str] = &[
    "04b07795-8ddb-461a-bbee-02f9e1bf7b46",
    "1950a258-227b-4e31-a9cf-717495945fc2",
    "04f0c124-f2bc-4f59-8241-bf6df9866bbd",
];

/// The resource and permissions a delegated `scope` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DelegatedScope {
    pub resource: String,
    /// The `scp` claim: permission names, space-separated.
    pub scp: String,
    /// OIDC scopes that were asked for, lower-case.
    pub oidc: Vec<String>,
    /// The request named `{resource}/.default` (Entra echoes it back, and MSAL caches the
    /// token under the echoed scopes).
    pub default_requested: Option<String>,
}

impl DelegatedScope {
    pub fn parse(scope: &str, tenant: &str) -> Result<Self, EntraError> {
        let mut resource: Option<String> = None;
        let mut permissions = Vec::new();
        let mut oidc = Vec::new();
        let mut default_requested = None;
        for item in scope.split_whitespace() {
            let lower = item.to_ascii_lowercase();
            if OIDC_SCOPES.contains(&lower.as_str()) {
                oidc.push(lower);
                continue;
            }
            let (this_resource, permission) = match item.rsplit_once('/') {
                Some((r, p)) if !r.is_empty() => (r.to_owned(), p),
                // A bare permission ("User.Read") is Microsoft Graph's.
                _ => (GRAPH.to_owned(), item),
            };
            if permission == ".default" {
                default_requested = Some(item.to_owned());
            }
            let permission = if permission == ".default" || permission.is_empty() {
                "user_impersonation"
            } else {
                permission
            };
            match &resource {
                Some(r) if !r.eq_ignore_ascii_case(&this_resource) => {
                    return Err(EntraError::multiple_resources(scope));
                }
                _ => resource = Some(this_resource),
            }
            permissions.push(permission.to_owned());
        }
        let resource = match resource {
            Some(r) => r,
            // Only OIDC scopes: Entra answers with a Graph token for the user's profile.
            None => {
                permissions.push("User.Read".to_owned());
                GRAPH.to_owned()
            }
        };
        if !looks_like_resource(&resource) {
            return Err(EntraError::resource_not_found(&resource, tenant));
        }
        permissions.dedup();
        Ok(Self {
            resource,
            scp: permissions.join(" "),
            oidc,
            default_requested,
        })
    }

    /// The `scope` value of the answer: the granted permissions (resource-qualified unless
    /// they are Graph's, as Entra writes them), the requested `.default` scope, then the OIDC
    /// scopes.
    fn granted(&self) -> String {
        let mut granted: Vec<String> = self
            .scp
            .split(' ')
            .map(|p| {
                if self.resource.eq_ignore_ascii_case(GRAPH) {
                    p.to_owned()
                } else {
                    format!("{}/{p}", self.resource)
                }
            })
            .collect();
        granted.extend(self.default_requested.iter().cloned());
        granted.extend(self.oidc.iter().cloned());
        granted.join(" ")
    }
}

/// A stable object id for a user, derived from the user name and tenant.
pub(crate) fn user_object_id(user: &User) -> String {
    let digest = Sha256::digest(format!(
        "user:{}:{}",
        user.username.to_ascii_lowercase(),
        user.home_tenant().to_ascii_lowercase()
    ));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// What one delegated issuance needs.
pub(crate) struct Delegation<'a> {
    pub app: &'a Application,
    pub user: &'a User,
    pub tenant: &'a str,
    pub scope: &'a DelegatedScope,
    /// Issue a refresh token (`offline_access`, or a grant that always gets one).
    pub refresh_token: bool,
    /// `client_info=1` was sent.
    pub client_info: bool,
    pub claims: Option<&'a str>,
    /// How the user authenticated (`amr`): `pwd`, or what the original token said.
    pub amr: &'a str,
}

/// What the user is granted on the resource: an app that exposes scopes grants only those
/// (every one of them for `.default`); any other resource grants what was asked.
fn granted(
    resource_app: Option<&Application>,
    client: &Application,
    scope: &DelegatedScope,
) -> Result<DelegatedScope, EntraError> {
    let Some(api) = resource_app.filter(|a| !a.scopes.is_empty()) else {
        return Ok(scope.clone());
    };
    let scp = if scope.default_requested.is_some() {
        api.scopes.join(" ")
    } else {
        for permission in scope.scp.split(' ') {
            if !api
                .scopes
                .iter()
                .any(|s| s.eq_ignore_ascii_case(permission))
            {
                return Err(EntraError::scope_not_exposed(
                    client.client_id(),
                    permission,
                    api.client_id(),
                ));
            }
        }
        scope.scp.clone()
    };
    Ok(DelegatedScope {
        scp,
        ..scope.clone()
    })
}

/// The user's groups, roles (those the resource app defines, or all of them for a resource
/// that is not a registered app) and extra claims, added to a token's claims.
fn add_user_claims(claims: &mut Value, user: &User, resource_app: Option<&Application>) {
    let Value::Object(map) = claims else {
        return;
    };
    if !user.groups.is_empty() {
        map.insert("groups".into(), json!(user.groups));
    }
    let roles: Vec<&String> = user
        .roles
        .iter()
        .filter(|role| resource_app.is_none_or(|app| app.app_roles.contains(role)))
        .collect();
    if !roles.is_empty() {
        map.insert("roles".into(), json!(roles));
    }
    for (name, value) in &user.claims {
        map.entry(name.clone()).or_insert_with(|| value.clone());
    }
}

pub(crate) fn issue(
    shared: &Shared,
    d: &Delegation<'_>,
    ctx: &RequestContext,
) -> Result<TokenResponse, EntraError> {
    let config = shared.config();
    let timing = config.timing;
    let resource_app = config.app_for_resource(&d.scope.resource);
    let scope = granted(resource_app, d.app, d.scope)?;
    let oid = user_object_id(d.user);
    let cae = cae::wants_cae(d.claims);
    let lifetime = if cae {
        timing.cae_token_lifetime
    } else {
        timing.token_lifetime
    }
    .as_secs();
    let issued = cae::issue_time(shared, &oid, ctx.unix_now());
    let exp = issued.saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX / 2));
    let name = d
        .user
        .display_name
        .clone()
        .unwrap_or_else(|| d.user.username.clone());
    // Entra's `sub` is pairwise: stable per user and app.
    let sub = URL_SAFE_NO_PAD
        .encode(&Sha256::digest(format!("{oid}:{}", d.app.client_id().to_ascii_lowercase()))[..24]);
    let mut access = json!({
        "aud": scope.resource,
        "iss": format!("https://sts.windows.net/{}/", d.tenant),
        "iat": issued - BACKDATE_SECS,
        "nbf": issued - BACKDATE_SECS,
        "exp": exp,
        "acr": "1",
        "aio": STANDARD.encode(random_bytes::<33>()),
        "amr": [d.amr],
        "appid": d.app.client_id(),
        "appidacr": if d.app.public_client { "0" } else { "1" },
        "idtyp": "user",
        "name": name,
        "oid": oid,
        "rh": format!("0.{}.", URL_SAFE_NO_PAD.encode(random_bytes::<32>())),
        "scp": scope.scp,
        "sub": sub,
        "tid": d.tenant,
        "unique_name": d.user.username,
        "upn": d.user.username,
        "uti": URL_SAFE_NO_PAD.encode(random_bytes::<16>()),
        "ver": "1.0",
    });
    if cae && let Value::Object(map) = &mut access {
        map.insert("xms_cc".into(), json!(["CP1"]));
    }
    add_user_claims(&mut access, d.user, resource_app);
    let access_token = shared
        .signer
        .sign(&access)
        .map_err(|e| EntraError::internal(&e))?;
    let mut response = TokenResponse::bearer(access_token, lifetime, timing.refresh_in);
    response.scope = Some(scope.granted());
    if scope.oidc.iter().any(|s| s == "openid") {
        let mut id = json!({
            "aud": d.app.client_id(),
            "iss": format!("{}/{}/v2.0", shared.authority_host, d.tenant),
            "iat": issued - BACKDATE_SECS,
            "nbf": issued - BACKDATE_SECS,
            "exp": issued + 3600,
            "name": name,
            "oid": oid,
            "preferred_username": d.user.username,
            "sub": sub,
            "tid": d.tenant,
            "ver": "2.0",
        });
        add_user_claims(&mut id, d.user, Some(d.app));
        response.id_token = Some(
            shared
                .signer
                .sign(&id)
                .map_err(|e| EntraError::internal(&e))?,
        );
    }
    if d.client_info {
        // The user's home tenant, whichever tenant issued the token: the account stays one.
        let info = json!({"uid": oid, "utid": d.user.home_tenant()}).to_string();
        response.client_info = Some(URL_SAFE_NO_PAD.encode(info));
    }
    if d.refresh_token {
        let grant = RefreshGrant {
            client_id: d.app.client_id().to_owned(),
            username: d.user.username.clone(),
            tenant: d.tenant.to_owned(),
            issued_at: 0,
            expires_at: 0,
        };
        response.refresh_token = Some(shared.entra.add_refresh_token(grant, issued));
        if FAMILY_CLIENTS
            .iter()
            .any(|c| c.eq_ignore_ascii_case(d.app.client_id()))
        {
            response.foci = Some("1");
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_name_one_resource() {
        let s = DelegatedScope::parse(
            "https://vault.azure.net/.default offline_access openid",
            "t",
        )
        .unwrap();
        assert_eq!(s.resource, "https://vault.azure.net");
        assert_eq!(s.scp, "user_impersonation");
        assert_eq!(
            s.granted(),
            "https://vault.azure.net/user_impersonation https://vault.azure.net/.default offline_access openid"
        );
        let s = DelegatedScope::parse("User.Read Mail.Read", "t").unwrap();
        assert_eq!(
            (s.resource.as_str(), s.scp.as_str()),
            (GRAPH, "User.Read Mail.Read")
        );
        let s = DelegatedScope::parse("api://abc/access_as_user", "t").unwrap();
        assert_eq!(s.resource, "api://abc");
        let s = DelegatedScope::parse("openid profile", "t").unwrap();
        assert_eq!(s.resource, GRAPH);
        let e = DelegatedScope::parse("https://a/x https://b/y", "t").unwrap_err();
        assert_eq!(e.code, 28000);
        assert_eq!(
            DelegatedScope::parse("nonsense/x", "t").unwrap_err().code,
            500011
        );
    }
}
