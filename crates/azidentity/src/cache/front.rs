//! The cache front: the one place that decides whether an engine is asked for a token at all.
//!
//! Every credential's engine (Entra confidential and user flows, the interactive flows, managed
//! identity, the developer tools, the shared token cache) sits behind one `CacheFront`; an
//! engine only knows how to acquire a token. The front owns the synchronous fast path (a cached
//! token is handed back in a ready [`TokenFuture`], without allocating), the claims bypass,
//! validation before any entry exists, the key (tenant, scopes, CAE, partition) and, through
//! [`TokenCache`], the refresh policy and single flight.

use std::future::Future;
use std::sync::Arc;

use super::{KeyRef, TokenCache};
use crate::platform::Clock;
use crate::{AccessToken, Error, TokenFuture, TokenRequestOptions};

/// One token request as an engine sees it, after the front found no usable cached token.
#[derive(Debug)]
pub(crate) struct Request<'a, C: ?Sized> {
    pub scopes: &'a [&'a str],
    /// The tenant the front resolved (the key's tenant).
    pub tenant: &'a str,
    pub options: &'a TokenRequestOptions,
    /// The claims challenge; blank claims count as none.
    pub claims: Option<&'a str>,
    /// Whose tokens these are within the credential (an on-behalf-of user assertion's hash, a
    /// managed identity); empty when the credential has one owner.
    pub partition: &'a str,
    /// What the credential adds for this call (an on-behalf-of grant, an interactive flow).
    pub context: &'a C,
    /// The in-memory cache, for an engine that learns its tokens must go (another user signed
    /// in).
    pub cache: &'a TokenCache,
}

impl<C: ?Sized> Clone for Request<'_, C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C: ?Sized> Copy for Request<'_, C> {}

/// What acquires tokens for a credential.
pub(crate) trait Engine: Send + Sync {
    /// Per-call input from the credential (`()` for most).
    type Context: ?Sized + Sync;

    /// Checks the request before the cache is touched, so invalid input never creates an entry.
    fn validate(&self, scopes: &[&str], options: &TokenRequestOptions) -> Result<(), Error>;

    /// The tenant a request goes to. Runs on every cached lookup, so it must not allocate.
    fn tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<&'a str, Error>;

    /// Whether a request is for a CAE token, which is cached apart from the others.
    fn cae(&self, options: &TokenRequestOptions) -> bool {
        options.enable_cae
    }

    /// Gets a token that the in-memory cache does not have (or must not use: claims).
    fn acquire<'a>(
        &'a self,
        request: Request<'a, Self::Context>,
    ) -> impl Future<Output = Result<AccessToken, Error>> + Send + 'a;
}

/// An engine with the in-memory cache in front.
#[derive(Debug)]
pub(crate) struct CacheFront<E> {
    engine: E,
    cache: TokenCache,
}

/// Claims that are blank do not count as a challenge (Python treats them alike).
pub(crate) fn claims_of(options: &TokenRequestOptions) -> Option<&str> {
    options.claims.as_deref().filter(|c| !c.trim().is_empty())
}

impl<E: Engine> CacheFront<E> {
    pub(crate) fn new(engine: E, clock: Arc<dyn Clock>) -> Self {
        CacheFront {
            engine,
            cache: TokenCache::new(clock),
        }
    }

    pub(crate) fn engine(&self) -> &E {
        &self.engine
    }

    /// Forgets every cached token (the credential's user changed).
    pub(crate) fn clear(&self) {
        self.cache.clear();
    }

    /// A cached token when one is usable, else the engine's. The hit path allocates nothing.
    #[inline]
    pub(crate) fn get_token<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
        partition: &'a str,
        context: &'a E::Context,
    ) -> TokenFuture<'a> {
        let claims = claims_of(options);
        if claims.is_none()
            && let Ok(key) = self.key(scopes, options, partition)
            && let Some(token) = self.cache.fresh(&key)
        {
            return TokenFuture::ready(Ok(token));
        }
        TokenFuture::new(self.fetch(scopes, options, partition, claims, context))
    }

    /// The in-memory cache's key for a request. The engine's own tenant (a request naming no
    /// tenant, or naming that one) is keyed as "", so the common lookup neither resolves nor
    /// compares a tenant id; an engine's own tenant never changes (it is configuration).
    #[inline]
    fn key<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
        partition: &'a str,
    ) -> Result<KeyRef<'a>, Error> {
        let tenant = match options.tenant_id {
            None => "",
            Some(_) => {
                let tenant = self.engine.tenant(options)?;
                let own = self
                    .engine
                    .tenant(&TokenRequestOptions::default())
                    .is_ok_and(|own| own == tenant);
                if own { "" } else { tenant }
            }
        };
        Ok(KeyRef {
            tenant,
            scopes,
            cae: self.engine.cae(options),
            partition,
        })
    }

    async fn fetch<'a>(
        &'a self,
        scopes: &'a [&'a str],
        options: &'a TokenRequestOptions,
        partition: &'a str,
        claims: Option<&'a str>,
        context: &'a E::Context,
    ) -> Result<AccessToken, Error> {
        self.engine.validate(scopes, options)?;
        let tenant = self.engine.tenant(options)?;
        let key = self.key(scopes, options, partition)?;
        let request = Request {
            scopes,
            tenant,
            options,
            claims,
            partition,
            context,
            cache: &self.cache,
        };
        self.cache
            .get_or_fetch(key, claims.is_some(), || self.engine.acquire(request))
            .await
    }

    /// Puts a token the engine obtained outside `get_token` (an interactive `authenticate`)
    /// where `get_token` finds it.
    pub(crate) async fn remember(
        &self,
        scopes: &[&str],
        options: &TokenRequestOptions,
        partition: &str,
        token: AccessToken,
    ) -> Result<(), Error> {
        let key = self.key(scopes, options, partition)?;
        self.cache
            .get_or_fetch(key, true, || std::future::ready(Ok(token)))
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use time::OffsetDateTime;

    use super::*;
    use crate::platform::ManualClock;

    /// Records what it was asked for and answers with a token named after the request; with a
    /// gate, it answers only once the gate opens.
    #[derive(Default)]
    struct Recording {
        calls: AtomicUsize,
        seen: Mutex<Vec<String>>,
        lifetime_s: i64,
        gate: Option<tokio::sync::watch::Receiver<bool>>,
    }

    fn start() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    impl Engine for Recording {
        type Context = ();

        fn validate(&self, scopes: &[&str], _: &TokenRequestOptions) -> Result<(), Error> {
            if scopes.iter().any(|s| s.contains(' ')) {
                return Err(Error::config("T", "bad scope"));
            }
            Ok(())
        }

        fn tenant<'a>(&'a self, options: &'a TokenRequestOptions) -> Result<&'a str, Error> {
            match options.tenant_id.as_deref() {
                Some("forbidden") => Err(Error::config("T", "tenant not allowed")),
                Some(t) => Ok(t),
                None => Ok("home"),
            }
        }

        async fn acquire<'a>(&'a self, request: Request<'a, ()>) -> Result<AccessToken, Error> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some(gate) = &self.gate {
                gate.clone().wait_for(|open| *open).await.ok();
            }
            let name = format!(
                "{}|{}|{}|{}|{}|{n}",
                request.tenant,
                request.scopes.join(","),
                request.options.enable_cae,
                request.partition,
                request.claims.unwrap_or("")
            );
            self.seen.lock().unwrap().push(name.clone());
            Ok(AccessToken::new(
                name,
                start() + time::Duration::seconds(self.lifetime_s),
            ))
        }
    }

    fn front(lifetime_s: i64) -> (CacheFront<Recording>, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(start()));
        let engine = Recording {
            lifetime_s,
            ..Recording::default()
        };
        (CacheFront::new(engine, clock.clone()), clock)
    }

    async fn get(
        front: &CacheFront<Recording>,
        scopes: &[&str],
        options: &TokenRequestOptions,
        partition: &str,
    ) -> Result<String, Error> {
        let token = front.get_token(scopes, options, partition, &()).await?;
        Ok(token.token().secret().to_owned())
    }

    #[tokio::test]
    async fn a_hit_is_ready_without_the_engine() {
        let (front, _) = front(3600);
        let options = TokenRequestOptions::default();
        let first = front.get_token(&["s"], &options, "", &());
        assert!(!first.is_ready());
        first.await.unwrap();
        let hit = front.get_token(&["S"], &options, "", &());
        assert!(hit.is_ready(), "a cached token needs no future to be built");
        assert_eq!(hit.await.unwrap().token().secret(), "home|s|false|||1");
        assert_eq!(front.engine().calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn tenants_cae_and_partitions_never_share_a_token() {
        let (front, _) = front(3600);
        let plain = TokenRequestOptions::default();
        let other_tenant = TokenRequestOptions {
            tenant_id: Some("other".into()),
            ..Default::default()
        };
        let cae = TokenRequestOptions {
            enable_cae: true,
            ..Default::default()
        };
        let a = get(&front, &["s"], &plain, "").await.unwrap();
        let b = get(&front, &["s"], &other_tenant, "").await.unwrap();
        let c = get(&front, &["s"], &cae, "").await.unwrap();
        let d = get(&front, &["s"], &plain, "user-1").await.unwrap();
        let all = [&a, &b, &c, &d];
        for (i, x) in all.iter().enumerate() {
            for y in &all[i + 1..] {
                assert_ne!(x, y);
            }
        }
        // Each is cached under its own key.
        assert_eq!(get(&front, &["s"], &other_tenant, "").await.unwrap(), b);
        assert_eq!(get(&front, &["s"], &cae, "").await.unwrap(), c);
        assert_eq!(get(&front, &["s"], &plain, "user-1").await.unwrap(), d);
        assert_eq!(front.engine().calls.load(Ordering::SeqCst), 4);
    }

    /// The engine's own tenant is one key whether the caller names it or not; another tenant
    /// is another key, and an invalid one never reaches the cache.
    #[tokio::test]
    async fn naming_the_own_tenant_shares_its_token() {
        let (front, _) = front(3600);
        let named = |t: &str| TokenRequestOptions {
            tenant_id: Some(t.into()),
            ..Default::default()
        };
        let plain = TokenRequestOptions::default();
        let own = get(&front, &["s"], &plain, "").await.unwrap();
        assert_eq!(own, "home|s|false|||1");
        assert!(front.get_token(&["s"], &named("home"), "", &()).is_ready());
        assert_eq!(get(&front, &["s"], &named("home"), "").await.unwrap(), own);
        let other = get(&front, &["s"], &named("other"), "").await.unwrap();
        assert_eq!(other, "other|s|false|||2");
        assert_eq!(
            get(&front, &["s"], &named("other"), "").await.unwrap(),
            other
        );
        assert_eq!(get(&front, &["s"], &plain, "").await.unwrap(), own);
        assert!(get(&front, &["s"], &named("forbidden"), "").await.is_err());
        assert_eq!(front.engine().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn claims_skip_the_cache_and_replace_the_token() {
        let (front, _) = front(3600);
        let plain = TokenRequestOptions::default();
        let blank = TokenRequestOptions {
            claims: Some("  ".into()),
            ..Default::default()
        };
        let claims = TokenRequestOptions {
            claims: Some("{\"c\":1}".into()),
            ..Default::default()
        };
        get(&front, &["s"], &plain, "").await.unwrap();
        // Blank claims are no challenge: served from the cache.
        assert!(front.get_token(&["s"], &blank, "", &()).is_ready());
        let challenged = get(&front, &["s"], &claims, "").await.unwrap();
        assert!(challenged.ends_with("{\"c\":1}|2"), "{challenged}");
        assert!(!front.get_token(&["s"], &claims, "", &()).is_ready());
        // The claims token replaced the cached one.
        assert_eq!(get(&front, &["s"], &plain, "").await.unwrap(), challenged);
    }

    #[tokio::test]
    async fn invalid_requests_never_reach_the_engine_or_the_cache() {
        let (front, _) = front(3600);
        let forbidden = TokenRequestOptions {
            tenant_id: Some("forbidden".into()),
            ..Default::default()
        };
        let plain = TokenRequestOptions::default();
        assert!(get(&front, &["a b"], &plain, "").await.is_err());
        assert!(get(&front, &["s"], &forbidden, "").await.is_err());
        assert_eq!(front.engine().calls.load(Ordering::SeqCst), 0);
        assert_eq!(front.cache.len(), 0);
    }

    /// Every caller starts while the one acquisition is held open, so all of them overlap it:
    /// without single flight each would reach the engine (and the wait below would time out).
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_callers_share_one_acquisition() {
        const CALLERS: usize = 50;
        let (open, gate) = tokio::sync::watch::channel(false);
        let engine = Recording {
            lifetime_s: 3600,
            gate: Some(gate),
            ..Recording::default()
        };
        let front = Arc::new(CacheFront::new(engine, Arc::new(ManualClock::new(start()))));
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                let front = front.clone();
                tokio::spawn(async move {
                    let options = TokenRequestOptions::default();
                    get(&front, &["s"], &options, "").await.unwrap()
                })
            })
            .collect();
        // One caller is inside the engine and every other one waits on it.
        tokio::time::timeout(Duration::from_secs(10), async {
            while front.engine().calls.load(Ordering::SeqCst) < 1
                || front.cache.waiters() < CALLERS - 1
            {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap_or_else(|_| {
            panic!(
                "expected 1 acquisition and {} waiting callers, saw {} and {}",
                CALLERS - 1,
                front.engine().calls.load(Ordering::SeqCst),
                front.cache.waiters()
            )
        });
        open.send(true).unwrap();
        for caller in callers {
            assert_eq!(caller.await.unwrap(), "home|s|false|||1");
        }
        assert_eq!(front.engine().calls.load(Ordering::SeqCst), 1);
    }

    /// The refresh rules, end to end through the front: a token with under 300 s left is
    /// refreshed (at most every 30 s), an expired one is replaced.
    #[tokio::test]
    async fn short_lived_tokens_are_refreshed_through_the_front() {
        let (front, clock) = front(400);
        let options = TokenRequestOptions::default();
        assert!(
            get(&front, &["s"], &options, "")
                .await
                .unwrap()
                .ends_with("|1")
        );
        clock.advance(Duration::from_secs(120));
        // 280 s left: refreshed.
        assert!(
            get(&front, &["s"], &options, "")
                .await
                .unwrap()
                .ends_with("|2")
        );
        assert_eq!(front.engine().calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn clear_forgets_every_token() {
        let (front, _) = front(3600);
        let options = TokenRequestOptions::default();
        get(&front, &["s"], &options, "").await.unwrap();
        front.clear();
        assert!(!front.get_token(&["s"], &options, "", &()).is_ready());
    }
}
