//! App Service and Azure Functions (the 2019-08-01 API): a local endpoint guarded by a per-app
//! secret header.

use http::HeaderValue;
use http::header::HeaderName;

use super::source::{LocalEndpoint, MiSource, endpoint_url, secret_header};
use super::{ManagedIdentityId, ManagedIdentitySource};
use crate::pipeline::Outgoing;
use crate::{Env, EnvironmentVariables as Vars, Error};

const API_VERSION: &str = "2019-08-01";
/// MSAL's names; App Service calls the resource id `mi_res_id`.
const SELECTORS: super::id::SelectorNames = super::id::SelectorNames {
    client_id: "client_id",
    object_id: "object_id",
    resource_id: "mi_res_id",
};

#[derive(Debug)]
pub(crate) struct AppService {
    local: LocalEndpoint,
}

impl AppService {
    pub(crate) fn new(env: &Env, id: ManagedIdentityId) -> Result<Self, Error> {
        let url = endpoint_url(env, Vars::IDENTITY_ENDPOINT, false)?;
        let secret = secret_header(env, Vars::IDENTITY_HEADER, "x-identity-header")?;
        Ok(AppService {
            local: LocalEndpoint::new(url, id, Some(API_VERSION), SELECTORS).with_secret(secret),
        })
    }
}

impl MiSource for AppService {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::AppService
    }

    fn local(&self) -> &LocalEndpoint {
        &self.local
    }

    fn request(&self, resource: &str) -> Outgoing {
        let mut request = self.local.get(resource);
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
