//! The control API under `/_emulator/` (documented in the crate docs).

use http::{HeaderMap, Method, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::fault::Fault;
use crate::http::{BodyError, Response, empty, json, read_body, set_header};
use crate::state::Shared;

pub(crate) async fn handle(
    shared: &Shared,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: Incoming,
) -> Response {
    let body = match read_body(body, headers).await {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return bad_request(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
        Err(BodyError::Broken) => return bad_request(StatusCode::BAD_REQUEST, "body unreadable"),
    };
    match (method, path) {
        (&Method::GET, "/_emulator/requests") => json(StatusCode::OK, &shared.requests()),
        (&Method::GET, "/_emulator/stats") => json(StatusCode::OK, &shared.stats()),
        (&Method::POST, "/_emulator/reset") => {
            shared.reset();
            empty(StatusCode::NO_CONTENT)
        }
        (&Method::GET, "/_emulator/faults") => json(StatusCode::OK, &shared.faults()),
        (&Method::POST, "/_emulator/faults") => match parse_faults(&body) {
            Ok(faults) => {
                for fault in faults {
                    shared.add_fault(fault);
                }
                empty(StatusCode::NO_CONTENT)
            }
            Err(message) => bad_request(StatusCode::BAD_REQUEST, &message),
        },
        (_, path) if crate::entra::control::PATHS.contains(&path) => {
            crate::entra::control::handle(shared, method, path, headers, &body)
        }
        (_, path) if crate::config::control::PATHS.contains(&path) => {
            crate::config::control::handle(shared, method, path, &body)
        }
        (_, "/_emulator/requests" | "/_emulator/stats") => method_not_allowed("GET"),
        (_, "/_emulator/reset") => method_not_allowed("POST"),
        (_, "/_emulator/faults") => method_not_allowed("GET, POST"),
        _ => json(
            StatusCode::NOT_FOUND,
            &json!({"error": "not_found", "error_description": format!("no control endpoint at {path}")}),
        ),
    }
}

/// One fault object or an array of them; all are checked before any is queued.
fn parse_faults(body: &[u8]) -> Result<Vec<Fault>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("body is not JSON: {e}"))?;
    let items = match value {
        Value::Array(items) => items,
        object @ Value::Object(_) => vec![object],
        _ => return Err("expected a fault object or an array of them".to_owned()),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let fault: Fault =
                serde_json::from_value(item).map_err(|e| format!("fault {index}: {e}"))?;
            fault
                .validate()
                .map_err(|e| format!("fault {index}: {e}"))?;
            Ok(fault)
        })
        .collect()
}

fn bad_request(status: StatusCode, message: &str) -> Response {
    json(
        status,
        &json!({"error": "invalid_request", "error_description": message}),
    )
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut answer = bad_request(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    set_header(&mut answer, "allow", allow);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_bodies() {
        assert_eq!(parse_faults(br#"{"status":503}"#).expect("one").len(), 1);
        assert_eq!(
            parse_faults(br#"[{"status":503},{"drop_connection":true}]"#)
                .expect("two")
                .len(),
            2
        );
        assert!(parse_faults(b"not json").is_err());
        assert!(parse_faults(b"42").is_err());
        assert!(parse_faults(br#"[{"status":503},{"status":"x"}]"#).is_err());
        assert!(parse_faults(br#"{"times":0}"#).is_err());
    }
}
