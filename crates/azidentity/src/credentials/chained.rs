//! `ChainedTokenCredential`: credentials tried in order until one gives a token.

use std::sync::Arc;

use crate::{
    AccessToken, ChainAttempt, Error, ErrorKind, TokenCredential, TokenFuture, TokenRequestOptions,
};

const NAME: &str = "ChainedTokenCredential";

/// The message of a chain that got no token (Python's text); the attempts follow in `Display`.
pub(crate) fn chain_failure(chain: &'static str, attempts: Vec<ChainAttempt>) -> Error {
    let error = Error::new(
        ErrorKind::Chain(attempts),
        chain,
        // Display prefixes the chain's name, giving Python's "<Chain> failed to retrieve…".
        format!(
            "failed to retrieve a token from the included credentials. To mitigate this issue, \
             please refer to the troubleshooting guidelines here at {}.",
            crate::troubleshooting::DEFAULT
        ),
    );
    tracing::warn!(
        target: crate::log_target::CHAIN_FAILED,
        credential = chain,
        error = %error,
        "no credential in the chain produced a token"
    );
    error
}

pub(crate) fn attempt(name: &str, error: Error) -> ChainAttempt {
    ChainAttempt {
        credential: name.to_owned(),
        error,
    }
}

/// Tries each credential in order: one that is unavailable (could not even try) lets the next
/// one try; any other failure stops the chain. Every call walks the chain from the start (unlike
/// [`crate::DefaultAzureCredential`], it does not remember which member worked). Python:
/// `ChainedTokenCredential`.
///
/// When no member gives a token, the error's kind is [`ErrorKind::Chain`], listing every
/// attempt; like Python's, it stops an outer chain even if every member was unavailable.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use azidentity::{AzureCliCredential, ChainedTokenCredential, ManagedIdentityCredential, TokenCredential, TokenRequestOptions};
/// use std::sync::Arc;
/// // Managed identity in Azure, the developer's az sign-in elsewhere.
/// let credential = ChainedTokenCredential::new(vec![
///     Arc::new(ManagedIdentityCredential::new(Default::default())?),
///     Arc::new(AzureCliCredential::new(Default::default())?),
/// ])?;
/// let token = credential.get_token(&["https://management.azure.com/.default"], &TokenRequestOptions::default()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ChainedTokenCredential {
    credentials: Vec<Arc<dyn TokenCredential>>,
}

impl ChainedTokenCredential {
    /// A chain of `credentials`, tried in this order. Fails when the list is empty.
    pub fn new(credentials: Vec<Arc<dyn TokenCredential>>) -> Result<Self, Error> {
        if credentials.is_empty() {
            return Err(Error::config(NAME, "at least one credential is required"));
        }
        Ok(ChainedTokenCredential { credentials })
    }

    /// The members, in order.
    pub fn credentials(&self) -> &[Arc<dyn TokenCredential>] {
        &self.credentials
    }

    async fn walk(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken, Error> {
        let mut attempts = Vec::new();
        for credential in &self.credentials {
            match credential.get_token(scopes, options).await {
                Ok(token) => {
                    tracing::info!(
                        credential = NAME,
                        member = credential.name(),
                        "ChainedTokenCredential acquired a token from {}",
                        credential.name()
                    );
                    return Ok(token);
                }
                Err(error) => {
                    let stop = !error.is_unavailable();
                    tracing::debug!(member = credential.name(), error = %error, stop, "chain member failed");
                    attempts.push(attempt(credential.name(), error));
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(chain_failure(NAME, attempts))
    }
}

impl TokenCredential for ChainedTokenCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        TokenFuture::new(self.walk(scopes, options))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
