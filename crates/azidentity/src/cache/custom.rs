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

use super::last_good::LastGood;
use super::persistent::{TokenCacheDocument, TokenCachePersistenceOptions};
use super::store::{Partition, PartitionKind};
use crate::Error;

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
/// [`TokenCachePersistenceOptions::store`]. Clones share the store and its in-memory copy.
///
/// Values are tokens: a credential refuses a store without an encryption key
/// ([`CacheStore::with_encryption_key`]) unless its options set `allow_unencrypted_storage`.
#[derive(Clone)]
pub struct CacheStore {
    inner: Arc<dyn TokenCacheStore>,
    key: Option<Arc<LessSafeKey>>,
    timeout: Duration,
    refresh_token_lifetime: Duration,
    lease: Duration,
    retry_after: Duration,
    health: Arc<Health>,
    last_good: Arc<LastGood>,
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

/// Values larger than this are neither stored nor read (a cache is a few KiB; this is a bug or
/// an attack).
const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// How often a waiting process looks for the token another process is fetching.
const LEASE_POLL: Duration = Duration::from_millis(50);
/// No value is kept longer than this, whatever the configured lifetimes (never immortal).
const MAX_TTL: Duration = Duration::from_secs(400 * 24 * 3600);
/// Entra's refresh tokens live up to 90 days (inactivity), so values holding them are kept
/// that long after their last write by default.
const REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(90 * 24 * 3600);

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
    /// Uses `store` with the defaults: 2 s per call, values holding refresh tokens kept 90
    /// days, a 10 s cold-start lease, the store left alone 10 s after a failure. Give it a key
    /// ([`CacheStore::with_encryption_key`]) or set `allow_unencrypted_storage`.
    pub fn new(store: impl TokenCacheStore + 'static) -> Self {
        CacheStore {
            inner: Arc::new(store),
            key: None,
            timeout: Duration::from_secs(2),
            refresh_token_lifetime: REFRESH_TOKEN_LIFETIME,
            lease: Duration::from_secs(10),
            retry_after: Duration::from_secs(10),
            health: Arc::default(),
            last_good: Arc::default(),
        }
    }

    /// Encrypts values (AES-256-GCM, bound to their key) with `key`, 32 bytes which the
    /// application keeps elsewhere (a key vault, a secret mount). A value that does not decrypt
    /// (another key, another application, tampering) is ignored. Any other key length is an
    /// error: a store never silently falls back to plain text.
    pub fn with_encryption_key(mut self, key: &[u8]) -> Result<Self, Error> {
        let bad = || {
            Error::config(
                "CacheStore",
                format!(
                    "the token cache encryption key must be 32 bytes (AES-256); this one has {}",
                    key.len()
                ),
            )
        };
        if key.len() != AES_256_GCM.key_len() {
            return Err(bad());
        }
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| bad())?;
        self.key = Some(Arc::new(LessSafeKey::new(unbound)));
        Ok(self)
    }

    /// Whether values are encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.key.is_some()
    }

    /// How long one store call may take before it counts as a failure (default 2 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long a value holding a refresh token is kept after its last write (default 90
    /// days, the longest an Entra refresh token lives unused; at most 400 days). Values with
    /// access tokens only expire with them.
    pub fn with_refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_token_lifetime = lifetime.min(MAX_TTL);
        self
    }

    /// How long one process may hold a cold-start lease before others go ahead (default 10 s,
    /// at most an hour). A lease whose `get_token` is dropped is released in the background.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.min(Duration::from_secs(3600));
        self
    }

    /// How long the store is left alone after a failure, tokens coming from memory and the
    /// token service meanwhile (default 10 s).
    pub fn with_retry_after(mut self, pause: Duration) -> Self {
        self.retry_after = pause.min(Duration::from_secs(3600));
        self
    }
}

/// `now + duration`, saturating at the largest time `OffsetDateTime` holds.
fn later(now: OffsetDateTime, duration: Duration) -> OffsetDateTime {
    time::Duration::try_from(duration)
        .ok()
        .and_then(|d| now.checked_add(d))
        .unwrap_or(time::PrimitiveDateTime::MAX.assume_utc())
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
        self.store.health.resting_until_ms.store(
            now_ms.saturating_add(self.store.retry_after.as_millis() as i64),
            Ordering::Relaxed,
        );
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
        if stored.len() > self.max_stored_bytes() {
            return Err(Failure(format!(
                "the value of {} is {} bytes, more than a token cache can be; ignored",
                key.as_str(),
                stored.len()
            )));
        }
        let plain = self.open(key, stored)?;
        let text = String::from_utf8(plain)
            .map_err(|_| Failure(format!("the value of {} is not UTF-8", key.as_str())))?;
        TokenCacheDocument::deserialize(&text)
            .map_err(|e| Failure(format!("the value of {}: {}", key.as_str(), e.message())))
    }

    /// The largest value a save can have written: the largest document, sealed.
    fn max_stored_bytes(&self) -> usize {
        match self.store.key {
            None => MAX_VALUE_BYTES,
            Some(_) => SEALED.len() + (NONCE_LEN + MAX_VALUE_BYTES + 16).div_ceil(3) * 4,
        }
    }

    /// The document under the partition's key, with what this process stored while the store
    /// could not take it (written back now that it can). While the store fails (or holds
    /// nothing usable), the last good document from memory.
    pub(crate) async fn load(
        &self,
        credential: &'static str,
        partition: &Partition<'_>,
        now: OffsetDateTime,
    ) -> TokenCacheDocument {
        let key = self.key(partition);
        let (document, unsaved) = self.load_key(credential, &key, now).await;
        if unsaved {
            self.save(credential, &key, &document, now).await;
        }
        document
    }

    /// The document, and whether it holds changes the store has not taken yet.
    async fn load_key(
        &self,
        credential: &'static str,
        key: &StoreKey,
        now: OffsetDateTime,
    ) -> (TokenCacheDocument, bool) {
        let now_ms = super::policy::unix_ms(now);
        let remembered = self.store.last_good.get(key.as_str());
        let from_memory = || {
            let document = remembered
                .as_ref()
                .map(|(document, _)| TokenCacheDocument::clone(document))
                .unwrap_or_default();
            (document, false)
        };
        if self.resting(now_ms) {
            return from_memory();
        }
        let loaded = match self.call(self.store.inner.load(key.as_str())).await {
            Ok(loaded) => loaded,
            Err(failure) => {
                self.failed(credential, now_ms, failure);
                return from_memory();
            }
        };
        // A value that does not read (corrupt, another application's, another key) counts as
        // none: the next save replaces it. With none, the last good document fills the gap
        // (a restarted, empty store) and is written back.
        let stored = match loaded.map(|value| self.decode(key, value)) {
            None => {
                self.worked();
                None
            }
            Some(Ok(document)) => {
                self.worked();
                Some(document)
            }
            Some(Err(failure)) => {
                self.warn(credential, failure);
                None
            }
        };
        match (stored, remembered) {
            (Some(mut document), Some((pending, true))) => {
                document.merge_from(&pending);
                (document, true)
            }
            (Some(document), _) => {
                self.store
                    .last_good
                    .put(key.as_str(), document.clone(), false);
                (document, false)
            }
            (None, Some((document, _))) if !document.is_empty() => {
                (TokenCacheDocument::clone(&document), true)
            }
            (None, _) => (TokenCacheDocument::new(), false),
        }
    }

    /// Loads, changes and saves the partition's document. The store is not locked across
    /// processes (MSAL's callbacks do not lock either): the last writer of a partition wins,
    /// and every writer writes a complete, valid document. While the store fails, the change
    /// is kept in memory and merged into the next successful save.
    pub(crate) async fn modify<R>(
        &self,
        credential: &'static str,
        partition: &Partition<'_>,
        now: OffsetDateTime,
        change: impl FnOnce(&mut TokenCacheDocument) -> R,
    ) -> R {
        let key = self.key(partition);
        let (mut document, unsaved) = self.load_key(credential, &key, now).await;
        let before = document.clone();
        let result = change(&mut document);
        if document != before || unsaved {
            self.save(credential, &key, &document, now).await;
        }
        result
    }

    /// Keeps `document` in memory, then in the store if it is working; failing that it stays
    /// pending in memory.
    async fn save(
        &self,
        credential: &'static str,
        key: &StoreKey,
        document: &TokenCacheDocument,
        now: OffsetDateTime,
    ) {
        let mut document = document.clone();
        document.remove_expired_access_tokens(now.unix_timestamp());
        if document.is_empty() {
            // Nothing worth keeping (the store's value expires by itself).
            self.store.last_good.put(key.as_str(), document, false);
            return;
        }
        let version = self
            .store
            .last_good
            .put(key.as_str(), document.clone(), true);
        let now_ms = super::policy::unix_ms(now);
        if self.resting(now_ms) {
            return;
        }
        let ttl = Duration::try_from(self.expiry(&document, now) - now)
            .unwrap_or(Duration::from_secs(1))
            .min(MAX_TTL);
        let saved = match self.encode(key, &document) {
            Ok(value) => {
                self.call(self.store.inner.save(key.as_str(), value, ttl))
                    .await
            }
            Err(failure) => Err(failure),
        };
        match saved {
            Ok(()) => {
                self.store.last_good.saved(key.as_str(), version);
                self.worked();
            }
            Err(failure) => self.failed(credential, now_ms, failure),
        }
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
            .then(|| later(now, self.store.refresh_token_lifetime));
        let fallback = later(now, Duration::from_secs(300));
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
        let deadline = later(clock.now(), self.store.lease);
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
                    // Held from here: a dropped `get_token` still gives it back.
                    let lease = Lease {
                        store: self.store.inner.clone(),
                        name: name.clone(),
                        owner: self.owner.clone(),
                        timeout: self.store.timeout,
                        credential,
                        released: false,
                    };
                    // The holder may have stored the token just before letting go.
                    let document = self.load(credential, partition, clock.now()).await;
                    if let Some(found) = find(&document) {
                        lease.release().await;
                        return Coordinated::Found(found);
                    }
                    return Coordinated::Fetch(Some(lease));
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
}

/// A cold-start lease this process holds. Given back by [`Lease::release`], or, when the
/// `get_token` holding it is dropped (cancelled), by a background task: other processes need
/// not wait out its time to live.
pub(crate) struct Lease {
    store: Arc<dyn TokenCacheStore>,
    name: String,
    owner: String,
    timeout: Duration,
    credential: &'static str,
    released: bool,
}

impl Lease {
    pub(crate) async fn release(mut self) {
        self.released = true;
        let (store, name, owner) = (self.store.clone(), self.name.clone(), self.owner.clone());
        give_back(store, name, owner, self.timeout, self.credential).await;
    }
}

async fn give_back(
    store: Arc<dyn TokenCacheStore>,
    name: String,
    owner: String,
    timeout: Duration,
    credential: &'static str,
) {
    let problem = match tokio::time::timeout(timeout, store.release_lease(&name, &owner)).await {
        Ok(Ok(())) => return,
        Ok(Err(error)) => error.to_string(),
        Err(_) => format!("no answer within {} ms", timeout.as_millis()),
    };
    tracing::debug!(credential, problem = %problem, "could not release a cache lease");
}

impl Drop for Lease {
    fn drop(&mut self) {
        if self.released {
            return;
        }
        // Without a runtime (the runtime itself is shutting down) the lease's short time to
        // live frees it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(give_back(
                self.store.clone(),
                std::mem::take(&mut self.name),
                std::mem::take(&mut self.owner),
                self.timeout,
                self.credential,
            ));
        }
    }
}

/// What [`CustomStore::coordinate`] decided.
pub(crate) enum Coordinated<T> {
    /// Another process stored it meanwhile.
    Found(T),
    /// Fetch it; release the lease (when one was taken) afterwards.
    Fetch(Option<Lease>),
}
