//! The engine of the interactive user credentials (device code, browser): silent first from an
//! MSAL token cache (in memory, or persistent and shared with Python and Microsoft's tools) for
//! the account of the `AuthenticationRecord`, then the interactive flow, whose answer is stored
//! as MSAL stores it and becomes the credential's record.

mod silent;

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};

use silent::Silent;

use super::response::TokenResponse;
use super::{EntraClient, claims};
use crate::cache::front::claims_of;
use crate::cache::persistent::{TokenCacheEvent, TokenCachePersistenceOptions, parse_account};
use crate::cache::store::{Partition, TokenStore};
use crate::cache::{CacheFront, Engine, Request};
use crate::{
    AccessToken, AuthenticationRecord, AzureAuthorityHosts, ClientOptions, Error, ErrorKind,
    TokenFuture, TokenRequestOptions,
};

/// Scopes MSAL adds to user flows: a refresh token, an ID token and the profile.
const RESERVED_SCOPES: [&str; 3] = ["offline_access", "openid", "profile"];

pub(crate) type FlowFuture<'a> =
    Pin<Box<dyn Future<Output = Result<TokenResponse, Error>> + Send + 'a>>;

/// The credential-specific interactive step.
pub(crate) trait InteractiveFlow: Send + Sync {
    /// The grant that establishes the account (`account_source` in the cache).
    fn grant_type(&self) -> &'static str;

    /// Signs the user in for `scope` (reserved scopes included) and redeems the grant.
    fn sign_in<'a>(
        &'a self,
        entra: &'a EntraClient,
        tenant: &'a str,
        scope: &'a str,
        claims: Option<&'a str>,
    ) -> FlowFuture<'a>;
}

/// How the engine is set up by a credential.
pub(crate) struct PublicClientOptions<'a> {
    pub credential: &'static str,
    pub tenant_id: Option<&'a str>,
    pub client_id: &'a str,
    pub client_options: &'a ClientOptions,
    pub persistence: Option<&'a TokenCachePersistenceOptions>,
    pub record: Option<AuthenticationRecord>,
    pub disable_automatic_authentication: bool,
}

/// The engine of the interactive credentials, with the cache front before it. The front's
/// partition is empty: the credential has one signed-in user at a time, and its cached tokens
/// are forgotten when another user signs in.
#[derive(Debug)]
pub(crate) struct PublicClient {
    front: CacheFront<PublicEngine>,
}

#[derive(Debug)]
struct PublicEngine {
    entra: EntraClient,
    authority_host: String,
    store: TokenStore,
    record: Mutex<Option<AuthenticationRecord>>,
    disable_automatic_authentication: bool,
}

impl PublicClient {
    /// A record overrides the client id and the authority, and its tenant is the default.
    pub(crate) fn new(setup: PublicClientOptions<'_>) -> Result<Self, Error> {
        let credential = setup.credential;
        let mut options = setup.client_options.clone();
        let (client_id, tenant_id) = match &setup.record {
            Some(record) => {
                options.authority_host = Some(format!("https://{}", record.authority()));
                (
                    record.client_id().to_owned(),
                    setup
                        .tenant_id
                        .filter(|t| !t.is_empty())
                        .unwrap_or(record.tenant_id())
                        .to_owned(),
                )
            }
            None => (
                setup.client_id.to_owned(),
                setup
                    .tenant_id
                    .filter(|t| !t.is_empty())
                    .unwrap_or("organizations")
                    .to_owned(),
            ),
        };
        let authority = options.authority(credential)?;
        let authority_host = authority.host_and_port().to_ascii_lowercase();
        let platform = &options.platform;
        let engine = PublicEngine {
            entra: EntraClient::new(credential, &tenant_id, &client_id, &options)?,
            authority_host,
            store: TokenStore::new(credential, setup.persistence, platform)?,
            record: Mutex::new(setup.record),
            disable_automatic_authentication: setup.disable_automatic_authentication,
        };
        Ok(PublicClient {
            front: CacheFront::new(engine, platform.clock().clone()),
        })
    }

    /// Python's default scopes for `authenticate` per cloud.
    pub(crate) fn default_scopes(&self) -> Result<&'static str, Error> {
        let engine = self.front.engine();
        let host = engine.authority_host.as_str();
        match host {
            AzureAuthorityHosts::AZURE_PUBLIC_CLOUD => {
                Ok("https://management.core.windows.net//.default")
            }
            AzureAuthorityHosts::AZURE_CHINA => {
                Ok("https://management.core.chinacloudapi.cn//.default")
            }
            AzureAuthorityHosts::AZURE_GOVERNMENT => {
                Ok("https://management.core.usgovcloudapi.net//.default")
            }
            _ => Err(Error::unavailable(
                engine.entra.credential(),
                "Authenticating in this environment requires a value for the 'scopes' keyword \
                 argument.",
            )),
        }
    }

    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
        flow: &'a (dyn InteractiveFlow + 'static),
    ) -> TokenFuture<'a> {
        self.front.get_token(scopes, options, "", flow)
    }

    /// Signs in interactively whatever the cache holds, and returns the new record.
    pub(crate) async fn authenticate(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
        flow: &dyn InteractiveFlow,
    ) -> Result<AuthenticationRecord, Error> {
        let default;
        let scopes = if scopes.is_empty() {
            default = [self.default_scopes()?];
            &default[..]
        } else {
            scopes
        };
        let engine = self.front.engine();
        engine.validate(scopes, options)?;
        let tenant = engine.tenant(options)?;
        let claims = claims_of(options);
        let (token, record, switched) = engine
            .interactive(tenant, scopes, options, claims, flow)
            .await?;
        if switched {
            self.front.clear();
        }
        self.front.remember(scopes, options, "", token).await?;
        Ok(record)
    }
}

impl Engine for PublicEngine {
    type Context = dyn InteractiveFlow;

    fn validate(&self, scopes: &[&str], _: &TokenRequestOptions) -> Result<(), Error> {
        crate::authority::validate_scopes(self.entra.credential(), scopes)
    }

    fn tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<&'a str, Error> {
        self.entra.resolve_tenant(options.tenant_id.as_deref())
    }

    async fn acquire<'a>(
        &'a self,
        request: Request<'a, dyn InteractiveFlow>,
    ) -> Result<AccessToken, Error> {
        let Request {
            scopes,
            tenant,
            options,
            claims,
            context: flow,
            ..
        } = request;
        let record = self.current_record();
        let silent_error = match &record {
            Some(record) => {
                let call = Silent {
                    record,
                    tenant,
                    scopes,
                    options,
                    claims,
                };
                match self.silent(&call).await {
                    Ok(token) => return Ok(token),
                    Err(error) if error.is_unavailable() || is_required(&error) => error,
                    Err(error) => return Err(error),
                }
            }
            None => self.authentication_required(scopes, claims, None),
        };
        if self.disable_automatic_authentication {
            return Err(silent_error);
        }
        let (token, _, switched) = self
            .interactive(tenant, scopes, options, claims, flow)
            .await?;
        if switched {
            // Another user signed in: the previous user's tokens must not be served.
            request.cache.clear();
        }
        Ok(token)
    }
}

impl PublicEngine {
    fn current_record(&self) -> Option<AuthenticationRecord> {
        self.record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn authentication_required(
        &self,
        scopes: &[&str],
        claims: Option<&str>,
        details: Option<&str>,
    ) -> Error {
        let mut message = "Interactive authentication is required to get a token. Call \
                           'authenticate' to begin."
            .to_owned();
        if let Some(details) = details {
            message.push(' ');
            message.push_str(details);
        }
        Error::new(
            ErrorKind::AuthenticationRequired {
                scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
                claims: claims.map(str::to_owned),
            },
            self.entra.credential(),
            message,
        )
    }

    /// Runs the credential's flow and stores its answer. Returns the token, the new record and
    /// whether the signed-in account changed.
    async fn interactive(
        &self,
        tenant: &str,
        scopes: &[&str],
        options: &TokenRequestOptions,
        claims: Option<&str>,
        flow: &dyn InteractiveFlow,
    ) -> Result<(AccessToken, AuthenticationRecord, bool), Error> {
        let credential = self.entra.credential();
        let scope = request_scope(scopes);
        let merged = claims::merge(claims, options.enable_cae);
        let response = flow
            .sign_in(&self.entra, tenant, &scope, merged.as_deref())
            .await?;
        let (_, home) = parse_account(response.raw.map(), &response.raw.id_token_claims());
        let record =
            AuthenticationRecord::from_id_token(&response.raw.id_token_claims(), home.as_deref())
                .ok_or_else(|| {
                Error::failed(
                    credential,
                    "Failed to build AuthenticationRecord from unexpected identity token",
                )
            })?;
        let partition = self.partition(record.home_account_id(), options.enable_cae);
        self.remember(
            partition,
            tenant,
            scopes,
            &response,
            Some(flow.grant_type()),
            false,
        )
        .await;
        let previous = self
            .record
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(record.clone());
        let switched = previous.is_some_and(|p| p.home_account_id() != record.home_account_id());
        Ok((response.token, record, switched))
    }

    /// Stores a token response in the MSAL cache. A failure to persist is logged, not raised:
    /// the caller has its token, and the next sign-in will try to store again.
    async fn remember(
        &self,
        partition: Partition<'_>,
        tenant: &str,
        scopes: &[&str],
        response: &TokenResponse,
        grant_type: Option<&str>,
        skip_account_creation: bool,
    ) {
        let request_scope = request_scope(scopes);
        let request_scopes: Vec<&str> = request_scope.split(' ').collect();
        let recorded = TokenCacheEvent::recorded_scopes(response.raw.map(), &request_scopes);
        let event = TokenCacheEvent {
            client_id: self.entra.client_id(),
            environment: self.entra.environment(),
            realm: tenant,
            scopes: &recorded,
            grant_type,
            response: response.raw.map(),
            username: None,
            skip_account_creation,
            now: self.entra.now().unix_timestamp(),
        };
        self.store.keep(partition, |d| d.add(&event)).await;
    }
}

/// The requested scopes plus the reserved ones.
fn request_scope(scopes: &[&str]) -> String {
    let mut all: Vec<&str> = scopes.to_vec();
    for reserved in RESERVED_SCOPES {
        if !all.contains(&reserved) {
            all.push(reserved);
        }
    }
    all.join(" ")
}

fn is_required(error: &Error) -> bool {
    matches!(error.kind(), ErrorKind::AuthenticationRequired { .. })
}
