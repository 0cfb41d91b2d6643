//! `ClientAssertionCredential`: a service principal that proves its identity with a JWT the
//! caller supplies (for example one signed by a key in a hardware module, or a federated token
//! from another identity provider).

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use crate::entra::confidential::{
    AssertionFuture, AssertionProvider, ClientAuth, ConfidentialClient,
};
use crate::{ClientOptions, Error, Secret, TokenCredential, TokenFuture, TokenRequestOptions};

const NAME: &str = "ClientAssertionCredential";

/// Options for [`ClientAssertionCredential`].
#[derive(Debug, Clone, Default)]
pub struct ClientAssertionCredentialOptions {
    /// Authority, tenants, retries and platform.
    pub client_options: ClientOptions,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;
type Callback = dyn Fn() -> AssertionFuture<'static> + Send + Sync;

/// Wraps the caller's function; never prints what it returns.
struct UserCallback {
    call: Box<Callback>,
}

impl fmt::Debug for UserCallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserCallback")
    }
}

impl AssertionProvider for UserCallback {
    fn assertion(&self) -> AssertionFuture<'_> {
        (self.call)()
    }
}

/// An error from the caller's function: our own `Error` passes through (so a callback can say
/// "unavailable"); anything else becomes an authentication failure naming the callback.
fn callback_error(credential: &'static str, error: BoxError) -> Error {
    match error.downcast::<Error>() {
        Ok(ours) => *ours,
        Err(other) => Error::failed(
            credential,
            format!("the client assertion callback failed: {other}"),
        ),
    }
}

/// Authenticates a service principal with a client assertion returned by a function, which is
/// called for every new token (never for a cached one). Python: `ClientAssertionCredential`.
#[derive(Debug)]
pub struct ClientAssertionCredential {
    client: ConfidentialClient,
}

impl ClientAssertionCredential {
    /// `func` returns a signed JWT whose audience is the tenant's token endpoint. It runs on the
    /// async executor, so it should be quick; use [`ClientAssertionCredential::new_async`] for
    /// anything that does I/O.
    pub fn new<F, E>(
        tenant_id: &str,
        client_id: &str,
        func: F,
        options: ClientAssertionCredentialOptions,
    ) -> Result<Self, Error>
    where
        F: Fn() -> Result<String, E> + Send + Sync + 'static,
        E: Into<BoxError>,
    {
        let call = move || -> AssertionFuture<'static> {
            let result = func()
                .map(Secret::new)
                .map_err(|e| callback_error(NAME, e.into()));
            Box::pin(std::future::ready(result))
        };
        Self::from_callback(tenant_id, client_id, Box::new(call), options)
    }

    /// Like [`ClientAssertionCredential::new`], with an async function.
    pub fn new_async<F, Fut, E>(
        tenant_id: &str,
        client_id: &str,
        func: F,
        options: ClientAssertionCredentialOptions,
    ) -> Result<Self, Error>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        let call = move || -> AssertionFuture<'static> {
            let pending = func();
            Box::pin(async move {
                pending
                    .await
                    .map(Secret::new)
                    .map_err(|e| callback_error(NAME, e.into()))
            })
        };
        Self::from_callback(tenant_id, client_id, Box::new(call), options)
    }

    fn from_callback(
        tenant_id: &str,
        client_id: &str,
        call: Box<Callback>,
        options: ClientAssertionCredentialOptions,
    ) -> Result<Self, Error> {
        let provider = Arc::new(UserCallback { call });
        let client = ConfidentialClient::new(
            NAME,
            tenant_id,
            client_id,
            ClientAuth::Assertion(provider),
            &options.client_options,
        )?;
        Ok(ClientAssertionCredential { client })
    }
}

impl TokenCredential for ClientAssertionCredential {
    fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
    ) -> TokenFuture<'a> {
        Box::pin(self.client.get_token(scopes, options))
    }

    fn name(&self) -> &'static str {
        NAME
    }
}
