//! The Azure Arc agent (himds): a first request gets a 401 naming a fresh key file only
//! privileged users can read; the second must carry the key as `Authorization: Basic <key>`.
//! Keys are single-use. An agent that supports user-assigned identities echoes the selector.

use http::StatusCode;
use serde_json::Value;

use super::identity::IdKind;
use super::imds::{error, token_body};
use super::rules::{Guard, HostRules};
use super::server::{HostState, MiRequest};
use crate::http::{Response, json, set_header};

pub(crate) const PATH: &str = "/metadata/identity/oauth2/token";

const RULES: HostRules = HostRules {
    path: PATH,
    guard: Guard::Metadata,
    api_versions: &["2019-11-01", "2020-06-01", "2021-02-01"],
    selectors: &[
        ("client_id", IdKind::Client),
        ("object_id", IdKind::Object),
        ("msi_res_id", IdKind::Resource),
    ],
    error,
    api_version_missing: None,
    api_version_invalid: ("invalid_request", "Invalid or missing api-version"),
    ..super::imds::RULES
};

pub(crate) fn answer(state: &HostState, request: &MiRequest) -> Response {
    if let Err(refusal) = RULES.check(state, request) {
        return *refusal;
    }
    let Some(keys) = &state.arc else {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "no key directory",
        );
    };
    match request.header("authorization") {
        None => {
            let realm = match keys.issue() {
                Ok(path) => path,
                Err(e) => {
                    return error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "server_error",
                        &e.to_string(),
                    );
                }
            };
            let mut answer = error(
                StatusCode::UNAUTHORIZED,
                "unauthorized_client",
                "Authorization header is required; read the key file named in WWW-Authenticate",
            );
            set_header(
                &mut answer,
                "www-authenticate",
                &format!("Basic realm={realm}"),
            );
            return answer;
        }
        Some(value) => {
            let key = value
                .strip_prefix("Basic ")
                .or_else(|| value.strip_prefix("basic "))
                .unwrap_or("");
            if !keys.redeem(key.trim()) {
                return error(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized_client",
                    "The key is not valid or was already used",
                );
            }
        }
    }
    // A legacy agent does not know the selectors and answers for the system identity.
    let legacy: Option<&[(&str, IdKind)]> = state.host.legacy_arc_agent.then_some(&[]);
    let (resource, resolved) = match RULES.resolve(state, request, legacy) {
        Ok(found) => found,
        Err(refusal) => return *refusal,
    };
    match token_body(state, &resolved, resource) {
        Ok(mut body) => {
            body.remove("client_id");
            let echo = match resolved.by {
                Some(IdKind::Client) => Some(("client_id", &resolved.identity.client_id)),
                Some(IdKind::Object) => Some(("object_id", &resolved.identity.object_id)),
                Some(IdKind::Resource) => Some(("msi_res_id", &resolved.identity.resource_id)),
                None => None,
            };
            if let Some((name, value)) = echo {
                body.insert(name.into(), value.clone().into());
            }
            json(StatusCode::OK, &Value::Object(body))
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e),
    }
}
