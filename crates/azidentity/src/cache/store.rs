//! The token store: MSAL's unified cache schema (access tokens, refresh tokens, ID tokens,
//! accounts, app metadata) behind every Entra flow, whatever holds it.
//!
//! - in memory (the default): one document per partition, so an on-behalf-of middle tier's
//!   lookups stay small; partitions of user assertions are forgotten when idle or beyond a bound;
//! - persistent (`TokenCachePersistenceOptions`): the one file / Secret Service item that Python
//!   `azure-identity` and Microsoft's tools share, partitions distinguished by fields;
//! - an application's [`TokenCacheStore`](crate::TokenCacheStore) (Redis, ...): one serialized
//!   document per partition key, loaded before and saved after each access, as MSAL's
//!   serialization callbacks do. Its failures are logged and never fail a token request.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

pub(crate) use super::custom::Coordinated;
use super::custom::{CustomStore, Lease};
use super::persistent::{PersistentTokenCache, TokenCacheDocument, TokenCachePersistenceOptions};
use crate::platform::Clock;
use crate::{Error, Platform};

/// What a partition holds, which decides its key in an application's store and whether memory
/// may forget it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PartitionKind {
    /// An application's own tokens (client credentials): `{client_id}_{tenant}_AppTokenCache`.
    App,
    /// One signed-in user's tokens: the home account id.
    Account,
    /// One on-behalf-of user assertion's tokens: its hash.
    UserAssertion,
}

/// Which partition of the store an access concerns.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Partition<'a> {
    pub kind: PartitionKind,
    pub key: &'a str,
    pub cae: bool,
}

/// User-assertion partitions unused for this long are forgotten from memory: a client stops
/// presenting an assertion once it expires (an hour, typically), and the assertion itself can
/// always start over.
const IDLE_PARTITION_MS: i64 = 24 * 3600 * 1000;
/// At most this many user-assertion partitions are kept in memory; beyond it the least recently
/// used are forgotten, so a busy middle tier's memory stays bounded.
const MAX_EVICTABLE_PARTITIONS: usize = 10_000;
const FIRST_SWEEP_AT: usize = 64;

struct MemoryPartition {
    document: Arc<TokenCacheDocument>,
    last_used_ms: i64,
    evictable: bool,
}

/// In-memory documents by partition key, one map per CAE flavour.
struct Memory {
    partitions: [HashMap<String, MemoryPartition>; 2],
    sweep_at: usize,
}

impl Memory {
    fn new() -> Self {
        Memory {
            partitions: Default::default(),
            sweep_at: FIRST_SWEEP_AT,
        }
    }

    fn len(&self) -> usize {
        self.partitions.iter().map(HashMap::len).sum()
    }

    fn get(&mut self, partition: &Partition<'_>, now_ms: i64) -> Arc<TokenCacheDocument> {
        match self.partitions[usize::from(partition.cae)].get_mut(partition.key) {
            Some(p) => {
                p.last_used_ms = now_ms;
                p.document.clone()
            }
            None => Arc::default(),
        }
    }

    fn entry(&mut self, partition: &Partition<'_>, now_ms: i64) -> &mut MemoryPartition {
        let map = usize::from(partition.cae);
        if !self.partitions[map].contains_key(partition.key) && self.len() >= self.sweep_at {
            self.sweep(now_ms);
        }
        let slot = self.partitions[map]
            .entry(partition.key.to_owned())
            .or_insert_with(|| MemoryPartition {
                document: Arc::default(),
                last_used_ms: now_ms,
                evictable: partition.kind == PartitionKind::UserAssertion,
            });
        slot.last_used_ms = now_ms;
        slot
    }

    /// Forgets idle user-assertion partitions, then the least recently used beyond the bound.
    /// Runs when the number of partitions doubles (or reaches the bound): amortised O(log n)
    /// per new partition.
    fn sweep(&mut self, now_ms: i64) {
        for map in &mut self.partitions {
            map.retain(|_, p| {
                !p.evictable || now_ms.saturating_sub(p.last_used_ms) < IDLE_PARTITION_MS
            });
        }
        let mut evictable: Vec<(i64, usize, String)> = self
            .partitions
            .iter()
            .enumerate()
            .flat_map(|(i, map)| {
                map.iter()
                    .filter(|(_, p)| p.evictable)
                    .map(move |(key, p)| (p.last_used_ms, i, key.clone()))
            })
            .collect();
        if evictable.len() >= MAX_EVICTABLE_PARTITIONS {
            evictable.sort_unstable();
            let excess = evictable.len() - MAX_EVICTABLE_PARTITIONS * 3 / 4;
            for (_, map, key) in evictable.into_iter().take(excess) {
                self.partitions[map].remove(&key);
            }
        }
        let len = self.len();
        self.sweep_at = (len * 2).clamp(FIRST_SWEEP_AT, MAX_EVICTABLE_PARTITIONS.max(len + 1));
    }
}

/// The persistent caches (non-CAE, CAE), opened on first use: opening may find the keyring
/// unusable, which Python reports at the first token request too.
struct Persisted {
    options: TokenCachePersistenceOptions,
    platform: Platform,
    caches: [tokio::sync::OnceCell<PersistentTokenCache>; 2],
}

enum Backend {
    Memory(Mutex<Memory>),
    Persistent(Box<Persisted>),
    Custom(CustomStore),
}

/// Where one credential's Entra tokens are kept.
pub(crate) struct TokenStore {
    credential: &'static str,
    backend: Backend,
    clock: Arc<dyn Clock>,
    /// The last write of a fetched token failed (and was warned about).
    keep_failing: AtomicBool,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let backend = match &self.backend {
            Backend::Memory(_) => "memory".to_owned(),
            Backend::Persistent(p) => format!("persistent({})", p.options.name),
            Backend::Custom(c) => format!("{c:?}"),
        };
        f.debug_struct("TokenStore")
            .field("backend", &backend)
            .finish_non_exhaustive()
    }
}

impl TokenStore {
    /// In memory, unless the credential was given persistence options (whose name is checked
    /// here, so a bad name fails at construction).
    pub(crate) fn new(
        credential: &'static str,
        persistence: Option<&TokenCachePersistenceOptions>,
        platform: &Platform,
    ) -> Result<Self, Error> {
        let clock = platform.clock().clone();
        let backend = match persistence {
            None => Backend::Memory(Mutex::new(Memory::new())),
            Some(options) => {
                options.cache_name(credential, false)?;
                match options.store() {
                    Some(store) if !store.is_encrypted() && !options.allow_unencrypted_storage => {
                        return Err(Error::config(
                            credential,
                            format!(
                                "the token cache store {store:?} has no encryption key, so it \
                                 would hold tokens in plain text. Give it a 32-byte key with \
                                 CacheStore::with_encryption_key, or set \
                                 allow_unencrypted_storage = true in \
                                 TokenCachePersistenceOptions to store them unencrypted"
                            ),
                        ));
                    }
                    Some(store) => Backend::Custom(CustomStore::new(store, options)),
                    None => Backend::Persistent(Box::new(Persisted {
                        options: options.clone(),
                        platform: platform.clone(),
                        caches: Default::default(),
                    })),
                }
            }
        };
        Ok(TokenStore {
            credential,
            backend,
            clock,
            keep_failing: AtomicBool::new(false),
        })
    }

    /// For a store shared by processes: waits while another process fetches the token `what`
    /// of the partition (until `find` sees it stored), or returns a lease to fetch it.
    pub(crate) async fn coordinate<T>(
        &self,
        partition: Partition<'_>,
        what: &str,
        find: impl Fn(&TokenCacheDocument) -> Option<T>,
    ) -> Coordinated<T> {
        match &self.backend {
            Backend::Custom(custom) => {
                custom
                    .coordinate(self.credential, &partition, what, &self.clock, find)
                    .await
            }
            _ => Coordinated::Fetch(None),
        }
    }

    /// Gives back a lease from [`TokenStore::coordinate`].
    pub(crate) async fn release(&self, lease: Option<Lease>) {
        if let Some(lease) = lease {
            lease.release().await;
        }
    }

    async fn persistent<'a>(
        &self,
        persisted: &'a Persisted,
        cae: bool,
    ) -> Result<&'a PersistentTokenCache, Error> {
        persisted.caches[usize::from(cae)]
            .get_or_try_init(|| {
                PersistentTokenCache::open_for(
                    self.credential,
                    &persisted.options,
                    cae,
                    &persisted.platform,
                )
            })
            .await
    }

    /// The partition's document as it is now.
    pub(crate) async fn read(
        &self,
        partition: Partition<'_>,
    ) -> Result<Arc<TokenCacheDocument>, Error> {
        let now_ms = self.clock.now_unix_ms();
        match &self.backend {
            Backend::Memory(memory) => Ok(memory
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(&partition, now_ms)),
            Backend::Persistent(persisted) => {
                self.persistent(persisted, partition.cae)
                    .await?
                    .load()
                    .await
            }
            Backend::Custom(custom) => Ok(Arc::new(
                custom
                    .load(self.credential, &partition, self.clock.now())
                    .await,
            )),
        }
    }

    /// Applies `change` to the partition's document and keeps the result. The change runs on
    /// the document as stored at that moment (reloaded under the file's lock for persistence).
    pub(crate) async fn modify<R>(
        &self,
        partition: Partition<'_>,
        change: impl FnOnce(&mut TokenCacheDocument) -> R,
    ) -> Result<R, Error> {
        let now_ms = self.clock.now_unix_ms();
        match &self.backend {
            Backend::Memory(memory) => {
                let mut memory = memory.lock().unwrap_or_else(PoisonError::into_inner);
                let slot = memory.entry(&partition, now_ms);
                Ok(change(Arc::make_mut(&mut slot.document)))
            }
            Backend::Persistent(persisted) => {
                self.persistent(persisted, partition.cae)
                    .await?
                    .modify(change)
                    .await
            }
            Backend::Custom(custom) => Ok(custom
                .modify(self.credential, &partition, self.clock.now(), change)
                .await),
        }
    }

    /// As [`TokenStore::modify`], but a failure is logged, not raised: the caller has its token,
    /// and a store that cannot keep it must not take it away. Warned about once until a write
    /// succeeds again.
    pub(crate) async fn keep(
        &self,
        partition: Partition<'_>,
        change: impl FnOnce(&mut TokenCacheDocument),
    ) {
        match self.modify(partition, change).await {
            Ok(()) => self.keep_failing.store(false, Ordering::Relaxed),
            Err(error) if !self.keep_failing.swap(true, Ordering::Relaxed) => tracing::warn!(
                credential = self.credential,
                error = %error,
                "could not store tokens in the token cache; they are used all the same \
                 (logged once until a write succeeds)"
            ),
            Err(error) => tracing::debug!(
                credential = self.credential,
                error = %error,
                "could not store tokens in the token cache"
            ),
        }
    }

    #[cfg(test)]
    fn memory_partitions(&self, sweep_at_ms: Option<i64>) -> usize {
        match &self.backend {
            Backend::Memory(memory) => {
                let mut memory = memory.lock().unwrap_or_else(PoisonError::into_inner);
                if let Some(now_ms) = sweep_at_ms {
                    memory.sweep(now_ms);
                }
                memory.len()
            }
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ManualClock;

    fn store(clock: Arc<ManualClock>) -> TokenStore {
        let platform = Platform::system().with_clock(clock);
        TokenStore::new("T", None, &platform).unwrap()
    }

    fn mark(document: &mut TokenCacheDocument, value: &str) {
        document.put(
            "Test",
            "k".to_owned(),
            serde_json::Map::from_iter([("v".to_owned(), value.into())]),
        );
    }

    fn part(kind: PartitionKind, key: &str) -> Partition<'_> {
        Partition {
            kind,
            key,
            cae: false,
        }
    }

    /// An on-behalf-of app gets a partition per user assertion: those are bounded in number and
    /// forgotten when idle; an account's and the app's never are.
    #[tokio::test]
    async fn assertion_partitions_are_bounded_and_forgotten_when_idle() {
        let clock = Arc::new(ManualClock::new(
            time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        ));
        let store = store(clock.clone());
        store
            .modify(part(PartitionKind::Account, "account"), |d| mark(d, "keep"))
            .await
            .unwrap();
        for i in 0..30_000 {
            let key = format!("obo:{i}");
            store
                .modify(part(PartitionKind::UserAssertion, &key), |d| mark(d, "rt"))
                .await
                .unwrap();
            clock.advance(std::time::Duration::from_millis(10));
        }
        let kept = store.memory_partitions(None);
        assert!(kept <= MAX_EVICTABLE_PARTITIONS + 1, "{kept}");
        let latest = store
            .read(part(PartitionKind::UserAssertion, "obo:29999"))
            .await
            .unwrap();
        assert!(!latest.is_empty());
        let first = store
            .read(part(PartitionKind::UserAssertion, "obo:0"))
            .await
            .unwrap();
        assert!(first.is_empty());
        clock.advance(std::time::Duration::from_millis(
            IDLE_PARTITION_MS as u64 + 1,
        ));
        store
            .modify(part(PartitionKind::UserAssertion, "new"), |d| mark(d, "x"))
            .await
            .unwrap();
        assert_eq!(store.memory_partitions(Some(clock.now_unix_ms())), 2);
        let kept = store
            .read(part(PartitionKind::Account, "account"))
            .await
            .unwrap();
        assert!(!kept.is_empty());
    }

    #[tokio::test]
    async fn cae_and_partitions_are_apart() {
        let clock = Arc::new(ManualClock::new(
            time::OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap(),
        ));
        let store = store(clock);
        store
            .modify(part(PartitionKind::App, "a"), |d| mark(d, "a"))
            .await
            .unwrap();
        let cae = Partition {
            cae: true,
            ..part(PartitionKind::App, "a")
        };
        assert!(store.read(cae).await.unwrap().is_empty());
        assert!(
            store
                .read(part(PartitionKind::App, "b"))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            !store
                .read(part(PartitionKind::App, "a"))
                .await
                .unwrap()
                .is_empty()
        );
    }
}
