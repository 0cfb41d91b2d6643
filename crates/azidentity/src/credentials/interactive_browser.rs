//! `InteractiveBrowserCredential`: the user signs in in their browser; the redirect comes back
//! to a loopback server of this process.

use std::time::Duration;

use super::interactive::{InteractiveCredential, sign_in_options};
use crate::entra::EntraClient;
use crate::entra::auth_code_flow::{self, BrowserSignIn};
use crate::entra::public_client::{FlowFuture, InteractiveFlow};
use crate::platform::Platform;
use crate::{
    AuthenticationRecord, ClientOptions, Error, TokenCachePersistenceOptions, TokenCredential,
    TokenFuture, TokenRequestOptions,
};

const NAME: &str = "InteractiveBrowserCredential";
/// Python waits five minutes for the user.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// Options for [`InteractiveBrowserCredential`].
#[derive(Debug, Clone, Default)]
pub struct InteractiveBrowserCredentialOptions {
    /// The application; default the Microsoft developer sign-on app (Azure CLI's).
    pub client_id: Option<String>,
    /// The tenant; default `organizations` (or the record's tenant).
    pub tenant_id: Option<String>,
    /// Pre-fills the user name on the sign-in page.
    pub login_hint: Option<String>,
    /// A loopback redirect URI with a port, e.g. `http://localhost:8400`, registered for the
    /// application. Default: the first free port from 8400 to 8999.
    pub redirect_uri: Option<String>,
    /// How long to wait for the user to finish signing in; default 300 s.
    pub timeout: Option<Duration>,
    /// The account to authenticate silently (from an earlier
    /// [`InteractiveBrowserCredential::authenticate`]).
    pub authentication_record: Option<AuthenticationRecord>,
    /// Fail with [`ErrorKind::AuthenticationRequired`](crate::ErrorKind::AuthenticationRequired)
    /// instead of opening the browser when no token can be had silently.
    pub disable_automatic_authentication: bool,
    /// Keep tokens in the persistent cache shared with other applications.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
    /// Authority, retries, additionally allowed tenants, platform (whose browser launcher
    /// opens the page).
    pub client_options: ClientOptions,
}

#[derive(Debug)]
struct BrowserFlow {
    redirect_uri: Option<String>,
    login_hint: Option<String>,
    timeout: Duration,
    platform: Platform,
}

impl InteractiveFlow for BrowserFlow {
    fn grant_type(&self) -> &'static str {
        "authorization_code"
    }

    fn sign_in<'a>(
        &'a self,
        entra: &'a EntraClient,
        tenant: &'a str,
        scope: &'a str,
        claims: Option<&'a str>,
    ) -> FlowFuture<'a> {
        Box::pin(async move {
            let request = BrowserSignIn {
                redirect_uri: self.redirect_uri.as_deref(),
                login_hint: self.login_hint.as_deref(),
                claims,
                timeout: self.timeout,
                browser: self.platform.browser().as_ref(),
                platform: &self.platform,
            };
            auth_code_flow::sign_in(entra, tenant, scope, &request).await
        })
    }
}

/// Authenticates a user in the system browser with the authorization code flow and PKCE
/// (Python: `InteractiveBrowserCredential`). Silent first for the account of its
/// [`AuthenticationRecord`]; with `cache_persistence_options`, tokens outlive the process and are
/// shared with Python `azure-identity` and Microsoft's developer tools.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{InteractiveBrowserCredential, TokenCredential, TokenRequestOptions};
/// let credential = InteractiveBrowserCredential::new(Default::default())?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct InteractiveBrowserCredential {
    inner: InteractiveCredential<BrowserFlow>,
}

impl InteractiveBrowserCredential {
    /// Validates the options (a redirect URI must be a loopback URL with a port); nothing is
    /// requested until a token is needed.
    pub fn new(options: InteractiveBrowserCredentialOptions) -> Result<Self, Error> {
        if let Some(uri) = &options.redirect_uri {
            let parsed = url::Url::parse(uri)
                .map_err(|e| Error::config(NAME, format!("redirect_uri is not a URL: {e}")))?;
            if parsed.host_str().is_none() || parsed.port().is_none() {
                return Err(Error::config(
                    NAME,
                    "redirect_uri must include host and port, e.g. http://localhost:8400",
                ));
            }
        }
        let flow = BrowserFlow {
            redirect_uri: options.redirect_uri.clone(),
            login_hint: options.login_hint.clone(),
            timeout: options.timeout.unwrap_or(DEFAULT_TIMEOUT),
            platform: options.client_options.platform.clone(),
        };
        Ok(InteractiveBrowserCredential {
            inner: InteractiveCredential::new(NAME, sign_in_options!(options), flow)?,
        })
    }

    /// Opens the browser whatever the cache holds and returns the record of the account the
    /// user signed in with. Without `scopes`, Azure Resource Manager's of the authority's
    /// cloud, as in Python.
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AuthenticationRecord, Error> {
        self.inner.authenticate(scopes, options).await
    }
}

impl TokenCredential for InteractiveBrowserCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        self.inner.get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
