//! Sending requests to token services: common headers, retries with backoff and `Retry-After`,
//! and turning transport failures into credential errors.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use time::OffsetDateTime;

use crate::platform::{Clock, HttpClient, TransportError, TransportErrorKind};
use crate::{ClientOptions, EnvironmentVariables, Error, RetryOptions};

const USER_AGENT: &str = concat!("azsdk-rust-azidentity/", env!("CARGO_PKG_VERSION"));

/// A request that can be sent more than once (retries rebuild it).
#[derive(Clone)]
pub(crate) struct Outgoing {
    pub method: http::Method,
    pub url: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

/// The body holds client secrets, passwords, codes and assertions, and some headers hold keys:
/// only the method, URL, header names and the body's size are shown.
impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("Outgoing")
            .field("method", &self.method)
            .field("url", &self.url)
            .field("headers", &names)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

impl Outgoing {
    pub(crate) fn get(url: String) -> Self {
        Outgoing {
            method: http::Method::GET,
            url,
            headers: Vec::new(),
            body: Bytes::new(),
        }
    }

    /// A POST without a body.
    pub(crate) fn post_empty(url: String) -> Self {
        Outgoing {
            method: http::Method::POST,
            ..Outgoing::get(url)
        }
    }

    pub(crate) fn form_post(url: String, form: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        Outgoing {
            method: http::Method::POST,
            url,
            headers: vec![(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )],
            body: Bytes::from(body),
        }
    }
}

/// How one kind of request is retried, when it differs from the credential's [`RetryOptions`]
/// (IMDS retries more statuses, waits longer after 410, and its probe never retries).
#[derive(Debug, Clone)]
pub(crate) struct RetryPolicy {
    /// Retries after the first attempt, whatever the cause.
    pub max_retries: u32,
    /// Of those, at most this many after a failure without any HTTP response.
    pub max_transport_retries: u32,
    /// The first retry is immediate; retry n (n ≥ 2) waits `backoff_for(status) × 2^(n-1)`.
    pub backoff: Duration,
    /// No wait (including a server's `Retry-After`) is longer than this.
    pub max_delay: Duration,
    /// Which statuses are retried.
    pub retry_status: fn(u16) -> bool,
    /// A status whose backoff differs from `backoff` (IMDS: 410 waits 2.5 s units).
    pub status_backoff: Option<(u16, Duration)>,
    /// Each attempt is abandoned after this long (the whole request, connecting included).
    pub attempt_timeout: Option<Duration>,
}

impl RetryPolicy {
    /// azure-core's status list with the credential's retry options.
    pub(crate) fn from_options(options: &RetryOptions) -> Self {
        RetryPolicy {
            max_retries: options.max_retries,
            max_transport_retries: options.max_retries,
            backoff: options.backoff,
            max_delay: options.max_delay,
            retry_status: is_retriable_status,
            status_backoff: None,
            attempt_timeout: None,
        }
    }

    /// The wait before retry `n` (1-based) after `status` (`None`: no response).
    fn delay(&self, n: u32, status: Option<u16>, retry_after: Option<Duration>) -> Duration {
        let backoff = match (self.status_backoff, status) {
            (Some((special, backoff)), Some(status)) if special == status => backoff,
            _ => self.backoff,
        };
        let backoff = if n <= 1 {
            Duration::ZERO
        } else {
            backoff.saturating_mul(1u32.checked_shl(n - 1).unwrap_or(u32::MAX))
        };
        retry_after.unwrap_or(backoff).min(self.max_delay)
    }
}

/// The shared sender for one credential.
#[derive(Debug, Clone)]
pub(crate) struct Pipeline {
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    retry: RetryOptions,
    user_agent: HeaderValue,
}

impl Pipeline {
    pub(crate) fn new(credential: &'static str, options: &ClientOptions) -> Result<Self, Error> {
        let http = options.platform.http_client().map_err(|e| {
            Error::config(
                credential,
                format!("the HTTP transport could not be set up: {e}"),
            )
        })?;
        Ok(Self::with_http(http, options))
    }

    /// A pipeline over a transport chosen by the caller (managed identity endpoints have their
    /// own transports).
    pub(crate) fn with_http(http: Arc<dyn HttpClient>, options: &ClientOptions) -> Self {
        let agent = match options
            .platform
            .env()
            .non_empty(EnvironmentVariables::AZURE_HTTP_USER_AGENT)
        {
            Some(extra) => format!("{USER_AGENT} {extra}"),
            None => USER_AGENT.to_owned(),
        };
        let user_agent =
            HeaderValue::from_str(&agent).unwrap_or_else(|_| HeaderValue::from_static(USER_AGENT));
        Pipeline {
            http,
            clock: options.platform.clock().clone(),
            retry: options.retry.clone(),
            user_agent,
        }
    }

    pub(crate) fn retry_options(&self) -> &RetryOptions {
        &self.retry
    }

    pub(crate) fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Sends with retries. Returns the last HTTP response, whatever its status; errors only when
    /// no response arrived.
    pub(crate) async fn send(
        &self,
        credential: &'static str,
        request: &Outgoing,
    ) -> Result<http::Response<Bytes>, Error> {
        let policy = RetryPolicy::from_options(&self.retry);
        self.send_with(credential, request, &policy)
            .await
            .map_err(|e| {
                Error::failed(
                    credential,
                    format!(
                        "no usable answer from {}: {e}. Check the network, proxy settings \
                         (HTTPS_PROXY) and the authority host",
                        host_of(&request.url)
                    ),
                )
                .with_source(e)
            })
    }

    /// Sends with retries under `policy`. Returns the last HTTP response, whatever its status,
    /// or the last transport failure when no response arrived; the caller words the error.
    pub(crate) async fn send_with(
        &self,
        credential: &'static str,
        request: &Outgoing,
        policy: &RetryPolicy,
    ) -> Result<http::Response<Bytes>, TransportError> {
        let request_id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .unwrap_or_else(|_| HeaderValue::from_static("0"));
        let mut attempt = 0u32;
        let mut transport_retries = 0u32;
        loop {
            let result = self.attempt(self.build(request, &request_id), policy).await;
            let next = attempt + 1;
            let delay = match &result {
                Ok(response) if (policy.retry_status)(response.status().as_u16()) => {
                    let status = response.status().as_u16();
                    let after = retry_after(response.headers(), self.clock.now());
                    (next <= policy.max_retries).then(|| policy.delay(next, Some(status), after))
                }
                Ok(_) => None,
                Err(e) if e.kind != TransportErrorKind::TooLarge => (next <= policy.max_retries
                    && transport_retries < policy.max_transport_retries)
                    .then(|| {
                        transport_retries += 1;
                        policy.delay(next, None, None)
                    }),
                Err(_) => None,
            };
            let Some(wait) = delay else {
                return result;
            };
            tracing::debug!(
                credential,
                attempt = next,
                wait_ms = wait.as_millis() as u64,
                status = result.as_ref().ok().map(|r| r.status().as_u16()),
                "retrying a token service request"
            );
            self.clock.sleep(wait).await;
            attempt = next;
        }
    }

    async fn attempt(
        &self,
        request: http::Request<Bytes>,
        policy: &RetryPolicy,
    ) -> Result<http::Response<Bytes>, TransportError> {
        match policy.attempt_timeout {
            None => self.http.send(request).await,
            Some(limit) => tokio::time::timeout(limit, self.http.send(request))
                .await
                .unwrap_or_else(|_| {
                    Err(TransportError::new(
                        TransportErrorKind::Timeout,
                        format!("no answer within {} ms", limit.as_millis()),
                    ))
                }),
        }
    }

    fn build(&self, request: &Outgoing, request_id: &HeaderValue) -> http::Request<Bytes> {
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(request.url.as_str());
        if let Some(headers) = builder.headers_mut() {
            headers.insert(http::header::USER_AGENT, self.user_agent.clone());
            headers.insert(
                HeaderName::from_static("x-ms-client-request-id"),
                request_id.clone(),
            );
            headers.insert(
                http::header::ACCEPT,
                HeaderValue::from_static("application/json"),
            );
            for (name, value) in &request.headers {
                headers.insert(name.clone(), value.clone());
            }
        }
        builder.body(request.body.clone()).unwrap_or_else(|_| {
            // Only an unparsable URL gets here; callers build URLs from validated parts. Send a
            // request the transport will refuse rather than panic.
            let mut fallback = http::Request::new(Bytes::new());
            *fallback.uri_mut() = http::Uri::from_static("https://invalid.invalid/");
            fallback
        })
    }
}

/// 408, 429, 500, 502, 503, 504 and everything from 506 up (azure-core's list).
fn is_retriable_status(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504) || status >= 506
}

/// `Retry-After` as seconds or an HTTP date; also `retry-after-ms` and `x-ms-retry-after-ms`.
pub(crate) fn retry_after(headers: &http::HeaderMap, now: OffsetDateTime) -> Option<Duration> {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    // The value comes from the network: one too large for a `Duration` saturates (the caller
    // caps every wait at `max_delay`) instead of panicking; negative or NaN is ignored.
    let seconds = |s: f64| match Duration::try_from_secs_f64(s) {
        Ok(wait) => Some(wait),
        Err(_) if s > 0.0 => Some(Duration::MAX),
        Err(_) => None,
    };
    for name in ["retry-after-ms", "x-ms-retry-after-ms"] {
        if let Some(ms) = text(name).and_then(|v| v.parse::<f64>().ok()) {
            return seconds(ms / 1000.0);
        }
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return seconds(secs);
    }
    let format = time::format_description::well_known::Rfc2822;
    let when = OffsetDateTime::parse(value, &format).ok()?;
    Some(Duration::try_from(when - now).unwrap_or(Duration::ZERO))
}

pub(crate) fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| u.port().map_or(h.to_owned(), |p| format!("{h}:{p}")))
        })
        .unwrap_or_else(|| "the token service".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(7)));
        h.insert(
            "retry-after",
            HeaderValue::from_static("Tue, 14 Nov 2023 22:13:30 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(10)));
        h.insert("retry-after", HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
        h.insert("retry-after-ms", HeaderValue::from_static("250"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_millis(250)));
    }

    #[test]
    fn hostile_retry_after_saturates_and_is_capped() {
        let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let policy = RetryPolicy::from_options(&RetryOptions::default());
        for (name, value) in [
            ("retry-after", "18446744073709551615"),
            ("retry-after", "1e20"),
            ("retry-after", "inf"),
            ("retry-after-ms", "1e30"),
            ("x-ms-retry-after-ms", "1e300"),
        ] {
            let mut h = http::HeaderMap::new();
            h.insert(name, HeaderValue::from_static(value));
            let after = retry_after(&h, now);
            assert_eq!(after, Some(Duration::MAX), "{name}: {value}");
            assert_eq!(policy.delay(2, Some(503), after), policy.max_delay);
        }
        for value in ["-1", "NaN", "-inf"] {
            let mut h = http::HeaderMap::new();
            h.insert("retry-after", HeaderValue::from_static(value));
            assert_eq!(retry_after(&h, now), None, "{value}");
        }
    }

    #[test]
    fn debug_shows_no_body_or_header_values() {
        let mut request = Outgoing::form_post(
            "https://login.example/t/oauth2/v2.0/token".into(),
            &[("client_secret", "hunter2"), ("code", "c-1")],
        );
        request.headers.push((
            http::header::AUTHORIZATION,
            HeaderValue::from_static("Basic a2V5"),
        ));
        let shown = format!("{request:?}");
        for secret in ["hunter2", "c-1", "a2V5"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("authorization") && shown.contains("bytes>"),
            "{shown}"
        );
    }

    #[test]
    fn retriable_statuses() {
        for s in [408, 429, 500, 502, 503, 504, 506, 599] {
            assert!(is_retriable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 501, 505] {
            assert!(!is_retriable_status(s), "{s}");
        }
    }
}
