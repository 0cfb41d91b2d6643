//! `grant_type=password` (resource owner password credentials): a user's name and password,
//! for public clients (or confidential ones with their credential). No MFA is possible, so a
//! user who needs it gets AADSTS50076.

use super::TenantRef;
use super::delegated::{self, DelegatedScope, Delegation};
use super::error::EntraError;
use super::token::{GrantRequest, TokenResponse};
use crate::entra::client_auth::PublicAllowed;

pub(crate) fn grant(request: &GrantRequest<'_>) -> Result<TokenResponse, EntraError> {
    let config = request.config;
    let username = request.required("username")?;
    let password = request.required("password")?;
    let user = config.user(username);
    let tenant = match request.tenant {
        TenantRef::Registered(tenant) => tenant,
        TenantRef::Consumers => return Err(EntraError::grant_not_supported_on_common()),
        // Entra finds the tenant from the user's domain.
        TenantRef::Common | TenantRef::Organizations => match user {
            Some(user) => config
                .tenant(user.home_tenant())
                .unwrap_or(user.home_tenant()),
            None => return Err(EntraError::user_not_found("organizations")),
        },
    };
    let scope = DelegatedScope::parse(request.required("scope")?, tenant)?;
    let app = request.app(tenant)?;
    request.authenticate(app, PublicAllowed::Yes)?;
    let user = user
        .filter(|u| u.home_tenant().eq_ignore_ascii_case(tenant))
        .ok_or_else(|| EntraError::user_not_found(tenant))?;
    if user.password != password {
        return Err(EntraError::invalid_username_or_password());
    }
    if user.mfa_required {
        return Err(EntraError::mfa_required());
    }
    delegated::issue(
        request.shared,
        &Delegation {
            app,
            user,
            tenant,
            refresh_token: scope.oidc.iter().any(|s| s == "offline_access"),
            scope: &scope,
            client_info: request.field("client_info") == Some("1"),
            claims: request.field("claims"),
            amr: "pwd",
        },
        request.ctx,
    )
}
