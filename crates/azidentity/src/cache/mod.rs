//! The one caching layer: lookup, refresh policy and single flight around any "go and fetch".
//!
//! Locks guard map and slot access only and are never held across an `.await`: a fetch for one
//! key never delays lookups of another, and while a still-valid token is being refreshed every
//! other caller gets the cached token at once.

pub(crate) mod persistent;
pub(crate) mod policy;

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::watch;

use crate::platform::Clock;
use crate::{AccessToken, Error};
use policy::{Deadlines, Freshness};

/// What identifies a cached token within one credential (the credential itself fixes the
/// authority and client). Borrowed, so a lookup allocates nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyRef<'a> {
    pub tenant: &'a str,
    pub scopes: &'a [&'a str],
    pub cae: bool,
    /// Anything else that must never share an entry: a user assertion's hash, an identity id.
    pub partition: &'a str,
}

#[derive(Debug)]
struct StoredKey {
    tenant: Box<str>,
    /// Lower-cased, sorted, without duplicates: scopes are a case-insensitive set.
    scopes: Box<[Box<str>]>,
    cae: bool,
    partition: Box<str>,
}

impl StoredKey {
    fn new(key: &KeyRef<'_>) -> Self {
        let mut scopes: Vec<Box<str>> = key
            .scopes
            .iter()
            .map(|s| s.to_ascii_lowercase().into_boxed_str())
            .collect();
        scopes.sort();
        scopes.dedup();
        StoredKey {
            tenant: key.tenant.into(),
            scopes: scopes.into_boxed_slice(),
            cae: key.cae,
            partition: key.partition.into(),
        }
    }

    fn matches(&self, key: &KeyRef<'_>) -> bool {
        if self.cae != key.cae
            || !same(&self.tenant, key.tenant)
            || !same(&self.partition, key.partition)
        {
            return false;
        }
        if let ([stored], [wanted]) = (&*self.scopes, key.scopes) {
            return stored.eq_ignore_ascii_case(wanted);
        }
        key.scopes
            .iter()
            .all(|s| self.scopes.iter().any(|t| t.eq_ignore_ascii_case(s)))
            && self
                .scopes
                .iter()
                .all(|t| key.scopes.iter().any(|s| t.eq_ignore_ascii_case(s)))
    }
}

/// String equality without a call to libc's `memcmp`, whose vector start-up cost dominated the
/// cached lookup for short keys (measured with `perf`).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// A word-at-a-time hash (FxHash's mixing). Bytes are folded with `| 0x20` so strings that are
/// equal ignoring ASCII case hash alike; the few extra collisions this allows are settled by
/// `StoredKey::matches`. Scope hashes are summed so their order does not matter. The tenant is
/// left out (it is nearly always the credential's own) and compared on match.
fn hash_key(key: &KeyRef<'_>) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    fn fold(bytes: &[u8]) -> u64 {
        let mut h = bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word) | 0x2020_2020_2020_2020;
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        tail[..chunks.remainder().len()].copy_from_slice(chunks.remainder());
        let w = u64::from_le_bytes(tail) | 0x2020_2020_2020_2020;
        (h.rotate_left(5) ^ w).wrapping_mul(K)
    }
    let mut scopes = 0u64;
    // Duplicates must not change the hash (the stored key is deduplicated).
    for (i, s) in key.scopes.iter().enumerate() {
        if !key.scopes[..i].iter().any(|p| p.eq_ignore_ascii_case(s)) {
            scopes = scopes.wrapping_add(fold(s.as_bytes()));
        }
    }
    let partition = if key.partition.is_empty() {
        0
    } else {
        fold(key.partition.as_bytes())
    };
    scopes ^ partition.rotate_left(29) ^ u64::from(key.cae)
}

/// The map's keys are already hashes.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type Outcome = Option<Result<AccessToken, Error>>;

#[derive(Default)]
struct SlotState {
    token: Option<(AccessToken, Deadlines)>,
    last_attempt_ms: Option<i64>,
    /// Present while a fetch runs; waiters subscribe to its outcome.
    in_flight: Option<watch::Receiver<Outcome>>,
}

type Buckets = HashMap<u64, Vec<(StoredKey, SlotState)>, BuildHasherDefault<PassThrough>>;

/// An in-memory token cache with single flight per key.
///
/// One reader-writer lock guards the map and every entry's state: lookups share it, and the
/// write side is taken only for the few instructions of a state change, never across a fetch.
/// (A lock per entry cost two more atomic operations on every cached lookup.)
pub(crate) struct TokenCache {
    slots: RwLock<Buckets>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

enum Step {
    Wait(watch::Receiver<Outcome>),
    Lead(watch::Sender<Outcome>, Option<AccessToken>),
}

/// Clears the in-flight marker if the fetching caller is dropped mid-fetch, so waiters take over
/// instead of waiting forever.
struct LeaderGuard<'c, 'k> {
    cache: &'c TokenCache,
    key: KeyRef<'k>,
    sender: Option<watch::Sender<Outcome>>,
}

impl Drop for LeaderGuard<'_, '_> {
    fn drop(&mut self) {
        if self.sender.is_some() {
            self.cache.update(&self.key, |state| state.in_flight = None);
        }
    }
}

impl TokenCache {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        TokenCache {
            slots: RwLock::new(Buckets::default()),
            clock,
        }
    }

    /// Runs `change` on the key's state (created when missing) under the write lock.
    fn update<R>(&self, key: &KeyRef<'_>, change: impl FnOnce(&mut SlotState) -> R) -> R {
        let hash = hash_key(key);
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        let bucket = slots.entry(hash).or_default();
        let index = match bucket.iter().position(|(k, _)| k.matches(key)) {
            Some(index) => index,
            None => {
                bucket.push((StoredKey::new(key), SlotState::default()));
                bucket.len() - 1
            }
        };
        change(&mut bucket[index].1)
    }

    /// The cached token if it can be used as it is: the synchronous fast path, which lets callers
    /// skip building the (much larger) fetching future.
    pub(crate) fn fresh(&self, key: &KeyRef<'_>) -> Option<AccessToken> {
        let hash = hash_key(key);
        let now = self.clock.now_unix_ms();
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        let (_, state) = slots.get(&hash)?.iter().find(|(k, _)| k.matches(key))?;
        let (token, deadlines) = state.token.as_ref()?;
        match policy::freshness(Some(*deadlines), state.last_attempt_ms, now) {
            Freshness::Fresh => Some(token.clone()),
            Freshness::RefreshRecommended if state.in_flight.is_some() => Some(token.clone()),
            _ => None,
        }
    }

    /// The cached token when it is fresh; otherwise one caller runs `fetch` and the others share
    /// its outcome (or keep using a still-valid token). With `bypass` (a claims challenge), the
    /// lookup is skipped and the new token replaces the cached one.
    pub(crate) async fn get_or_fetch<F, Fut>(
        &self,
        key: KeyRef<'_>,
        bypass: bool,
        fetch: F,
    ) -> Result<AccessToken, Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<AccessToken, Error>>,
    {
        if bypass {
            let token = fetch().await?;
            let now = self.clock.now_unix_ms();
            self.update(&key, |state| {
                state.token = Some((token.clone(), Deadlines::of(&token)));
                state.last_attempt_ms = Some(now);
            });
            return Ok(token);
        }
        let mut fetch = Some(fetch);
        loop {
            let now = self.clock.now_unix_ms();
            let step = self.update(&key, |state| {
                let deadlines = state.token.as_ref().map(|(_, d)| *d);
                let freshness = policy::freshness(deadlines, state.last_attempt_ms, now);
                let cached = state.token.as_ref().map(|(t, _)| t.clone());
                match (freshness, &state.in_flight, cached) {
                    (Freshness::Fresh, _, Some(token)) => Ok(token),
                    (Freshness::RefreshRecommended, Some(_), Some(token)) => Ok(token),
                    (Freshness::Missing, Some(rx), _) => Err(Step::Wait(rx.clone())),
                    (freshness, _, cached) => {
                        let (tx, rx) = watch::channel(None);
                        state.in_flight = Some(rx);
                        state.last_attempt_ms = Some(now);
                        let cached = cached.filter(|_| freshness == Freshness::RefreshRecommended);
                        Err(Step::Lead(tx, cached))
                    }
                }
            });
            let step = match step {
                Ok(token) => return Ok(token),
                Err(step) => step,
            };
            match step {
                Step::Wait(mut rx) => match rx.wait_for(Option::is_some).await {
                    Ok(outcome) => {
                        if let Some(result) = outcome.clone() {
                            return result;
                        }
                    }
                    // The fetching caller was dropped; loop so one of the waiters takes over.
                    Err(_) => continue,
                },
                Step::Lead(tx, cached) => {
                    let Some(fetch) = fetch.take() else {
                        // A caller leads at most once: after its fetch it returns. Fail safely
                        // rather than panic if that ever changes.
                        return Err(Error::failed("TokenCache", "internal error: fetch reused"));
                    };
                    let mut guard = LeaderGuard {
                        cache: self,
                        key,
                        sender: Some(tx),
                    };
                    let result = fetch().await;
                    self.update(&key, |state| {
                        state.in_flight = None;
                        if let Ok(token) = &result {
                            state.token = Some((token.clone(), Deadlines::of(token)));
                        }
                    });
                    if let Some(tx) = guard.sender.take() {
                        let shared = match (&result, &cached) {
                            (Err(_), Some(old)) => Ok(old.clone()),
                            _ => result.clone(),
                        };
                        tx.send_replace(Some(shared));
                    }
                    return match (result, cached) {
                        (Err(error), Some(old)) if self.clock.now() < old.expires_on => {
                            tracing::warn!(
                                credential = error.credential(),
                                error = %error,
                                "token refresh failed; using the cached token, which is still valid"
                            );
                            Ok(old)
                        }
                        (result, _) => result,
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ManualClock;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;
    use time::OffsetDateTime;

    fn key<'a>(scopes: &'a [&'a str]) -> KeyRef<'a> {
        KeyRef {
            tenant: "t",
            scopes,
            cae: false,
            partition: "",
        }
    }

    #[test]
    fn keys_are_case_and_order_insensitive_sets() {
        let a = key(&["https://A/.default", "b"]);
        let b = key(&["b", "https://a/.default", "B"]);
        assert_eq!(hash_key(&a), hash_key(&b));
        assert!(StoredKey::new(&a).matches(&b));
        assert!(!StoredKey::new(&a).matches(&key(&["b"])));
        let cae = KeyRef { cae: true, ..a };
        assert!(!StoredKey::new(&a).matches(&cae));
    }

    #[tokio::test]
    async fn refresh_failure_keeps_the_valid_token_and_throttles() {
        let start = OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap();
        let clock = Arc::new(ManualClock::new(start));
        let cache = TokenCache::new(clock.clone());
        let calls = AtomicUsize::new(0);
        let scopes = ["s"];
        let first = cache
            .get_or_fetch(key(&scopes), false, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(AccessToken::new(
                    "one",
                    start + time::Duration::seconds(200),
                ))
            })
            .await
            .unwrap();
        assert_eq!(first.token.secret(), "one");
        // Within 30 s of the last attempt the short-lived token is served from the cache.
        clock.advance(Duration::from_secs(10));
        let again = cache
            .get_or_fetch(key(&scopes), false, || async { unreachable!("throttled") })
            .await
            .unwrap();
        assert_eq!(again.token.secret(), "one");
        // Later a refresh is recommended; its failure returns the still-valid token.
        clock.advance(Duration::from_secs(30));
        let kept = cache
            .get_or_fetch(key(&scopes), false, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::failed("T", "boom"))
            })
            .await
            .unwrap();
        assert_eq!(kept.token.secret(), "one");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        // Once expired, a failure is the caller's error.
        clock.advance(Duration::from_secs(200));
        let err = cache
            .get_or_fetch(key(&scopes), false, || async {
                Err(Error::failed("T", "boom"))
            })
            .await
            .unwrap_err();
        assert_eq!(err.message(), "boom");
    }

    #[tokio::test]
    async fn a_dropped_leader_hands_over_to_a_waiter() {
        let clock = Arc::new(crate::platform::SystemClock);
        let cache = Arc::new(TokenCache::new(clock));
        let scopes = ["s"];
        let leader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let scopes = ["s"];
                cache
                    .get_or_fetch(key(&scopes), false, std::future::pending)
                    .await
            })
        };
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let scopes = ["s"];
                cache
                    .get_or_fetch(key(&scopes), false, || async {
                        Ok(AccessToken::new(
                            "two",
                            OffsetDateTime::now_utc() + time::Duration::hours(1),
                        ))
                    })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        leader.abort();
        let token = waiter.await.unwrap().unwrap();
        assert_eq!(token.token.secret(), "two");
        let cached = cache
            .get_or_fetch(key(&scopes), false, || async { unreachable!() })
            .await
            .unwrap();
        assert_eq!(cached.token.secret(), "two");
    }
}
