//! The App Service / Azure Functions identity endpoint (API 2019-08-01).

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::identity::{self, IdKind, NotResolved};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json, not_found};

pub(crate) const PATH: &str = "/msi/token";

/// App Service spells the resource id `mi_res_id` and also takes `principal_id`.
const SELECTORS: &[(&str, IdKind)] = &[
    ("client_id", IdKind::Client),
    ("object_id", IdKind::Object),
    ("principal_id", IdKind::Object),
    ("mi_res_id", IdKind::Resource),
];

fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        &json!({"statusCode": status.as_u16(), "message": message, "correlationId": uuid::Uuid::new_v4().to_string()}),
    )
}

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    if request.path != PATH {
        return not_found();
    }
    if request.method != Method::GET {
        return error(StatusCode::METHOD_NOT_ALLOWED, "Only GET is supported.");
    }
    if request.header("x-identity-header") != Some(state.secret.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "The X-IDENTITY-HEADER header is missing or does not hold this app's IDENTITY_HEADER value.",
        );
    }
    if request.query_value("api-version") != Some("2019-08-01") {
        return error(
            StatusCode::BAD_REQUEST,
            "The api-version is missing or not supported; use 2019-08-01.",
        );
    }
    let resource = match identity::check_resource(request.query_value("resource")) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let resolved = match identity::resolve(&state.host, &request.query, SELECTORS) {
        Ok(r) => r,
        Err(NotResolved::NotFound) => {
            return error(
                StatusCode::BAD_REQUEST,
                "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
            );
        }
        Err(NotResolved::Ambiguous) => {
            return error(
                StatusCode::BAD_REQUEST,
                "Only one of client_id, principal_id and mi_res_id may be specified.",
            );
        }
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
                "access_token": token,
                "expires_on": exp.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": resolved.identity.client_id,
            });
            if let (Some(refresh_in), Value::Object(map)) = (state.host.refresh_in, &mut body) {
                map.insert("refresh_in".into(), refresh_in.as_secs().into());
            }
            json(StatusCode::OK, &body)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}
