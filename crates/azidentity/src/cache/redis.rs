//! A [`TokenCacheStore`] on Redis (feature `redis`, on the `redis` crate with tokio): for fleets
//! of processes and hosts sharing an application's tokens, or a middle tier's on-behalf-of
//! users' tokens, across instances.
//!
//! Each credential's in-memory cache is the L1 in front of it: a cached `get_token` never
//! touches Redis. Every key is written with an expiry (`SET .. PX`), the one of the tokens it
//! holds; leases are `SET NX PX` and released only by their owner.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::custom::{StoreFuture, TokenCacheStore};
use crate::Error;

/// Keys are `azidentity:` and the cache's key.
const PREFIX: &str = "azidentity:";
/// Connecting and each answer: Redis on the same network answers in a millisecond.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// Deletes a lease only if it still holds the owner's value.
const RELEASE: &str = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

/// Token caches in Redis. Build it with [`RedisTokenStore::open`] and hand it to credentials
/// through [`CacheStore`](crate::CacheStore) in
/// [`TokenCachePersistenceOptions::store`](crate::TokenCachePersistenceOptions::store).
///
/// Connects on first use and reconnects after failures; a Redis that is down, slow or answers
/// garbage never fails a token request (see [`CacheStore`](crate::CacheStore)).
pub struct RedisTokenStore {
    client: ::redis::Client,
    /// Shown in logs: the URL without its password.
    shown: String,
    connection: Mutex<Option<ConnectionManager>>,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTokenStore({})", self.shown)
    }
}

impl RedisTokenStore {
    /// A store at `url` (`redis://HOST:PORT/DB`, `rediss://` for TLS, a password as
    /// `redis://:PASSWORD@HOST`). Only the URL is checked here; nothing is sent yet.
    pub fn open(url: &str) -> Result<Self, Error> {
        let shown = match url::Url::parse(url) {
            Ok(mut parsed) => {
                if parsed.password().is_some() {
                    let _ = parsed.set_password(Some("***"));
                }
                parsed.to_string()
            }
            Err(_) => "<invalid URL>".to_owned(),
        };
        let client = ::redis::Client::open(url).map_err(|e| {
            Error::config(
                "RedisTokenStore",
                format!(
                    "invalid Redis URL {shown}: {e}; use redis://HOST:PORT/DB (or rediss:// for TLS)"
                ),
            )
        })?;
        Ok(RedisTokenStore {
            client,
            shown,
            connection: Mutex::new(None),
        })
    }

    /// The shared connection, made outside any lock (two first callers may both connect; one
    /// connection is kept).
    async fn connection(&self) -> Result<ConnectionManager, ::redis::RedisError> {
        if let Some(connection) = self.held() {
            return Ok(connection);
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(1);
        let made = ConnectionManager::new_with_config(self.client.clone(), config).await?;
        let mut held = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Ok(held.get_or_insert(made).clone())
    }

    fn held(&self) -> Option<ConnectionManager> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn key(name: &str) -> String {
    format!("{PREFIX}{name}")
}

impl TokenCacheStore for RedisTokenStore {
    fn load<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let value: Option<Vec<u8>> = ::redis::cmd("GET")
                .arg(key(name))
                .query_async(&mut connection)
                .await?;
            Ok(value)
        })
    }

    fn save<'a>(&'a self, name: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // Never immortal, never less than a second (PX must be positive).
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1000);
            let mut connection = self.connection().await?;
            let () = ::redis::cmd("SET")
                .arg(key(name))
                .arg(value)
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut connection)
                .await?;
            Ok(())
        })
    }

    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        owner: &'a str,
        ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let set: Option<String> = ::redis::cmd("SET")
                .arg(key(name))
                .arg(owner)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut connection)
                .await?;
            Ok(set.is_some())
        })
    }

    fn release_lease<'a>(&'a self, name: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection().await?;
            let _: i64 = ::redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(key(name))
                .arg(owner)
                .query_async(&mut connection)
                .await?;
            Ok(())
        })
    }
}
