//! Azure Cloud Shell: a form POST to the local endpoint, for the signed-in user's token. There is
//! no user-assigned identity to select.

use http::HeaderValue;
use http::header::HeaderName;

use super::source::{LocalEndpoint, MiSource, endpoint_url, user_assigned_unsupported};
use super::{ManagedIdentityId, ManagedIdentitySource};
use crate::pipeline::Outgoing;
use crate::{Env, EnvironmentVariables as Vars, Error};

/// The identity is the signed-in user's: nothing is ever selected.
const NO_SELECTORS: super::id::SelectorNames = super::id::SelectorNames {
    client_id: "client_id",
    object_id: "object_id",
    resource_id: "mi_res_id",
};

#[derive(Debug)]
pub(crate) struct CloudShell {
    local: LocalEndpoint,
}

impl CloudShell {
    /// `in_chain`: inside `DefaultAzureCredential` Python tolerates an id (DAC passes
    /// `AZURE_CLIENT_ID` to every managed identity); Cloud Shell ignores it, so do we.
    pub(crate) fn new(env: &Env, id: ManagedIdentityId, in_chain: bool) -> Result<Self, Error> {
        if id.is_user_assigned() && !in_chain {
            return Err(user_assigned_unsupported(
                ManagedIdentitySource::CloudShell,
                &id,
            ));
        }
        let url = endpoint_url(env, Vars::MSI_ENDPOINT, false)?;
        Ok(CloudShell {
            local: LocalEndpoint::new(url, ManagedIdentityId::SystemAssigned, None, NO_SELECTORS),
        })
    }
}

impl MiSource for CloudShell {
    fn kind(&self) -> ManagedIdentitySource {
        ManagedIdentitySource::CloudShell
    }

    fn local(&self) -> &LocalEndpoint {
        &self.local
    }

    fn request(&self, resource: &str) -> Outgoing {
        let mut request =
            Outgoing::form_post(self.local.url().to_string(), &[("resource", resource)]);
        request.headers.push((
            HeaderName::from_static("metadata"),
            HeaderValue::from_static("true"),
        ));
        request
    }

    fn advice(&self) -> &'static str {
        "Sign in to Cloud Shell again, or check that the resource accepts tokens for your account"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_shape_and_refusal() {
        let env = Env::from_pairs([("MSI_ENDPOINT", "http://127.0.0.1:50342/oauth2/token")]);
        let source = CloudShell::new(&env, ManagedIdentityId::SystemAssigned, false).unwrap();
        let r = source.request("https://management.azure.com");
        assert_eq!(r.method, http::Method::POST);
        assert_eq!(r.url, "http://127.0.0.1:50342/oauth2/token");
        assert_eq!(&r.body[..], b"resource=https%3A%2F%2Fmanagement.azure.com");
        let e = CloudShell::new(&env, ManagedIdentityId::ClientId("c".into()), false).unwrap_err();
        assert!(matches!(e.kind(), crate::ErrorKind::InvalidConfiguration));
        assert!(CloudShell::new(&env, ManagedIdentityId::ClientId("c".into()), true).is_ok());
    }
}
