//! The persistent token cache: MSAL's unified cache schema, stored where and how
//! msal-extensions stores it for Python `azure-identity`, so that Python, Microsoft's developer
//! tools and this library share signed-in accounts and tokens.
//!
//! Reads take no lock and reload only when the file's stamp moved; writes reload, change and
//! replace the whole cache under msal-extensions' lockfile, as Python's writers do.

mod document;
mod file;
mod json;
mod keys;
mod lock;
mod options;
mod read;
#[cfg(all(target_os = "linux", feature = "secret-service"))]
mod secret_service;
#[cfg(test)]
mod tests;
mod write;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub use document::TokenCacheDocument;
pub(crate) use document::{epoch as entry_epoch, text as entry_text};
pub(crate) use json::to_python_compact;
pub use options::TokenCachePersistenceOptions;
#[cfg_attr(not(feature = "unstable-msal-cache"), allow(unused_imports))]
pub use read::CachedAccount;
pub(crate) use read::{AccessTokenQuery, CachedAccessToken, CachedRefreshToken, cloud_aliases};
pub use write::TokenCacheEvent;
pub(crate) use write::parse_account;

use crate::platform::Clock;
use crate::{Error, Platform};

/// MSAL writers truncate the file before writing it, so an empty or unparsable read is retried
/// (msal-extensions: three attempts, half a second apart).
const READ_ATTEMPTS: u32 = 3;
const READ_RETRY: Duration = Duration::from_millis(500);

#[derive(Debug)]
enum Backend {
    /// Plain JSON in the cache file (mode 0600).
    File,
    /// The Secret Service holds the JSON; the file is only a signal whose mtime moves on writes.
    #[cfg(all(target_os = "linux", feature = "secret-service"))]
    SecretService(secret_service::SecretServiceStore),
}

#[derive(Debug)]
struct Loaded {
    stamp: Option<file::Stamp>,
    document: Arc<TokenCacheDocument>,
}

/// One named persistent cache (`msal.cache.nocae`, `msal.cache.cae`, ...) as credentials use it:
/// shared with other processes and with Python through msal-extensions' storage, lock and reload
/// protocols.
#[derive(Debug)]
pub struct PersistentTokenCache {
    credential: &'static str,
    location: PathBuf,
    backend: Backend,
    clock: Arc<dyn Clock>,
    /// The last document read or written, with the stamp of the file it came from. Held only
    /// to copy it in or out: no lock is held across I/O.
    loaded: Mutex<Option<Loaded>>,
    /// Wakes this process's writers waiting for the lockfile when one of them lets it go.
    released: tokio::sync::Notify,
}

fn encryption_unavailable(credential: &'static str, why: &str) -> Error {
    Error::failed(
        credential,
        format!(
            "Cache encryption is impossible because the Secret Service (libsecret) is unusable, \
             for example because no desktop session is available (as in an SSH session): {why}. \
             Specify \"allow_unencrypted_storage = true\" in TokenCachePersistenceOptions to \
             store the cache unencrypted instead of failing"
        ),
    )
}

impl PersistentTokenCache {
    /// Opens the cache named by `options` (its CAE twin when `cae`): the Secret Service when it
    /// is usable, else the plain file if `allow_unencrypted_storage`, else an error that says so.
    pub async fn open(
        options: &TokenCachePersistenceOptions,
        cae: bool,
        platform: &Platform,
    ) -> Result<Self, Error> {
        Self::open_for("TokenCachePersistence", options, cae, platform).await
    }

    pub(crate) async fn open_for(
        credential: &'static str,
        options: &TokenCachePersistenceOptions,
        cae: bool,
        platform: &Platform,
    ) -> Result<Self, Error> {
        let name = options.cache_name(credential, cae)?;
        let location = options::cache_location(credential, platform, &name)?;
        #[cfg(all(target_os = "linux", feature = "secret-service"))]
        let unusable = match secret_service::SecretServiceStore::open(platform, &name).await {
            Ok(store) => {
                return Ok(Self::with_backend(
                    credential,
                    location,
                    Backend::SecretService(store),
                    platform,
                ));
            }
            Err(why) => why,
        };
        #[cfg(not(all(target_os = "linux", feature = "secret-service")))]
        let unusable = if cfg!(target_os = "linux") {
            "this build of azidentity has no Secret Service support (feature \"secret-service\")"
                .to_owned()
        } else {
            "azidentity encrypts persistent caches only with the Linux Secret Service".to_owned()
        };
        if !options.allow_unencrypted_storage {
            return Err(encryption_unavailable(credential, &unusable));
        }
        tracing::debug!(
            credential,
            reason = %unusable,
            "token cache encryption unavailable; storing the cache unencrypted as allowed"
        );
        Ok(Self::with_backend(
            credential,
            location,
            Backend::File,
            platform,
        ))
    }

    fn with_backend(
        credential: &'static str,
        location: PathBuf,
        backend: Backend,
        platform: &Platform,
    ) -> Self {
        PersistentTokenCache {
            credential,
            location,
            backend,
            clock: platform.clock().clone(),
            loaded: Mutex::new(None),
            released: tokio::sync::Notify::new(),
        }
    }

    /// The cache file, or with the Secret Service the signal file whose mtime marks writes.
    pub fn location(&self) -> &Path {
        &self.location
    }

    /// Whether the cache is encrypted (kept in the Secret Service).
    pub fn is_encrypted(&self) -> bool {
        !matches!(self.backend, Backend::File)
    }

    /// The cache as it is now: reloaded only when another process (or Python) wrote it since
    /// the last read. Takes no lock, as msal-extensions' readers take none, and never waits
    /// for a writer.
    pub async fn load(&self) -> Result<Arc<TokenCacheDocument>, Error> {
        self.refresh().await
    }

    /// Reloads, applies `change` and writes the cache back, all under the cross-process lock;
    /// nothing is written when `change` leaves the cache as it was.
    pub async fn modify<R>(
        &self,
        change: impl FnOnce(&mut TokenCacheDocument) -> R,
    ) -> Result<R, Error> {
        let result = self.modify_locked(change).await;
        self.released.notify_waiters();
        result
    }

    /// Writers of this process and of others take turns on the lockfile alone; readers never
    /// wait for them.
    async fn modify_locked<R>(
        &self,
        change: impl FnOnce(&mut TokenCacheDocument) -> R,
    ) -> Result<R, Error> {
        let _lock =
            lock::acquire(self.credential, &self.location, &self.clock, &self.released).await?;
        let current = self.refresh().await?;
        let mut document = TokenCacheDocument::clone(&current);
        let result = change(&mut document);
        if document == *current {
            return Ok(result);
        }
        // A document that cannot be serialized is never replaced by an empty or partial text:
        // the file holds other applications' accounts too.
        let text = document.try_serialize().map_err(|e| {
            Error::failed(
                self.credential,
                format!("cannot serialize the token cache; it was left as it was: {e}"),
            )
        })?;
        self.store(text.as_bytes()).await?;
        let stamp = file::stamp(&self.location).map_err(|e| self.io_error("read", &e))?;
        self.remember(stamp, Arc::new(document));
        Ok(result)
    }

    fn remember(&self, stamp: Option<file::Stamp>, document: Arc<TokenCacheDocument>) {
        *self.loaded.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(Loaded { stamp, document });
    }

    /// The document last read or written, if the file has not changed since.
    fn unchanged(&self, stamp: Option<file::Stamp>) -> Option<Arc<TokenCacheDocument>> {
        self.loaded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|l| l.stamp == stamp)
            .map(|l| l.document.clone())
    }

    fn io_error(&self, action: &str, error: &std::io::Error) -> Error {
        Error::failed(
            self.credential,
            format!(
                "cannot {action} the token cache {}: {error}",
                self.location.display()
            ),
        )
    }

    async fn refresh(&self) -> Result<Arc<TokenCacheDocument>, Error> {
        let mut last_problem = String::new();
        for attempt in 0..READ_ATTEMPTS {
            if attempt > 0 {
                self.clock.sleep(READ_RETRY).await;
            }
            let stamp = file::stamp(&self.location).map_err(|e| self.io_error("read", &e))?;
            if let Some(current) = self.unchanged(stamp) {
                return Ok(current);
            }
            let bytes = self.fetch(stamp.is_some()).await?;
            // Never decoded lossily: a lossy copy written back would corrupt every entry that
            // held the invalid bytes, in other applications' entries too.
            let Ok(text) = std::str::from_utf8(&bytes) else {
                return Err(Error::failed(
                    self.credential,
                    format!(
                        "the token cache {} is not valid UTF-8 text; it is left untouched. \
                         Delete it to start afresh",
                        self.location.display()
                    ),
                ));
            };
            // Python's writer truncates the file in place: an empty file is nearly always a
            // write under way. (An empty keyring answer just means there is no item yet.)
            let mid_write_possible = matches!(self.backend, Backend::File) && stamp.is_some();
            let parsed = if text.trim().is_empty() {
                if mid_write_possible && attempt + 1 < READ_ATTEMPTS {
                    Err("it is empty".to_owned())
                } else {
                    Ok(TokenCacheDocument::new())
                }
            } else {
                TokenCacheDocument::deserialize(text).map_err(|e| e.message().to_owned())
            };
            match parsed {
                Ok(document) => {
                    let document = Arc::new(document);
                    self.remember(stamp, document.clone());
                    return Ok(document);
                }
                Err(problem) => last_problem = problem,
            }
        }
        Err(Error::failed(
            self.credential,
            format!(
                "cannot read the token cache {}: {last_problem}. If no other program is writing \
                 it, it is damaged: delete it to start afresh",
                self.location.display()
            ),
        ))
    }

    /// The stored JSON; empty when there is none. `exists`: whether the (signal) file exists.
    async fn fetch(&self, exists: bool) -> Result<Vec<u8>, Error> {
        match &self.backend {
            Backend::File => {
                if !exists {
                    return Ok(Vec::new());
                }
                file::read(&self.location)
                    .map(Option::unwrap_or_default)
                    .map_err(|e| self.io_error("read", &e))
            }
            #[cfg(all(target_os = "linux", feature = "secret-service"))]
            Backend::SecretService(store) => store
                .read()
                .await
                .map(Option::unwrap_or_default)
                .map_err(|why| {
                    Error::failed(
                        self.credential,
                        format!("cannot read the token cache from the Secret Service: {why}"),
                    )
                }),
        }
    }

    async fn store(&self, bytes: &[u8]) -> Result<(), Error> {
        match &self.backend {
            Backend::File => {
                file::write_atomic(&self.location, bytes).map_err(|e| self.io_error("write", &e))
            }
            #[cfg(all(target_os = "linux", feature = "secret-service"))]
            Backend::SecretService(store) => {
                store.write(bytes).await.map_err(|why| {
                    Error::failed(
                        self.credential,
                        format!("cannot write the token cache to the Secret Service: {why}"),
                    )
                })?;
                // Other processes reload when the signal file's mtime moves.
                file::touch(&self.location).map_err(|e| self.io_error("signal a write to", &e))
            }
        }
    }
}
