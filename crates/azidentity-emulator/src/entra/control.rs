//! The control API of the user flows (documented in the crate docs).

use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::api::{self, AuthorizationCodeRequest};
use super::cae::{self, ResourceAnswer};
use crate::error::{Error, Result};
use crate::http::{Response, header_str, json, set_header};
use crate::state::Shared;

/// The paths handled here.
pub(crate) const PATHS: [&str; 6] = [
    "/_emulator/authorization_codes",
    "/_emulator/user_tokens",
    "/_emulator/revoke",
    "/_emulator/resource",
    "/_emulator/device_codes",
    "/_emulator/browser_user",
];

/// What the user does with a device code.
#[derive(Deserialize)]
struct DeviceCodeAction {
    user_code: String,
    /// `approve` (default), `deny`, `expire` or `slow_down`.
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    username: Option<String>,
    /// For `approve`: pending answers first; for `slow_down`: how many.
    #[serde(default)]
    polls: u32,
}

/// Who the authorize page signs in (`null` shows the form; `declines` refuses consent).
#[derive(Deserialize)]
struct BrowserUser {
    username: Option<String>,
    #[serde(default)]
    declines: bool,
}

#[derive(Deserialize)]
struct UserTokenRequest {
    client_id: String,
    username: String,
    scope: String,
}

#[derive(Deserialize)]
struct RevokeRequest {
    subject: String,
}

pub(crate) fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    match (method, path) {
        (&Method::POST, "/_emulator/authorization_codes") => {
            match parse::<AuthorizationCodeRequest>(body).and_then(|r| api::mint_code(shared, &r)) {
                Ok(code) => json(StatusCode::OK, &json!({ "code": code })),
                Err(error) => bad_request(&error.to_string()),
            }
        }
        (&Method::POST, "/_emulator/user_tokens") => {
            match parse::<UserTokenRequest>(body)
                .and_then(|r| api::mint_user_token(shared, &r.client_id, &r.username, &r.scope))
            {
                Ok(token) => json(StatusCode::OK, &json!({ "access_token": token })),
                Err(error) => bad_request(&error.to_string()),
            }
        }
        (&Method::POST, "/_emulator/device_codes") => {
            use super::device_code::control as codes;
            match parse::<DeviceCodeAction>(body).and_then(|r| {
                let code = r.user_code.as_str();
                match r.action.as_deref().unwrap_or("approve") {
                    "approve" => codes::approve(
                        shared,
                        code,
                        r.username.as_deref().unwrap_or_default(),
                        r.polls,
                    ),
                    "deny" => codes::deny(shared, code),
                    "expire" => codes::expire(shared, code),
                    "slow_down" => codes::slow_down(shared, code, r.polls.max(1)),
                    other => Err(Error::refused(format!("unknown action {other:?}"))),
                }
            }) {
                Ok(()) => json(StatusCode::OK, &json!({ "ok": true })),
                Err(error) => bad_request(&error.to_string()),
            }
        }
        (&Method::POST, "/_emulator/browser_user") => match parse::<BrowserUser>(body) {
            Ok(request) => {
                super::authorize::set_session(
                    shared,
                    request.username.as_deref(),
                    request.declines,
                );
                json(StatusCode::OK, &json!({ "ok": true }))
            }
            Err(error) => bad_request(&error.to_string()),
        },
        (&Method::POST, "/_emulator/revoke") => match parse::<RevokeRequest>(body) {
            Ok(request) => json(
                StatusCode::OK,
                &json!({ "revoked": api::revoke(shared, &request.subject) }),
            ),
            Err(error) => bad_request(&error.to_string()),
        },
        (&Method::GET, "/_emulator/resource") => {
            let token = header_str(headers, "authorization")
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or("");
            let now = shared.now();
            match cae::check(shared, token.trim(), now) {
                ResourceAnswer::Accepted(claims) => json(StatusCode::OK, &claims),
                ResourceAnswer::Rejected(challenge) => {
                    let mut answer = json(StatusCode::UNAUTHORIZED, &Value::Null);
                    set_header(&mut answer, "www-authenticate", &challenge);
                    answer
                }
            }
        }
        _ => bad_request(&format!("{method} is not supported on {path}")),
    }
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    serde_json::from_slice(body)
        .map_err(|e| Error::refused(format!("body is not the expected JSON: {e}")))
}

fn bad_request(message: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({"error": "invalid_request", "error_description": message}),
    )
}
