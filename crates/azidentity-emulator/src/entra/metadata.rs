//! OpenID Connect metadata: `/{tenant}/v2.0/.well-known/openid-configuration` and the v1.0
//! document at `/{tenant}/.well-known/openid-configuration`.

use serde_json::{Value, json};

use super::error::EntraError;
use super::{CONSUMERS_TENANT_ID, TenantRef};
use crate::state::Shared;

const CLAIMS_SUPPORTED: &[&str] = &[
    "sub",
    "iss",
    "cloud_instance_name",
    "cloud_instance_host_name",
    "cloud_graph_host_name",
    "msgraph_host",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "nonce",
    "preferred_username",
    "name",
    "tid",
    "ver",
    "at_hash",
    "c_hash",
    "email",
];

/// The v2.0 document. Multi-tenant segments keep their name in the endpoints and, as in
/// Entra, get the literal `{tenantid}` placeholder in the issuer.
pub(crate) fn openid_configuration_v2(
    shared: &Shared,
    tenant_segment: &str,
) -> Result<Value, EntraError> {
    let host = &shared.authority_host;
    let (path_tenant, issuer_tenant, region) = names(shared, tenant_segment)?;
    let base = format!("{host}/{path_tenant}");
    Ok(json!({
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{host}/{issuer_tenant}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": format!("{host}/oidc/userinfo"),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "claims_supported": CLAIMS_SUPPORTED,
        "kerberos_endpoint": format!("{base}/kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

/// The v1.0 document, whose issuer is the `sts.windows.net` form found in v1.0 tokens.
pub(crate) fn openid_configuration_v1(
    shared: &Shared,
    tenant_segment: &str,
) -> Result<Value, EntraError> {
    let host = &shared.authority_host;
    let (path_tenant, issuer_tenant, region) = names(shared, tenant_segment)?;
    let base = format!("{host}/{path_tenant}");
    Ok(json!({
        "token_endpoint": format!("{base}/oauth2/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/discovery/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "issuer": format!("https://sts.windows.net/{issuer_tenant}/"),
        "microsoft_multi_refresh_token": true,
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "device_authorization_endpoint": format!("{base}/oauth2/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{base}/oauth2/logout"),
        "claims_supported": CLAIMS_SUPPORTED,
        "check_session_iframe": format!("{base}/oauth2/checksession"),
        "userinfo_endpoint": format!("{base}/openid/userinfo"),
        "kerberos_endpoint": format!("{base}/kerberos"),
        "tenant_region_scope": region,
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }))
}

/// (tenant in endpoint paths, tenant in the issuer, tenant_region_scope).
fn names(shared: &Shared, segment: &str) -> Result<(String, String, Value), EntraError> {
    let config = shared.config();
    let tenant = TenantRef::resolve(&config, segment)
        .ok_or_else(|| EntraError::tenant_not_found(segment, "invalid_tenant"))?;
    Ok(match tenant {
        TenantRef::Registered(id) => (id.to_owned(), id.to_owned(), json!("NA")),
        TenantRef::Common => ("common".into(), "{tenantid}".into(), Value::Null),
        TenantRef::Organizations => ("organizations".into(), "{tenantid}".into(), Value::Null),
        TenantRef::Consumers => (
            CONSUMERS_TENANT_ID.into(),
            CONSUMERS_TENANT_ID.into(),
            Value::Null,
        ),
    })
}
