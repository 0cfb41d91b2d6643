//! The credential contract: what every credential offers and what it hands back.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::{Error, Secret};

/// The future returned by [`TokenCredential::get_token`].
pub type TokenFuture<'a> = Pin<Box<dyn Future<Output = Result<AccessToken, Error>> + Send + 'a>>;

/// Something that can get an access token from Microsoft Entra ID. Object safe: store credentials
/// as `Arc<dyn TokenCredential>`.
pub trait TokenCredential: Send + Sync + fmt::Debug {
    /// Gets a token for `scopes` (for example `https://management.azure.com/.default`), from the
    /// credential's cache when a valid one is there.
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a>;

    /// The credential's type name, as Python names it (`"ClientSecretCredential"`); used in chain
    /// messages and logs.
    fn name(&self) -> &'static str;
}

/// Per-request options, as Python's `TokenRequestOptions`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenRequestOptions {
    /// A claims challenge from a resource (for example after a CAE revocation). A request with
    /// claims skips the cache.
    pub claims: Option<String>,
    /// The tenant to get the token from, subject to `additionally_allowed_tenants`.
    pub tenant_id: Option<String>,
    /// Ask for a token that supports Continuous Access Evaluation (adds the `CP1` capability).
    pub enable_cae: bool,
}

/// An access token and when it stops being usable.
#[derive(Debug, Clone)]
pub struct AccessToken {
    /// The token itself.
    pub token: Secret,
    /// When the token expires.
    pub expires_on: OffsetDateTime,
    /// When the token should be refreshed (the service's `refresh_in`, or half the lifetime of a
    /// long-lived token).
    pub refresh_on: Option<OffsetDateTime>,
    /// The token type, normally `Bearer`.
    pub token_type: String,
}

impl AccessToken {
    /// A bearer token expiring at `expires_on`.
    pub fn new(token: impl Into<Secret>, expires_on: OffsetDateTime) -> Self {
        AccessToken {
            token: token.into(),
            expires_on,
            refresh_on: None,
            token_type: "Bearer".to_owned(),
        }
    }
}

impl<T: TokenCredential + ?Sized> TokenCredential for Arc<T> {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        (**self).get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}

impl<T: TokenCredential + ?Sized> TokenCredential for Box<T> {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        (**self).get_token(scopes, options)
    }

    fn name(&self) -> &'static str {
        (**self).name()
    }
}
