//! One request from arrival to answer: record it, apply latency and faults, dispatch.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, StatusCode};
use hyper::Request;
use hyper::body::Incoming;

use crate::control;
use crate::entra::error::EntraError;
use crate::entra::{RequestContext, discovery, keys, metadata, token, userrealm};
use crate::fault::{Fault, FaultAction};
use crate::http::{
    BodyError, JSON_UTF8, Response, header_pairs, html_error_page, is_form, json, not_found,
    parse_pairs, read_body, response, set_header, status_code, too_large,
};
use crate::recorded::RecordedRequest;
use crate::state::Shared;

/// Returned to hyper to make it close the connection without writing an answer.
#[derive(Debug)]
pub(crate) struct DropConnection;

impl fmt::Display for DropConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped on purpose")
    }
}

impl std::error::Error for DropConnection {}

/// A token response cut short, as a proxy that dies mid-body would deliver it.
const MALFORMED_JSON: &str = r#"{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"eyJ0eXAiOiJKV1Qi"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    OpenIdV2(&'a str),
    OpenIdV1(&'a str),
    InstanceDiscovery,
    Keys(&'a str),
    Token(&'a str),
    DeviceCode(&'a str),
    Authorize(&'a str),
    UserRealm(&'a str),
    Arm(crate::arm::ArmRoute),
    Control,
    Unknown,
}

fn route(path: &str) -> Route<'_> {
    let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
    match segments.as_slice() {
        ["_emulator", ..] => Route::Control,
        ["", ..] => Route::Unknown,
        [tenant, "v2.0", ".well-known", "openid-configuration"] => Route::OpenIdV2(tenant),
        [tenant, ".well-known", "openid-configuration"] => Route::OpenIdV1(tenant),
        [_, "discovery", "instance"] => Route::InstanceDiscovery,
        [tenant, "discovery", "v2.0", "keys"] | [tenant, "discovery", "keys"] => {
            Route::Keys(tenant)
        }
        [tenant, "oauth2", "v2.0", "token"] => Route::Token(tenant),
        [tenant, "oauth2", "v2.0", "devicecode"] => Route::DeviceCode(tenant),
        [tenant, "oauth2", "v2.0", "authorize"] => Route::Authorize(tenant),
        ["common", "userrealm", username] => Route::UserRealm(username),
        other => crate::arm::route(other).map_or(Route::Unknown, Route::Arm),
    }
}

pub(crate) async fn handle(
    shared: Arc<Shared>,
    request: Request<Incoming>,
    peer: SocketAddr,
) -> Result<Response, DropConnection> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().to_owned();
    let route = route(&path);
    if route == Route::Control {
        if !control_allowed(peer) {
            return Ok(json(
                StatusCode::FORBIDDEN,
                &serde_json::json!({
                    "error": "forbidden",
                    "error_description": "the control API answers loopback clients only"
                }),
            ));
        }
        return Ok(control::handle(&shared, &parts.method, &path, &parts.headers, body).await);
    }

    let query = parts
        .uri
        .query()
        .map(|q| parse_pairs(q.as_bytes()))
        .unwrap_or_default();
    let (form, body_too_large) = match read_body(body, &parts.headers).await {
        Ok(bytes) if is_form(&parts.headers) => (parse_pairs(&bytes), false),
        Ok(_) => (Vec::new(), false),
        Err(BodyError::TooLarge) => (Vec::new(), true),
        Err(BodyError::Broken) => return Err(DropConnection),
    };
    let is_token = matches!(route, Route::Token(_)) && parts.method == Method::POST;
    // Only method and path reach the log: queries, headers and bodies may carry secrets.
    tracing::debug!(method = %parts.method, path = %path, "request");

    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: header_pairs(&parts.headers),
        form: form.clone(),
    };
    let fault = shared.record(recorded, is_token);

    let latency = shared.config().latency;
    if is_token && !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let faulted = match &fault {
        Some(fault) => apply_fault(fault).await?,
        None => None,
    };
    let mut answer = match faulted {
        Some(answer) => answer,
        None if body_too_large => too_large(),
        None => {
            let ctx = RequestContext::new(&parts.headers, shared.now());
            let mut answer = dispatch(&shared, route, &parts, &query, &form, &ctx);
            ctx.decorate(&mut answer);
            answer
        }
    };
    if let Some(secs) = fault.as_ref().and_then(Fault::retry_after_secs) {
        set_header(&mut answer, "retry-after", &secs.to_string());
    }
    if answer.status().as_u16() >= 400 {
        shared.count_error();
    }
    tracing::debug!(path = %path, status = answer.status().as_u16(), "answer");
    Ok(answer)
}

/// The control API is unauthenticated and hands out recorded credentials: loopback clients
/// only, whatever address the emulator is bound to.
fn control_allowed(peer: SocketAddr) -> bool {
    peer.ip().to_canonical().is_loopback()
}

/// `Ok(None)` means "answer normally" (after the fault's delay).
pub(crate) async fn apply_fault(fault: &Fault) -> Result<Option<Response>, DropConnection> {
    if let Some(delay) = fault.delay_duration() {
        tokio::time::sleep(delay).await;
    }
    Ok(match fault.action() {
        FaultAction::DropConnection => return Err(DropConnection),
        FaultAction::MalformedJson => Some(response(StatusCode::OK, JSON_UTF8, MALFORMED_JSON)),
        FaultAction::Html(code) => Some(html_error_page(code)),
        FaultAction::Status {
            status,
            body,
            content_type,
        } => Some(response(status_code(status), &content_type, body)),
        FaultAction::PassThrough => None,
    })
}

fn dispatch(
    shared: &Shared,
    route: Route<'_>,
    parts: &http::request::Parts,
    query: &[(String, String)],
    form: &[(String, String)],
    ctx: &RequestContext,
) -> Response {
    let host = &shared.authority_host;
    let get_only = |result: Result<serde_json::Value, EntraError>| {
        if parts.method != Method::GET && parts.method != Method::HEAD {
            return method_not_allowed("GET");
        }
        match result {
            Ok(value) => json(StatusCode::OK, &value),
            Err(error) => error.into_response(ctx, host),
        }
    };
    match route {
        Route::OpenIdV2(tenant) => get_only(metadata::openid_configuration_v2(shared, tenant)),
        Route::OpenIdV1(tenant) => get_only(metadata::openid_configuration_v1(shared, tenant)),
        Route::InstanceDiscovery => get_only(discovery::instance_discovery(shared, query)),
        Route::Keys(tenant) => get_only(keys::jwks(shared, tenant)),
        Route::UserRealm(username) => {
            let username = parse_pairs(format!("u={username}").as_bytes())
                .pop()
                .map(|(_, v)| v)
                .unwrap_or_default();
            get_only(Ok(userrealm::user_realm(shared, &username)))
        }
        Route::Token(_) if parts.method != Method::POST => {
            EntraError::post_only(parts.method.as_str()).into_response(ctx, host)
        }
        Route::Token(tenant) => match token::issue(shared, tenant, &parts.headers, form, ctx) {
            Ok(body) => {
                shared.count_token_issued();
                json(StatusCode::OK, &body)
            }
            Err(error) => error.into_response(ctx, host),
        },
        Route::DeviceCode(_) if parts.method != Method::POST => {
            EntraError::post_only(parts.method.as_str()).into_response(ctx, host)
        }
        Route::DeviceCode(tenant) => {
            match crate::entra::device_code::device_authorization(shared, tenant, form, ctx) {
                Ok(body) => json(StatusCode::OK, &body),
                Err(error) => error.into_response(ctx, host),
            }
        }
        Route::Authorize(tenant) => match parts.method {
            Method::GET | Method::POST => {
                crate::entra::authorize::authorize(shared, tenant, &parts.method, query, form, ctx)
            }
            _ => method_not_allowed("GET, POST"),
        },
        Route::Arm(arm) => crate::arm::handle(shared, arm, &parts.method, &parts.headers, query),
        Route::Control | Route::Unknown => not_found(),
    }
}

fn method_not_allowed(allow: &'static str) -> Response {
    let mut answer = response(
        StatusCode::METHOD_NOT_ALLOWED,
        "text/html",
        "<html><body><h1>405 Method Not Allowed</h1></body></html>",
    );
    set_header(&mut answer, "allow", allow);
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_peers_reach_the_control_api() {
        for (peer, allowed) in [
            ("127.0.0.1:5000", true),
            ("127.8.9.10:5000", true),
            ("[::1]:5000", true),
            ("[::ffff:127.0.0.1]:5000", true),
            ("10.0.0.5:5000", false),
            ("[::ffff:192.168.1.2]:5000", false),
            ("[2001:db8::1]:5000", false),
        ] {
            let peer: SocketAddr = peer.parse().expect("an address");
            assert_eq!(control_allowed(peer), allowed, "{peer}");
        }
    }

    #[test]
    fn routes() {
        assert_eq!(
            route("/t/v2.0/.well-known/openid-configuration"),
            Route::OpenIdV2("t")
        );
        assert_eq!(
            route("/t/.well-known/openid-configuration"),
            Route::OpenIdV1("t")
        );
        assert_eq!(
            route("/common/discovery/instance"),
            Route::InstanceDiscovery
        );
        assert_eq!(route("/t/discovery/v2.0/keys"), Route::Keys("t"));
        assert_eq!(route("/t/discovery/keys"), Route::Keys("t"));
        assert_eq!(route("/t/oauth2/v2.0/token"), Route::Token("t"));
        assert_eq!(route("/_emulator/stats"), Route::Control);
        assert_eq!(route("//oauth2/v2.0/token"), Route::Unknown);
        assert_eq!(route("/"), Route::Unknown);
        assert_eq!(route(""), Route::Unknown);
        assert_eq!(route("/t/oauth2/v2.0/token/"), Route::Unknown);
    }
}
