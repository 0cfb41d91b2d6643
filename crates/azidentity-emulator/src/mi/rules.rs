//! The checks every GET token endpoint on a host makes before it mints (path, method, its
//! guard header, `api-version`, `resource`, the identity selectors), driven by one table per
//! host with the host's own wording and error shape.

use http::{Method, StatusCode};

use super::identity::{self, IdKind, NotResolved, Resolved};
use super::server::{HostState, MiRequest};
use crate::http::{Response, not_found};

/// What proves the caller may ask.
pub(crate) enum Guard {
    /// `Metadata: true` (IMDS, Azure Arc): a browser cannot be tricked into sending it.
    Metadata,
    /// The host's secret in this header (App Service, Azure ML, Service Fabric).
    Secret(&'static str),
}

/// An answer: the host's error code (ignored by hosts whose body has none) and message.
pub(crate) type Refusal = (&'static str, &'static str);

/// The answer to a request that failed a check (boxed: responses are large).
pub(crate) type Refused = Box<Response>;

pub(crate) struct HostRules {
    pub path: &'static str,
    pub guard: Guard,
    /// The versions accepted; `api_version_invalid` answers a missing one too when
    /// `api_version_missing` is `None`.
    pub api_versions: &'static [&'static str],
    pub selectors: &'static [(&'static str, IdKind)],
    /// The host's error body.
    pub error: fn(StatusCode, &str, &str) -> Response,
    pub method: Refusal,
    pub guard_failed: Refusal,
    pub api_version_missing: Option<Refusal>,
    pub api_version_invalid: Refusal,
    /// The code of a bad `resource` (the message says what is wrong).
    pub resource_code: &'static str,
    /// With its status: Service Fabric answers 404 for an application without identity.
    pub not_found: (StatusCode, Refusal),
    pub ambiguous: Refusal,
}

impl HostRules {
    fn refuse(&self, status: StatusCode, (code, message): Refusal) -> Refused {
        Box::new((self.error)(status, code, message))
    }

    /// Path, method, guard and `api-version`.
    pub(crate) fn check(&self, state: &HostState, request: &MiRequest) -> Result<(), Refused> {
        // One trailing slash is the same resource: msal-node turns IMDS's endpoint into a URL
        // string ending in `/`, and the hosts answer it.
        let path = request.path.strip_suffix('/').unwrap_or(&request.path);
        if path != self.path {
            return Err(Box::new(not_found()));
        }
        if request.method != Method::GET {
            return Err(self.refuse(StatusCode::METHOD_NOT_ALLOWED, self.method));
        }
        let guarded = match self.guard {
            Guard::Metadata => request
                .header("metadata")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            Guard::Secret(name) => request.header(name) == Some(state.secret.as_str()),
        };
        if !guarded {
            let status = match self.guard {
                Guard::Metadata => StatusCode::BAD_REQUEST,
                Guard::Secret(_) => StatusCode::UNAUTHORIZED,
            };
            return Err(self.refuse(status, self.guard_failed));
        }
        match (request.query_value("api-version"), self.api_version_missing) {
            (None, Some(missing)) => Err(self.refuse(StatusCode::BAD_REQUEST, missing)),
            (Some(v), _) if self.api_versions.contains(&v) => Ok(()),
            _ => Err(self.refuse(StatusCode::BAD_REQUEST, self.api_version_invalid)),
        }
    }

    /// The `resource` and the identity its selectors name (`selectors` overrides the table,
    /// for a legacy Arc agent that knows none).
    pub(crate) fn resolve<'r>(
        &self,
        state: &HostState,
        request: &'r MiRequest,
        selectors: Option<&[(&str, IdKind)]>,
    ) -> Result<(&'r str, Resolved), Refused> {
        let resource =
            identity::check_resource(request.query_value("resource")).map_err(|why| {
                Box::new((self.error)(
                    StatusCode::BAD_REQUEST,
                    self.resource_code,
                    &why,
                ))
            })?;
        let selectors = selectors.unwrap_or(self.selectors);
        let config = state.shared.config();
        let added = config.added_identities(state.host.kind);
        match identity::resolve(&state.host, added, &request.query, selectors) {
            Ok(resolved) => Ok((resource, resolved)),
            Err(NotResolved::NotFound) => Err(self.refuse(self.not_found.0, self.not_found.1)),
            Err(NotResolved::Ambiguous) => {
                Err(self.refuse(StatusCode::BAD_REQUEST, self.ambiguous))
            }
        }
    }

    /// [`HostRules::check`], then [`HostRules::resolve`].
    pub(crate) fn preflight<'r>(
        &self,
        state: &HostState,
        request: &'r MiRequest,
    ) -> Result<(&'r str, Resolved), Refused> {
        self.check(state, request)?;
        self.resolve(state, request, None)
    }
}
