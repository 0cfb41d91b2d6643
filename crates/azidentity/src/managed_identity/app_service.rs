//! App Service and Azure Functions (the 2019-08-01 API): a local endpoint guarded by a per-app
//! secret header.

use http::HeaderValue;
use http::header::HeaderName;

use super::source::{MiSource, endpoint_url, secret_header, with_query};
use super::{ManagedIdentityId, ManagedIdentitySource};
use crate::pipeline::Outgoing;
use crate::{Env, EnvironmentVariables as Vars, Error, Secret};

const API_VERSION: &str = "2019-08-01";
/// MSAL's names; App Service calls the resource id `mi_res_id`.
const SELECTORS: super::id::SelectorNames = super::id::SelectorNames {
    client_id: "client_id",
    object_id: "object_id",
    resource_id: "mi_res_id",
};

pub(crate) struct AppService {
    url: url::Url,
    endpoint: String,
    /// Kept as a `Secret` so it is zeroed on drop; the header value is marked sensitive.
    _secret: Secret,
    header: HeaderValue,
    id: ManagedIdentityId,
}

impl std::fmt::Debug for AppService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppService")
            .field("endpoint", &self.endpoint)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AppService {
    pub(crate) fn new(env: &Env, id: ManagedIdentityId) -> Result<Self, Error> {
        let url = endpoint_url(env, Vars::IDENTITY_ENDPOINT, false)?;
        let (secret, header) = secret_header(env, Vars::IDENTITY_HEADER)?;
        Ok(AppService {
            endpoint: url.to_string(),
            url,
            _secret: secret,
            header,
            id,
        })
    }
}

impl MiSource for AppService {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::AppService
    }

    fn endpoint(&self) -> &str {
        &self.endpoint
    }

    fn id(&self) -> &ManagedIdentityId {
        &self.id
    }

    fn request(&self, resource: &str) -> Outgoing {
        let mut pairs = vec![("api-version", API_VERSION), ("resource", resource)];
        pairs.extend(self.id.selector(SELECTORS));
        let mut request = Outgoing::get(with_query(&self.url, &pairs));
        request.headers.push((
            HeaderName::from_static("x-identity-header"),
            self.header.clone(),
        ));
        // Unneeded by App Service but required by Azure Automation, which shares the API.
        request.headers.push((
            HeaderName::from_static("metadata"),
            HeaderValue::from_static("true"),
        ));
        request
    }

    fn advice(&self) -> &'static str {
        "Check that the app has managed identity turned on and, for a user-assigned identity, \
         that it is added to the app and the id is right"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shape() {
        let env = Env::from_pairs([
            ("IDENTITY_ENDPOINT", "http://127.0.0.1:8081/msi/token"),
            ("IDENTITY_HEADER", "header-secret"),
        ]);
        let source = AppService::new(&env, ManagedIdentityId::ResourceId("/r".into())).unwrap();
        let r = source.request("https://vault.azure.net");
        assert_eq!(
            r.url,
            "http://127.0.0.1:8081/msi/token?api-version=2019-08-01&resource=https%3A%2F%2Fvault.azure.net&mi_res_id=%2Fr"
        );
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "x-identity-header" && v == "header-secret")
        );
        assert!(!format!("{source:?} {r:?}").contains("header-secret"));
    }
}
