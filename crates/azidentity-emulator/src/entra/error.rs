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

    pub fn malformed_jwt(detail: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            50027,
            format!("JWT token is invalid or malformed. {detail}"),
        )
    }

    pub fn assertion_key_not_found(client_id: &str, thumbprint: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            format!(
                "The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]"
            ),
        )
    }

    pub fn assertion_signature_invalid(reason: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700027,
            format!("Client assertion failed signature validation. [Reason - {reason}]"),
        )
    }

    pub fn assertion_audience(audience: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700023,
            format!(
                "Client assertion audience claim does not match Realm issuer. The audience in the assertion was '{audience}'."
            ),
        )
    }

    pub fn assertion_client_mismatch() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700021,
            "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .".to_owned(),
        )
    }

    pub fn assertion_time_range(detail: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700024,
            format!("Client assertion is not within its valid time range. {detail}"),
        )
    }

    pub fn assertion_replayed() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            50027,
            "Invalid JWT token. The client assertion's jti has already been used; sign a new assertion for every request.".to_owned(),
        )
    }

    pub fn subject_name_issuer(reason: &str) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            50012,
            format!("Authentication failed. {reason}"),
        )
    }

    pub fn public_client_with_credential() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.".to_owned(),
        )
    }

    pub fn invalid_username_or_password() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50126,
            "Error validating credentials due to invalid username or password.".to_owned(),
        )
    }

    pub fn user_not_found(tenant: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50034,
            format!(
                "The user account {{EUII Hidden}} does not exist in the {tenant} directory. To sign into this application, the account must be added to the directory."
            ),
        )
    }

    pub fn mfa_required() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "interaction_required",
            50076,
            "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access the resource.".to_owned(),
        )
    }

    pub fn code_redeemed_or_unknown() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            54005,
            "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use an existing refresh token.".to_owned(),
        )
    }

    pub fn code_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70008,
            "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.".to_owned(),
        )
    }

    pub fn redirect_uri_mismatch(uri: &str, client_id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50011,
            format!(
                "The redirect URI '{uri}' specified in the request does not match the redirect URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the request matches one added to your application in the Azure portal."
            ),
        )
    }

    pub fn pkce_mismatch() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            501481,
            "The Code_Verifier does not match the code_challenge supplied in the authorization request.".to_owned(),
        )
    }

    pub fn refresh_token_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            700082,
            "The refresh token has expired due to inactivity. The token was inactive for 90.00:00:00.".to_owned(),
        )
    }

    pub fn refresh_token_revoked() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50173,
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password.".to_owned(),
        )
    }

    pub fn grant_for_other_client() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed. The grant was issued to a different client."
                .to_owned(),
        )
    }

    pub fn invalid_refresh_token() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            70000,
            "Provided grant is invalid or malformed. The refresh token is not valid or has already been used.".to_owned(),
        )
    }

    pub fn grant_for_other_tenant() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            700005,
            "Provided Authorization Code is intended to use against other tenant, thus rejected."
                .to_owned(),
        )
    }

    pub fn obo_assertion_invalid(reason: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            50013,
            format!("Assertion failed signature validation. [Reason - {reason}]"),
        )
    }

    pub fn obo_assertion_expired() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            500133,
            "Assertion is not within its valid time range. Ensure that the access token is not expired before using it for user assertion, or request a new token.".to_owned(),
        )
    }

    pub fn obo_audience(audience: &str, client_id: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            500131,
            format!(
                "Assertion audience does not match the Client app presenting the assertion. The audience in the assertion was '{audience}' and the expected audience is '{client_id}' or one of the Application Uris of this application with App ID '{client_id}'."
            ),
        )
    }

    pub fn multiple_resources(scope: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            28000,
            format!(
                "Provided value for the input parameter scope is not valid because it contains more than one resource. Scope {scope} is not valid."
            ),
        )
    }

    pub fn scope_not_exposed(client_id: &str, scope: &str, resource: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            650053,
            format!(
                "The application '{client_id}' asked for scope '{scope}' that doesn't exist on the resource '{resource}'. Contact the app vendor."
            ),
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
