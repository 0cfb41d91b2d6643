//! `grant_type=refresh_token`: a new access token for any resource the user consented to
//! (Entra's refresh tokens are multi-resource), and a new refresh token. The emulator rotates
//! refresh tokens strictly: the one redeemed is spent, but only by a request that passed every
//! check (as with Entra, a wrong client secret or scope does not cost the user the token).

use super::TenantRef;
use super::delegated::{self, DelegatedScope, Delegation};
use super::error::EntraError;
use super::grants::RefreshGrant;
use super::token::{GrantRequest, TokenResponse};
use crate::entra::client_auth::PublicAllowed;

pub(crate) fn grant(request: &GrantRequest<'_>) -> Result<TokenResponse, EntraError> {
    let config = request.config;
    let entra = &request.shared.entra;
    let value = request.required("refresh_token")?;
    let client_id = request.client_id()?;
    let scope_text = request.required("scope")?;
    let grant = entra
        .refresh_token(value, &client_id)
        .map_err(|other_client| {
            if other_client {
                EntraError::grant_for_other_client()
            } else {
                EntraError::invalid_refresh_token()
            }
        })?;
    alive(&grant, request.ctx.unix_now())?;
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
    // Revoking the user's sessions ends every refresh token issued before it.
    let revoked = entra
        .revoked_at(&delegated::user_object_id(user))
        .is_some_and(|revoked| grant.issued_at <= revoked);
    if revoked {
        entra.spend_refresh_token(value);
        return Err(EntraError::refresh_token_revoked());
    }
    let scope = DelegatedScope::parse(scope_text, tenant)?;
    if !entra.spend_refresh_token(value) {
        return Err(EntraError::invalid_refresh_token());
    }
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

/// An expired refresh token gets Entra's refresh-token error (AADSTS700082), not a code's.
fn alive(grant: &RefreshGrant, now: i64) -> Result<(), EntraError> {
    if grant.expires_at < now {
        return Err(EntraError::refresh_token_expired());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_is_a_refresh_token_error() {
        let grant = RefreshGrant {
            client_id: "c".into(),
            username: "u".into(),
            tenant: "t".into(),
            issued_at: 0,
            expires_at: 100,
        };
        assert!(alive(&grant, 100).is_ok());
        let error = alive(&grant, 101).unwrap_err();
        assert_eq!((error.error, error.code), ("invalid_grant", 700082));
    }
}
