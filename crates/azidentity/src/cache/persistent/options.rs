//! `TokenCachePersistenceOptions` and where a named cache lives.

use std::path::PathBuf;

use crate::cache::custom::CacheStore;
use crate::{Error, Platform};

/// The default cache name, shared with Microsoft's developer tools.
pub(crate) const DEFAULT_NAME: &str = "msal.cache";

/// Makes a credential keep its tokens in a persistent cache that other processes, Python
/// `azure-identity` and Microsoft's developer tools share (Python: `TokenCachePersistenceOptions`).
///
/// On Linux the cache is encrypted in the Secret Service (GNOME Keyring, KWallet) under the
/// same attributes as Python's libsecret persistence, with `~/.IdentityService/<name>.nocae`
/// (`.cae` for CAE tokens) as the signal file other processes watch. Without a usable Secret
/// Service, credentials fail unless `allow_unencrypted_storage` is set, in which case the cache
/// is that file, in plain JSON readable only by the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCachePersistenceOptions {
    /// The cache's name; applications that share a name share tokens. Default `msal.cache`.
    pub name: String,
    /// Store the cache unencrypted when encryption is unavailable; with a `store`, let a store
    /// without an encryption key hold tokens in plain text. Default `false`.
    pub allow_unencrypted_storage: bool,
    /// Keep the cache in this store (Redis, an application's own) instead of the file / Secret
    /// Service; `name` then prefixes its keys. Default `None`.
    pub store: Option<CacheStore>,
}

impl Default for TokenCachePersistenceOptions {
    fn default() -> Self {
        TokenCachePersistenceOptions {
            name: DEFAULT_NAME.to_owned(),
            allow_unencrypted_storage: false,
            store: None,
        }
    }
}

impl TokenCachePersistenceOptions {
    /// The application's store, when one was given.
    pub(crate) fn store(&self) -> Option<&CacheStore> {
        self.store.as_ref()
    }

    /// The cache's full name: CAE tokens live apart from the others, as in Python 1.14+.
    pub(crate) fn cache_name(&self, credential: &'static str, cae: bool) -> Result<String, Error> {
        let name = self.name.trim();
        let bad =
            name.is_empty() || name == "." || name == ".." || name.contains(['/', '\\', '\0']);
        if bad {
            return Err(Error::config(
                credential,
                format!(
                    "invalid token cache name {:?}: use a plain file name such as \"msal.cache\"",
                    self.name
                ),
            ));
        }
        Ok(format!("{name}.{}", if cae { "cae" } else { "nocae" }))
    }
}

/// `~/.IdentityService/<cache name>` (`%LOCALAPPDATA%\.IdentityService` on Windows).
pub(crate) fn cache_location(
    credential: &'static str,
    platform: &Platform,
    cache_name: &str,
) -> Result<PathBuf, Error> {
    let base = if cfg!(windows) {
        platform
            .env()
            .non_empty("LOCALAPPDATA")
            .map(PathBuf::from)
            .or_else(|| platform.home_dir())
    } else {
        platform.home_dir()
    };
    let Some(base) = base else {
        return Err(Error::failed(
            credential,
            "cannot find the token cache: no home directory (HOME) is set",
        ));
    };
    Ok(base.join(".IdentityService").join(cache_name))
}
