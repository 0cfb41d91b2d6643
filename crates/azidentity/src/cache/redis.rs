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

use super::custom::{StoreError, StoreFuture, TokenCacheStore};
use crate::Error;

/// Keys are `azidentity:` and the cache's key.
const PREFIX: &str = "azidentity:";
/// Connecting and each answer: Redis on the same network answers in a millisecond.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(1);
/// The value of a key if it is a string of at most ARGV[1] bytes; -1 for a key of another type
/// (another application's list, hash, ...), -2 for a longer string: both are garbage to us,
/// read as nothing and overwritten by the next save, and neither is transferred.
const LOAD: &str = "local kind = redis.call('type', KEYS[1]).ok \
    if kind == 'none' then return false end \
    if kind ~= 'string' then return -1 end \
    if redis.call('strlen', KEYS[1]) > tonumber(ARGV[1]) then return -2 end \
    return redis.call('get', KEYS[1])";
/// The longest value read: the cache's own cap on what it writes (1 MiB of JSON, sealed).
const MAX_READ_BYTES: usize = 2 * 1024 * 1024;
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
    /// Shown in logs: the URL without its password or any query value but the database.
    shown: String,
    /// The URL's credentials, scrubbed from every error message.
    secrets: Vec<String>,
    connection: Mutex<Option<ConnectionManager>>,
}

impl fmt::Debug for RedisTokenStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTokenStore({})", self.shown)
    }
}

impl RedisTokenStore {
    /// A store at `url` (`redis://HOST:PORT/DB`, a password as
    /// `redis://:PASSWORD@HOST`, a socket as `redis+unix:///PATH?db=N&pass=PASSWORD`). Only the
    /// URL is checked here; nothing is sent yet. The password never appears in `Debug`, logs
    /// or errors.
    pub fn open(url: &str) -> Result<Self, Error> {
        let (shown, secrets) = redact(url);
        let client = ::redis::Client::open(url).map_err(|e| {
            Error::config(
                "RedisTokenStore",
                format!(
                    "invalid Redis URL {shown}: {}; use redis://HOST:PORT/DB (or \
                     redis+unix:///PATH for a socket; this build has no TLS)",
                    scrub(&e.to_string(), &secrets)
                ),
            )
        })?;
        Ok(RedisTokenStore {
            client,
            shown,
            secrets,
            connection: Mutex::new(None),
        })
    }

    /// A Redis error as the cache reports it, without the URL's credentials.
    fn error(&self, error: ::redis::RedisError) -> StoreError {
        scrub(&error.to_string(), &self.secrets).into()
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

/// Query parameters that hold no credential.
const HARMLESS: &[&str] = &["db", "protocol"];

/// The URL as it may be shown (password and every query value but the database replaced by
/// `***`), and the credentials found in it, raw and percent-decoded.
fn redact(url: &str) -> (String, Vec<String>) {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return ("<invalid URL>".to_owned(), Vec::new());
    };
    let mut secrets = Vec::new();
    if let Some(password) = parsed.password() {
        secrets.push(password.to_owned());
        secrets.push(percent_decoded(password));
        let _ = parsed.set_password(Some("***"));
    }
    let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
    if !pairs.is_empty() {
        if let Some(raw) = parsed.query() {
            secrets.extend(
                raw.split('&')
                    .filter_map(|p| p.split_once('='))
                    .filter(|(name, _)| !HARMLESS.contains(name))
                    .map(|(_, value)| value.to_owned()),
            );
        }
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (name, value) in &pairs {
            if HARMLESS.contains(&name.as_str()) {
                query.append_pair(name, value);
            } else {
                secrets.push(value.clone());
                query.append_pair(name, "***");
            }
        }
    }
    parsed.set_fragment(None);
    secrets.retain(|s| !s.is_empty());
    (parsed.to_string(), secrets)
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn scrub(text: &str, secrets: &[String]) -> String {
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    crate::redact::without_known(text, &secrets)
}

impl TokenCacheStore for RedisTokenStore {
    fn load<'a>(&'a self, name: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        Box::pin(async move {
            let mut connection = self.connection().await.map_err(|e| self.error(e))?;
            let value: ::redis::Value = ::redis::cmd("EVAL")
                .arg(LOAD)
                .arg(1)
                .arg(key(name))
                .arg(MAX_READ_BYTES)
                .query_async(&mut connection)
                .await
                .map_err(|e| self.error(e))?;
            match value {
                ::redis::Value::BulkString(bytes) => Ok(Some(bytes)),
                ::redis::Value::Int(-1) => {
                    tracing::warn!(
                        key = %key(name),
                        "the Redis key holds another type than a string (another application's \
                         data?); it is read as empty and overwritten"
                    );
                    Ok(None)
                }
                ::redis::Value::Int(-2) => {
                    tracing::warn!(
                        key = %key(name),
                        "the Redis value is larger than {MAX_READ_BYTES} bytes, more than a \
                         token cache can be; it is read as empty and overwritten"
                    );
                    Ok(None)
                }
                _ => Ok(None),
            }
        })
    }

    fn save<'a>(&'a self, name: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            // Never immortal, never less than a second (PX must be positive).
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1000);
            let mut connection = self.connection().await.map_err(|e| self.error(e))?;
            let () = ::redis::cmd("SET")
                .arg(key(name))
                .arg(value)
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut connection)
                .await
                .map_err(|e| self.error(e))?;
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
            let mut connection = self.connection().await.map_err(|e| self.error(e))?;
            let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
            let set: Option<String> = ::redis::cmd("SET")
                .arg(key(name))
                .arg(owner)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms)
                .query_async(&mut connection)
                .await
                .map_err(|e| self.error(e))?;
            Ok(set.is_some())
        })
    }

    fn release_lease<'a>(&'a self, name: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut connection = self.connection().await.map_err(|e| self.error(e))?;
            let _: i64 = ::redis::cmd("EVAL")
                .arg(RELEASE)
                .arg(1)
                .arg(key(name))
                .arg(owner)
                .query_async(&mut connection)
                .await
                .map_err(|e| self.error(e))?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way a Redis URL carries a credential stays out of `Debug` and errors.
    #[test]
    fn credentials_are_redacted() {
        let secret = "s3cr%26t-pw";
        for url in [
            format!("redis://user:{secret}@127.0.0.1:6379/0"),
            format!("redis+unix:///tmp/redis.sock?db=1&pass={secret}"),
            format!("unix:///tmp/redis.sock?pass={secret}&user=me"),
            format!("redis://:{secret}@127.0.0.1/2?protocol=resp3"),
        ] {
            let store = RedisTokenStore::open(&url).unwrap();
            let shown = format!("{store:?}");
            assert!(!shown.contains("s3cr"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
            let error = store.error(::redis::RedisError::from((
                ::redis::ErrorKind::Io,
                "refused",
                format!("while connecting to {url} with s3cr&t-pw"),
            )));
            assert!(!error.to_string().contains("s3cr"), "{error}");
        }
        // Refused URLs (this build has no TLS) do not show it either.
        let bad = RedisTokenStore::open(&format!("rediss://:{secret}@127.0.0.1/0"));
        assert!(bad.is_err());
        let message = format!(
            "{:?} {}",
            bad.as_ref().err(),
            bad.as_ref()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        );
        assert!(!message.contains("s3cr"), "{message}");
        let (shown, _) = redact("redis+unix:///tmp/r.sock?db=3&pass=x");
        assert!(shown.contains("db=3"), "{shown}");
    }
}
