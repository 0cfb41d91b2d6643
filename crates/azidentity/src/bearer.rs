//! `get_bearer_token_provider`: a ready-made source of `Authorization` header values.

use std::fmt;
use std::sync::Arc;

use crate::{Error, Secret, TokenCredential, TokenRequestOptions};

/// Gets bearer tokens for fixed scopes from a credential (Python: `get_bearer_token_provider`),
/// for HTTP clients that only need a header value. The credential's cache decides when a new
/// token is fetched, so calling this before every request is cheap.
pub fn get_bearer_token_provider(
    credential: Arc<dyn TokenCredential>,
    scopes: &[&str],
) -> BearerTokenProvider {
    BearerTokenProvider {
        credential,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

/// Returned by [`get_bearer_token_provider`].
#[derive(Clone)]
pub struct BearerTokenProvider {
    credential: Arc<dyn TokenCredential>,
    scopes: Vec<String>,
}

impl BearerTokenProvider {
    /// The access token.
    pub async fn token(&self) -> Result<Secret, Error> {
        let scopes: Vec<&str> = self.scopes.iter().map(String::as_str).collect();
        let token = self
            .credential
            .get_token(&scopes, &TokenRequestOptions::default())
            .await?;
        Ok(token.token().clone())
    }

    /// `Bearer <token>`, the value of an `Authorization` header.
    pub async fn authorization_header(&self) -> Result<Secret, Error> {
        let token = self.token().await?;
        // Sized up front: a growing String would leave copies of the token in freed memory.
        let mut value = String::with_capacity("Bearer ".len() + token.secret().len());
        value.push_str("Bearer ");
        value.push_str(token.secret());
        Ok(Secret::new(value))
    }
}

impl fmt::Debug for BearerTokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerTokenProvider")
            .field("credential", &self.credential.name())
            .field("scopes", &self.scopes)
            .finish()
    }
}
