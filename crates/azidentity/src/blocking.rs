//! A synchronous facade for programs without an async runtime (Python's sync API).

use std::fmt;

use crate::{AccessToken, Error, ErrorKind, TokenCredential, TokenRequestOptions};

/// Wraps any credential with a private runtime so it can be called from plain threads:
///
/// ```no_run
/// use azidentity::blocking::BlockingCredential;
/// use azidentity::{EnvironmentCredential, TokenRequestOptions};
/// let credential = BlockingCredential::new(EnvironmentCredential::new(Default::default())?)?;
/// let token = credential.get_token(
///     &["https://management.azure.com/.default"], &TokenRequestOptions::default())?;
/// # Ok::<(), azidentity::Error>(())
/// ```
///
/// Calling it from inside an async runtime is refused with an error (blocking there would stall
/// the runtime's thread); async code should call the credential directly. The wrapper is `Sync`:
/// threads share one credential, one cache and one connection pool.
pub struct BlockingCredential<C> {
    inner: C,
    /// Always `Some` until drop; taken there to shut down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
}

impl<C: TokenCredential> BlockingCredential<C> {
    /// Wraps `inner`. Fails only if the runtime's worker thread cannot be started.
    pub fn new(inner: C) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("azidentity-blocking")
            .enable_all()
            .build()
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidConfiguration,
                    inner.name(),
                    format!("could not start the runtime for blocking calls: {e}"),
                )
            })?;
        Ok(BlockingCredential {
            inner,
            runtime: Some(runtime),
        })
    }

    /// Gets a token, blocking the calling thread.
    pub fn get_token(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
    ) -> Result<AccessToken, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::new(
                ErrorKind::InvalidConfiguration,
                self.inner.name(),
                "BlockingCredential::get_token was called from inside an async runtime; \
                 call the credential's async get_token there instead",
            ));
        }
        match &self.runtime {
            Some(runtime) => runtime.block_on(self.inner.get_token(scopes, options)),
            None => Err(Error::new(
                ErrorKind::InvalidConfiguration,
                self.inner.name(),
                "the blocking runtime is gone",
            )),
        }
    }

    /// The wrapped credential.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

/// Dropping a runtime normally blocks until its tasks end, which panics inside an async context;
/// shutting it down in the background makes dropping the wrapper safe anywhere.
impl<C> Drop for BlockingCredential<C> {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl<C: TokenCredential> fmt::Debug for BlockingCredential<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingCredential")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}
