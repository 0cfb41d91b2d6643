//! The App Service / Azure Functions identity endpoint (API 2019-08-01).

use http::StatusCode;
use serde_json::{Value, json};

use super::identity::{self, IdKind};
use super::rules::{Guard, HostRules};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json};

pub(crate) const PATH: &str = "/msi/token";

const RULES: HostRules = HostRules {
    path: PATH,
    guard: Guard::Secret("x-identity-header"),
    api_versions: &["2019-08-01"],
    // App Service spells the resource id `mi_res_id` and also takes `principal_id`.
    selectors: &[
        ("client_id", IdKind::Client),
        ("object_id", IdKind::Object),
        ("principal_id", IdKind::Object),
        ("mi_res_id", IdKind::Resource),
    ],
    error: |status, _, message| error(status, message),
    method: ("", "Only GET is supported."),
    guard_failed: (
        "",
        "The X-IDENTITY-HEADER header is missing or does not hold this app's IDENTITY_HEADER value.",
    ),
    api_version_missing: None,
    api_version_invalid: (
        "",
        "The api-version is missing or not supported; use 2019-08-01.",
    ),
    resource_code: "",
    not_found: (
        StatusCode::BAD_REQUEST,
        (
            "",
            "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.",
        ),
    ),
    ambiguous: (
        "",
        "Only one of client_id, principal_id and mi_res_id may be specified.",
    ),
};

fn error(status: StatusCode, message: &str) -> Response {
    json(
        status,
        &json!({"statusCode": status.as_u16(), "message": message, "correlationId": uuid::Uuid::new_v4().to_string()}),
    )
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
                "access_token": token,
                "expires_on": exp.to_string(),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": resolved.identity.client_id,
            });
            if let (Some(refresh_in), Value::Object(map)) = (state.refresh_in(), &mut body) {
                map.insert("refresh_in".into(), refresh_in.as_secs().into());
            }
            json(StatusCode::OK, &body)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}
