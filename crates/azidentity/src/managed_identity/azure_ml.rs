//! Azure Machine Learning compute: the App Service 2017-09-01 API, which spells the client id
//! `clientid` and may send `expires_on` as a date string.

use http::HeaderValue;
use http::header::HeaderName;
use serde_json::Value;

use super::source::{MiSource, endpoint_url, secret_header, with_query};
use super::{ManagedIdentityId, ManagedIdentitySource, response};
use crate::pipeline::Outgoing;
use crate::{Env, EnvironmentVariables as Vars, Error, Secret};

const API_VERSION: &str = "2017-09-01";
/// `clientid` without an underscore is a known quirk of this API version.
const SELECTORS: super::id::SelectorNames = super::id::SelectorNames {
    client_id: "clientid",
    object_id: "object_id",
    resource_id: "msi_res_id",
};

pub(crate) struct AzureMl {
    url: url::Url,
    endpoint: String,
    _secret: Secret,
    header: HeaderValue,
    id: ManagedIdentityId,
}

impl std::fmt::Debug for AzureMl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureMl")
            .field("endpoint", &self.endpoint)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl AzureMl {
    pub(crate) fn new(env: &Env, id: ManagedIdentityId) -> Result<Self, Error> {
        let url = endpoint_url(env, Vars::MSI_ENDPOINT, false)?;
        let (secret, header) = secret_header(env, Vars::MSI_SECRET)?;
        Ok(AzureMl {
            endpoint: url.to_string(),
            url,
            _secret: secret,
            header,
            id,
        })
    }
}

impl MiSource for AzureMl {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::AzureMl
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
        request
            .headers
            .push((HeaderName::from_static("secret"), self.header.clone()));
        request
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
