//! The credential contract: what every credential offers and what it hands back.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use time::OffsetDateTime;

use crate::{Error, Secret};

/// The future returned by [`TokenCredential::get_token`]: either already complete (a cached
/// token, handed back without allocating) or a boxed future that goes and gets one.
///
/// Build one with [`TokenFuture::ready`] or [`TokenFuture::new`].
#[must_use = "futures do nothing unless awaited"]
pub struct TokenFuture<'a>(Inner<'a>);

type BoxedTokenFuture<'a> = Pin<Box<dyn Future<Output = Result<AccessToken, Error>> + Send + 'a>>;

/// A ready error is boxed so that the future stays the size of a token: a cached hit moves the
/// future and its output several times, and `Error` is twice the size of `AccessToken`.
enum Inner<'a> {
    /// `None` once taken: polling a completed future again is a caller bug, as for any future.
    Ready(Option<Result<AccessToken, Box<Error>>>),
    Pending(BoxedTokenFuture<'a>),
}

impl<'a> TokenFuture<'a> {
    /// A future that is complete already.
    #[inline]
    pub fn ready(result: Result<AccessToken, Error>) -> Self {
        TokenFuture(Inner::Ready(Some(result.map_err(Box::new))))
    }

    /// A future that runs `future` (boxed here).
    pub fn new(future: impl Future<Output = Result<AccessToken, Error>> + Send + 'a) -> Self {
        TokenFuture(Inner::Pending(Box::pin(future)))
    }

    /// The same future with its error changed by `f` (a wrapping credential naming itself); a
    /// ready result stays ready, without allocating.
    pub fn map_err(self, f: impl FnOnce(Error) -> Error + Send + 'a) -> Self {
        match self.0 {
            Inner::Ready(Some(result)) => TokenFuture::ready(result.map_err(|e| f(*e))),
            Inner::Ready(None) => self,
            Inner::Pending(future) => TokenFuture::new(async move { future.await.map_err(f) }),
        }
    }

    /// Whether the result is there without waiting (a cached token, or an error found before
    /// any I/O).
    pub fn is_ready(&self) -> bool {
        matches!(self.0, Inner::Ready(Some(_)))
    }
}

impl Future for TokenFuture<'_> {
    type Output = Result<AccessToken, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().0 {
            Inner::Ready(result) => match result.take() {
                Some(result) => Poll::Ready(result.map_err(|e| *e)),
                None => panic!("TokenFuture polled after completion"),
            },
            Inner::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl fmt::Debug for TokenFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.0 {
            Inner::Ready(Some(_)) => "ready",
            Inner::Ready(None) => "done",
            Inner::Pending(_) => "pending",
        };
        write!(f, "TokenFuture({state})")
    }
}

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
///
/// Fields may be added in later versions: build one with [`AccessToken::new`] and the `with_`
/// methods.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AccessToken {
    /// The token itself.
    pub token: Secret,
    /// When the token expires.
    pub expires_on: OffsetDateTime,
    /// When the token should be refreshed (the service's `refresh_in`, or half the lifetime of a
    /// long-lived token).
    pub refresh_on: Option<OffsetDateTime>,
    /// The token type, normally `Bearer` (borrowed, so handing out a cached token does not
    /// copy it).
    pub token_type: Cow<'static, str>,
}

/// The token type of nearly every token.
pub(crate) const BEARER: &str = "Bearer";

impl AccessToken {
    /// A bearer token expiring at `expires_on`.
    pub fn new(token: impl Into<Secret>, expires_on: OffsetDateTime) -> Self {
        AccessToken {
            token: token.into(),
            expires_on,
            refresh_on: None,
            token_type: Cow::Borrowed(BEARER),
        }
    }

    /// The same token, to be refreshed from `refresh_on`.
    pub fn with_refresh_on(mut self, refresh_on: Option<OffsetDateTime>) -> Self {
        self.refresh_on = refresh_on;
        self
    }

    /// The same token with another type (`Bearer` is kept borrowed, whatever its case).
    pub fn with_token_type(mut self, token_type: impl Into<Cow<'static, str>>) -> Self {
        self.token_type = token_type_of(token_type.into());
        self
    }
}

/// `Bearer` in any case becomes the shared constant: most services say `Bearer`, some `bearer`.
pub(crate) fn token_type_of(token_type: Cow<'static, str>) -> Cow<'static, str> {
    if token_type.eq_ignore_ascii_case(BEARER) {
        Cow::Borrowed(BEARER)
    } else {
        token_type
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A cached hit moves the future a few times: it stays about the size of a token (a boxed
    /// error), not of an `Error`.
    #[test]
    fn a_ready_future_is_the_size_of_a_token() {
        let future = std::mem::size_of::<TokenFuture<'_>>();
        let token = std::mem::size_of::<AccessToken>();
        assert!(
            future <= token + 8,
            "TokenFuture is {future} bytes, AccessToken {token}"
        );
    }
}
