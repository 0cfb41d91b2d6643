//! The Azure Instance Metadata Service token endpoint (API 2018-02-01 and later).

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::identity::{self, IdKind, NotResolved};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json, not_found};

pub(crate) const PATH: &str = "/metadata/identity/oauth2/token";

/// IMDS takes the resource id as `msi_res_id` (and, undocumented, `mi_res_id`).
const SELECTORS: &[(&str, IdKind)] = &[
    ("client_id", IdKind::Client),
    ("object_id", IdKind::Object),
    ("msi_res_id", IdKind::Resource),
    ("mi_res_id", IdKind::Resource),
];

const API_VERSIONS: &[&str] = &["2018-02-01", "2019-08-01", "2021-02-01", "2025-04-07"];

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
    if let Some(refresh_in) = state.host.refresh_in {
        body.insert("refresh_in".into(), refresh_in.as_secs().to_string().into());
    }
    Ok(body)
}

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    if request.path != PATH {
        return not_found();
    }
    if request.method != Method::GET {
        return error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "The requested method is not supported",
        );
    }
    if !request
        .header("metadata")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required metadata header not specified",
        );
    }
    match request.query_value("api-version") {
        None => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Required query variable 'api-version' is missing",
            );
        }
        Some(v) if !API_VERSIONS.contains(&v) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Invalid value for query variable 'api-version'",
            );
        }
        Some(_) => {}
    }
    let resource = match identity::check_resource(request.query_value("resource")) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_resource", &e),
    };
    let resolved = match identity::resolve(&state.host, &request.query, SELECTORS) {
        Ok(r) => r,
        Err(NotResolved::NotFound) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Identity not found",
            );
        }
        Err(NotResolved::Ambiguous) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Only one of client_id, object_id and msi_res_id may be specified",
            );
        }
    };
    match token_body(state, &resolved, resource) {
        Ok(body) => json(StatusCode::OK, &Value::Object(body)),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    }
}
