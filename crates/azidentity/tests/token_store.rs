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
    DEFAULT_USERNAME, Emulator, RunningEmulator,
};
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
    assert_eq!(second.token.secret(), first.token.secret());
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
    OnBehalfOfCredential::new(
        DEFAULT_TENANT_ID,
        DEFAULT_CLIENT_ID,
        Secret::new(assertion),
        OnBehalfOfAuth::ClientSecret(Secret::new(DEFAULT_CLIENT_SECRET)),
        OnBehalfOfCredentialOptions {
            client_options: ClientOptions {
                disable_instance_discovery: true,
                platform: common::platform(emu, &[]).with_home_dir(home.path()),
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
            .token
            .secret(),
        first.token.secret()
    );
    assert_eq!(emu.stats().token_requests, 1);
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
    assert_ne!(third.token.secret(), first.token.secret());
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
        store: Some(store.clone()),
        ..Default::default()
    }
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
        assert!(text.contains(first.token.secret()));
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
            .token
            .secret(),
        first.token.secret()
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

    /// Redis killed mid-run and started again: every request gets a token, and the store is
    /// used again once it is back.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn redis_killed_mid_run() {
        let emu = Emulator::builder().start().await.unwrap();
        let home = TempDir::new("redis-killed");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut server = Server::start(port);
        let store =
            CacheStore::new(RedisTokenStore::open(&format!("redis://127.0.0.1:{port}/0")).unwrap())
                .with_timeout(Duration::from_millis(500));
        let options = || TokenCachePersistenceOptions {
            name: "killed".into(),
            store: Some(store.clone()),
            ..Default::default()
        };
        let first = secret_credential(&emu, &home, Some(options()))
            .get_token(&[ARM], &none())
            .await
            .unwrap();
        let from_redis = secret_credential(&emu, &home, Some(options()))
            .get_token(&[ARM], &none())
            .await
            .unwrap();
        assert_eq!(from_redis.token.secret(), first.token.secret());
        assert_eq!(emu.stats().token_requests, 1);
        server.stop();
        let during = secret_credential(&emu, &home, Some(options()))
            .get_token(&[GRAPH], &none())
            .await
            .unwrap();
        assert!(emu.verify_token(during.token.secret()).is_ok());
        assert_eq!(emu.stats().token_requests, 2);
        let _server = Server::start(port);
        // The store rests a few seconds after a failure, then is used again: a fresh store
        // handle (another process) sees the empty restarted server and fills it.
        let later =
            CacheStore::new(RedisTokenStore::open(&format!("redis://127.0.0.1:{port}/0")).unwrap());
        let options = TokenCachePersistenceOptions {
            name: "killed".into(),
            store: Some(later),
            ..Default::default()
        };
        let again = secret_credential(&emu, &home, Some(options.clone()))
            .get_token(&[ARM], &none())
            .await
            .unwrap();
        assert!(emu.verify_token(again.token.secret()).is_ok());
        let reused = secret_credential(&emu, &home, Some(options))
            .get_token(&[ARM], &none())
            .await
            .unwrap();
        assert_eq!(reused.token.secret(), again.token.secret());
    }
}
