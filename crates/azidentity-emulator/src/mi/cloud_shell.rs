//! Azure Cloud Shell's local token endpoint: a form POST for the signed-in user's token.

use http::{Method, StatusCode};
use serde_json::Value;

use super::identity::{self, Resolved};
use super::imds::{error, token_body};
use super::server::{HostState, MiRequest};
use crate::http::{Response, is_form, json, not_found};

pub(crate) const PATH: &str = "/oauth2/token";

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    if request.path != PATH {
        return not_found();
    }
    if request.method != Method::POST || !is_form(&request.headers) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Send a POST with an application/x-www-form-urlencoded body",
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
    let resource = match identity::check_resource(request.form_value("resource")) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_resource", &e),
    };
    // Cloud Shell signs in as its user; the emulator stands the host's system identity in.
    let resolved = match identity::resolve(&state.host, [], &[], &[]) {
        Ok(r) => r,
        Err(_) => Resolved {
            identity: super::UserAssignedIdentity::default_identity(),
            by: None,
        },
    };
    match token_body(state, &resolved, resource) {
        Ok(mut body) => {
            body.remove("client_id");
            body.insert("refresh_token".into(), "".into());
            json(StatusCode::OK, &Value::Object(body))
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    }
}
