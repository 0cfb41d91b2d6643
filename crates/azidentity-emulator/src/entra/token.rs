//! `POST /{tenant}/oauth2/v2.0/token`: the client credentials grant with a client secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use serde::Serialize;

use super::claims::AppTokenClaims;
use super::error::EntraError;
use super::scope::client_credentials_resource;
use super::{RequestContext, TenantRef};
use crate::http::{header_str, parse_pairs};
use crate::state::Shared;

/// Entra's success body; the field order is Entra's.
#[derive(Debug, Serialize)]
pub(crate) struct TokenResponse {
    token_type: &'static str,
    expires_in: u64,
    ext_expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_in: Option<u64>,
    access_token: String,
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
    let config = &shared.config;
    let tenant = TenantRef::resolve(config, tenant_segment)
        .ok_or_else(|| EntraError::tenant_not_found(tenant_segment, "invalid_request"))?;

    let grant_type =
        field(form, "grant_type").ok_or_else(|| EntraError::missing_parameter("grant_type"))?;
    if grant_type != "client_credentials" {
        return Err(EntraError::unsupported_grant_type(grant_type));
    }
    let tenant = match tenant {
        TenantRef::Registered(tenant) => tenant,
        TenantRef::Common | TenantRef::Consumers => {
            return Err(EntraError::grant_not_supported_on_common());
        }
        TenantRef::Organizations => return Err(EntraError::no_tenant_information()),
    };

    let basic = basic_credentials(headers);
    let client_id = field(form, "client_id")
        .or(basic.as_ref().map(|(id, _)| id.as_str()))
        .ok_or_else(|| EntraError::missing_parameter("client_id"))?;

    let scope = field(form, "scope").unwrap_or_default();
    let resource = client_credentials_resource(scope, tenant)?;

    let app = config
        .app(client_id)
        .filter(|app| app.multi_tenant || app.home_tenant().eq_ignore_ascii_case(tenant))
        .ok_or_else(|| EntraError::application_not_found(client_id, tenant))?;

    // Basic credentials only count when they name the same client as the form.
    let basic_secret = basic
        .as_ref()
        .filter(|(id, _)| id.eq_ignore_ascii_case(client_id))
        .map(|(_, secret)| secret.as_str());
    let secret = field(form, "client_secret").or(basic_secret.filter(|s| !s.is_empty()));
    match secret {
        Some(secret) => {
            if !app.secrets.iter().any(|s| s == secret) {
                return Err(EntraError::invalid_client_secret(app.client_id()));
            }
        }
        // A federated credential's assertion (workload identity, Azure Pipelines); others
        // get the unknown-certificate answer from this check.
        None if field(form, "client_assertion").is_some() => {
            crate::mi::federated::check_assertion(shared, app.client_id(), form)?;
        }
        None => return Err(EntraError::missing_client_credential()),
    }

    let lifetime = config.token_lifetime.as_secs();
    let claims = AppTokenClaims::new(
        app,
        tenant,
        &resource,
        ctx.unix_now(),
        i64::try_from(lifetime).unwrap_or(i64::MAX),
    );
    let access_token = shared
        .signer
        .sign(&claims)
        .map_err(|e| EntraError::internal(&e))?;
    Ok(TokenResponse {
        token_type: "Bearer",
        expires_in: lifetime,
        ext_expires_in: lifetime,
        refresh_in: config.refresh_in.map(|d| d.as_secs()),
        access_token,
    })
}

/// A non-empty form field; Entra treats `name=` like a missing parameter.
fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.trim().is_empty())
}

/// RFC 6749 section 2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = header_str(headers, AUTHORIZATION.as_str())?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(encoded.trim()).ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let decode = |s: &str| {
        parse_pairs(format!("v={s}").as_bytes())
            .pop()
            .map(|(_, v)| v)
            .unwrap_or_default()
    };
    let id = decode(id);
    if id.is_empty() {
        return None;
    }
    Some((id, decode(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn basic_credentials_are_url_decoded() {
        let mut headers = HeaderMap::new();
        let encoded = STANDARD.encode("my%20id:p%3Ass+word");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).expect("header"),
        );
        assert_eq!(
            basic_credentials(&headers),
            Some(("my id".to_owned(), "p:ss word".to_owned()))
        );
    }

    #[test]
    fn garbage_authorization_is_ignored() {
        for value in ["Basic", "Basic !!!", "Bearer abc", "Basic Og=="] {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(basic_credentials(&headers), None, "{value}");
        }
    }
}
