//! Pluggable token stores: an application's own place for the token cache (Redis, a database),
//! shared by processes and hosts. The trait is MSAL's serialization callbacks (load before an
//! access, save after it, with a suggested partition key) plus an optional short lease so
//! processes cold-starting on one key send one token request.
//!
//! A store failure never fails a token request: it is logged once (until the store works again)
//! and the store is left alone for a while, so a store that is down or slow costs one timeout,
//! not one per call.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use time::OffsetDateTime;

use super::persistent::{TokenCacheDocument, TokenCachePersistenceOptions};
use super::store::{Partition, PartitionKind};

/// What a [`TokenCacheStore`] reports when it fails.
pub type StoreError = Box<dyn std::error::Error + Send + Sync>;

/// The future a [`TokenCacheStore`] returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A place to keep serialized token caches, one value per key, shared by every process that
/// uses it (MSAL's before/after access callbacks).
///
/// Keys are `<cache name>.<nocae|cae>/<partition>`, the partition being
/// `<client id>_<tenant>_AppTokenCache` for an application's tokens, the user assertion's hash
/// for on-behalf-of, and the home account id for a signed-in user. Values are MSAL's cache JSON,
/// encrypted when the [`CacheStore`] has a key; they hold tokens, never client secrets.
///
/// Implementations need not be fast or reliable: the credential's in-memory cache answers
/// repeated requests, calls are bounded by [`CacheStore::with_timeout`], and failures are
/// logged, not raised.
pub trait TokenCacheStore: Send + Sync + fmt::Debug {
    /// The value under `key`, `None` when there is none.
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>>;

    /// Stores `value` under `key`, to be forgotten after `ttl` (when no token in it is usable
    /// any more). A store must never keep a value longer.
    fn save<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()>;

    /// Tries to take the lease `name` for `owner` for at most `ttl`; `true` when taken. Stores
    /// shared by several processes implement it (Redis: `SET NX PX`) so that processes
    /// cold-starting on one key send one token request; the default takes every lease.
    fn try_lease<'a>(
        &'a self,
        _name: &'a str,
        _owner: &'a str,
        _ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        Box::pin(std::future::ready(Ok(true)))
    }

    /// Gives the lease back, if `owner` still holds it.
    fn release_lease<'a>(&'a self, _name: &'a str, _owner: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A [`TokenCacheStore`] with the settings credentials use it with; put it in
/// [`TokenCachePersistenceOptions::store`]. Clones share the store.
#[derive(Clone)]
pub struct CacheStore {
    inner: Arc<dyn TokenCacheStore>,
    key: Option<Arc<LessSafeKey>>,
    timeout: Duration,
    refresh_token_lifetime: Duration,
    lease: Duration,
    health: Arc<Health>,
}

impl fmt::Debug for CacheStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheStore")
            .field("store", &self.inner)
            .field("encrypted", &self.key.is_some())
            .field("timeout", &self.timeout)
            .field("refresh_token_lifetime", &self.refresh_token_lifetime)
            .finish_non_exhaustive()
    }
}

impl PartialEq for CacheStore {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.health, &other.health)
    }
}

impl Eq for CacheStore {}

/// After a failure the store is left alone this long: the in-memory cache and the token service
/// serve meanwhile.
const BACKOFF_MS: i64 = 10_000;
/// Values larger than this are not stored (a cache is a few KiB; this is a bug or an attack).
const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// How often a waiting process looks for the token another process is fetching.
const LEASE_POLL: Duration = Duration::from_millis(50);

#[derive(Debug, Default)]
struct Health {
    /// A warning was logged since the store last worked.
    warned: AtomicBool,
    /// Unix ms before which the store is not used.
    resting_until_ms: AtomicI64,
}

/// Prefix of an encrypted value: a version, so the format can change.
const SEALED: &[u8] = b"azidentity-aes256gcm-v1:";

impl CacheStore {
    /// Uses `store` with the defaults: plain values, 2 s per call, refresh tokens kept a day.
    pub fn new(store: impl TokenCacheStore + 'static) -> Self {
        CacheStore {
            inner: Arc::new(store),
            key: None,
            timeout: Duration::from_secs(2),
            refresh_token_lifetime: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(10),
            health: Arc::default(),
        }
    }

    /// Encrypts values (AES-256-GCM, bound to their key) with `key`, which the application keeps
    /// elsewhere (a key vault, a secret mount). A value that does not decrypt (another key,
    /// another application, tampering) is ignored.
    pub fn with_encryption_key(mut self, key: &[u8; 32]) -> Self {
        // A 32-byte key is always valid for AES-256.
        if let Ok(unbound) = UnboundKey::new(&AES_256_GCM, key) {
            self.key = Some(Arc::new(LessSafeKey::new(unbound)));
        }
        self
    }

    /// How long one store call may take before it counts as a failure (default 2 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a value holding a refresh token is kept after its last write (default a day);
    /// values with access tokens only expire with them.
    pub fn with_refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_token_lifetime = lifetime;
        self
    }

    /// How long one process may hold a cold-start lease before others go ahead (default 10 s).
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }
}

/// A key in an application's store.
#[derive(Debug)]
pub(crate) struct StoreKey(String);

impl StoreKey {
    pub(crate) fn of(name: &str, partition: &Partition<'_>) -> Self {
        let flavour = if partition.cae { "cae" } else { "nocae" };
        let kind = match partition.kind {
            PartitionKind::App => "app",
            PartitionKind::Account => "account",
            PartitionKind::UserAssertion => "obo",
        };
        StoreKey(format!("{name}.{flavour}/{kind}/{}", partition.key))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// A failure worth one warning.
#[derive(Debug)]
struct Failure(String);

/// The credential's side of an application's store.
#[derive(Debug)]
pub(crate) struct CustomStore {
    store: CacheStore,
    name: String,
    random: SystemRandom,
    /// Lease owner id: this process and this credential.
    owner: String,
}

impl CustomStore {
    pub(crate) fn new(store: &CacheStore, options: &TokenCachePersistenceOptions) -> Self {
        CustomStore {
            store: store.clone(),
            name: options.name.trim().to_owned(),
            random: SystemRandom::new(),
            owner: format!("{}:{}", std::process::id(), uuid::Uuid::new_v4().simple()),
        }
    }

    pub(crate) fn key(&self, partition: &Partition<'_>) -> StoreKey {
        StoreKey::of(&self.name, partition)
    }

    fn resting(&self, now_ms: i64) -> bool {
        now_ms < self.store.health.resting_until_ms.load(Ordering::Relaxed)
    }

    /// The store failed (down, slow, refusing): warned about once, then left alone a while.
    fn failed(&self, credential: &'static str, now_ms: i64, failure: Failure) {
        self.store
            .health
            .resting_until_ms
            .store(now_ms.saturating_add(BACKOFF_MS), Ordering::Relaxed);
        self.warn(credential, failure);
    }

    /// Warned about once until the store works again.
    fn warn(&self, credential: &'static str, failure: Failure) {
        let health = &self.store.health;
        if !health.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                credential,
                problem = %failure.0,
                "the token cache store is not working; tokens come from memory and the token \
                 service until it does (logged once)"
            );
        } else {
            tracing::debug!(credential, problem = %failure.0, "token cache store failure");
        }
    }

    fn worked(&self) {
        self.store.health.warned.store(false, Ordering::Relaxed);
    }

    async fn call<T>(&self, future: StoreFuture<'_, T>) -> Result<T, Failure> {
        match tokio::time::timeout(self.store.timeout, future).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) => Err(Failure(error.to_string())),
            Err(_) => Err(Failure(format!(
                "no answer within {} ms",
                self.store.timeout.as_millis()
            ))),
        }
    }

    fn seal(&self, key: &StoreKey, plain: Vec<u8>) -> Result<Vec<u8>, Failure> {
        let Some(aead) = &self.store.key else {
            return Ok(plain);
        };
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .map_err(|_| Failure("no random numbers for a nonce".into()))?;
        let mut data = plain;
        aead.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(key.as_str().as_bytes()),
            &mut data,
        )
        .map_err(|_| Failure("encryption failed".into()))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&data);
        let mut out = SEALED.to_vec();
        out.extend_from_slice(STANDARD.encode(sealed).as_bytes());
        Ok(out)
    }

    fn open(&self, key: &StoreKey, stored: Vec<u8>) -> Result<Vec<u8>, Failure> {
        let Some(aead) = &self.store.key else {
            return Ok(stored);
        };
        let encoded = stored
            .strip_prefix(SEALED)
            .ok_or_else(|| Failure(format!("the value of {} is not encrypted", key.as_str())))?;
        let bad = || {
            Failure(format!(
                "the value of {} does not decrypt with this key (another key or application, \
                 or tampered with)",
                key.as_str()
            ))
        };
        let mut sealed = STANDARD.decode(encoded).map_err(|_| bad())?;
        if sealed.len() < NONCE_LEN {
            return Err(bad());
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&sealed[..NONCE_LEN]);
        let plain = aead
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.as_str().as_bytes()),
                &mut sealed[NONCE_LEN..],
            )
            .map_err(|_| bad())?;
        Ok(plain.to_vec())
    }

    fn decode(&self, key: &StoreKey, stored: Vec<u8>) -> Result<TokenCacheDocument, Failure> {
        let plain = self.open(key, stored)?;
        let text = String::from_utf8(plain)
            .map_err(|_| Failure(format!("the value of {} is not UTF-8", key.as_str())))?;
        TokenCacheDocument::deserialize(&text)
            .map_err(|e| Failure(format!("the value of {}: {}", key.as_str(), e.message())))
    }

    /// The document under the partition's key; empty when there is none or the store fails.
    pub(crate) async fn load(
        &self,
        credential: &'static str,
        partition: &Partition<'_>,
        now: OffsetDateTime,
    ) -> TokenCacheDocument {
        let now_ms = super::policy::unix_ms(now);
        if self.resting(now_ms) {
            return TokenCacheDocument::new();
        }
        let key = self.key(partition);
        let loaded = match self.call(self.store.inner.load(key.as_str())).await {
            Ok(loaded) => loaded,
            Err(failure) => {
                self.failed(credential, now_ms, failure);
                return TokenCacheDocument::new();
            }
        };
        // A value that does not read (corrupt, another application's, another key) counts as
        // none: the next save replaces it.
        match loaded.map(|value| self.decode(&key, value)) {
            None => {
                self.worked();
                TokenCacheDocument::new()
            }
            Some(Ok(document)) => {
                self.worked();
                document
            }
            Some(Err(failure)) => {
                self.warn(credential, failure);
                TokenCacheDocument::new()
            }
        }
    }

    /// Loads, changes and saves the partition's document. The store is not locked across
    /// processes (MSAL's callbacks do not lock either): the last writer of a partition wins,
    /// and every writer writes a complete, valid document.
    pub(crate) async fn modify<R>(
        &self,
        credential: &'static str,
        partition: &Partition<'_>,
        now: OffsetDateTime,
        change: impl FnOnce(&mut TokenCacheDocument) -> R,
    ) -> R {
        let mut document = self.load(credential, partition, now).await;
        let before = document.clone();
        let result = change(&mut document);
        let now_s = now.unix_timestamp();
        document.remove_expired_access_tokens(now_s);
        if document == before || self.resting(super::policy::unix_ms(now)) {
            return result;
        }
        let ttl = self.expiry(&document, now) - now;
        let ttl = Duration::try_from(ttl).unwrap_or(Duration::from_secs(1));
        let key = self.key(partition);
        let saved = match self.encode(&key, &document) {
            Ok(value) => {
                self.call(self.store.inner.save(key.as_str(), value, ttl))
                    .await
            }
            Err(failure) => Err(failure),
        };
        match saved {
            Ok(()) => self.worked(),
            Err(failure) => self.failed(credential, super::policy::unix_ms(now), failure),
        }
        result
    }

    fn encode(&self, key: &StoreKey, document: &TokenCacheDocument) -> Result<Vec<u8>, Failure> {
        let text = document
            .try_serialize()
            .map_err(|e| Failure(format!("cannot serialize the token cache: {e}")))?;
        if text.len() > MAX_VALUE_BYTES {
            return Err(Failure(format!(
                "the token cache for {} is larger than {MAX_VALUE_BYTES} bytes; not stored",
                key.as_str()
            )));
        }
        self.seal(key, text.into_bytes())
    }

    /// When the value stops being useful: its last access token's expiry, or for refresh
    /// tokens the configured lifetime from now. Never immortal.
    fn expiry(&self, document: &TokenCacheDocument, now: OffsetDateTime) -> OffsetDateTime {
        let tokens = document
            .latest_access_token_expiry()
            .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
            .filter(|on| *on > now);
        let refresh = document
            .has_refresh_tokens()
            .then(|| now + self.store.refresh_token_lifetime);
        let fallback = now + time::Duration::minutes(5);
        tokens.max(refresh).unwrap_or(fallback)
    }

    /// Waits for another process's fetch of the same token: returns what `find` finds in the
    /// store, or a lease (or no lease, after waiting long enough) to fetch it ourselves.
    pub(crate) async fn coordinate<T>(
        &self,
        credential: &'static str,
        partition: &Partition<'_>,
        what: &str,
        clock: &Arc<dyn crate::platform::Clock>,
        find: impl Fn(&TokenCacheDocument) -> Option<T>,
    ) -> Coordinated<T> {
        let name = format!("{}/lease/{what}", self.key(partition).as_str());
        let started = clock.now();
        let deadline = started + self.store.lease;
        loop {
            let now = clock.now();
            if self.resting(super::policy::unix_ms(now)) || now >= deadline {
                return Coordinated::Fetch(None);
            }
            let taken = self
                .call(
                    self.store
                        .inner
                        .try_lease(&name, &self.owner, self.store.lease),
                )
                .await;
            match taken {
                Ok(true) => {
                    // The holder may have stored the token just before letting go.
                    let document = self.load(credential, partition, clock.now()).await;
                    if let Some(found) = find(&document) {
                        self.release(credential, &name).await;
                        return Coordinated::Found(found);
                    }
                    return Coordinated::Fetch(Some(name));
                }
                Ok(false) => {}
                Err(failure) => {
                    self.failed(credential, super::policy::unix_ms(now), failure);
                    return Coordinated::Fetch(None);
                }
            }
            clock.sleep(LEASE_POLL).await;
            let document = self.load(credential, partition, clock.now()).await;
            if let Some(found) = find(&document) {
                return Coordinated::Found(found);
            }
        }
    }

    pub(crate) async fn release(&self, credential: &'static str, lease: &str) {
        if let Err(failure) = self
            .call(self.store.inner.release_lease(lease, &self.owner))
            .await
        {
            tracing::debug!(credential, problem = %failure.0, "could not release a cache lease");
        }
    }
}

/// What [`CustomStore::coordinate`] decided.
pub(crate) enum Coordinated<T> {
    /// Another process stored it meanwhile.
    Found(T),
    /// Fetch it; release the lease (when one was taken) afterwards.
    Fetch(Option<String>),
}
