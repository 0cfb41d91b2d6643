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
    /// The discovery endpoint must be https: its answer chooses where the client secret or
    /// assertion is sent.
    pub(crate) fn new(
        credential: &'static str,
        authority: Authority,
        disable_instance_discovery: bool,
        discovery_endpoint: Option<&str>,
    ) -> Result<Self, Error> {
        let discovery_endpoint = discovery_endpoint.unwrap_or(PUBLIC_DISCOVERY).trim();
        let valid = url::Url::parse(discovery_endpoint).is_ok_and(|url| {
            url.scheme() == "https"
                && url.host_str().is_some()
                && url.username().is_empty()
                && url.password().is_none()
        });
        if !valid {
            return Err(Error::config(
                credential,
                "instance_discovery_endpoint must be an https URL with a host and no user \
                 information, e.g. https://login.microsoftonline.com/common/discovery/instance",
            ));
        }
        Ok(Endpoints {
            trusted: disable_instance_discovery || authority.is_well_known(),
            authority,
            discovery_endpoint: discovery_endpoint.to_owned(),
            discovered: Mutex::new(HashMap::new()),
        })
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
        let (metadata_url, aliases) = self.discover(credential, pipeline, tenant).await?;
        let metadata = get_json(credential, pipeline, metadata_url.as_str()).await?;
        // Only a token endpoint of the authority's own cloud receives the app's credential.
        let endpoint = metadata
            .get("token_endpoint")
            .and_then(Value::as_str)
            .and_then(|e| url::Url::parse(e).ok())
            .filter(|url| url.scheme() == "https" && self.same_cloud(url, &aliases))
            .ok_or_else(|| {
                Error::failed(
                    credential,
                    format!(
                        "the OpenID metadata at {metadata_url} has no https token_endpoint on \
                         the authority's host {} or one of its aliases",
                        self.authority.host_and_port()
                    ),
                )
            })?
            .to_string();
        self.lock().insert(tenant.to_owned(), endpoint.clone());
        Ok(endpoint)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.discovered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `url` is on the authority's host or one of the aliases instance discovery named
    /// (Entra names hosts, the emulator `host:port`).
    fn same_cloud(&self, url: &url::Url, aliases: &[String]) -> bool {
        let Some(host) = url.host_str() else {
            return false;
        };
        let with_port = url
            .port_or_known_default()
            .map(|port| format!("{host}:{port}"));
        let names = [Some(host.to_owned()), with_port];
        std::iter::once(self.authority.host_and_port())
            .chain(aliases.iter().map(String::as_str))
            .any(|known| {
                names
                    .iter()
                    .flatten()
                    .any(|n| n.eq_ignore_ascii_case(known))
            })
    }

    /// Asks instance discovery whether the authority is valid; returns the tenant's OpenID
    /// metadata URL (https only) and the cloud's host aliases.
    async fn discover(
        &self,
        credential: &'static str,
        pipeline: &Pipeline,
        tenant: &str,
    ) -> Result<(url::Url, Vec<String>), Error> {
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
                &[],
            ));
        }
        let metadata_url = body
            .as_ref()
            .and_then(|b| b.get("tenant_discovery_endpoint"))
            .and_then(Value::as_str)
            .and_then(|e| url::Url::parse(e).ok())
            .filter(|url| url.scheme() == "https")
            .ok_or_else(|| {
                Error::failed(
                    credential,
                    "instance discovery answered without an https tenant_discovery_endpoint",
                )
            })?;
        let aliases = body
            .as_ref()
            .and_then(|b| b.get("metadata"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|cloud| cloud.get("aliases").and_then(Value::as_array))
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        Ok((metadata_url, aliases))
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
            &[],
        ));
    }
    serde_json::from_slice(response.body()).map_err(|_| {
        Error::failed(
            credential,
            format!("the OpenID metadata at {url} is not JSON"),
        )
    })
}
