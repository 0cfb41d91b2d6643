//! What tests and other processes use to drive the user flows without a browser: minting
//! authorization codes and user tokens, revoking a subject's tokens, and a resource that checks
//! tokens as a CAE-enabled API does.

use serde::Deserialize;

use super::RequestContext;
use super::cae::{self, ResourceAnswer};
use super::delegated::{self, DelegatedScope, Delegation};
use super::grants::{AuthorizationCode, CODE_LIFETIME_SECS};
use crate::emulator::RunningEmulator;
use crate::error::{Error, Result};
use crate::state::Shared;

/// An authorization request the emulated user has approved: what `/authorize` would have
/// been asked, and who signed in.
#[derive(Debug, Clone, Deserialize)]
#[non_exhaustive]
pub struct AuthorizationCodeRequest {
    /// The app that will redeem the code.
    pub client_id: String,
    /// The user who signed in.
    pub username: String,
    /// Must be one of the app's redirect URIs; the redemption must use the same.
    pub redirect_uri: String,
    /// Space-separated scopes, e.g. `https://graph.microsoft.com/User.Read offline_access`.
    pub scope: String,
    /// The PKCE challenge (S256 unless `code_challenge_method` says `plain`).
    #[serde(default)]
    pub code_challenge: Option<String>,
    /// `S256` (default) or `plain`.
    #[serde(default)]
    pub code_challenge_method: Option<String>,
}

impl AuthorizationCodeRequest {
    /// A request without PKCE.
    pub fn new(client_id: &str, username: &str, redirect_uri: &str, scope: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            username: username.to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scope.to_owned(),
            code_challenge: None,
            code_challenge_method: None,
        }
    }

    /// Adds a PKCE S256 challenge.
    pub fn code_challenge(mut self, challenge: &str) -> Self {
        self.code_challenge = Some(challenge.to_owned());
        self.code_challenge_method = Some("S256".to_owned());
        self
    }
}

pub(crate) fn mint_code(shared: &Shared, request: &AuthorizationCodeRequest) -> Result<String> {
    let config = shared.config();
    let user = config
        .user(&request.username)
        .ok_or_else(|| Error::not_found(format!("no user {:?} is registered", request.username)))?;
    let tenant = user.home_tenant();
    let app = config
        .app(&request.client_id)
        .filter(|a| a.multi_tenant || a.home_tenant().eq_ignore_ascii_case(tenant))
        .ok_or_else(|| {
            Error::not_found(format!(
                "AADSTS700016: no app {:?} is registered in the user's tenant",
                request.client_id
            ))
        })?;
    if !app.redirect_uris.contains(&request.redirect_uri) {
        return Err(Error::refused(format!(
            "AADSTS50011: the redirect URI {:?} is not registered for app {}",
            request.redirect_uri,
            app.client_id()
        )));
    }
    DelegatedScope::parse(&request.scope, tenant).map_err(refused)?;
    let method = request
        .code_challenge_method
        .clone()
        .unwrap_or_else(|| "S256".to_owned());
    if !method.eq_ignore_ascii_case("S256") && !method.eq_ignore_ascii_case("plain") {
        return Err(Error::refused(format!(
            "unsupported code_challenge_method {method:?}"
        )));
    }
    let now = shared.now();
    Ok(shared.entra.add_code(AuthorizationCode {
        client_id: app.client_id().to_owned(),
        username: user.username.clone(),
        tenant: tenant.to_owned(),
        redirect_uri: request.redirect_uri.clone(),
        scope: request.scope.clone(),
        challenge: request.code_challenge.clone().map(|c| (c, method)),
        nonce: None,
        expires_at: now + CODE_LIFETIME_SECS,
    }))
}

pub(crate) fn mint_user_token(
    shared: &Shared,
    client_id: &str,
    username: &str,
    scope: &str,
) -> Result<String> {
    let config = shared.config();
    let user = config
        .user(username)
        .ok_or_else(|| Error::not_found(format!("no user {username:?} is registered")))?;
    let tenant = user.home_tenant();
    let app = config
        .app(client_id)
        .ok_or_else(|| Error::not_found(format!("no app {client_id:?} is registered")))?;
    let scope = DelegatedScope::parse(scope, tenant).map_err(refused)?;
    let ctx = RequestContext::new(&http::HeaderMap::new(), shared.now());
    let response = delegated::issue(
        shared,
        &Delegation {
            app,
            user,
            tenant,
            scope: &scope,
            refresh_token: false,
            client_info: false,
            claims: None,
            amr: "pwd",
        },
        &ctx,
    )
    .map_err(refused)?;
    Ok(response.access_token().to_owned())
}

/// What Entra would have answered, as the control API's error.
fn refused(error: super::error::EntraError) -> Error {
    Error::refused(format!("AADSTS{}: {}", error.code, error.message))
}

pub(crate) fn revoke(shared: &Shared, subject: &str) -> Vec<String> {
    let now = shared.now();
    let subjects = cae::subjects(shared, subject);
    for oid in &subjects {
        shared.entra.revoke(oid, now);
    }
    subjects
}

impl RunningEmulator {
    /// An authorization code for `request`, as `/authorize` would redirect with after the user
    /// signed in and consented. Single use, valid ten minutes.
    pub fn authorization_code(&self, request: &AuthorizationCodeRequest) -> Result<String> {
        mint_code(self.shared(), request)
    }

    /// An access token for `username` signed in to `client_id`, for `scope` (for example
    /// `api://{middle-tier client id}/access_as_user`, to use as an on-behalf-of assertion).
    pub fn user_token(&self, client_id: &str, username: &str, scope: &str) -> Result<String> {
        mint_user_token(self.shared(), client_id, username, scope)
    }

    /// Revokes every token issued so far to a subject (a user name, an app's client id, or an
    /// object id), as a password reset or an admin's "revoke sessions" does. CAE-capable
    /// tokens are then refused by [`RunningEmulator::call_resource`] with a claims challenge.
    pub fn revoke_tokens(&self, subject: &str) {
        revoke(self.shared(), subject);
    }

    /// What a CAE-enabled resource answers for this access token.
    pub fn call_resource(&self, access_token: &str) -> ResourceAnswer {
        cae::check(self.shared(), access_token, self.shared().now())
    }

    /// The `oid` claim of an emulator-issued token.
    pub fn token_subject(&self, access_token: &str) -> Option<String> {
        cae::subject_of(access_token)
    }
}
