//! Azure Machine Learning compute: the App Service 2017-09-01 API, which spells the client id
//! `clientid` and may send `expires_on` as a date string.

use serde_json::Value;

use super::source::{LocalEndpoint, MiSource, endpoint_url, secret_header};
use super::{ManagedIdentityId, ManagedIdentitySource, response};
use crate::pipeline::Outgoing;
use crate::{Env, EnvironmentVariables as Vars, Error};

const API_VERSION: &str = "2017-09-01";
/// `clientid` without an underscore is a known quirk of this API version.
const SELECTORS: super::id::SelectorNames = super::id::SelectorNames {
    client_id: "clientid",
    object_id: "object_id",
    resource_id: "msi_res_id",
};

#[derive(Debug)]
pub(crate) struct AzureMl {
    local: LocalEndpoint,
}

impl AzureMl {
    pub(crate) fn new(env: &Env, id: ManagedIdentityId) -> Result<Self, Error> {
        let url = endpoint_url(env, Vars::MSI_ENDPOINT, false)?;
        let secret = secret_header(env, Vars::MSI_SECRET, "secret")?;
        Ok(AzureMl {
            local: LocalEndpoint::new(url, id, Some(API_VERSION), SELECTORS).with_secret(secret),
        })
    }
}

impl MiSource for AzureMl {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::AzureMl
    }

    fn local(&self) -> &LocalEndpoint {
        &self.local
    }

    fn request(&self, resource: &str) -> Outgoing {
        self.local.get(resource)
    }

    fn expires_on(&self, value: &Value) -> Option<i64> {
        response::integer(value).or_else(|| value.as_str().and_then(response::ml_date))
    }

    fn advice(&self) -> &'static str {
        "Check that the compute instance or cluster has a managed identity assigned and, for a \
         user-assigned identity, that the id is right"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shape_and_dates() {
        let env = Env::from_pairs([
            ("MSI_ENDPOINT", "http://127.0.0.1:8082/token"),
            ("MSI_SECRET", "ml-secret"),
        ]);
        let source = AzureMl::new(&env, ManagedIdentityId::ClientId("c".into())).unwrap();
        let r = source.request("https://storage.azure.com");
        assert!(
            r.url.ends_with(
                "api-version=2017-09-01&resource=https%3A%2F%2Fstorage.azure.com&clientid=c"
            ),
            "{}",
            r.url
        );
        assert!(
            r.headers
                .iter()
                .any(|(n, v)| n == "secret" && v == "ml-secret")
        );
        assert_eq!(
            source.expires_on(&Value::from("1579152252")),
            Some(1_579_152_252)
        );
        assert_eq!(
            source.expires_on(&Value::from("1/16/2020 5:24:12 AM +00:00")),
            Some(1_579_152_252)
        );
        assert_eq!(source.expires_on(&Value::from("tomorrow")), None);
    }
}
