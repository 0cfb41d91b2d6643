//! `grant_type=refresh_token`: a new access token for any resource the user consented to
//! (Entra's refresh tokens are multi-resource), and a new refresh token. The emulator rotates
//! refresh tokens strictly: the one redeemed is spent.

use super::TenantRef;
use super::delegated::{self, DelegatedScope, Delegation};
use super::error::EntraError;
use super::token::{GrantRequest, TokenResponse};
use crate::entra::client_auth::PublicAllowed;

pub(crate) fn grant(request: &GrantRequest<'_>) -> Result<TokenResponse, EntraError> {
    let config = &request.shared.config;
    let value = request.required("refresh_token")?;
    let client_id = request.client_id()?;
    let scope_text = request.required("scope")?;
    let grant = request
        .shared
        .entra
        .take_refresh_token(value, &client_id)
        .map_err(|other_client| {
            if other_client {
                EntraError::grant_for_other_client()
            } else {
                EntraError::invalid_refresh_token()
            }
        })?;
    if grant.expires_at < request.ctx.unix_now() {
        return Err(EntraError::code_expired());
    }
    let home = config.tenant(&grant.tenant).unwrap_or(&grant.tenant);
    let tenant = match request.tenant {
        TenantRef::Registered(t) => t,
        _ => home,
    };
    let app = request.app(tenant)?;
    // Another tenant may redeem it only for a multi-tenant app (the user as a guest there).
    if !tenant.eq_ignore_ascii_case(home) && !app.multi_tenant {
        return Err(EntraError::grant_for_other_tenant());
    }
    request.authenticate(app, PublicAllowed::Yes)?;
    let user = config
        .user(&grant.username)
        .ok_or_else(EntraError::invalid_refresh_token)?;
    let scope = DelegatedScope::parse(scope_text, tenant)?;
    delegated::issue(
        request.shared,
        &Delegation {
            app,
            user,
            tenant,
            scope: &scope,
            refresh_token: true,
            client_info: request.field("client_info") == Some("1"),
            claims: request.field("claims"),
            amr: "pwd",
        },
        request.ctx,
    )
}
