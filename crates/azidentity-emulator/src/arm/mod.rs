//! The two Azure Resource Manager calls `az login` makes after getting a token: list the
//! tenants and the subscriptions the caller can see. Bearer-checked like ARM: the token must be
//! one this emulator signed and not expired. Each tenant has one subscription, with an id
//! derived from the tenant id so it is stable across runs.

use http::{HeaderMap, Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::http::{Response, json as json_response, set_header};
use crate::state::Shared;

/// The ARM paths the emulator answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArmRoute {
    Subscriptions,
    Tenants,
}

pub(crate) fn route(segments: &[&str]) -> Option<ArmRoute> {
    match segments {
        ["subscriptions"] => Some(ArmRoute::Subscriptions),
        ["tenants"] => Some(ArmRoute::Tenants),
        _ => None,
    }
}

pub(crate) fn handle(
    shared: &Shared,
    route: ArmRoute,
    method: &Method,
    headers: &HeaderMap,
    query: &[(String, String)],
) -> Response {
    if method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            "Only GET is supported.",
        );
    }
    if !query
        .iter()
        .any(|(k, v)| k == "api-version" && !v.is_empty())
    {
        return error(
            StatusCode::BAD_REQUEST,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        );
    }
    let tenant = match caller_tenant(shared, headers) {
        Ok(tenant) => tenant,
        Err((code, message)) => {
            let mut answer = error(StatusCode::UNAUTHORIZED, code, message);
            set_header(
                &mut answer,
                "www-authenticate",
                &format!(
                    "Bearer authorization_uri=\"{}/{}\", error=\"invalid_token\", \
                     error_description=\"{message}\"",
                    shared.authority_host,
                    crate::DEFAULT_TENANT_ID
                ),
            );
            return answer;
        }
    };
    let body = match route {
        ArmRoute::Subscriptions => json!({
            "value": [subscription(&tenant)],
            "count": {"type": "Total", "value": 1},
        }),
        ArmRoute::Tenants => json!({
            "value": [{
                "id": format!("/tenants/{tenant}"),
                "tenantId": tenant,
                "countryCode": "US",
                "displayName": "Emulator Tenant",
                "domains": ["emulator.example"],
                "tenantCategory": "Home",
                "defaultDomain": "emulator.example",
                "tenantType": "AAD",
            }],
        }),
    };
    json_response(StatusCode::OK, &body)
}

/// The subscription of `tenant`: its id is a UUID made from a hash of the tenant id.
pub(crate) fn subscription_id(tenant: &str) -> String {
    let hash = Sha256::digest(format!("azidentity-emulator-subscription:{tenant}"));
    let h: Vec<String> = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    let hex = h.concat();
    format!(
        "{}-{}-4{}-8{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

fn subscription(tenant: &str) -> Value {
    let id = subscription_id(tenant);
    json!({
        "id": format!("/subscriptions/{id}"),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": id,
        "tenantId": tenant,
        "displayName": "Emulator Subscription",
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off",
        },
    })
}

fn caller_tenant(
    shared: &Shared,
    headers: &HeaderMap,
) -> Result<String, (&'static str, &'static str)> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err((
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or((
            "AuthenticationFailedInvalidHeader",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        ))?;
    let now = shared.now();
    let claims = shared
        .signer
        .verify(token.trim(), now)
        .map_err(|_| ("InvalidAuthenticationToken", "The access token is invalid."))?;
    claims
        .get("tid")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or((
            "InvalidAuthenticationToken",
            "The access token has no tenant.",
        ))
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"error": {"code": code, "message": message}}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscription_ids_are_stable_uuids() {
        let a = subscription_id(crate::DEFAULT_TENANT_ID);
        assert_eq!(a, subscription_id(crate::DEFAULT_TENANT_ID));
        assert_ne!(a, subscription_id("other"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert_eq!(route(&["subscriptions"]), Some(ArmRoute::Subscriptions));
        assert_eq!(route(&["tenants"]), Some(ArmRoute::Tenants));
        assert_eq!(route(&["t", "tenants"]), None);
    }
}
