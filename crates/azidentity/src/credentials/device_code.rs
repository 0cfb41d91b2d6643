//! `DeviceCodeCredential`: the user signs in on another device with a code this credential shows.

use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use super::interactive::{InteractiveCredential, sign_in_options};
use crate::entra::EntraClient;
use crate::entra::device_code::{self, DeviceCodeInfo};
use crate::entra::public_client::{FlowFuture, InteractiveFlow};
use crate::{
    AuthenticationRecord, ClientOptions, Error, TokenCachePersistenceOptions, TokenCredential,
    TokenFuture, TokenRequestOptions,
};

const NAME: &str = "DeviceCodeCredential";

/// What the user needs to sign in with a device code (Go's `DeviceCodeMessage`; Python passes
/// the first three to `prompt_callback`). Control characters from the service are removed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceCodeMessage {
    /// The page to open, e.g. `https://microsoft.com/devicelogin`.
    pub verification_uri: String,
    /// The code to enter there.
    pub user_code: String,
    /// When the code stops working.
    pub expires_on: OffsetDateTime,
    /// The service's sentence for the user, naming the page and the code.
    pub message: String,
}

impl DeviceCodeMessage {
    fn from_service(info: &DeviceCodeInfo) -> Self {
        DeviceCodeMessage {
            verification_uri: printable(&info.verification_uri),
            user_code: printable(&info.user_code),
            expires_on: info.expires_on,
            message: printable(&info.message),
        }
    }
}

/// The text without control characters (a hostile or broken service could otherwise move the
/// terminal's cursor, clear the screen or hide what follows); line breaks become spaces.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Shows the user where to sign in (Python's `prompt_callback`, Go's `UserPrompt`).
pub type DeviceCodePrompt = Arc<dyn Fn(&DeviceCodeMessage) + Send + Sync>;

/// Without a prompt: the service's sentence on stderr (stdout belongs to the application). A
/// closed or broken stderr is ignored: the user may still have the code from elsewhere, and the
/// flow goes on until it expires.
fn default_prompt(message: &DeviceCodeMessage) {
    let _ = writeln!(std::io::stderr(), "{}", message.message);
}

/// Options for [`DeviceCodeCredential`].
#[derive(Clone, Default)]
pub struct DeviceCodeCredentialOptions {
    /// The application; default the Microsoft developer sign-on app (Azure CLI's).
    pub client_id: Option<String>,
    /// The tenant; default `organizations` (or the record's tenant).
    pub tenant_id: Option<String>,
    /// Stop waiting for the user after this long, if that is sooner than the code expires.
    pub timeout: Option<Duration>,
    /// Shows the code; without one the service's message is written to stderr (Python prints it
    /// to stdout, which would mix it with the application's output).
    pub prompt_callback: Option<DeviceCodePrompt>,
    /// The account to authenticate silently (from an earlier [`DeviceCodeCredential::authenticate`]).
    pub authentication_record: Option<AuthenticationRecord>,
    /// Fail with [`ErrorKind::AuthenticationRequired`](crate::ErrorKind::AuthenticationRequired)
    /// instead of prompting when no token can be had silently.
    pub disable_automatic_authentication: bool,
    /// Keep tokens in the persistent cache shared with other applications.
    pub cache_persistence_options: Option<TokenCachePersistenceOptions>,
    /// Authority, retries, additionally allowed tenants, platform.
    pub client_options: ClientOptions,
}

impl std::fmt::Debug for DeviceCodeCredentialOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCodeCredentialOptions")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("timeout", &self.timeout)
            .field("prompt_callback", &self.prompt_callback.is_some())
            .field("authentication_record", &self.authentication_record)
            .field(
                "disable_automatic_authentication",
                &self.disable_automatic_authentication,
            )
            .field("cache_persistence_options", &self.cache_persistence_options)
            .field("client_options", &self.client_options)
            .finish()
    }
}

struct DeviceFlowRunner {
    timeout: Option<Duration>,
    prompt: Option<DeviceCodePrompt>,
}

impl std::fmt::Debug for DeviceFlowRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceFlowRunner")
            .field("timeout", &self.timeout)
            .field("prompt", &self.prompt.is_some())
            .finish()
    }
}

impl InteractiveFlow for DeviceFlowRunner {
    fn grant_type(&self) -> &'static str {
        "urn:ietf:params:oauth:grant-type:device_code"
    }

    fn sign_in<'a>(
        &'a self,
        entra: &'a EntraClient,
        tenant: &'a str,
        scope: &'a str,
        claims: Option<&'a str>,
    ) -> FlowFuture<'a> {
        Box::pin(async move {
            let flow = device_code::start(entra, tenant, scope, claims).await?;
            let message = DeviceCodeMessage::from_service(&flow.info);
            match &self.prompt {
                Some(prompt) => prompt(&message),
                None => default_prompt(&message),
            }
            // Python: the caller's timeout counts only when it is shorter than the code's life.
            // A timeout too large to add to now (Duration::MAX) is no limit at all.
            let by_timeout = self
                .timeout
                .and_then(|t| time::Duration::try_from(t).ok())
                .and_then(|t| entra.now().checked_add(t));
            let deadline = by_timeout.map_or(flow.info.expires_on, |t| t.min(flow.info.expires_on));
            device_code::poll(entra, tenant, &flow, deadline, claims).await
        })
    }
}

/// Authenticates a user through the device code flow: the user opens a page on any device and
/// enters a code (Python: `DeviceCodeCredential`). Silent first for the account of its
/// [`AuthenticationRecord`]; with `cache_persistence_options`, tokens outlive the process and are
/// shared with Python `azure-identity` and Microsoft's developer tools.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{DeviceCodeCredential, DeviceCodeCredentialOptions, TokenCachePersistenceOptions, TokenCredential, TokenRequestOptions};
/// let credential = DeviceCodeCredential::new(DeviceCodeCredentialOptions {
///     cache_persistence_options: Some(TokenCachePersistenceOptions::default()),
///     ..Default::default()
/// })?;
/// // Once; keep the record (`record.serialize()`) to be silent in later runs.
/// let record = credential.authenticate(&[], &TokenRequestOptions::default()).await?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DeviceCodeCredential {
    inner: InteractiveCredential<DeviceFlowRunner>,
}

impl DeviceCodeCredential {
    /// Validates the options; nothing is requested until a token is needed.
    pub fn new(options: DeviceCodeCredentialOptions) -> Result<Self, Error> {
        let flow = DeviceFlowRunner {
            timeout: options.timeout,
            prompt: options.prompt_callback.clone(),
        };
        Ok(DeviceCodeCredential {
            inner: InteractiveCredential::new(NAME, sign_in_options!(options), flow)?,
        })
    }

    /// Prompts the user whatever the cache holds and returns the record of the account they
    /// signed in with (store it to authenticate silently later). Without `scopes`, Azure
    /// Resource Manager's of the authority's cloud, as in Python.
    pub async fn authenticate(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AuthenticationRecord, Error> {
        self.inner.authenticate(scopes, options).await
    }
}

impl TokenCredential for DeviceCodeCredential {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_shows_no_control_characters() {
        let info = DeviceCodeInfo {
            verification_uri: "https://x/\x1b[2Jdevicelogin".into(),
            user_code: "AB\rCD".into(),
            expires_on: OffsetDateTime::UNIX_EPOCH,
            message: "Go to\nhttps://x \x07and enter AB".into(),
        };
        let shown = DeviceCodeMessage::from_service(&info);
        for text in [&shown.verification_uri, &shown.user_code, &shown.message] {
            assert!(!text.chars().any(char::is_control), "{text:?}");
        }
        assert_eq!(shown.user_code, "AB CD");
        // Writing to stderr never panics, closed or not.
        default_prompt(&shown);
    }
}
