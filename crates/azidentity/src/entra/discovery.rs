//! Where to send token requests: the Entra endpoint layout for trusted hosts, instance discovery
//! and OpenID metadata for the others (MSAL's authority validation).
//!
//! Trusted hosts (Microsoft's clouds, or any host when discovery is disabled) use the fixed
//! `{host}/{tenant}/oauth2/v2.0/token` layout without a metadata round trip, as Python's
//! `AadClient` does; that keeps a cold token to one request.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use serde_json::Value;

use super::response;
use crate::authority::Authority;
use crate::pipeline::{Outgoing, Pipeline};
use crate::{Error, ErrorKind};

const PUBLIC_DISCOVERY: &str = "https://login.microsoftonline.com/common/discovery/instance";

#[derive(Debug)]
pub(crate) struct Endpoints {
    authority: Authority,
    trusted: bool,
    discovery_endpoint: String,
    /// tenant -> token endpoint, for hosts validated by instance discovery.
    discovered: Mutex<HashMap<String, String>>,
}

impl Endpoints {
    pub(crate) fn new(
        authority: Authority,
        disable_instance_discovery: bool,
        discovery_endpoint: Option<&str>,
    ) -> Self {
        Endpoints {
            trusted: disable_instance_discovery || authority.is_well_known(),
            authority,
            discovery_endpoint: discovery_endpoint.unwrap_or(PUBLIC_DISCOVERY).to_owned(),
            discovered: Mutex::new(HashMap::new()),
        }
    }

    fn layout(&self, tenant: &str) -> String {
        if tenant.eq_ignore_ascii_case("adfs") {
            format!("{}/adfs/oauth2/token", self.authority.base())
        } else {
            format!("{}/{tenant}/oauth2/v2.0/token", self.authority.base())
        }
    }

    /// The token endpoint for `tenant`.
    pub(crate) async fn token_endpoint(
        &self,
        credential: &'static str,
        pipeline: &Pipeline,
        tenant: &str,
    ) -> Result<String, Error> {
        if self.trusted || tenant.eq_ignore_ascii_case("adfs") {
            return Ok(self.layout(tenant));
        }
        if let Some(found) = self.lock().get(tenant) {
            return Ok(found.clone());
        }
        let metadata_url = self.discover(credential, pipeline, tenant).await?;
        let metadata = get_json(credential, pipeline, &metadata_url).await?;
        let endpoint = metadata
            .get("token_endpoint")
            .and_then(Value::as_str)
            .filter(|e| e.starts_with("https://"))
            .ok_or_else(|| {
                Error::failed(
                    credential,
                    format!("the OpenID metadata at {metadata_url} has no https token_endpoint"),
                )
            })?
            .to_owned();
        self.lock().insert(tenant.to_owned(), endpoint.clone());
        Ok(endpoint)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.discovered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Asks instance discovery whether the authority is valid; returns the tenant's OpenID
    /// metadata URL.
    async fn discover(
        &self,
        credential: &'static str,
        pipeline: &Pipeline,
        tenant: &str,
    ) -> Result<String, Error> {
        let authorize = format!("{}/{tenant}/oauth2/v2.0/authorize", self.authority.base());
        let url = url::Url::parse_with_params(
            &self.discovery_endpoint,
            [
                ("api-version", "1.1"),
                ("authorization_endpoint", authorize.as_str()),
            ],
        )
        .map_err(|e| {
            Error::config(
                credential,
                format!("the instance discovery endpoint is invalid: {e}"),
            )
        })?;
        let response = pipeline
            .send(credential, &Outgoing::get(url.to_string()))
            .await?;
        let body: Option<Value> = serde_json::from_slice(response.body()).ok();
        let invalid = body
            .as_ref()
            .and_then(|b| b.get("error"))
            .and_then(Value::as_str)
            == Some("invalid_instance");
        if invalid {
            return Err(Error::new(
                ErrorKind::InvalidConfiguration,
                credential,
                format!(
                    "the authority {} is not well-known to Microsoft Entra ID. If it is a \
                     private cloud, Azure Stack or an emulator, set disable_instance_discovery \
                     to skip authority validation",
                    self.authority.host_and_port()
                ),
            ));
        }
        if !response.status().is_success() {
            return Err(response::parse_error(
                credential,
                "instance discovery",
                response.status().as_u16(),
                response.headers(),
                response.body(),
            ));
        }
        body.as_ref()
            .and_then(|b| b.get("tenant_discovery_endpoint"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::failed(
                    credential,
                    "instance discovery answered without a tenant_discovery_endpoint",
                )
            })
    }
}

async fn get_json(
    credential: &'static str,
    pipeline: &Pipeline,
    url: &str,
) -> Result<Value, Error> {
    let response = pipeline
        .send(credential, &Outgoing::get(url.to_owned()))
        .await?;
    if !response.status().is_success() {
        return Err(response::parse_error(
            credential,
            "the OpenID metadata endpoint",
            response.status().as_u16(),
            response.headers(),
            response.body(),
        ));
    }
    serde_json::from_slice(response.body()).map_err(|_| {
        Error::failed(
            credential,
            format!("the OpenID metadata at {url} is not JSON"),
        )
    })
}
