//! The token store behind every Entra credential: persistence for service principals and
//! on-behalf-of, an application's own store (the public trait), and Redis (a real
//! redis-server on loopback; feature `redis`).

mod common;
mod persistence_support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use azidentity::{
    CacheStore, ClientOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    OnBehalfOfAuth, OnBehalfOfCredential, OnBehalfOfCredentialOptions, Secret, StoreFuture,
    TokenCachePersistenceOptions, TokenCacheStore, TokenCredential, TokenRequestOptions,
};
use azidentity_emulator::{
    DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_PUBLIC_CLIENT_ID, DEFAULT_TENANT_ID,
    DEFAULT_USERNAME, Emulator, Fault, RunningEmulator,
};
use base64::Engine as _;
use persistence_support::TempDir;

const ARM: &str = "https://management.azure.com/.default";
const GRAPH: &str = "https://graph.microsoft.com/.default";

fn secret_credential(
    emu: &RunningEmulator,
    home: &TempDir,
    persistence: Option<TokenCachePersistenceOptions>,
) -> ClientSecretCredential {
    ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                platform: common::platform(emu, &[]).with_home_dir(home.path()),
                ..common::client_options(emu)
            },
            cache_persistence_options: persistence,
        },
    )
    .unwrap()
}

fn plain_file(name: &str) -> TokenCachePersistenceOptions {
    TokenCachePersistenceOptions {
        name: name.into(),
        allow_unencrypted_storage: true,
        ..Default::default()
    }
}

fn none() -> TokenRequestOptions {
    TokenRequestOptions::default()
}

/// A service principal's tokens outlive the credential: the next one (another process, a
/// restart) reads them from the file.
#[tokio::test]
async fn service_principal_tokens_persist() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("sp-persist");
    let first = secret_credential(&emu, &home, Some(plain_file("sp")))
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    let second = secret_credential(&emu, &home, Some(plain_file("sp")))
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    assert_eq!(second.token().secret(), first.token().secret());
    assert_eq!(emu.stats().token_requests, 1);
    // CAE tokens live apart (`sp.cae`), another name is another cache.
    let cae = TokenRequestOptions {
        enable_cae: true,
        ..Default::default()
    };
    secret_credential(&emu, &home, Some(plain_file("sp")))
        .get_token(&[ARM], &cae)
        .await
        .unwrap();
    secret_credential(&emu, &home, Some(plain_file("other")))
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    assert_eq!(emu.stats().token_requests, 3);
    let dir = home.path().join(".IdentityService");
    for file in ["sp.nocae", "sp.cae", "other.nocae"] {
        assert!(dir.join(file).is_file(), "{file}");
        #[cfg(unix)]
        assert_eq!(persistence_support::mode(&dir.join(file)), 0o600);
    }
    let text = std::fs::read_to_string(dir.join("sp.nocae")).unwrap();
    assert!(!text.contains(DEFAULT_CLIENT_SECRET));
}

#[tokio::test]
async fn no_plaintext_cache_without_permission() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("sp-no-plain");
    let options = TokenCachePersistenceOptions {
        name: "sp".into(),
        ..Default::default()
    };
    let error = secret_credential(&emu, &home, Some(options))
        .get_token(&[ARM], &none())
        .await
        .unwrap_err();
    assert!(
        error.message().contains("allow_unencrypted_storage"),
        "{error}"
    );
    assert!(!home.path().join(".IdentityService/sp.nocae").exists());
    assert_eq!(emu.stats().token_requests, 0);
}

fn user_assertion(emu: &RunningEmulator) -> String {
    emu.user_token(
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        &format!("api://{DEFAULT_CLIENT_ID}/access_as_user"),
    )
    .unwrap()
}

fn obo(
    emu: &RunningEmulator,
    home: &TempDir,
    assertion: &str,
    persistence: TokenCachePersistenceOptions,
) -> OnBehalfOfCredential {
    obo_on(
        emu,
        assertion,
        persistence,
        common::platform(emu, &[]).with_home_dir(home.path()),
    )
}

fn obo_on(
    emu: &RunningEmulator,
    assertion: &str,
    persistence: TokenCachePersistenceOptions,
    platform: azidentity::Platform,
) -> OnBehalfOfCredential {
    OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(assertion),
        OnBehalfOfAuth::ClientSecret(Secret::new(DEFAULT_CLIENT_SECRET)),
        OnBehalfOfCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                platform,
                ..common::client_options(emu)
            },
            cache_persistence_options: Some(persistence),
            ..Default::default()
        },
    )
    .unwrap()
}

/// On-behalf-of tokens are stored per user assertion: another instance with the same
/// assertion uses them (its access token, then its refresh token for another scope); another
/// assertion never does.
#[tokio::test]
async fn on_behalf_of_tokens_persist_per_assertion() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("obo-persist");
    let assertion = user_assertion(&emu);
    let first = obo(&emu, &home, &assertion, plain_file("obo"))
        .get_token(&[GRAPH], &none())
        .await
        .unwrap();
    let second = obo(&emu, &home, &assertion, plain_file("obo"));
    assert_eq!(
        second
            .get_token(&[GRAPH], &none())
            .await
            .unwrap()
            .token()
            .secret(),
        first.token().secret()
    );
    assert_eq!(emu.stats().token_requests, 1);
    // Entries carry MSAL's user_assertion_hash (.NET, Go, node): unpadded base64url SHA-256.
    let file = std::fs::read_to_string(home.path().join(".IdentityService/obo.nocae")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    let digest = ring::digest::digest(&ring::digest::SHA256, assertion.as_bytes());
    let msal_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    for section in ["AccessToken", "RefreshToken"] {
        let entries = json[section].as_object().unwrap();
        assert!(!entries.is_empty(), "{section}");
        for entry in entries.values() {
            assert_eq!(
                entry["user_assertion_hash"],
                msal_hash.as_str(),
                "{section}"
            );
        }
    }
    second.get_token(&[ARM], &none()).await.unwrap();
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].form_value("grant_type"), Some("refresh_token"));
    let other = user_assertion(&emu);
    assert_ne!(other, assertion);
    let third = obo(&emu, &home, &other, plain_file("obo"))
        .get_token(&[GRAPH], &none())
        .await
        .unwrap();
    assert_ne!(third.token().secret(), first.token().secret());
    let requests = emu.token_requests();
    assert_eq!(
        requests[2].form_value("grant_type"),
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    );
}

/// An application's own store, in memory, that can be told to fail or to answer garbage.
#[derive(Debug, Default)]
struct MapStore {
    values: Mutex<HashMap<String, (Vec<u8>, Duration)>>,
    failing: AtomicBool,
    loads: AtomicUsize,
}

impl TokenCacheStore for MapStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let result = if self.failing.load(Ordering::SeqCst) {
            Err("the store is down".into())
        } else {
            Ok(self.values.lock().unwrap().get(key).map(|(v, _)| v.clone()))
        };
        Box::pin(std::future::ready(result))
    }

    fn save<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        let result = if self.failing.load(Ordering::SeqCst) {
            Err("the store is down".into())
        } else {
            self.values
                .lock()
                .unwrap()
                .insert(key.to_owned(), (value, ttl));
            Ok(())
        };
        Box::pin(std::future::ready(result))
    }
}

fn custom(store: &CacheStore) -> TokenCachePersistenceOptions {
    TokenCachePersistenceOptions {
        name: "app".into(),
        allow_unencrypted_storage: true,
        store: Some(store.clone()),
    }
}

/// A refused refresh token that the cache cannot evict (another writer holds its lock) is a
/// warning, not the request's error: the first grant still gets a token.
#[tokio::test]
async fn an_eviction_the_cache_cannot_write_does_not_fail_the_request() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("obo-evict");
    let assertion = user_assertion(&emu);
    obo(&emu, &home, &assertion, plain_file("evict"))
        .get_token(&[GRAPH], &none())
        .await
        .unwrap();
    emu.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .status(
                400,
                r#"{"error":"invalid_grant","error_description":"AADSTS70000: revoked"}"#,
            )
            .times(1),
    );
    let lockfile = home.path().join(".IdentityService/evict.nocae.lockfile");
    std::fs::write(&lockfile, "1 another-writer").unwrap();
    // A manual clock: the waits for the lock pass at once.
    let clock = Arc::new(azidentity::platform::ManualClock::new(
        time::OffsetDateTime::now_utc(),
    ));
    let platform = common::platform(&emu, &[])
        .with_home_dir(home.path())
        .with_clock(clock);
    let token = obo_on(&emu, &assertion, plain_file("evict"), platform)
        .get_token(&[ARM], &none())
        .await;
    std::fs::remove_file(&lockfile).unwrap();
    assert!(emu.verify_token(token.unwrap().token().secret()).is_ok());
    let grants: Vec<_> = emu
        .token_requests()
        .iter()
        .map(|r| r.form_value("grant_type").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        grants,
        [
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "refresh_token",
            "urn:ietf:params:oauth:grant-type:jwt-bearer"
        ]
    );
}

/// Tokens fetched while the cache cannot be written are returned all the same, with one
/// warning, not one per request.
#[tokio::test]
async fn unwritable_cache_returns_tokens_and_warns_once() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("sp-unwritable");
    let clock = Arc::new(azidentity::platform::ManualClock::new(
        time::OffsetDateTime::now_utc(),
    ));
    let cred = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                platform: common::platform(&emu, &[])
                    .with_home_dir(home.path())
                    .with_clock(clock),
                ..common::client_options(&emu)
            },
            cache_persistence_options: Some(plain_file("stuck")),
        },
    )
    .unwrap();
    let lockfile = home.path().join(".IdentityService/stuck.nocae.lockfile");
    std::fs::create_dir_all(lockfile.parent().unwrap()).unwrap();
    std::fs::write(&lockfile, "4242 another-writer").unwrap();
    let (logs, _guard) = common::LogCapture::install();
    for scope in [ARM, GRAPH, "https://vault.azure.net/.default"] {
        let token = cred.get_token(&[scope], &none()).await.unwrap();
        assert!(emu.verify_token(token.token().secret()).is_ok());
    }
    let text = logs.text();
    let warnings = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("could not store tokens"))
        .count();
    assert_eq!(warnings, 1, "{text}");
    assert!(!home.path().join(".IdentityService/stuck.nocae").exists());
}

/// The public trait: MSAL's partition keys, every value with a lifetime, no secret stored,
/// cached lookups never touch the store, and a failing store never fails a token request.
#[tokio::test]
async fn an_applications_store_is_used_and_its_failures_are_not_fatal() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("custom-store");
    let map = Arc::new(MapStore::default());
    let store = CacheStore::new(ArcStore(map.clone()));
    let cred = secret_credential(&emu, &home, Some(custom(&store)));
    let first = cred.get_token(&[ARM], &none()).await.unwrap();
    let loads = map.loads.load(Ordering::SeqCst);
    for _ in 0..100 {
        cred.get_token(&[ARM], &none()).await.unwrap();
    }
    assert_eq!(
        map.loads.load(Ordering::SeqCst),
        loads,
        "hits stay in memory"
    );
    let key = format!("app.nocae/app/{DEFAULT_CLIENT_ID}_{DEFAULT_TENANT_ID}_AppTokenCache");
    {
        let values = map.values.lock().unwrap();
        let (value, ttl) = values
            .get(&key)
            .unwrap_or_else(|| panic!("{key}: {values:?}"));
        let text = String::from_utf8_lossy(value);
        assert!(text.contains(first.token().secret()));
        assert!(!text.contains(DEFAULT_CLIENT_SECRET));
        assert!(
            *ttl > Duration::ZERO && *ttl <= Duration::from_secs(3600),
            "{ttl:?}"
        );
    }
    // Another credential (process) uses the stored token.
    let second = secret_credential(&emu, &home, Some(custom(&store)));
    assert_eq!(
        second
            .get_token(&[ARM], &none())
            .await
            .unwrap()
            .token()
            .secret(),
        first.token().secret()
    );
    assert_eq!(emu.stats().token_requests, 1);
    // Down: tokens from Entra all the same.
    map.failing.store(true, Ordering::SeqCst);
    let third = secret_credential(&emu, &home, Some(custom(&store)));
    third.get_token(&[GRAPH], &none()).await.unwrap();
    assert_eq!(emu.stats().token_requests, 2);
    // Garbage under the key: ignored, replaced.
    map.failing.store(false, Ordering::SeqCst);
    map.values.lock().unwrap().insert(
        key.clone(),
        (b"\xff garbage".to_vec(), Duration::from_secs(60)),
    );
    let fourth = CacheStore::new(ArcStore(map.clone()));
    secret_credential(&emu, &home, Some(custom(&fourth)))
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    assert_eq!(emu.stats().token_requests, 3);
    let values = map.values.lock().unwrap();
    assert!(String::from_utf8_lossy(&values[&key].0).contains("AccessToken"));
}

/// Tokens reach an application's store encrypted, or in plain text only when the options say
/// so; a key of the wrong length is an error, never a silent fallback to plain text.
#[tokio::test]
async fn a_store_needs_a_key_or_permission_for_plain_text() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("store-plain");
    let map = Arc::new(MapStore::default());
    let plain = CacheStore::new(ArcStore(map.clone()));
    let options = TokenCachePersistenceOptions {
        allow_unencrypted_storage: false,
        ..custom(&plain)
    };
    let error = ClientSecretCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(DEFAULT_CLIENT_SECRET),
        ClientSecretCredentialOptions {
            client_options: common::client_options(&emu),
            cache_persistence_options: Some(options),
        },
    )
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("with_encryption_key") && message.contains("allow_unencrypted_storage"),
        "{message}"
    );
    for bad in [&[7u8; 31][..], &[7u8; 33][..], &[]] {
        let error = CacheStore::new(ArcStore(map.clone()))
            .with_encryption_key(bad)
            .unwrap_err();
        assert!(error.to_string().contains("32 bytes"), "{error}");
    }
    let sealed = CacheStore::new(ArcStore(map.clone()))
        .with_encryption_key(&[7u8; 32])
        .unwrap();
    let options = TokenCachePersistenceOptions {
        allow_unencrypted_storage: false,
        ..custom(&sealed)
    };
    let token = secret_credential(&emu, &home, Some(options))
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    let values = map.values.lock().unwrap();
    assert!(!values.is_empty());
    for (value, _) in values.values() {
        assert!(value.starts_with(b"azidentity-aes256gcm-v1:"));
        assert!(!String::from_utf8_lossy(value).contains(token.token().secret()));
    }
}

/// The stored value of the only key in the store, as JSON.
fn stored_json(map: &MapStore) -> (String, serde_json::Value) {
    let values = map.values.lock().unwrap();
    assert_eq!(values.len(), 1, "{:?}", values.keys());
    let (key, (value, _)) = values.iter().next().unwrap();
    (key.clone(), serde_json::from_slice(value).unwrap())
}

/// A store outage loses nothing: the last good document stays in memory (the L1), so another
/// credential sharing the store redeems the refresh token instead of starting over, and what
/// was stored meanwhile reaches the store with its next successful save. A value holding a
/// refresh token lives as long as one (90 days), not a day.
#[tokio::test]
async fn a_store_outage_serves_from_memory_and_merges_later() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("store-l1");
    let map = Arc::new(MapStore::default());
    let store = CacheStore::new(ArcStore(map.clone())).with_retry_after(Duration::ZERO);
    let assertion = user_assertion(&emu);
    obo(&emu, &home, &assertion, custom(&store))
        .get_token(&[GRAPH], &none())
        .await
        .unwrap();
    {
        let values = map.values.lock().unwrap();
        let (_, ttl) = values.values().next().unwrap();
        assert_eq!(*ttl, Duration::from_secs(90 * 24 * 3600));
    }
    map.failing.store(true, Ordering::SeqCst);
    let during = obo(&emu, &home, &assertion, custom(&store))
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    let requests = emu.token_requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[1].form_value("grant_type"),
        Some("refresh_token"),
        "the refresh token came from memory"
    );
    map.failing.store(false, Ordering::SeqCst);
    obo(&emu, &home, &assertion, custom(&store))
        .get_token(&["https://vault.azure.net/.default"], &none())
        .await
        .unwrap();
    assert_eq!(
        emu.token_requests()[2].form_value("grant_type"),
        Some("refresh_token")
    );
    let (_, json) = stored_json(&map);
    assert!(
        json.to_string().contains(during.token().secret()),
        "the token fetched during the outage was merged into the store"
    );
}

/// An access token whose expiry no date can hold (another writer's bug, or hostile) is skipped
/// as if absent, and a value larger than any token cache is not read: both cost a token
/// request, neither fails one.
#[tokio::test]
async fn impossible_expiries_and_oversized_values_are_skipped() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("store-garbage");
    let map = Arc::new(MapStore::default());
    let store = CacheStore::new(ArcStore(map.clone()));
    secret_credential(&emu, &home, Some(custom(&store)))
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    let (key, mut json) = stored_json(&map);
    for expiry in ["99999999999999999", "-9223372036854775808"] {
        for entry in json["AccessToken"].as_object_mut().unwrap().values_mut() {
            entry["expires_on"] = expiry.into();
        }
        let text = serde_json::to_vec(&json).unwrap();
        let requests = requests_with_stored(&emu, &home, &map, &key, text, expiry).await;
        assert_eq!(requests, 1, "{expiry}");
    }
    // A valid document padded beyond the cap: not read.
    let (_, json) = stored_json(&map);
    let mut padded = serde_json::to_vec(&json).unwrap();
    padded.resize(2 * 1024 * 1024, b' ');
    let requests = requests_with_stored(&emu, &home, &map, &key, padded, "padded").await;
    assert_eq!(requests, 1);
    assert!(map.values.lock().unwrap()[&key].0.len() < 1024 * 1024);
}

/// Puts `value` under `key`, then a new credential over a fresh `CacheStore` of `map` gets a
/// token: how many token requests that took.
async fn requests_with_stored(
    emu: &RunningEmulator,
    home: &TempDir,
    map: &Arc<MapStore>,
    key: &str,
    value: Vec<u8>,
    case: &str,
) -> u64 {
    map.values
        .lock()
        .unwrap()
        .insert(key.to_owned(), (value, Duration::from_secs(60)));
    let before = emu.stats().token_requests;
    let fresh = CacheStore::new(ArcStore(map.clone()));
    secret_credential(emu, home, Some(custom(&fresh)))
        .get_token(&[ARM], &none())
        .await
        .unwrap_or_else(|e| panic!("{case}: {e}"));
    emu.stats().token_requests - before
}

/// Lifetimes too large for a date saturate instead of panicking.
#[tokio::test]
async fn huge_lifetimes_do_not_panic() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("store-huge");
    let map = Arc::new(MapStore::default());
    let store = CacheStore::new(ArcStore(map.clone()))
        .with_refresh_token_lifetime(Duration::MAX)
        .with_lease(Duration::MAX)
        .with_timeout(Duration::from_secs(5));
    secret_credential(&emu, &home, Some(custom(&store)))
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    let assertion = user_assertion(&emu);
    obo(&emu, &home, &assertion, custom(&store))
        .get_token(&[GRAPH], &none())
        .await
        .unwrap();
    for (_, ttl) in map.values.lock().unwrap().values() {
        assert!(*ttl <= Duration::from_secs(400 * 24 * 3600), "{ttl:?}");
    }
}

/// A store with leases (as Redis has), which tells when one is taken.
#[derive(Debug, Default)]
struct LeasingStore {
    map: MapStore,
    leases: Mutex<HashMap<String, String>>,
    taken: tokio::sync::Notify,
}

#[derive(Debug)]
struct ArcLeasing(Arc<LeasingStore>);

impl TokenCacheStore for ArcLeasing {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.0.map.load(key)
    }
    fn save<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        self.0.map.save(key, value, ttl)
    }
    fn try_lease<'a>(
        &'a self,
        name: &'a str,
        owner: &'a str,
        _ttl: Duration,
    ) -> StoreFuture<'a, bool> {
        let mut leases = self.0.leases.lock().unwrap();
        let taken = !leases.contains_key(name);
        if taken {
            leases.insert(name.to_owned(), owner.to_owned());
            self.0.taken.notify_one();
        }
        Box::pin(std::future::ready(Ok(taken)))
    }
    fn release_lease<'a>(&'a self, name: &'a str, owner: &'a str) -> StoreFuture<'a, ()> {
        let mut leases = self.0.leases.lock().unwrap();
        if leases.get(name).is_some_and(|o| o == owner) {
            leases.remove(name);
        }
        Box::pin(std::future::ready(Ok(())))
    }
}

/// A `get_token` dropped while it holds the cold-start lease gives the lease back: another
/// process does not wait out its time to live (an hour here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_get_token_releases_its_lease() {
    let emu = Emulator::builder().start().await.unwrap();
    emu.add_fault(
        Fault::on_path("/oauth2/v2.0/token")
            .delay(Duration::from_secs(5))
            .times(1),
    );
    let home = TempDir::new("store-lease");
    let leasing = Arc::new(LeasingStore::default());
    let store = CacheStore::new(ArcLeasing(leasing.clone())).with_lease(Duration::from_secs(3600));
    let first = secret_credential(&emu, &home, Some(custom(&store)));
    let options = none();
    tokio::select! {
        _ = first.get_token(&[ARM], &options) => panic!("the token endpoint answers late"),
        () = leasing.taken.notified() => {}
    }
    let second = CacheStore::new(ArcLeasing(leasing.clone())).with_lease(Duration::from_secs(3600));
    let token = tokio::time::timeout(
        Duration::from_secs(60),
        secret_credential(&emu, &home, Some(custom(&second))).get_token(&[ARM], &none()),
    )
    .await
    .expect("the lease of the dropped get_token was released");
    token.unwrap();
    assert!(leasing.leases.lock().unwrap().is_empty());
}

/// One client id in two tenants: two partitions (`{client_id}_{tenant}_AppTokenCache`), so a
/// token is never served for the other tenant, from the store or from its in-memory copy.
#[tokio::test]
async fn tenants_of_one_client_never_share_a_partition() {
    const APP: &str = "5f6a7b8c-9d0e-4f1a-8b2c-3d4e5f6a7b8c";
    const OTHER_TENANT: &str = "7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e0f";
    let emu = Emulator::builder()
        .tenant(OTHER_TENANT)
        .app(
            azidentity_emulator::Application::confidential(APP)
                .secret("two-tenant-secret")
                .multi_tenant(true),
        )
        .start()
        .await
        .unwrap();
    let map = Arc::new(MapStore::default());
    let store = CacheStore::new(ArcStore(map.clone()));
    let credential = |tenant: &str| {
        ClientSecretCredential::new(
            tenant,
            APP,
            Secret::new("two-tenant-secret"),
            ClientSecretCredentialOptions {
                client_options: ClientOptions {
                    disable_instance_discovery: true,
                    ..common::client_options(&emu)
                },
                cache_persistence_options: Some(custom(&store)),
            },
        )
        .unwrap()
    };
    let home = credential(DEFAULT_TENANT_ID)
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    let other = credential(OTHER_TENANT)
        .get_token(&[ARM], &none())
        .await
        .unwrap();
    assert_ne!(home.token().secret(), other.token().secret());
    assert_eq!(emu.stats().token_requests, 2);
    let claims = emu.verify_token(other.token().secret()).unwrap();
    assert_eq!(claims["tid"], OTHER_TENANT);
    let mut keys: Vec<String> = map.values.lock().unwrap().keys().cloned().collect();
    keys.sort();
    let mut expected = [
        format!("app.nocae/app/{APP}_{DEFAULT_TENANT_ID}_AppTokenCache"),
        format!("app.nocae/app/{APP}_{OTHER_TENANT}_AppTokenCache"),
    ];
    expected.sort();
    assert_eq!(keys, expected);
}

/// Lets the test keep a handle on the store it hands over.
#[derive(Debug)]
struct ArcStore(Arc<MapStore>);

impl TokenCacheStore for ArcStore {
    fn load<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<Vec<u8>>> {
        self.0.load(key)
    }
    fn save<'a>(&'a self, key: &'a str, value: Vec<u8>, ttl: Duration) -> StoreFuture<'a, ()> {
        self.0.save(key, value, ttl)
    }
}

#[cfg(feature = "redis")]
mod redis {
    use std::net::TcpListener;
    use std::process::{Child, Command, Stdio};

    use std::time::Instant;

    use azidentity::RedisTokenStore;

    use super::*;

    struct Server(Child);

    impl Server {
        fn start(port: u16) -> Server {
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("redis-server is installed (scripts/install-redis)");
            let started = Instant::now();
            while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
                assert!(
                    started.elapsed() < Duration::from_secs(20),
                    "no redis-server"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Server(child)
        }

        fn stop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    impl Drop for Server {
        fn drop(&mut self) {
            self.stop();
        }
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn cli(port: u16, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--raw"])
            .args(args)
            .output()
            .expect("redis-cli is installed (scripts/install-redis)");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn redis_options(name: &str, store: &CacheStore) -> TokenCachePersistenceOptions {
        TokenCachePersistenceOptions {
            name: name.into(),
            allow_unencrypted_storage: true,
            store: Some(store.clone()),
        }
    }

    /// Redis killed mid-run and started again: tokens keep coming from memory (the L1) while
    /// it is down, without token requests for what memory holds; once it is back, the next
    /// write lands, with what was fetched during the outage.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_killed_mid_run() {
        let emu = Emulator::builder().start().await.unwrap();
        let home = TempDir::new("redis-killed");
        let port = free_port();
        let mut server = Server::start(port);
        let store =
            CacheStore::new(RedisTokenStore::open(&format!("redis://127.0.0.1:{port}/0")).unwrap())
                .with_timeout(Duration::from_millis(500))
                .with_retry_after(Duration::from_millis(200));
        let options = || redis_options("killed", &store);
        let first = secret_credential(&emu, &home, Some(options()))
            .get_token(&[ARM], &none())
            .await
            .unwrap();
        let from_redis = secret_credential(&emu, &home, Some(options()))
            .get_token(&[ARM], &none())
            .await
            .unwrap();
        assert_eq!(from_redis.token().secret(), first.token().secret());
        assert_eq!(emu.stats().token_requests, 1);
        let key = format!(
            "azidentity:killed.nocae/app/{DEFAULT_CLIENT_ID}_{DEFAULT_TENANT_ID}_AppTokenCache"
        );
        assert!(cli(port, &["GET", &key]).contains(first.token().secret()));
        server.stop();
        // Down: new credentials (a restarted handler) get the token from memory.
        for _ in 0..3 {
            let during = secret_credential(&emu, &home, Some(options()))
                .get_token(&[ARM], &none())
                .await
                .unwrap();
            assert_eq!(during.token().secret(), first.token().secret());
        }
        assert_eq!(emu.stats().token_requests, 1, "served from memory");
        let graph = secret_credential(&emu, &home, Some(options()))
            .get_token(&[GRAPH], &none())
            .await
            .unwrap();
        assert!(emu.verify_token(graph.token().secret()).is_ok());
        assert_eq!(emu.stats().token_requests, 2);
        // Back (empty): past the pause, what memory holds is written back at the next access
        // (the client may need a few attempts to reconnect).
        let _server = Server::start(port);
        let mut stored = String::new();
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(250)).await;
            secret_credential(&emu, &home, Some(options()))
                .get_token(&[ARM], &none())
                .await
                .unwrap();
            stored = cli(port, &["GET", &key]);
            if !stored.is_empty() {
                break;
            }
        }
        for token in [&first, &graph] {
            assert!(stored.contains(token.token().secret()), "{stored}");
        }
        assert_eq!(emu.stats().token_requests, 2);
        let vault = secret_credential(&emu, &home, Some(options()))
            .get_token(&["https://vault.azure.net/.default"], &none())
            .await
            .unwrap();
        let stored = cli(port, &["GET", &key]);
        for token in [&first, &graph, &vault] {
            assert!(stored.contains(token.token().secret()), "{stored}");
        }
        let ttl: i64 = cli(port, &["PTTL", &key]).parse().unwrap();
        assert!(ttl > 0, "{ttl}");
    }

    /// A key holding another type (another application's list) or a string larger than any
    /// token cache is garbage, not an outage: read as nothing and overwritten by the next save.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn wrong_types_and_huge_values_are_overwritten() {
        let emu = Emulator::builder().start().await.unwrap();
        let home = TempDir::new("redis-wrongtype");
        let port = free_port();
        let _server = Server::start(port);
        let url = format!("redis://127.0.0.1:{port}/0");
        let key = format!(
            "azidentity:odd.nocae/app/{DEFAULT_CLIENT_ID}_{DEFAULT_TENANT_ID}_AppTokenCache"
        );
        cli(port, &["RPUSH", &key, "not", "a", "cache"]);
        let store = CacheStore::new(RedisTokenStore::open(&url).unwrap());
        let token = secret_credential(&emu, &home, Some(redis_options("odd", &store)))
            .get_token(&[ARM], &none())
            .await
            .unwrap();
        assert_eq!(cli(port, &["TYPE", &key]), "string");
        assert!(cli(port, &["GET", &key]).contains(token.token().secret()));
        // A valid cache padded beyond any real size: not read (a token request), replaced.
        let script = "return redis.call('append', KEYS[1], string.rep(' ', 3 * 1024 * 1024))";
        cli(port, &["EVAL", script, "1", &key]);
        let before = emu.stats().token_requests;
        let fresh = CacheStore::new(RedisTokenStore::open(&url).unwrap());
        secret_credential(&emu, &home, Some(redis_options("odd", &fresh)))
            .get_token(&[ARM], &none())
            .await
            .unwrap();
        assert_eq!(emu.stats().token_requests, before + 1);
        let len: usize = cli(port, &["STRLEN", &key]).parse().unwrap();
        assert!(len < 1024 * 1024, "{len}");
    }
}
