//! The in-memory layer: tokens by key, the refresh policy and single flight per key.
//!
//! Locks guard map and slot access only and are never held across an `.await`: a fetch for one
//! key never delays lookups of another, and while a still-valid token is being refreshed every
//! other caller gets the cached token at once.

use std::collections::HashMap;
use std::future::Future;
use std::hash::BuildHasherDefault;
use std::sync::{Arc, PoisonError, RwLock};

use tokio::sync::watch;

use super::key::{KeyRef, PassThrough, StoredKey, hash_key};
use super::policy::{self, Deadlines, Freshness};
use crate::platform::{Clock, SystemClock};
use crate::{AccessToken, Error};

type Outcome = Option<Result<AccessToken, Error>>;

#[derive(Default)]
struct SlotState {
    token: Option<(AccessToken, Deadlines)>,
    last_attempt_ms: Option<i64>,
    /// Present while a fetch runs; waiters subscribe to its outcome.
    in_flight: Option<watch::Receiver<Outcome>>,
    /// Bumped whenever a token replaces the entry outside single flight (a claims challenge):
    /// a fetch that started earlier must not overwrite that newer token when it finishes.
    generation: u64,
    /// The cache's epoch when this entry was made: `clear()` starts a new one, and a fetch that
    /// began in an older epoch returns its token without storing it.
    epoch: u64,
}

impl SlotState {
    /// Nothing worth keeping: no token and no fetch to wait for. Such an entry is dropped, so
    /// keys whose fetch failed do not accumulate.
    fn is_empty(&self) -> bool {
        self.token.is_none() && self.in_flight.is_none()
    }

    /// Idle and holding only an expired token (or none): safe to forget.
    fn is_stale(&self, now_ms: i64) -> bool {
        self.in_flight.is_none()
            && self
                .token
                .as_ref()
                .is_none_or(|(_, deadlines)| now_ms >= deadlines.expires_ms)
    }
}

type Buckets = HashMap<u64, Vec<(StoredKey, SlotState)>, BuildHasherDefault<PassThrough>>;

/// Entries are swept of expired tokens when their number passes this, then twice the number
/// left: sweeping costs amortised O(1) per new key, and a credential that sees ever new keys
/// (on-behalf-of with a partition per user assertion) holds only about twice its live tokens.
const FIRST_SWEEP_AT: usize = 64;

struct Slots {
    buckets: Buckets,
    /// Entries in all buckets.
    len: usize,
    sweep_at: usize,
    /// Bumped by `clear()`.
    epoch: u64,
}

/// Up to this many entries, a lookup compares the key with each instead of hashing it: most
/// credentials hold one to three keys, and comparing one costs less than hashing it.
const SCAN_UP_TO: usize = 4;

impl Slots {
    /// The entry for `key`, if any. Keys are unique, so scanning finds what hashing would.
    #[inline(always)]
    fn find(&self, key: &KeyRef<'_>) -> Option<&SlotState> {
        let found = if self.len <= SCAN_UP_TO {
            self.buckets
                .values()
                .flatten()
                .find(|(k, _)| k.matches(key))
        } else {
            self.buckets
                .get(&hash_key(key))?
                .iter()
                .find(|(k, _)| k.matches(key))
        };
        found.map(|(_, state)| state)
    }

    fn sweep(&mut self, now_ms: i64) {
        self.buckets.retain(|_, bucket| {
            bucket.retain(|(_, state)| !state.is_stale(now_ms));
            !bucket.is_empty()
        });
        self.len = self.buckets.values().map(Vec::len).sum();
        self.sweep_at = (self.len * 2).max(FIRST_SWEEP_AT);
    }
}

/// An in-memory token cache with single flight per key.
///
/// One reader-writer lock guards the map and every entry's state: lookups share it, and the
/// write side is taken only for the few instructions of a state change, never across a fetch.
/// (A lock per entry cost two more atomic operations on every cached lookup.)
pub(crate) struct TokenCache {
    slots: RwLock<Slots>,
    clock: Arc<dyn Clock>,
    /// `clock` is the system clock: read it directly (the hot path saves a virtual call).
    system_clock: bool,
    /// How many callers waited on another caller's fetch; lets tests prove a hand-over.
    #[cfg(test)]
    waits: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

enum Step {
    Ready(AccessToken),
    Wait(watch::Receiver<Outcome>),
    Lead {
        sender: watch::Sender<Outcome>,
        /// The still-valid token being refreshed, returned if the refresh fails.
        cached: Option<AccessToken>,
        generation: u64,
        epoch: u64,
    },
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
            slots: RwLock::new(Slots {
                buckets: Buckets::default(),
                len: 0,
                sweep_at: FIRST_SWEEP_AT,
                epoch: 0,
            }),
            system_clock: clock.is_system_clock(),
            clock,
            #[cfg(test)]
            waits: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    #[inline(always)]
    fn now_ms(&self) -> i64 {
        if self.system_clock {
            SystemClock.now_unix_ms()
        } else {
            self.clock.now_unix_ms()
        }
    }

    /// Runs `change` on the key's state (created when missing) under the write lock. An entry
    /// left empty is removed; a new entry may first trigger a sweep of expired ones.
    fn update<R>(&self, key: &KeyRef<'_>, change: impl FnOnce(&mut SlotState) -> R) -> R {
        let hash = hash_key(key);
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        let slots = &mut *slots;
        let existing = slots
            .buckets
            .get(&hash)
            .and_then(|bucket| bucket.iter().position(|(k, _)| k.matches(key)));
        if existing.is_none() && slots.len >= slots.sweep_at {
            slots.sweep(self.now_ms());
        }
        let bucket = slots.buckets.entry(hash).or_default();
        let index = match existing {
            Some(index) => index,
            None => {
                slots.len += 1;
                let state = SlotState {
                    epoch: slots.epoch,
                    ..SlotState::default()
                };
                bucket.push((StoredKey::new(key), state));
                bucket.len() - 1
            }
        };
        let result = change(&mut bucket[index].1);
        if bucket[index].1.is_empty() {
            bucket.swap_remove(index);
            slots.len -= 1;
            if bucket.is_empty() {
                slots.buckets.remove(&hash);
            }
        }
        result
    }

    /// The cached token if it can be used as it is: the synchronous fast path, which lets callers
    /// skip building the (much larger) fetching future.
    #[inline]
    pub(crate) fn fresh(&self, key: &KeyRef<'_>) -> Option<AccessToken> {
        let now = self.now_ms();
        let slots = self.slots.read().unwrap_or_else(PoisonError::into_inner);
        let state = slots.find(key)?;
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
            let epoch = self.epoch();
            let token = fetch().await?;
            let now = self.now_ms();
            self.update(&key, |state| {
                if state.epoch != epoch {
                    return;
                }
                state.token = Some((token.clone(), Deadlines::of(&token)));
                state.last_attempt_ms = Some(now);
                state.generation = state.generation.wrapping_add(1);
            });
            return Ok(token);
        }
        let (sender, cached, generation, epoch) = loop {
            let now = self.now_ms();
            let step = self.update(&key, |state| {
                let deadlines = state.token.as_ref().map(|(_, d)| *d);
                let freshness = policy::freshness(deadlines, state.last_attempt_ms, now);
                let cached = state.token.as_ref().map(|(t, _)| t.clone());
                match (freshness, &state.in_flight, cached) {
                    (Freshness::Fresh, _, Some(token)) => Step::Ready(token),
                    (Freshness::RefreshRecommended, Some(_), Some(token)) => Step::Ready(token),
                    (Freshness::Missing, Some(rx), _) => Step::Wait(rx.clone()),
                    (freshness, _, cached) => {
                        let (sender, rx) = watch::channel(None);
                        state.in_flight = Some(rx);
                        state.last_attempt_ms = Some(now);
                        Step::Lead {
                            sender,
                            cached: cached.filter(|_| freshness == Freshness::RefreshRecommended),
                            generation: state.generation,
                            epoch: state.epoch,
                        }
                    }
                }
            });
            match step {
                Step::Ready(token) => return Ok(token),
                Step::Wait(mut rx) => {
                    #[cfg(test)]
                    self.waits.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    match rx.wait_for(Option::is_some).await {
                        Ok(outcome) => {
                            if let Some(result) = outcome.clone() {
                                return result;
                            }
                        }
                        // The fetching caller was dropped; loop so one of the waiters takes
                        // over.
                        Err(_) => continue,
                    }
                }
                Step::Lead {
                    sender,
                    cached,
                    generation,
                    epoch,
                } => break (sender, cached, generation, epoch),
            }
        };
        let mut guard = LeaderGuard {
            cache: self,
            key,
            sender: Some(sender),
        };
        let result = fetch().await;
        let result = self.update(&key, |state| {
            state.in_flight = None;
            if state.epoch != epoch {
                // The cache was cleared while this fetch ran: the caller gets its token, the
                // cache keeps nothing of the time before.
            } else if state.generation != generation {
                // A claims challenge stored a token while this fetch ran; it is the newer one.
                if let Some((token, _)) = &state.token {
                    return Ok(token.clone());
                }
            } else if let Ok(token) = &result {
                state.token = Some((token.clone(), Deadlines::of(token)));
            }
            result
        });
        // Waiters get exactly what this caller gets: in particular never the old token once it
        // has expired (they only wait when it has).
        let outcome = match (result, cached) {
            (Err(error), Some(old)) if self.clock.now() < old.expires_on() => {
                tracing::warn!(
                    credential = error.credential(),
                    error = %error,
                    "token refresh failed; using the cached token, which is still valid"
                );
                Ok(old)
            }
            (result, _) => result,
        };
        if let Some(sender) = guard.sender.take() {
            sender.send_replace(Some(outcome.clone()));
        }
        outcome
    }

    /// Forgets every entry. Fetches under way still finish and hand their token to their
    /// callers, but store nothing: they began in an older epoch.
    pub(crate) fn clear(&self) {
        let mut slots = self.slots.write().unwrap_or_else(PoisonError::into_inner);
        slots.buckets.clear();
        slots.len = 0;
        slots.sweep_at = FIRST_SWEEP_AT;
        slots.epoch = slots.epoch.wrapping_add(1);
    }

    fn epoch(&self) -> u64 {
        self.slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .epoch
    }

    /// How many callers have waited on another caller's fetch so far.
    #[cfg(test)]
    pub(super) fn waiters(&self) -> usize {
        self.waits.load(std::sync::atomic::Ordering::SeqCst)
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.slots
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::KeyRef;
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
        assert_eq!(first.token().secret(), "one");
        // Within 30 s of the last attempt the short-lived token is served from the cache.
        clock.advance(Duration::from_secs(10));
        let again = cache
            .get_or_fetch(key(&scopes), false, || async { unreachable!("throttled") })
            .await
            .unwrap();
        assert_eq!(again.token().secret(), "one");
        // Later a refresh is recommended; its failure returns the still-valid token.
        clock.advance(Duration::from_secs(30));
        let kept = cache
            .get_or_fetch(key(&scopes), false, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(Error::failed("T", "boom"))
            })
            .await
            .unwrap();
        assert_eq!(kept.token().secret(), "one");
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

    fn start() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn token(secret: &str, expires_on: OffsetDateTime) -> AccessToken {
        AccessToken::new(secret, expires_on)
    }

    /// Yields until `cache` has had `n` waiters (each yield lets the spawned tasks run).
    async fn until_waiters(cache: &TokenCache, n: usize) {
        for _ in 0..1000 {
            if cache.waits.load(Ordering::SeqCst) >= n {
                return;
            }
            tokio::task::yield_now().await;
        }
        panic!("no caller waited on the fetch");
    }

    #[tokio::test]
    async fn a_dropped_leader_hands_over_to_a_waiter() {
        let clock = Arc::new(ManualClock::new(start()));
        let cache = Arc::new(TokenCache::new(clock));
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let leader = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let scopes = ["s"];
                cache
                    .get_or_fetch(key(&scopes), false, || async move {
                        started_tx.send(()).ok();
                        std::future::pending().await
                    })
                    .await
            })
        };
        started.await.unwrap();
        let fetched = Arc::new(AtomicUsize::new(0));
        let waiter = {
            let cache = cache.clone();
            let fetched = fetched.clone();
            tokio::spawn(async move {
                let scopes = ["s"];
                cache
                    .get_or_fetch(key(&scopes), false, || async move {
                        fetched.fetch_add(1, Ordering::SeqCst);
                        Ok(token("two", start() + time::Duration::hours(1)))
                    })
                    .await
            })
        };
        // The second caller is subscribed to the leader's fetch before the leader goes away:
        // only a working hand-over lets it finish.
        until_waiters(&cache, 1).await;
        assert_eq!(fetched.load(Ordering::SeqCst), 0);
        leader.abort();
        let token = tokio::time::timeout(Duration::from_secs(10), waiter)
            .await
            .expect("the waiter took over")
            .unwrap()
            .unwrap();
        assert_eq!(token.token().secret(), "two");
        assert_eq!(fetched.load(Ordering::SeqCst), 1);
        let scopes = ["s"];
        let cached = cache
            .get_or_fetch(key(&scopes), false, || async { unreachable!() })
            .await
            .unwrap();
        assert_eq!(cached.token().secret(), "two");
    }

    /// A refresh that started while the token was valid and failed after it expired: the caller
    /// queued behind it gets the error, not the dead token.
    #[tokio::test]
    async fn waiters_never_get_an_expired_token_from_a_failed_refresh() {
        let clock = Arc::new(ManualClock::new(start()));
        let cache = Arc::new(TokenCache::new(clock.clone()));
        let scopes = ["s"];
        let expires = start() + time::Duration::seconds(200);
        cache
            .get_or_fetch(key(&scopes), false, || async { Ok(token("one", expires)) })
            .await
            .unwrap();
        clock.advance(Duration::from_secs(60));
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let leader = {
            let cache = cache.clone();
            let clock = clock.clone();
            tokio::spawn(async move {
                let scopes = ["s"];
                cache
                    .get_or_fetch(key(&scopes), false, || async move {
                        // Slow: the token expires while this request is retried.
                        clock.advance(Duration::from_secs(300));
                        started_tx.send(()).ok();
                        gate.await.ok();
                        Err(Error::failed("T", "refresh failed"))
                    })
                    .await
            })
        };
        started.await.unwrap();
        let waiter = {
            let cache = cache.clone();
            tokio::spawn(async move {
                let scopes = ["s"];
                cache
                    .get_or_fetch(key(&scopes), false, || async { unreachable!("waits") })
                    .await
            })
        };
        until_waiters(&cache, 1).await;
        release.send(()).unwrap();
        let leader = leader.await.unwrap();
        let waiter = waiter.await.unwrap();
        assert_eq!(leader.unwrap_err().message(), "refresh failed");
        assert_eq!(waiter.unwrap_err().message(), "refresh failed");
    }

    /// A fetch of key `s` that has started and waits until the returned sender is used, then
    /// yields `fetched`.
    async fn gated_fetch(
        cache: &Arc<TokenCache>,
        bypass: bool,
        fetched: AccessToken,
    ) -> (
        tokio::task::JoinHandle<Result<AccessToken, Error>>,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let (started_tx, started) = tokio::sync::oneshot::channel::<()>();
        let (release, gate) = tokio::sync::oneshot::channel::<()>();
        let cache = cache.clone();
        let fetch = tokio::spawn(async move {
            let scopes = ["s"];
            cache
                .get_or_fetch(key(&scopes), bypass, || async move {
                    started_tx.send(()).ok();
                    gate.await.ok();
                    Ok(fetched)
                })
                .await
        });
        started.await.unwrap();
        (fetch, release)
    }

    /// A token fetched for a claims challenge while an older refresh was in flight is not
    /// overwritten when that refresh finishes.
    #[tokio::test]
    async fn an_older_refresh_does_not_overwrite_a_claims_token() {
        let clock = Arc::new(ManualClock::new(start()));
        let cache = Arc::new(TokenCache::new(clock.clone()));
        let scopes = ["s"];
        let expires = start() + time::Duration::seconds(200);
        cache
            .get_or_fetch(key(&scopes), false, || async { Ok(token("one", expires)) })
            .await
            .unwrap();
        clock.advance(Duration::from_secs(60));
        let later = start() + time::Duration::hours(1);
        let (refresh, release) = gated_fetch(&cache, false, token("stale", later)).await;
        let claims = cache
            .get_or_fetch(key(&scopes), true, || async { Ok(token("claims", later)) })
            .await
            .unwrap();
        assert_eq!(claims.token().secret(), "claims");
        release.send(()).unwrap();
        let refreshed = refresh.await.unwrap().unwrap();
        assert_eq!(refreshed.token().secret(), "claims");
        let cached = cache
            .get_or_fetch(key(&scopes), false, || async { unreachable!("cached") })
            .await
            .unwrap();
        assert_eq!(cached.token().secret(), "claims");
    }

    /// `clear()` wins over fetches under way, a refresh and a claims fetch alike: they return
    /// their tokens to their callers, and the cache holds nothing from before the clear.
    #[tokio::test]
    async fn a_fetch_under_way_does_not_refill_a_cleared_cache() {
        let clock = Arc::new(ManualClock::new(start()));
        let cache = Arc::new(TokenCache::new(clock.clone()));
        let later = start() + time::Duration::hours(1);
        for bypass in [false, true] {
            let (fetch, release) =
                gated_fetch(&cache, bypass, token("before the clear", later)).await;
            cache.clear();
            release.send(()).unwrap();
            let fetched = fetch.await.unwrap().unwrap();
            assert_eq!(fetched.token().secret(), "before the clear");
            assert!(cache.fresh(&key(&["s"])).is_none(), "bypass: {bypass}");
            assert_eq!(cache.len(), 0, "bypass: {bypass}");
        }
        // After the clear, fetches store as usual.
        cache
            .get_or_fetch(key(&["s"]), false, || async { Ok(token("after", later)) })
            .await
            .unwrap();
        assert_eq!(cache.fresh(&key(&["s"])).unwrap().token().secret(), "after");
    }

    #[tokio::test]
    async fn failed_keys_and_expired_tokens_are_forgotten() {
        let clock = Arc::new(ManualClock::new(start()));
        let cache = TokenCache::new(clock.clone());
        for i in 0..10 {
            let scope = format!("bad-{i}");
            let scopes = [scope.as_str()];
            cache
                .get_or_fetch(key(&scopes), false, || async {
                    Err(Error::failed("T", "boom"))
                })
                .await
                .unwrap_err();
        }
        assert_eq!(cache.len(), 0, "a failed fetch leaves no entry");
        // A stream of new keys (one per on-behalf-of user): expired entries are swept, so the
        // cache holds about twice the live tokens, not every key ever seen.
        for i in 0..10_000 {
            let scope = format!("user-{i}");
            let scopes = [scope.as_str()];
            cache
                .get_or_fetch(key(&scopes), false, || async {
                    Ok(token("t", clock.now() + time::Duration::minutes(10)))
                })
                .await
                .unwrap();
            clock.advance(Duration::from_secs(1));
        }
        assert!(cache.len() <= 2 * 600 + FIRST_SWEEP_AT, "{}", cache.len());
        assert!(cache.len() >= 600);
    }

    /// A lookup compares keys one by one while the cache is small and hashes once it grows: both
    /// find each key's own token, and only it, on either side of the switch. The keys differ
    /// in one part each (a scope's case does not count).
    #[tokio::test]
    async fn lookups_find_each_key_whether_scanning_or_hashing() {
        let cache = TokenCache::new(Arc::new(ManualClock::new(start())));
        let scopes: Vec<String> = (0..2 * SCAN_UP_TO)
            .map(|i| format!("https://resource-{i}.example/.default"))
            .collect();
        let one_scope: Vec<[&str; 1]> = scopes.iter().map(|s| [s.as_str()]).collect();
        let keys: Vec<KeyRef<'_>> = one_scope
            .iter()
            .map(|s| key(s))
            .chain([
                KeyRef {
                    tenant: "other",
                    ..key(&["s"])
                },
                KeyRef {
                    partition: "p",
                    ..key(&["s"])
                },
                KeyRef {
                    cae: true,
                    ..key(&["s"])
                },
                key(&["s", "t"]),
                key(&["s"]),
            ])
            .collect();
        let expires = start() + time::Duration::hours(1);
        for (n, stored) in keys.iter().enumerate() {
            cache
                .get_or_fetch(*stored, false, || async move {
                    Ok(token(&format!("token-{n}"), expires))
                })
                .await
                .unwrap();
            for (i, wanted) in keys.iter().enumerate() {
                let found = cache.fresh(wanted).map(|t| t.token().secret().to_owned());
                let expected = (i <= n).then(|| format!("token-{i}"));
                assert_eq!(found, expected, "key {i} with {} keys stored", n + 1);
            }
        }
        let upper = ["HTTPS://RESOURCE-0.EXAMPLE/.DEFAULT"];
        assert_eq!(
            cache.fresh(&key(&upper)).unwrap().token().secret(),
            "token-0"
        );
    }
}
