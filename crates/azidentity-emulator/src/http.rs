//! Small HTTP helpers: bounded body reading, form parsing and response building.

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderName};
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use serde::Serialize;

pub(crate) type Response = hyper::Response<Full<Bytes>>;

/// The largest request body accepted. Token requests are a few KB even with a certificate
/// chain in the client assertion; anything bigger is abuse or a bug.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

pub(crate) const JSON_UTF8: &str = "application/json; charset=utf-8";

/// An oversized body is still read (and thrown away) up to this size before the 413 goes
/// out: a client that is still writing when the server closes gets a reset instead of
/// the answer.
const MAX_DRAIN_BYTES: u64 = 64 * 1024 * 1024;

#[derive(Debug)]
pub(crate) enum BodyError {
    TooLarge,
    /// The client went away mid-body; there is nobody to answer.
    Broken,
}

pub(crate) async fn read_body(mut body: Incoming, headers: &HeaderMap) -> Result<Bytes, BodyError> {
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if announced.is_some_and(|len| len > MAX_DRAIN_BYTES) {
        return Err(BodyError::TooLarge);
    }
    let mut collected = BytesMut::new();
    let mut seen: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Broken)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers carry nothing the emulator uses
        };
        seen = seen.saturating_add(data.len() as u64);
        if seen > MAX_DRAIN_BYTES {
            return Err(BodyError::TooLarge);
        }
        if seen <= MAX_BODY_BYTES as u64 {
            collected.extend_from_slice(&data);
        }
    }
    if seen > MAX_BODY_BYTES as u64 {
        return Err(BodyError::TooLarge);
    }
    Ok(collected.freeze())
}

pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

pub(crate) fn parse_pairs(input: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(input).into_owned().collect()
}

pub(crate) fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

pub(crate) fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A status from a number that may come from a caller; out-of-range codes become 500.
pub(crate) fn status_code(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

pub(crate) fn response(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    let content_type = HeaderValue::from_str(content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    response.headers_mut().insert(CONTENT_TYPE, content_type);
    response
}

pub(crate) fn json(status: StatusCode, value: &impl Serialize) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => response(status, JSON_UTF8, body),
        Err(_) => response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "serialization failed",
        ),
    }
}

pub(crate) fn empty(status: StatusCode) -> Response {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    response
}

/// Sets a header when the value is a valid header value; request input never panics here.
pub(crate) fn set_header(response: &mut Response, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(name), value);
    }
}

/// The kind of page a reverse proxy sends when it has no upstream answer.
pub(crate) fn html_error_page(code: u16) -> Response {
    let status = status_code(code);
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    response(status, "text/html", body)
}

pub(crate) fn not_found() -> Response {
    response(
        StatusCode::NOT_FOUND,
        "text/html",
        "<html><body><h1>404 Not Found</h1></body></html>",
    )
}

pub(crate) fn too_large() -> Response {
    response(
        StatusCode::PAYLOAD_TOO_LARGE,
        "text/html",
        "<html><body><h1>413 Request Entity Too Large</h1></body></html>",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_detection() {
        let mut headers = HeaderMap::new();
        assert!(!is_form(&headers));
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=utf-8"),
        );
        assert!(is_form(&headers));
    }

    #[test]
    fn pairs_decode() {
        assert_eq!(
            parse_pairs(b"scope=https%3A%2F%2Fx%2F.default+y&a"),
            vec![
                ("scope".into(), "https://x/.default y".into()),
                ("a".into(), "".into())
            ]
        );
    }

    #[test]
    fn bad_status_and_header_values_do_not_panic() {
        assert_eq!(status_code(42), StatusCode::INTERNAL_SERVER_ERROR);
        let mut r = response(StatusCode::OK, "bad\nvalue", "");
        set_header(&mut r, "x-test", "line\nbreak");
        assert!(r.headers().get("x-test").is_none());
        assert_eq!(r.headers()[CONTENT_TYPE], "application/octet-stream");
        assert_eq!(html_error_page(502).status(), StatusCode::BAD_GATEWAY);
    }
}
