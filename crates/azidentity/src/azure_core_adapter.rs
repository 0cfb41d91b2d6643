//! Plugging our credentials into the official Azure SDK for Rust (feature `azure_core`).

use std::sync::Arc;

use azure_core::credentials as core;

use crate::{AccessToken, ErrorKind, TokenCredential, TokenRequestOptions};

/// Adapts any azidentity credential to `azure_core::credentials::TokenCredential`, so official
/// SDK clients (Key Vault, Storage, …) can use `DefaultAzureCredential`, device code and the
/// rest:
///
/// ```no_run
/// # fn demo() -> Result<(), azidentity::Error> {
/// use azidentity::{AzureCoreCredential, EnvironmentCredential};
/// let credential = AzureCoreCredential::new(EnvironmentCredential::new(Default::default())?);
/// let for_sdk: std::sync::Arc<dyn azure_core::credentials::TokenCredential> = credential.into_arc();
/// # Ok(()) }
/// ```
///
/// Our cache, single flight and error messages stay in force; errors reach the SDK as
/// `azure_core::error::ErrorKind::Credential` with our [`crate::Error`] as the source.
#[derive(Debug, Clone)]
pub struct AzureCoreCredential {
    inner: Arc<dyn TokenCredential>,
}

impl AzureCoreCredential {
    /// Wraps a credential.
    pub fn new(credential: impl TokenCredential + 'static) -> Self {
        AzureCoreCredential {
            inner: Arc::new(credential),
        }
    }

    /// Wraps a shared credential.
    pub fn from_arc(credential: Arc<dyn TokenCredential>) -> Self {
        AzureCoreCredential { inner: credential }
    }

    /// The form SDK client constructors take.
    pub fn into_arc(self) -> Arc<dyn core::TokenCredential> {
        Arc::new(self)
    }
}

impl From<AccessToken> for core::AccessToken {
    fn from(token: AccessToken) -> Self {
        core::AccessToken::new(token.token.secret().to_owned(), token.expires_on)
    }
}

#[async_trait::async_trait]
impl core::TokenCredential for AzureCoreCredential {
    async fn get_token(
        &self,
        scopes: &[&str],
        _options: Option<core::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<core::AccessToken> {
        // azure_core's options carry no claims, tenant or CAE flag to pass on.
        let options = TokenRequestOptions::default();
        match self.inner.get_token(scopes, &options).await {
            Ok(token) => Ok(token.into()),
            Err(error) => {
                let kind = match error.kind() {
                    ErrorKind::InvalidConfiguration => azure_core::error::ErrorKind::Other,
                    _ => azure_core::error::ErrorKind::Credential,
                };
                Err(azure_core::Error::new(kind, error))
            }
        }
    }
}
