//! `POST /{tenant}/oauth2/v2.0/token`: every grant the emulator serves, dispatched by
//! `grant_type`, with the checks every grant shares (tenant, client, its credential).

use std::borrow::Cow;

use http::HeaderMap;
use serde::Serialize;

use super::claims::AppTokenClaims;
use super::client_auth::{self, PublicAllowed};
use super::error::EntraError;
use super::scope::client_credentials_resource;
use super::{
    RequestContext, TenantRef, authorization_code, cae, on_behalf_of, password, refresh_token,
};
use crate::config::{Application, Config};
use crate::http::header_str;
use crate::state::Shared;

/// The on-behalf-of grant type.
const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Entra's success body; the field order is Entra's.
#[derive(Debug, Serialize)]
pub(crate) struct TokenResponse {
    token_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    expires_in: u64,
    ext_expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_in: Option<u64>,
    access_token: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_info: Option<String>,
    /// The family of Microsoft clients that share refresh tokens (FOCI), `"1"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foci: Option<&'static str>,
}

impl TokenResponse {
    pub fn bearer(
        access_token: String,
        lifetime: u64,
        refresh_in: Option<std::time::Duration>,
    ) -> Self {
        Self {
            token_type: "Bearer",
            scope: None,
            expires_in: lifetime,
            ext_expires_in: lifetime,
            refresh_in: refresh_in.map(|d| d.as_secs()),
            access_token,
            refresh_token: None,
            id_token: None,
            client_info: None,
            foci: None,
        }
    }

    pub fn access_token(&self) -> &str {
        &self.access_token
    }
}

/// One token request, as every grant sees it.
pub(crate) struct GrantRequest<'a> {
    pub shared: &'a Shared,
    /// The configuration this request is answered from (one snapshot for the whole request).
    pub config: &'a Config,
    pub tenant: TenantRef<'a>,
    pub headers: &'a HeaderMap,
    pub form: &'a [(String, String)],
    pub ctx: &'a RequestContext,
    /// The URLs this request was addressed as: what a client assertion's `aud` may be.
    pub audiences: Vec<String>,
}

impl<'a> GrantRequest<'a> {
    pub fn field(&self, name: &str) -> Option<&str> {
        field(self.form, name)
    }

    pub fn required(&self, name: &str) -> Result<&str, EntraError> {
        self.field(name)
            .ok_or_else(|| EntraError::missing_parameter(name))
    }

    pub fn client_id(&self) -> Result<Cow<'_, str>, EntraError> {
        client_auth::client_id(self.headers, self.form)
            .ok_or_else(|| EntraError::missing_parameter("client_id"))
    }

    /// The requesting app, when it may get tokens in `tenant`.
    pub fn app(&self, tenant: &str) -> Result<&'a Application, EntraError> {
        let client_id = self.client_id()?;
        self.config
            .app(&client_id)
            .filter(|app| app.multi_tenant || app.home_tenant().eq_ignore_ascii_case(tenant))
            .ok_or_else(|| EntraError::application_not_found(&client_id, tenant))
    }

    pub fn authenticate(&self, app: &Application, public: PublicAllowed) -> Result<(), EntraError> {
        client_auth::authenticate(
            self.shared,
            app,
            self.headers,
            self.form,
            &self.audiences,
            public,
            self.ctx,
        )
    }
}

/// The checks run in the order Entra reports them: where the request went, what it asks
/// for, then who is asking.
pub(crate) fn issue(
    shared: &Shared,
    tenant_segment: &str,
    headers: &HeaderMap,
    form: &[(String, String)],
    ctx: &RequestContext,
) -> Result<TokenResponse, EntraError> {
    let config = shared.config();
    let tenant = TenantRef::resolve(&config, tenant_segment)
        .ok_or_else(|| EntraError::tenant_not_found(tenant_segment, "invalid_request"))?;
    let host = header_str(headers, "host").unwrap_or("127.0.0.1");
    let audiences = [tenant_segment]
        .into_iter()
        .chain(match tenant {
            TenantRef::Registered(t) => Some(t),
            _ => None,
        })
        .flat_map(|t| {
            [
                format!("https://{host}/{t}/oauth2/v2.0/token"),
                format!("https://{host}/{t}/oauth2/token"),
            ]
        })
        .collect();
    let request = GrantRequest {
        shared,
        config: &config,
        tenant,
        headers,
        form,
        ctx,
        audiences,
    };
    match request.required("grant_type")? {
        "client_credentials" => client_credentials(&request),
        "password" => password::grant(&request),
        "authorization_code" => authorization_code::grant(&request),
        "refresh_token" => refresh_token::grant(&request),
        JWT_BEARER_GRANT => on_behalf_of::grant(&request),
        // msal-node sends the short name, which Entra accepts as well.
        super::device_code::GRANT_TYPE | super::device_code::SHORT_GRANT_TYPE => {
            super::device_code::grant(&request)
        }
        other => Err(EntraError::unsupported_grant_type(other)),
    }
}

fn client_credentials(request: &GrantRequest<'_>) -> Result<TokenResponse, EntraError> {
    let shared = request.shared;
    let timing = request.config.timing;
    let tenant = match request.tenant {
        TenantRef::Registered(tenant) => tenant,
        TenantRef::Common | TenantRef::Consumers => {
            return Err(EntraError::grant_not_supported_on_common());
        }
        TenantRef::Organizations => return Err(EntraError::no_tenant_information()),
    };
    request.client_id()?;
    let scope = request.field("scope").unwrap_or_default();
    let resource = client_credentials_resource(scope, tenant)?;
    let app = request.app(tenant)?;
    request.authenticate(app, PublicAllowed::No)?;

    let cae = cae::wants_cae(request.field("claims"));
    let lifetime = if cae {
        timing.cae_token_lifetime
    } else {
        timing.token_lifetime
    }
    .as_secs();
    let principal = super::claims::service_principal_id(app.client_id(), tenant);
    let issued = cae::issue_time(shared, &principal, request.ctx.unix_now());
    let claims = AppTokenClaims::new(
        app,
        tenant,
        &resource,
        issued,
        i64::try_from(lifetime).unwrap_or(i64::MAX),
    )
    .with_cae(cae);
    let access_token = shared
        .signer
        .sign(&claims)
        .map_err(|e| EntraError::internal(&e))?;
    Ok(TokenResponse::bearer(
        access_token,
        lifetime,
        timing.refresh_in,
    ))
}

/// A non-empty form field; Entra treats `name=` like a missing parameter.
pub(crate) fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}
