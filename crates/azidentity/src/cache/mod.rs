//! The one caching layer: lookup, refresh policy and single flight around any "go and fetch".
//!
//! Locks guard map and slot access only and are never held across an `.await`: a fetch for one
//! key never delays lookups of another, and while a still-valid token is being refreshed every
//! other caller gets the cached token at once.

pub(crate) mod policy;

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use time::OffsetDateTime;
use tokio::sync::watch;

use crate::platform::Clock;
use crate::{AccessToken, Error};
use policy::Freshness;

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
        self.cae == key.cae
            && *self.tenant == *key.tenant
            && *self.partition == *key.partition
            && key
                .scopes
                .iter()
                .all(|s| self.scopes.iter().any(|t| t.eq_ignore_ascii_case(s)))
            && self
                .scopes
                .iter()
                .all(|t| key.scopes.iter().any(|s| t.eq_ignore_ascii_case(s)))
    }
}

/// FNV-1a over ASCII-lower-cased bytes; scope hashes are summed so order does not matter.
fn hash_key(key: &KeyRef<'_>) -> u64 {
    fn fnv(bytes: &[u8], lower: bool) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &b in bytes {
            let b = if lower { b.to_ascii_lowercase() } else { b };
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h
    }
    let mut scopes = 0u64;
    // Duplicates must not change the hash (the stored key is deduplicated).
    for (i, s) in key.scopes.iter().enumerate() {
        if !key.scopes[..i].iter().any(|p| p.eq_ignore_ascii_case(s)) {
            scopes = scopes.wrapping_add(fnv(s.as_bytes(), true));
        }
    }
    fnv(key.tenant.as_bytes(), false)
        ^ scopes.rotate_left(17)
        ^ fnv(key.partition.as_bytes(), false).rotate_left(41)
        ^ u64::from(key.cae)
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
    token: Option<AccessToken>,
    last_attempt: Option<OffsetDateTime>,
    /// Present while a fetch runs; waiters subscribe to its outcome.
    in_flight: Option<watch::Receiver<Outcome>>,
}

#[derive(Default)]
struct Slot {
    state: Mutex<SlotState>,
}

impl Slot {
    fn lock(&self) -> MutexGuard<'_, SlotState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

type Buckets = HashMap<u64, Vec<(StoredKey, Arc<Slot>)>, BuildHasherDefault<PassThrough>>;

/// An in-memory token cache with single flight per key.
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
struct LeaderGuard<'a> {
    slot: &'a Slot,
    sender: Option<watch::Sender<Outcome>>,
}

impl Drop for LeaderGuard<'_> {
    fn drop(&mut self) {
        if self.sender.is_some() {
            self.slot.lock().in_flight = None;
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

    fn slot(&self, key: &KeyRef<'_>) -> Arc<Slot> {
        let hash = hash_key(key);
        {
            let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = slots
                .get(&hash)
                .and_then(|bucket| bucket.iter().find(|(k, _)| k.matches(key)))
            {
                return found.1.clone();
            }
        }
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        let bucket = slots.entry(hash).or_default();
        if let Some((_, slot)) = bucket.iter().find(|(k, _)| k.matches(key)) {
            return slot.clone();
        }
        let slot = Arc::new(Slot::default());
        bucket.push((StoredKey::new(key), slot.clone()));
        slot
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
        let slot = self.slot(&key);
        if bypass {
            let token = fetch().await?;
            let mut state = slot.lock();
            state.token = Some(token.clone());
            state.last_attempt = Some(self.clock.now());
            return Ok(token);
        }
        let mut fetch = Some(fetch);
        loop {
            let step = {
                let now = self.clock.now();
                let mut state = slot.lock();
                match policy::freshness(state.token.as_ref(), state.last_attempt, now) {
                    Freshness::Fresh => {
                        if let Some(token) = &state.token {
                            return Ok(token.clone());
                        }
                        continue;
                    }
                    Freshness::RefreshRecommended if state.in_flight.is_some() => {
                        if let Some(token) = &state.token {
                            return Ok(token.clone());
                        }
                        continue;
                    }
                    Freshness::Missing if state.in_flight.is_some() => match &state.in_flight {
                        Some(rx) => Step::Wait(rx.clone()),
                        None => continue,
                    },
                    freshness => {
                        let (tx, rx) = watch::channel(None);
                        state.in_flight = Some(rx);
                        state.last_attempt = Some(now);
                        let cached = (freshness == Freshness::RefreshRecommended)
                            .then(|| state.token.clone())
                            .flatten();
                        Step::Lead(tx, cached)
                    }
                }
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
                        // Only reachable if a lead is retried after our own fetch ran, which the
                        // loop never does; fail safely rather than panic.
                        return Err(Error::failed("TokenCache", "internal error: fetch reused"));
                    };
                    let mut guard = LeaderGuard {
                        slot: &slot,
                        sender: Some(tx),
                    };
                    let result = fetch().await;
                    {
                        let mut state = slot.lock();
                        state.in_flight = None;
                        if let Ok(token) = &result {
                            state.token = Some(token.clone());
                        }
                    }
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
