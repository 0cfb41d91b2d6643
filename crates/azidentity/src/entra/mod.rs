//! The Microsoft Entra ID protocol engine: token requests for every grant, written once and
//! shared by the credentials.

mod advice;
pub(crate) mod assertion;
#[cfg(feature = "interactive")]
pub(crate) mod auth_code_flow;
pub(crate) mod claims;
pub(crate) mod confidential;
pub(crate) mod device_code;
mod discovery;
pub(crate) mod public_client;
#[cfg(feature = "interactive")]
pub(crate) mod redirect_server;
pub(crate) mod region;
pub(crate) mod response;
pub(crate) mod user;

use crate::authority::{self, Authority};
use crate::pipeline::{Outgoing, Pipeline};
use crate::{ClientOptions, Error};
use discovery::Endpoints;
use response::TokenResponse;

/// What every Entra credential shares: identity of the client, where to send requests and how.
#[derive(Debug)]
pub(crate) struct EntraClient {
    credential: &'static str,
    tenant_id: String,
    client_id: String,
    authority: Authority,
    /// MSAL's `authority.instance`: the host, lowercase, without a port (the token cache's
    /// `environment`).
    environment: String,
    endpoints: Endpoints,
    pipeline: Pipeline,
    additionally_allowed: Vec<String>,
    multitenant_disabled: bool,
}

impl EntraClient {
    pub(crate) fn new(
        credential: &'static str,
        tenant_id: &str,
        client_id: &str,
        options: &ClientOptions,
    ) -> Result<Self, Error> {
        authority::validate_tenant_id(credential, tenant_id)?;
        if client_id.trim().is_empty() {
            return Err(Error::config(
                credential,
                "client_id is empty; pass the application (client) id of the app registration",
            ));
        }
        let authority: Authority = options.authority(credential)?;
        let environment = url::Url::parse(authority.base())
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
            .unwrap_or_else(|| authority.host_and_port().to_ascii_lowercase());
        Ok(EntraClient {
            environment,
            credential,
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            authority: authority.clone(),
            endpoints: Endpoints::new(
                credential,
                authority,
                options.disable_instance_discovery,
                options.instance_discovery_endpoint.as_deref(),
            )?,
            pipeline: Pipeline::new(credential, options)?,
            additionally_allowed: options.additionally_allowed_tenants.clone(),
            multitenant_disabled: options.multitenant_disabled(),
        })
    }

    pub(crate) fn credential(&self) -> &'static str {
        self.credential
    }

    pub(crate) fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The token cache's `environment` for this client's authority.
    pub(crate) fn environment(&self) -> &str {
        &self.environment
    }

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.pipeline.clock().now()
    }

    /// The tenant a request goes to (Python's `resolve_tenant`).
    #[inline]
    pub(crate) fn resolve_tenant<'a>(
        &'a self,
        requested: Option<&'a str>,
    ) -> Result<&'a str, Error> {
        // The common case, on every cached lookup: no other tenant asked for.
        if requested.is_none_or(str::is_empty) {
            return Ok(&self.tenant_id);
        }
        authority::resolve_tenant(
            self.credential,
            &self.tenant_id,
            requested,
            &self.additionally_allowed,
            self.multitenant_disabled,
        )
    }

    /// The token endpoint for `tenant` (used as the audience of client assertions too).
    pub(crate) async fn token_endpoint(&self, tenant: &str) -> Result<String, Error> {
        self.endpoints
            .token_endpoint(self.credential, &self.pipeline, tenant)
            .await
    }

    /// The token endpoint of `region` for `tenant` (regional hosts need no discovery).
    pub(crate) fn regional_token_endpoint(&self, region: &str, tenant: &str) -> String {
        format!(
            "{}/{tenant}/oauth2/v2.0/token",
            region::regional_base(&self.authority, region)
        )
    }

    /// The clock of this client's platform.
    pub(crate) fn clock(&self) -> &std::sync::Arc<dyn crate::platform::Clock> {
        self.pipeline.clock()
    }

    /// The tenant's endpoint next to its token endpoint, e.g. `devicecode` or `authorize`.
    pub(crate) async fn endpoint(&self, tenant: &str, name: &str) -> Result<String, Error> {
        let token = self.token_endpoint(tenant).await?;
        match token.strip_suffix("/token") {
            Some(base) => Ok(format!("{base}/{name}")),
            None => Err(Error::failed(
                self.credential,
                format!("the token endpoint {token} does not end in /token; cannot find {name}"),
            )),
        }
    }

    /// POSTs `form` to an Entra endpoint that answers JSON (other than a token), such as the
    /// device authorization endpoint; an error answer becomes an error naming the AADSTS code.
    pub(crate) async fn post_form(
        &self,
        endpoint: String,
        form: &[(&str, &str)],
    ) -> Result<serde_json::Value, Error> {
        const SERVICE: &str = "Microsoft Entra ID";
        let response = self
            .pipeline
            .send(self.credential, &Outgoing::form_post(endpoint, form))
            .await?;
        let known = crate::redact::form_secrets(form);
        if !response.status().is_success() {
            return Err(response::parse_error(
                self.credential,
                SERVICE,
                response.status().as_u16(),
                response.headers(),
                response.body(),
                &known,
            ));
        }
        serde_json::from_slice(response.body()).map_err(|_| {
            Error::failed(
                self.credential,
                format!(
                    "unexpected response from {SERVICE}: the body is not JSON: {}",
                    crate::redact::body_without_known(response.body(), &known)
                ),
            )
        })
    }

    /// POSTs `form` to the tenant's token endpoint and parses the answer.
    pub(crate) async fn request_token(
        &self,
        endpoint: String,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, Error> {
        let requested_at = self.pipeline.clock().now();
        let response = self
            .pipeline
            .send(self.credential, &Outgoing::form_post(endpoint, form))
            .await?;
        const SERVICE: &str = "Microsoft Entra ID";
        let known = crate::redact::form_secrets(form);
        if !response.status().is_success() {
            return Err(response::parse_error(
                self.credential,
                SERVICE,
                response.status().as_u16(),
                response.headers(),
                response.body(),
                &known,
            ));
        }
        let parsed = response::parse_token(
            self.credential,
            SERVICE,
            response.body(),
            requested_at,
            &known,
        )?;
        tracing::info!(
            credential = self.credential,
            expires_on = %parsed.token.expires_on(),
            "acquired a token from Microsoft Entra ID"
        );
        Ok(parsed)
    }
}
