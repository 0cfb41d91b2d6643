//! Service Fabric's managed identity token service: HTTPS with the cluster's certificate
//! (clients pin its SHA-1 thumbprint), a `Secret` header, API 2019-07-01-preview.

use std::sync::Arc;

use http::StatusCode;
use rustls::ServerConfig;
use serde_json::{Value, json};

use super::identity;
use super::rules::{Guard, HostRules};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json};

pub(crate) const PATH: &str = "/metadata/identity/oauth2/token";

const RULES: HostRules = HostRules {
    path: PATH,
    guard: Guard::Secret("secret"),
    api_versions: &["2019-07-01-preview"],
    // The application's identity is fixed by the cluster manifest: no selectors.
    selectors: &[],
    error,
    method: ("MethodNotAllowed", "Only GET is supported."),
    guard_failed: (
        "SecretHeaderNotFound",
        "Secret is not found in the request headers.",
    ),
    api_version_missing: None,
    api_version_invalid: (
        "InvalidApiVersion",
        "The api-version is missing or not supported; use 2019-07-01-preview.",
    ),
    resource_code: "ArgumentNullOrEmpty",
    not_found: (
        StatusCode::NOT_FOUND,
        (
            "ManagedIdentityNotFound",
            "The application has no managed identity.",
        ),
    ),
    ambiguous: (
        "ManagedIdentityNotFound",
        "The application has no managed identity.",
    ),
};

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        &json!({"error": {"code": code, "message": message, "correlationId": uuid::Uuid::new_v4().to_string()}}),
    )
}

/// The token service's certificate for 127.0.0.1 and its SHA-1 thumbprint (upper-case hex, as
/// Service Fabric prints it). Clients that pin the thumbprint (MSAL .NET, Python, azidentity)
/// need nothing else; the emulator's CA issues it so that clients which only validate the
/// chain (msal-node, trusting the CA through `NODE_EXTRA_CA_CERTS`) connect too.
pub(crate) fn certificate(ca: &crate::tls::Ca) -> std::io::Result<(Arc<ServerConfig>, String)> {
    let cert = ca.issue(
        &crate::tls::server_names(&[]),
        "Service Fabric managed identity token service (emulator)",
        crate::emulator::CERTIFICATE_DAYS,
    )?;
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &cert.der()?);
    let thumbprint: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    Ok((cert.server_config()?, thumbprint))
}

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    let (resource, resolved) = match RULES.preflight(state, request) {
        Ok(found) => found,
        Err(refusal) => return *refusal,
    };
    let now = state.now();
    match identity::mint(
        &state.shared,
        &state.host,
        &resolved.identity,
        resource,
        now,
    ) {
        Ok((token, exp)) => {
            let mut body = json!({
                "token_type": "Bearer",
                "access_token": token,
                "expires_on": exp,
                "resource": resource,
            });
            if let (Some(refresh_in), Value::Object(map)) = (state.refresh_in(), &mut body) {
                map.insert("refresh_in".into(), refresh_in.as_secs().into());
            }
            json(StatusCode::OK, &body)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e),
    }
}
