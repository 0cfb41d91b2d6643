//! The Microsoft Entra ID protocol engine: token requests for every grant, written once and
//! shared by the credentials.

mod advice;
pub(crate) mod assertion;
pub(crate) mod claims;
pub(crate) mod confidential;
mod discovery;
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
        Ok(EntraClient {
            credential,
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            authority: authority.clone(),
            endpoints: Endpoints::new(
                authority,
                options.disable_instance_discovery,
                options.instance_discovery_endpoint.as_deref(),
            ),
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

    pub(crate) fn now(&self) -> time::OffsetDateTime {
        self.pipeline.clock().now()
    }

    /// The tenant a request goes to (Python's `resolve_tenant`).
    pub(crate) fn resolve_tenant<'a>(
        &'a self,
        requested: Option<&'a str>,
    ) -> Result<&'a str, Error> {
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
        if !response.status().is_success() {
            return Err(response::parse_error(
                self.credential,
                SERVICE,
                response.status().as_u16(),
                response.headers(),
                response.body(),
            ));
        }
        let parsed =
            response::parse_token(self.credential, SERVICE, response.body(), requested_at)?;
        tracing::info!(
            credential = self.credential,
            expires_on = %parsed.token.expires_on,
            "acquired a token from Microsoft Entra ID"
        );
        Ok(parsed)
    }
}
