//! What each managed identity source supplies to the shared engine, and helpers they share for
//! reading their endpoint and secret from the environment.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use http::header::HeaderName;
use serde_json::{Map, Value};

use super::id::SelectorNames;
use super::{ManagedIdentityId, ManagedIdentitySource, response};
use crate::pipeline::{Outgoing, RetryPolicy};
use crate::platform::{HttpClient, TransportError};
use crate::{Env, Error, HttpErrorDetails, Platform, RetryOptions, Secret};

/// The credential every managed identity error is reported under.
pub(crate) const NAME: &str = "ManagedIdentityCredential";

/// Connect timeout for endpoints on the host itself (they answer at once or not at all).
pub(crate) const LOCAL_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A header carrying a host's secret: the value sent is marked sensitive (HTTP stacks never
/// print it) and the secret itself is kept as a `Secret`, zeroed on drop.
#[derive(Clone)]
pub(crate) struct SecretHeader {
    name: HeaderName,
    value: HeaderValue,
    _secret: Secret,
}

impl fmt::Debug for SecretHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretHeader")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// A token endpoint on the host, and the identity asked for there: a GET with `api-version`,
/// `resource` and the identity's selector in the query, plus the host's secret header if any.
#[derive(Clone)]
pub(crate) struct LocalEndpoint {
    url: url::Url,
    endpoint: String,
    id: ManagedIdentityId,
    /// `None` where requests are not query GETs (Cloud Shell posts a form).
    api_version: Option<&'static str>,
    selectors: SelectorNames,
    secret: Option<SecretHeader>,
}

impl fmt::Debug for LocalEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalEndpoint")
            .field("endpoint", &self.endpoint)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl LocalEndpoint {
    pub(crate) fn new(
        url: url::Url,
        id: ManagedIdentityId,
        api_version: Option<&'static str>,
        selectors: SelectorNames,
    ) -> Self {
        LocalEndpoint {
            endpoint: url.to_string(),
            url,
            id,
            api_version,
            selectors,
            secret: None,
        }
    }

    /// Sends `secret` with every request.
    pub(crate) fn with_secret(mut self, secret: SecretHeader) -> Self {
        self.secret = Some(secret);
        self
    }

    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }

    /// The token request for `resource`, secret header included, without other headers.
    pub(crate) fn get(&self, resource: &str) -> Outgoing {
        let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(3);
        if let Some(version) = self.api_version {
            pairs.push(("api-version", version));
        }
        pairs.push(("resource", resource));
        pairs.extend(self.id.selector(self.selectors));
        let mut request = Outgoing::get(with_query(&self.url, &pairs));
        if let Some(secret) = &self.secret {
            request
                .headers
                .push((secret.name.clone(), secret.value.clone()));
        }
        request
    }
}

/// One managed identity source: how to ask for a token and how to read the answer. The engine
/// does the rest (retries, challenge round trip, parsing, classification, caching).
pub(crate) trait MiSource: Send + Sync + fmt::Debug {
    fn kind(&self) -> ManagedIdentitySource;

    /// Where and for which identity tokens are requested.
    fn local(&self) -> &LocalEndpoint;

    /// The endpoint, for messages (never holds a secret).
    fn endpoint(&self) -> &str {
        &self.local().endpoint
    }

    /// The identity this source asks for.
    fn id(&self) -> &ManagedIdentityId {
        &self.local().id
    }

    /// The token request for `resource`.
    fn request(&self, resource: &str) -> Outgoing;

    /// The transport to send it with.
    fn transport(&self, platform: &Platform) -> Result<Arc<dyn HttpClient>, String> {
        platform.plain_http_client(LOCAL_CONNECT_TIMEOUT)
    }

    /// How requests are retried.
    fn retry_policy(&self, options: &RetryOptions) -> RetryPolicy {
        RetryPolicy::from_options(options)
    }

    /// A follow-up request answering a challenge in the first response (Azure Arc). `Ok(None)`
    /// means the first response is the answer.
    fn answer_challenge(
        &self,
        _first: &http::Response<Bytes>,
        _request: &Outgoing,
    ) -> Result<Option<Outgoing>, Error> {
        Ok(None)
    }

    /// `expires_on` in epoch seconds; sources with other formats override this.
    fn expires_on(&self, value: &Value) -> Option<i64> {
        response::integer(value)
    }

    /// Checks a successful body beyond the common fields (Azure Arc's user-assigned echo).
    fn check_body(&self, _body: &Map<String, Value>) -> Result<(), Error> {
        Ok(())
    }

    /// The error for a refusal (a non-2xx status after retries). `in_chain`: the credential is a
    /// member of a credential chain, where "this host cannot give a token" should let the chain
    /// go on.
    fn status_error(&self, details: HttpErrorDetails, _in_chain: bool) -> Error {
        let status = details.status;
        Error::failed(
            NAME,
            format!(
                "{} at {} answered HTTP {status}: {}. {}",
                self.kind(),
                self.endpoint(),
                response::summary(&details),
                self.advice()
            ),
        )
        .with_http(details)
    }

    /// The error when no HTTP answer arrived (after retries).
    fn transport_error(&self, error: TransportError) -> Error {
        Error::failed(
            NAME,
            format!(
                "{} at {} did not answer: {error}. The environment says this host offers \
                 managed identity there; check that the endpoint is running",
                self.kind(),
                self.endpoint()
            ),
        )
        .with_source(error)
    }

    /// Whether a 2xx answer that is not JSON means "not available here" (something else
    /// answered) rather than a failure. Python decides by the content type.
    fn non_json_is_unavailable(&self, json_content_type: bool) -> bool {
        !json_content_type
    }

    /// What to do about a refusal.
    fn advice(&self) -> &'static str {
        "Check that managed identity is enabled for this resource and, for a user-assigned \
         identity, that it is assigned to the resource and the id is right"
    }
}

/// An endpoint URL from an environment variable: absolute, http or https (https only when
/// `https_only`), no user info.
pub(crate) fn endpoint_url(env: &Env, var: &str, https_only: bool) -> Result<url::Url, Error> {
    let value = env.non_empty(var).unwrap_or_default();
    let value = value.trim();
    let url = url::Url::parse(value).map_err(|e| {
        Error::config(
            NAME,
            format!("{var} is not a valid URL ({e}); it must be like http://host:port/path"),
        )
    })?;
    let scheme_ok = match url.scheme() {
        "https" => true,
        "http" => !https_only,
        _ => false,
    };
    if !scheme_ok
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        let schemes = if https_only { "https" } else { "http or https" };
        return Err(Error::config(
            NAME,
            format!(
                "{var} must be an {schemes} URL with a host and no user name (its scheme is {:?})",
                url.scheme()
            ),
        ));
    }
    Ok(url)
}

/// `base` with the query pairs appended (percent-encoded).
pub(crate) fn with_query(base: &url::Url, pairs: &[(&str, &str)]) -> String {
    let mut url = base.clone();
    {
        let mut query = url.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    url.into()
}

/// The secret in environment variable `var`, sent as header `name`.
pub(crate) fn secret_header(
    env: &Env,
    var: &str,
    name: &'static str,
) -> Result<SecretHeader, Error> {
    let secret = Secret::new(env.non_empty(var).unwrap_or_default());
    let mut value = HeaderValue::from_str(secret.secret()).map_err(|_| {
        Error::config(
            NAME,
            format!("{var} holds characters that cannot be sent in an HTTP header"),
        )
    })?;
    value.set_sensitive(true);
    Ok(SecretHeader {
        name: HeaderName::from_static(name),
        value,
        _secret: secret,
    })
}

/// The error for a user-assigned id on a host that cannot select one.
pub(crate) fn user_assigned_unsupported(
    kind: ManagedIdentitySource,
    id: &ManagedIdentityId,
) -> Error {
    Error::config(
        NAME,
        format!(
            "{kind} does not support selecting a user-assigned identity (asked for the {id}); \
             the identity is configured on the host. Use ManagedIdentityId::SystemAssigned"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_validation() {
        let env = Env::from_pairs([
            ("A", "http://127.0.0.1:1/msi/token"),
            ("B", "ftp://x"),
            ("C", "not a url"),
            ("D", "http://user:pw@host/"),
        ]);
        assert!(endpoint_url(&env, "A", false).is_ok());
        assert!(endpoint_url(&env, "A", true).is_err());
        for var in ["B", "C", "D", "MISSING"] {
            let e = endpoint_url(&env, var, false).unwrap_err();
            assert!(e.message().contains(var), "{e}");
            assert!(!e.message().contains("pw@"), "{e}");
        }
        let url = endpoint_url(&env, "A", false).unwrap();
        assert_eq!(
            with_query(&url, &[("resource", "https://x/"), ("a b", "c&d")]),
            "http://127.0.0.1:1/msi/token?resource=https%3A%2F%2Fx%2F&a+b=c%26d"
        );
    }

    #[test]
    fn secret_headers_are_sensitive() {
        let env = Env::from_pairs([("S", "hunter2"), ("BAD", "a\nb")]);
        let header = secret_header(&env, "S", "secret").unwrap();
        assert!(header.value.is_sensitive());
        assert_eq!(header._secret.secret(), "hunter2");
        assert!(!format!("{:?}", header.value).contains("hunter2"));
        let e = secret_header(&env, "BAD", "secret").unwrap_err();
        assert!(!e.to_string().contains('\n'));
    }
}
