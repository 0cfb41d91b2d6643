//! The Azure Instance Metadata Service (virtual machines, scale sets, AKS nodes): the default
//! source. It has the longest retry rules of all, and inside a chain it is probed first so a
//! machine without IMDS fails in about a second instead of after a minute of retries.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use http::header::HeaderName;

use super::source::{LocalEndpoint, MiSource, NAME, endpoint_url};
use super::{ManagedIdentityId, ManagedIdentitySource, response};
use crate::pipeline::{Outgoing, Pipeline, RetryPolicy};
use crate::platform::{HttpClient, TransportError};
use crate::{Env, EnvironmentVariables, Error, HttpErrorDetails, Platform, RetryOptions};

/// Where IMDS lives on every Azure VM. Tests never use it: they set
/// `AZURE_POD_IDENTITY_AUTHORITY_HOST` (or inject a transport).
const DEFAULT_AUTHORITY: &str = "http://169.254.169.254";
const TOKEN_PATH: &str = "/metadata/identity/oauth2/token";
const API_VERSION: &str = "2018-02-01";
const SELECTORS: super::id::SelectorNames = super::id::SelectorNames {
    client_id: "client_id",
    object_id: "object_id",
    resource_id: "msi_res_id",
};
/// Python's `connection_timeout=2` for IMDS.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The probe's whole budget: one request, one second.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub(crate) struct Imds {
    local: LocalEndpoint,
}

impl Imds {
    pub(crate) fn new(env: &Env, id: ManagedIdentityId) -> Result<Self, Error> {
        let var = EnvironmentVariables::AZURE_POD_IDENTITY_AUTHORITY_HOST;
        let authority = env.non_empty(var);
        let url = match &authority {
            // Python strips slashes on both sides before appending the path.
            Some(host) => {
                let joined = format!("{}{TOKEN_PATH}", host.trim().trim_matches('/'));
                let env = Env::from_pairs([(var, joined)]);
                endpoint_url(&env, var, false)?
            }
            None => url::Url::parse(&format!("{DEFAULT_AUTHORITY}{TOKEN_PATH}"))
                .map_err(|e| Error::config(NAME, format!("internal error: {e}")))?,
        };
        Ok(Imds {
            local: LocalEndpoint::new(url, id, Some(API_VERSION), SELECTORS),
        })
    }

    /// `AZURE_POD_IDENTITY_AUTHORITY_HOST` names the endpoint: Python then assumes it is there
    /// and never probes.
    pub(crate) fn endpoint_overridden(env: &Env) -> bool {
        env.non_empty(EnvironmentVariables::AZURE_POD_IDENTITY_AUTHORITY_HOST)
            .is_some()
    }
}

fn is_retried(status: u16) -> bool {
    matches!(status, 404 | 408 | 410 | 429) || status >= 500
}

fn is_docker_desktop_unreachable(status: u16, body: &str) -> bool {
    status == 403 && body.to_ascii_lowercase().contains("unreachable")
}

impl MiSource for Imds {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::Imds
    }

    fn local(&self) -> &LocalEndpoint {
        &self.local
    }

    fn request(&self, resource: &str) -> Outgoing {
        let mut request = self.local.get(resource);
        request.headers.push((
            HeaderName::from_static("metadata"),
            HeaderValue::from_static("true"),
        ));
        request
    }

    fn transport(&self, platform: &Platform) -> Result<std::sync::Arc<dyn HttpClient>, String> {
        platform.plain_http_client(CONNECT_TIMEOUT)
    }

    /// Python's IMDS settings: five retries on 404, 408, 410, 429 and 5xx, backoff 0.8 s (waits
    /// 0, 1.6, 3.2, 6.4, 12.8 s), but 2.5 s after a 410 (0, 5, 10, 20, 40 s: the 70 s IMDS asks
    /// for while it is being updated); at most three retries after connection failures.
    fn retry_policy(&self, _options: &RetryOptions) -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            max_transport_retries: 3,
            backoff: Duration::from_millis(800),
            max_delay: Duration::from_secs(60),
            retry_status: is_retried,
            status_backoff: Some((410, Duration::from_millis(2500))),
            attempt_timeout: None,
        }
    }

    fn status_error(&self, details: HttpErrorDetails, in_chain: bool) -> Error {
        let status = details.status;
        let summary = response::summary(&details);
        let (unavailable, reason, message) = if status == 400 {
            let what = if self.id().is_user_assigned() {
                format!(
                    "The requested identity ({}) has not been assigned to this resource",
                    self.id()
                )
            } else {
                "No identity has been assigned to this resource".to_owned()
            };
            (
                true,
                Some(crate::ErrorReason::IdentityNotFound),
                format!(
                    "IMDS at {} answered HTTP 400: {what} ({summary}). Assign the managed \
                     identity to the VM or scale set, or use another credential",
                    self.endpoint()
                ),
            )
        } else if is_docker_desktop_unreachable(status, &details.body) {
            (
                true,
                Some(crate::ErrorReason::ImdsUnreachable),
                format!(
                    "IMDS is unreachable from here: a proxy (Docker Desktop) answered HTTP 403 \
                     ({summary}). Managed identity works only on an Azure host"
                ),
            )
        } else {
            (
                in_chain,
                None,
                format!(
                    "IMDS at {} answered HTTP {status} after retries: {summary}. IMDS may be \
                     restarting or overloaded; try again later",
                    self.endpoint()
                ),
            )
        };
        let error = if unavailable {
            Error::unavailable(NAME, message)
        } else {
            Error::failed(NAME, message)
        };
        let error = match reason {
            Some(reason) => error.with_reason(reason),
            None => error,
        };
        error.with_http(details)
    }

    fn transport_error(&self, error: TransportError) -> Error {
        Error::unavailable(
            NAME,
            format!(
                "no response from the IMDS endpoint at {} ({error}). This does not look like an \
                 Azure VM with managed identity; use another credential here",
                self.endpoint()
            ),
        )
        .with_reason(crate::ErrorReason::ImdsUnreachable)
        .with_source(error)
    }

    /// Something other than IMDS answered (sync Python treats any non-JSON body so).
    fn non_json_is_unavailable(&self, _json_content_type: bool) -> bool {
        true
    }

    fn advice(&self) -> &'static str {
        "Check that the VM has the managed identity assigned"
    }
}

/// The chain-mode probe: one request without the `Metadata` header, one second, no retries.
/// Any HTTP answer proves IMDS is there (it refuses such requests with 400), except Docker
/// Desktop's 403 "unreachable". Success is remembered for the credential's life; failure is
/// not, so a VM whose IMDS was briefly down recovers on the next call.
#[derive(Debug)]
pub(crate) struct Probe {
    imds: Imds,
    available: AtomicBool,
}

impl Probe {
    pub(crate) fn new(imds: &Imds) -> Self {
        Probe {
            imds: imds.clone(),
            available: AtomicBool::new(false),
        }
    }

    pub(crate) async fn ensure(&self, pipeline: &Pipeline, resource: &str) -> Result<(), Error> {
        if self.available.load(Ordering::Acquire) {
            return Ok(());
        }
        let imds = &self.imds;
        // Without the Metadata header: IMDS refuses it with a 400, which proves it is there.
        let request = imds.local.get(resource);
        let policy = RetryPolicy {
            max_retries: 0,
            max_transport_retries: 0,
            attempt_timeout: Some(PROBE_TIMEOUT),
            ..imds.retry_policy(&RetryOptions::default())
        };
        match pipeline.send_with(NAME, &request, &policy).await {
            Ok(answer) => {
                let body: &Bytes = answer.body();
                let status = answer.status().as_u16();
                if is_docker_desktop_unreachable(status, &String::from_utf8_lossy(body)) {
                    return Err(imds.status_error(response::error_details(status, body), true));
                }
                tracing::debug!(status, "IMDS answered the probe; it is available");
                self.available.store(true, Ordering::Release);
                Ok(())
            }
            Err(error) => Err(imds.transport_error(error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shape() {
        let env = Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9/")]);
        let imds = Imds::new(&env, ManagedIdentityId::ResourceId("/sub/x".into())).unwrap();
        let r = imds.request("https://management.azure.com");
        assert_eq!(
            r.url,
            "http://127.0.0.1:9/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fmanagement.azure.com&msi_res_id=%2Fsub%2Fx"
        );
        assert_eq!(r.method, http::Method::GET);
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "metadata" && v == "true")
        );
        assert!(Imds::endpoint_overridden(&env));
        let default = Imds::new(
            &Env::from_pairs([("X", "1")]),
            ManagedIdentityId::SystemAssigned,
        )
        .unwrap();
        assert!(
            default
                .endpoint()
                .starts_with("http://169.254.169.254/metadata/")
        );
        assert!(
            Imds::new(
                &Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "ftp://x")]),
                ManagedIdentityId::SystemAssigned
            )
            .is_err()
        );
    }

    #[test]
    fn backoff_schedule_matches_python() {
        let env = Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")]);
        let imds = Imds::new(&env, ManagedIdentityId::SystemAssigned).unwrap();
        let policy = imds.retry_policy(&RetryOptions::default());
        for s in [404, 408, 410, 429, 500, 501, 503, 599] {
            assert!((policy.retry_status)(s), "{s}");
        }
        for s in [200, 400, 401, 403] {
            assert!(!(policy.retry_status)(s), "{s}");
        }
        assert_eq!(policy.max_retries, 5);
        assert_eq!(
            policy.status_backoff,
            Some((410, Duration::from_millis(2500)))
        );
    }

    #[test]
    fn classification() {
        let env = Env::from_pairs([("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")]);
        let imds = Imds::new(&env, ManagedIdentityId::SystemAssigned).unwrap();
        let details = |status: u16, body: &str| {
            response::error_details(status, &Bytes::from(body.to_owned()))
        };
        let e = imds.status_error(
            details(
                400,
                r#"{"error":"invalid_request","error_description":"Identity not found"}"#,
            ),
            false,
        );
        assert!(e.is_unavailable());
        assert!(e.message().contains("No identity has been assigned"), "{e}");
        let e = imds.status_error(
            details(
                403,
                "dial tcp: A socket operation was attempted to an unreachable network.",
            ),
            false,
        );
        assert!(e.is_unavailable());
        let e = imds.status_error(details(403, "forbidden"), false);
        assert!(!e.is_unavailable());
        assert!(
            !imds
                .status_error(details(500, "{}"), false)
                .is_unavailable()
        );
        assert!(imds.status_error(details(500, "{}"), true).is_unavailable());
        let user = Imds::new(&env, ManagedIdentityId::ClientId("c-1".into())).unwrap();
        let e = user.status_error(details(400, "{}"), false);
        assert!(
            e.message()
                .contains("requested identity (user-assigned identity with client_id c-1)"),
            "{e}"
        );
    }
}
