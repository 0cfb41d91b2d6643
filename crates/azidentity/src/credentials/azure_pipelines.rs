//! `AzurePipelinesCredential`: workload identity federation in Azure Pipelines. The job asks
//! Azure DevOps for an OIDC token for a service connection and uses it as the client assertion.

use std::fmt;
use std::sync::Arc;

use http::HeaderValue;
use http::header::HeaderName;
use serde_json::Value;

use crate::entra::confidential::{
    AssertionFuture, AssertionProvider, ClientAuth, ConfidentialClient,
};
use crate::pipeline::{Outgoing, Pipeline};
use crate::{
    ClientOptions, EnvironmentVariables as Vars, Error, HttpErrorDetails, Secret,
    TokenCachePersistenceOptions, TokenCredential, TokenFuture, TokenRequestOptions,
};

const NAME: &str = "AzurePipelinesCredential";
const OIDC_API_VERSION: &str = "7.1";
const TROUBLESHOOTING: &str = crate::troubleshooting::AZURE_PIPELINES;

/// Options for [`AzurePipelinesCredential`].
#[derive(Debug, Clone, Default)]
pub struct AzurePipelinesCredentialOptions {
    /// Authority, tenants, retries and platform (whose environment supplies
    /// `SYSTEM_OIDCREQUESTURI`).
    pub client_options: ClientOptions,
    /// Accept a plain-`http` `SYSTEM_OIDCREQUESTURI` when its host is a loopback address: for
    /// tests and local emulators only. Otherwise it must be `https`, because the job's
    /// `System.AccessToken` is sent to it.
    pub allow_http_on_loopback: bool,
    /// Keep tokens in a persistent cache shared with other processes and Python
    /// `azure-identity` (or in an application's store, such as Redis). Default: in memory.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
}

/// Requests the OIDC token from Azure DevOps for each new Entra token.
struct OidcRequest {
    pipeline: Pipeline,
    /// `SYSTEM_OIDCREQUESTURI` without a trailing slash.
    request_uri: String,
    service_connection_id: String,
    authorization: HeaderValue,
    _system_access_token: Secret,
}

impl fmt::Debug for OidcRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcRequest")
            .field("request_uri", &self.request_uri)
            .field("service_connection_id", &self.service_connection_id)
            .finish_non_exhaustive()
    }
}

impl OidcRequest {
    async fn fetch(&self) -> Result<Secret, Error> {
        let mut url = url::Url::parse(&self.request_uri).map_err(|e| {
            Error::config(
                NAME,
                format!("SYSTEM_OIDCREQUESTURI is not a valid URL ({e})"),
            )
        })?;
        url.query_pairs_mut()
            .append_pair("api-version", OIDC_API_VERSION)
            .append_pair("serviceConnectionId", &self.service_connection_id);
        let mut request = Outgoing::post_empty(url.into());
        request.headers.extend([
            (
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (http::header::AUTHORIZATION, self.authorization.clone()),
            // Without it Azure DevOps answers an expired token with a redirect to a sign-in page.
            (
                HeaderName::from_static("x-tfs-fedauthredirect"),
                HeaderValue::from_static("Suppress"),
            ),
        ]);
        let response = self.pipeline.send(NAME, &request).await?;
        let status = response.status().as_u16();
        let body = response.body();
        let redacted = crate::redact::body(body);
        if status != 200 {
            let details = HttpErrorDetails {
                status,
                body: redacted.clone(),
                ..HttpErrorDetails::default()
            };
            let snippet: String = redacted.chars().take(300).collect();
            return Err(Error::failed(
                NAME,
                format!(
                    "Unexpected response from OIDC token endpoint: HTTP {status} {snippet:?}. \
                     Check the service connection id, that the pipeline may use the service \
                     connection, and that System.AccessToken is passed as system_access_token. \
                     See {TROUBLESHOOTING}"
                ),
            )
            .with_http(details));
        }
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(map)) => match map.get("oidcToken") {
                Some(Value::String(token)) if !token.is_empty() => Ok(Secret::new(token.clone())),
                _ => Err(Error::failed(
                    NAME,
                    format!("OIDC token not found in response: {redacted}. See {TROUBLESHOOTING}"),
                )),
            },
            _ => Err(Error::failed(
                NAME,
                format!(
                    "Unexpected response from OIDC token endpoint: the body is not a JSON \
                     object ({:?}). See {TROUBLESHOOTING}",
                    redacted.chars().take(200).collect::<String>()
                ),
            )),
        }
    }
}

impl AssertionProvider for OidcRequest {
    fn assertion(&self) -> AssertionFuture<'_> {
        Box::pin(self.fetch())
    }
}

/// Authenticates with workload identity federation for an Azure Pipelines service connection.
/// Python: `AzurePipelinesCredential`.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{AzurePipelinesCredential, TokenCredential, TokenRequestOptions};
/// let credential = AzurePipelinesCredential::new("tenant-id", "client-id",
///     "service-connection-id", std::env::var("SYSTEM_ACCESSTOKEN")?.into(), Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct AzurePipelinesCredential {
    client: ConfidentialClient,
    /// Checked per request, as Python does: outside a pipeline job the credential is unavailable.
    in_pipeline: bool,
}

impl AzurePipelinesCredential {
    /// `service_connection_id` is the `resourceId` in the service connection's URL;
    /// `system_access_token` is the job's `$(System.AccessToken)`. All four must be non-empty.
    pub fn new(
        tenant_id: &str,
        client_id: &str,
        service_connection_id: &str,
        system_access_token: Secret,
        options: AzurePipelinesCredentialOptions,
    ) -> Result<Self, Error> {
        if tenant_id.is_empty()
            || client_id.is_empty()
            || service_connection_id.is_empty()
            || system_access_token.is_empty()
        {
            return Err(Error::config(
                NAME,
                format!(
                    "'tenant_id', 'client_id', 'service_connection_id', and \
                     'system_access_token' must all be given. See {TROUBLESHOOTING}"
                ),
            ));
        }
        let client_options = &options.client_options;
        let request_uri = client_options
            .platform
            .env()
            .non_empty(Vars::SYSTEM_OIDCREQUESTURI)
            .map(|uri| uri.trim().trim_end_matches('/').to_owned());
        let mut bearer = zeroize::Zeroizing::new(String::with_capacity(
            "Bearer ".len() + system_access_token.secret().len(),
        ));
        bearer.push_str("Bearer ");
        bearer.push_str(system_access_token.secret());
        let mut authorization = HeaderValue::from_str(&bearer).map_err(|_| {
            Error::config(
                NAME,
                "system_access_token holds characters that cannot be sent in an HTTP \
                         header",
            )
        })?;
        authorization.set_sensitive(true);
        if let Some(uri) = &request_uri {
            check_request_uri(uri, options.allow_http_on_loopback)?;
        }
        let in_pipeline = request_uri.is_some();
        let provider = Arc::new(OidcRequest {
            pipeline: Pipeline::new(NAME, client_options)?,
            request_uri: request_uri.unwrap_or_default(),
            service_connection_id: service_connection_id.to_owned(),
            authorization,
            _system_access_token: system_access_token,
        });
        let client = ConfidentialClient::new(
            NAME,
            tenant_id,
            client_id,
            ClientAuth::Assertion(provider),
            client_options,
            options.cache_persistence_options.as_ref(),
        )?;
        Ok(AzurePipelinesCredential {
            client,
            in_pipeline,
        })
    }
}

/// `SYSTEM_OIDCREQUESTURI` receives the job's access token: it must be an `https` URL (plain
/// `http` only on loopback, and only when the caller allowed it).
fn check_request_uri(uri: &str, allow_http_on_loopback: bool) -> Result<(), Error> {
    let url = url::Url::parse(uri).map_err(|e| {
        Error::config(
            NAME,
            format!("SYSTEM_OIDCREQUESTURI is not a valid URL ({e})"),
        )
    })?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        _ => false,
    };
    match url.scheme() {
        "https" if url.host_str().is_some() => Ok(()),
        "http" if loopback && allow_http_on_loopback => Ok(()),
        scheme => Err(Error::config(
            NAME,
            format!(
                "SYSTEM_OIDCREQUESTURI must be an https URL, not {scheme:?}: the pipeline's \
                 System.AccessToken is sent to it. See {TROUBLESHOOTING}"
            ),
        )),
    }
}

impl TokenCredential for AzurePipelinesCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        if !self.in_pipeline {
            return TokenFuture::ready(Err(Error::unavailable(
                NAME,
                format!(
                    "Missing value for the SYSTEM_OIDCREQUESTURI environment variable. \
                     AzurePipelinesCredential is intended for use in Azure Pipelines where the \
                     SYSTEM_OIDCREQUESTURI environment variable is set. See {TROUBLESHOOTING}"
                ),
            )
            .with_reason(crate::ErrorReason::VariablesMissing)));
        }
        self.client.get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        NAME
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oidc_token_is_redacted() {
        let text = crate::redact::body(br#"{"oidcToken":"eyJhbGciOi.secret.sig","x":1}"#);
        assert!(!text.contains("secret"), "{text}");
        assert!(text.contains("\"x\":1"));
    }

    #[test]
    fn the_oidc_request_uri_must_be_https() {
        let new = |uri: &str, allow: bool| {
            let options = AzurePipelinesCredentialOptions {
                client_options: ClientOptions {
                    platform: crate::Platform::system()
                        .with_env(crate::Env::from_pairs([(Vars::SYSTEM_OIDCREQUESTURI, uri)])),
                    ..ClientOptions::default()
                },
                allow_http_on_loopback: allow,
                ..Default::default()
            };
            AzurePipelinesCredential::new("t", "c", "s", Secret::new("system-token"), options)
        };
        assert!(new("https://dev.azure.com/org/_apis/x/oidctoken", false).is_ok());
        assert!(new("http://127.0.0.1:1234/oidctoken", true).is_ok());
        assert!(new("http://[::1]:1234/oidctoken", true).is_ok());
        for (uri, allow) in [
            ("http://dev.azure.com/org/_apis/x/oidctoken", false),
            ("http://dev.azure.com/org/_apis/x/oidctoken", true),
            ("http://127.0.0.1:1234/oidctoken", false),
            ("http://localhost.evil.example/oidctoken", true),
            ("ftp://127.0.0.1/x", true),
            ("not a url", true),
        ] {
            let e = new(uri, allow).unwrap_err();
            assert!(
                matches!(e.kind(), crate::ErrorKind::InvalidConfiguration),
                "{uri}: {e}"
            );
            assert!(!e.to_string().contains("system-token"), "{e}");
        }
    }

    #[test]
    fn all_four_values_are_required() {
        for (t, c, s, token) in [("", "c", "s", "x"), ("t", "c", "s", "")] {
            let e = AzurePipelinesCredential::new(t, c, s, Secret::new(token), Default::default())
                .unwrap_err();
            assert!(matches!(e.kind(), crate::ErrorKind::InvalidConfiguration));
        }
    }
}
