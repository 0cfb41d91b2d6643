//! `grant_type=authorization_code`: redeeming a code once, at the redirect URI it was issued
//! for, with the PKCE verifier when the authorization request had a challenge.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use super::TenantRef;
use super::delegated::{self, DelegatedScope, Delegation};
use super::error::EntraError;
use super::token::{GrantRequest, TokenResponse};
use crate::entra::client_auth::PublicAllowed;

pub(crate) fn grant(request: &GrantRequest<'_>) -> Result<TokenResponse, EntraError> {
    let config = request.config;
    let value = request.required("code")?;
    let client_id = request.client_id()?;
    // Single use whatever happens next, as in Entra.
    let code = request
        .shared
        .entra
        .take_code(value)
        .ok_or_else(EntraError::code_redeemed_or_unknown)?;
    if code.expires_at < request.ctx.unix_now() {
        return Err(EntraError::code_expired());
    }
    if !code.client_id.eq_ignore_ascii_case(&client_id) {
        return Err(EntraError::grant_for_other_client());
    }
    if let TenantRef::Registered(tenant) = request.tenant
        && !tenant.eq_ignore_ascii_case(&code.tenant)
    {
        return Err(EntraError::grant_for_other_tenant());
    }
    let tenant = config.tenant(&code.tenant).unwrap_or(&code.tenant);
    let app = request.app(tenant)?;
    request.authenticate(app, PublicAllowed::Yes)?;
    let redirect_uri = request.required("redirect_uri")?;
    if redirect_uri != code.redirect_uri {
        return Err(EntraError::redirect_uri_mismatch(
            redirect_uri,
            app.client_id(),
        ));
    }
    if let Some((challenge, method)) = &code.challenge {
        let verifier = request
            .field("code_verifier")
            .ok_or_else(EntraError::pkce_mismatch)?;
        let computed = if method.eq_ignore_ascii_case("S256") {
            URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
        } else {
            verifier.to_owned()
        };
        if computed != *challenge {
            return Err(EntraError::pkce_mismatch());
        }
    }
    let requested = request.field("scope").unwrap_or(&code.scope);
    let scope = DelegatedScope::parse(requested, tenant)?;
    let user = config
        .user(&code.username)
        .ok_or_else(|| EntraError::user_not_found(tenant))?;
    let offline = |s: &str| {
        s.split_whitespace()
            .any(|x| x.eq_ignore_ascii_case("offline_access"))
    };
    let mut response = delegated::issue(
        request.shared,
        &Delegation {
            app,
            user,
            tenant,
            scope: &scope,
            refresh_token: offline(&code.scope) || offline(requested),
            client_info: request.field("client_info") == Some("1"),
            claims: request.field("claims"),
            amr: "pwd",
        },
        request.ctx,
    )?;
    if let (Some(nonce), Some(id_token)) = (&code.nonce, &response.id_token) {
        response.id_token = super::authorize::with_nonce(request.shared, id_token, nonce);
    }
    Ok(response)
}
