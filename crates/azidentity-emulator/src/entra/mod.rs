//! The Entra ID endpoints: metadata, instance discovery, keys and the token endpoint.

pub(crate) mod api;
mod assertion;
mod authorization_code;
pub(crate) mod authorize;
pub(crate) mod cae;
pub(crate) mod claims;
mod client_auth;
pub(crate) mod control;
pub(crate) mod delegated;
pub(crate) mod device_code;
pub(crate) mod discovery;
pub(crate) mod error;
pub(crate) mod grants;
pub(crate) mod jwt;
pub(crate) mod keys;
pub(crate) mod metadata;
mod on_behalf_of;
mod password;
mod refresh_token;
pub(crate) mod scope;
pub(crate) mod token;
pub(crate) mod userrealm;

use http::HeaderMap;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::config::Config;
use crate::http::{Response, header_str, set_header};

/// Entra backdates `iat` and `nbf` of the tokens it issues by five minutes, to absorb clock
/// skew between machines; a token's real issue time is `iat` plus this.
pub(crate) const BACKDATE_SECS: i64 = 300;
/// Entra tolerates five minutes of clock skew on the `exp` and `nbf` of assertions it checks.
pub(crate) const SKEW_SECS: i64 = 300;
/// The OAuth `client_assertion_type` of a JWT client assertion.
pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The tenant of the Microsoft account (consumer) directory, which Entra names for `consumers`.
pub(crate) const CONSUMERS_TENANT_ID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// How the tenant segment of a path resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TenantRef<'a> {
    /// A registered tenant, in its registered spelling.
    Registered(&'a str),
    Common,
    Organizations,
    Consumers,
}

impl<'a> TenantRef<'a> {
    pub fn resolve(config: &'a Config, segment: &str) -> Option<Self> {
        if let Some(tenant) = config.tenant(segment) {
            return Some(Self::Registered(tenant));
        }
        match segment.to_ascii_lowercase().as_str() {
            "common" => Some(Self::Common),
            "organizations" => Some(Self::Organizations),
            "consumers" => Some(Self::Consumers),
            _ => None,
        }
    }
}

/// Per-request ids and the clock reading used in an answer.
pub(crate) struct RequestContext {
    pub trace_id: String,
    pub correlation_id: String,
    client_request_id: Option<String>,
    pub now: OffsetDateTime,
}

impl RequestContext {
    /// Entra uses the caller's `client-request-id` as the correlation id and echoes it back.
    /// `now` is the emulator's clock (Unix seconds).
    pub fn new(headers: &HeaderMap, now: i64) -> Self {
        let client_request_id = header_str(headers, "client-request-id")
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        Self {
            trace_id: uuid::Uuid::new_v4().to_string(),
            correlation_id: client_request_id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            client_request_id,
            now: OffsetDateTime::from_unix_timestamp(now)
                .unwrap_or_else(|_| OffsetDateTime::now_utc()),
        }
    }

    #[cfg(test)]
    pub fn for_tests(correlation_id: &str) -> Self {
        Self {
            trace_id: "trace".to_owned(),
            correlation_id: correlation_id.to_owned(),
            client_request_id: Some(correlation_id.to_owned()),
            now: OffsetDateTime::now_utc(),
        }
    }

    /// Entra's timestamp format, e.g. `2024-05-06 07:08:09Z`.
    pub fn timestamp(&self) -> String {
        self.now
            .format(format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second]Z"
            ))
            .unwrap_or_default()
    }

    pub fn unix_now(&self) -> i64 {
        self.now.unix_timestamp()
    }

    /// The headers Entra puts on every answer.
    pub fn decorate(&self, response: &mut Response) {
        set_header(response, "x-ms-request-id", &self.trace_id);
        if let Some(id) = &self.client_request_id {
            set_header(response, "client-request-id", id);
        }
        set_header(response, "x-ms-ests-server", "2.1.0 - azidentity-emulator");
        set_header(response, "cache-control", "no-store, no-cache");
        set_header(response, "pragma", "no-cache");
    }
}
