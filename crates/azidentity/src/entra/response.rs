//! Reading token service answers: successful token responses and Entra's error shape.

use std::borrow::Cow;

use bytes::Bytes;
use serde_json::{Map, Value};
use time::{Duration, OffsetDateTime};

use super::advice;
use crate::cache::policy;
use crate::redact;
use crate::{AccessToken, Error, HttpErrorDetails, Secret};

/// A successful token response.
#[derive(Debug)]
pub(crate) struct TokenResponse {
    pub token: AccessToken,
    /// Present for user flows that asked for `offline_access` (and on-behalf-of).
    pub refresh_token: Option<Secret>,
    /// The signed-in user, from `client_info` or the ID token.
    pub account: Option<Account>,
    /// The whole answer, for the MSAL token cache (ID token, `client_info`, `foci`, `scope`).
    pub raw: RawResponse,
}

/// A token response's JSON. It holds tokens: `Debug` shows only the field names.
#[derive(Clone, Default)]
pub(crate) struct RawResponse(Map<String, Value>);

impl std::fmt::Debug for RawResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl RawResponse {
    pub(crate) fn map(&self) -> &Map<String, Value> {
        &self.0
    }

    #[cfg_attr(not(feature = "interactive"), allow(dead_code))]
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The ID token's claims (unverified: the service we just talked to over TLS issued it);
    /// empty without an ID token.
    pub(crate) fn id_token_claims(&self) -> Map<String, Value> {
        str_field(&self.0, "id_token")
            .and_then(|t| jwt_payload(&t))
            .unwrap_or_default()
    }
}

/// The user a token was issued to, as MSAL identifies accounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Account {
    /// `{uid}.{utid}` from `client_info`, else the ID token's `sub` (ADFS), as MSAL and Python
    /// (and this crate's MSAL cache writer) compute it.
    pub home_account_id: String,
    pub username: Option<String>,
}

/// The JSON payload of a JWT, without verifying it (the service that issued it is the one we
/// just talked to over TLS).
fn jwt_payload(jwt: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let segment = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn account(map: &Map<String, Value>) -> Option<Account> {
    use base64::Engine as _;
    let id_token = str_field(map, "id_token").and_then(|t| jwt_payload(&t));
    let username = id_token
        .as_ref()
        .and_then(|c| str_field(c, "preferred_username").or_else(|| str_field(c, "upn")));
    let from_client_info = str_field(map, "client_info")
        .and_then(|info| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(info.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
        .and_then(|info| {
            let uid = info.get("uid")?.as_str()?;
            let utid = info.get("utid")?.as_str()?;
            Some(format!("{uid}.{utid}"))
        });
    let home_account_id = from_client_info.or_else(|| str_field(id_token.as_ref()?, "sub"))?;
    Some(Account {
        home_account_id,
        username,
    })
}

/// An integer that services send as a number or a string.
fn int_field(body: &Map<String, Value>, name: &str) -> Option<i64> {
    match body.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn str_field(body: &Map<String, Value>, name: &str) -> Option<String> {
    body.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// Parses a 2xx answer from a token endpoint. `requested_at` is when the request was sent:
/// `expires_in` counts from then.
/// `known`: the credential values the request sent, masked wherever an error quotes the body.
pub(crate) fn parse_token(
    credential: &'static str,
    service: &str,
    body: &Bytes,
    requested_at: OffsetDateTime,
    known: &[&str],
) -> Result<TokenResponse, Error> {
    let unexpected = |what: &str| {
        Error::failed(
            credential,
            format!(
                "unexpected response from {service}: {what}. Body (secrets removed): {}",
                redact::body_without_known(body, known)
            ),
        )
    };
    let json: Value = serde_json::from_slice(body).map_err(|_| {
        if body.is_empty() {
            Error::failed(credential, format!("no response content from {service}"))
        } else {
            unexpected("the body is not JSON")
        }
    })?;
    let Value::Object(map) = json else {
        return Err(unexpected("the body is not a JSON object"));
    };
    let access_token = match map.get("access_token") {
        Some(Value::String(t)) if !t.is_empty() => Secret::new(t.clone()),
        _ => return Err(unexpected("it has no access_token")),
    };
    let expires_on = match (int_field(&map, "expires_on"), int_field(&map, "expires_in")) {
        (Some(on), _) => OffsetDateTime::from_unix_timestamp(on)
            .map_err(|_| unexpected("expires_on is out of range"))?,
        (None, Some(seconds)) if (0..=100 * 365 * 86_400).contains(&seconds) => {
            requested_at + Duration::seconds(seconds)
        }
        (None, Some(_)) => return Err(unexpected("expires_in is out of range")),
        (None, None) => return Err(unexpected("it has neither expires_in nor expires_on")),
    };
    let refresh_on = policy::refresh_on(requested_at, expires_on, int_field(&map, "refresh_in"));
    let token_type = crate::credential::token_type_of(
        str_field(&map, "token_type").map_or(Cow::Borrowed(crate::credential::BEARER), Cow::Owned),
    );
    let refresh_token = match map.get("refresh_token") {
        Some(Value::String(t)) if !t.is_empty() => Some(Secret::new(t.clone())),
        _ => None,
    };
    Ok(TokenResponse {
        token: AccessToken::new(access_token, expires_on)
            .with_refresh_on(refresh_on)
            .with_token_type(token_type),
        refresh_token,
        account: account(&map),
        raw: RawResponse(map),
    })
}

/// Turns a non-2xx answer into an error naming the Entra error, its AADSTS code, and what to do.
/// `known`: the credential values the request sent; an answer echoing them anywhere shows none
/// (they are masked in the body before it is parsed, and in every field after).
pub(crate) fn parse_error(
    credential: &'static str,
    service: &str,
    status: u16,
    headers: &http::HeaderMap,
    body: &[u8],
    known: &[&str],
) -> Error {
    let scrubbed;
    let body = if known.is_empty() {
        body
    } else {
        scrubbed = redact::without_known(&String::from_utf8_lossy(body), known);
        scrubbed.as_bytes()
    };
    let mut details = HttpErrorDetails {
        status,
        body: redact::body(body),
        ..HttpErrorDetails::default()
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    details.correlation_id = header("x-ms-correlation-id").or_else(|| header("client-request-id"));
    details.trace_id = header("x-ms-request-id");
    let parsed = serde_json::from_slice::<Value>(body).ok();
    if let Some(Value::Object(map)) = &parsed {
        details.error = str_field(map, "error");
        details.description = str_field(map, "error_description").map(|d| redact::text(&d));
        details.error_codes = map
            .get("error_codes")
            .and_then(Value::as_array)
            .map(|codes| codes.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_default();
        details.correlation_id = str_field(map, "correlation_id").or(details.correlation_id);
        details.trace_id = str_field(map, "trace_id").or(details.trace_id);
    }
    let message = match (&details.error, &parsed) {
        (Some(error), _) => {
            let headline = details
                .description
                .as_deref()
                .and_then(|d| d.lines().next())
                .unwrap_or("");
            let code = details.error_codes.first().copied();
            format!(
                "{service} returned HTTP {status} ({error}) {headline}{}. {}",
                details
                    .correlation_id
                    .as_deref()
                    .map(|c| format!(" [correlation id {c}]"))
                    .unwrap_or_default(),
                advice::for_error(error, code)
            )
        }
        (None, Some(_)) => format!(
            "{service} returned HTTP {status} with an unexpected JSON body: {}",
            details.body
        ),
        (None, None) => {
            let content_type = header("content-type").unwrap_or_else(|| "no content type".into());
            let snippet: String = details.body.chars().take(120).collect();
            format!(
                "{service} returned HTTP {status} with a non-JSON body ({content_type}): \
                 {snippet:?}. A proxy or gateway may be answering instead of the service, or \
                 the service is unavailable; check HTTPS_PROXY and the authority host, then \
                 try again"
            )
        }
    };
    let clean = |text: &mut String| *text = redact::without_known(text, known);
    clean(&mut details.body);
    details.error.as_mut().map(clean);
    details.description.as_mut().map(clean);
    Error::failed(credential, redact::without_known(&message, known)).with_http(details)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    #[test]
    fn parses_expiry_forms() {
        let body =
            Bytes::from(r#"{"access_token":"tok","expires_in":"3600","token_type":"Bearer"}"#);
        let r = parse_token("X", "S", &body, now(), &[]).unwrap();
        assert_eq!(r.token.expires_on(), now() + Duration::seconds(3600));
        assert_eq!(r.token.refresh_on(), None);
        let body = Bytes::from(r#"{"access_token":"tok","expires_on":1800000100,"expires_in":5}"#);
        assert_eq!(
            parse_token("X", "S", &body, now(), &[])
                .unwrap()
                .token
                .expires_on()
                .unix_timestamp(),
            1_800_000_100
        );
        let body = Bytes::from(r#"{"access_token":"tok","expires_in":86400}"#);
        let r = parse_token("X", "S", &body, now(), &[]).unwrap();
        assert_eq!(r.token.refresh_on(), Some(now() + Duration::hours(12)));
    }

    #[test]
    fn huge_refresh_in_does_not_panic() {
        for refresh_in in [
            "400000000000",
            "4e11",
            "1e30",
            "\"1e30\"",
            "9223372036854775807",
        ] {
            let body =
                format!(r#"{{"access_token":"t","expires_in":3600,"refresh_in":{refresh_in}}}"#);
            let r = parse_token("X", "S", &Bytes::from(body), now(), &[]).unwrap();
            assert_eq!(r.token.refresh_on(), None, "{refresh_in}");
        }
    }

    #[test]
    fn user_flow_answers_carry_the_refresh_token_and_account() {
        use base64::Engine as _;
        let b64 = |v: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        let id_token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"oid":"o-1","sub":"s-1","preferred_username":"ada@x"}"#)
        );
        let body = format!(
            r#"{{"access_token":"a","expires_in":60,"refresh_token":"r-1","id_token":"{id_token}","client_info":"{}"}}"#,
            b64(r#"{"uid":"u-1","utid":"t-1"}"#)
        );
        let r = parse_token("X", "S", &Bytes::from(body), now(), &[]).unwrap();
        assert_eq!(r.refresh_token.unwrap().secret(), "r-1");
        let account = r.account.unwrap();
        assert_eq!(account.home_account_id, "u-1.t-1");
        assert_eq!(account.username.as_deref(), Some("ada@x"));
        let body = format!(r#"{{"access_token":"a","expires_in":60,"id_token":"{id_token}"}}"#);
        let r = parse_token("X", "S", &Bytes::from(body), now(), &[]).unwrap();
        assert_eq!(r.account.unwrap().home_account_id, "s-1");
        assert!(r.refresh_token.is_none());
    }

    #[test]
    fn malformed_success_bodies_are_errors_without_secrets() {
        for body in [
            r#"{"access_token":"sekrit-token"}"#,
            r#"{"expires_in":3600}"#,
            r#"{"access_token":"sekrit-token","expires_in":-5}"#,
            "[1,2]",
            "<html>",
            "",
        ] {
            let e = parse_token("X", "S", &Bytes::from(body), now(), &[]).unwrap_err();
            assert!(!e.to_string().contains("sekrit-token"), "{e}");
        }
    }

    /// An answer that echoes what the request sent (a gateway, a misbehaving proxy) shows none
    /// of its credential values, wherever and however they appear.
    #[test]
    fn echoed_request_secrets_are_masked_everywhere() {
        let known = ["s3cret-value", "assertion.jwt"];
        let echoes = [
            r#"{"error":"s3cret-value","error_description":"got s3cret-value","x":"assertion.jwt"}"#,
            r#"{"odd_key": "s3cret-value", "y": "s3cret\u002dvalue"}"#,
            "plain text with s3cret-value and assertion.jwt in it",
        ];
        for echo in echoes {
            let error = parse_error(
                "X",
                "S",
                400,
                &http::HeaderMap::new(),
                echo.as_bytes(),
                &known,
            );
            let shown = format!("{error} {error:?}");
            let unexpected = parse_token("X", "S", &Bytes::from(echo), now(), &known).unwrap_err();
            let shown = format!("{shown} {unexpected} {unexpected:?}");
            for secret in known {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
        }
    }

    #[test]
    fn entra_errors_carry_codes_and_advice() {
        let body = Bytes::from(
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.\r\nTrace ID: t\r\nCorrelation ID: c","error_codes":[7000215],"correlation_id":"c-1","trace_id":"t-1"}"#,
        );
        let e = parse_error(
            "ClientSecretCredential",
            "Microsoft Entra ID",
            401,
            &http::HeaderMap::new(),
            &body,
            &[],
        );
        let http = e.http().unwrap();
        assert_eq!(http.aadsts().as_deref(), Some("AADSTS7000215"));
        assert_eq!(http.correlation_id.as_deref(), Some("c-1"));
        let text = e.to_string();
        assert!(
            text.contains(
                "HTTP 401 (invalid_client) AADSTS7000215: Invalid client secret provided."
            )
        );
        assert!(text.contains("secret"), "{text}");
        let html = parse_error(
            "X",
            "S",
            503,
            &http::HeaderMap::new(),
            b"<html>busy</html>",
            &[],
        );
        assert!(html.to_string().contains("non-JSON"));
    }
}
