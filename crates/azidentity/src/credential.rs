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

/// Two words, so a cached hit hands the future back in registers: the token is one pointer, an
/// error is boxed, and a pending future is boxed once more (a thin pointer; one small allocation
/// beside a network round trip).
enum Inner<'a> {
    Token(AccessToken),
    Failed(Box<Error>),
    Pending(Box<BoxedTokenFuture<'a>>),
    /// Taken: polling a completed future again is a caller bug, as for any future.
    Done,
}

impl<'a> TokenFuture<'a> {
    /// A future that is complete already.
    #[inline]
    pub fn ready(result: Result<AccessToken, Error>) -> Self {
        TokenFuture(match result {
            Ok(token) => Inner::Token(token),
            Err(error) => Inner::Failed(Box::new(error)),
        })
    }

    /// A future that runs `future` (boxed here).
    pub fn new(future: impl Future<Output = Result<AccessToken, Error>> + Send + 'a) -> Self {
        TokenFuture(Inner::Pending(Box::new(Box::pin(future))))
    }

    /// The same future with its error changed by `f` (a wrapping credential naming itself); a
    /// ready result stays ready, without allocating.
    pub fn map_err(self, f: impl FnOnce(Error) -> Error + Send + 'a) -> Self {
        match self.0 {
            Inner::Failed(error) => TokenFuture::ready(Err(f(*error))),
            Inner::Pending(future) => TokenFuture::new(async move { future.await.map_err(f) }),
            Inner::Token(_) | Inner::Done => self,
        }
    }

    /// Whether the result is there without waiting (a cached token, or an error found before
    /// any I/O).
    pub fn is_ready(&self) -> bool {
        matches!(self.0, Inner::Token(_) | Inner::Failed(_))
    }
}

impl Future for TokenFuture<'_> {
    type Output = Result<AccessToken, Error>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = &mut self.get_mut().0;
        if let Inner::Pending(future) = inner {
            return Pin::as_mut(future).poll(cx);
        }
        match std::mem::replace(inner, Inner::Done) {
            Inner::Token(token) => Poll::Ready(Ok(token)),
            Inner::Failed(error) => Poll::Ready(Err(*error)),
            Inner::Pending(_) | Inner::Done => panic!("TokenFuture polled after completion"),
        }
    }
}

impl fmt::Debug for TokenFuture<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.0 {
            Inner::Token(_) | Inner::Failed(_) => "ready",
            Inner::Done => "done",
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
/// One shared allocation: cloning a token (what a cached `get_token` does) costs a reference
/// count, and the handle is a pointer's size, so the futures and results that carry it stay
/// small. Build one with [`AccessToken::new`] and the `with_` methods; read it through its
/// methods, so fields can be added later.
#[derive(Clone)]
pub struct AccessToken(Arc<Parts>);

#[derive(Clone)]
struct Parts {
    token: Secret,
    expires_on: OffsetDateTime,
    refresh_on: Option<OffsetDateTime>,
    token_type: Cow<'static, str>,
}

/// The token type of nearly every token.
pub(crate) const BEARER: &str = "Bearer";

impl AccessToken {
    /// A bearer token expiring at `expires_on`.
    pub fn new(token: impl Into<Secret>, expires_on: OffsetDateTime) -> Self {
        AccessToken(Arc::new(Parts {
            token: token.into(),
            expires_on,
            refresh_on: None,
            token_type: Cow::Borrowed(BEARER),
        }))
    }

    /// The same token, to be refreshed from `refresh_on`.
    pub fn with_refresh_on(mut self, refresh_on: Option<OffsetDateTime>) -> Self {
        Arc::make_mut(&mut self.0).refresh_on = refresh_on;
        self
    }

    /// The same token with another type (`Bearer` is kept borrowed, whatever its case).
    pub fn with_token_type(mut self, token_type: impl Into<Cow<'static, str>>) -> Self {
        Arc::make_mut(&mut self.0).token_type = token_type_of(token_type.into());
        self
    }

    /// The token itself.
    pub fn token(&self) -> &Secret {
        &self.0.token
    }

    /// When the token expires.
    pub fn expires_on(&self) -> OffsetDateTime {
        self.0.expires_on
    }

    /// When the token should be refreshed (the service's `refresh_in`, or half the lifetime of a
    /// long-lived token).
    pub fn refresh_on(&self) -> Option<OffsetDateTime> {
        self.0.refresh_on
    }

    /// The token type, normally `Bearer`.
    pub fn token_type(&self) -> &str {
        &self.0.token_type
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.0.token)
            .field("expires_on", &self.0.expires_on)
            .field("refresh_on", &self.0.refresh_on)
            .field("token_type", &self.0.token_type)
            .finish()
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

    /// A cached hit returns the future and the token in registers: two words and one.
    #[test]
    fn a_ready_future_fits_in_two_registers() {
        let word = std::mem::size_of::<usize>();
        assert_eq!(std::mem::size_of::<TokenFuture<'_>>(), 2 * word);
        assert_eq!(std::mem::size_of::<AccessToken>(), word);
    }
}
