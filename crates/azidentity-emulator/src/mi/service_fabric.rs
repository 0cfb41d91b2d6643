//! Service Fabric's managed identity token service: HTTPS with a certificate no CA signed
//! (clients pin its SHA-1 thumbprint), a `Secret` header, API 2019-07-01-preview.

use std::sync::Arc;

use http::StatusCode;
use rcgen::{CertificateParams, DnType, KeyPair};
use rustls::ServerConfig;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
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

/// A self-signed certificate for 127.0.0.1 and its SHA-1 thumbprint (upper-case hex, as
/// Service Fabric prints it).
pub(crate) fn certificate() -> std::io::Result<(Arc<ServerConfig>, String)> {
    let key = KeyPair::generate().map_err(std::io::Error::other)?;
    let mut params = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .map_err(std::io::Error::other)?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        DnType::CommonName,
        "Service Fabric managed identity token service (emulator)",
    );
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(30);
    let cert = params.self_signed(&key).map_err(std::io::Error::other)?;
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.der());
    let thumbprint: String = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
        )
        .map_err(std::io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), thumbprint))
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
            if let (Some(refresh_in), Value::Object(map)) = (state.host.refresh_in, &mut body) {
                map.insert("refresh_in".into(), refresh_in.as_secs().into());
            }
            json(StatusCode::OK, &body)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", &e),
    }
}
