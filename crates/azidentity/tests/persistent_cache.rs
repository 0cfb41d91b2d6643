//! The persistent token cache as a plain file: where and how it is written, the lockfile and
//! reload protocols, and Microsoft's MSAL Python / msal-extensions reading what we write and
//! writing what we read (needs `AZIDENTITY_PYTHON`, set by scripts/test).

mod persistence_support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use azidentity::platform::{Clock as _, ManualClock};
use azidentity::{
    PersistentTokenCache, TokenCacheDocument, TokenCacheEvent, TokenCachePersistenceOptions,
};
use azidentity_emulator::{
    Application, AuthorizationCodeRequest, DEFAULT_PASSWORD, DEFAULT_PUBLIC_CLIENT_ID,
    DEFAULT_TENANT_ID, DEFAULT_USERNAME, Emulator, RunningEmulator,
};
use persistence_support::{
    EMULATOR_ENVIRONMENT, TempDir, last_json, mode, password_response, platform, run_python, script,
};
use serde_json::{Map, Value, json};

const ARM: &str = "https://management.azure.com/.default";
const ARM_PERMISSION: &str = "https://management.azure.com/user_impersonation";
const VAULT: &str = "https://vault.azure.net/.default";

fn unencrypted() -> TokenCachePersistenceOptions {
    TokenCachePersistenceOptions {
        allow_unencrypted_storage: true,
        ..Default::default()
    }
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// Stores an application token for `scope` (a client-credentials answer).
fn add_app_token(document: &mut TokenCacheDocument, client_id: &str, scope: &str, secret: &str) {
    let response =
        object(json!({"access_token": secret, "expires_in": 3600, "token_type": "Bearer"}));
    document.add(&TokenCacheEvent {
        client_id,
        environment: "login.microsoftonline.com",
        realm: "tenant",
        scopes: &[scope],
        grant_type: Some("client_credentials"),
        response: &response,
        username: None,
        skip_account_creation: false,
        now: now(),
    });
}

fn app_secrets(document: &TokenCacheDocument) -> Vec<String> {
    let mut secrets: Vec<String> = document
        .as_json()
        .get("AccessToken")
        .and_then(Value::as_object)
        .map(|s| {
            s.values()
                .filter_map(|e| e["secret"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    secrets.sort();
    secrets
}

#[tokio::test]
async fn unencrypted_cache_is_a_private_file_written_under_the_lock() {
    let home = TempDir::new("pc-file");
    let cache = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    assert!(!cache.is_encrypted());
    let path = home.path().join(".IdentityService/msal.cache.nocae");
    assert_eq!(cache.location(), path);
    assert!(cache.load().await.unwrap().is_empty(), "no file yet: empty");
    cache
        .modify(|d| add_app_token(d, "app", ARM, "secret-1"))
        .await
        .unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
    let names: Vec<String> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["msal.cache.nocae"], "no lockfile or temp file left");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.starts_with("{\n    \"AccessToken\": {\n"), "{text}");
    assert_eq!(
        app_secrets(&TokenCacheDocument::deserialize(&text).unwrap()),
        ["secret-1"]
    );
    // A file whose mode was widened by someone is replaced by a private one.
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    cache
        .modify(|d| add_app_token(d, "app", VAULT, "secret-2"))
        .await
        .unwrap();
    assert_eq!(mode(&path), 0o600);
    // CAE tokens and other names live in their own files.
    let cae = PersistentTokenCache::open(&unencrypted(), true, &platform(&home, &[]))
        .await
        .unwrap();
    assert!(cae.location().ends_with(".IdentityService/msal.cache.cae"));
    assert!(cae.load().await.unwrap().is_empty());
    let named = TokenCachePersistenceOptions {
        name: "myapp".into(),
        allow_unencrypted_storage: true,
        ..Default::default()
    };
    let named = PersistentTokenCache::open(&named, false, &platform(&home, &[]))
        .await
        .unwrap();
    assert!(named.location().ends_with(".IdentityService/myapp.nocae"));
}

#[tokio::test]
async fn without_a_secret_service_encryption_is_required_unless_allowed() {
    let home = TempDir::new("pc-noenc");
    let error = PersistentTokenCache::open(
        &TokenCachePersistenceOptions::default(),
        false,
        &platform(&home, &[]),
    )
    .await
    .unwrap_err();
    let text = error.to_string();
    assert!(text.contains("Cache encryption is impossible"), "{text}");
    assert!(text.contains("allow_unencrypted_storage"), "{text}");
    assert!(!home.path().join(".IdentityService").exists());
    // A bus address that leads nowhere is no Secret Service either.
    let error = PersistentTokenCache::open(
        &TokenCachePersistenceOptions::default(),
        false,
        &platform(
            &home,
            &[("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")],
        ),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("D-Bus"), "{error}");
}

#[tokio::test]
async fn writers_wait_for_the_lockfile_and_break_only_stale_ones() {
    let home = TempDir::new("pc-lock");
    let clock = Arc::new(ManualClock::new(time::OffsetDateTime::now_utc()));
    let manual = platform(&home, &[]).with_clock(clock.clone());
    let cache = PersistentTokenCache::open(&unencrypted(), false, &manual)
        .await
        .unwrap();
    let lockfile = home
        .path()
        .join(".IdentityService/msal.cache.nocae.lockfile");
    std::fs::create_dir_all(lockfile.parent().unwrap()).unwrap();
    std::fs::write(&lockfile, "4242 python").unwrap();
    let started = clock.now();
    let error = cache
        .modify(|d| add_app_token(d, "app", ARM, "s"))
        .await
        .unwrap_err();
    let waited = clock.now() - started;
    assert!(
        (4.9..=5.5).contains(&waited.as_seconds_f64()),
        "waited {waited} like msal-extensions"
    );
    assert!(
        error.to_string().contains("msal.cache.nocae.lockfile"),
        "{error}"
    );
    assert!(lockfile.exists(), "someone else's live lock is left alone");
    assert!(
        !cache.location().exists(),
        "nothing written without the lock"
    );

    // A lockfile left by a writer that died long ago (nobody flocks it) is removed.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&lockfile)
        .unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(120))
        .unwrap();
    drop(file);
    cache
        .modify(|d| add_app_token(d, "app", ARM, "s"))
        .await
        .unwrap();
    assert!(!lockfile.exists());

    // A writer that releases the lock within the wait lets us through.
    let real = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    std::fs::write(&lockfile, "4242 python").unwrap();
    let release = {
        let lockfile = lockfile.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(600)).await;
            std::fs::remove_file(lockfile).unwrap();
        })
    };
    real.modify(|d| add_app_token(d, "app", VAULT, "t"))
        .await
        .unwrap();
    release.await.unwrap();
    assert_eq!(app_secrets(&real.load().await.unwrap()), ["s", "t"]);
}

/// A reader never waits for a writer: while this process's writer waits for another
/// program's lockfile, reads go on. Writers of this process take turns on the lockfile alone,
/// and none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_never_wait_for_a_writer() {
    let home = TempDir::new("pc-no-lock-held");
    let cache = Arc::new(
        PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
            .await
            .unwrap(),
    );
    cache
        .modify(|d| add_app_token(d, "app", ARM, "s"))
        .await
        .unwrap();
    let lockfile = home
        .path()
        .join(".IdentityService/msal.cache.nocae.lockfile");
    std::fs::write(&lockfile, "4242 python").unwrap();
    let mut writer = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.modify(|d| add_app_token(d, "app", VAULT, "t")).await })
    };
    // Let the writer reach its wait for the lockfile.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!writer.is_finished());
    tokio::select! {
        biased;
        _ = &mut writer => panic!("the read waited for the writer"),
        read = cache.load() => assert_eq!(app_secrets(&read.unwrap()), ["s"]),
    }
    std::fs::remove_file(&lockfile).unwrap();
    writer.await.unwrap().unwrap();
    let writers: Vec<_> = (0..8)
        .map(|i| {
            let cache = cache.clone();
            tokio::spawn(async move {
                cache
                    .modify(|d| add_app_token(d, "app", &format!("api://{i}/.default"), "u"))
                    .await
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    assert_eq!(app_secrets(&cache.load().await.unwrap()).len(), 10);
}

#[tokio::test]
async fn an_empty_file_is_a_write_under_way_and_is_read_again() {
    let home = TempDir::new("pc-empty");
    let cache = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    let path = cache.location().to_owned();
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, "").unwrap();
    let mut full = TokenCacheDocument::new();
    add_app_token(&mut full, "app", ARM, "written-late");
    let writer = {
        let (path, text) = (path.clone(), full.serialize().unwrap());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            std::fs::write(path, text).unwrap();
        })
    };
    let document = cache.load().await.unwrap();
    writer.await.unwrap();
    assert_eq!(app_secrets(&document), ["written-late"]);
    // A file that stays damaged is an error that names it and never quotes it.
    std::fs::write(&path, "{\"AccessToken\": {\"k\": {\"secret\": \"sekrit").unwrap();
    let error = cache.load().await.unwrap_err();
    assert!(error.to_string().contains("msal.cache.nocae"), "{error}");
    assert!(!error.to_string().contains("sekrit"), "{error}");
}

/// Reference test 12: another SDK's entries, an `atext` entry and an unknown section survive.
#[tokio::test]
async fn content_written_by_other_sdks_survives_our_writes() {
    let home = TempDir::new("pc-keep");
    let foreign = json!({
        "AccessToken": {
            "dotnet-style": {"credential_type": "AccessToken", "secret": "n", "home_account_id": "h",
                "environment": "login.windows.net", "client_id": "c", "target": "s", "realm": "r",
                "cached_at": 1, "expires_on": 2, "ext_expires_on": "3", "kid": "k"},
            "-login.microsoftonline.com-atext-c-r-api://x/.default-abc": {"credential_type": "AccessToken",
                "secret": "x", "ext_cache_key": "abc"}
        },
        "NewSection": {"anything": [1, {"deep": null}]},
        "Account": {"weird": "not an object"}
    });
    let cache = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    std::fs::create_dir_all(cache.location().parent().unwrap()).unwrap();
    std::fs::write(cache.location(), foreign.to_string()).unwrap();
    cache
        .modify(|d| add_app_token(d, "app", ARM, "ours"))
        .await
        .unwrap();
    let after: Value =
        serde_json::from_str(&std::fs::read_to_string(cache.location()).unwrap()).unwrap();
    for (section, key) in [
        ("AccessToken", "dotnet-style"),
        (
            "AccessToken",
            "-login.microsoftonline.com-atext-c-r-api://x/.default-abc",
        ),
        ("Account", "weird"),
    ] {
        assert_eq!(
            after[section][key], foreign[section][key],
            "{section}/{key}"
        );
    }
    assert_eq!(after["NewSection"], foreign["NewSection"]);
}

/// Reference test 3: for the same responses and clock, MSAL Python's `TokenCache.add` and ours
/// produce the same entries under the same keys.
#[tokio::test]
async fn entries_and_keys_are_identical_to_msal_python() {
    let emu = Emulator::builder().start().await.unwrap();
    let home = TempDir::new("pc-keys");
    let user = password_response(
        &emu,
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        DEFAULT_PASSWORD,
        ARM,
    )
    .await;
    let mut user_foci = user.clone();
    user_foci.insert("foci".into(), json!("1"));
    let app = object(
        json!({"access_token": "app-at", "expires_in": "86399", "refresh_in": 43199,
        "ext_expires_in": 90000, "token_type": "Bearer", "scope": "https://Vault.azure.net/.default"}),
    );
    let requested = [ARM, "offline_access", "openid", "profile"];
    let cases: Vec<(&Map<String, Value>, &str, &str, &str)> = vec![
        (
            &user,
            "Login.MicrosoftOnline.COM",
            "organizations",
            "password",
        ),
        (
            &user_foci,
            "127.0.0.1",
            DEFAULT_TENANT_ID,
            "authorization_code",
        ),
        (
            &app,
            "login.microsoftonline.com",
            "tenant-x",
            "client_credentials",
        ),
    ];
    let at = 1_700_000_000;
    let mut ours = TokenCacheDocument::new();
    let mut events = Vec::new();
    for (response, environment, realm, grant) in &cases {
        let scopes = TokenCacheEvent::recorded_scopes(response, &requested);
        ours.add(&TokenCacheEvent {
            client_id: DEFAULT_PUBLIC_CLIENT_ID,
            environment,
            realm,
            scopes: &scopes,
            grant_type: Some(grant),
            response,
            username: None,
            skip_account_creation: false,
            now: at,
        });
        events.push(json!({
            "client_id": DEFAULT_PUBLIC_CLIENT_ID,
            "scope": scopes,
            "token_endpoint": format!("https://{}/{realm}/oauth2/v2.0/token", environment.to_lowercase()),
            "environment": environment.to_lowercase(),
            "response": response,
            "grant_type": grant,
            "now": at,
        }));
    }
    let stdout = run_python(
        &[script("msal_cache.py").to_str().unwrap(), "add"],
        home.path(),
        &[],
        &Value::Array(events).to_string(),
    )
    .await;
    let theirs: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(Value::Object(ours.as_json().clone()), theirs);
}

const REDIRECT_URI: &str = "http://localhost:8400";

fn emulator_with_public_app() -> azidentity_emulator::EmulatorBuilder {
    Emulator::builder()
        .app(Application::public(DEFAULT_PUBLIC_CLIENT_ID).redirect_uri(REDIRECT_URI))
}

async fn python_silent(emu: &RunningEmulator, home: &TempDir, scope: &str) -> Value {
    let cache = home.path().join(".IdentityService/msal.cache.nocae");
    let authority = format!("{}/{DEFAULT_TENANT_ID}", emu.authority_host());
    last_json(
        &run_python(
            &[
                script("msal_cache.py").to_str().unwrap(),
                "silent",
                cache.to_str().unwrap(),
                &authority,
                DEFAULT_PUBLIC_CLIENT_ID,
                scope,
            ],
            home.path(),
            &[("AZ_CA", emu.ca_path().to_str().unwrap())],
            "",
        )
        .await,
    )
}

/// Reference tests 5 and 14: MSAL Python finds the account we stored, answers from our access
/// token without a request, and redeems our refresh token; we then read what Python wrote.
#[tokio::test]
async fn msal_python_signs_in_silently_from_the_cache_we_write() {
    let emu = emulator_with_public_app().start().await.unwrap();
    let home = TempDir::new("pc-py-reads");
    let response = password_response(
        &emu,
        DEFAULT_PUBLIC_CLIENT_ID,
        DEFAULT_USERNAME,
        DEFAULT_PASSWORD,
        ARM,
    )
    .await;
    let cache = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    let requested = [ARM, "offline_access", "openid", "profile"];
    let scopes = TokenCacheEvent::recorded_scopes(&response, &requested);
    cache
        .modify(|d| {
            d.add(&TokenCacheEvent {
                client_id: DEFAULT_PUBLIC_CLIENT_ID,
                environment: EMULATOR_ENVIRONMENT,
                realm: DEFAULT_TENANT_ID,
                scopes: &scopes,
                grant_type: Some("password"),
                response: &response,
                username: None,
                skip_account_creation: false,
                now: now(),
            })
        })
        .await
        .unwrap();
    let posts_before = emu.token_requests().len();
    // The emulator echoes the granted permission (not `.default`) in `scope`, which MSAL
    // records as the target; ask for what was recorded.
    let found = python_silent(&emu, &home, ARM_PERMISSION).await;
    assert_eq!(found["accounts"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["accounts"][0]["username"], DEFAULT_USERNAME);
    assert_eq!(found["result"]["token_source"], "cache", "{found}");
    assert_eq!(found["result"]["access_token"], response["access_token"]);
    assert_eq!(
        emu.token_requests().len(),
        posts_before,
        "no request for a cache hit"
    );

    // Another resource: Python redeems the refresh token we stored.
    let vault = python_silent(&emu, &home, VAULT).await;
    assert_eq!(
        vault["result"]["token_source"], "identity_provider",
        "{vault}"
    );
    let redeemed = emu.token_requests();
    let last = redeemed.last().unwrap();
    assert_eq!(last.form_value("grant_type"), Some("refresh_token"));
    assert_eq!(
        last.form_value("refresh_token"),
        response["refresh_token"].as_str()
    );

    // Python rewrote the file in place; our next read notices and sees its entries.
    let document = cache.load().await.unwrap();
    assert!(
        app_secrets(&document)
            .contains(&vault["result"]["access_token"].as_str().unwrap().to_owned()),
        "the access token Python stored is read back"
    );
    let accounts = document.accounts(&[EMULATOR_ENVIRONMENT]);
    assert_eq!(accounts.len(), 1);
}

/// Reference test 4's first half: what MSAL Python signed in, we read.
#[tokio::test]
async fn we_read_the_account_and_tokens_msal_python_wrote() {
    let emu = emulator_with_public_app().start().await.unwrap();
    let home = TempDir::new("pc-we-read");
    let path = home.path().join(".IdentityService/msal.cache.nocae");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let authority = format!("{}/{DEFAULT_TENANT_ID}", emu.authority_host());
    let code = emu
        .authorization_code(&AuthorizationCodeRequest::new(
            DEFAULT_PUBLIC_CLIENT_ID,
            DEFAULT_USERNAME,
            REDIRECT_URI,
            &format!("{ARM} offline_access openid profile"),
        ))
        .unwrap();
    let signed_in = last_json(
        &run_python(
            &[
                script("msal_cache.py").to_str().unwrap(),
                "auth-code",
                path.to_str().unwrap(),
                &authority,
                DEFAULT_PUBLIC_CLIENT_ID,
                &code,
                REDIRECT_URI,
                ARM,
            ],
            home.path(),
            &[("AZ_CA", emu.ca_path().to_str().unwrap())],
            "",
        )
        .await,
    );
    assert!(signed_in["access_token"].is_string(), "{signed_in}");
    let cache = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    let document = cache.load().await.unwrap();
    let accounts = document.accounts(&[EMULATOR_ENVIRONMENT]);
    assert_eq!(accounts.len(), 1, "{document:?}");
    assert_eq!(accounts[0].username, DEFAULT_USERNAME);
    assert_eq!(accounts[0].realm, DEFAULT_TENANT_ID);
    assert!(accounts[0].home_account_id.ends_with(DEFAULT_TENANT_ID));
    assert_eq!(
        app_secrets(&document),
        [signed_in["access_token"].as_str().unwrap()]
    );
    let refresh = document.as_json()["RefreshToken"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap();
    assert_eq!(refresh["secret"], signed_in["refresh_token"]);
}

/// Reference test 13: Python (msal-extensions, default lock) and our writers add entries to
/// one file at the same time; nothing is lost, the file stays valid, no lockfile remains, and
/// our readers never see an empty cache while Python rewrites the file in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_python_and_rust_writers_lose_nothing() {
    const EACH: usize = 20;
    let home = TempDir::new("pc-concurrent");
    let path = home.path().join(".IdentityService/msal.cache.nocae");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let seed = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    seed.modify(|d| add_app_token(d, "seed", ARM, "seed"))
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for writer in ["py-a", "py-b"] {
        let home_path = home.path().to_owned();
        let path = path.clone();
        tasks.push(tokio::spawn(async move {
            run_python(
                &[
                    script("msal_cache.py").to_str().unwrap(),
                    "ext-add",
                    path.to_str().unwrap(),
                    &EACH.to_string(),
                    writer,
                ],
                &home_path,
                &[],
                "",
            )
            .await;
        }));
    }
    for writer in ["rs-a", "rs-b"] {
        let cache = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
            .await
            .unwrap();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let scope = format!("https://{writer}-{i}/.default");
                cache
                    .modify(|d| {
                        add_app_token(d, "rust-writer", &scope, &format!("at-{writer}-{i}"))
                    })
                    .await
                    .unwrap();
            }
        }));
    }
    let reader = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    let mut reads = 0;
    while tasks.iter().any(|t| !t.is_finished()) {
        let seen = app_secrets(&reader.load().await.unwrap());
        assert!(
            seen.contains(&"seed".to_owned()),
            "a read saw {} entries",
            seen.len()
        );
        reads += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    for task in tasks {
        task.await.unwrap();
    }
    let text = std::fs::read_to_string(&path).unwrap();
    let document = TokenCacheDocument::deserialize(&text).unwrap();
    assert_eq!(
        app_secrets(&document).len(),
        1 + 4 * EACH,
        "every entry survived"
    );
    assert!(!path.with_extension("nocae.lockfile").exists());
    assert!(reads > 0);
}

/// Reference test 14: a long-lived msal-extensions cache that already searched notices our
/// rename-based write (its reload is mtime-driven).
#[tokio::test]
async fn a_long_lived_python_cache_reloads_after_our_write() {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
    let home = TempDir::new("pc-mtime");
    let cache = PersistentTokenCache::open(&unencrypted(), false, &platform(&home, &[]))
        .await
        .unwrap();
    cache
        .modify(|d| add_app_token(d, "app", ARM, "first"))
        .await
        .unwrap();
    let mut child = tokio::process::Command::new(persistence_support::python())
        .args([
            script("msal_cache.py").to_str().unwrap(),
            "ext-watch",
            cache.location().to_str().unwrap(),
            VAULT,
        ])
        .env_clear()
        .env("HOME", home.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let read_line = async |lines: &mut tokio::io::Lines<_>| -> Value {
        let line = tokio::time::timeout(persistence_support::PYTHON_TIMEOUT, lines.next_line())
            .await
            .expect("Python answers")
            .unwrap()
            .expect("a line");
        serde_json::from_str(&line).unwrap()
    };
    assert_eq!(read_line(&mut lines).await["before"], json!([]));
    cache
        .modify(|d| add_app_token(d, "app", VAULT, "from-rust"))
        .await
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"go\n").await.unwrap();
    assert_eq!(read_line(&mut lines).await["after"], json!(["from-rust"]));
    drop(stdin);
    let _ = child.wait().await;
}
