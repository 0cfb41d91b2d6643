//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` with
//! `requested_token_use=on_behalf_of`: a confidential app exchanges a user's access token that
//! was issued to it (its audience is the app) for a token to another resource, as that user.

use serde_json::Value;

use super::delegated::{self, DelegatedScope, Delegation};
use super::error::EntraError;
use super::token::{GrantRequest, TokenResponse};
use super::{BACKDATE_SECS, TenantRef};
use crate::entra::client_auth::PublicAllowed;

pub(crate) fn grant(request: &GrantRequest<'_>) -> Result<TokenResponse, EntraError> {
    let shared = request.shared;
    if request.required("requested_token_use")? != "on_behalf_of" {
        return Err(EntraError::missing_parameter("requested_token_use"));
    }
    let assertion = request.required("assertion")?;
    let tenant = match request.tenant {
        TenantRef::Registered(tenant) => tenant,
        TenantRef::Common | TenantRef::Consumers => {
            return Err(EntraError::grant_not_supported_on_common());
        }
        TenantRef::Organizations => return Err(EntraError::no_tenant_information()),
    };
    let scope = DelegatedScope::parse(request.required("scope")?, tenant)?;
    let app = request.app(tenant)?;
    request.authenticate(app, PublicAllowed::No)?;

    let now = request.ctx.unix_now();
    let claims = shared.signer.verify(assertion, now).map_err(|why| {
        if why.contains("expired") {
            EntraError::obo_assertion_expired()
        } else {
            EntraError::obo_assertion_invalid(
                "The assertion was not issued by this service or its signature is invalid.",
            )
        }
    })?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("");
    if text("idtyp") != "user" {
        return Err(EntraError::obo_assertion_invalid(
            "The assertion is not a user's access token.",
        ));
    }
    // The assertion must be for this app: its client id, `api://{client id}` or one of its
    // identifier URIs.
    let audience = text("aud").trim_end_matches('/');
    if !app.is_resource(audience) {
        return Err(EntraError::obo_audience(audience, app.client_id()));
    }
    if !text("tid").eq_ignore_ascii_case(tenant) && !app.multi_tenant {
        return Err(EntraError::obo_assertion_invalid(
            "The assertion was issued in another tenant.",
        ));
    }
    let user = request.config.user(text("upn")).ok_or_else(|| {
        EntraError::obo_assertion_invalid("The user of the assertion is unknown.")
    })?;
    let issued = claims.get("iat").and_then(Value::as_i64).unwrap_or(0) + BACKDATE_SECS;
    if shared
        .entra
        .revoked_at(text("oid"))
        .is_some_and(|revoked| issued <= revoked)
    {
        return Err(EntraError::obo_assertion_invalid(
            "The assertion has been revoked.",
        ));
    }
    let amr = claims
        .get("amr")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("pwd");
    delegated::issue(
        shared,
        &Delegation {
            app,
            user,
            tenant,
            scope: &scope,
            // Middle tiers cache the refresh token to avoid re-exchanging the assertion.
            refresh_token: true,
            client_info: request.field("client_info") == Some("1"),
            claims: request.field("claims"),
            amr,
        },
        request.ctx,
    )
}
