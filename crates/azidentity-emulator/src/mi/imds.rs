//! The Azure Instance Metadata Service token endpoint (API 2018-02-01 and later).

use http::StatusCode;
use serde_json::{Map, Value, json};

use super::identity::{self, IdKind};
use super::rules::{Guard, HostRules};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json};

pub(crate) const PATH: &str = "/metadata/identity/oauth2/token";

/// IMDS takes the resource id as `msi_res_id` (and, undocumented, `mi_res_id`).
pub(crate) const RULES: HostRules = HostRules {
    path: PATH,
    guard: Guard::Metadata,
    api_versions: &["2018-02-01", "2019-08-01", "2021-02-01", "2025-04-07"],
    selectors: &[
        ("client_id", IdKind::Client),
        ("object_id", IdKind::Object),
        ("msi_res_id", IdKind::Resource),
        ("mi_res_id", IdKind::Resource),
    ],
    error,
    method: ("invalid_request", "The requested method is not supported"),
    guard_failed: ("invalid_request", "Required metadata header not specified"),
    api_version_missing: Some((
        "invalid_request",
        "Required query variable 'api-version' is missing",
    )),
    api_version_invalid: (
        "invalid_request",
        "Invalid value for query variable 'api-version'",
    ),
    resource_code: "invalid_resource",
    not_found: (
        StatusCode::BAD_REQUEST,
        ("invalid_request", "Identity not found"),
    ),
    ambiguous: (
        "invalid_request",
        "Only one of client_id, object_id and msi_res_id may be specified",
    ),
};

/// IMDS's and the Arc agent's error shape.
pub(crate) fn error(status: StatusCode, error: &str, description: &str) -> Response {
    json(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// The token body IMDS, Arc and Cloud Shell share: every number as a string.
pub(crate) fn token_body(
    state: &HostState,
    resolved: &identity::Resolved,
    resource: &str,
) -> Result<Map<String, Value>, String> {
    let now = state.now();
    let (token, exp) = identity::mint(
        &state.shared,
        &state.host,
        &resolved.identity,
        resource,
        now,
    )?;
    let lifetime = (exp - now).to_string();
    let mut body = Map::new();
    body.insert("access_token".into(), token.into());
    body.insert(
        "client_id".into(),
        resolved.identity.client_id.clone().into(),
    );
    body.insert("expires_in".into(), lifetime.clone().into());
    body.insert("expires_on".into(), exp.to_string().into());
    body.insert("ext_expires_in".into(), lifetime.into());
    body.insert("not_before".into(), (now - 300).to_string().into());
    body.insert("resource".into(), resource.into());
    body.insert("token_type".into(), "Bearer".into());
    if let Some(refresh_in) = state.refresh_in() {
        body.insert("refresh_in".into(), refresh_in.as_secs().to_string().into());
    }
    Ok(body)
}

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    let (resource, resolved) = match RULES.preflight(state, request) {
        Ok(found) => found,
        Err(refusal) => return *refusal,
    };
    match token_body(state, &resolved, resource) {
        Ok(body) => json(StatusCode::OK, &Value::Object(body)),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    }
}
