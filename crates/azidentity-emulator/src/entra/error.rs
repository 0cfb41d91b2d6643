//! Entra's error answers: the JSON shape and the catalogue of AADSTS codes the emulator uses.
//!
//! Texts follow what Entra sends today (as seen in public bug reports); the trailing
//! "Trace ID / Correlation ID / Timestamp" lines are added as Entra does.

use http::StatusCode;
use serde::Serialize;

use super::RequestContext;
use crate::http::{Response, json};

/// An Entra error before it is rendered for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntraError {
    pub status: StatusCode,
    pub error: &'static str,
    pub code: u32,
    pub message: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: String,
    error_codes: [u32; 1],
    timestamp: &'a str,
    trace_id: &'a str,
    correlation_id: &'a str,
    error_uri: String,
}

impl EntraError {
    fn new(status: StatusCode, error: &'static str, code: u32, message: String) -> Self {
        Self {
            status,
            error,
            code,
            message,
        }
    }

    pub fn into_response(self, ctx: &RequestContext, authority_host: &str) -> Response {
        let timestamp = ctx.timestamp();
        let body = ErrorBody {
            error: self.error,
            error_description: format!(
                "AADSTS{}: {}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {}",
                self.code, self.message, ctx.trace_id, ctx.correlation_id, timestamp
            ),
            error_codes: [self.code],
            timestamp: &timestamp,
            trace_id: &ctx.trace_id,
            correlation_id: &ctx.correlation_id,
            error_uri: format!("{authority_host}/error?code={}", self.code),
        };
        json(self.status, &body)
    }

    /// `error` is `invalid_tenant` on the metadata endpoints and `invalid_request` on the
    /// token endpoint, as Entra answers.
    pub fn tenant_not_found(tenant: &str, error: &'static str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            error,
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
            ),
        )
    }

    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            format!("The request body must contain the following parameter: '{name}'."),
        )
    }

    pub fn post_only(method: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900561,
            format!(
                "The endpoint only accepts POST, OPTIONS requests. Received a {method} request."
            ),
        )
    }

    pub fn unsupported_grant_type(grant_type: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            format!("The app requested an unsupported grant type '{grant_type}'."),
        )
    }

    pub fn grant_not_supported_on_common() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            9001023,
            "The grant type is not supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.".to_owned(),
        )
    }

    pub fn no_tenant_information() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50059,
            "No tenant-identifying information found in either the request or implied by any provided credentials.".to_owned(),
        )
    }

    pub fn application_not_found(client_id: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub fn invalid_client_secret(client_id: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000215,
            format!(
                "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
            ),
        )
    }

    pub fn missing_client_credential() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_owned(),
        )
    }

    pub fn certificate_not_registered() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found.]".to_owned(),
        )
    }

    pub fn scope_needs_default_suffix(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        )
    }

    pub fn invalid_scope(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            format!(
                "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
            ),
        )
    }

    pub fn resource_not_found(resource: &str, tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_resource",
            500011,
            format!(
                "The resource principal named {resource} was not found in the tenant named {tenant}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."
            ),
        )
    }

    pub fn unknown_instance() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_instance",
            50049,
            "Unknown or invalid instance.".to_owned(),
        )
    }

    /// Not an Entra text: only reached if signing fails, which the fixed key should prevent.
    pub fn internal(message: &str) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            50000,
            format!("There was an error issuing a token. {message}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;
    use serde_json::Value;

    #[tokio::test]
    async fn renders_entra_shape() {
        let ctx = RequestContext::for_tests("corr-1");
        let response = EntraError::invalid_client_secret("app-1").into_response(&ctx, "https://h");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let json: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(json["error"], "invalid_client");
        assert_eq!(json["error_codes"][0], 7000215);
        assert_eq!(json["correlation_id"], "corr-1");
        assert_eq!(json["error_uri"], "https://h/error?code=7000215");
        let description = json["error_description"].as_str().expect("text");
        assert!(description.starts_with("AADSTS7000215: Invalid client secret provided."));
        assert!(description.contains("\r\nTrace ID: "));
        assert!(description.contains("\r\nCorrelation ID: corr-1\r\nTimestamp: "));
        let timestamp = json["timestamp"].as_str().expect("timestamp");
        assert_eq!(timestamp.len(), "2024-01-02 03:04:05Z".len());
        assert!(timestamp.ends_with('Z'));
    }
}
